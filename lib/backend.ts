/**
 * The one interface both bindings satisfy. The native (napi-rs) and wasm
 * (wasm-bindgen) classes have exactly these methods; structured values
 * cross as JSON strings made and checked by the Rust core, errors as the
 * core's JSON envelope (see errors.ts).
 */

export type BackendName = 'native' | 'wasm';

export interface BackendStream {
  readonly id: number;
  write(data: Uint8Array): Promise<void>;
  finish(): void;
  reset(code: number): void;
  /** Up to `max` bytes once any are available; `null` at the end. */
  read(max: number): Promise<Uint8Array | null>;
  stop(code: number): void;
}

export interface BackendConnection {
  openBi(): Promise<BackendStream>;
  acceptBi(): Promise<BackendStream>;
  close(code: number, reason: string): void;
  /** JSON of the core's CloseInfo. */
  closed(): Promise<string>;
  /** JSON of the core's ConnectionInfo. */
  info(): string;
}

export interface BackendEndpoint {
  /** JSON `{ address, port }`. */
  localAddress(): string;
  connect(options: string): Promise<BackendConnection>;
  accept(): Promise<BackendConnection | null>;
  close(code: number, reason: string): void;
  waitIdle(): Promise<void>;
}

export interface Backend {
  readonly name: BackendName;
  /** Where the binding was loaded from. */
  readonly path: string;
  readonly version: string;
  /** Binds a UDP socket and starts an endpoint on it. */
  bind(address: string, port: number, options: string): Promise<BoundEndpoint>;
}

/** An endpoint together with whatever its backend must release after it. */
export interface BoundEndpoint {
  readonly endpoint: BackendEndpoint;
  /** Releases the socket; called once the endpoint is closed and idle. */
  release(): Promise<void>;
}
