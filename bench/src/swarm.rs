//! A swarm of WebSocket clients that only count what they receive, steered
//! over a line-based control connection.
//!
//! A broadcast to ten thousand members needs ten thousand sockets on each
//! end, and with both ends in one process the open-file limit is reached
//! at half that: the receiving ends live in a process of their own, which
//! [`run_swarm`] is the body of. The same swarm receives from every server
//! under test, so what it costs is the same for all of them: one read per
//! readiness into a buffer shared by every member on the thread, and a
//! frame counter of a few dozen bytes per member that never holds a
//! payload.
//!
//! The protocol, one ASCII line per message:
//!
//! | from | line | meaning |
//! |---|---|---|
//! | parent | `connect <addr> <members> <messages> <every> <size>` | open `members` connections to `addr`; each is to receive `messages` binary frames of `size` bytes whose first eight bytes are the frame's sequence number (little endian, from 0) |
//! | swarm | `connected` | every connection finished its opening handshake |
//! | swarm | `reached <k>` | every member has received its first `k` frames; sent for each multiple of `every` and for `messages` |
//! | parent | `close` | drop every connection |
//! | swarm | `closed` | every connection is dropped |
//! | swarm | `error <text>` | a member saw something else than expected, or its connection ended early |
//!
//! The swarm ends when the parent closes the control connection.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;

use crate::raw::connect_many;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Counts the unmasked binary frames of a server, fed in pieces of any
/// size, and checks each frame's length and sequence number without ever
/// holding a payload.
#[derive(Debug)]
pub struct FrameCounter {
    size: u64,
    head: [u8; 10],
    head_len: usize,
    /// Payload bytes of the current frame still to come; `None` while a
    /// header is being read.
    remaining: Option<u64>,
    seq: [u8; 8],
    seq_len: usize,
    frames: u64,
}

impl FrameCounter {
    /// A counter of frames whose payloads are `size` bytes (at least eight:
    /// the sequence number).
    pub fn new(size: usize) -> FrameCounter {
        FrameCounter {
            size: size as u64,
            head: [0; 10],
            head_len: 0,
            remaining: None,
            seq: [0; 8],
            seq_len: 0,
            frames: 0,
        }
    }

    /// Complete frames so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The length the header being read will have, once its second byte
    /// is known.
    fn header_len(&self) -> usize {
        match (self.head_len, self.head[1] & 0x7f) {
            (0 | 1, _) => 2,
            (_, 126) => 4,
            (_, 127) => 10,
            _ => 2,
        }
    }

    /// Takes the next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        loop {
            match self.remaining {
                None => {
                    let need = self.header_len();
                    if self.head_len >= need {
                        self.start_payload()?;
                        continue;
                    }
                    let take = (need - self.head_len).min(data.len());
                    if take == 0 {
                        return Ok(());
                    }
                    let (now, rest) = data.split_at(take);
                    if let Some(slot) = self.head.get_mut(self.head_len..self.head_len + take) {
                        slot.copy_from_slice(now);
                    }
                    self.head_len += take;
                    data = rest;
                }
                Some(0) => self.finish_frame()?,
                Some(remaining) => {
                    if data.is_empty() {
                        return Ok(());
                    }
                    let take = data
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    let (now, rest) = data.split_at(take);
                    let seq_take = (8 - self.seq_len).min(take);
                    if let (Some(slot), Some(src)) = (
                        self.seq.get_mut(self.seq_len..self.seq_len + seq_take),
                        now.get(..seq_take),
                    ) {
                        slot.copy_from_slice(src);
                    }
                    self.seq_len += seq_take;
                    self.remaining = Some(remaining - take as u64);
                    data = rest;
                }
            }
        }
    }

    fn start_payload(&mut self) -> io::Result<()> {
        let [b0, b1, ..] = self.head;
        if b0 != 0x82 || b1 & 0x80 != 0 {
            return Err(invalid(format!(
                "expected an unmasked final binary frame, got {b0:#04x} {b1:#04x}"
            )));
        }
        let len = match self.head_len {
            4 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            10 => {
                let mut l = [0u8; 8];
                l.copy_from_slice(self.head.get(2..10).unwrap_or(&[0; 8]));
                u64::from_be_bytes(l)
            }
            _ => u64::from(b1 & 0x7f),
        };
        if len != self.size {
            return Err(invalid(format!(
                "frame {} carries {len} bytes, not {}",
                self.frames, self.size
            )));
        }
        self.head_len = 0;
        self.head[1] = 0;
        self.seq_len = 0;
        self.remaining = Some(len);
        Ok(())
    }

    fn finish_frame(&mut self) -> io::Result<()> {
        let seq = u64::from_le_bytes(self.seq);
        if self.seq_len == 8 && seq != self.frames {
            return Err(invalid(format!(
                "frame {} carries sequence number {seq}",
                self.frames
            )));
        }
        self.frames += 1;
        self.remaining = None;
        Ok(())
    }
}

/// The payload of broadcast number `seq`: `pattern` with the sequence
/// number in its first eight bytes.
pub fn numbered(pattern: &[u8], seq: u64) -> bytes::Bytes {
    let mut payload = bytes::BytesMut::from(pattern);
    if let Some(head) = payload.get_mut(..8) {
        head.copy_from_slice(&seq.to_le_bytes());
    }
    payload.freeze()
}

/// What one `connect` set up: the expected counts and, per milestone, how
/// many members have reached it.
struct Session {
    members: usize,
    messages: u64,
    every: u64,
    reached: Vec<AtomicUsize>,
    lines: UnboundedSender<String>,
}

