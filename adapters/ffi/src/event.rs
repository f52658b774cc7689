//! What happened: the tagged event handed out to C, and the upgrade
//! request a server reads while that event is current.

use core::ffi::c_char;
use core::fmt::Write as _;

use wscore::{
    CloseCause, Direction, Event, HandshakeError, MessageKind, Request, StreamError, StreamEvent,
    TimeoutKind,
};

use crate::boundary::{out_view, str_in, write_out};
use crate::conn::{with_conn, wscore_conn, State};
use crate::result::wscore_result;

/// Which event a `wscore_event` is; it says which of its fields are set.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_event_kind {
    /// No event (written with `WSCORE_RESULT_DONE`).
    None = 0,
    /// Server: a client asks to upgrade; `data` is the request path
    /// (without the query). Answer with `wscore_conn_accept` or
    /// `wscore_conn_reject`; read headers with `wscore_conn_request_header`
    /// while this event is current.
    Request = 1,
    /// The handshake completed; `data` is the agreed subprotocol (empty
    /// for none).
    Connected = 2,
    /// A whole message: `message_kind` and `data`.
    Message = 3,
    /// Incremental mode: a message starts; `message_kind`.
    MessageStart = 4,
    /// Incremental mode: the next piece of the message in `data`. A text
    /// piece may end inside a character; the whole message is valid UTF-8.
    MessageData = 5,
    /// Incremental mode: the message is complete and valid.
    MessageEnd = 6,
    /// The peer sent a ping with payload `data`; the pong is already
    /// queued.
    Ping = 7,
    /// The peer sent a pong with payload `data`.
    Pong = 8,
    /// The peer sent a close frame: `close_code` (1005 for none) and its
    /// reason in `data`. Our reply is queued when this event is taken,
    /// after everything sent before.
    CloseReceived = 9,
    /// The connection is over; no event follows. `close_code`, the reason
    /// in `data`, `close_cause`, and with it `status` (rejected or failed
    /// handshakes), `timeout_kind` (timeouts) and a description of the
    /// error in `text` (protocol and handshake failures). Keep draining
    /// transmits until `wscore_conn_is_done`, then close the transport.
    Closed = 10,
    /// Incremental mode: an inbound stream starts: `stream_id`,
    /// `stream_total_len`, and its metadata in `data`.
    StreamStarted = 11,
    /// Incremental mode: the next bytes of inbound stream `stream_id`, in
    /// order, in `data`.
    StreamData = 12,
    /// Incremental mode: inbound stream `stream_id` is complete.
    StreamFinished = 13,
    /// Stream `stream_id` failed (`stream_direction` says whose it was);
    /// the connection stays open. `stream_error`, `abort_code` (what the
    /// peer was told, or what it said), the peer's reason in `data` when it
    /// aborted, and a description in `text`.
    StreamFailed = 14,
}

/// The kind of a message.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_message_kind {
    /// UTF-8 text (validated).
    Text = 0,
    /// Binary data.
    Binary = 1,
}

/// Why a connection ended (`WSCORE_EVENT_KIND_CLOSED`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_close_cause {
    /// Not a `CLOSED` event.
    None = 0,
    /// The peer started the close handshake and we answered.
    Remote = 1,
    /// We started the close handshake and the peer answered.
    Local = 2,
    /// The peer broke the protocol; we sent the matching close code
    /// (`close_code`); `text` says what it did.
    Protocol = 3,
    /// The opening handshake failed; `status` is the server's status when
    /// it refused a client, and otherwise the HTTP status that fits the
    /// failure (a server answered the client with it); `text` says why.
    Handshake = 4,
    /// The application rejected the upgrade with HTTP status `status`.
    Rejected = 5,
    /// A deadline passed: `timeout_kind`.
    Timeout = 6,
    /// The transport ended before the close handshake completed.
    Eof = 7,
    /// A cause this version of the C API does not name; `text` describes
    /// it.
    Other = 8,
}

/// Which deadline ended a connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_timeout_kind {
    /// Not a timeout.
    None = 0,
    /// The opening handshake took too long.
    Handshake = 1,
    /// The peer did not answer a keepalive ping.
    Keepalive = 2,
    /// The peer did not answer our close frame.
    Close = 3,
    /// A deadline this version of the C API does not name.
    Other = 4,
}

/// Whose stream failed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_stream_direction {
    /// The peer sends it.
    Inbound = 0,
    /// We send it.
    Outbound = 1,
}

