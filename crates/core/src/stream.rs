use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use quinn::{ReadError, VarInt, WriteError};

use crate::close::Ending;
use crate::error::{Error, ErrorCode, ErrorDetails, Result};

/// The largest read a caller may ask for at once.
pub const MAX_READ_BYTES: usize = 16 * 1024 * 1024;

/// One QUIC stream: both halves of a bidirectional stream, or the one half
/// of a unidirectional stream. Each half sits behind a lock taken only
/// inside a single poll, so a pending write never blocks a reset.
#[derive(Debug, Clone)]
pub struct Stream {
    id: u64,
    /// Opened in 0-RTT (before the handshake completed).
    early: bool,
    send: Option<Arc<Mutex<Half<quinn::SendStream>>>>,
    recv: Option<Arc<Mutex<Half<quinn::RecvStream>>>>,
    ending: Ending,
}

/// A quinn stream half and the task waiting on it. quinn's `stop` and
/// `reset` take `&mut self`, so quinn assumes no read or write is pending
/// then and does not wake one (`stop` even forgets its waker); here they
/// can be, so they wake it themselves, or it would wait forever.
#[derive(Debug)]
struct Half<T> {
    stream: T,
    waiting: Option<Waker>,
}

impl<T> Half<T> {
    fn new(stream: T) -> Arc<Mutex<Self>> {
        Arc::new(Mutex::new(Half {
            stream,
            waiting: None,
        }))
    }

    /// Polls with `poll`, remembering the waker while it is pending.
    fn poll<R>(
        &mut self,
        cx: &mut Context,
        poll: impl FnOnce(&mut T, &mut Context) -> Poll<R>,
    ) -> Poll<R> {
        let outcome = poll(&mut self.stream, cx);
        self.waiting = outcome.is_pending().then(|| cx.waker().clone());
        outcome
    }

    fn wake_waiting(&mut self) {
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
    }
}

fn lock<T>(half: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the stream is still sound.
    half.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Stream {
    pub(crate) fn new(
        send: Option<quinn::SendStream>,
        recv: Option<quinn::RecvStream>,
        ending: Ending,
    ) -> Self {
        let id = send
            .as_ref()
            .map(|s| s.id())
            .or_else(|| recv.as_ref().map(|r| r.id()))
            .expect("a stream has at least one half");
        let early = recv.as_ref().is_some_and(|r| r.is_0rtt());
        Stream {
            id: VarInt::from(id).into_inner(),
            early,
            send: send.map(Half::new),
            recv: recv.map(Half::new),
            ending,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether the peer opened this stream in 0-RTT data.
    pub fn is_early(&self) -> bool {
        self.early
    }

    pub fn is_bidirectional(&self) -> bool {
        self.send.is_some() && self.recv.is_some()
    }

    fn send_half(&self) -> Result<&Mutex<Half<quinn::SendStream>>> {
        self.send
            .as_deref()
            .ok_or_else(|| Error::invalid_state("this stream has no sending half"))
    }

    fn recv_half(&self) -> Result<&Mutex<Half<quinn::RecvStream>>> {
        self.recv
            .as_deref()
            .ok_or_else(|| Error::invalid_state("this stream has no receiving half"))
    }

    /// Resolves once all of `data` is in the stream's send buffer, which is
    /// bounded by flow control and the send window: this is backpressure.
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        let half = self.send_half()?;
        let mut written = 0;
        poll_fn(|cx| {
            lock(half).poll(cx, |stream, cx| {
                while written < data.len() {
                    match std::pin::Pin::new(&mut *stream).poll_write(cx, &data[written..]) {
                        Poll::Ready(Ok(n)) => written += n,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(self.write_error(e))),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Poll::Ready(Ok(()))
            })
        })
        .await
    }

    /// Ends the sending half cleanly after what was written.
    pub fn finish(&self) -> Result<()> {
        lock(self.send_half()?)
            .stream
            .finish()
            .map_err(|_| Error::invalid_state("stream already finished or reset"))
    }

    /// Abandons the sending half: the peer's reads fail with `code`.
    pub fn reset(&self, code: VarInt) -> Result<()> {
        let mut half = lock(self.send_half()?);
        half.stream
            .reset(code)
            .map_err(|_| Error::invalid_state("stream already finished or reset"))?;
        half.wake_waiting();
        Ok(())
    }

    /// Up to `max` bytes as soon as any are available; `None` at the end.
    pub async fn read(&self, max: usize) -> Result<Option<Vec<u8>>> {
        if max == 0 || max > MAX_READ_BYTES {
            return Err(Error::invalid_arg(format!(
                "read size must be between 1 and {MAX_READ_BYTES}, got {max}"
            )));
        }
        let half = self.recv_half()?;
        let mut buf = vec![0u8; max];
        let n =
            poll_fn(|cx| lock(half).poll(cx, |stream, cx| stream.poll_read(cx, &mut buf))).await;
        match n {
            Ok(0) => Ok(None),
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(e) => Err(self.read_error(e)),
        }
    }

    /// Tells the peer to stop sending, with `code`.
    pub fn stop(&self, code: VarInt) -> Result<()> {
        let mut half = lock(self.recv_half()?);
        half.stream
            .stop(code)
            .map_err(|_| Error::invalid_state("stream already stopped or finished"))?;
        half.wake_waiting();
        Ok(())
    }

    fn write_error(&self, e: WriteError) -> Error {
        match e {
            WriteError::Stopped(code) => stream_code_error(
                ErrorCode::StreamStopped,
                format!("the peer stopped stream {} with code {code}", self.id),
                code,
            ),
            WriteError::ConnectionLost(e) => self.ending.error(&e),
            WriteError::ClosedStream => Error::invalid_state("stream already finished or reset"),
            WriteError::ZeroRttRejected => Error::new(
                ErrorCode::EarlyDataRejected,
                "the peer rejected 0-RTT: this stream's data was not delivered",
            ),
        }
    }

    fn read_error(&self, e: ReadError) -> Error {
        match e {
            ReadError::Reset(code) => stream_code_error(
                ErrorCode::StreamReset,
                format!("the peer reset stream {} with code {code}", self.id),
                code,
            ),
            ReadError::ConnectionLost(e) => self.ending.error(&e),
            ReadError::ClosedStream => Error::invalid_state("stream already stopped"),
            ReadError::IllegalOrderedRead => Error::invalid_state("ordered read after unordered"),
            ReadError::ZeroRttRejected => Error::new(
                ErrorCode::EarlyDataRejected,
                "the peer rejected 0-RTT: this stream was discarded",
            ),
        }
    }
}

fn stream_code_error(code: ErrorCode, message: String, quic_code: VarInt) -> Error {
    Error::new(code, message).with_details(ErrorDetails {
        quic_code: Some(quic_code.into_inner()),
        remote: Some(true),
        ..Default::default()
    })
}
