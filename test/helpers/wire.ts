/**
 * Reads what QUIC hides in protected header bits, from datagrams the relay
 * captured (its `tap`) and the TLS secrets one side wrote to its key log:
 * which cipher suite protects the 1-RTT packets and which key phase each
 * packet was sent in. Neither needs the packet payload decrypted: header
 * protection (RFC 9001 §5.4) is removed with the header-protection key,
 * which is derived from the traffic secret and never changes with key
 * updates (§6). So a test can see, on the wire and independently of what
 * either implementation reports, that a key update happened in both
 * directions and that ChaCha20 was negotiated.
 *
 * Which suite it is, though, is settled by decrypting: a wrong suite's
 * header-protection key can still leave a few headers looking valid, but
 * only the right packet key authenticates a packet (AEAD tag, RFC 9001 §5.3).
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

import type { Direction } from './relay';

export type HpSuite = 'TLS_AES_128_GCM_SHA256' | 'TLS_AES_256_GCM_SHA384' | 'TLS_CHACHA20_POLY1305_SHA256';

export interface Captured {
  dir: Direction;
  data: Buffer;
}

/** HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for outputs of one hash block or less. */
export function hkdfExpandLabel(secret: Buffer, label: string, length: number): Buffer {
  const hash = secret.length === 48 ? 'sha384' : 'sha256';
  const full = Buffer.from(`tls13 ${label}`);
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0])]);
  return createHmac(hash, secret).update(Buffer.concat([info, Buffer.from([1])])).digest().subarray(0, length);
}

/** The header-protection mask function of a suite, keyed from a traffic secret. */
function maskFunction(suite: HpSuite, secret: Buffer): (sample: Buffer) => Buffer {
  if (suite === 'TLS_CHACHA20_POLY1305_SHA256') {
    const key = hkdfExpandLabel(secret, 'quic hp', 32);
    // RFC 9001 §5.4.4: counter = sample[0..4] (little-endian), nonce = sample[4..16];
    // Node's chacha20 IV is exactly that 16-byte layout.
    return (sample) => createCipheriv('chacha20', key, sample).update(Buffer.alloc(5));
  }
  const bits = suite === 'TLS_AES_256_GCM_SHA384' ? 256 : 128;
  const key = hkdfExpandLabel(secret, 'quic hp', bits / 8);
  return (sample) => createCipheriv(`aes-${bits}-ecb`, key, null).setAutoPadding(false).update(sample);
}

/** Long-header connection IDs (RFC 9000 §17.2) of a datagram's first packet, if it has a long header. */
export function longHeaderIds(data: Buffer): { dcid: Buffer; scid: Buffer } | undefined {
  if (data.length < 7 || (data[0]! & 0x80) === 0) return undefined;
  const dcidLen = data[5]!;
  const scidAt = 6 + dcidLen;
  if (scidAt >= data.length) return undefined;
  const scidLen = data[scidAt]!;
  return { dcid: data.subarray(6, 6 + dcidLen), scid: data.subarray(scidAt + 1, scidAt + 1 + scidLen) };
}

function varint(buf: Buffer, off: number): [number, number] | undefined {
  if (off >= buf.length) return undefined;
  const len = 1 << (buf[off]! >> 6);
  if (off + len > buf.length) return undefined;
  let v = buf[off]! & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
  return [v, off + len];
}

/** Where the short-header (1-RTT) packet of a datagram starts, after any coalesced long-header packets. */
export function shortHeaderOffset(data: Buffer): number | undefined {
  let off = 0;
  while (off < data.length) {
    const b = data[off]!;
    if ((b & 0x80) === 0) return (b & 0x40) !== 0 ? off : undefined;
    const type = (b >> 4) & 3; // QUIC v1: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry
    if (type === 3 || off + 6 > data.length) return undefined;
    let p = off + 6 + data[off + 5]!;
    if (p >= data.length) return undefined;
    p += 1 + data[p]!;
    if (type === 0) {
      const token = varint(data, p);
      if (!token) return undefined;
      p = token[1] + token[0];
    }
    const length = varint(data, p);
    if (!length) return undefined;
    off = length[1] + length[0];
  }
  return undefined;
}

/** The 1-RTT traffic secrets of each connection in a key log (SSLKEYLOGFILE lines), by client random. */
export function trafficSecrets(lines: readonly string[]): { client: Buffer; server: Buffer }[] {
  const byRandom = new Map<string, { client?: Buffer; server?: Buffer }>();
  for (const line of lines) {
    const [label, random, secret] = line.trim().split(' ');
    if (!label || !random || !secret) continue;
    const side = label === 'CLIENT_TRAFFIC_SECRET_0' ? 'client' : label === 'SERVER_TRAFFIC_SECRET_0' ? 'server' : undefined;
    if (!side) continue;
    const entry = byRandom.get(random) ?? {};
    entry[side] = Buffer.from(secret, 'hex');
    byRandom.set(random, entry);
  }
  return [...byRandom.values()].filter((e): e is { client: Buffer; server: Buffer } => !!e.client && !!e.server);
}

export interface DirectionReading {
  /** Short-header packets looked at. */
  packets: number;
  /** The suite whose packet key authenticates this direction's first packets (undefined: none did). */
  suite?: HpSuite;
  /** Key phase bit of each packet, in order. */
  phases: number[];
  /** For each of `phases`, the index of its datagram in the capture. */
  at: number[];
  /** How often the key phase changed along the way (a key update is one change; reordering can add blips). */
  changes: number;
}

export interface WireReading {
  toServer: DirectionReading;
  toClient: DirectionReading;
}

