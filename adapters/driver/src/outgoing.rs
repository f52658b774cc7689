//! Streams sent from sources the application does not hold in memory: an
//! `AsyncRead` or a `Stream` of `Bytes`, pushed piece by piece while the
//! socket has room, so memory stays at the write limit plus one piece
//! whatever the stream's length.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::Transport;
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_io::AsyncRead;
use wscore::StreamId;

use crate::engine::Engine;
use crate::{Error, Timer};

/// The most a piece read from an `AsyncRead` holds.
const READ_PIECE: usize = 64 << 10;

/// A handle on an engine that a sender drives: a whole socket, or the
/// write half of a split one.
pub(crate) trait Drive<S, T> {
    /// One poll of the engine.
    fn poll_engine<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Engine<S, T>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R>;

    /// A command that does no IO.
    fn command<R>(&mut self, f: impl FnOnce(&mut Engine<S, T>) -> R) -> R;
}

/// Where the next piece comes from.
trait Source {
    fn poll_piece(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<Option<io::Result<Bytes>>>;
}

struct Reader<R>(R);

impl<R: AsyncRead + Unpin> Source for Reader<R> {
    fn poll_piece(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<Option<io::Result<Bytes>>> {
        let mut buf = BytesMut::zeroed(max.min(READ_PIECE));
        loop {
            return match std::task::ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf)) {
                Ok(0) => Poll::Ready(None),
                Ok(n) => {
                    buf.truncate(n);
                    Poll::Ready(Some(Ok(buf.freeze())))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Poll::Ready(Some(Err(e))),
            };
        }
    }
}

struct Pieces<P>(P);

impl<P: Stream<Item = io::Result<Bytes>> + Unpin> Source for Pieces<P> {
    fn poll_piece(&mut self, cx: &mut Context<'_>, _: usize) -> Poll<Option<io::Result<Bytes>>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// Sends `len` bytes of `reader` as a stream.
pub(crate) async fn from_reader<S, T, D, R>(
    drive: &mut D,
    reader: R,
    len: u64,
    metadata: Bytes,
) -> Result<StreamId, Error>
where
    S: Transport,
    T: Timer,
    D: Drive<S, T>,
    R: AsyncRead + Unpin,
{
    send(drive, Reader(reader), len, metadata).await
}

/// Sends the pieces of `pieces`, `len` bytes in all, as a stream.
pub(crate) async fn from_pieces<S, T, D, P>(
    drive: &mut D,
    pieces: P,
    len: u64,
    metadata: Bytes,
) -> Result<StreamId, Error>
where
    S: Transport,
    T: Timer,
    D: Drive<S, T>,
    P: Stream<Item = io::Result<Bytes>> + Unpin,
{
    send(drive, Pieces(pieces), len, metadata).await
}

async fn send<S, T, D>(
    drive: &mut D,
    mut source: impl Source,
    len: u64,
    metadata: Bytes,
) -> Result<StreamId, Error>
where
    S: Transport,
    T: Timer,
    D: Drive<S, T>,
{
    poll_fn(|cx| drive.poll_engine(cx, Engine::poll_ready)).await?;
    let id = drive.command(|e| e.open_stream(len, metadata))?;
    let mut left = len;
    while left > 0 {
        // Room first, then a piece: the source is read only as fast as
        // the transport takes what was read.
        poll_fn(|cx| drive.poll_engine(cx, Engine::poll_ready)).await?;
        let max = usize::try_from(left).unwrap_or(usize::MAX);
        let piece = match poll_fn(|cx| source.poll_piece(cx, max)).await {
            Some(Ok(piece)) => piece,
            Some(Err(e)) => return Err(give_up(drive, id, Error::Io(e))),
            None => {
                let short = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the source ended {left} bytes before the stream's length"),
                );
                return Err(give_up(drive, id, Error::Io(short)));
            }
        };
        if piece.is_empty() {
            continue;
        }
        let piece_len = piece.len() as u64;
        if piece_len > left {
            let long = io::Error::new(
                io::ErrorKind::InvalidData,
                "the source gave more bytes than the stream's length",
            );
            return Err(give_up(drive, id, Error::Io(long)));
        }
        drive.command(|e| e.push_stream(id, piece))?;
        left -= piece_len;
    }
    poll_fn(|cx| drive.poll_engine(cx, Engine::poll_flush)).await?;
    Ok(id)
}

/// Aborts the stream whose source failed (the peer hears of it with the
/// next write) and returns the source's error.
fn give_up<S, T, D>(drive: &mut D, id: StreamId, error: Error) -> Error
where
    S: Transport,
    T: Timer,
    D: Drive<S, T>,
{
    let _ = drive.command(|e| e.abort_stream(id, "the sender's source failed"));
    error
}
