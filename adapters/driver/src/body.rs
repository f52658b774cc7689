//! The body of one incoming stream or incremental message as a
//! [`Stream`] of [`Bytes`] and an [`AsyncRead`], for code written against
//! those (`futures::io::copy`, `tokio_util::io::StreamReader`, …).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::io::Transport;
use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use futures_io::AsyncRead;
use wscore::StreamError;

use crate::engine::{BodyItem, Engine};
use crate::outgoing::Drive;
use crate::side::Target;
use crate::{ReadHalf, Socket, Timer};

/// Why a [`Body`] stopped other than for a [`StreamError`]: the inner
/// error of the `io::Error` it yields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// The stream or message was not in progress: its start was not
    /// handed out by `next_event`, or its end already was.
    NotInProgress,
    /// The events that arrived while the body was read, and were not its
    /// own, filled [`StreamConfig::max_buffered`](wscore::StreamConfig::max_buffered)
    /// with something that cannot be dropped (a message, a control frame).
    /// The body stopped; those events come first from `next_event`, then
    /// the rest of the body's pieces.
    Interleaved,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::NotInProgress => "no such incoming stream or message is in progress",
            BodyError::Interleaved => {
                "other events arriving meanwhile filled the buffer; the rest follows as events"
            }
        })
    }
}

impl std::error::Error for BodyError {}

/// The `io::Error` of a stream that failed: the [`StreamError`] is its
/// inner error, with a kind that says what happened.
fn stream_failed(error: StreamError) -> io::Error {
    let kind = match &error {
        StreamError::ConnectionClosed => io::ErrorKind::UnexpectedEof,
        StreamError::Aborted { .. } | StreamError::Cancelled | StreamError::SourceFailed => {
            io::ErrorKind::ConnectionAborted
        }
        StreamError::Expired => io::ErrorKind::TimedOut,
        StreamError::DuplicateChunk { .. }
        | StreamError::OutOfRange { .. }
        | StreamError::LengthMismatch { .. }
        | StreamError::UnknownStream
        | StreamError::AlreadyOpen => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, error)
}

/// What a body reads through.
enum Reader<'a, S, T> {
    Socket(&'a mut Socket<S, T>),
    Half(&'a mut ReadHalf<S, T>),
}

impl<S, T> Reader<'_, S, T>
where
    S: Transport,
    T: Timer,
{
    fn poll_body(&mut self, cx: &mut Context<'_>, target: Target) -> Poll<BodyItem> {
        let f = |engine: &mut Engine<S, T>, cx: &mut Context<'_>| engine.poll_body(cx, target);
        match self {
            Reader::Socket(socket) => socket.poll_engine(cx, f),
            Reader::Half(half) => half.poll_engine(cx, f),
        }
    }
}

/// The body of one incoming stream ([`Socket::stream_body`]) or
/// incremental message ([`Socket::message_body`]): its pieces in order as
/// a [`Stream`] of `io::Result<Bytes>`, or its bytes as an [`AsyncRead`].
///
/// The stream ends with `None` (the reader with `Ok(0)`) when the stream
/// finishes or the message ends. A stream that fails yields one `Err`
/// whose [inner error](io::Error::get_ref) is the [`StreamError`]
/// (`UnexpectedEof` when the connection ends first, `ConnectionAborted`
/// when the peer aborts, `InvalidData` for a malformed stream); the socket
/// goes on. Pieces are the received `Bytes`, not copies.
///
/// The transport is read only while the body is polled: a reader that
/// stops polling it stops the socket. Everything else that arrives
/// meanwhile (other messages and streams, pings, the peer's close) is held
/// in the socket, in order, for the next `next_event` or message call,
/// within [`StreamConfig::max_buffered`](wscore::StreamConfig::max_buffered)
/// bytes: another stream whose pieces would exceed it is dropped (its end
/// is reported as [`StreamError::BufferLimit`] and it is counted in
/// `undelivered_streams`); anything else stops the body with
/// [`BodyError::Interleaved`] and the rest of its pieces follow through
/// `next_event`.
///
/// Dropping a body before its end loses nothing: the rest of its pieces
/// (the unread part of one included) are handed out by `next_event`.
///
/// For tokio's `AsyncRead`, wrap the body in
/// `tokio_util::io::StreamReader`; with `futures`,
/// `TryStreamExt::into_async_read` does the same, or use the body itself:
///
/// ```no_run
/// # async fn save<S, T>(socket: &mut wscore_driver::Socket<S, T>, id: wscore_driver::StreamId)
/// # -> std::io::Result<()>
/// # where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin, T: wscore_driver::Timer {
/// let mut file = Vec::new();
/// futures::io::copy(socket.stream_body(id), &mut file).await?;
/// # Ok(()) }
/// ```
pub struct Body<'a, S, T> {
    reader: Reader<'a, S, T>,
    target: Target,
    /// The unread rest of the last piece (the `AsyncRead` side).
    partial: Bytes,
    done: bool,
}

impl<S, T> fmt::Debug for Body<'_, S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("target", &self.target)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a, S, T> Body<'a, S, T>
where
    S: Transport,
    T: Timer,
{
    pub(crate) fn of_socket(socket: &'a mut Socket<S, T>, target: Target) -> Self {
        Self::new(Reader::Socket(socket), target)
    }

    pub(crate) fn of_half(half: &'a mut ReadHalf<S, T>, target: Target) -> Self {
        Self::new(Reader::Half(half), target)
    }

    fn new(reader: Reader<'a, S, T>, target: Target) -> Self {
        Body {
            reader,
            target,
            partial: Bytes::new(),
            done: false,
        }
    }

    /// The next non-empty piece from the socket.
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let item = ready!(self.reader.poll_body(cx, self.target));
            let result = match item {
                BodyItem::Piece(data) if data.is_empty() => continue,
                BodyItem::Piece(data) => return Poll::Ready(Some(Ok(data))),
                BodyItem::End => None,
                BodyItem::Failed(error) => Some(Err(stream_failed(error))),
                BodyItem::Interleaved => Some(Err(io::Error::other(BodyError::Interleaved))),
                BodyItem::NotInProgress => Some(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    BodyError::NotInProgress,
                ))),
            };
            self.done = true;
            return Poll::Ready(result);
        }
    }
}

impl<S, T> Stream for Body<'_, S, T>
where
    S: Transport,
    T: Timer,
{
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.partial.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut this.partial))));
        }
        this.poll_piece(cx)
    }
}

impl<S, T> FusedStream for Body<'_, S, T>
where
    S: Transport,
    T: Timer,
{
    fn is_terminated(&self) -> bool {
        self.done && self.partial.is_empty()
    }
}

impl<S, T> AsyncRead for Body<'_, S, T>
where
    S: Transport,
    T: Timer,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.partial.is_empty() {
            match ready!(this.poll_piece(cx)) {
                Some(Ok(piece)) => this.partial = piece,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(0)),
            }
        }
        let n = buf.len().min(this.partial.len());
        let piece = this.partial.split_to(n);
        if let Some(dest) = buf.get_mut(..n) {
            dest.copy_from_slice(&piece);
        }
        Poll::Ready(Ok(n))
    }
}

impl<S, T> Drop for Body<'_, S, T> {
    fn drop(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.partial);
        let target = self.target;
        // No IO: the rest is queued for `next_event`.
        match &mut self.reader {
            Reader::Socket(socket) => socket.unread_piece(target, data),
            Reader::Half(half) => half.unread_piece(target, data),
        }
    }
}
