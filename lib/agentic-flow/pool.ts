/**
 * agentic-flow's `QuicConnectionPool`: at most `maxPoolSize` connections of
 * a `QuicClient`, reused by `host:port`; making room evicts the least
 * recently used one, and eviction closes it.
 */
import { invalidArg } from '../errors';
import { describeValue } from '../options';
import type { QuicClient, QuicConnection } from './client';

export class QuicConnectionPool {
  readonly #client: QuicClient;
  readonly #maxPoolSize: number;
  readonly #ids = new Set<string>();

  constructor(client: QuicClient, maxPoolSize = 10) {
    if (typeof client !== 'object' || client === null || typeof client.connect !== 'function') {
      throw invalidArg(`client must be a QuicClient, got ${describeValue(client)}`);
    }
    if (!Number.isInteger(maxPoolSize) || maxPoolSize < 1) throw invalidArg(`maxPoolSize must be an integer of at least 1, got ${describeValue(maxPoolSize)}`);
    this.#client = client;
    this.#maxPoolSize = maxPoolSize;
  }

  /** The open connection to `host:port`, or a new one (evicting the least recently used if the pool is full). */
  async getConnection(host: string, port: number): Promise<QuicConnection> {
    // Forget connections that ended on their own.
    for (const id of this.#ids) if (!this.#client.connectionFor(id)) this.#ids.delete(id);
    if (this.#ids.has(this.#key(host, port))) return this.#client.connect(host, port); // reuses and touches it
    while (this.#ids.size >= this.#maxPoolSize) await this.#evictLeastRecentlyUsed();
    const connection = await this.#client.connect(host, port);
    this.#ids.add(connection.id);
    return connection;
  }

  #key(host: string, port: number): string {
    const bare = host.replace(/^\[|\]$/g, '');
    return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
  }

  async #evictLeastRecentlyUsed(): Promise<void> {
    let oldest: { id: string; sequence: number } | undefined;
    for (const id of this.#ids) {
      const sequence = this.#client.connectionFor(id)?.useSequence ?? -1;
      if (!oldest || sequence < oldest.sequence) oldest = { id, sequence };
    }
    if (!oldest) return;
    this.#ids.delete(oldest.id);
    await this.#client.closeConnection(oldest.id);
  }

  /** Connections in the pool now. */
  get size(): number {
    return [...this.#ids].filter((id) => this.#client.connectionFor(id)).length;
  }

  /** Closes every connection in the pool. */
  async clear(): Promise<void> {
    const ids = [...this.#ids];
    this.#ids.clear();
    await Promise.all(ids.map((id) => this.#client.closeConnection(id)));
  }
}
