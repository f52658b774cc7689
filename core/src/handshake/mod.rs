//! The HTTP/1.1 upgrade handshake (RFC 6455 §4), for both roles.
//!
//! This module owns everything that happens before the first frame: parsing
//! and validating the opening request ([`server`]) and response ([`client`]),
//! and writing the bytes that answer them. Every function is pure over byte
//! buffers: no IO, no clock. Parsers are incremental: they return `Ok(None)`
//! until the whole header block has arrived, and report how many bytes the
//! block took so that bytes after it (the first frames) stay with the caller.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

pub(crate) mod client;
pub(crate) mod server;

pub use client::{ClientRequest, Response};
pub use server::{Accept, Reject, Request};

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

pub(crate) const HOST: &str = "Host";
pub(crate) const UPGRADE: &str = "Upgrade";
pub(crate) const CONNECTION: &str = "Connection";
pub(crate) const SEC_KEY: &str = "Sec-WebSocket-Key";
pub(crate) const SEC_ACCEPT: &str = "Sec-WebSocket-Accept";
pub(crate) const SEC_VERSION: &str = "Sec-WebSocket-Version";
pub(crate) const SEC_PROTOCOL: &str = "Sec-WebSocket-Protocol";
pub(crate) const SEC_EXTENSIONS: &str = "Sec-WebSocket-Extensions";

/// One HTTP header field as it appeared on the wire.
///
/// `name` keeps the spelling that was received or supplied; HTTP header
/// names are case-insensitive, so compare them with
/// [`str::eq_ignore_ascii_case`]. `value` is raw bytes because HTTP allows
/// values that are not UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The field name, as received.
    pub name: String,
    /// The field value, as raw bytes.
    pub value: Vec<u8>,
}

