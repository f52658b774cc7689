//! Payloads, masked frames and in-memory streams.
//!
//! Every implementation under test reads from the same [`MemStream`] and
//! writes to the same [`Sink`], so the copy a socket would do is the same
//! for all of them: one copy out of the stream per read, one copy into the
//! sink per write.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wscore::test_support::{FrameSpec, Pair};
use wscore::wire::{apply_mask, FrameHeader, OpCode, Rsv};

/// Implements tokio's `AsyncWrite` for a read-side test stream by taking
/// and forgetting every byte: the benchmarks read from it, and what the
/// connection writes back is not what they measure.
#[macro_export]
macro_rules! discard_writes {
    ($ty:ty) => {
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::task::Poll::Ready(Ok(buf.len()))
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
        }
    };
}

/// The most bytes one read from an in-memory stream returns: what a
/// loopback socket typically hands over, and the adapters' read window.
pub const READ_SIZE: usize = 64 << 10;

/// A text payload of exactly `len` bytes: JSON-like ASCII with a two- and a
/// three-byte character in every record, so validation leaves its ASCII
/// fast path.
pub fn text_payload(len: usize) -> Vec<u8> {
    let record = "{\"id\":4711,\"user\":\"zoë\",\"note\":\"5 €\",\"ok\":true},";
    let mut out = String::with_capacity(len + record.len());
    while out.len() < len {
        out.push_str(record);
    }
    let mut cut = len;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    while out.len() < len {
        out.push(' ');
    }
    out.into_bytes()
}

/// `len` pseudo-random bytes (a fixed xorshift sequence).
pub fn binary_payload(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// JSON-like records of about `len` bytes, numbered from `seed`: repeated
/// keys and varying values, the kind of payload permessage-deflate is for.
pub fn json_payload(len: usize, seed: u64) -> Vec<u8> {
    let mut out = String::from("[");
    let mut i = seed;
    while out.len() < len {
        let score = (i.wrapping_mul(2_654_435_761) % 10_000) as f64 / 100.0;
        out += &format!(
            "{{\"id\":{i},\"user\":\"user_{}\",\"score\":{score:.2},\"active\":{},\"tags\":[\"alpha\",\"beta\"]}},",
            i % 977,
            i % 3 == 0
        );
        i += 1;
    }
    out.truncate(len.saturating_sub(1));
    out.push(']');
    out.into_bytes()
}

/// A masking key for frame number `i`: different for every frame, as a
/// client's would be.
pub fn frame_key(i: usize) -> [u8; 4] {
    ((i as u32).wrapping_mul(0x9e37_79b1) | 0x0101_0101).to_be_bytes()
}

/// Appends a masked, final frame carrying `payload` to `out`.
pub fn push_masked_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8], key: [u8; 4]) {
    FrameSpec::new(opcode, payload).masked(key).encode_into(out);
}

/// `count` masked frames of `payload`, back to back, each with its own key.
pub fn masked_frames(opcode: OpCode, payload: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (payload.len() + 14));
    for i in 0..count {
        push_masked_frame(&mut out, opcode, payload, frame_key(i));
    }
    out
}

/// Decodes every frame in `wire`, unmasking payloads: for checking what an
/// encoder wrote. Panics on anything malformed.
pub fn decode_frames(mut wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (header, len) = FrameHeader::decode(wire)
            .expect("valid header")
            .expect("complete header");
        let end = len + header.payload_len as usize;
        let mut payload = wire.get(len..end).expect("complete payload").to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        wire = wire.get(end..).unwrap_or_default();
    }
    frames
}

/// Reads from a byte slice, at most [`READ_SIZE`] bytes per read; writes
/// are discarded. Implements both `std::io` and tokio's IO traits.
#[derive(Debug)]
pub struct MemStream<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> MemStream<'a> {
    /// A stream that yields `data`, then end of file.
    pub fn new(data: &'a [u8]) -> Self {
        MemStream { data, pos: 0 }
    }

    /// Whether every byte has been read.
    pub fn is_drained(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next bytes a read of at most `max` returns.
    fn chunk(&mut self, max: usize) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(max).min(READ_SIZE);
        self.pos += n;
        rest.get(..n).unwrap_or_default()
    }

    fn fill(&mut self, dst: &mut [u8]) -> usize {
        let chunk = self.chunk(dst.len());
        if let Some(d) = dst.get_mut(..chunk.len()) {
            d.copy_from_slice(chunk);
        }
        chunk.len()
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.fill(buf))
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // `put_slice` copies into uninitialised space without zeroing it
        // first, as a socket read does.
        let chunk = self.get_mut().chunk(buf.remaining());
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

