/*
 * wscore: the C ABI of a sans-IO WebSocket engine (RFC 6455, RFC 7692).
 *
 * The loop: feed what the socket read to wscore_conn_recv (its end to
 * wscore_conn_eof); then take events with wscore_conn_poll_event and bytes
 * to write with wscore_conn_poll_transmit (reporting what was written with
 * wscore_conn_transmit_written), each until WSCORE_RESULT_DONE; then sleep
 * until the socket is readable or wscore_conn_timeout_ns's deadline, and
 * call wscore_conn_on_timeout. Time is nanoseconds on a monotonic clock.
 *
 * Every fallible call returns a wscore_result (0 is OK). Bytes passed in
 * are copied before a call returns; views handed out belong to the
 * connection, each until the call its documentation names. A panic is
 * caught at the boundary and poisons the connection.
 *
 * Generated from adapters/ffi/src by cbindgen; do not edit by hand
 * (scripts/ffi.sh regenerates it). See docs/c-api.md for the loop in C,
 * the ownership of every pointer and how to link.
 */

#ifndef WSCORE_H
#define WSCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * Why a connection ended (`WSCORE_EVENT_KIND_CLOSED`).
 */
typedef enum wscore_close_cause {
  /**
   * Not a `CLOSED` event.
   */
  WSCORE_CLOSE_CAUSE_NONE = 0,
  /**
   * The peer started the close handshake and we answered.
   */
  WSCORE_CLOSE_CAUSE_REMOTE = 1,
  /**
   * We started the close handshake and the peer answered.
   */
  WSCORE_CLOSE_CAUSE_LOCAL = 2,
  /**
   * The peer broke the protocol; we sent the matching close code
   * (`close_code`); `text` says what it did.
   */
  WSCORE_CLOSE_CAUSE_PROTOCOL = 3,
  /**
   * The opening handshake failed; `status` is the server's status when
   * it refused a client, and otherwise the HTTP status that fits the
   * failure (a server answered the client with it); `text` says why.
   */
  WSCORE_CLOSE_CAUSE_HANDSHAKE = 4,
  /**
   * The application rejected the upgrade with HTTP status `status`.
   */
  WSCORE_CLOSE_CAUSE_REJECTED = 5,
  /**
   * A deadline passed: `timeout_kind`.
   */
  WSCORE_CLOSE_CAUSE_TIMEOUT = 6,
  /**
   * The transport ended before the close handshake completed.
   */
  WSCORE_CLOSE_CAUSE_EOF = 7,
  /**
   * A cause this version of the C API does not name; `text` describes
   * it.
   */
  WSCORE_CLOSE_CAUSE_OTHER = 8,
} wscore_close_cause;

/**
 * How the messages of a subprotocol are carried
 * (`wscore_config_add_subprotocol`); see docs/batching.md and
 * docs/streaming.md for the wire formats.
 */
typedef enum wscore_envelope {
  /**
   * One logical message per WebSocket message.
   */
  WSCORE_ENVELOPE_PLAIN = 0,
  /**
   * Binary WebSocket messages are batches of logical messages, each
   * prefixed with its length as a varint.
   */
  WSCORE_ENVELOPE_BATCHED = 1,
  /**
   * Batching plus streams: large payloads as chunked streams that
   * interleave with other messages.
   */
  WSCORE_ENVELOPE_STREAMED = 2,
} wscore_envelope;

/**
 * Which event a `wscore_event` is; it says which of its fields are set.
 */
typedef enum wscore_event_kind {
  /**
   * No event (written with `WSCORE_RESULT_DONE`).
   */
  WSCORE_EVENT_KIND_NONE = 0,
  /**
   * Server: a client asks to upgrade; `data` is the request path
   * (without the query). Answer with `wscore_conn_accept` or
   * `wscore_conn_reject`; read headers with `wscore_conn_request_header`
   * while this event is current.
   */
  WSCORE_EVENT_KIND_REQUEST = 1,
  /**
   * The handshake completed; `data` is the agreed subprotocol (empty
   * for none).
   */
  WSCORE_EVENT_KIND_CONNECTED = 2,
  /**
   * A whole message: `message_kind` and `data`.
   */
  WSCORE_EVENT_KIND_MESSAGE = 3,
  /**
   * Incremental mode: a message starts; `message_kind`.
   */
  WSCORE_EVENT_KIND_MESSAGE_START = 4,
  /**
   * Incremental mode: the next piece of the message in `data`. A text
   * piece may end inside a character; the whole message is valid UTF-8.
   */
  WSCORE_EVENT_KIND_MESSAGE_DATA = 5,
  /**
   * Incremental mode: the message is complete and valid.
   */
  WSCORE_EVENT_KIND_MESSAGE_END = 6,
  /**
   * The peer sent a ping with payload `data`; the pong is already
   * queued.
   */
  WSCORE_EVENT_KIND_PING = 7,
  /**
   * The peer sent a pong with payload `data`.
   */
  WSCORE_EVENT_KIND_PONG = 8,
  /**
   * The peer sent a close frame: `close_code` (1005 for none) and its
   * reason in `data`. Our reply is queued when this event is taken,
   * after everything sent before.
   */
  WSCORE_EVENT_KIND_CLOSE_RECEIVED = 9,
  /**
   * The connection is over; no event follows. `close_code`, the reason
   * in `data`, `close_cause`, and with it `status` (rejected or failed
   * handshakes), `timeout_kind` (timeouts) and a description of the
   * error in `text` (protocol and handshake failures). Keep draining
   * transmits until `wscore_conn_is_done`, then close the transport.
   */
  WSCORE_EVENT_KIND_CLOSED = 10,
  /**
   * Incremental mode: an inbound stream starts: `stream_id`,
   * `stream_total_len`, and its metadata in `data`.
   */
  WSCORE_EVENT_KIND_STREAM_STARTED = 11,
  /**
   * Incremental mode: the next bytes of inbound stream `stream_id`, in
   * order, in `data`.
   */
  WSCORE_EVENT_KIND_STREAM_DATA = 12,
  /**
   * Incremental mode: inbound stream `stream_id` is complete.
   */
  WSCORE_EVENT_KIND_STREAM_FINISHED = 13,
  /**
   * Stream `stream_id` failed (`stream_direction` says whose it was);
   * the connection stays open. `stream_error`, `abort_code` (what the
   * peer was told, or what it said), the peer's reason in `data` when it
   * aborted, and a description in `text`.
   */
  WSCORE_EVENT_KIND_STREAM_FAILED = 14,
} wscore_event_kind;

