//! An in-memory, bounded, bidirectional byte pipe implementing the
//! `futures-io` traits, with knobs for misbehaving peers.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_io::{AsyncRead, AsyncWrite};

/// One direction of the pipe.
#[derive(Debug, Default)]
struct Buffer {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The writer shut down or went away: reads end after the bytes.
    write_closed: bool,
    /// The reader went away: writes fail.
    read_closed: bool,
    /// The reader does not read (reads stay pending).
    reader_stopped: bool,
    /// The most one write call takes.
    write_limit: usize,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Buffer {
    fn wake_all(&mut self) {
        for waker in [self.reader.take(), self.writer.take()]
            .into_iter()
            .flatten()
        {
            waker.wake();
        }
    }
}

type Shared = Arc<Mutex<Buffer>>;

fn lock(buffer: &Shared) -> MutexGuard<'_, Buffer> {
    // A test that panicked while holding the lock has already failed;
    // the buffer itself is still consistent.
    buffer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One end of a [`pipe`]: reads what the other end writes and writes what
/// it reads. Dropping an end is [`PipeEnd::hang_up`].
#[derive(Debug)]
pub struct PipeEnd {
    incoming: Shared,
    outgoing: Shared,
}

/// Two connected ends; each direction holds at most `capacity` bytes
/// (at least 1) that the other end has not read yet, so a writer whose
/// peer does not read waits once `capacity` bytes are in flight.
pub fn pipe(capacity: usize) -> (PipeEnd, PipeEnd) {
    let new = || {
        Arc::new(Mutex::new(Buffer {
            capacity: capacity.max(1),
            write_limit: usize::MAX,
            ..Buffer::default()
        }))
    };
    let (a, b) = (new(), new());
    (
        PipeEnd {
            incoming: a.clone(),
            outgoing: b.clone(),
        },
        PipeEnd {
            incoming: b,
            outgoing: a,
        },
    )
}

impl PipeEnd {
    /// From now on this end's reads stay pending, as if its owner had
    /// stopped reading: what the other end writes piles up to the
    /// capacity, then the other end's writes wait.
    pub fn stop_reading(&self) {
        lock(&self.incoming).reader_stopped = true;
    }

    /// Undoes [`PipeEnd::stop_reading`].
    pub fn resume_reading(&self) {
        let mut buffer = lock(&self.incoming);
        buffer.reader_stopped = false;
        buffer.wake_all();
    }

    /// The peer vanishes without a word: the other end reads what was
    /// already written, then the end of input, and its writes fail with
    /// `BrokenPipe`; this end's own reads end and writes fail too.
    pub fn hang_up(&self) {
        let mut incoming = lock(&self.incoming);
        incoming.read_closed = true;
        incoming.write_closed = true;
        incoming.bytes.clear();
        incoming.wake_all();
        drop(incoming);
        let mut outgoing = lock(&self.outgoing);
        outgoing.write_closed = true;
        outgoing.wake_all();
    }

    /// Each write call of this end takes at most `bytes` bytes (at least
    /// 1): a transport that accepts writes in small pieces.
    pub fn limit_writes(&self, bytes: usize) {
        lock(&self.outgoing).write_limit = bytes.max(1);
    }

    /// Bytes written by the other end that this end has not read yet.
    pub fn unread(&self) -> usize {
        lock(&self.incoming).bytes.len()
    }

    /// Bytes this end wrote that the other end has not read yet.
    pub fn unsent(&self) -> usize {
        lock(&self.outgoing).bytes.len()
    }
}

impl AsyncRead for PipeEnd {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buffer = lock(&self.incoming);
        if buffer.reader_stopped || (buffer.bytes.is_empty() && !buffer.write_closed) {
            buffer.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = out.len().min(buffer.bytes.len());
        for (slot, byte) in out.iter_mut().zip(buffer.bytes.drain(..n)) {
            *slot = byte;
        }
        if let Some(waker) = buffer.writer.take() {
            waker.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for PipeEnd {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut buffer = lock(&self.outgoing);
        if buffer.read_closed || buffer.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = buffer.capacity.saturating_sub(buffer.bytes.len());
        if room == 0 {
            buffer.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buffer.write_limit).min(data.len());
        buffer.bytes.extend(data.iter().take(n));
        if let Some(waker) = buffer.reader.take() {
            waker.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down this end's writing: the other end reads the end of
    /// input after the bytes already written.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut buffer = lock(&self.outgoing);
        buffer.write_closed = true;
        buffer.wake_all();
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut incoming = lock(&self.incoming);
        incoming.read_closed = true;
        incoming.wake_all();
        drop(incoming);
        let mut outgoing = lock(&self.outgoing);
        outgoing.write_closed = true;
        outgoing.wake_all();
    }
}
