//! What receiving a stream costs in heap: allocations per chunk record in
//! incremental mode, and the peak while a large stream is reassembled.
//!
//! One test in this binary, so that the counting allocator sees one
//! connection at a time. The numbers are printed (`--nocapture`).

use bytes::{Bytes, BytesMut};
use wscore::wire::OpCode;
use wscore::wire::Record;
use wscore::{
    Accept, ClientRequest, Config, Connection, Event, Instant, ReceiveMode, StreamConfig,
    StreamEvent, Subprotocol,
};
use wscore_tests::encode_frame;

#[path = "support/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const NOW: Instant = Instant::ZERO;

/// An open server connection that chose the streamed subprotocol.
fn streamed_server(config: Config) -> Connection {
    let mut client =
        Connection::client(config.clone(), ClientRequest::new("h", "/"), [7; 32], NOW).unwrap();
    let mut server = Connection::server(config, NOW).unwrap();
    server.handle_input(NOW, &wscore_tests::drain_transmits(&mut client));
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.accept(NOW, Accept::new()).unwrap();
    assert!(matches!(server.poll_event(), Some(Event::Connected(_))));
    let _ = wscore_tests::drain_transmits(&mut server);
    server
}

/// `record` as a masked binary frame.
fn frame(record: Record) -> Vec<u8> {
    encode_frame(true, OpCode::Binary, &record.encode(), Some([1, 2, 3, 4]))
}

/// Allocations per chunk record received in incremental mode, over
/// `chunks` records taken in one read.
fn allocations_per_chunk(chunks: u64) -> f64 {
    let config = Config::default()
        .subprotocols(vec![Subprotocol::streamed("s")])
        .receive_mode(ReceiveMode::Incremental);
    let mut server = streamed_server(config);
    let mut wire = frame(Record::Open {
        id: 1,
        total_len: chunks * 64,
        metadata: Bytes::new(),
    });
    for i in 0..chunks {
        wire.extend(frame(Record::Chunk {
            id: 1,
            offset: i * 64,
            data: Bytes::from(vec![i as u8; 64]),
        }));
    }
    let input = BytesMut::from(&wire[..]);
    let mut events = Vec::with_capacity(chunks as usize + 1);
    let before = counting::allocations();
    server.handle_input_buf(NOW, input);
    while let Some(event) = server.poll_event() {
        events.push(event);
    }
    let made = counting::allocations() - before;
    let data = events
        .iter()
        .filter(|e| matches!(e, Event::Stream(StreamEvent::Data { .. })))
        .count();
    assert_eq!(data as u64, chunks, "{:?}", events.last());
    made as f64 / chunks as f64
}

/// The peak heap above the start while a stream of `len` bytes is
/// received in chunks of `chunk` bytes and reassembled, and delivered.
fn reassembly_peak(len: usize, chunk: usize) -> usize {
    let config = Config::default()
        .subprotocols(vec![Subprotocol::streamed("s")])
        .max_frame_size(1 << 20)
        .stream(StreamConfig::default().max_buffered(64 << 20));
    let mut server = streamed_server(config);
    let frames: Vec<Vec<u8>> = std::iter::once(frame(Record::Open {
        id: 1,
        total_len: len as u64,
        metadata: Bytes::new(),
    }))
    .chain((0..len).step_by(chunk).map(|offset| {
        frame(Record::Chunk {
            id: 1,
            offset: offset as u64,
            data: Bytes::from(vec![7; chunk.min(len - offset)]),
        })
    }))
    .chain(std::iter::once(frame(Record::End { id: 1 })))
    .collect();
    let base = counting::reset_peak();
    for wire in &frames {
        server.handle_input(NOW, wire);
    }
    let Some(Event::Message(message)) = server.poll_event() else {
        panic!("the stream was not delivered");
    };
    assert_eq!(message.payload().len(), len);
    counting::peak() - base
}

#[test]
fn receiving_streams_allocates_little() {
    let per_chunk = allocations_per_chunk(1000);
    println!("incremental mode: {per_chunk:.3} allocations per chunk record");
    assert!(per_chunk < 0.1, "{per_chunk} allocations per chunk record");

    let len = 16 << 20;
    let peak = reassembly_peak(len, 256 << 10);
    println!(
        "reassembling {} MiB: peak {:.1} MiB",
        len >> 20,
        peak as f64 / f64::from(1 << 20)
    );
    // The stream itself, the 1 MiB it started with, and a chunk in flight.
    assert!(
        peak <= len + (1 << 20) + (1 << 20),
        "peak {peak} bytes for a stream of {len}"
    );
}