/**
 * The kind of a message.
 */
typedef enum wscore_message_kind {
  /**
   * UTF-8 text (validated).
   */
  WSCORE_MESSAGE_KIND_TEXT = 0,
  /**
   * Binary data.
   */
  WSCORE_MESSAGE_KIND_BINARY = 1,
} wscore_message_kind;

/**
 * How received messages are handed out (`wscore_config_set_receive_mode`).
 */
typedef enum wscore_receive_mode {
  /**
   * One `WSCORE_EVENT_KIND_MESSAGE` per message, reassembled from its
   * fragments and bounded by the maximum message size. The default.
   */
  WSCORE_RECEIVE_MODE_WHOLE = 0,
  /**
   * `MESSAGE_START`, any number of `MESSAGE_DATA` pieces, then
   * `MESSAGE_END`, as bytes arrive; streams likewise as
   * `STREAM_STARTED`, `STREAM_DATA` and `STREAM_FINISHED`.
   */
  WSCORE_RECEIVE_MODE_INCREMENTAL = 1,
} wscore_receive_mode;

/**
 * What a call did. `WSCORE_RESULT_OK` is 0; every other value says why
 * the call did nothing (apart from `WSCORE_RESULT_PANIC`, after which the
 * connection is unusable). Out-parameters are written only on
 * `WSCORE_RESULT_OK`, except where a function says otherwise.
 */
typedef enum wscore_result {
  /**
   * The call did what it was asked.
   */
  WSCORE_RESULT_OK = 0,
  /**
   * Nothing more: no transmit, no event, no deadline, no such header.
   * Not an error.
   */
  WSCORE_RESULT_DONE = 1,
  /**
   * A pointer argument that must not be NULL was NULL (or a data
   * pointer was NULL with a length that is not 0).
   */
  WSCORE_RESULT_NULL_ARGUMENT = 2,
  /**
   * An argument is outside what the function accepts: a value that is
   * not one of its enum's, a seed that is not 32 bytes, a count of
   * written bytes larger than the transmit, a length over `PTRDIFF_MAX`
   * bytes, a misaligned array.
   */
  WSCORE_RESULT_INVALID_ARGUMENT = 3,
  /**
   * A string or text message that is not valid UTF-8.
   */
  WSCORE_RESULT_INVALID_UTF8 = 4,
  /**
   * A configuration value that cannot work (zero limits, a window
   * outside 8..=15, ...); the configuration is unchanged.
   */
  WSCORE_RESULT_INVALID_CONFIG = 5,
  /**
   * The client's upgrade request cannot be written (a host or path
   * with a line break, a subprotocol that is not a token).
   */
  WSCORE_RESULT_INVALID_REQUEST = 6,
  /**
   * The handshake has not completed: no data may be sent yet.
   */
  WSCORE_RESULT_NOT_OPEN = 7,
  /**
   * A close frame was queued: no more data may follow.
   */
  WSCORE_RESULT_CLOSING = 8,
  /**
   * The connection is closed.
   */
  WSCORE_RESULT_CLOSED = 9,
  /**
   * A ping, pong or close payload over 125 bytes (a close reason over
   * 123).
   */
  WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG = 10,
  /**
   * A close code that may not be sent.
   */
  WSCORE_RESULT_INVALID_CLOSE_CODE = 11,
  /**
   * Accept, reject or a request accessor while no upgrade request
   * waits for an answer.
   */
  WSCORE_RESULT_NO_PENDING_REQUEST = 12,
  /**
   * The handshake answer cannot be written (an HTTP status outside
   * 100..=599, a subprotocol the client did not offer).
   */
  WSCORE_RESULT_HANDSHAKE_ANSWER = 13,
  /**
   * Streams need a subprotocol that names the streamed envelope.
   */
  WSCORE_RESULT_STREAMS_NOT_NEGOTIATED = 14,
  /**
   * No outbound stream with this id is being sent.
   */
  WSCORE_RESULT_UNKNOWN_STREAM = 15,
  /**
   * Bytes pushed to a stream that was not opened with
   * `wscore_conn_open_stream`.
   */
  WSCORE_RESULT_NOT_PUSHED = 16,
  /**
   * Bytes pushed past a stream's announced length; nothing was queued.
   */
  WSCORE_RESULT_PUSH_PAST_END = 17,
  /**
   * A stream longer than the configured sending limit; nothing was
   * queued.
   */
  WSCORE_RESULT_STREAM_TOO_LARGE = 18,
  /**
   * `wscore_conn_transmit_written` while no transmit is handed out.
   */
  WSCORE_RESULT_NO_TRANSMIT = 19,
  /**
   * The engine panicked inside this call (a bug in the engine). The
   * panic was caught at the boundary; the connection is poisoned.
   */
  WSCORE_RESULT_PANIC = 20,
  /**
   * An earlier call panicked; the connection does nothing but free.
   */
  WSCORE_RESULT_POISONED = 21,
} wscore_result;