/// Why a handshake could not be completed.
///
/// Server-side parse errors map to an HTTP status with
/// [`HandshakeError::http_status`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The header block is larger than the configured byte limit.
    HeadersTooLarge,
    /// The header block has more fields than the configured limit.
    TooManyHeaders,
    /// The bytes are not an HTTP/1.x message head.
    MalformedHttp,
    /// The request method is not `GET`.
    MethodNotGet,
    /// The message is not HTTP/1.1.
    HttpVersion,
    /// A required header field is absent.
    MissingHeader(&'static str),
    /// A header field that must appear once appears more than once.
    DuplicateHeader(&'static str),
    /// A header field's value does not follow its grammar (or is not text).
    BadHeaderValue(&'static str),
    /// `Upgrade` does not list `websocket`.
    BadUpgradeHeader,
    /// `Connection` does not list `upgrade`.
    BadConnectionHeader,
    /// `Sec-WebSocket-Version` is not `13`.
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is not the base64 encoding of exactly 16 bytes.
    BadKey,
    /// The server answered with this status instead of `101`.
    Status(u16),
    /// `Sec-WebSocket-Accept` does not match the key that was sent.
    BadAccept,
    /// A subprotocol was selected that the client did not offer.
    UnofferedSubprotocol(String),
    /// An extension was accepted that the client did not offer.
    UnofferedExtension(String),
    /// The URL or request target cannot be used for a WebSocket request.
    BadUrl,
    /// A header supplied by the application has an invalid name or value,
    /// or a name the handshake writes itself. Carries the name as supplied.
    InvalidHeader(String),
    /// A rejection status outside `200..=599`.
    InvalidStatus(u16),
    /// The server's permessage-deflate answer is not acceptable for what
    /// the client offered.
    #[cfg(feature = "deflate")]
    Extension(crate::extension::deflate::NegotiationError),
}

impl HandshakeError {
    /// The HTTP status a server should answer this error with.
    ///
    /// `431` for size limits, `405` for a method other than `GET`, `426` for
    /// an unsupported `Sec-WebSocket-Version`, `500` for errors in what the
    /// server itself tried to send, and `400` for every other malformed
    /// request. Client-only errors also give `400`; they never reach a
    /// server.
    ///
    /// ```
    /// use wscore::HandshakeError;
    ///
    /// assert_eq!(HandshakeError::UnsupportedVersion.http_status(), 426);
    /// assert_eq!(HandshakeError::BadKey.http_status(), 400);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Self::HeadersTooLarge | Self::TooManyHeaders => 431,
            Self::MethodNotGet => 405,
            Self::UnsupportedVersion => 426,
            Self::InvalidHeader(_)
            | Self::InvalidStatus(_)
            | Self::UnofferedSubprotocol(_)
            | Self::UnofferedExtension(_) => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadersTooLarge => f.write_str("header block too large"),
            Self::TooManyHeaders => f.write_str("too many header fields"),
            Self::MalformedHttp => f.write_str("malformed HTTP message"),
            Self::MethodNotGet => f.write_str("method is not GET"),
            Self::HttpVersion => f.write_str("HTTP version is not 1.1"),
            Self::MissingHeader(n) => write!(f, "missing {n} header"),
            Self::DuplicateHeader(n) => write!(f, "duplicate {n} header"),
            Self::BadHeaderValue(n) => write!(f, "invalid {n} header value"),
            Self::BadUpgradeHeader => f.write_str("Upgrade header does not name websocket"),
            Self::BadConnectionHeader => f.write_str("Connection header does not list upgrade"),
            Self::UnsupportedVersion => f.write_str("unsupported Sec-WebSocket-Version"),
            Self::BadKey => f.write_str("invalid Sec-WebSocket-Key"),
            Self::Status(s) => write!(f, "server answered with status {s}"),
            Self::BadAccept => f.write_str("Sec-WebSocket-Accept does not match the key"),
            Self::UnofferedSubprotocol(p) => write!(f, "subprotocol {p:?} was not offered"),
            Self::UnofferedExtension(e) => write!(f, "extension {e:?} was not offered"),
            Self::BadUrl => f.write_str("invalid WebSocket URL"),
            Self::InvalidHeader(n) => write!(f, "header {n:?} cannot be sent"),
            Self::InvalidStatus(s) => write!(f, "status {s} cannot reject a handshake"),
            #[cfg(feature = "deflate")]
            Self::Extension(e) => write!(f, "permessage-deflate answer: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` value:
/// base64(SHA-1(key ++ GUID)), as RFC 6455 §4.2.2 defines it.
///
/// ```
/// use wscore::accept_key;
///
/// // The example from RFC 6455 §1.3.
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    String::from_utf8_lossy(&accept_key_bytes(key)).into_owned()
}

/// [`accept_key`] on the stack: base64 is ASCII, and a SHA-1 digest is 20
/// bytes, so its encoding is always 28.
pub(crate) fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID);
    let mut out = [0; 28];
    // 20 bytes encode to exactly 28 with padding.
    let written = BASE64.encode_slice(sha.finalize(), &mut out);
    debug_assert_eq!(written, Ok(28));
    out
}

/// Turns one `httparse` attempt into the end of the header block, if known.
///
/// The parser only ever sees the first `max_bytes` of the buffer, so an
/// incomplete result from a buffer longer than that means the block cannot
/// fit, and parsing work stays bounded however much the peer sends.
pub(crate) fn block_end(
    status: Result<httparse::Status<usize>, httparse::Error>,
    buf_len: usize,
    max_bytes: usize,
) -> Result<Option<usize>, HandshakeError> {
    match status {
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buf_len > max_bytes => {
            Err(HandshakeError::HeadersTooLarge)
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders),
        Err(httparse::Error::Version) => Err(HandshakeError::HttpVersion),
        Err(_) => Err(HandshakeError::MalformedHttp),
    }
}

/// Copies parsed header fields into owned [`Header`]s.
pub(crate) fn own_headers(parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed
        .iter()
        .map(|h| Header {
            name: h.name.into(),
            value: h.value.to_vec(),
        })
        .collect()
}

/// The values of every field called `name`, in order.
pub(crate) fn values<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_slice())
}

/// The value of the first field called `name`.
pub(crate) fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_slice())
}

/// The value of a field that must appear exactly once.
pub(crate) fn single<'a>(
    headers: &'a [Header],
    name: &'static str,
) -> Result<&'a [u8], HandshakeError> {
    let mut found = values(headers, name);
    match (found.next(), found.next()) {
        (None, _) => Err(HandshakeError::MissingHeader(name)),
        (Some(value), None) => Ok(trim(value)),
        (Some(_), Some(_)) => Err(HandshakeError::DuplicateHeader(name)),
    }
}

/// Removes HTTP optional whitespace (spaces and tabs) from both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The elements of a comma-separated list, trimmed, empty ones skipped
/// (RFC 9110 §5.6.1 asks recipients to tolerate them).
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|item| !item.is_empty())
}

/// Whether any field called `name` lists `token`, ignoring ASCII case.
///
/// Works on bytes so that values which are not UTF-8 simply do not match.
pub(crate) fn lists_token(headers: &[Header], name: &str, token: &str) -> bool {
    values(headers, name)
        .flat_map(list_items)
        .any(|item| item.eq_ignore_ascii_case(token.as_bytes()))
}

