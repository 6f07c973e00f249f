use std::cell::{OnceCell, RefCell};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use quinn::AsyncTimer;
use wasm_bindgen::prelude::*;
use web_time::Instant;

use crate::single_threaded::SingleThreaded;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Closure<dyn FnMut()>, delay_ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    /// What Node.js's `setTimeout` returns.
    type NodeTimeout;
    #[wasm_bindgen(method)]
    fn unref(this: &NodeTimeout);
}

/// A quinn timer on `setTimeout`. quinn moves its deadlines constantly;
/// re-arming a JavaScript timeout on every move would dominate the cost, so
/// a timeout is only (re)armed when the deadline moves earlier than the one
/// armed. A timeout that fires before a later deadline simply re-arms.
#[derive(Debug)]
pub(crate) struct JsTimer {
    deadline: Instant,
    armed: SingleThreaded<Rc<RefCell<Armed>>>,
}

#[derive(Debug, Default)]
struct Armed {
    at: Option<Instant>,
    handle: Option<JsValue>,
    waker: Option<Waker>,
    on_fire: Option<Closure<dyn FnMut()>>,
}

impl JsTimer {
    pub(crate) fn new(deadline: Instant) -> Self {
        let armed = Rc::new(RefCell::new(Armed::default()));
        let weak: Weak<RefCell<Armed>> = Rc::downgrade(&armed);
        let on_fire = Closure::new(move || {
            let Some(armed) = weak.upgrade() else { return };
            let waker = {
                let mut armed = armed.borrow_mut();
                armed.at = None;
                armed.handle = None;
                armed.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        armed.borrow_mut().on_fire = Some(on_fire);
        JsTimer {
            deadline,
            armed: SingleThreaded(armed),
        }
    }
}

impl AsyncTimer for JsTimer {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.deadline = deadline;
    }

    fn poll(self: Pin<&mut Self>, cx: &mut Context) -> Poll<()> {
        let now = Instant::now();
        if now >= self.deadline {
            return Poll::Ready(());
        }
        let mut armed = self.armed.borrow_mut();
        match &armed.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => armed.waker = Some(cx.waker().clone()),
        }
        if armed.at.is_none_or(|at| at > self.deadline) {
            if let Some(handle) = armed.handle.take() {
                clear_timeout(&handle);
            }
            // Whole milliseconds, rounded up, so that the timeout never fires
            // before the deadline and spins.
            let delay_ms = ((self.deadline - now).as_micros() as f64 / 1000.0).ceil();
            let on_fire = armed.on_fire.as_ref().expect("set at construction");
            let handle = set_timeout(on_fire, delay_ms);
            unref(&handle);
            armed.handle = Some(handle);
            armed.at = Some(self.deadline);
        }
        Poll::Pending
    }
}

/// Node.js stays alive for a pending timeout, and quinn's timers outlive
/// what the process should wait for: a connection still draining (three
/// probe timeouts, minutes under heavy loss) after its endpoint gave the
/// socket back. While an endpoint is open its hold (lib/keep-alive.ts)
/// keeps the process alive, as the native backend relies on too; so the
/// timers themselves do not. Whether timeouts can be unref'd (Node.js
/// objects, not a browser's numbers) is asked once, so that arming a timer
/// costs one more call into JavaScript, not a lookup per timer.
fn unref(handle: &JsValue) {
    thread_local! {
        static CAN_UNREF: OnceCell<bool> = const { OnceCell::new() };
    }
    let can_unref = CAN_UNREF.with(|can| {
        *can.get_or_init(|| js_sys::Reflect::has(handle, &"unref".into()).unwrap_or(false))
    });
    if can_unref {
        handle.unchecked_ref::<NodeTimeout>().unref();
    }
}

impl Drop for JsTimer {
    fn drop(&mut self) {
        if let Some(handle) = self.armed.borrow_mut().handle.take() {
            clear_timeout(&handle);
        }
    }
}
