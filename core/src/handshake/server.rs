//! The server side of the handshake: parsing and validating the client's
//! opening request, and writing the `101`, rejection or error response.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;

use super::{
    accept_key_bytes, block_end, check_outgoing, check_upgrade, extensions, find, own_headers,
    single, subprotocols, write_header, HandshakeError, Header, CONNECTION, HOST, SEC_ACCEPT,
    SEC_EXTENSIONS, SEC_KEY, SEC_PROTOCOL, SEC_VERSION, UPGRADE,
};

/// Names an [`Accept`] may not set: the `101` response writes them itself.
const ACCEPT_RESERVED: &[&str] = &[
    UPGRADE,
    CONNECTION,
    SEC_ACCEPT,
    SEC_PROTOCOL,
    SEC_EXTENSIONS,
];
/// Names a [`Reject`] may not set: they frame the body or close the connection.
const REJECT_RESERVED: &[&str] = &[
    "Content-Length",
    "Transfer-Encoding",
    CONNECTION,
    UPGRADE,
    SEC_VERSION,
];

/// Length of a well-formed `Sec-WebSocket-Key`: the base64 of 16 bytes.
const KEY_LEN: usize = 24;

/// Slots for header fields kept on the stack while parsing; a
/// configuration allowing more takes them from the heap.
const STACK_HEADER_SLOTS: usize = 64;

/// A validated WebSocket opening request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    path: String,
    query: Option<String>,
    headers: Vec<Header>,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    key: String,
}

impl Request {
    /// The request target up to (not including) any `?`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The request target after the first `?`, if there was one.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first field called `name`, ignoring ASCII case.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find(&self.headers, name)
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The extension offers, each with its parameters, e.g.
    /// `permessage-deflate; client_max_window_bits`.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The `Sec-WebSocket-Key` value (already checked to be well formed).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Host` value, or `None` if it is not UTF-8. Its presence is
    /// checked; what it names is left to the application.
    pub fn host(&self) -> Option<&str> {
        find(&self.headers, HOST).and_then(|h| core::str::from_utf8(h).ok())
    }
}

/// Parses and validates an opening request from the start of `buf`.
///
/// Returns `Ok(None)` while the header block is incomplete; call again with
/// the grown buffer. On success, returns the request and the length of the
/// header block including its final blank line: bytes after that are not
/// part of the handshake.
pub(crate) fn parse_request(
    buf: &[u8],
    max_bytes: usize,
    max_headers: usize,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut on_stack = [httparse::EMPTY_HEADER; STACK_HEADER_SLOTS];
    let mut on_heap;
    let slots = match on_stack.get_mut(..max_headers) {
        Some(slots) => slots,
        None => {
            on_heap = vec![httparse::EMPTY_HEADER; max_headers];
            &mut on_heap[..]
        }
    };
    let mut parsed = httparse::Request::new(slots);
    let window = buf.get(..max_bytes).unwrap_or(buf);
    let Some(consumed) = block_end(parsed.parse(window), buf.len(), max_bytes)? else {
        return Ok(None);
    };
    if parsed.method != Some("GET") {
        return Err(HandshakeError::MethodNotGet);
    }
    if parsed.version != Some(1) {
        return Err(HandshakeError::HttpVersion);
    }
    // A complete request head always has a target.
    debug_assert!(parsed.path.is_some());
    let target = parsed.path.unwrap_or_default();
    let headers = own_headers(parsed.headers);
    let request = validate(target, headers)?;
    Ok(Some((request, consumed)))
}

/// Applies the RFC 6455 §4.2.1 rules to a parsed `GET` request.
fn validate(target: &str, headers: Vec<Header>) -> Result<Request, HandshakeError> {
    single(&headers, HOST)?;
    check_upgrade(&headers)?;
    if single(&headers, SEC_VERSION)? != b"13" {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = check_key(single(&headers, SEC_KEY)?)?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.into(), Some(query.into())),
        None => (target.into(), None),
    };
    Ok(Request {
        path,
        query,
        subprotocols: subprotocols(&headers)?,
        extensions: extensions(&headers)?,
        headers,
        key,
    })
}