/** The packet protection (AEAD) of a suite for key phase 0, keyed from a traffic secret (RFC 9001 §5.1, §5.3). */
function packetOpener(suite: HpSuite, secret: Buffer): (header: Buffer, pn: number, sealed: Buffer) => boolean {
  const keyLength = suite === 'TLS_AES_128_GCM_SHA256' ? 16 : 32;
  const key = hkdfExpandLabel(secret, 'quic key', keyLength);
  const iv = hkdfExpandLabel(secret, 'quic iv', 12);
  const algorithm = suite === 'TLS_CHACHA20_POLY1305_SHA256' ? 'chacha20-poly1305' : `aes-${keyLength * 8}-gcm`;
  return (header, pn, sealed) => {
    if (sealed.length < 17) return false;
    const nonce = Buffer.from(iv);
    for (let i = 0, n = pn; i < 6; i++, n = Math.floor(n / 256)) nonce[11 - i]! ^= n & 0xff;
    // Node's typings split GCM and ChaCha20-Poly1305 deciphers; both take the same calls.
    const decipher = createDecipheriv(algorithm as 'aes-128-gcm', key, nonce, { authTagLength: 16 });
    decipher.setAAD(header);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    decipher.update(sealed.subarray(0, sealed.length - 16));
    try {
      decipher.final();
      return true;
    } catch {
      return false;
    }
  };
}

/** A truncated packet number expanded next to the largest one seen (RFC 9000 §A.3). */
function expandPacketNumber(largest: number, truncated: number, pnLength: number): number {
  const win = 2 ** (8 * pnLength);
  const expected = largest + 1;
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - win / 2 && candidate + win < 2 ** 62) return candidate + win;
  if (candidate > expected + win / 2 && candidate >= win) return candidate - win;
  return candidate;
}

/** How many packets a suite is tried on: its first packets of key phase 0. */
const PACKETS_TO_AUTHENTICATE = 8;

function readDirection(datagrams: Captured[], dir: Direction, secret: Buffer, dcidLen: number): DirectionReading {
  const packets: Buffer[] = [];
  const at: number[] = [];
  datagrams.forEach((d, i) => {
    if (d.dir !== dir) return;
    const off = shortHeaderOffset(d.data);
    if (off === undefined) return;
    const packet = d.data.subarray(off);
    if (packet.length < 1 + dcidLen + 4 + 16) return;
    packets.push(packet);
    at.push(i);
  });
  const candidates: HpSuite[] =
    secret.length === 48 ? ['TLS_AES_256_GCM_SHA384'] : ['TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'];
  for (const suite of candidates) {
    const mask = maskFunction(suite, secret);
    const open = packetOpener(suite, secret);
    let largest = -1;
    let tried = 0;
    let authenticated = false;
    const phases = packets.map((p) => {
      const pnAt = 1 + dcidLen;
      const bits = mask(p.subarray(pnAt + 4, pnAt + 4 + 16));
      const first = p[0]! ^ (bits[0]! & 0x1f);
      const pnLength = (first & 0x03) + 1;
      const phase = (first >> 2) & 1;
      if (!authenticated && phase === 0 && tried < PACKETS_TO_AUTHENTICATE) {
        tried++;
        const header = Buffer.from(p.subarray(0, pnAt + pnLength));
        header[0] = first;
        let truncated = 0;
        for (let i = 0; i < pnLength; i++) {
          header[pnAt + i]! ^= bits[1 + i]!;
          truncated = truncated * 256 + header[pnAt + i]!;
        }
        const pn = expandPacketNumber(largest, truncated, pnLength);
        if (open(header, pn, p.subarray(pnAt + pnLength))) {
          authenticated = true;
          largest = pn;
        }
      }
      return phase;
    });
    if (!authenticated) continue;
    const changes = phases.reduce((n, ph, i) => (i > 0 && ph !== phases[i - 1] ? n + 1 : n), 0);
    return { packets: packets.length, suite, phases, at, changes };
  }
  return { packets: packets.length, phases: [], at: [], changes: 0 };
}

/**
 * Key phase changes among the packets captured at or after index `from`
 * (compared with the last packet before it). quinn (after 10 to 1000
 * packets) and quic-go (after 100) start a first key update by themselves;
 * a change after a point where both are past that is one somebody asked for.
 */
export function changesFrom(reading: DirectionReading, from: number): number {
  let changes = 0;
  let previous: number | undefined;
  reading.phases.forEach((phase, i) => {
    if (reading.at[i]! >= from && previous !== undefined && phase !== previous) changes++;
    previous = phase;
  });
  return changes;
}

/**
 * Reads the 1-RTT packets of one connection: the client's source connection
 * ID length comes from its first Initial, the server's from the server's
 * first long-header packet; each connection's secrets in the key log are
 * tried until one authenticates packets in both directions.
 */
export function readWire(datagrams: Captured[], keylog: readonly string[]): WireReading | undefined {
  const clientLong = datagrams.find((d) => d.dir === 'toServer' && longHeaderIds(d.data));
  // (Not a Version Negotiation packet: version 0.)
  const serverLong = datagrams.find((d) => d.dir === 'toClient' && longHeaderIds(d.data) && d.data.readUInt32BE(1) !== 0);
  if (!clientLong || !serverLong) return undefined;
  const clientCidLen = longHeaderIds(clientLong.data)!.scid.length;
  const serverCidLen = longHeaderIds(serverLong.data)!.scid.length;
  for (const secrets of trafficSecrets(keylog)) {
    const toServer = readDirection(datagrams, 'toServer', secrets.client, serverCidLen);
    const toClient = readDirection(datagrams, 'toClient', secrets.server, clientCidLen);
    if (toServer.suite && toClient.suite) return { toServer, toClient };
  }
  return undefined;
}
