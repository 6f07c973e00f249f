/**
 * A UDP relay that sits between a QUIC client and server on loopback and
 * impairs the traffic the way the QUIC interop runner's network simulator
 * does (`tc netem` is not available here): delay and jitter, a bandwidth
 * limit with a bounded drop-tail queue, random loss with a cap on
 * consecutive drops, drops by datagram index, corruption of one byte,
 * reordering, blackhole windows, and NAT rebinding of the client's side.
 *
 *   const relay = await startRelay({ target: { address: '127.0.0.1', port }, toServer: { loss: 0.1 } });
 *   // point the client at relay.address; relay.log and relay.stats() tell what happened
 *
 * Every datagram is logged with its direction, size, time and the QUIC
 * packet types it carries (parsed from the unprotected header bits, RFC 9000
 * §17 and RFC 9369 for v2), so tests can check byte counts (anti-amplification)
 * and packet types (a Retry was sent, 0-RTT was used).
 *
 * The relay is NAT-like: each client address gets its own socket towards the
 * server, so concurrent and consecutive clients each look like a separate
 * peer to the server. Randomness comes from a seeded generator: a failing
 * run can be replayed with the `seed` it reports.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface Endpoint {
  address: string;
  port: number;
}

export type Direction = 'toServer' | 'toClient';

export interface Window {
  /** Milliseconds since the relay started. */
  fromMs: number;
  toMs: number;
}

export interface Reorder {
  /** Datagram indices (this direction, 0-based) to hold back. */
  indices?: number[];
  /** Or hold back each datagram with this probability. */
  probability?: number;
  /** Release a held datagram after this many later datagrams of the same direction went out (default 1)... */
  byPackets?: number;
  /** ...or after this many milliseconds, whichever comes first (default 100). */
  byMs?: number;
}

/** What happens to datagrams going one way. Everything is off by default. */
export interface Impairments {
  /** Fixed one-way delay. */
  delayMs?: number;
  /** Extra delay, uniform in [0, jitterMs). Like netem, jitter can reorder datagrams. */
  jitterMs?: number;
  /** Link rate in bits per second: datagrams leave one after another at this rate. */
  bandwidthBps?: number;
  /** Bytes that may wait for the link; a datagram that does not fit is dropped (drop-tail). Default 64 KiB. */
  queueBytes?: number;
  /** Probability of dropping a datagram at random. */
  loss?: number;
  /**
   * At most this many random drops in a row of one client's datagrams (drop
   * lists and blackholes do not count): counted per client, so that many
   * connections through one relay each get the cap, not only all of them together.
   */
  maxConsecutiveLoss?: number;
  /** Drop exactly these datagrams (0-based index in this direction). */
  dropIndices?: number[];
  /** Probability of changing one byte at a random offset within the first 50 (the datagram is still delivered). */
  corrupt?: number;
  reorder?: Reorder;
  /** Drop everything in these windows. */
  blackholes?: Window[];
}

export interface RelayOptions {
  /** The server. */
  target: Endpoint;
  /** Where clients connect (default 127.0.0.1, or ::1 for an IPv6 target, port 0). */
  listen?: Partial<Endpoint>;
  toServer?: Impairments;
  toClient?: Impairments;
  /** Seed for loss, corruption, jitter and reordering; random by default (see `relay.seed`). */
  seed?: number;
  /** Entries kept in `relay.log` (default 100 000; 0 keeps none). */
  logLimit?: number;
  /** After a rebinding, drop what the server still sends to the old port (default: forward it, as a NAT would for a while). */
  dropOldBinding?: boolean;
  /**
   * Sees every datagram as it arrived (before loss or corruption), with its
   * log entry: for capturing real packets (fuzzing seeds) or reading header
   * bits a test has keys for.
   */
  tap?: (entry: LogEntry, datagram: Buffer) => void;
}

export type PacketType = 'Initial' | '0-RTT' | 'Handshake' | 'Retry' | 'VersionNegotiation' | '1-RTT' | 'unknown';

