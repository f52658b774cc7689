//! The message codec the connection applies when an extension that
//! transforms payloads was negotiated: permessage-deflate when the `deflate`
//! feature is on, and nothing otherwise.
//!
//! Without the feature the codec type is uninhabited, so the compiler proves
//! that no compressed path can run and the calls cost nothing.

#[cfg(feature = "deflate")]
pub(super) use crate::extension::deflate::Deflate as Codec;

#[cfg(not(feature = "deflate"))]
pub(super) use disabled::Codec;

#[cfg(not(feature = "deflate"))]
mod disabled {
    use alloc::vec::Vec;
    use bytes::Bytes;

    /// No extension can be negotiated, so no value of this type exists.
    #[derive(Debug)]
    pub(crate) enum Codec {}

    /// Mirrors the real codec's error so the inbound path reads the same.
    #[derive(Debug)]
    pub(crate) enum InflateError {}

    /// Mirrors the real codec's progress report.
    #[derive(Debug)]
    pub(crate) struct Inflated {
        pub(crate) consumed: usize,
        pub(crate) complete: bool,
    }

    impl Codec {
        pub(crate) fn compress(&mut self, _payload: &[u8]) -> Option<Bytes> {
            match *self {}
        }

        pub(crate) fn inflate(
            &mut self,
            _input: &[u8],
            _last: bool,
            _out: &mut Vec<u8>,
            _room: usize,
        ) -> Result<Inflated, InflateError> {
            match *self {}
        }
    }
}