discard_writes!(MemStream<'_>);

/// A write target that copies what it is given, as a socket's send buffer
/// would, and forgets it past a limit so it stays cache-sized. Reads see
/// end of file.
#[derive(Debug)]
pub struct Sink {
    buf: Vec<u8>,
    limit: usize,
    /// Every byte ever written.
    pub total: u64,
    /// Keep everything written (for checking the output) instead of
    /// forgetting it.
    pub keep: bool,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            buf: Vec::with_capacity(256 << 10),
            limit: 256 << 10,
            total: 0,
            keep: false,
        }
    }
}

impl Sink {
    /// A sink that keeps everything, for checking an encoder's output.
    pub fn keeping() -> Self {
        Sink {
            keep: true,
            ..Sink::default()
        }
    }

    /// The bytes kept so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends `data` through the sink's copy.
    pub fn put(&mut self, data: &[u8]) {
        if !self.keep && self.buf.len() + data.len() > self.limit {
            self.buf.clear();
        }
        self.buf.extend_from_slice(data);
        self.total += data.len() as u64;
    }
}

impl Read for Sink {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.put(b);
            n += b.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Sink {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().put(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut n = 0;
        for b in bufs {
            this.put(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A stream that yields one masked binary frame of `len` payload bytes,
/// generated as it is read, so that a huge message can be received without
/// the sender's copy of it counting against the receiver's memory.
#[derive(Debug)]
pub struct GenStream {
    header: Vec<u8>,
    /// A masked block of the payload pattern; its length is a multiple of
    /// four, so repeating it continues the mask correctly.
    block: Vec<u8>,
    len: usize,
    pos: usize,
}

impl GenStream {
    /// One binary frame of `len` bytes masked with `key`.
    pub fn new(len: usize, key: [u8; 4]) -> Self {
        let header = FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode: OpCode::Binary,
            mask: Some(key),
            payload_len: len as u64,
        };
        let mut block = binary_payload(READ_SIZE);
        apply_mask(&mut block, key, 0);
        GenStream {
            header: header.encode().as_slice().to_vec(),
            block,
            len,
            pos: 0,
        }
    }

    /// The unmasked byte at payload offset `i`, for checking a receiver.
    pub fn expected(&self, i: usize, key: [u8; 4]) -> u8 {
        let masked = self.block.get(i % self.block.len()).copied().unwrap_or(0);
        masked ^ key.get(i % 4).copied().unwrap_or(0)
    }

    /// Total bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.header.len() + self.len
    }

    /// The next bytes a read of at most `max` returns.
    fn chunk(&mut self, max: usize) -> &[u8] {
        let header_len = self.header.len();
        let pos = self.pos;
        if pos < header_len {
            let rest = self.header.get(pos..).unwrap_or_default();
            let n = rest.len().min(max);
            self.pos += n;
            return self.header.get(pos..pos + n).unwrap_or_default();
        }
        let offset = pos - header_len;
        let at = offset % self.block.len();
        let n = (self.len - offset)
            .min(max)
            .min(READ_SIZE)
            .min(self.block.len() - at);
        self.pos += n;
        self.block.get(at..at + n).unwrap_or_default()
    }

    fn fill(&mut self, dst: &mut [u8]) -> usize {
        let chunk = self.chunk(dst.len());
        let n = chunk.len();
        if let Some(d) = dst.get_mut(..n) {
            d.copy_from_slice(chunk);
        }
        n
    }
}

impl Read for GenStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.fill(buf))
    }
}

impl Write for GenStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for GenStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let chunk = self.get_mut().chunk(buf.remaining());
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

discard_writes!(GenStream);

/// Checks bytes received piece by piece against [`binary_payload`]`(period)`
/// repeated, the payload [`GenStream`] (with `period` = [`READ_SIZE`]) and
/// the streaming sources produce.
#[derive(Debug)]
pub struct PatternCheck {
    plain: Vec<u8>,
    /// Bytes checked so far.
    pub offset: usize,
}

impl PatternCheck {
    /// A checker of the pattern repeated every `period` bytes.
    pub fn new(period: usize) -> PatternCheck {
        PatternCheck {
            plain: binary_payload(period.max(1)),
            offset: 0,
        }
    }

    /// Checks the next bytes. Panics where they differ.
    pub fn piece(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let at = self.offset % self.plain.len();
            let n = data.len().min(self.plain.len() - at);
            assert!(
                data.get(..n) == self.plain.get(at..at + n),
                "payload differs at byte {}",
                self.offset
            );
            data = data.get(n..).unwrap_or_default();
            self.offset += n;
        }
    }
}

/// A client and a server [`wscore::Connection`] with the handshake done
/// between them, in memory ([`Pair::connect`]).
pub fn connected_pair(
    client_config: wscore::Config,
    server_config: wscore::Config,
) -> (wscore::Connection, wscore::Connection) {
    Pair::connect(client_config, server_config).into_connections()
}
