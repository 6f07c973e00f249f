use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
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
    recv: Option<Arc<Mutex<Half<Receiver>>>>,
    ending: Ending,
}

#[derive(Debug)]
struct Receiver {
    stream: quinn::RecvStream,
    /// An error quinn reported while a read was already handing data back:
    /// quinn reports it only once, so the next read must.
    deferred: Option<ReadError>,
}

/// What a read that must not wait found.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRead {
    Data(Received),
    End,
    /// Nothing buffered yet: wait with [`Stream::read`].
    Blocked,
}

/// Bytes a read took: quinn's received chunks (slices of the packets they
/// came in), in order and not yet copied, so that a binding copies them
/// once, straight into whatever its host wants them in.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Received {
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        self.chunks.push(chunk);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks, in order, as quinn received them.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(|chunk| &chunk[..])
    }

    /// Copies the first bytes into `out`, as many as fit; returns how many.
    pub fn copy_prefix(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        for chunk in self.chunks() {
            let take = chunk.len().min(out.len() - at);
            out[at..at + take].copy_from_slice(&chunk[..take]);
            at += take;
            if at == out.len() {
                break;
            }
        }
        at
    }

    /// Copies all the bytes into `out`, which must be [`len`](Self::len) long.
    pub fn copy_to(&self, out: &mut [u8]) {
        assert_eq!(out.len(), self.len, "a buffer of the received length");
        self.copy_prefix(out);
    }
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
            recv: recv.map(|stream| {
                Half::new(Receiver {
                    stream,
                    deferred: None,
                })
            }),
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

    fn recv_half(&self) -> Result<&Mutex<Half<Receiver>>> {
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

    /// Buffers as much of `data` as fits now, without waiting; returns how
    /// many bytes were taken (the rest goes through [`Stream::write`]).
    /// Most writes fit whole, which spares the caller an asynchronous call.
    pub fn try_write(&self, data: &[u8]) -> Result<usize> {
        let mut half = lock(self.send_half()?);
        let mut cx = Context::from_waker(Waker::noop());
        let mut written = 0;
        while written < data.len() {
            match std::pin::Pin::new(&mut half.stream).poll_write(&mut cx, &data[written..]) {
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => return Err(self.write_error(e)),
                Poll::Pending => break,
            }
        }
        Ok(written)
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
    pub async fn read(&self, max: usize) -> Result<Option<Received>> {
        check_read_size(max)?;
        let half = self.recv_half()?;
        poll_fn(|cx| lock(half).poll(cx, |receiver, cx| self.poll_read(receiver, cx, max))).await
    }

    /// Up to `max` bytes that have already arrived, or the end, without
    /// waiting: the caller needs no asynchronous call when data is there.
    pub fn try_read(&self, max: usize) -> Result<TryRead> {
        check_read_size(max)?;
        let mut half = lock(self.recv_half()?);
        let mut cx = Context::from_waker(Waker::noop());
        Ok(match self.poll_read(&mut half.stream, &mut cx, max) {
            Poll::Pending => TryRead::Blocked,
            Poll::Ready(Ok(Some(data))) => TryRead::Data(data),
            Poll::Ready(Ok(None)) => TryRead::End,
            Poll::Ready(Err(e)) => return Err(e),
        })
    }

    /// Takes the first chunk quinn has (waiting through `cx`), then
    /// whatever else is already buffered up to `max`: nothing is allocated
    /// while waiting, nothing is copied or zero-filled.
    fn poll_read(
        &self,
        receiver: &mut Receiver,
        cx: &mut Context,
        max: usize,
    ) -> Poll<Result<Option<Received>>> {
        if let Some(e) = receiver.deferred.take() {
            return Poll::Ready(Err(self.read_error(e)));
        }
        let first = match poll_chunk(&mut receiver.stream, cx, max) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(self.read_error(e))),
            Poll::Ready(Ok(None)) => return Poll::Ready(Ok(None)),
            Poll::Ready(Ok(Some(bytes))) => bytes,
        };
        let mut received = Received::default();
        received.push(first);
        let mut now = Context::from_waker(Waker::noop());
        while received.len() < max {
            match poll_chunk(&mut receiver.stream, &mut now, max - received.len()) {
                Poll::Ready(Ok(Some(bytes))) => received.push(bytes),
                Poll::Ready(Err(e)) => {
                    receiver.deferred = Some(e);
                    break;
                }
                // The end is remembered by quinn and seen by the next read.
                Poll::Ready(Ok(None)) | Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(Some(received)))
    }

    /// Tells the peer to stop sending, with `code`.
    pub fn stop(&self, code: VarInt) -> Result<()> {
        let mut half = lock(self.recv_half()?);
        half.stream
            .stream
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

fn check_read_size(max: usize) -> Result<()> {
    if max == 0 || max > MAX_READ_BYTES {
        return Err(Error::invalid_arg(format!(
            "read size must be between 1 and {MAX_READ_BYTES}, got {max}"
        )));
    }
    Ok(())
}

/// One poll of quinn's ordered `read_chunk` (cancel-safe, so dropping the
/// future after one poll loses nothing): a slice of a received packet, not
/// a copy.
fn poll_chunk(
    stream: &mut quinn::RecvStream,
    cx: &mut Context,
    max: usize,
) -> Poll<std::result::Result<Option<Bytes>, ReadError>> {
    pin!(stream.read_chunk(max, true))
        .poll(cx)
        .map(|chunk| chunk.map(|chunk| chunk.map(|chunk| chunk.bytes)))
}

fn stream_code_error(code: ErrorCode, message: String, quic_code: VarInt) -> Error {
    Error::new(code, message).with_details(ErrorDetails {
        quic_code: Some(quic_code.into_inner()),
        remote: Some(true),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(chunks: &[&'static [u8]]) -> Received {
        let mut received = Received::default();
        for chunk in chunks {
            received.push(Bytes::from_static(chunk));
        }
        received
    }

    #[test]
    fn received_chunks_copy_in_order_across_chunk_edges() {
        let r = received(&[b"ab", b"", b"cde", b"f"]);
        assert_eq!(r.len(), 6);
        let mut prefix = [0u8; 4];
        assert_eq!(r.copy_prefix(&mut prefix), 4);
        assert_eq!(&prefix, b"abcd");
        let mut all = [0u8; 6];
        r.copy_to(&mut all);
        assert_eq!(&all, b"abcdef");
        let mut more = [0u8; 8];
        assert_eq!(r.copy_prefix(&mut more), 6);
        assert_eq!(r.chunks().flatten().copied().collect::<Vec<_>>(), b"abcdef");
    }
}
