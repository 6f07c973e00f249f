import type { DatagramTransport } from '../../lib/index';

type Receiver = (data: Uint8Array, address: string, port: number) => void;

/**
 * A network that exists only in this process: transports attached to it
 * deliver datagrams to each other by address, with no socket anywhere.
 * What a WASM-only host (a browser extension, a relay) would plug in.
 */
export class MemoryNetwork {
  readonly #receivers = new Map<string, Receiver>();
  /** Datagrams delivered, for tests to check traffic really went this way. */
  delivered = 0;

  transport(address: string, port: number): DatagramTransport {
    const key = `${address}:${port}`;
    if (this.#receivers.has(key)) throw new Error(`${key} is taken`);
    this.#receivers.set(key, () => {});
    return {
      localAddress: { address, port },
      send: (data, toAddress, toPort) => {
        const copy = Uint8Array.from(data);
        // Delivered later, as a network would: never re-entrantly.
        setImmediate(() => {
          const receiver = this.#receivers.get(`${toAddress}:${toPort}`);
          if (!receiver) return;
          this.delivered++;
          receiver(copy, address, port);
        });
      },
      onDatagram: (receiver) => {
        this.#receivers.set(key, receiver);
      },
      close: () => {
        this.#receivers.delete(key);
        return Promise.resolve();
      },
    };
  }
}
