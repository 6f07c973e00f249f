//! A UDP socket for quinn whose readiness libuv watches on the event loop;
//! sends and receives are quinn-udp's (GSO, GRO, ECN where the OS has them).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use quinn::udp::{RecvMeta, Transmit, UdpSocketState};
use quinn::{AsyncUdpSocket, UdpPoller};

use super::executor::from_loop;
use crate::js_thread;
use crate::uv;

pub(crate) struct LoopSocket {
    io: UdpSocket,
    state: UdpSocketState,
    watch: Arc<Watch>,
}

/// The libuv poll handle of a socket and the tasks waiting on it.
struct Watch {
    /// Null once closed: by the socket's drop, or when the env ends.
    handle: AtomicPtr<uv::Handle>,
    /// A send found the socket's buffer full.
    send_blocked: AtomicBool,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The events the handle is started for.
    watched: i32,
}

// SAFETY: the handle is started, stopped and closed only on the JavaScript
// thread that created it (quinn polls sockets from tasks on that thread's
// executor); the wakers are behind the mutex.
unsafe impl Send for Watch {}
// SAFETY: as above.
unsafe impl Sync for Watch {}

impl Watch {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `waker` for `event` and makes sure libuv watches for it.
    fn wait(&self, event: i32, waker: &Waker) {
        let mut waiting = self.waiting();
        let slot = if event == uv::UV_READABLE {
            &mut waiting.reader
        } else {
            &mut waiting.writer
        };
        match slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        let handle = self.handle.load(Ordering::Acquire);
        if waiting.watched & event == 0 && !handle.is_null() {
            waiting.watched |= event;
            // SAFETY: an initialized poll handle of this thread.
            unsafe { uv::uv_poll_start(handle, waiting.watched, on_ready) };
        }
    }

    /// Stops watching and closes the handle, once. A stopped handle gets
    /// no more callbacks, so the strong count in its `data` is given back
    /// at once.
    fn close(&self) {
        let handle = self.handle.swap(ptr::null_mut(), Ordering::AcqRel);
        if handle.is_null() {
            return;
        }
        let _ = OPEN.try_with(|open| open.borrow_mut().remove(&(handle as usize)));
        // SAFETY: the initialized handle of this thread, closed once,
        // stopped before its socket closes (libuv must not watch a closed
        // descriptor).
        unsafe {
            uv::uv_poll_stop(handle);
            let data = (*handle).data;
            uv::close(handle);
            drop(Arc::from_raw(data as *const Watch));
        }
    }
}

thread_local! {
    /// The watches whose handles are open, to close when the env ends.
    static OPEN: RefCell<HashMap<usize, Weak<Watch>>> = RefCell::new(HashMap::new());
}

pub(crate) fn shutdown() {
    let open: Vec<_> = OPEN
        .try_with(|open| open.borrow_mut().drain().map(|(_, w)| w).collect())
        .unwrap_or_default();
    for watch in open.iter().filter_map(Weak::upgrade) {
        watch.close();
    }
}

unsafe extern "C" fn on_ready(handle: *mut uv::Handle, status: i32, events: i32) {
    // SAFETY: `data` holds the `Watch` until the handle is closed.
    let watch = unsafe { &*((*handle).data as *const Watch) };
    // An error is reported to whoever waits, by their next send or receive.
    let events = if status < 0 {
        uv::UV_READABLE | uv::UV_WRITABLE
    } else {
        events
    };
    if events & uv::UV_WRITABLE != 0 {
        watch.send_blocked.store(false, Ordering::Release);
    }
    from_loop(|| {
        let (reader, writer) = {
            let mut waiting = watch.waiting();
            let reader = (events & uv::UV_READABLE != 0)
                .then(|| waiting.reader.take())
                .flatten();
            let writer = (events & uv::UV_WRITABLE != 0)
                .then(|| waiting.writer.take())
                .flatten();
            // Ready with nobody waiting: stop watching, or libuv reports
            // the same readiness on every turn of the loop. Readiness that
            // woke a task stays watched: the task will very likely wait
            // again, and restarting costs a system call.
            let mut watched = waiting.watched;
            if events & uv::UV_READABLE != 0 && reader.is_none() {
                watched &= !uv::UV_READABLE;
            }
            if events & uv::UV_WRITABLE != 0 && writer.is_none() {
                watched &= !uv::UV_WRITABLE;
            }
            if watched != waiting.watched {
                waiting.watched = watched;
                // SAFETY: the handle this callback is for.
                unsafe {
                    if watched == 0 {
                        uv::uv_poll_stop(handle);
                    } else {
                        uv::uv_poll_start(handle, watched, on_ready);
                    }
                }
            }
            (reader, writer)
        };
        if let Some(reader) = reader {
            reader.wake();
        }
        if let Some(writer) = writer {
            writer.wake();
        }
    });
}

impl LoopSocket {
    /// Watches `io` on the calling thread's event loop.
    pub(crate) fn new(io: UdpSocket) -> io::Result<Arc<Self>> {
        io.set_nonblocking(true)?;
        let state = UdpSocketState::new((&io).into())?;
        let event_loop = js_thread::with(|thread| thread.event_loop)
            .ok_or_else(|| io::Error::other("the binding was not entered on this thread"))?;
        let handle = uv::allocate();
        let watch = Arc::new(Watch {
            handle: AtomicPtr::new(handle),
            send_blocked: AtomicBool::new(false),
            waiting: Mutex::new(Waiting::default()),
        });
        // SAFETY: a fresh handle on this thread's loop for an open socket;
        // unref'd, as open endpoints hold the loop. `data` keeps a strong
        // count of the watch, given back when the handle is closed.
        unsafe {
            #[cfg(unix)]
            let status = uv::uv_poll_init(event_loop, handle, std::os::fd::AsRawFd::as_raw_fd(&io));
            if status < 0 {
                uv::free(handle);
                return Err(io::Error::other(format!(
                    "libuv could not watch the socket ({status})"
                )));
            }
            uv::uv_unref(handle);
            (*handle).data = Arc::into_raw(watch.clone()) as *mut _;
        }
        OPEN.with(|open| {
            open.borrow_mut()
                .insert(handle as usize, Arc::downgrade(&watch))
        });
        Ok(Arc::new(LoopSocket { io, state, watch }))
    }
}

impl Drop for LoopSocket {
    fn drop(&mut self) {
        self.watch.close();
    }
}

impl fmt::Debug for LoopSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopSocket").field("io", &self.io).finish()
    }
}

struct LoopPoller {
    watch: Arc<Watch>,
}

impl fmt::Debug for LoopPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoopPoller")
    }
}

impl UdpPoller for LoopPoller {
    /// quinn asks before every send: ready unless the last send found the
    /// socket's buffer full and libuv has not reported room since.
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        if !self.watch.send_blocked.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        self.watch.wait(uv::UV_WRITABLE, cx.waker());
        Poll::Pending
    }
}

impl AsyncUdpSocket for LoopSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(LoopPoller {
            watch: self.watch.clone(),
        })
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let sent = self.state.send((&self.io).into(), transmit);
        if matches!(&sent, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.watch.send_blocked.store(true, Ordering::Release);
        }
        sent
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        match self.state.recv((&self.io).into(), bufs, meta) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.watch.wait(uv::UV_READABLE, cx.waker());
                Poll::Pending
            }
            result => Poll::Ready(result),
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }
}
