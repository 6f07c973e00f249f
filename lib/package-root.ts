import path from 'node:path';

/** The package's root directory, from lib/ (sources) and dist/ (compiled) alike. */
export const packageRoot = path.resolve(__dirname, '..');

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const packageVersion: string = (require(path.join(packageRoot, 'package.json')) as { version: string }).version;
