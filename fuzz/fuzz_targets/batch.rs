#![no_main]
//! The batch splitter on arbitrary payloads: never panics, fails whole or
//! yields parts that tile the payload exactly, and re-encoding the parts
//! gives back a batch that splits the same way.

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wscore::wire::{split, Batch, BatchWriter};
use wscore::Framing;

/// A self-delimiting format: a length byte, then that many bytes.
fn tlv(buf: &[u8]) -> Option<usize> {
    buf.first().map(|&n| 1 + usize::from(n))
}

fuzz_target!(|input: (bool, u8, &[u8])| {
    let (self_delimiting, max, data) = input;
    let framing = if self_delimiting {
        Framing::SelfDelimiting(tlv)
    } else {
        Framing::Varint
    };
    let payload = Bytes::copy_from_slice(data);
    let max_messages = usize::from(max).max(1);
    match Batch::parse(payload.clone(), framing, max_messages, 4096) {
        Ok(batch) => {
            let counted = batch.len();
            let parts: Vec<Bytes> = batch.collect();
            assert_eq!(parts.len(), counted, "validation and iteration agree");
            assert!(parts.len() <= max_messages);
            let mut writer = BatchWriter::default();
            for part in &parts {
                writer.push(framing, part);
            }
            let again = writer.take();
            assert!(
                again.len() <= payload.len(),
                "the shortest varints are never longer"
            );
            let reparts =
                split(&again, framing, max_messages, 4096).expect("re-encoded batch splits");
            assert_eq!(reparts, parts);
        }
        Err(error) => assert!(error.offset() <= payload.len().max(4096)),
    }
});
