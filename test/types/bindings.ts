/**
 * Both bindings' generated declarations against the interfaces lib/
 * programs to (lib/backend.ts, and each backend's loader): `tsc` (run by
 * `npm run lint`) fails when either binding drifts — a method missing,
 * one lib/ does not know of, or one whose parameters or result changed.
 * napi/binding.d.ts is what napi-rs generates from the addon's #[napi]
 * items (scripts/build-native.sh); wasm/pkg/quicbridge_wasm.d.ts is
 * wasm-bindgen's.
 */
import type * as Native from '../../napi/binding';
import type * as Wasm from '../../wasm/pkg/quicbridge_wasm';
import type { BackendConnection, BackendHttp3Session, BackendHttp3Stream, BackendStream } from '../../lib/backend';
import type { NativeBinding, NativeEndpoint } from '../../lib/native-backend';
import type { WasmBinding, WasmEndpoint } from '../../lib/wasm-backend';

/** What wasm-bindgen gives every class: freeing its Rust object by hand. */
type WasmOwnership = 'free' | typeof Symbol.dispose;

/**
 * `true` when `Generated` has exactly the members `Declared` has (besides
 * `Extra`), each assignable to the declared one; otherwise what differs,
 * by name, which is what tsc then prints.
 */
type Conforms<Generated, Declared, Extra extends PropertyKey = never> = [Exclude<keyof Generated, keyof Declared | Extra>] extends [never]
  ? [Exclude<keyof Declared, keyof Generated>] extends [never]
    ? [Mismatched<Generated, Declared>] extends [never]
      ? true
      : { typesDiffer: Mismatched<Generated, Declared> }
    : { missing: Exclude<keyof Declared, keyof Generated> }
  : { notInLib: Exclude<keyof Generated, keyof Declared | Extra> };

type Mismatched<Generated, Declared> = {
  [K in keyof Declared]: K extends keyof Generated ? ([Generated[K]] extends [Declared[K]] ? never : K) : never;
}[keyof Declared];

/** Compiles only when `T` is `true`. */
type Check<T extends true> = T;

export type NativeChecks = [
  Check<Conforms<Native.NativeStream, BackendStream>>,
  Check<Conforms<Native.NativeConnection, BackendConnection>>,
  Check<Conforms<Native.NativeEndpoint, NativeEndpoint>>,
  Check<Conforms<Native.NativeHttp3Session, BackendHttp3Session>>,
  Check<Conforms<Native.NativeHttp3Stream, BackendHttp3Stream>>,
  Check<Conforms<typeof Native, NativeBinding, 'NativeConnection' | 'NativeStream' | 'NativeHttp3Session' | 'NativeHttp3Stream'>>,
];

export type WasmChecks = [
  Check<Conforms<Wasm.WasmStream, BackendStream, WasmOwnership>>,
  Check<Conforms<Wasm.WasmConnection, BackendConnection, WasmOwnership>>,
  Check<Conforms<Wasm.WasmEndpoint, WasmEndpoint, WasmOwnership>>,
  Check<Conforms<Wasm.WasmHttp3Session, BackendHttp3Session, WasmOwnership>>,
  Check<Conforms<Wasm.WasmHttp3Stream, BackendHttp3Stream, WasmOwnership>>,
  Check<Conforms<typeof Wasm, WasmBinding, 'WasmConnection' | 'WasmStream' | 'WasmHttp3Session' | 'WasmHttp3Stream'>>,
];
