/**
 * Keeps the Node.js event loop alive while endpoints are open, as an open
 * UDP or TCP socket does. Neither backend's handles do it themselves: the
 * native backend's libuv handles (socket watchers, its timer, its wakeup)
 * and the wasm backend's timeouts are unref'd, so that connections still
 * draining after close() stopped waiting for them do not keep the process
 * alive. The hold is what keeps a script awaiting a QUIC read running.
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
