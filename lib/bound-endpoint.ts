import type { Backend, BoundEndpoint } from './backend';
import type { SocketAddress } from './connection';
import type { DatagramTransport } from './datagram-transport';
import { awaitBinding, callBinding, quicError } from './errors';
import type { LoopHold } from './keep-alive';
import { keyLogSink } from './options';

/** The longest a closing endpoint waits for its connections to drain. */
const DRAIN_LIMIT_MS = 10_000;

/**
 * An endpoint on a UDP socket of the backend's, or on the caller's datagram
 * transport, with the key log `keylog` asks for (see `keyLogSink`);
 * `closeKeyLog` is for once the endpoint is released.
 */
export async function bindEndpoint(
  backend: Backend,
  transport: DatagramTransport | undefined,
  address: string,
  port: number,
  options: string,
  keylog: unknown,
): Promise<{ bound: BoundEndpoint; closeKeyLog: () => void }> {
  if (transport && !backend.bindTransport) {
    throw quicError('ERR_QUIC_BACKEND_UNSUPPORTED', `the ${backend.name} backend owns its UDP sockets and cannot run on a datagramTransport; use the wasm backend`);
  }
  const sink = keyLogSink(keylog);
  try {
    const bound = transport
      ? callBinding(() => backend.bindTransport!(transport, options, sink.callback))
      : await awaitBinding(backend.bind(address, port, options, sink.callback));
    return { bound, closeKeyLog: () => sink.close() };
  } catch (error) {
    sink.close();
    throw error;
  }
}

/** Where an endpoint is bound (the real port when 0 was asked for). */
export function localAddressOf(bound: BoundEndpoint): SocketAddress {
  return JSON.parse(callBinding(() => bound.endpoint.localAddress())) as SocketAddress;
}

/** Closes an endpoint, lets its connections drain, and releases its socket: once. */
export function shutdown(bound: BoundEndpoint, hold: LoopHold, onReleased: () => void): (code: number, reason: string) => Promise<void> {
  let done: Promise<void> | undefined;
  return (code, reason) => {
    done ??= (async () => {
      callBinding(() => bound.endpoint.close(code, reason));
      // Draining takes three probe timeouts; a peer that never answers must
      // not keep the socket (and the process) forever.
      let limit: NodeJS.Timeout | undefined;
      try {
        await Promise.race([bound.endpoint.waitIdle(), new Promise((resolve) => (limit = setTimeout(resolve, DRAIN_LIMIT_MS).unref()))]);
      } finally {
        // A pending limit would keep this closure, and the endpoint, for its full 10 s.
        clearTimeout(limit);
      }
      await bound.release();
      hold.release();
      onReleased();
    })();
    return done;
  };
}