/// A key must be the base64 encoding of 16 bytes: 24 characters.
fn check_key(key: &[u8]) -> Result<String, HandshakeError> {
    if key.len() != KEY_LEN {
        return Err(HandshakeError::BadKey);
    }
    // Decoded on the stack: 24 characters hold at most 18 bytes.
    let mut raw = [0u8; 18];
    match BASE64.decode_slice(key, &mut raw) {
        Ok(16) => String::from_utf8(key.to_vec()).map_err(|_| HandshakeError::BadKey),
        _ => Err(HandshakeError::BadKey),
    }
}

/// What answering a request takes once the application holds the
/// [`Request`] itself: the key and the offered subprotocols, so a pending
/// request costs no copy of its header fields.
#[derive(Debug)]
pub(crate) struct Offer {
    key: [u8; KEY_LEN],
    /// The offered subprotocols, each followed by a comma (a token holds
    /// none), in one allocation whatever their number.
    subprotocols: String,
}

impl Offer {
    /// The parts of `request` its answer depends on.
    pub(crate) fn of(request: &Request) -> Offer {
        let mut key = [0; KEY_LEN];
        debug_assert_eq!(request.key.len(), KEY_LEN, "check_key admits no other");
        if let Some(from) = request.key.as_bytes().get(..KEY_LEN) {
            key.copy_from_slice(from);
        }
        let mut subprotocols = String::new();
        for name in &request.subprotocols {
            subprotocols.push_str(name);
            subprotocols.push(',');
        }
        Offer { key, subprotocols }
    }

    /// Whether the client offered the subprotocol `name` (exact match, as
    /// RFC 6455 §4.2.2 compares them).
    pub(crate) fn offers_subprotocol(&self, name: &str) -> bool {
        self.subprotocols.split_terminator(',').any(|p| p == name)
    }
}

/// The application's decision to accept a request.
///
/// ```
/// use wscore::Accept;
///
/// let accept = Accept::new().subprotocol("chat").header("X-Server", "demo");
/// assert_eq!(accept.chosen_subprotocol(), Some("chat"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    pub(crate) subprotocol: Option<String>,
    pub(crate) headers: Vec<Header>,
    pub(crate) extensions: Option<String>,
}

impl Accept {
    /// Accepts with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects a subprotocol; it must be one the client offered.
    #[must_use]
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.subprotocol = Some(name.into());
        self
    }

    /// Adds a header to the `101` response.
    ///
    /// A name the handshake writes itself, or a value containing CR, LF or
    /// NUL, makes writing the response fail with
    /// [`HandshakeError::InvalidHeader`].
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// The subprotocol selected with [`Accept::subprotocol`].
    pub fn chosen_subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Sets the `Sec-WebSocket-Extensions` answer, which extension
    /// negotiation decides rather than the application.
    #[allow(dead_code)]
    pub(crate) fn set_extensions(&mut self, value: String) {
        self.extensions = Some(value);
    }
}

/// The application's decision to refuse a request with an HTTP response.
///
/// ```
/// use wscore::Reject;
///
/// let reject = Reject::new(401).header("WWW-Authenticate", "Bearer").body("login first");
/// assert_eq!(reject.status(), 401);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub(crate) status: u16,
    pub(crate) headers: Vec<Header>,
    pub(crate) body: Bytes,
}

