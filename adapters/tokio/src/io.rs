//! Tokio transports for the shared driver: [`TokioIo`] presents tokio IO as
//! `futures-io`'s traits, and [`TokioTransport`] is the socket's
//! [`Transport`], read through tokio's `ReadBuf`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wscore_driver::io::Transport;

/// A tokio `AsyncRead + AsyncWrite` presented as `futures-io`'s traits:
/// for a tokio reader handed to
/// [`send_stream_from_reader`](crate::WebSocket::send_stream_from_reader),
/// and as the writing side of a [`TokioTransport`].
///
/// Vectored writes pass through when the transport supports them; when it
/// does not, small leading slices are gathered into one write so a frame
/// header never goes out alone. Shutting down maps to `poll_shutdown`.
#[derive(Debug)]
pub struct TokioIo<S>(S);

impl<S> TokioIo<S> {
    /// Wraps a tokio transport.
    pub fn new(inner: S) -> Self {
        TokioIo(inner)
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.0
    }

    /// The transport, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.0
    }

    /// The transport itself.
    pub fn into_inner(self) -> S {
        self.0
    }
}

impl<S: AsyncRead + Unpin> futures_io::AsyncRead for TokioIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        std::task::ready!(Pin::new(&mut self.get_mut().0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl<S: AsyncWrite + Unpin> futures_io::AsyncWrite for TokioIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let inner = &mut self.get_mut().0;
        if inner.is_write_vectored() {
            return Pin::new(inner).poll_write_vectored(cx, bufs);
        }
        let mut scratch = [0; 8 << 10];
        match wscore_driver::io::coalesce(bufs, &mut scratch) {
            Some(gathered) => Pin::new(inner).poll_write(cx, gathered),
            None => Pin::new(inner).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// A tokio `AsyncRead + AsyncWrite` as the socket's [`Transport`]: reads
/// land in a buffer's spare capacity through tokio's `ReadBuf`, with no
/// zeroing first, so large frames and busy connections' windows are read
/// as they are; writes go through [`TokioIo`].
#[derive(Debug)]
pub struct TokioTransport<S>(TokioIo<S>);

impl<S> TokioTransport<S> {
    /// Wraps a tokio transport.
    pub fn new(inner: S) -> Self {
        TokioTransport(TokioIo(inner))
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.0 .0
    }

    /// The transport, mutably. Reading or writing it directly corrupts the
    /// stream of frames.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.0 .0
    }

    /// The transport itself.
    pub fn into_inner(self) -> S {
        self.0 .0
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for TokioTransport<S> {
    const READS_INTO_SPARE_CAPACITY: bool = true;

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        futures_io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0 .0), cx, &mut (&mut *buf).limit(max))
    }
}

impl<S: AsyncWrite + Unpin> futures_io::AsyncWrite for TokioTransport<S> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    #[inline]
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}
