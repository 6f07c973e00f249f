/**
 * The benchmark's request/response protocol, the same for every peer (the
 * Rust binary speaks it too: crates/bench/src/proto.rs). A request is a
 * 4-byte big-endian response length followed by any bytes, up to the end of
 * the stream; the server counts every request byte and answers with that
 * many bytes, the first 8 of which (when there is room) are the big-endian
 * count.
 */

import type { Pipe } from './peers/types';

/** Bytes per write when sending a large body. */
export const WRITE_CHUNK = 64 * 1024;

export function requestBytes(requestLength: number, responseLength: number): Buffer {
  const request = Buffer.alloc(Math.max(4, requestLength));
  request.writeUInt32BE(responseLength, 0);
  return request;
}

export function responseBytes(length: number, requestBytesSeen: number): Buffer {
  const response = Buffer.alloc(length);
  if (length >= 8) response.writeBigUInt64BE(BigInt(requestBytesSeen), 0);
  return response;
}

/** Server side: reads one request to its end and writes the response. */
export async function answer(pipe: Pipe): Promise<void> {
  const header = Buffer.alloc(4);
  let total = 0;
  for await (const chunk of pipe) {
    if (total < 4) {
      const take = Math.min(4 - total, chunk.length);
      header.set(chunk.subarray(0, take), total);
    }
    total += chunk.length;
  }
  if (total < 4) throw new Error(`request of ${total} bytes is shorter than its 4-byte header`);
  await pipe.write(responseBytes(header.readUInt32BE(0), total));
  await pipe.end();
}

export interface Exchange {
  /** From `start` to the first response byte, ms. */
  firstByte: number;
  /** From `start` to the end of the response, ms. */
  total: number;
  /** The request byte count the server reported, when the response had room for it. */
  serverCount: number | undefined;
}

/** Client side: reads a whole response, which must be `length` bytes. */
export async function readResponse(pipe: Pipe, start: number, length: number): Promise<Exchange> {
  let firstByte: number | undefined;
  const head: Buffer[] = [];
  let headBytes = 0;
  let received = 0;
  for await (const chunk of pipe) {
    firstByte ??= performance.now() - start;
    if (headBytes < 8) {
      head.push(Buffer.from(chunk.subarray(0, 8 - headBytes)));
      headBytes += Math.min(8 - headBytes, chunk.length);
    }
    received += chunk.length;
  }
  const total = performance.now() - start;
  if (received !== length) throw new Error(`expected a ${length}-byte response, got ${received} bytes`);
  const headBuffer = Buffer.concat(head);
  return {
    firstByte: firstByte ?? total,
    total,
    serverCount: headBuffer.length === 8 ? Number(headBuffer.readBigUInt64BE(0)) : undefined,
  };
}

/**
 * Client side: one request on a new stream, the whole response read. Times
 * are from `start` (default: now, before the stream is opened).
 */
export async function exchange(
  open: () => Promise<Pipe>,
  request: Buffer,
  responseLength: number,
  start = performance.now(),
): Promise<Exchange> {
  const pipe = await open();
  await pipe.write(request);
  await pipe.end();
  return readResponse(pipe, start, responseLength);
}

/**
 * Client side: `total` bytes (header included) on one stream, then the
 * server's count, which must match. Returns the elapsed ms.
 */
export async function bulk(open: () => Promise<Pipe>, total: number): Promise<number> {
  const start = performance.now();
  const pipe = await open();
  const first = Buffer.alloc(WRITE_CHUNK);
  first.writeUInt32BE(8, 0);
  const rest = Buffer.alloc(WRITE_CHUNK);
  let sent = 0;
  while (sent < total) {
    const n = Math.min(WRITE_CHUNK, total - sent);
    const chunk = sent === 0 ? first : rest;
    await pipe.write(n === WRITE_CHUNK ? chunk : chunk.subarray(0, n));
    sent += n;
  }
  await pipe.end();
  const result = await readResponse(pipe, start, 8);
  if (result.serverCount !== total) {
    throw new Error(`the server counted ${String(result.serverCount)} bytes, ${total} were sent`);
  }
  return result.total;
}