export interface QuicHeaderInfo {
  /** Type of the first packet in the datagram. */
  type: PacketType;
  /** Long-header version (0 for Version Negotiation); undefined for short headers. */
  version?: number;
  /** Destination connection ID of the first packet, hex. Short headers: unknown length, so undefined. */
  dcid?: string;
  /** Every packet coalesced in the datagram (RFC 9000 §12.2), in order. */
  packets: PacketType[];
}

export type Action = 'forwarded' | 'dropped';
export type DropReason = 'blackhole' | 'drop-list' | 'loss' | 'queue-full' | 'closed';

export interface LogEntry {
  dir: Direction;
  /** 0-based index of the datagram in its direction. */
  index: number;
  size: number;
  /** Milliseconds since the relay started, when the datagram arrived. */
  t: number;
  /** When the relay's delay, jitter and bandwidth limit scheduled it to be sent on (forwarded datagrams). */
  dueT?: number;
  /** When it was sent on (forwarded datagrams): never before `dueT`, later on a busy machine. */
  sentT?: number;
  type: PacketType;
  version?: number;
  packets: PacketType[];
  action: Action;
  reason?: DropReason;
  corrupted?: { offset: number; from: number; to: number };
  reordered?: boolean;
  /** The client-side address the datagram belongs to ("ip:port"). */
  client: string;
  /** Local port of the relay socket towards the server. */
  serverSidePort: number;
}

export interface DirectionStats {
  datagrams: number;
  bytes: number;
  forwarded: number;
  forwardedBytes: number;
  dropped: Record<DropReason, number>;
  corrupted: number;
  reordered: number;
  /** Datagrams by the type of their first packet. */
  types: Partial<Record<PacketType, number>>;
}

export interface RelayStats {
  toServer: DirectionStats;
  toClient: DirectionStats;
  seed: number;
}

