/** Counts across the connections of a client or server: agentic-flow's `QuicStats` and `poolStats()`, from quinn's counters. */
import type { TrackedConnection } from './session';

/** agentic-flow's statistics, from real counters. */
export interface QuicStats {
  /** Connections made (client) or accepted (server) so far. */
  totalConnections: number;
  /** Connections open now. */
  activeConnections: number;
  /** Streams opened so far, by either side. */
  totalStreams: number;
  /** Streams open now. */
  activeStreams: number;
  /** UDP payload bytes received over all connections, ended ones included (quinn's count: headers, encryption and retransmissions too). */
  bytesReceived: number;
  /** UDP payload bytes sent, likewise. */
  bytesSent: number;
  /** Packets declared lost over all connections. */
  packetsLost: number;
  /** Mean smoothed RTT of the open connections; with none open, the last one measured. */
  rttMs: number;
}

/** `WasmQuicClient.poolStats()`, in agentic-flow's field names. */
export interface PoolStats {
  /** Open connections with a stream in use. */
  active: number;
  /** Open connections with none. */
  idle: number;
  /** Connections established so far. */
  total_created: number;
  /** Connections that have ended (closed by either side or timed out). */
  total_closed: number;
  /** Streams open now, over all connections. */
  current_streams: number;
}

/** Every connection a client or server has had, for its statistics. */
export class ConnectionBook {
  readonly #open = new Set<TrackedConnection>();
  #created = 0;
  #closed = 0;
  #ended = { bytesSent: 0, bytesReceived: 0, packetsLost: 0, streams: 0 };
  #lastRttMs = 0;

  add(connection: TrackedConnection): void {
    this.#created++;
    this.#open.add(connection);
    void connection.ended.then(() => {
      this.#open.delete(connection);
      this.#closed++;
      const stats = connection.stats;
      this.#ended.bytesSent += stats?.bytesSent ?? 0;
      this.#ended.bytesReceived += stats?.bytesReceived ?? 0;
      this.#ended.packetsLost += stats?.packetsLost ?? 0;
      this.#ended.streams += connection.totalStreams;
      if (stats) this.#lastRttMs = stats.smoothedRttMs;
    });
  }

  get open(): TrackedConnection[] {
    return [...this.#open];
  }

  quicStats(): QuicStats {
    const totals = { ...this.#ended, activeStreams: 0, rtts: [] as number[] };
    for (const connection of this.#open) {
      const stats = connection.stats;
      totals.bytesSent += stats?.bytesSent ?? 0;
      totals.bytesReceived += stats?.bytesReceived ?? 0;
      totals.packetsLost += stats?.packetsLost ?? 0;
      totals.streams += connection.totalStreams;
      totals.activeStreams += connection.activeStreams;
      if (stats) totals.rtts.push(stats.smoothedRttMs);
    }
    return {
      totalConnections: this.#created,
      activeConnections: this.#open.size,
      totalStreams: totals.streams,
      activeStreams: totals.activeStreams,
      bytesReceived: totals.bytesReceived,
      bytesSent: totals.bytesSent,
      packetsLost: totals.packetsLost,
      rttMs: totals.rtts.length > 0 ? totals.rtts.reduce((a, b) => a + b, 0) / totals.rtts.length : this.#lastRttMs,
    };
  }

  poolStats(): PoolStats {
    let active = 0;
    let streams = 0;
    for (const connection of this.#open) {
      streams += connection.activeStreams;
      if (connection.activeStreams > 0) active++;
    }
    return { active, idle: this.#open.size - active, total_created: this.#created, total_closed: this.#closed, current_streams: streams };
  }
}