/**
 * Whose stream failed.
 */
typedef enum wscore_stream_direction {
  /**
   * The peer sends it.
   */
  WSCORE_STREAM_DIRECTION_INBOUND = 0,
  /**
   * We send it.
   */
  WSCORE_STREAM_DIRECTION_OUTBOUND = 1,
} wscore_stream_direction;

/**
 * Why one stream failed (`WSCORE_EVENT_KIND_STREAM_FAILED`).
 */
typedef enum wscore_stream_error {
  /**
   * Not a stream failure.
   */
  WSCORE_STREAM_ERROR_NONE = 0,
  /**
   * A chunk for bytes already received.
   */
  WSCORE_STREAM_ERROR_DUPLICATE_CHUNK = 1,
  /**
   * A chunk that skips ahead or runs past the announced length.
   */
  WSCORE_STREAM_ERROR_OUT_OF_RANGE = 2,
  /**
   * The stream ended with another length than it announced.
   */
  WSCORE_STREAM_ERROR_LENGTH_MISMATCH = 3,
  /**
   * A record for a stream that is not open.
   */
  WSCORE_STREAM_ERROR_UNKNOWN_STREAM = 4,
  /**
   * A stream opened while one with the same id is open.
   */
  WSCORE_STREAM_ERROR_ALREADY_OPEN = 5,
  /**
   * More inbound streams than the configured maximum.
   */
  WSCORE_STREAM_ERROR_TOO_MANY_STREAMS = 6,
  /**
   * Reassembly would hold more than the configured maximum.
   */
  WSCORE_STREAM_ERROR_BUFFER_LIMIT = 7,
  /**
   * The stream or its metadata is over the configured maximum.
   */
  WSCORE_STREAM_ERROR_TOO_LARGE = 8,
  /**
   * No chunk arrived within the stream's time to live.
   */
  WSCORE_STREAM_ERROR_EXPIRED = 9,
  /**
   * The peer aborted or refused the stream (`abort_code`, reason in
   * `data`).
   */
  WSCORE_STREAM_ERROR_ABORTED = 10,
  /**
   * The application aborted the stream.
   */
  WSCORE_STREAM_ERROR_CANCELLED = 11,
  /**
   * The data ended before the announced length.
   */
  WSCORE_STREAM_ERROR_SOURCE_FAILED = 12,
  /**
   * The connection ended before the stream completed.
   */
  WSCORE_STREAM_ERROR_CONNECTION_CLOSED = 13,
  /**
   * A failure this version of the C API does not name.
   */
  WSCORE_STREAM_ERROR_OTHER = 14,
} wscore_stream_error;

/**
 * Which deadline ended a connection.
 */
typedef enum wscore_timeout_kind {
  /**
   * Not a timeout.
   */
  WSCORE_TIMEOUT_KIND_NONE = 0,
  /**
   * The opening handshake took too long.
   */
  WSCORE_TIMEOUT_KIND_HANDSHAKE = 1,
  /**
   * The peer did not answer a keepalive ping.
   */
  WSCORE_TIMEOUT_KIND_KEEPALIVE = 2,
  /**
   * The peer did not answer our close frame.
   */
  WSCORE_TIMEOUT_KIND_CLOSE = 3,
  /**
   * A deadline this version of the C API does not name.
   */
  WSCORE_TIMEOUT_KIND_OTHER = 4,
} wscore_timeout_kind;

/**
 * Settings for connections: limits, timers, receive mode,
 * permessage-deflate and subprotocols.
 *
 * Made by `wscore_config_new` with the engine's defaults (safe for a
 * server facing the internet), owned by the caller, freed with
 * `wscore_config_free`. Constructors copy it: it may be changed or freed
 * right after a connection was built from it.
 */
typedef struct wscore_config wscore_config;

/**
 * One WebSocket connection, client or server: the engine's state machine.
 *
 * Made by `wscore_conn_client` or `wscore_conn_server`, owned by the
 * caller, freed with `wscore_conn_free`. A connection is not
 * thread-safe: calls on one connection must not overlap (different
 * connections may be used from different threads).
 */
typedef struct wscore_conn wscore_conn;

/**
 * permessage-deflate settings (`wscore_config_set_deflate`). Start from
 * `wscore_deflate_options_default()` and change what you need.
 */
typedef struct wscore_deflate_options {
  /**
   * Compression level, 0 (store) to 9 (smallest). Default 1.
   */
  uint32_t level;
  /**
   * Messages shorter than this many bytes are sent uncompressed.
   * Default 32.
   */
  size_t threshold;
  /**
   * Compress every message, whatever its size (`threshold` is
   * ignored). Default false.
   */
  bool always_compress;
  /**
   * Ask (client) or require (server) that the server compress every
   * message on its own. Default false.
   */
  bool server_no_context_takeover;
  /**
   * Promise (client) or require (server) that the client compress every
   * message on its own. Default false.
   */
  bool client_no_context_takeover;
  /**
   * The largest server window, as a base-2 logarithm in 8..=15.
   * Default 15.
   */
  uint8_t server_max_window_bits;
  /**
   * The largest client window, as a base-2 logarithm in 8..=15.
   * Default 15.
   */
  uint8_t client_max_window_bits;
} wscore_deflate_options;

