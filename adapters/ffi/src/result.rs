//! The result code every fallible call returns, and its names.

use core::ffi::c_char;

use wscore::{SendError, SetupError};

/// What a call did. `WSCORE_RESULT_OK` is 0; every other value says why
/// the call did nothing (apart from `WSCORE_RESULT_PANIC`, after which the
/// connection is unusable). Out-parameters are written only on
/// `WSCORE_RESULT_OK`, except where a function says otherwise.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum wscore_result {
    /// The call did what it was asked.
    Ok = 0,
    /// Nothing more: no transmit, no event, no deadline, no such header.
    /// Not an error.
    Done = 1,
    /// A pointer argument that must not be NULL was NULL (or a data
    /// pointer was NULL with a length that is not 0).
    NullArgument = 2,
    /// An argument is outside what the function accepts: a value that is
    /// not one of its enum's, a seed that is not 32 bytes, a count of
    /// written bytes larger than the transmit, a length over `PTRDIFF_MAX`
    /// bytes, a misaligned array.
    InvalidArgument = 3,
    /// A string or text message that is not valid UTF-8.
    InvalidUtf8 = 4,
    /// A configuration value that cannot work (zero limits, a window
    /// outside 8..=15, ...); the configuration is unchanged.
    InvalidConfig = 5,
    /// The client's upgrade request cannot be written (a host or path
    /// with a line break, a subprotocol that is not a token).
    InvalidRequest = 6,
    /// The handshake has not completed: no data may be sent yet.
    NotOpen = 7,
    /// A close frame was queued: no more data may follow.
    Closing = 8,
    /// The connection is closed.
    Closed = 9,
    /// A ping, pong or close payload over 125 bytes (a close reason over
    /// 123).
    ControlPayloadTooLong = 10,
    /// A close code that may not be sent.
    InvalidCloseCode = 11,
    /// Accept, reject or a request accessor while no upgrade request
    /// waits for an answer.
    NoPendingRequest = 12,
    /// The handshake answer cannot be written (an HTTP status outside
    /// 100..=599, a subprotocol the client did not offer).
    HandshakeAnswer = 13,
    /// Streams need a subprotocol that names the streamed envelope.
    StreamsNotNegotiated = 14,
    /// No outbound stream with this id is being sent.
    UnknownStream = 15,
    /// Bytes pushed to a stream that was not opened with
    /// `wscore_conn_open_stream`.
    NotPushed = 16,
    /// Bytes pushed past a stream's announced length; nothing was queued.
    PushPastEnd = 17,
    /// A stream longer than the configured sending limit; nothing was
    /// queued.
    StreamTooLarge = 18,
    /// `wscore_conn_transmit_written` while no transmit is handed out.
    NoTransmit = 19,
    /// The engine panicked inside this call (a bug in the engine). The
    /// panic was caught at the boundary; the connection is poisoned.
    Panic = 20,
    /// An earlier call panicked; the connection does nothing but free.
    Poisoned = 21,
}

impl From<SendError> for wscore_result {
    fn from(error: SendError) -> Self {
        match error {
            SendError::NotOpen => wscore_result::NotOpen,
            SendError::Closing => wscore_result::Closing,
            SendError::Closed => wscore_result::Closed,
            SendError::ControlPayloadTooLong(_) => wscore_result::ControlPayloadTooLong,
            SendError::InvalidCloseCode(_) => wscore_result::InvalidCloseCode,
            SendError::NoPendingRequest => wscore_result::NoPendingRequest,
            SendError::Handshake(_) => wscore_result::HandshakeAnswer,
            SendError::StreamsNotNegotiated => wscore_result::StreamsNotNegotiated,
            SendError::UnknownStream(_) => wscore_result::UnknownStream,
            SendError::NotPushed(_) => wscore_result::NotPushed,
            SendError::PushPastEnd { .. } => wscore_result::PushPastEnd,
            SendError::StreamTooLarge { .. } => wscore_result::StreamTooLarge,
            // A refusal added to the engine later is still the caller's
            // to handle, not a failure of the connection.
            _ => wscore_result::InvalidArgument,
        }
    }
}

impl From<SetupError> for wscore_result {
    fn from(error: SetupError) -> Self {
        match error {
            SetupError::Config(_) => wscore_result::InvalidConfig,
            _ => wscore_result::InvalidRequest,
        }
    }
}

/// Turns a `Result` of the engine into the code of the boundary.
pub(crate) fn code<E: Into<wscore_result>>(result: Result<(), E>) -> wscore_result {
    match result {
        Ok(()) => wscore_result::Ok,
        Err(error) => error.into(),
    }
}

/// The name of a result code (`"WSCORE_RESULT_OK"`, ...), or
/// `"WSCORE_RESULT_UNKNOWN"` for a value that is none of them.
///
/// The string is static and NUL-terminated: never free it. The code is
/// taken as an integer so that any value is safe to pass.
#[no_mangle]
pub extern "C" fn wscore_result_name(code: u32) -> *const c_char {
    let name: &'static core::ffi::CStr = match code {
        0 => c"WSCORE_RESULT_OK",
        1 => c"WSCORE_RESULT_DONE",
        2 => c"WSCORE_RESULT_NULL_ARGUMENT",
        3 => c"WSCORE_RESULT_INVALID_ARGUMENT",
        4 => c"WSCORE_RESULT_INVALID_UTF8",
        5 => c"WSCORE_RESULT_INVALID_CONFIG",
        6 => c"WSCORE_RESULT_INVALID_REQUEST",
        7 => c"WSCORE_RESULT_NOT_OPEN",
        8 => c"WSCORE_RESULT_CLOSING",
        9 => c"WSCORE_RESULT_CLOSED",
        10 => c"WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG",
        11 => c"WSCORE_RESULT_INVALID_CLOSE_CODE",
        12 => c"WSCORE_RESULT_NO_PENDING_REQUEST",
        13 => c"WSCORE_RESULT_HANDSHAKE_ANSWER",
        14 => c"WSCORE_RESULT_STREAMS_NOT_NEGOTIATED",
        15 => c"WSCORE_RESULT_UNKNOWN_STREAM",
        16 => c"WSCORE_RESULT_NOT_PUSHED",
        17 => c"WSCORE_RESULT_PUSH_PAST_END",
        18 => c"WSCORE_RESULT_STREAM_TOO_LARGE",
        19 => c"WSCORE_RESULT_NO_TRANSMIT",
        20 => c"WSCORE_RESULT_PANIC",
        21 => c"WSCORE_RESULT_POISONED",
        _ => c"WSCORE_RESULT_UNKNOWN",
    };
    name.as_ptr()
}

/// The version of the library (`"0.1.0"`): static and NUL-terminated,
/// never freed. Compare it with the header's at start-up when the library
/// is linked dynamically.
#[no_mangle]
pub extern "C" fn wscore_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
