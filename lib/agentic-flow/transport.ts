/**
 * agentic-flow's `QuicTransport`: one client connection to one server, and
 * `send(data)` as a message the server acknowledges.
 */
import { randomUUID } from 'node:crypto';

import { invalidArg } from '../errors';
import { describeValue } from '../options';
import { QuicClient } from './client';
import type { QuicTransportConfig } from './config';
import { createQuicMessage, type QuicMessage } from './message';
import type { QuicStats } from './stats';

function isMessage(data: unknown): data is QuicMessage {
  return typeof data === 'object' && data !== null && 'msg_type' in data && 'payload' in data && 'id' in data;
}

export class QuicTransport {
  readonly #client: QuicClient;
  #connectionId: string | undefined;

  constructor(config: QuicTransportConfig = {}) {
    const { host, port, ...rest } = config;
    this.#client = new QuicClient({
      ...rest,
      ...(host === undefined ? {} : { serverHost: host }),
      ...(port === undefined ? {} : { serverPort: port }),
    });
  }

  /** The client underneath. */
  get client(): QuicClient {
    return this.#client;
  }

  /** Connects to the configured server. */
  async connect(): Promise<void> {
    await this.#client.initialize();
    this.#connectionId = (await this.#client.connect()).id;
  }

  /**
   * Sends `data` and settles when the server has acknowledged it: a
   * `QuicMessage` as it is, anything else as JSON (a message of custom type
   * `json`, metadata `{ contentType: 'application/json' }`), as agentic-flow
   * serialized it.
   */
  async send(data: unknown): Promise<void> {
    if (this.#connectionId === undefined) await this.connect();
    let message: QuicMessage;
    if (isMessage(data)) message = data;
    else {
      const json = JSON.stringify(data) as string | undefined;
      if (json === undefined) throw invalidArg(`data must be a QuicMessage or JSON-serializable, got ${describeValue(data)}`);
      message = createQuicMessage(randomUUID(), 'json', Buffer.from(json), { contentType: 'application/json' });
    }
    await this.#client.sendMessage(this.#connectionId!, message);
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#connectionId = undefined;
    await this.#client.shutdown();
  }

  getStats(): QuicStats {
    return this.#client.getStats();
  }
}
