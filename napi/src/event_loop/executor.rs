//! A single-threaded executor on the event loop. Tasks live in a slab on
//! the JavaScript thread; a waker (callable from any thread) queues its
//! task's index and, when the queue was empty and no drain is running,
//! signals a libuv async handle. Every libuv callback of the binding ends
//! in a drain that polls queued tasks until none is left.

use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::task::{Context, Wake, Waker};

use crate::js_thread;
use crate::uv;

type Task = Pin<Box<dyn Future<Output = ()>>>;

struct Queue {
    woken: Mutex<Vec<usize>>,
    draining: AtomicBool,
    /// The signal handle is closed: the env is gone.
    closed: AtomicBool,
    signal: Signal,
}

struct Signal(*mut uv::Handle);

// SAFETY: uv_async_send may be called from any thread; the handle itself
// is only initialized and closed on the JavaScript thread.
unsafe impl Send for Signal {}
// SAFETY: as above.
unsafe impl Sync for Signal {}

impl Queue {
    fn woken(&self) -> MutexGuard<'_, Vec<usize>> {
        self.woken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signal(&self) {
        if !self.closed.load(Ordering::Acquire) {
            // SAFETY: see `Signal`.
            unsafe { uv::uv_async_send(self.signal.0) };
        }
    }
}

struct TaskWaker {
    index: usize,
    queued: AtomicBool,
    queue: Arc<Queue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let first = {
            let mut woken = self.queue.woken();
            woken.push(self.index);
            woken.len() == 1
        };
        if first && !self.queue.draining.load(Ordering::Acquire) {
            self.queue.signal();
        }
    }
}

struct Slot {
    task: Option<Task>,
    flag: Arc<TaskWaker>,
    waker: Waker,
}

struct Executor {
    queue: Arc<Queue>,
    slots: RefCell<Vec<Option<Slot>>>,
    free: RefCell<Vec<usize>>,
}

thread_local! {
    static EXECUTOR: OnceCell<Executor> = const { OnceCell::new() };
}

fn with_executor<R>(f: impl FnOnce(&Executor) -> R) -> Option<R> {
    EXECUTOR.with(|cell| {
        if cell.get().is_none() {
            let event_loop = js_thread::with(|thread| thread.event_loop)?;
            let handle = uv::allocate();
            // SAFETY: a fresh handle on this thread's loop, unref'd: open
            // endpoints keep the process alive, not the executor.
            unsafe {
                uv::uv_async_init(event_loop, handle, on_signal);
                uv::uv_unref(handle);
            }
            let _ = cell.set(Executor {
                queue: Arc::new(Queue {
                    woken: Mutex::new(Vec::new()),
                    draining: AtomicBool::new(false),
                    closed: AtomicBool::new(false),
                    signal: Signal(handle),
                }),
                slots: RefCell::new(Vec::new()),
                free: RefCell::new(Vec::new()),
            });
        }
        cell.get()
            .filter(|executor| !executor.queue.closed.load(Ordering::Acquire))
            .map(f)
    })
}

pub(crate) fn shutdown() {
    let _ = EXECUTOR.try_with(|cell| {
        let Some(executor) = cell.get() else { return };
        // Dropped outside the borrow: dropping a task can wake another.
        let tasks = std::mem::take(&mut *executor.slots.borrow_mut());
        drop(tasks);
        executor.queue.woken().clear();
        if !executor.queue.closed.swap(true, Ordering::AcqRel) {
            // SAFETY: the handle of this thread, closed once.
            unsafe { uv::close(executor.queue.signal.0) };
        }
    });
}

unsafe extern "C" fn on_signal(_handle: *mut uv::Handle) {
    from_loop(|| {});
}

/// Runs `wake` (a libuv callback's wakeups) and then, in a callback scope,
/// every task it woke.
pub(crate) fn from_loop(wake: impl FnOnce()) {
    with_executor(|executor| {
        executor.queue.draining.store(true, Ordering::Release);
        wake();
        js_thread::callback_scope(|_| executor.drain_queued());
    });
}

/// Polls queued tasks now, from inside a call from JavaScript (which has
/// its own scope); does nothing inside a drain.
pub(crate) fn drain_now() {
    with_executor(|executor| {
        if !executor.queue.draining.swap(true, Ordering::AcqRel) {
            executor.drain_queued();
        }
    });
}

/// Queues `task` to be polled on this thread's event loop.
pub(crate) fn spawn(task: impl Future<Output = ()> + 'static) -> bool {
    with_executor(|executor| executor.spawn(Box::pin(task))).is_some()
}

impl Executor {
    fn spawn(&self, task: Task) {
        let index = self.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut slots = self.slots.borrow_mut();
            slots.push(None);
            slots.len() - 1
        });
        let flag = Arc::new(TaskWaker {
            index,
            queued: AtomicBool::new(false),
            queue: self.queue.clone(),
        });
        let waker = Waker::from(flag.clone());
        self.slots.borrow_mut()[index] = Some(Slot {
            task: Some(task),
            flag,
            waker: waker.clone(),
        });
        waker.wake();
    }

    /// Polls tasks until none is queued; the caller has set `draining`.
    fn drain_queued(&self) {
        loop {
            let woken = std::mem::take(&mut *self.queue.woken());
            if woken.is_empty() {
                break;
            }
            for index in woken {
                let taken = {
                    let mut slots = self.slots.borrow_mut();
                    slots
                        .get_mut(index)
                        .and_then(Option::as_mut)
                        .and_then(|slot| {
                            slot.flag.queued.store(false, Ordering::Release);
                            Some((slot.task.take()?, slot.waker.clone()))
                        })
                };
                let Some((mut task, waker)) = taken else {
                    continue;
                };
                let done = task
                    .as_mut()
                    .poll(&mut Context::from_waker(&waker))
                    .is_ready();
                let mut slots = self.slots.borrow_mut();
                if done {
                    slots[index] = None;
                    self.free.borrow_mut().push(index);
                } else if let Some(slot) = slots[index].as_mut() {
                    slot.task = Some(task);
                }
            }
        }
        self.queue.draining.store(false, Ordering::Release);
        // Woken from another thread after the last look: signal as a wake
        // outside a drain would have.
        if !self.queue.woken().is_empty() {
            self.queue.signal();
        }
    }
}
