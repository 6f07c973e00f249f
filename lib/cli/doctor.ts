import { loadBackend, backendStatus } from '../loader';
import { expectedPrebuild } from '../native-backend';
import { packageVersion } from '../package-root';
import { parse } from './common';
import { ExitCode } from './exit-codes';

export const doctorHelp = `usage: quicbridge doctor [--json]

Which backends load here and, for each that does not, why; and which one
quicbridge uses by default. Exit status 0 when at least one loads, 1 if none.`;

export function doctor(args: string[]): number {
  const { values } = parse(args, { json: { type: 'boolean' } }, 0);
  if (values.help) {
    console.log(doctorHelp);
    return ExitCode.ok;
  }
  const backends = backendStatus();
  let active: string | undefined;
  try {
    active = loadBackend().name;
  } catch {
    active = undefined;
  }
  const prebuild = expectedPrebuild();
  const report = {
    quicbridge: packageVersion,
    node: process.version,
    platform: `${prebuild.platform}-${prebuild.arch}${prebuild.libc ? ` (${prebuild.libc})` : ''}`,
    expectedPrebuild: prebuild.file,
    backends,
    active: active ?? null,
  };
  if (values.json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`quicbridge ${report.quicbridge} on node ${report.node}, ${report.platform}`);
    for (const backend of backends) {
      console.log(backend.loaded ? `  ${backend.name}: loads (${backend.path})` : `  ${backend.name}: does not load: ${backend.error}`);
    }
    console.log(`  prebuilt addon for this platform: ${prebuild.file}`);
    console.log(active ? `default backend: ${active}` : 'no backend loads: quicbridge cannot run here');
  }
  return active ? ExitCode.ok : ExitCode.failure;
}