/// Why one stream failed (`WSCORE_EVENT_KIND_STREAM_FAILED`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_stream_error {
    /// Not a stream failure.
    None = 0,
    /// A chunk for bytes already received.
    DuplicateChunk = 1,
    /// A chunk that skips ahead or runs past the announced length.
    OutOfRange = 2,
    /// The stream ended with another length than it announced.
    LengthMismatch = 3,
    /// A record for a stream that is not open.
    UnknownStream = 4,
    /// A stream opened while one with the same id is open.
    AlreadyOpen = 5,
    /// More inbound streams than the configured maximum.
    TooManyStreams = 6,
    /// Reassembly would hold more than the configured maximum.
    BufferLimit = 7,
    /// The stream or its metadata is over the configured maximum.
    TooLarge = 8,
    /// No chunk arrived within the stream's time to live.
    Expired = 9,
    /// The peer aborted or refused the stream (`abort_code`, reason in
    /// `data`).
    Aborted = 10,
    /// The application aborted the stream.
    Cancelled = 11,
    /// The data ended before the announced length.
    SourceFailed = 12,
    /// The connection ended before the stream completed.
    ConnectionClosed = 13,
    /// A failure this version of the C API does not name.
    Other = 14,
}

/// One event. `kind` says which fields are set; the others are zero, and
/// `data` and `text` are then empty. Byte views are never NULL (an empty
/// one has length 0) and are not NUL-terminated.
///
/// The views belong to the connection: they stay valid until the next
/// `wscore_conn_poll_event` on it, or until it is freed. Other calls
/// (sends, recv, transmits) leave them alone, so a message can be echoed
/// straight from `data`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct wscore_event {
    /// Which event this is.
    pub kind: wscore_event_kind,
    /// `MESSAGE`, `MESSAGE_START`: text or binary.
    pub message_kind: wscore_message_kind,
    /// The event's bytes (see each kind).
    pub data: *const u8,
    /// Their length.
    pub data_len: usize,
    /// `CLOSE_RECEIVED`, `CLOSED`: the close code.
    pub close_code: u16,
    /// `CLOSED`: why.
    pub close_cause: wscore_close_cause,
    /// `CLOSED`: the HTTP status of a rejected or failed handshake.
    pub status: u16,
    /// `CLOSED` by a timeout: which deadline.
    pub timeout_kind: wscore_timeout_kind,
    /// `STREAM_*`: the stream.
    pub stream_id: u32,
    /// `STREAM_STARTED`: its announced length.
    pub stream_total_len: u64,
    /// `STREAM_FAILED`: whose stream.
    pub stream_direction: wscore_stream_direction,
    /// `STREAM_FAILED`: why.
    pub stream_error: wscore_stream_error,
    /// `STREAM_FAILED`: the abort code told to the peer, or the peer's.
    pub abort_code: u32,
    /// `CLOSED`, `STREAM_FAILED`: a description of the error, for logs
    /// (empty when there is none).
    pub text: *const u8,
    /// Its length.
    pub text_len: usize,
}

impl wscore_event {
    fn empty() -> Self {
        let (data, data_len) = out_view(&[]);
        wscore_event {
            kind: wscore_event_kind::None,
            message_kind: wscore_message_kind::Text,
            data,
            data_len,
            close_code: 0,
            close_cause: wscore_close_cause::None,
            status: 0,
            timeout_kind: wscore_timeout_kind::None,
            stream_id: 0,
            stream_total_len: 0,
            stream_direction: wscore_stream_direction::Inbound,
            stream_error: wscore_stream_error::None,
            abort_code: 0,
            text: data,
            text_len: data_len,
        }
    }

    fn with_data(mut self, bytes: &[u8]) -> Self {
        (self.data, self.data_len) = out_view(bytes);
        self
    }
}

fn message_kind(kind: MessageKind) -> wscore_message_kind {
    match kind {
        MessageKind::Text => wscore_message_kind::Text,
        MessageKind::Binary => wscore_message_kind::Binary,
    }
}

