//! An in-memory, bounded, bidirectional byte pipe implementing the
//! `futures-io` traits: the futures-io counterpart of `tokio::io::duplex`.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncRead, AsyncWrite};

#[derive(Default)]
struct Buffer {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The writer shut down or went away: reads end after the bytes.
    write_closed: bool,
    /// The reader went away: writes fail.
    read_closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// One end of the pipe.
pub(crate) struct End {
    incoming: Arc<Mutex<Buffer>>,
    outgoing: Arc<Mutex<Buffer>>,
}

/// Two connected ends; each direction buffers at most `capacity` bytes.
pub(crate) fn pipe(capacity: usize) -> (End, End) {
    let new = || {
        Arc::new(Mutex::new(Buffer {
            capacity,
            ..Buffer::default()
        }))
    };
    let (a, b) = (new(), new());
    (
        End {
            incoming: a.clone(),
            outgoing: b.clone(),
        },
        End {
            incoming: b,
            outgoing: a,
        },
    )
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buffer = self.incoming.lock().unwrap();
        if buffer.bytes.is_empty() {
            if buffer.write_closed {
                return Poll::Ready(Ok(0));
            }
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

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut buffer = self.outgoing.lock().unwrap();
        if buffer.read_closed || buffer.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = buffer.capacity - buffer.bytes.len();
        if room == 0 {
            buffer.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        buffer.bytes.extend(&data[..n]);
        if let Some(waker) = buffer.reader.take() {
            waker.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut buffer = self.outgoing.lock().unwrap();
        buffer.write_closed = true;
        if let Some(waker) = buffer.reader.take() {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        for (buffer, reading) in [(&self.outgoing, false), (&self.incoming, true)] {
            let mut buffer = buffer.lock().unwrap();
            if reading {
                buffer.read_closed = true;
            } else {
                buffer.write_closed = true;
            }
            for waker in [buffer.reader.take(), buffer.writer.take()]
                .into_iter()
                .flatten()
            {
                waker.wake();
            }
        }
    }
}