/**
 * One header of a client's upgrade request
 * (`wscore_conn_client_with_headers`).
 */
typedef struct wscore_header {
  /**
   * The field name: NUL-terminated UTF-8.
   */
  const char *name;
  /**
   * The field value: `value_len` bytes (NULL when 0), without CR, LF
   * or NUL.
   */
  const uint8_t *value;
  /**
   * The value's length.
   */
  size_t value_len;
} wscore_header;

/**
 * One event. `kind` says which fields are set; the others are zero, and
 * `data` and `text` are then empty. Byte views are never NULL (an empty
 * one has length 0) and are not NUL-terminated.
 *
 * The views belong to the connection: they stay valid until the next
 * `wscore_conn_poll_event` on it, or until it is freed. Other calls
 * (sends, recv, transmits) leave them alone, so a message can be echoed
 * straight from `data`.
 */
typedef struct wscore_event {
  /**
   * Which event this is.
   */
  enum wscore_event_kind kind;
  /**
   * `MESSAGE`, `MESSAGE_START`: text or binary.
   */
  enum wscore_message_kind message_kind;
  /**
   * The event's bytes (see each kind).
   */
  const uint8_t *data;
  /**
   * Their length.
   */
  size_t data_len;
  /**
   * `CLOSE_RECEIVED`, `CLOSED`: the close code.
   */
  uint16_t close_code;
  /**
   * `CLOSED`: why.
   */
  enum wscore_close_cause close_cause;
  /**
   * `CLOSED`: the HTTP status of a rejected or failed handshake.
   */
  uint16_t status;
  /**
   * `CLOSED` by a timeout: which deadline.
   */
  enum wscore_timeout_kind timeout_kind;
  /**
   * `STREAM_*`: the stream.
   */
  uint32_t stream_id;
  /**
   * `STREAM_STARTED`: its announced length.
   */
  uint64_t stream_total_len;
  /**
   * `STREAM_FAILED`: whose stream.
   */
  enum wscore_stream_direction stream_direction;
  /**
   * `STREAM_FAILED`: why.
   */
  enum wscore_stream_error stream_error;
  /**
   * `STREAM_FAILED`: the abort code told to the peer, or the peer's.
   */
  uint32_t abort_code;
  /**
   * `CLOSED`, `STREAM_FAILED`: a description of the error, for logs
   * (empty when there is none).
   */
  const uint8_t *text;
  /**
   * Its length.
   */
  size_t text_len;
} wscore_event;

/**
 * Bytes to write to the transport, in order: `header` then `payload`
 * (two pieces, for `writev`). Either may be empty; neither pointer is
 * NULL.
 *
 * Both views belong to the connection. They stay valid, unchanged, until
 * `wscore_conn_transmit_written` reports their last byte written, or the
 * connection is freed; other calls (recv, send, poll_event, ...) leave
 * them alone.
 */
typedef struct wscore_transmit {
  /**
   * The frame header still to write (empty for the handshake, whose
   * bytes are all payload).
   */
  const uint8_t *header;
  /**
   * Its length.
   */
  size_t header_len;
  /**
   * The payload still to write.
   */
  const uint8_t *payload;
  /**
   * Its length.
   */
  size_t payload_len;
} wscore_transmit;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Queues a text message of `len` bytes of UTF-8 (checked:
 * `WSCORE_RESULT_INVALID_UTF8` otherwise), written after every message
 * queued before it. `data` may be NULL when `len` is 0.
 *
 * Errors: `WSCORE_RESULT_NOT_OPEN` before the handshake completed,
 * `WSCORE_RESULT_CLOSING` after a close frame was queued,
 * `WSCORE_RESULT_CLOSED`. The connection is unharmed by any of them.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `data` NULL or `len`
 * readable bytes.
 */
enum wscore_result wscore_conn_send_text(struct wscore_conn *conn, const uint8_t *data, size_t len);

/**
 * Queues a binary message of `len` bytes, like `wscore_conn_send_text`.
 * On a streamed subprotocol a message over the stream threshold goes out
 * as a stream.
 *
 * # Safety
 *
 * As for `wscore_conn_send_text`.
 */
enum wscore_result wscore_conn_send_binary(struct wscore_conn *conn,
                                           const uint8_t *data,
                                           size_t len);

/**
 * Queues a ping with a payload of at most 125 bytes
 * (`WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG` otherwise). Pings go ahead of
 * queued data.
 *
 * # Safety
 *
 * As for `wscore_conn_send_text`.
 */
enum wscore_result wscore_conn_ping(struct wscore_conn *conn, const uint8_t *data, size_t len);

/**
 * Queues an unsolicited pong (a one-way heartbeat) with a payload of at
 * most 125 bytes. Pings received are answered without this call.
 *
 * # Safety
 *
 * As for `wscore_conn_send_text`.
 */
enum wscore_result wscore_conn_pong(struct wscore_conn *conn, const uint8_t *data, size_t len);

/**
 * Starts the close handshake with `code` and a UTF-8 `reason` of at most
 * 123 bytes, or answers the peer's close if it has arrived. The close
 * frame follows every message already queued; nothing may be sent after
 * it. Code 1005 with an empty reason sends a close frame without a code.
 *
 * Errors: `WSCORE_RESULT_INVALID_CLOSE_CODE` (a code that may not be
 * sent, such as 1006 or 999), `WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG`,
 * `WSCORE_RESULT_INVALID_UTF8`, and those of `wscore_conn_send_text`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `reason` NULL or
 * `reason_len` readable bytes.
 */