/// Checks the `Upgrade: websocket` and `Connection: upgrade` pair that both
/// the request and the response must carry.
pub(crate) fn check_upgrade(headers: &[Header]) -> Result<(), HandshakeError> {
    if find(headers, UPGRADE).is_none() {
        return Err(HandshakeError::MissingHeader(UPGRADE));
    }
    if !lists_token(headers, UPGRADE, "websocket") {
        return Err(HandshakeError::BadUpgradeHeader);
    }
    if find(headers, CONNECTION).is_none() {
        return Err(HandshakeError::MissingHeader(CONNECTION));
    }
    if !lists_token(headers, CONNECTION, "upgrade") {
        return Err(HandshakeError::BadConnectionHeader);
    }
    Ok(())
}

/// All `Sec-WebSocket-Protocol` elements, in order across repeated fields.
pub(crate) fn subprotocols(headers: &[Header]) -> Result<Vec<String>, HandshakeError> {
    values(headers, SEC_PROTOCOL)
        .flat_map(list_items)
        .map(|item| match core::str::from_utf8(item) {
            Ok(text) if is_token(item) => Ok(text.into()),
            _ => Err(HandshakeError::BadHeaderValue(SEC_PROTOCOL)),
        })
        .collect()
}

/// All `Sec-WebSocket-Extensions` elements, each kept whole with its
/// parameters, in order across repeated fields.
pub(crate) fn extensions(headers: &[Header]) -> Result<Vec<String>, HandshakeError> {
    let bad = HandshakeError::BadHeaderValue(SEC_EXTENSIONS);
    let mut out = Vec::new();
    for value in values(headers, SEC_EXTENSIONS) {
        let text = core::str::from_utf8(value).map_err(|_| bad.clone())?;
        for item in split_top_level(text).ok_or_else(|| bad.clone())? {
            if !is_token(extension_name(item).as_bytes()) {
                return Err(bad);
            }
            out.push(item.into());
        }
    }
    Ok(out)
}

/// The extension name of one `Sec-WebSocket-Extensions` element: the text
/// before its first parameter.
pub(crate) fn extension_name(item: &str) -> &str {
    trim_str(item.split(';').next().unwrap_or_default())
}

/// [`trim`] for text.
fn trim_str(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Splits on commas that are not inside a quoted-string (parameters may be
/// quoted and contain commas). `None` if a quote is left open.
fn split_top_level(text: &str) -> Option<impl Iterator<Item = &str>> {
    // A first pass finds an open quote, so the items need no list of their
    // own to be checked before they are used.
    let closed = text.chars().fold(Quoting::default(), Quoting::next) == Quoting::default();
    let mut quoting = Quoting::default();
    let items = text
        .split(move |c| {
            quoting = quoting.next(c);
            c == ',' && quoting == Quoting::default()
        })
        .map(trim_str)
        .filter(|item| !item.is_empty());
    closed.then_some(items)
}

/// Where a scan of a header value is with respect to quoted-strings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Quoting {
    quoted: bool,
    escaped: bool,
}

impl Quoting {
    /// The state after `c`.
    fn next(self, c: char) -> Quoting {
        match (self.quoted, self.escaped, c) {
            (true, true, _) => Quoting {
                quoted: true,
                escaped: false,
            },
            (true, false, '\\') => Quoting {
                quoted: true,
                escaped: true,
            },
            (quoted, _, '"') => Quoting {
                quoted: !quoted,
                escaped: false,
            },
            _ => self,
        }
    }
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks a header the application wants to send: a token name that the
/// handshake does not write itself, and a value that cannot end the line.
pub(crate) fn check_outgoing(
    name: &str,
    value: &[u8],
    reserved: &[&str],
) -> Result<(), HandshakeError> {
    let value_ok = !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0));
    let clashes = reserved.iter().any(|r| r.eq_ignore_ascii_case(name));
    if is_token(name.as_bytes()) && value_ok && !clashes {
        Ok(())
    } else {
        Err(HandshakeError::InvalidHeader(name.into()))
    }
}