/// The C view of `event`; descriptions of errors are written to `text`.
fn describe(event: &Event, text: &mut String) -> wscore_event {
    let e = wscore_event::empty();
    match event {
        Event::Request(request) => wscore_event {
            kind: wscore_event_kind::Request,
            ..e
        }
        .with_data(request.path().as_bytes()),
        Event::Connected(connected) => wscore_event {
            kind: wscore_event_kind::Connected,
            ..e
        }
        .with_data(connected.subprotocol.as_deref().unwrap_or("").as_bytes()),
        Event::Message(message) => wscore_event {
            kind: wscore_event_kind::Message,
            message_kind: message_kind(message.kind()),
            ..e
        }
        .with_data(message.payload()),
        Event::MessageStart(kind) => wscore_event {
            kind: wscore_event_kind::MessageStart,
            message_kind: message_kind(*kind),
            ..e
        },
        Event::MessageData(data) => wscore_event {
            kind: wscore_event_kind::MessageData,
            ..e
        }
        .with_data(data),
        Event::MessageEnd => wscore_event {
            kind: wscore_event_kind::MessageEnd,
            ..e
        },
        Event::Ping(data) => wscore_event {
            kind: wscore_event_kind::Ping,
            ..e
        }
        .with_data(data),
        Event::Pong(data) => wscore_event {
            kind: wscore_event_kind::Pong,
            ..e
        }
        .with_data(data),
        Event::CloseReceived(frame) => wscore_event {
            kind: wscore_event_kind::CloseReceived,
            close_code: frame.code.0,
            ..e
        }
        .with_data(frame.reason.as_bytes()),
        Event::Closed(closed) => {
            let mut event = wscore_event {
                kind: wscore_event_kind::Closed,
                close_code: closed.code.0,
                ..e
            }
            .with_data(closed.reason.as_bytes());
            event.close_cause = match &closed.cause {
                CloseCause::Remote => wscore_close_cause::Remote,
                CloseCause::Local => wscore_close_cause::Local,
                CloseCause::Protocol(error) => {
                    let _ = write!(text, "{error}");
                    wscore_close_cause::Protocol
                }
                CloseCause::Handshake(error) => {
                    let _ = write!(text, "{error}");
                    event.status = match error {
                        HandshakeError::Status(status) => *status,
                        _ => error.http_status(),
                    };
                    wscore_close_cause::Handshake
                }
                CloseCause::Rejected(status) => {
                    event.status = *status;
                    wscore_close_cause::Rejected
                }
                CloseCause::Timeout(kind) => {
                    event.timeout_kind = match kind {
                        TimeoutKind::Handshake => wscore_timeout_kind::Handshake,
                        TimeoutKind::Keepalive => wscore_timeout_kind::Keepalive,
                        TimeoutKind::Close => wscore_timeout_kind::Close,
                        _ => wscore_timeout_kind::Other,
                    };
                    wscore_close_cause::Timeout
                }
                CloseCause::Eof => wscore_close_cause::Eof,
                other => {
                    let _ = write!(text, "{other:?}");
                    wscore_close_cause::Other
                }
            };
            event
        }
        Event::Stream(stream) => describe_stream(stream, text, e),
        other => {
            // An event this version does not name still ends up somewhere
            // visible rather than vanishing: as a description.
            let _ = write!(text, "{other:?}");
            wscore_event {
                kind: wscore_event_kind::None,
                ..e
            }
        }
    }
}

fn describe_stream(stream: &StreamEvent, text: &mut String, e: wscore_event) -> wscore_event {
    match stream {
        StreamEvent::Started {
            id,
            total_len,
            metadata,
        } => wscore_event {
            kind: wscore_event_kind::StreamStarted,
            stream_id: *id,
            stream_total_len: *total_len,
            ..e
        }
        .with_data(metadata),
        StreamEvent::Data { id, data } => wscore_event {
            kind: wscore_event_kind::StreamData,
            stream_id: *id,
            ..e
        }
        .with_data(data),
        StreamEvent::Finished { id } => wscore_event {
            kind: wscore_event_kind::StreamFinished,
            stream_id: *id,
            ..e
        },
        StreamEvent::Failed {
            id,
            direction,
            error,
        } => {
            let _ = write!(text, "{error}");
            let reason = match error {
                StreamError::Aborted { reason, .. } => reason.as_bytes(),
                _ => &[],
            };
            wscore_event {
                kind: wscore_event_kind::StreamFailed,
                stream_id: *id,
                stream_direction: match direction {
                    Direction::Inbound => wscore_stream_direction::Inbound,
                    Direction::Outbound => wscore_stream_direction::Outbound,
                },
                stream_error: stream_error(error),
                abort_code: error.abort_code().0,
                ..e
            }
            .with_data(reason)
        }
        other => {
            let _ = write!(text, "{other:?}");
            e
        }
    }
}

fn stream_error(error: &StreamError) -> wscore_stream_error {
    match error {
        StreamError::DuplicateChunk { .. } => wscore_stream_error::DuplicateChunk,
        StreamError::OutOfRange { .. } => wscore_stream_error::OutOfRange,
        StreamError::LengthMismatch { .. } => wscore_stream_error::LengthMismatch,
        StreamError::UnknownStream => wscore_stream_error::UnknownStream,
        StreamError::AlreadyOpen => wscore_stream_error::AlreadyOpen,
        StreamError::TooManyStreams => wscore_stream_error::TooManyStreams,
        StreamError::BufferLimit => wscore_stream_error::BufferLimit,
        StreamError::TooLarge => wscore_stream_error::TooLarge,
        StreamError::Expired => wscore_stream_error::Expired,
        StreamError::Aborted { .. } => wscore_stream_error::Aborted,
        StreamError::Cancelled => wscore_stream_error::Cancelled,
        StreamError::SourceFailed => wscore_stream_error::SourceFailed,
        StreamError::ConnectionClosed => wscore_stream_error::ConnectionClosed,
        _ => wscore_stream_error::Other,
    }
}

