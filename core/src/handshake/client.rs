//! The client side of the handshake: describing the request to send,
//! writing it, and validating the server's response.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;

use super::{
    accept_key, block_end, check_outgoing, check_upgrade, extension_name, extensions, find,
    is_token, own_headers, single, subprotocols, write_header, HandshakeError, Header, CONNECTION,
    HOST, SEC_ACCEPT, SEC_EXTENSIONS, SEC_KEY, SEC_PROTOCOL, SEC_VERSION, UPGRADE,
};

/// Names a [`ClientRequest`] may not set: the request writes them itself.
const RESERVED: &[&str] = &[
    HOST,
    UPGRADE,
    CONNECTION,
    SEC_KEY,
    SEC_VERSION,
    SEC_PROTOCOL,
    SEC_EXTENSIONS,
];

/// What a client asks for when it opens a WebSocket.
///
/// ```
/// use wscore::ClientRequest;
///
/// let req = ClientRequest::from_url("wss://example.com:8443/chat?room=1")?
///     .subprotocol("chat")
///     .header("Authorization", "Bearer abc");
/// assert!(req.is_tls());
/// assert_eq!((req.host(), req.port(), req.path()), ("example.com", 8443, "/chat?room=1"));
/// # Ok::<(), wscore::HandshakeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    authority: String,
    tls: bool,
    path: String,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    headers: Vec<Header>,
}

impl ClientRequest {
    /// A plain (`ws`) request. `host` is the `Host` value, with a `:port`
    /// when it is not 80; `path` is the request target and may carry a
    /// query. An empty path means `/`, and a missing leading `/` is added.
    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Self {
            authority: host.into(),
            tls: false,
            path,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Parses `ws://host[:port][/path][?query]` or the `wss://` equivalent.
    /// IPv6 hosts are written in brackets: `ws://[::1]:9001/`. User info,
    /// fragments and non-ASCII hosts are refused.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::BadUrl`] if `url` is not such a URL.
    pub fn from_url(url: &str) -> Result<Self, HandshakeError> {
        let (tls, rest) = split_scheme(url).ok_or(HandshakeError::BadUrl)?;
        let (authority, target) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let (host, port) = parse_authority(authority).ok_or(HandshakeError::BadUrl)?;
        let default_port = if tls { 443 } else { 80 };
        if !is_target(target) {
            return Err(HandshakeError::BadUrl);
        }
        let mut host_header = if host.contains(':') {
            alloc::format!("[{host}]")
        } else {
            host.into()
        };
        if let Some(port) = port.filter(|&p| p != default_port) {
            host_header = alloc::format!("{host_header}:{port}");
        }
        Ok(Self {
            tls,
            ..Self::new(host_header, target)
        })
    }

    /// Offers a subprotocol; offers are sent in the order they are added.
    #[must_use]
    pub fn subprotocol(mut self, name: impl Into<String>) -> Self {
        self.subprotocols.push(name.into());
        self
    }

    /// Offers an extension, as its header text with any parameters, e.g.
    /// `permessage-deflate; client_max_window_bits`.
    #[must_use]
    pub fn extension(mut self, offer: impl Into<String>) -> Self {
        self.extensions.push(offer.into());
        self
    }

    /// Adds a header to the request.
    ///
    /// A name the handshake writes itself, or a value containing CR, LF or
    /// NUL, makes writing the request fail with
    /// [`HandshakeError::InvalidHeader`].
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Whether the URL asked for TLS (`wss`). The engine does not do TLS;
    /// this tells the adapter to.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host to connect to, without brackets or port.
    pub fn host(&self) -> &str {
        self.split_authority().0
    }

    /// The port to connect to: the one given, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.split_authority().1
    }

    /// The request target, including any query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The offered subprotocols, in order.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The extension offers, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Splits the `Host` value into host and port. Never fails: a value
    /// built with [`ClientRequest::new`] is taken as it is when it does not
    /// look like `host:port`.
    fn split_authority(&self) -> (&str, u16) {
        let default = if self.tls { 443 } else { 80 };
        let a = self.authority.as_str();
        let (host, port) = match a.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => match a.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, Some(port)),
                _ => (a, None),
            },
        };
        match port.map(str::parse) {
            Some(Ok(port)) => (host, port),
            Some(Err(_)) => (a, default),
            None => (host, default),
        }
    }
}