/// Appends `name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn headers(pairs: &[(&str, &[u8])]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| Header {
                name: (*n).into(),
                value: v.to_vec(),
            })
            .collect()
    }

    #[test]
    fn rfc_accept_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn token_lists_are_case_insensitive_and_trimmed() {
        let h = headers(&[
            ("connection", b"keep-alive, Upgrade"),
            ("UPGRADE", b" WebSocket "),
        ]);
        assert!(lists_token(&h, CONNECTION, "upgrade"));
        assert!(lists_token(&h, UPGRADE, "websocket"));
        assert_eq!(check_upgrade(&h), Ok(()));
        assert!(!lists_token(&h, CONNECTION, "close"));
    }

    #[test]
    fn upgrade_and_connection_errors() {
        let missing = headers(&[("Connection", b"upgrade")]);
        assert_eq!(
            check_upgrade(&missing),
            Err(HandshakeError::MissingHeader(UPGRADE))
        );
        let wrong = headers(&[("Upgrade", b"h2c"), ("Connection", b"upgrade")]);
        assert_eq!(check_upgrade(&wrong), Err(HandshakeError::BadUpgradeHeader));
        let no_conn = headers(&[("Upgrade", b"websocket")]);
        assert_eq!(
            check_upgrade(&no_conn),
            Err(HandshakeError::MissingHeader(CONNECTION))
        );
        let bad_conn = headers(&[("Upgrade", b"websocket"), ("Connection", b"\xffupgrade")]);
        assert_eq!(
            check_upgrade(&bad_conn),
            Err(HandshakeError::BadConnectionHeader)
        );
    }

    #[test]
    fn single_header_counts() {
        let h = headers(&[("a", b" x "), ("b", b"1"), ("B", b"2")]);
        assert_eq!(single(&h, "A"), Ok(&b"x"[..]));
        assert_eq!(single(&h, "b"), Err(HandshakeError::DuplicateHeader("b")));
        assert_eq!(single(&h, "c"), Err(HandshakeError::MissingHeader("c")));
    }

    #[test]
    fn subprotocols_concatenate_across_fields() {
        let h = headers(&[
            (SEC_PROTOCOL, b"chat, ,superchat"),
            ("sec-websocket-protocol", b"v2"),
        ]);
        assert_eq!(
            subprotocols(&h),
            Ok(vec!["chat".into(), "superchat".into(), "v2".into()])
        );
        let bad = headers(&[(SEC_PROTOCOL, b"a b")]);
        assert_eq!(
            subprotocols(&bad),
            Err(HandshakeError::BadHeaderValue(SEC_PROTOCOL))
        );
        let binary = headers(&[(SEC_PROTOCOL, b"\xfe\xff")]);
        assert_eq!(
            subprotocols(&binary),
            Err(HandshakeError::BadHeaderValue(SEC_PROTOCOL))
        );
    }

    #[test]
    fn extensions_split_outside_quotes() {
        let h = headers(&[
            (
                SEC_EXTENSIONS,
                b"permessage-deflate; client_max_window_bits, x; q=\"a,\\\"b\"",
            ),
            (SEC_EXTENSIONS, b"y"),
        ]);
        let expected = vec![
            "permessage-deflate; client_max_window_bits".into(),
            "x; q=\"a,\\\"b\"".into(),
            "y".into(),
        ];
        assert_eq!(extensions(&h), Ok(expected));
        assert_eq!(extension_name("x ; q=1"), "x");
        let bad = HandshakeError::BadHeaderValue(SEC_EXTENSIONS);
        for value in [&b"x; q=\"open"[..], b"\xff", b"a b; c"] {
            assert_eq!(
                extensions(&headers(&[(SEC_EXTENSIONS, value)])),
                Err(bad.clone())
            );
        }
    }

    #[test]
    fn outgoing_headers_are_checked() {
        let ok = Header {
            name: "X-Id".into(),
            value: b"\x80 fine".to_vec(),
        };
        assert_eq!(check_outgoing(&ok.name, &ok.value, &[HOST]), Ok(()));
        for (name, value) in [
            ("X-A", &b"a\r\nb: c"[..]),
            ("X A", b"v"),
            ("", b"v"),
            ("host", b"v"),
        ] {
            let h = Header {
                name: name.into(),
                value: value.to_vec(),
            };
            assert_eq!(
                check_outgoing(&h.name, &h.value, &[HOST]),
                Err(HandshakeError::InvalidHeader(name.into()))
            );
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(HandshakeError::HeadersTooLarge.http_status(), 431);
        assert_eq!(HandshakeError::TooManyHeaders.http_status(), 431);
        assert_eq!(HandshakeError::MethodNotGet.http_status(), 405);
        assert_eq!(HandshakeError::MissingHeader(HOST).http_status(), 400);
        assert_eq!(HandshakeError::InvalidHeader("x".into()).http_status(), 500);
    }
}
