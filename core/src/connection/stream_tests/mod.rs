//! The streaming envelope through whole connections: interleaving,
//! fairness, both receive modes, per-stream errors, eviction and aborts.
//!
//! The helpers the topics share live here; each submodule holds one topic.

mod errors;
mod push;
mod receiving;
mod refusals;
mod sending;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use quickcheck::{quickcheck, TestResult};

use super::batch_tests::{data_frames, messages};
use super::*;
use crate::config::ReceiveMode;
use crate::envelope::stream::StreamError;
use crate::envelope::stream::{AbortCode, ChunkSource, Record, StreamConfig};
use crate::envelope::stream::{StreamId, StreamSource};
use crate::envelope::Subprotocol;
use crate::frame::FrameHeader;
use crate::frame::OpCode;
use crate::test_support::{encode_frame, events, pump_each, pump_n, transmitted, FrameSpec, Pair};

const T0: Instant = Instant::ZERO;

fn streamed() -> Config {
    Config::default()
        .subprotocols(vec![Subprotocol::streamed("files.v2")])
        .stream(
            StreamConfig::default()
                .send_threshold(Some(1000))
                .chunk_size(300),
        )
}

fn payload(len: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect::<Vec<u8>>(),
    )
}

/// The records in `wire`, decoded.
fn records(wire: &[u8]) -> Vec<Record> {
    data_frames(wire)
        .into_iter()
        .map(|p| Record::decode(&Bytes::from(p)).unwrap())
        .collect()
}

fn stream_events(all: &[Event]) -> Vec<&StreamEvent> {
    all.iter()
        .filter_map(|e| match e {
            Event::Stream(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn raw(record: &Record) -> Vec<u8> {
    encode_frame(true, OpCode::Binary, &record.encode(), Some([0; 4]))
}

fn raw_close(code: u16) -> Vec<u8> {
    FrameSpec::close(code, "").masked([0; 4]).encode()
}

fn chunk(id: StreamId, offset: u64, data: Bytes) -> Record {
    Record::Chunk { id, offset, data }
}
