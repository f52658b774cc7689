//! Close codes and close-frame payloads (RFC 6455 §5.5.1, §7.4).
//!
//! This module owns what may appear in a close frame: which codes are legal
//! on the wire, how a close payload is parsed and validated, and how one is
//! encoded. The close *handshake* (who answers when) lives in the connection.

use alloc::string::String;
use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;

use crate::error::ProtocolError;

/// A WebSocket close status code.
///
/// ```
/// use wscore::CloseCode;
///
/// assert!(CloseCode::NORMAL.is_sendable());
/// assert!(CloseCode(4000).is_sendable());
/// // 1005 and 1006 describe what was observed; they never go on the wire.
/// assert!(!CloseCode::NO_STATUS.is_sendable());
/// assert!(!CloseCode::ABNORMAL.is_sendable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: observed only; the close frame carried no code.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: observed only; the connection ended without a close handshake.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was inconsistent with its type (bad UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting; a client may reconnect.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: the service is overloaded for now; a client may reconnect
    /// later (with a back-off).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid response from the server it
    /// reached.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: observed only; the TLS handshake failed.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether the code may be sent in a close frame, and so accepted in
    /// one: 1000–1003, 1007–1014, and the registered and private ranges
    /// 3000–4999.
    ///
    /// 1012–1014 are not in RFC 6455 but in the IANA WebSocket Close Code
    /// Number Registry, and peers send them (Node's `ws` among others). 1005,
    /// 1006 and 1015 describe what an endpoint observed and never go on the
    /// wire; the other codes below 3000 are reserved.
    ///
    /// ```
    /// use wscore::CloseCode;
    ///
    /// assert!(CloseCode::TRY_AGAIN_LATER.is_sendable());
    /// assert!(!CloseCode::TLS_HANDSHAKE.is_sendable());
    /// ```
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

/// The content of a close frame: a code and a UTF-8 reason.
///
/// An empty close frame is represented by [`CloseCode::NO_STATUS`] with an
/// empty reason; it is encoded back as an empty payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8 on the wire.
    pub reason: String,
}

/// The longest reason that fits a control frame next to the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }

    /// Parses and validates a received close payload.
    ///
    /// ```
    /// use wscore::{CloseCode, CloseFrame};
    ///
    /// let frame = CloseFrame::parse(b"\x03\xe8bye").unwrap();
    /// assert_eq!(frame.code, CloseCode::NORMAL);
    /// assert_eq!(frame.reason, "bye");
    /// assert!(CloseFrame::parse(b"\x03").is_err()); // a lone byte is no code
    /// ```
    pub fn parse(payload: &[u8]) -> Result<CloseFrame, ProtocolError> {
        match payload {
            [] => Ok(CloseFrame::new(CloseCode::NO_STATUS, String::new())),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason =
                    simdutf8::basic::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(CloseFrame::new(code, reason))
            }
        }
    }

    /// Encodes the payload: empty for [`CloseCode::NO_STATUS`], otherwise
    /// the code followed by the reason.
    pub fn encode(&self) -> Bytes {
        if self.code == CloseCode::NO_STATUS {
            return Bytes::new();
        }
        let mut out = BytesMut::with_capacity(2 + self.reason.len());
        out.put_u16(self.code.0);
        out.put_slice(self.reason.as_bytes());
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use quickcheck::quickcheck;

    #[test]
    fn legal_codes() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(CloseCode(code).is_sendable(), "{code}");
            let frame = CloseFrame::parse(&code.to_be_bytes()).unwrap();
            assert_eq!(frame.code, CloseCode(code));
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
            let payload = code.to_be_bytes();
            assert_eq!(
                CloseFrame::parse(&payload),
                Err(ProtocolError::InvalidCloseCode(code))
            );
        }
    }

    #[test]
    fn bad_reason_is_invalid_payload() {
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8\xff"),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn empty_payload_round_trips() {
        let frame = CloseFrame::parse(b"").unwrap();
        assert_eq!(frame.code, CloseCode::NO_STATUS);
        assert!(frame.encode().is_empty());
    }

    quickcheck! {
        fn parse_never_panics(payload: Vec<u8>) -> bool {
            let _ = CloseFrame::parse(&payload);
            true
        }

        fn round_trip(code: u16, reason: String) -> bool {
            let frame = CloseFrame::new(CloseCode(code), reason);
            match CloseFrame::parse(&frame.encode()) {
                Ok(parsed) => parsed == frame,
                Err(ProtocolError::InvalidCloseCode(c)) => c == code && !CloseCode(code).is_sendable(),
                Err(_) => false,
            }
        }
    }
}