/// Takes the next event into `*out`; `WSCORE_RESULT_DONE` (with
/// `out->kind` set to `WSCORE_EVENT_KIND_NONE`) when there is none.
///
/// This ends the views of the event taken before. Drain events after
/// every input and command, until `WSCORE_RESULT_DONE`; taking an event
/// can queue bytes to write (the reply to a close), so drain transmits
/// after events too.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_poll_event(
    conn: *mut wscore_conn,
    out: *mut wscore_event,
) -> wscore_result {
    if out.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            state.event_text.clear();
            state.event = state.engine.poll_event();
            let Some(event) = &state.event else {
                write_out(out, wscore_event::empty());
                return wscore_result::Done;
            };
            let mut described = describe(event, &mut state.event_text);
            (described.text, described.text_len) = out_view(state.event_text.as_bytes());
            write_out(out, described);
            wscore_result::Ok
        })
    }
}

/// The upgrade request of the current event, if that is a `REQUEST`.
fn current_request(state: &State) -> Option<&Request> {
    match &state.event {
        Some(Event::Request(request)) => Some(request),
        _ => None,
    }
}

/// Server, while a `WSCORE_EVENT_KIND_REQUEST` is the current event:
/// stores in `*out_value` and `*out_len` the value of the first header
/// called `name` (NUL-terminated, compared without regard to ASCII case).
/// `WSCORE_RESULT_DONE` when there is no such header;
/// `WSCORE_RESULT_NO_PENDING_REQUEST` when the current event is not a
/// request. The view lives as long as the event's views.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `name` NULL or a
/// NUL-terminated string; `out_value` and `out_len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_request_header(
    conn: *mut wscore_conn,
    name: *const c_char,
    out_value: *mut *const u8,
    out_len: *mut usize,
) -> wscore_result {
    if out_value.is_null() || out_len.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    let name = match unsafe { str_in(name) } {
        Ok(name) => name,
        Err(code) => return code,
    };
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            let Some(request) = current_request(state) else {
                return wscore_result::NoPendingRequest;
            };
            match request.header(name) {
                Some(value) => {
                    let (ptr, len) = out_view(value);
                    write_out(out_value, ptr);
                    write_out(out_len, len);
                    wscore_result::Ok
                }
                None => wscore_result::Done,
            }
        })
    }
}

/// Server, while a `WSCORE_EVENT_KIND_REQUEST` is the current event:
/// stores in `*out_name` and `*out_len` the subprotocol the client offered
/// at `index` (in its order of preference), or answers
/// `WSCORE_RESULT_DONE` past the last one. The view lives as long as the
/// event's views.
///
/// # Safety
///
/// As for `wscore_conn_request_header`.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_request_subprotocol(
    conn: *mut wscore_conn,
    index: usize,
    out_name: *mut *const u8,
    out_len: *mut usize,
) -> wscore_result {
    if out_name.is_null() || out_len.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            let Some(request) = current_request(state) else {
                return wscore_result::NoPendingRequest;
            };
            match request.subprotocols().get(index) {
                Some(name) => {
                    let (ptr, len) = out_view(name.as_bytes());
                    write_out(out_name, ptr);
                    write_out(out_len, len);
                    wscore_result::Ok
                }
                None => wscore_result::Done,
            }
        })
    }
}

/// Server, while a `WSCORE_EVENT_KIND_REQUEST` is the current event:
/// stores in `*out_query` and `*out_len` the request target after its
/// first `?` (the event's `data` is the path before it), or answers
/// `WSCORE_RESULT_DONE` when the target has no `?`. The view lives as long
/// as the event's views.
///
/// # Safety
///
/// `conn` must be NULL or a live connection; `out_query` and `out_len`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wscore_conn_request_query(
    conn: *mut wscore_conn,
    out_query: *mut *const u8,
    out_len: *mut usize,
) -> wscore_result {
    if out_query.is_null() || out_len.is_null() {
        return wscore_result::NullArgument;
    }
    // SAFETY: per the contract.
    unsafe {
        with_conn(conn, |state| {
            let Some(request) = current_request(state) else {
                return wscore_result::NoPendingRequest;
            };
            match request.query() {
                Some(query) => {
                    let (ptr, len) = out_view(query.as_bytes());
                    write_out(out_query, ptr);
                    write_out(out_len, len);
                    wscore_result::Ok
                }
                None => wscore_result::Done,
            }
        })
    }
}