enum wscore_result wscore_conn_close(struct wscore_conn *conn,
                                     uint64_t now_ns,
                                     uint16_t code_value,
                                     const uint8_t *reason,
                                     size_t reason_len);

/**
 * Server: accepts the pending upgrade request, choosing `subprotocol`
 * (NUL-terminated; it must be one the client offered), or when NULL the
 * first subprotocol of the configuration that the client offered. The
 * `101` response is the next transmit, and messages may be sent at once.
 *
 * Errors: `WSCORE_RESULT_NO_PENDING_REQUEST`,
 * `WSCORE_RESULT_HANDSHAKE_ANSWER` (a subprotocol the client did not
 * offer), `WSCORE_RESULT_INVALID_UTF8`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `subprotocol` NULL or a
 * NUL-terminated string.
 */
enum wscore_result wscore_conn_accept(struct wscore_conn *conn,
                                      uint64_t now_ns,
                                      const char *subprotocol);

/**
 * Server: rejects the pending upgrade request with HTTP `status` (in
 * 100..=599, not 101) and a body of `body_len` bytes (NULL when 0). The
 * response is the next transmit; the connection then ends with a
 * `CLOSED` event whose cause is `WSCORE_CLOSE_CAUSE_REJECTED`.
 *
 * Errors: `WSCORE_RESULT_NO_PENDING_REQUEST`,
 * `WSCORE_RESULT_HANDSHAKE_ANSWER` (a status that cannot be sent).
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `body` NULL or `body_len`
 * readable bytes.
 */
enum wscore_result wscore_conn_reject(struct wscore_conn *conn,
                                      uint16_t status,
                                      const uint8_t *body,
                                      size_t body_len);

/**
 * Sends `len` bytes as one stream with `metadata` for the receiver (for
 * example a content type), on a connection whose subprotocol names the
 * streamed envelope, and stores its id in `*out_id`. The bytes are copied
 * and cut into chunk records as they are written, interleaved with other
 * messages.
 *
 * Errors: `WSCORE_RESULT_STREAMS_NOT_NEGOTIATED`,
 * `WSCORE_RESULT_STREAM_TOO_LARGE`, and those of `wscore_conn_send_text`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `data` and `metadata` NULL
 * or readable for their lengths; `out_id` NULL or writable.
 */
enum wscore_result wscore_conn_send_stream(struct wscore_conn *conn,
                                           const uint8_t *data,
                                           size_t len,
                                           const uint8_t *metadata,
                                           size_t metadata_len,
                                           uint32_t *out_id);

/**
 * Opens a stream of `total_len` bytes whose data is pushed later with
 * `wscore_conn_push_stream`, and stores its id in `*out_id`. Nothing is
 * written until the first bytes are pushed; the end record follows the
 * last of the `total_len` bytes by itself.
 *
 * Errors: as for `wscore_conn_send_stream`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `metadata` NULL or readable
 * for `metadata_len`; `out_id` NULL or writable.
 */
enum wscore_result wscore_conn_open_stream(struct wscore_conn *conn,
                                           uint64_t total_len,
                                           const uint8_t *metadata,
                                           size_t metadata_len,
                                           uint32_t *out_id);

/**
 * Queues the next `len` bytes (copied) of stream `id`, opened with
 * `wscore_conn_open_stream`. They count in `wscore_conn_queued_bytes`
 * until written: push while that is under your limit.
 *
 * Errors: `WSCORE_RESULT_UNKNOWN_STREAM`, `WSCORE_RESULT_NOT_PUSHED` (a
 * stream from `wscore_conn_send_stream`), `WSCORE_RESULT_PUSH_PAST_END`
 * (nothing queued).
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `data` NULL or readable for
 * `len`.
 */
enum wscore_result wscore_conn_push_stream(struct wscore_conn *conn,
                                           uint32_t id,
                                           const uint8_t *data,
                                           size_t len);

/**
 * Stops sending stream `id` with a UTF-8 `reason` for the peer; the peer
 * is told if it has heard of the stream. Chunks already written stay
 * written. Errors: `WSCORE_RESULT_UNKNOWN_STREAM`,
 * `WSCORE_RESULT_INVALID_UTF8`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `reason` NULL or readable
 * for `reason_len`.
 */
enum wscore_result wscore_conn_abort_stream(struct wscore_conn *conn,
                                            uint32_t id,
                                            const uint8_t *reason,
                                            size_t reason_len);

/**
 * The default permessage-deflate settings.
 */
struct wscore_deflate_options wscore_deflate_options_default(void);

/**
 * Makes a configuration with the engine's defaults and stores it in
 * `*out`. Free it with `wscore_config_free`.
 *
 * # Safety
 *
 * `out` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or
 * point at writable storage for one pointer.
 */
enum wscore_result wscore_config_new(struct wscore_config **out);

/**
 * Frees a configuration. NULL is ignored.
 *
 * # Safety
 *
 * `config` must be NULL or a pointer from `wscore_config_new` not freed
 * before; it must not be used after this call.
 */
void wscore_config_free(struct wscore_config *config);

