/**
 * What can run here, found in a process of its own so that the harness
 * itself loads no native addon: `{"backends": [...], "matrixai": null | "why not"}`.
 */

import { shippedQuicbridge } from './shipped';
import { errorMessage } from './workloads/common';

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function main(): Promise<void> {
  let matrixai: string | null = null;
  try {
    await import('@matrixai/quic');
  } catch (error) {
    matrixai = errorMessage(error);
  }
  print({ backends: shippedQuicbridge().backendStatus(), matrixai });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    print({ error: errorMessage(error) });
    process.exit(0);
  },
);