/// The scheme decides TLS; it is matched without regard to case.
fn split_scheme(url: &str) -> Option<(bool, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    match scheme {
        s if s.eq_ignore_ascii_case("ws") => Some((false, rest)),
        s if s.eq_ignore_ascii_case("wss") => Some((true, rest)),
        _ => None,
    }
}

/// Host (brackets removed) and optional port of a URL authority, or
/// `None` if it is not one a connection can be opened to.
fn parse_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']')?;
            let port = if after.is_empty() {
                None
            } else {
                Some(after.strip_prefix(':')?)
            };
            let is_ip = ip.contains(':')
                && ip
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            is_ip.then_some((ip, port))?
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b);
            host.bytes().all(reg_name).then_some((host, port))?
        }
    };
    let port = match port {
        Some(digits) => Some(parse_port(digits)?),
        None => None,
    };
    (!host.is_empty()).then_some((host, port))
}

/// A non-zero decimal port. Digits are checked first because `str::parse`
/// would also take a leading `+`.
fn parse_port(digits: &str) -> Option<u16> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&p| p != 0)
}

/// A request target must fit in the request line: visible ASCII only, and
/// no fragment (RFC 6455 §3).
fn is_target(target: &str) -> bool {
    target.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

/// Writes the opening request for `req` with the given 16 random bytes as
/// its key. Returns the request and the `Sec-WebSocket-Accept` value the
/// server must answer with.
pub(crate) fn build_request(
    req: &ClientRequest,
    key: [u8; 16],
) -> Result<(Bytes, String), HandshakeError> {
    if req.authority.is_empty()
        || !req.authority.bytes().all(|b| b.is_ascii_graphic())
        || !is_target(&req.path)
    {
        return Err(HandshakeError::BadUrl);
    }
    let key = BASE64.encode(key);
    let mut out = alloc::format!("GET {} HTTP/1.1\r\n", req.path).into_bytes();
    write_header(&mut out, HOST, req.authority.as_bytes());
    write_header(&mut out, UPGRADE, b"websocket");
    write_header(&mut out, CONNECTION, b"Upgrade");
    write_header(&mut out, SEC_KEY, key.as_bytes());
    write_header(&mut out, SEC_VERSION, b"13");
    if !req.subprotocols.is_empty() {
        if !req.subprotocols.iter().all(|p| is_token(p.as_bytes())) {
            return Err(HandshakeError::InvalidHeader(SEC_PROTOCOL.into()));
        }
        write_header(
            &mut out,
            SEC_PROTOCOL,
            req.subprotocols.join(", ").as_bytes(),
        );
    }
    if !req.extensions.is_empty() {
        let offers = req.extensions.join(", ");
        check_outgoing(SEC_EXTENSIONS, offers.as_bytes(), &[])?;
        write_header(&mut out, SEC_EXTENSIONS, offers.as_bytes());
    }
    for header in &req.headers {
        check_outgoing(&header.name, &header.value, RESERVED)?;
        write_header(&mut out, &header.name, &header.value);
    }
    out.extend_from_slice(b"\r\n");
    Ok((out.into(), accept_key(key.as_bytes())))
}

/// A server's validated `101` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<Header>,
    subprotocol: Option<String>,
    extensions: Vec<String>,
}

impl Response {
    /// The status code (always `101` once validated).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first field called `name`, ignoring ASCII case.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find(&self.headers, name)
    }

    /// The subprotocol the server selected, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extensions the server accepted, each with its parameters.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