/**
 * The largest inbound frame payload, in bytes; a larger frame closes
 * the connection with 1009. Default 16 MiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_max_frame_size(struct wscore_config *config, uint64_t value);

/**
 * The largest inbound message, in bytes (all fragments together); a
 * larger one closes with 1009. Default 64 MiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_max_message_size(struct wscore_config *config, uint64_t value);

/**
 * Outbound messages larger than this are written in fragments of this
 * size, so that control frames can go between them. Default 256 KiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_fragment_size(struct wscore_config *config, size_t value);

/**
 * The largest handshake header block accepted, in bytes (at least
 * 128). Default 16 KiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_max_handshake_bytes(struct wscore_config *config,
                                                         size_t value);

/**
 * The most header lines accepted in a handshake (at least 4).
 * Default 64.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_max_headers(struct wscore_config *config, size_t value);

/**
 * A handshake not completed within this many nanoseconds fails.
 * Default 10 s.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_handshake_timeout_ns(struct wscore_config *config,
                                                          uint64_t value);

/**
 * After sending a close frame, how long to wait for the peer's, in
 * nanoseconds. Default 5 s.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_close_timeout_ns(struct wscore_config *config, uint64_t value);

/**
 * Close the connection (1001) after this many nanoseconds without a
 * text or binary message received; 0 turns it off (the default).
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_idle_timeout_ns(struct wscore_config *config, uint64_t value);

/**
 * Outbound batches are closed before the message that would take them
 * past this many bytes. Default 256 KiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_batch_cap(struct wscore_config *config, size_t value);

/**
 * The most logical messages in one batch, sent or received. Default
 * 16384.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_batch_max_messages(struct wscore_config *config, size_t value);

/**
 * The largest inbound batch, in bytes. Default 64 MiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_batch_max_bytes(struct wscore_config *config, size_t value);

/**
 * How long a partial batch may wait for more messages before it is
 * written, in nanoseconds; 0 (the default) writes it at the next
 * transmit.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_batch_linger_ns(struct wscore_config *config, uint64_t value);

/**
 * Binary messages larger than this many bytes are sent as streams on
 * a streamed subprotocol; 0 sends streams only when asked with
 * `wscore_conn_send_stream`. Default 512 KiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_send_threshold(struct wscore_config *config,
                                                           size_t value);

/**
 * Data bytes per chunk record, at most. Default 256 KiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_chunk_size(struct wscore_config *config, size_t value);

/**
 * Chunks a stream may send in a row before other messages get their
 * turn. Default 64.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_chunks_per_turn(struct wscore_config *config,
                                                            size_t value);

/**
 * Inbound streams open at once. Default 16.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_max_streams(struct wscore_config *config, size_t value);

/**
 * Bytes held for reassembly across all inbound streams. Default 64 MiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_max_buffered(struct wscore_config *config,
                                                         size_t value);

/**
 * The largest inbound stream, in bytes. Default 1 GiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_max_size(struct wscore_config *config, uint64_t value);

/**
 * The largest outbound stream, in bytes. Default 1 GiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_max_send_size(struct wscore_config *config,
                                                          uint64_t value);

/**
 * The largest metadata of an inbound stream, in bytes. Default 4 KiB.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_max_metadata(struct wscore_config *config,
                                                         size_t value);

/**
 * An inbound stream with no chunk for this many nanoseconds is
 * evicted. Default 60 s.
 *
 * Returns `WSCORE_RESULT_INVALID_CONFIG`, leaving the configuration
 * unchanged, for a value that cannot work.
 *
 * # Safety
 *
 * `config` must be NULL (refused with `WSCORE_RESULT_NULL_ARGUMENT`) or a
 * live configuration from `wscore_config_new`, not used by another thread
 * during the call.
 */
enum wscore_result wscore_config_set_stream_ttl_ns(struct wscore_config *config, uint64_t value);

/**
 * Keepalive: after `interval_ns` nanoseconds with nothing received, ping
 * the peer, and close the connection if nothing arrives within
 * `timeout_ns` after that. Both 0 turn keepalive off (the default); one
 * of them 0 is `WSCORE_RESULT_INVALID_CONFIG`.
 *
 * # Safety
 *
 * `config` must be NULL or a live configuration, as for the other
 * setters.
 */
enum wscore_result wscore_config_set_keepalive_ns(struct wscore_config *config,
                                                  uint64_t interval_ns,
                                                  uint64_t timeout_ns);

/**
 * Whole messages or pieces: `mode` is a `wscore_receive_mode`. Any other
 * value is `WSCORE_RESULT_INVALID_ARGUMENT`.
 *
 * # Safety
 *
 * As for the other setters.
 */
enum wscore_result wscore_config_set_receive_mode(struct wscore_config *config, uint32_t mode);

/**
 * Turns permessage-deflate on with `options`, or off when `options` is
 * NULL. A client offers it; a server accepts an offer. Out-of-range
 * options are `WSCORE_RESULT_INVALID_CONFIG`; a library built without
 * deflate answers `WSCORE_RESULT_INVALID_CONFIG` to any non-NULL options.
 *
 * # Safety
 *
 * `config` as for the other setters; `options` must be NULL or point at
 * a readable `wscore_deflate_options`, which is copied.
 */
enum wscore_result wscore_config_set_deflate(struct wscore_config *config,
                                             const struct wscore_deflate_options *options);

/**
 * Adds a subprotocol this endpoint speaks, after those added before (the
 * order is the preference order), with the envelope it names: `envelope`
 * is a `wscore_envelope`; any other value is
 * `WSCORE_RESULT_INVALID_ARGUMENT`. A client offers every one; a server
 * picks the first of its list that the client offered.
 *
 * # Safety
 *
 * `config` as for the other setters; `name` must be NULL or a
 * NUL-terminated string, which is copied.
 */
