import { DATAGRAM_ACK_EVERY, type DatagramChannel } from './types';

/**
 * The client half of the datagram workload for any API: `send` queues one
 * datagram, and every datagram the server sends back is given to the
 * returned `report` (its 8-byte counts move `acked`).
 */
export function reportedChannel(
  maxSize: () => number | undefined,
  send: (data: Uint8Array) => void,
): { channel: DatagramChannel; report: (datagram: Uint8Array) => void } {
  let acked = 0;
  const waiters = new Set<() => void>();
  const report = (datagram: Uint8Array): void => {
    if (datagram.length !== 8) return;
    acked = Math.max(acked, Number(Buffer.from(datagram.buffer, datagram.byteOffset, 8).readBigUInt64BE(0)));
    for (const wake of waiters) wake();
    waiters.clear();
  };
  const channel: DatagramChannel = {
    maxSize,
    send,
    acked: () => acked,
    nextAck: (ms) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(wake);
          resolve(false);
        }, ms);
        const wake = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        waiters.add(wake);
      }),
  };
  return { channel, report };
}

/**
 * The server half: a function to give every datagram a connection receives.
 * It counts them (`onDatagram`) and sends the connection's count back with
 * `sendReport` every DATAGRAM_ACK_EVERY datagrams.
 */
export function datagramCounter(sendReport: (report: Buffer) => void, onDatagram: () => void): (datagram: Uint8Array) => void {
  let count = 0;
  return (datagram) => {
    if (datagram.length === 0) return;
    onDatagram();
    count += 1;
    if (count % DATAGRAM_ACK_EVERY === 0) {
      const report = Buffer.alloc(8);
      report.writeBigUInt64BE(BigInt(count));
      sendReport(report);
    }
  };
}