impl Session {
    /// The frame count of milestone `i` (from 1).
    fn milestone(&self, i: u64) -> u64 {
        (i * self.every).min(self.messages)
    }

    fn milestones(&self) -> u64 {
        self.messages.div_ceil(self.every)
    }

    /// One more member has reached milestone `i`.
    fn reach(&self, i: u64) {
        let Some(count) = usize::try_from(i - 1)
            .ok()
            .and_then(|k| self.reached.get(k))
        else {
            return;
        };
        if count.fetch_add(1, Ordering::AcqRel) + 1 == self.members {
            let _ = self.lines.send(format!("reached {}\n", self.milestone(i)));
        }
    }
}

thread_local! {
    // One read buffer per worker thread, shared by all its members: a
    // member's bytes are counted before the next member reads.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 << 10]);
}

async fn member(stream: TcpStream, size: usize, session: Arc<Session>) {
    let mut counter = FrameCounter::new(size);
    let mut next = 1u64;
    let outcome: io::Result<()> = async {
        loop {
            stream.readable().await?;
            let read = SCRATCH.with(|scratch| {
                let mut buf = scratch.borrow_mut();
                match stream.try_read(&mut buf) {
                    Ok(0) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    Ok(n) => counter.feed(buf.get(..n).unwrap_or_default()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                    Err(e) => Err(e),
                }
            });
            read?;
            while next <= session.milestones() && session.milestone(next) <= counter.frames() {
                session.reach(next);
                next += 1;
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        let _ = session.lines.send(format!(
            "error member after {} frames: {e}\n",
            counter.frames()
        ));
    }
}

/// Connects to the parent at `control` and serves its commands until it
/// closes the connection. Runs inside a tokio runtime.
pub async fn run_swarm(control: SocketAddr) -> io::Result<()> {
    let stream = TcpStream::connect(control).await?;
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let (lines, mut outgoing) = unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(line) = outgoing.recv().await {
            if wr.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut commands = BufReader::new(rd).lines();
    let mut members: Vec<JoinHandle<()>> = Vec::new();
    while let Some(line) = commands.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["connect", addr, count, messages, every, size] => {
                let parse = |s: &str| {
                    s.parse::<u64>()
                        .map_err(|_| invalid(format!("bad number {s:?}")))
                };
                let addr: SocketAddr = addr
                    .parse()
                    .map_err(|_| invalid(format!("bad address {addr:?}")))?;
                let count = parse(count)? as usize;
                let size = parse(size)? as usize;
                let session = Session {
                    members: count,
                    messages: parse(messages)?,
                    every: parse(every)?.max(1),
                    reached: Vec::new(),
                    lines: lines.clone(),
                };
                let session = Arc::new(Session {
                    reached: (0..session.milestones())
                        .map(|_| AtomicUsize::new(0))
                        .collect(),
                    ..session
                });
                let streams = connect_many(addr, count).await?;
                members.extend(
                    streams
                        .into_iter()
                        .map(|s| tokio::spawn(member(s, size, Arc::clone(&session)))),
                );
                let _ = lines.send("connected\n".to_string());
            }
            ["close"] => {
                for m in &members {
                    m.abort();
                }
                for m in members.drain(..) {
                    let _ = m.await;
                }
                let _ = lines.send("closed\n".to_string());
            }
            _ => return Err(invalid(format!("unknown command {line:?}"))),
        }
    }
    for m in &members {
        m.abort();
    }
    drop(lines);
    let _ = writer.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x82];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 0xffff => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    fn stream(size: usize, count: u64) -> Vec<u8> {
        let pattern = crate::wire::binary_payload(size);
        (0..count)
            .flat_map(|seq| frame(&numbered(&pattern, seq)))
            .collect()
    }

    #[test]
    fn counts_frames_split_at_every_byte_and_every_header_length() {
        for size in [8, 125, 126, 1024, 70_000] {
            let wire = stream(size, 3);
            for piece in [1, 2, 3, 7, 1000, wire.len()] {
                let mut counter = FrameCounter::new(size);
                for chunk in wire.chunks(piece) {
                    counter.feed(chunk).expect("valid stream");
                }
                assert_eq!(counter.frames(), 3, "size {size}, pieces of {piece}");
            }
        }
    }

    #[test]
    fn a_frame_counts_only_once_complete() {
        let wire = stream(1024, 1);
        let mut counter = FrameCounter::new(1024);
        counter
            .feed(wire.get(..wire.len() - 1).unwrap_or_default())
            .expect("valid prefix");
        assert_eq!(counter.frames(), 0);
        counter
            .feed(wire.get(wire.len() - 1..).unwrap_or_default())
            .expect("valid rest");
        assert_eq!(counter.frames(), 1);
    }

    #[test]
    fn a_missing_frame_is_an_error() {
        let pattern = crate::wire::binary_payload(64);
        let mut wire = frame(&numbered(&pattern, 0));
        wire.extend(frame(&numbered(&pattern, 2)));
        let mut counter = FrameCounter::new(64);
        assert!(counter.feed(&wire).is_err());
    }

    #[test]
    fn a_wrong_length_or_a_masked_frame_is_an_error() {
        let pattern = crate::wire::binary_payload(64);
        assert!(FrameCounter::new(65)
            .feed(&frame(&numbered(&pattern, 0)))
            .is_err());
        let mut masked = frame(&numbered(&pattern, 0));
        if let Some(b1) = masked.get_mut(1) {
            *b1 |= 0x80;
        }
        assert!(FrameCounter::new(64).feed(&masked).is_err());
    }
}