enum wscore_result wscore_config_add_subprotocol(struct wscore_config *config,
                                                 const char *name,
                                                 uint32_t envelope);

/**
 * Removes every subprotocol added with `wscore_config_add_subprotocol`.
 *
 * # Safety
 *
 * As for the other setters.
 */
enum wscore_result wscore_config_clear_subprotocols(struct wscore_config *config);

/**
 * Makes a client connection for `ws://host/path` and stores it in `*out`;
 * its upgrade request is the first transmit. The same as
 * `wscore_conn_client_with_headers` without headers.
 *
 * # Safety
 *
 * As for `wscore_conn_client_with_headers`.
 */
enum wscore_result wscore_conn_client(const struct wscore_config *config,
                                      const char *host,
                                      const char *path,
                                      const char *const *subprotocols,
                                      size_t subprotocols_len,
                                      const uint8_t *seed,
                                      size_t seed_len,
                                      uint64_t now_ns,
                                      struct wscore_conn **out);

/**
 * Makes a client connection for `ws://host/path` whose upgrade request
 * carries `headers` (an `Origin`, an `Authorization`, cookies), and
 * stores it in `*out`; its upgrade request is the first transmit.
 *
 * `config` may be NULL for the defaults; it is copied. `host` (with a
 * `:port` when not 80) and `path` (with its query) are NUL-terminated
 * UTF-8. `subprotocols` is an array of `subprotocols_len` NUL-terminated
 * names offered besides those of the configuration, `headers` an array
 * of `headers_len` headers (each NULL when its length is 0). `seed` is
 * `seed_len` bytes, which must be 32, from the operating system's random
 * source: it feeds the handshake nonce and the masking keys. Everything
 * is copied; nothing is kept after the call.
 *
 * Errors: `WSCORE_RESULT_NULL_ARGUMENT`, `WSCORE_RESULT_INVALID_UTF8`,
 * `WSCORE_RESULT_INVALID_ARGUMENT` (a seed that is not 32 bytes),
 * `WSCORE_RESULT_INVALID_CONFIG`, `WSCORE_RESULT_INVALID_REQUEST` (a
 * request that cannot be written: a line break in the host or a header
 * value, a header the handshake writes itself such as
 * `Sec-WebSocket-Key`).
 *
 * # Safety
 *
 * Every pointer must be NULL or valid as described; `out` must point at
 * writable storage for one pointer.
 */
enum wscore_result wscore_conn_client_with_headers(const struct wscore_config *config,
                                                   const char *host,
                                                   const char *path,
                                                   const char *const *subprotocols,
                                                   size_t subprotocols_len,
                                                   const struct wscore_header *headers,
                                                   size_t headers_len,
                                                   const uint8_t *seed,
                                                   size_t seed_len,
                                                   uint64_t now_ns,
                                                   struct wscore_conn **out);

/**
 * Makes a server connection, which starts by reading the client's
 * upgrade request, and stores it in `*out`. `config` may be NULL for the
 * defaults; it is copied.
 *
 * # Safety
 *
 * `config` must be NULL or a live configuration; `out` must point at
 * writable storage for one pointer.
 */
enum wscore_result wscore_conn_server(const struct wscore_config *config,
                                      uint64_t now_ns,
                                      struct wscore_conn **out);

/**
 * Frees a connection, with everything it handed out: the views of its
 * current event and transmit die with it. NULL is ignored; a poisoned
 * connection is freed like any other.
 *
 * # Safety
 *
 * `conn` must be NULL or a pointer from a constructor not freed before;
 * neither it nor any view it handed out may be used after this call.
 */
void wscore_conn_free(struct wscore_conn *conn);

/**
 * Feeds `len` bytes read from the transport. The bytes are copied: the
 * buffer is the caller's again when the call returns. `bytes` may be
 * NULL when `len` is 0 (which does nothing; the end of the transport is
 * `wscore_conn_eof`).
 *
 * A peer's protocol violation is not an error of this call: the
 * connection queues the close frame with the RFC's code and ends with a
 * `WSCORE_EVENT_KIND_CLOSED` event. After this call, drain transmits and
 * events, then read `wscore_conn_timeout_ns`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `bytes` must be NULL or
 * point at `len` readable bytes.
 */
enum wscore_result wscore_conn_recv(struct wscore_conn *conn,
                                    uint64_t now_ns,
                                    const uint8_t *bytes,
                                    size_t len);

/**
 * Tells the connection that the transport ended (a read returned 0 bytes,
 * or the socket failed). The connection ends with a `CLOSED` event (code
 * 1006, cause `WSCORE_CLOSE_CAUSE_EOF`) after the events decoded before,
 * unless the close handshake had already got that far.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection.
 */
enum wscore_result wscore_conn_eof(struct wscore_conn *conn, uint64_t now_ns);

/**
 * Stores in `*out_deadline_ns` when `wscore_conn_on_timeout` should next
 * be called, on the clock of the `now_ns` arguments; `WSCORE_RESULT_DONE`
 * (with `*out_deadline_ns` untouched) when no timer is armed. Read it
 * after every drain: inputs and commands move it.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out_deadline_ns` must be
 * NULL or writable.
 */
enum wscore_result wscore_conn_timeout_ns(struct wscore_conn *conn, uint64_t *out_deadline_ns);