export interface Relay {
  /** Where the client should send. */
  readonly address: Endpoint;
  readonly seed: number;
  readonly log: readonly LogEntry[];
  stats(): RelayStats;
  /** Changes impairments from now on (merged per direction; pass `undefined` for a key to turn it off). */
  update(changes: { toServer?: Impairments; toClient?: Impairments }): void;
  /** Drops everything, both ways (or one), for `ms` from now. */
  blackhole(ms: number, dir?: Direction): void;
  /**
   * NAT rebinding: every client's traffic towards the server now leaves from a
   * fresh socket (a new port; on `address`, e.g. 127.0.0.2, if given), so the
   * server sees the client come from a new address. Resolves to the new local endpoints.
   */
  rebindClientSide(opts?: { address?: string }): Promise<Endpoint[]>;
  /** Local endpoints the relay currently uses towards the server, one per client. */
  serverSideEndpoints(): Endpoint[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------- QUIC headers

const QUIC_V1 = 0x00000001;
const QUIC_V2 = 0x6b3343cf;
const LONG_TYPES_V1: PacketType[] = ['Initial', '0-RTT', 'Handshake', 'Retry'];
// RFC 9369 §3.2: v2 rotates the type bits.
const LONG_TYPES_V2: PacketType[] = ['Retry', 'Initial', '0-RTT', 'Handshake'];

function readVarint(buf: Uint8Array, off: number): [value: number, next: number] | undefined {
  if (off >= buf.length) return undefined;
  const first = buf[off] as number;
  const len = 1 << (first >> 6);
  if (off + len > buf.length) return undefined;
  let v = first & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + (buf[off + i] as number);
  return [v, off + len];
}

/**
 * What the unprotected bits of a datagram say about the QUIC packets in it.
 * The low bits of the first byte are header-protected, but the long/short
 * form, the long packet type and the version are not.
 */
export function parseQuicHeader(datagram: Uint8Array): QuicHeaderInfo {
  const packets: PacketType[] = [];
  let first: QuicHeaderInfo | undefined;
  let off = 0;
  while (off < datagram.length) {
    const b = datagram[off] as number;
    if ((b & 0x80) === 0) {
      // A short header runs to the end of the datagram. Without the fixed
      // bit (0x40) it is not QUIC v1 (RFC 9287 greasing aside).
      const type: PacketType = (b & 0x40) !== 0 ? '1-RTT' : 'unknown';
      packets.push(type);
      first ??= { type, packets };
      break;
    }
    if (off + 6 > datagram.length) {
      packets.push('unknown');
      first ??= { type: 'unknown', packets };
      break;
    }
    const version = new DataView(datagram.buffer, datagram.byteOffset + off + 1, 4).getUint32(0);
    const dcidLen = datagram[off + 5] as number;
    const dcid = Buffer.from(datagram.subarray(off + 6, off + 6 + dcidLen)).toString('hex');
    let type: PacketType;
    if (version === 0) type = 'VersionNegotiation';
    else if (version === QUIC_V2) type = LONG_TYPES_V2[(b >> 4) & 3] as PacketType;
    else if (version === QUIC_V1) type = LONG_TYPES_V1[(b >> 4) & 3] as PacketType;
    else type = 'unknown';
    packets.push(type);
    first ??= { type, version, dcid, packets };
    // Retry and Version Negotiation fill the datagram; so does anything we cannot follow.
    if (type !== 'Initial' && type !== '0-RTT' && type !== 'Handshake') break;
    let p = off + 6 + dcidLen;
    const scidLen = datagram[p];
    if (scidLen === undefined) break;
    p += 1 + scidLen;
    if (type === 'Initial') {
      const token = readVarint(datagram, p);
      if (!token) break;
      p = token[1] + token[0];
    }
    const length = readVarint(datagram, p);
    if (!length) break;
    off = length[1] + length[0];
  }
  return first ?? { type: 'unknown', packets: ['unknown'] };
}

// ---------------------------------------------------------------- randomness

/** mulberry32: small, fast and good enough to pick which datagrams to drop. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- the relay

/** Runs callbacks at given times, in time order and, for equal times, in the order scheduled. */
class Scheduler {
  private queue: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;

  constructor(private readonly now: () => number) {}

  at(at: number, fn: () => void): void {
    const item = { at, seq: this.seq++, fn };
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.queue[mid] as { at: number; seq: number };
      if (m.at < at || (m.at === at && m.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
    this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head) return;
    if (this.timer && this.armedAt <= head.at) return;
    clearTimeout(this.timer);
    this.armedAt = head.at;
    this.timer = setTimeout(() => this.run(), Math.max(0, head.at - this.now()));
  }

  private run(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.now();
    // Due within half a millisecond: setTimeout has millisecond resolution.
    while (this.queue.length && (this.queue[0] as { at: number }).at <= now + 0.5) {
      (this.queue.shift() as { fn: () => void }).fn();
    }
    this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }
}

interface Session {
  client: Endpoint;
  key: string;
  socket: dgram.Socket;
  /** Sockets from before a rebinding, still open so late server datagrams are seen. */
  old: dgram.Socket[];
  /** Random drops in a row of this client's datagrams, per direction. */
  consecutiveLoss: Record<Direction, number>;
}

interface DirState {
  imp: Impairments;
  index: number;
  /** When the link is free again (bandwidth limit). */
  linkFreeAt: number;
  backlog: number;
  held: { release: () => void; left: number }[];
  blackholeUntil: number;
  stats: DirectionStats;
}

function emptyStats(): DirectionStats {
  return {
    datagrams: 0,
    bytes: 0,
    forwarded: 0,
    forwardedBytes: 0,
    dropped: { blackhole: 0, 'drop-list': 0, loss: 0, 'queue-full': 0, closed: 0 },
    corrupted: 0,
    reordered: 0,
    types: {},
  };
}

function bindSocket(address: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

const endpointOf = (socket: dgram.Socket): Endpoint => {
  const a = socket.address();
  return { address: a.address, port: a.port };
};

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { target } = options;
  const targetV6 = isIPv6(target.address);
  const listenAddress = options.listen?.address ?? (targetV6 ? '::1' : '127.0.0.1');
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const random = seededRandom(seed);
  const logLimit = options.logLimit ?? 100_000;
  const started = performance.now();
  const now = (): number => performance.now() - started;
  const scheduler = new Scheduler(now);
  const log: LogEntry[] = [];
  let closed = false;
  let serverSideAddress = targetV6 ? '::1' : '127.0.0.1';

  const dirs: Record<Direction, DirState> = {
    toServer: newDir(options.toServer),
    toClient: newDir(options.toClient),
  };
  function newDir(imp: Impairments = {}): DirState {
    return { imp: { ...imp }, index: 0, linkFreeAt: 0, backlog: 0, held: [], blackholeUntil: 0, stats: emptyStats() };
  }

  const clientSocket = await bindSocket(listenAddress, options.listen?.port ?? 0);
  const sessions = new Map<string, Session>();

  function handle(dir: Direction, session: Session, msg: Buffer, via: dgram.Socket): void {
    const d = dirs[dir];
    const imp = d.imp;
    const t = now();
    const index = d.index++;
    const header = parseQuicHeader(msg);
    const entry: LogEntry = {
      dir,
      index,
      size: msg.length,
      t,
      type: header.type,
      version: header.version,
      packets: header.packets,
      action: 'dropped',
      client: `${session.client.address}:${session.client.port}`,
      serverSidePort: via.address().port,
    };
    if (logLimit > 0 && log.length < logLimit) log.push(entry);
    options.tap?.(entry, msg);
    const s = d.stats;
    s.datagrams++;
    s.bytes += msg.length;
    s.types[header.type] = (s.types[header.type] ?? 0) + 1;

    const drop = (reason: DropReason): void => {
      entry.action = 'dropped';
      entry.reason = reason;
      s.dropped[reason]++;
    };
    if (closed) return drop('closed');
    if (t < d.blackholeUntil || imp.blackholes?.some((w) => t >= w.fromMs && t < w.toMs)) return drop('blackhole');
    if (imp.dropIndices?.includes(index)) return drop('drop-list');
    if (imp.loss && random() < imp.loss) {
      if (imp.maxConsecutiveLoss === undefined || session.consecutiveLoss[dir] < imp.maxConsecutiveLoss) {
        session.consecutiveLoss[dir]++;
        return drop('loss');
      }
    }
    session.consecutiveLoss[dir] = 0;

    let data = msg;
    if (imp.corrupt && random() < imp.corrupt && msg.length > 0) {
      data = Buffer.from(msg);
      const offset = Math.floor(random() * Math.min(50, msg.length));
      const from = data[offset] as number;
      // XOR with a non-zero value: the byte always changes.
      const to = from ^ (1 + Math.floor(random() * 255));
      data[offset] = to;
      entry.corrupted = { offset, from, to };
      s.corrupted++;
    }

    // The link: a datagram waits for those before it, then takes size/rate to send.
    let departAt = t;
    if (imp.bandwidthBps) {
      const queueBytes = imp.queueBytes ?? 64 * 1024;
      if (d.backlog + msg.length > queueBytes) return drop('queue-full');
      const start = Math.max(t, d.linkFreeAt);
      departAt = start + (msg.length * 8 * 1000) / imp.bandwidthBps;
      d.linkFreeAt = departAt;
      d.backlog += msg.length;
      const size = msg.length;
      scheduler.at(departAt, () => (d.backlog -= size));
    }
    const delay = (imp.delayMs ?? 0) + (imp.jitterMs ? random() * imp.jitterMs : 0);
    entry.action = 'forwarded';
    entry.dueT = departAt + delay;

    const send = (): void => {
      if (closed) return;
      entry.sentT = now();
      s.forwarded++;
      s.forwardedBytes += data.length;
      if (dir === 'toServer') session.socket.send(data, target.port, target.address);
      else clientSocket.send(data, session.client.port, session.client.address);
      // Each datagram that goes out brings held ones closer to release.
      for (const h of [...d.held]) if (--h.left <= 0) h.release();
    };

    const r = imp.reorder;
    const hold = r && (r.indices?.includes(index) || (r.probability !== undefined && random() < r.probability));
    if (hold) {
      entry.reordered = true;
      s.reordered++;
      const held = {
        left: r.byPackets ?? 1,
        release: (): void => {
          const i = d.held.indexOf(held);
          if (i < 0) return;
          d.held.splice(i, 1);
          send();
        },
      };
      scheduler.at(entry.dueT, () => {
        d.held.push(held);
        scheduler.at(now() + (r.byMs ?? 100), held.release);
      });
      return;
    }
    scheduler.at(entry.dueT, send);
  }

  async function sessionFor(client: Endpoint): Promise<Session> {
    const key = `${client.address}:${client.port}`;
    let session = sessions.get(key);
    if (session) return session;
    const socket = await bindSocket(serverSideAddress);
    // Another datagram from the same client may have created it meanwhile.
    session = sessions.get(key);
    if (session) {
      socket.close();
      return session;
    }
    session = { client, key, socket, old: [], consecutiveLoss: { toServer: 0, toClient: 0 } };
    sessions.set(key, session);
    listenToServer(session, socket);
    return session;
  }

  function listenToServer(session: Session, socket: dgram.Socket): void {
    socket.on('message', (msg) => {
      if (options.dropOldBinding && socket !== session.socket) return;
      handle('toClient', session, msg, socket);
    });
    socket.on('error', () => undefined); // e.g. ICMP port unreachable after the server stopped
  }

  // Datagrams of a client whose session socket is still being bound wait in order.
  const pending = new Map<string, Promise<Session>>();
  clientSocket.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    const known = sessions.get(key);
    if (known) return handle('toServer', known, msg, known.socket);
    const p = (pending.get(key) ?? sessionFor({ address: rinfo.address, port: rinfo.port })).then((session) => {
      handle('toServer', session, msg, session.socket);
      return session;
    });
    pending.set(key, p);
    void p.finally(() => {
      if (pending.get(key) === p) pending.delete(key);
    });
  });
  clientSocket.on('error', () => undefined);

  return {
    address: endpointOf(clientSocket),
    seed,
    log,
    stats: () => ({
      toServer: structuredClone(dirs.toServer.stats),
      toClient: structuredClone(dirs.toClient.stats),
      seed,
    }),
    update(changes) {
      for (const dir of ['toServer', 'toClient'] as const) {
        const c = changes[dir];
        if (c) dirs[dir].imp = { ...dirs[dir].imp, ...c };
      }
    },
    blackhole(ms, dir) {
      const until = now() + ms;
      for (const d of dir ? [dir] : (['toServer', 'toClient'] as const)) dirs[d].blackholeUntil = until;
    },
    async rebindClientSide(opts = {}) {
      if (opts.address) serverSideAddress = opts.address;
      const out: Endpoint[] = [];
      for (const session of sessions.values()) {
        const socket = await bindSocket(serverSideAddress);
        session.old.push(session.socket);
        session.socket = socket;
        listenToServer(session, socket);
        out.push(endpointOf(socket));
      }
      return out;
    },
    serverSideEndpoints: () => [...sessions.values()].map((s) => endpointOf(s.socket)),
    async close() {
      if (closed) return;
      closed = true;
      scheduler.clear();
      const sockets = [clientSocket, ...[...sessions.values()].flatMap((s) => [s.socket, ...s.old])];
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/**
 * Bytes each way until the server validated the client's address (RFC 9000
 * §8.1): the first datagram from the client carrying a Handshake packet
 * proves it received the server's Initial. An anti-amplification check is
 * `toClient <= 3 * toServer` over this span (the server may not know yet).
 */
export function bytesBeforeValidation(log: readonly LogEntry[], client?: string): { toServer: number; toClient: number } {
  let toServer = 0;
  let toClient = 0;
  for (const e of log) {
    if (client && e.client !== client) continue;
    if (e.dir === 'toServer') {
      if (e.packets.includes('Handshake')) break;
      if (e.action === 'forwarded') toServer += e.size;
    } else {
      toClient += e.size;
    }
  }
  return { toServer, toClient };
}