impl Reject {
    /// Refuses with `status`, which must be in `200..=599`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header to the response.
    ///
    /// A name the handshake writes itself, or a value containing CR, LF or
    /// NUL, makes writing the response fail with
    /// [`HandshakeError::InvalidHeader`].
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Sets the response body; `Content-Length` is written to match.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// Writes the `101 Switching Protocols` response for an accepted request.
pub(crate) fn accept_response(offer: &Offer, accept: &Accept) -> Result<Bytes, HandshakeError> {
    const STATUS_LINE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n";
    // Sized exactly, so the buffer is neither grown nor trimmed, and
    // becomes the response's `Bytes` as it is.
    let line = |name: &str, value: &[u8]| name.len() + value.len() + 4;
    let optional = [
        accept
            .subprotocol
            .as_ref()
            .map(|chosen| line(SEC_PROTOCOL, chosen.as_bytes())),
        accept
            .extensions
            .as_ref()
            .map(|answer| line(SEC_EXTENSIONS, answer.as_bytes())),
    ];
    let size = STATUS_LINE.len()
        + line(UPGRADE, b"websocket")
        + line(CONNECTION, b"Upgrade")
        + line(SEC_ACCEPT, &[0; 28])
        + optional.iter().flatten().sum::<usize>()
        + accept
            .headers
            .iter()
            .map(|h| line(&h.name, &h.value))
            .sum::<usize>()
        + 2;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(STATUS_LINE);
    write_header(&mut out, UPGRADE, b"websocket");
    write_header(&mut out, CONNECTION, b"Upgrade");
    write_header(&mut out, SEC_ACCEPT, &accept_key_bytes(&offer.key));
    if let Some(chosen) = &accept.subprotocol {
        if !offer.offers_subprotocol(chosen) {
            return Err(HandshakeError::UnofferedSubprotocol(chosen.clone()));
        }
        write_header(&mut out, SEC_PROTOCOL, chosen.as_bytes());
    }
    if let Some(answer) = &accept.extensions {
        check_outgoing(SEC_EXTENSIONS, answer.as_bytes(), &[])?;
        write_header(&mut out, SEC_EXTENSIONS, answer.as_bytes());
    }
    for header in &accept.headers {
        check_outgoing(&header.name, &header.value, ACCEPT_RESERVED)?;
        write_header(&mut out, &header.name, &header.value);
    }
    out.extend_from_slice(b"\r\n");
    debug_assert_eq!(out.len(), size);
    Ok(out.into())
}

/// Writes the complete response for an application's [`Reject`].
pub(crate) fn reject_response(reject: &Reject) -> Result<Bytes, HandshakeError> {
    if !(200..=599).contains(&reject.status) {
        return Err(HandshakeError::InvalidStatus(reject.status));
    }
    for header in &reject.headers {
        check_outgoing(&header.name, &header.value, REJECT_RESERVED)?;
    }
    Ok(closing_response(
        reject.status,
        &reject.headers,
        &reject.body,
    ))
}

/// Writes the complete response for a request that failed validation.
///
/// Client errors carry the error's description as the body; server errors
/// only the reason phrase, so internal details stay private.
pub(crate) fn error_response(err: &HandshakeError) -> Bytes {
    let status = err.http_status();
    let body = match status {
        500.. => String::from(reason(status)),
        _ => alloc::format!("{err}"),
    };
    let allow = [Header {
        name: "Allow".into(),
        value: b"GET".to_vec(),
    }];
    let headers: &[Header] = if status == 405 { &allow } else { &[] };
    closing_response(status, headers, body.as_bytes())
}

/// A response after which the server closes the connection. A `426` also
/// names the protocol and version to upgrade to (RFC 9110 §15.5.22,
/// RFC 6455 §4.4).
fn closing_response(status: u16, headers: &[Header], body: &[u8]) -> Bytes {
    let mut out = alloc::format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    for header in headers {
        write_header(&mut out, &header.name, &header.value);
    }
    if status == 426 {
        write_header(&mut out, UPGRADE, b"websocket");
        write_header(&mut out, SEC_VERSION, b"13");
        write_header(&mut out, CONNECTION, b"Upgrade, close");
    } else {
        write_header(&mut out, CONNECTION, b"close");
    }
    write_header(
        &mut out,
        "Content-Length",
        alloc::format!("{}", body.len()).as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out.into()
}

/// The reason phrase for the statuses a handshake is likely to use.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use quickcheck::{quickcheck, TestResult};

    const REQ: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\n\
        Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, HandshakeError> {
        parse_request(buf, 4096, 32)
    }

    /// `REQ` with the line starting `prefix` replaced by `line` (dropped if empty).
    fn with_line(prefix: &str, line: impl AsRef<[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        for l in REQ.split_inclusive(|&b| b == b'\n') {
            if !l.starts_with(prefix.as_bytes()) {
                out.extend_from_slice(l);
            } else if !line.as_ref().is_empty() {
                out.extend_from_slice(&[line.as_ref(), b"\r\n"].concat());
            }
        }
        out
    }

    fn err(buf: &[u8]) -> HandshakeError {
        match parse(buf) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn parses_rfc_request() {
        let (req, n) = parse(REQ).unwrap().unwrap();
        assert_eq!(n, REQ.len());
        assert_eq!((req.path(), req.query()), ("/chat", Some("room=1")));
        assert_eq!(req.host(), Some("server.example.com"));
        assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(req.subprotocols(), ["chat", "superchat"]);
        assert_eq!(
            req.extensions(),
            ["permessage-deflate; client_max_window_bits"]
        );
        assert_eq!(req.header("sec-websocket-version"), Some(&b"13"[..]));
        assert_eq!(req.headers().len(), 7);
    }

    #[test]
    fn every_prefix_is_incomplete_and_tail_is_kept() {
        for end in 0..REQ.len() {
            assert_eq!(parse(&REQ[..end]), Ok(None), "prefix of {end} bytes");
        }
        let mut buf = REQ.to_vec();
        buf.extend_from_slice(b"\x81\x85frame");
        let (_, n) = parse(&buf).unwrap().unwrap();
        assert_eq!(n, REQ.len());
    }

    #[test]
    fn size_limits() {
        assert_eq!(
            parse_request(REQ, REQ.len(), 32).map(|r| r.is_some()),
            Ok(true)
        );
        assert_eq!(
            parse_request(REQ, REQ.len() - 1, 32),
            Err(HandshakeError::HeadersTooLarge)
        );
        assert_eq!(
            parse_request(&REQ[..20], 10, 32),
            Err(HandshakeError::HeadersTooLarge)
        );
        assert_eq!(parse_request(&REQ[..20], 20, 32), Ok(None));
        assert_eq!(
            parse_request(REQ, 4096, 6),
            Err(HandshakeError::TooManyHeaders)
        );
    }

    #[test]
    fn each_rule_has_its_error() {
        use HandshakeError::*;
        let cases: &[(&str, &str, HandshakeError)] = &[
            ("GET", "POST /chat HTTP/1.1", MethodNotGet),
            ("GET", "GET /chat HTTP/1.0", HttpVersion),
            ("GET", "GET /chat HTTP/2.0", HttpVersion),
            ("GET", "GET /chat HTTP/1.1 extra", MalformedHttp),
            ("Host", "", MissingHeader(HOST)),
            ("Upgrade", "", MissingHeader(UPGRADE)),
            ("Upgrade", "Upgrade: h2c", BadUpgradeHeader),
            ("Connection", "", MissingHeader(CONNECTION)),
            ("Connection", "Connection: keep-alive", BadConnectionHeader),
            ("Sec-WebSocket-Version", "", MissingHeader(SEC_VERSION)),
            (
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Version: 8",
                UnsupportedVersion,
            ),
            ("Sec-WebSocket-Key", "", MissingHeader(SEC_KEY)),
            ("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ=", BadKey),
            (
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: !!!notbase64!!!!!!!!!!==",
                BadKey,
            ),
            (
                "Sec-WebSocket-Protocol",
                "Sec-WebSocket-Protocol: a b",
                BadHeaderValue(SEC_PROTOCOL),
            ),
            (
                "Sec-WebSocket-Extensions",
                "Sec-WebSocket-Extensions: \"",
                BadHeaderValue(SEC_EXTENSIONS),
            ),
        ];
        for (prefix, line, expected) in cases {
            assert_eq!(&err(&with_line(prefix, line)), expected, "{line:?}");
        }
        let mut two_keys = REQ[..REQ.len() - 2].to_vec();
        two_keys.extend_from_slice(b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n");
        assert_eq!(err(&two_keys), DuplicateHeader(SEC_KEY));
    }

    #[test]
    fn non_utf8_values_are_errors_not_panics() {
        let key = with_line("Sec-WebSocket-Key", b"Sec-WebSocket-Key: \xff\xfe");
        assert_eq!(err(&key), HandshakeError::BadKey);
        let protocol = with_line("Sec-WebSocket-Protocol", b"Sec-WebSocket-Protocol: \xff");
        assert_eq!(err(&protocol), HandshakeError::BadHeaderValue(SEC_PROTOCOL));
        let upgrade = with_line("Upgrade", b"Upgrade: websocket\xff");
        assert_eq!(err(&upgrade), HandshakeError::BadUpgradeHeader);
        let host = with_line("Host", b"Host: \xff");
        assert_eq!(parse(&host).unwrap().unwrap().0.host(), None);
    }

    #[test]
    fn accept_writes_101() {
        let (req, _) = parse(REQ).unwrap().unwrap();
        let out = accept_response(
            &Offer::of(&req),
            &Accept::new().subprotocol("superchat").header("X-A", "1"),
        )
        .unwrap();
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("Sec-WebSocket-Protocol: superchat\r\nX-A: 1\r\n\r\n"));
        assert!(!text.contains(SEC_EXTENSIONS));
        let mut with_ext = Accept::new();
        with_ext.set_extensions("permessage-deflate".to_string());
        let out = accept_response(&Offer::of(&req), &with_ext).unwrap();
        assert!(out.ends_with(b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"));
    }

    #[test]
    fn accept_refuses_bad_answers() {
        let (req, _) = parse(REQ).unwrap().unwrap();
        let offer = Offer::of(&req);
        for name in ["Chat", "super", "chat,superchat", "chat,", ""] {
            let unoffered = Accept::new().subprotocol(name);
            assert_eq!(
                accept_response(&offer, &unoffered),
                Err(HandshakeError::UnofferedSubprotocol(name.into())),
                "{name:?}"
            );
        }
        assert!(accept_response(&offer, &Accept::new().subprotocol("superchat")).is_ok());
        let injected = Accept::new().header("X-A", "1\r\nSet-Cookie: x");
        assert_eq!(
            accept_response(&offer, &injected),
            Err(HandshakeError::InvalidHeader("X-A".into()))
        );
        let reserved = Accept::new().header("connection", "close");
        assert!(matches!(
            accept_response(&offer, &reserved),
            Err(HandshakeError::InvalidHeader(_))
        ));
    }

    #[test]
    fn reject_and_error_responses() {
        let out = reject_response(&Reject::new(403).header("X-Why", "no").body("go away")).unwrap();
        assert_eq!(
            &out[..],
            b"HTTP/1.1 403 Forbidden\r\nX-Why: no\r\nConnection: close\r\nContent-Length: 7\r\n\r\ngo away"
        );
        assert_eq!(
            reject_response(&Reject::new(101)),
            Err(HandshakeError::InvalidStatus(101))
        );
        let bad = Reject::new(400).header("Content-Length", "0");
        assert!(matches!(
            reject_response(&bad),
            Err(HandshakeError::InvalidHeader(_))
        ));
        assert!(reject_response(&Reject::new(499))
            .unwrap()
            .starts_with(b"HTTP/1.1 499 Error\r\n"));

        let out = error_response(&HandshakeError::UnsupportedVersion);
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        let out = error_response(&HandshakeError::MethodNotGet);
        assert!(core::str::from_utf8(&out)
            .unwrap()
            .contains("\r\nAllow: GET\r\n"));
        let out = error_response(&HandshakeError::HeadersTooLarge);
        assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let body = "missing Host header";
        let out = error_response(&HandshakeError::MissingHeader(HOST));
        assert!(out
            .ends_with(alloc::format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes()));
    }

    /// A valid request with `extra` as one more header value and `tail` after it.
    fn request_with(extra: &[u8], tail: &[u8]) -> Vec<u8> {
        let value: Vec<u8> = extra
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect();
        [
            &REQ[..REQ.len() - 2],
            b"X-Extra: ",
            &value,
            b"\r\n\r\n",
            tail,
        ]
        .concat()
    }

    quickcheck! {
        fn never_panics_on_arbitrary_bytes(buf: Vec<u8>, max: u16, slots: u8) -> bool {
            match parse_request(&buf, usize::from(max), usize::from(slots)) {
                Ok(Some((_, n))) => n <= buf.len(),
                _ => true,
            }
        }

        fn arbitrary_values_in_checked_headers(which: u8, value: Vec<u8>) -> bool {
            let names = [HOST, UPGRADE, CONNECTION, SEC_KEY, SEC_VERSION, SEC_PROTOCOL, SEC_EXTENSIONS];
            let name = names[usize::from(which) % names.len()];
            let value: Vec<u8> = value.into_iter().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
            let buf = with_line(name, [name.as_bytes(), b": ", &value].concat());
            parse(&buf).map_or(true, |done| matches!(done, Some((_, n)) if n == buf.len()))
        }

        fn split_invariant(extra: Vec<u8>, tail: Vec<u8>, chunks: Vec<u8>) -> TestResult {
            let buf = request_with(&extra, &tail);
            let whole = parse(&buf);
            let mut end = 0;
            for step in chunks.iter().map(|&c| usize::from(c) + 1).chain(core::iter::repeat(1)) {
                end = (end + step).min(buf.len());
                match parse(&buf[..end]) {
                    Ok(None) if end < buf.len() => continue,
                    got => return TestResult::from_bool(got == whole),
                }
            }
            TestResult::discard()
        }
    }
}