/// Parses and validates the server's response to `req` from the start of
/// `buf`, incrementally like the server-side parser: `Ok(None)` until the
/// header block is complete, then the response and the block's length.
pub(crate) fn parse_response(
    buf: &[u8],
    expected_accept: &str,
    req: &ClientRequest,
    max_bytes: usize,
    max_headers: usize,
) -> Result<Option<(Response, usize)>, HandshakeError> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut parsed = httparse::Response::new(&mut slots);
    let window = buf.get(..max_bytes).unwrap_or(buf);
    let Some(consumed) = block_end(parsed.parse(window), buf.len(), max_bytes)? else {
        return Ok(None);
    };
    if parsed.version != Some(1) {
        return Err(HandshakeError::HttpVersion);
    }
    // A complete response head always has a status code.
    debug_assert!(parsed.code.is_some());
    let status = parsed.code.unwrap_or_default();
    if status != 101 {
        return Err(HandshakeError::Status(status));
    }
    let headers = own_headers(parsed.headers);
    check_upgrade(&headers)?;
    if single(&headers, SEC_ACCEPT)? != expected_accept.as_bytes() {
        return Err(HandshakeError::BadAccept);
    }
    let subprotocol = chosen_subprotocol(&headers, req)?;
    let extensions = accepted_extensions(&headers, req)?;
    Ok(Some((
        Response {
            status,
            headers,
            subprotocol,
            extensions,
        },
        consumed,
    )))
}

/// The server may select at most one subprotocol, from those offered.
fn chosen_subprotocol(
    headers: &[Header],
    req: &ClientRequest,
) -> Result<Option<String>, HandshakeError> {
    if find(headers, SEC_PROTOCOL).is_none() {
        return Ok(None);
    }
    match <[String; 1]>::try_from(subprotocols(headers)?) {
        Ok([chosen]) if req.subprotocols.contains(&chosen) => Ok(Some(chosen)),
        Ok([chosen]) => Err(HandshakeError::UnofferedSubprotocol(chosen)),
        Err(_) => Err(HandshakeError::BadHeaderValue(SEC_PROTOCOL)),
    }
}

/// Every accepted extension must name one the client offered.
fn accepted_extensions(
    headers: &[Header],
    req: &ClientRequest,
) -> Result<Vec<String>, HandshakeError> {
    let accepted = extensions(headers)?;
    let offered = |name: &str| {
        req.extensions
            .iter()
            .any(|o| extension_name(o).eq_ignore_ascii_case(name))
    };
    match accepted
        .iter()
        .map(|e| extension_name(e))
        .find(|name| !offered(name))
    {
        Some(name) => Err(HandshakeError::UnofferedExtension(name.into())),
        None => Ok(accepted),
    }
}

#[cfg(test)]
mod tests {
    use super::super::server::{accept_response, parse_request, Accept, Offer};
    use super::*;
    use quickcheck::quickcheck;

    const KEY: [u8; 16] = *b"the sample nonce";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    const RESP: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    fn offer() -> ClientRequest {
        ClientRequest::new("example.com", "/chat")
            .subprotocol("chat")
            .extension("permessage-deflate; x=1")
    }

    fn parse(buf: &[u8]) -> Result<Option<(Response, usize)>, HandshakeError> {
        parse_response(buf, ACCEPT, &offer(), 4096, 32)
    }

    /// `RESP` with `line` added before the blank line.
    fn with(line: &[u8]) -> Vec<u8> {
        [&RESP[..RESP.len() - 2], line, b"\r\n\r\n"].concat()
    }

    #[test]
    fn builds_the_rfc_request() {
        let req = ClientRequest::new("server.example.com", "chat")
            .subprotocol("chat")
            .subprotocol("superchat");
        let (bytes, accept) =
            build_request(&req.header("Origin", "http://example.com"), KEY).unwrap();
        assert_eq!(accept, ACCEPT);
        let expected = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
            Origin: http://example.com\r\n\r\n";
        assert_eq!(core::str::from_utf8(&bytes), Ok(expected));
    }

