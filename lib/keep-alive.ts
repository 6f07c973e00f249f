/**
 * Keeps the Node.js event loop alive while endpoints are open, as an open
 * UDP or TCP socket does. The native backend's sockets and pending calls
 * live on Rust threads that libuv cannot see, so without this a script
 * awaiting a QUIC read could exit before the data arrives. The hold is all
 * that does: the wasm backend's timers are unref'd, and a released endpoint
 * ends the native waitIdle, so connections still draining after close()
 * stopped waiting for them do not keep the process alive.
 */
let holders = 0;
let timer: NodeJS.Timeout | undefined;

export interface LoopHold {
  ref(): void;
  unref(): void;
  release(): void;
}

export function holdLoop(): LoopHold {
  let counted = false;
  const count = (on: boolean) => {
    if (on === counted) return;
    counted = on;
    holders += on ? 1 : -1;
    if (holders > 0) timer ??= setInterval(() => {}, 1 << 30);
    else {
      clearInterval(timer);
      timer = undefined;
    }
  };
  let released = false;
  count(true);
  return {
    ref: () => !released && count(true),
    unref: () => count(false),
    release: () => {
      released = true;
      count(false);
    },
  };
}
