//! quinn's timers on one libuv timer per thread, armed for the earliest
//! deadline. libuv counts whole milliseconds: a deadline under a
//! millisecond away (quinn's pacer) is armed at 0 ms, which fires on the
//! loop's next turn.

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use quinn::AsyncTimer;

use super::executor::from_loop;
use crate::js_thread;
use crate::uv;

struct Timers {
    handle: *mut uv::Handle,
    closed: std::cell::Cell<bool>,
    waiting: RefCell<BTreeMap<(Instant, u64), Waker>>,
    armed: RefCell<Option<Instant>>,
}

thread_local! {
    static TIMERS: OnceCell<Timers> = const { OnceCell::new() };
}

fn with_timers<R>(f: impl FnOnce(&Timers) -> R) -> Option<R> {
    TIMERS
        .try_with(|cell| {
            if cell.get().is_none() {
                let event_loop = js_thread::with(|thread| thread.event_loop)?;
                let handle = uv::allocate();
                // SAFETY: a fresh handle on this thread's loop, unref'd like
                // the wasm backend's timeouts: open endpoints hold the loop.
                unsafe {
                    uv::uv_timer_init(event_loop, handle);
                    uv::uv_unref(handle);
                }
                let _ = cell.set(Timers {
                    handle,
                    closed: std::cell::Cell::new(false),
                    waiting: RefCell::new(BTreeMap::new()),
                    armed: RefCell::new(None),
                });
            }
            cell.get().map(f)
        })
        .ok()
        .flatten()
}

unsafe extern "C" fn on_fire(_handle: *mut uv::Handle) {
    from_loop(|| {
        with_timers(|timers| {
            *timers.armed.borrow_mut() = None;
            let now = Instant::now();
            let due = {
                let mut waiting = timers.waiting.borrow_mut();
                let later = waiting.split_off(&(now, u64::MAX));
                std::mem::replace(&mut *waiting, later)
            };
            for waker in due.into_values() {
                waker.wake();
            }
            let next = timers.waiting.borrow().keys().next().map(|(at, _)| *at);
            if let Some(next) = next {
                timers.arm(next, now);
            }
        });
    });
}

impl Timers {
    fn arm(&self, deadline: Instant, now: Instant) {
        if self.closed.get() {
            return;
        }
        let mut armed = self.armed.borrow_mut();
        if armed.is_some_and(|at| at <= deadline) {
            return;
        }
        *armed = Some(deadline);
        let ms = deadline.saturating_duration_since(now).as_millis() as u64;
        // SAFETY: an initialized timer handle of this thread.
        unsafe { uv::uv_timer_start(self.handle, on_fire, ms, 0) };
    }
}

pub(crate) fn shutdown() {
    let _ = TIMERS.try_with(|cell| {
        let Some(timers) = cell.get() else { return };
        if !timers.closed.replace(true) {
            timers.waiting.borrow_mut().clear();
            // SAFETY: the handle of this thread, closed once.
            unsafe { uv::close(timers.handle) };
        }
    });
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
pub(crate) struct LoopTimer {
    deadline: Instant,
    id: u64,
    registered: Option<Instant>,
}

impl LoopTimer {
    pub(crate) fn new(deadline: Instant) -> Self {
        LoopTimer {
            deadline,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registered: None,
        }
    }

    fn unregister(&mut self) {
        if let Some(at) = self.registered.take() {
            with_timers(|timers| timers.waiting.borrow_mut().remove(&(at, self.id)));
        }
    }
}

impl AsyncTimer for LoopTimer {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.deadline = deadline;
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<()> {
        let now = Instant::now();
        if now >= self.deadline {
            self.unregister();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        if self.registered != Some(deadline) {
            self.unregister();
            self.registered = Some(deadline);
        }
        let id = self.id;
        with_timers(|timers| {
            timers
                .waiting
                .borrow_mut()
                .insert((deadline, id), cx.waker().clone());
            timers.arm(deadline, now);
        });
        Poll::Pending
    }
}

impl Drop for LoopTimer {
    fn drop(&mut self) {
        self.unregister();
    }
}