    #[test]
    fn build_refuses_what_cannot_be_sent() {
        let cases = [
            (ClientRequest::new("h", "/a b"), HandshakeError::BadUrl),
            (ClientRequest::new("h\r\nX: y", "/"), HandshakeError::BadUrl),
            (
                ClientRequest::new("h", "/").subprotocol("a,b"),
                HandshakeError::InvalidHeader(SEC_PROTOCOL.into()),
            ),
            (
                ClientRequest::new("h", "/").extension("x\r\n"),
                HandshakeError::InvalidHeader(SEC_EXTENSIONS.into()),
            ),
            (
                ClientRequest::new("h", "/").header("host", "x"),
                HandshakeError::InvalidHeader("host".into()),
            ),
        ];
        for (req, expected) in cases {
            assert_eq!(build_request(&req, KEY), Err(expected));
        }
    }

    #[test]
    fn urls() {
        let cases = [
            (
                "ws://example.com",
                false,
                "example.com",
                80,
                "/",
                "example.com",
            ),
            (
                "WSS://example.com/",
                true,
                "example.com",
                443,
                "/",
                "example.com",
            ),
            (
                "ws://example.com:80/a?b=c",
                false,
                "example.com",
                80,
                "/a?b=c",
                "example.com",
            ),
            (
                "wss://example.com:80?q",
                true,
                "example.com",
                80,
                "/?q",
                "example.com:80",
            ),
            ("ws://[::1]:9001/x", false, "::1", 9001, "/x", "[::1]:9001"),
            (
                "wss://[2001:db8::1]",
                true,
                "2001:db8::1",
                443,
                "/",
                "[2001:db8::1]",
            ),
            (
                "ws://127.0.0.1:8080",
                false,
                "127.0.0.1",
                8080,
                "/",
                "127.0.0.1:8080",
            ),
        ];
        for (url, tls, host, port, path, host_header) in cases {
            let req = ClientRequest::from_url(url).unwrap();
            assert_eq!(
                (req.is_tls(), req.host(), req.port(), req.path()),
                (tls, host, port, path),
                "{url}"
            );
            assert_eq!(req.authority, host_header);
        }
        for bad in [
            "http://a/",
            "ws:/a",
            "ws://",
            "ws://:80/",
            "ws://a:/",
            "ws://a:0",
            "ws://a:65536",
            "ws://a:8x",
            "ws://u@a/",
            "ws://a/#f",
            "ws://a/ b",
            "ws://[::1/",
            "ws://[::1]x",
            "ws://[zz]/",
            "ws://::1/",
            "ws://é.fr/",
        ] {
            assert_eq!(
                ClientRequest::from_url(bad),
                Err(HandshakeError::BadUrl),
                "{bad}"
            );
        }
        assert_eq!(
            (
                ClientRequest::new("h:81", "").host(),
                ClientRequest::new("h:81", "").port()
            ),
            ("h", 81)
        );
        assert_eq!(ClientRequest::new("h:xx", "").host(), "h:xx");
    }

    #[test]
    fn parses_incrementally_and_keeps_the_tail() {
        for end in 0..RESP.len() {
            assert_eq!(parse(&RESP[..end]), Ok(None));
        }
        let buf = [RESP, b"\x81\x02hi"].concat();
        let (resp, n) = parse(&buf).unwrap().unwrap();
        assert_eq!(
            (n, resp.status(), resp.subprotocol()),
            (RESP.len(), 101, None)
        );
        assert_eq!(resp.header("sec-websocket-accept"), Some(ACCEPT.as_bytes()));
        assert_eq!(resp.headers().len(), 3);
    }

