#![no_main]
//! The frame header decoder: never panics, and whatever it decodes encodes
//! back to a header of the same meaning.

use libfuzzer_sys::fuzz_target;
use wscore::wire::{FrameHeader, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((header, len))) = FrameHeader::decode(data) {
        assert!(len <= data.len() && len <= MAX_HEADER_LEN);
        let encoded = header.encode();
        let (again, again_len) = FrameHeader::decode(encoded.as_slice()).unwrap().unwrap();
        assert_eq!(again, header);
        assert_eq!(again_len, encoded.as_slice().len());
        assert!(again_len <= len, "the shortest form is never longer");
    }
});