/**
 * Fires every deadline that has passed at `now_ns`. Calls before the
 * deadline do nothing, so a timer that fires early is harmless.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection.
 */
enum wscore_result wscore_conn_on_timeout(struct wscore_conn *conn, uint64_t now_ns);

/**
 * Stores in `*out` whether the connection is over and every byte it had
 * to write was reported written: the transport can be closed and the
 * connection freed.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out` NULL or writable.
 */
enum wscore_result wscore_conn_is_done(struct wscore_conn *conn, bool *out);

/**
 * Stores in `*out` whether messages can be sent: the handshake is done
 * and no close frame has been queued.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out` NULL or writable.
 */
enum wscore_result wscore_conn_is_open(struct wscore_conn *conn, bool *out);

/**
 * Stores in `*out` the payload bytes accepted by sends and not yet handed
 * out as transmits: stop producing while it is over your limit
 * (back-pressure).
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out` NULL or writable.
 */
enum wscore_result wscore_conn_queued_bytes(struct wscore_conn *conn, size_t *out);

/**
 * Stores the negotiated subprotocol in `*out_name` and `*out_len` (not
 * NUL-terminated), or answers `WSCORE_RESULT_DONE` when none was agreed.
 * The view belongs to the connection and stays valid until it is freed.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out_name` and `out_len`
 * NULL or writable.
 */
enum wscore_result wscore_conn_subprotocol(struct wscore_conn *conn,
                                           const uint8_t **out_name,
                                           size_t *out_len);

/**
 * Takes the next event into `*out`; `WSCORE_RESULT_DONE` (with
 * `out->kind` set to `WSCORE_EVENT_KIND_NONE`) when there is none.
 *
 * This ends the views of the event taken before. Drain events after
 * every input and command, until `WSCORE_RESULT_DONE`; taking an event
 * can queue bytes to write (the reply to a close), so drain transmits
 * after events too.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out` NULL or writable.
 */
enum wscore_result wscore_conn_poll_event(struct wscore_conn *conn, struct wscore_event *out);

/**
 * Server, while a `WSCORE_EVENT_KIND_REQUEST` is the current event:
 * stores in `*out_value` and `*out_len` the value of the first header
 * called `name` (NUL-terminated, compared without regard to ASCII case).
 * `WSCORE_RESULT_DONE` when there is no such header;
 * `WSCORE_RESULT_NO_PENDING_REQUEST` when the current event is not a
 * request. The view lives as long as the event's views.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `name` NULL or a
 * NUL-terminated string; `out_value` and `out_len` NULL or writable.
 */
enum wscore_result wscore_conn_request_header(struct wscore_conn *conn,
                                              const char *name,
                                              const uint8_t **out_value,
                                              size_t *out_len);

/**
 * Server, while a `WSCORE_EVENT_KIND_REQUEST` is the current event:
 * stores in `*out_name` and `*out_len` the subprotocol the client offered
 * at `index` (in its order of preference), or answers
 * `WSCORE_RESULT_DONE` past the last one. The view lives as long as the
 * event's views.
 *
 * # Safety
 *
 * As for `wscore_conn_request_header`.
 */
enum wscore_result wscore_conn_request_subprotocol(struct wscore_conn *conn,
                                                   size_t index,
                                                   const uint8_t **out_name,
                                                   size_t *out_len);

/**
 * Server, while a `WSCORE_EVENT_KIND_REQUEST` is the current event:
 * stores in `*out_query` and `*out_len` the request target after its
 * first `?` (the event's `data` is the path before it), or answers
 * `WSCORE_RESULT_DONE` when the target has no `?`. The view lives as long
 * as the event's views.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out_query` and `out_len`
 * NULL or writable.
 */
enum wscore_result wscore_conn_request_query(struct wscore_conn *conn,
                                             const uint8_t **out_query,
                                             size_t *out_len);

/**
 * The name of a result code (`"WSCORE_RESULT_OK"`, ...), or
 * `"WSCORE_RESULT_UNKNOWN"` for a value that is none of them.
 *
 * The string is static and NUL-terminated: never free it. The code is
 * taken as an integer so that any value is safe to pass.
 */
const char *wscore_result_name(uint32_t code);

/**
 * The version of the library (`"0.1.0"`): static and NUL-terminated,
 * never freed. Compare it with the header's at start-up when the library
 * is linked dynamically.
 */
const char *wscore_version(void);

/**
 * Hands out the bytes to write next in `*out`: what is left of the
 * transmit handed out before if it was not all reported written, or the
 * next one. `WSCORE_RESULT_DONE` when there is nothing to write.
 *
 * Write them, then report how many bytes the transport took with
 * `wscore_conn_transmit_written`; a short write is reported as it is and
 * the next poll hands out the rest. Loop until `WSCORE_RESULT_DONE`.
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection; `out` NULL or writable.
 */
enum wscore_result wscore_conn_poll_transmit(struct wscore_conn *conn, struct wscore_transmit *out);

/**
 * Reports that the transport took `written` bytes of the transmit handed
 * out last (header first, then payload). Once all of it is reported, its
 * views are invalid and the next poll hands out the next transmit.
 *
 * Errors: `WSCORE_RESULT_NO_TRANSMIT` when no transmit is handed out,
 * `WSCORE_RESULT_INVALID_ARGUMENT` when `written` is more than what is
 * left of it (nothing is counted).
 *
 * # Safety
 *
 * `conn` must be NULL or a live connection.
 */
enum wscore_result wscore_conn_transmit_written(struct wscore_conn *conn, size_t written);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* WSCORE_H */