    #[test]
    fn each_rule_has_its_error() {
        use HandshakeError::*;
        let swap = |from: &[u8], to: &[u8]| {
            let at = RESP.windows(from.len()).position(|w| w == from).unwrap();
            [&RESP[..at], to, &RESP[at + from.len()..]].concat()
        };
        let cases = [
            (
                swap(b"101 Switching Protocols", b"403 Forbidden"),
                Status(403),
            ),
            (swap(b"HTTP/1.1", b"HTTP/1.0"), HttpVersion),
            (swap(b"101 Switching", b"1x1 Switching"), MalformedHttp),
            (swap(b"Upgrade: websocket\r\n", b""), MissingHeader(UPGRADE)),
            (
                swap(b"Upgrade: websocket", b"Upgrade: \xff"),
                BadUpgradeHeader,
            ),
            (
                swap(b"Connection: Upgrade", b"Connection: close"),
                BadConnectionHeader,
            ),
            (swap(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", b"AAAA"), BadAccept),
            (
                swap(
                    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                    b"",
                ),
                MissingHeader(SEC_ACCEPT),
            ),
            (
                with(b"Sec-WebSocket-Accept: x"),
                DuplicateHeader(SEC_ACCEPT),
            ),
            (
                with(b"Sec-WebSocket-Protocol: superchat"),
                UnofferedSubprotocol("superchat".into()),
            ),
            (
                with(b"Sec-WebSocket-Protocol: chat, chat"),
                BadHeaderValue(SEC_PROTOCOL),
            ),
            (
                with(b"Sec-WebSocket-Protocol: \xfe"),
                BadHeaderValue(SEC_PROTOCOL),
            ),
            (
                with(b"Sec-WebSocket-Extensions: x-other"),
                UnofferedExtension("x-other".into()),
            ),
            (
                with(b"Sec-WebSocket-Extensions: \xff"),
                BadHeaderValue(SEC_EXTENSIONS),
            ),
        ];
        for (buf, expected) in cases {
            assert_eq!(parse(&buf), Err(expected));
        }
        assert_eq!(
            parse_response(RESP, ACCEPT, &offer(), 40, 32),
            Err(HeadersTooLarge)
        );
        assert_eq!(
            parse_response(RESP, ACCEPT, &offer(), 4096, 2),
            Err(TooManyHeaders)
        );
        let none_offered = ClientRequest::new("h", "/");
        let ext = with(b"Sec-WebSocket-Extensions: permessage-deflate");
        assert_eq!(
            parse_response(&ext, ACCEPT, &none_offered, 4096, 32),
            Err(UnofferedExtension("permessage-deflate".into()))
        );
    }

    #[test]
    fn accepts_offered_subprotocol_and_extension() {
        let buf = with(
            b"Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: Permessage-Deflate; x=1",
        );
        let (resp, _) = parse(&buf).unwrap().unwrap();
        assert_eq!(resp.subprotocol(), Some("chat"));
        assert_eq!(resp.extensions(), ["Permessage-Deflate; x=1"]);
    }

    #[test]
    fn round_trip() {
        let req = ClientRequest::from_url("ws://[::1]:9001/feed?since=3")
            .unwrap()
            .subprotocol("v1")
            .subprotocol("v2");
        let (bytes, expected) = build_request(&req, [7; 16]).unwrap();
        let (server_view, n) = parse_request(&bytes, 4096, 32).unwrap().unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(
            (server_view.path(), server_view.query(), server_view.host()),
            ("/feed", Some("since=3"), Some("[::1]:9001"))
        );
        let answer =
            accept_response(&Offer::of(&server_view), &Accept::new().subprotocol("v2")).unwrap();
        let (resp, used) = parse_response(&answer, &expected, &req, 4096, 32)
            .unwrap()
            .unwrap();
        assert_eq!((resp.subprotocol(), used), (Some("v2"), answer.len()));
    }

    quickcheck! {
        fn never_panics_on_arbitrary_bytes(buf: Vec<u8>, max: u16, slots: u8) -> bool {
            match parse_response(&buf, ACCEPT, &offer(), usize::from(max), usize::from(slots)) {
                Ok(Some((_, n))) => n <= buf.len(),
                _ => true,
            }
        }

        fn arbitrary_values_in_checked_headers(which: u8, value: Vec<u8>) -> bool {
            let names = [UPGRADE, CONNECTION, SEC_ACCEPT, SEC_PROTOCOL, SEC_EXTENSIONS];
            let name = names[usize::from(which) % names.len()];
            let value: Vec<u8> = value.into_iter().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
            let buf = with(&[name.as_bytes(), b": ", &value].concat());
            parse(&buf).map_or(true, |done| matches!(done, Some((_, n)) if n == buf.len()))
        }
    }
}
