#!/usr/bin/env node
import { packageVersion } from '../package-root';
import { bench } from './bench';
import { doctor } from './doctor';
import { exitCodeFor, ExitCode, UsageError } from './exit-codes';
import { get } from './get';
import { serve } from './serve';
import { recv, send } from './transfer';

const help = `usage: quicbridge <command> [options]

commands:
  serve        echo and HTTP/3 file server
  get URL      HTTP/3 GET, with a progress bar
  send FILE HOST:PORT   send a file to \`quicbridge recv\`, SHA-256 checked
  recv         receive files from \`quicbridge send\`
  bench        measure the backends that load here
  doctor       which backends load here, and why not
Every command takes --help and --backend native|wasm.

exit status: 0 ok, 1 failure, 2 usage, 3 TLS, 4 connection, 5 HTTP error
status (get), 6 integrity (a transfer arrived incomplete or altered).`;

const commands: Record<string, (args: string[]) => number | Promise<number>> = { serve, get, send, recv, bench, doctor };

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(help);
    return command === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (command === '--version' || command === '-V') {
    console.log(packageVersion);
    return ExitCode.ok;
  }
  const run = commands[command];
  if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}; see quicbridge --help`);
  return run(args);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = exitCodeFor(error);
    const message = error instanceof Error ? error.message : String(error);
    console.error(`quicbridge: ${message}${code === ExitCode.usage ? ' (see --help)' : ''}`);
    process.exit(code);
  },
);
