/*
 * wscore.hpp: a header-only C++17 wrapper of the wscore C API (wscore.h).
 *
 * - RAII handles (Config, Connection): move-only, freed by their
 *   destructor.
 * - Codes as `enum class` (Result, EventKind, ...), the same values as the
 *   C enums.
 * - Byte views in and out (Bytes, a pointer and a length, and
 *   std::string_view for text); none of them owns anything.
 * - Errors as values: every fallible call returns an Outcome<T>, holding
 *   either a T or the Result that says why not. No exceptions are thrown;
 *   the wrapper builds with -fno-exceptions.
 *
 * Ownership is the C API's (docs/c-api.md): bytes passed in are copied
 * before a call returns; views handed out (Transmit, Event, request
 * headers) belong to the Connection and live until the call the C API
 * names (the next poll_event, the transmit fully reported written, the
 * Connection's destruction).
 */
#ifndef WSCORE_HPP
#define WSCORE_HPP

#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "wscore.h"

namespace wscore {

/// The C API's result codes.
enum class Result : int {
    Ok = WSCORE_RESULT_OK,
    Done = WSCORE_RESULT_DONE,
    NullArgument = WSCORE_RESULT_NULL_ARGUMENT,
    InvalidArgument = WSCORE_RESULT_INVALID_ARGUMENT,
    InvalidUtf8 = WSCORE_RESULT_INVALID_UTF8,
    InvalidConfig = WSCORE_RESULT_INVALID_CONFIG,
    InvalidRequest = WSCORE_RESULT_INVALID_REQUEST,
    NotOpen = WSCORE_RESULT_NOT_OPEN,
    Closing = WSCORE_RESULT_CLOSING,
    Closed = WSCORE_RESULT_CLOSED,
    ControlPayloadTooLong = WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG,
    InvalidCloseCode = WSCORE_RESULT_INVALID_CLOSE_CODE,
    NoPendingRequest = WSCORE_RESULT_NO_PENDING_REQUEST,
    HandshakeAnswer = WSCORE_RESULT_HANDSHAKE_ANSWER,
    StreamsNotNegotiated = WSCORE_RESULT_STREAMS_NOT_NEGOTIATED,
    UnknownStream = WSCORE_RESULT_UNKNOWN_STREAM,
    NotPushed = WSCORE_RESULT_NOT_PUSHED,
    PushPastEnd = WSCORE_RESULT_PUSH_PAST_END,
    StreamTooLarge = WSCORE_RESULT_STREAM_TOO_LARGE,
    NoTransmit = WSCORE_RESULT_NO_TRANSMIT,
    Panic = WSCORE_RESULT_PANIC,
    Poisoned = WSCORE_RESULT_POISONED,
};

/// The name of a code ("WSCORE_RESULT_CLOSING"): static, never freed.
inline const char *name(Result result) noexcept {
    return wscore_result_name(static_cast<std::uint32_t>(result));
}

/// The library's version ("0.1.0"): static, never freed.
inline const char *version() noexcept { return wscore_version(); }

enum class EventKind : int {
    None = WSCORE_EVENT_KIND_NONE,
    Request = WSCORE_EVENT_KIND_REQUEST,
    Connected = WSCORE_EVENT_KIND_CONNECTED,
    Message = WSCORE_EVENT_KIND_MESSAGE,
    MessageStart = WSCORE_EVENT_KIND_MESSAGE_START,
    MessageData = WSCORE_EVENT_KIND_MESSAGE_DATA,
    MessageEnd = WSCORE_EVENT_KIND_MESSAGE_END,
    Ping = WSCORE_EVENT_KIND_PING,
    Pong = WSCORE_EVENT_KIND_PONG,
    CloseReceived = WSCORE_EVENT_KIND_CLOSE_RECEIVED,
    Closed = WSCORE_EVENT_KIND_CLOSED,
    StreamStarted = WSCORE_EVENT_KIND_STREAM_STARTED,
    StreamData = WSCORE_EVENT_KIND_STREAM_DATA,
    StreamFinished = WSCORE_EVENT_KIND_STREAM_FINISHED,
    StreamFailed = WSCORE_EVENT_KIND_STREAM_FAILED,
};

enum class MessageKind : int {
    Text = WSCORE_MESSAGE_KIND_TEXT,
    Binary = WSCORE_MESSAGE_KIND_BINARY,
};

enum class CloseCause : int {
    None = WSCORE_CLOSE_CAUSE_NONE,
    Remote = WSCORE_CLOSE_CAUSE_REMOTE,
    Local = WSCORE_CLOSE_CAUSE_LOCAL,
    Protocol = WSCORE_CLOSE_CAUSE_PROTOCOL,
    Handshake = WSCORE_CLOSE_CAUSE_HANDSHAKE,
    Rejected = WSCORE_CLOSE_CAUSE_REJECTED,
    Timeout = WSCORE_CLOSE_CAUSE_TIMEOUT,
    Eof = WSCORE_CLOSE_CAUSE_EOF,
    Other = WSCORE_CLOSE_CAUSE_OTHER,
};

enum class TimeoutKind : int {
    None = WSCORE_TIMEOUT_KIND_NONE,
    Handshake = WSCORE_TIMEOUT_KIND_HANDSHAKE,
    Keepalive = WSCORE_TIMEOUT_KIND_KEEPALIVE,
    Close = WSCORE_TIMEOUT_KIND_CLOSE,
    Other = WSCORE_TIMEOUT_KIND_OTHER,
};

enum class StreamDirection : int {
    Inbound = WSCORE_STREAM_DIRECTION_INBOUND,
    Outbound = WSCORE_STREAM_DIRECTION_OUTBOUND,
};

enum class StreamError : int {
    None = WSCORE_STREAM_ERROR_NONE,
    DuplicateChunk = WSCORE_STREAM_ERROR_DUPLICATE_CHUNK,
    OutOfRange = WSCORE_STREAM_ERROR_OUT_OF_RANGE,
    LengthMismatch = WSCORE_STREAM_ERROR_LENGTH_MISMATCH,
    UnknownStream = WSCORE_STREAM_ERROR_UNKNOWN_STREAM,
    AlreadyOpen = WSCORE_STREAM_ERROR_ALREADY_OPEN,
    TooManyStreams = WSCORE_STREAM_ERROR_TOO_MANY_STREAMS,
    BufferLimit = WSCORE_STREAM_ERROR_BUFFER_LIMIT,
    TooLarge = WSCORE_STREAM_ERROR_TOO_LARGE,
    Expired = WSCORE_STREAM_ERROR_EXPIRED,
    Aborted = WSCORE_STREAM_ERROR_ABORTED,
    Cancelled = WSCORE_STREAM_ERROR_CANCELLED,
    SourceFailed = WSCORE_STREAM_ERROR_SOURCE_FAILED,
    ConnectionClosed = WSCORE_STREAM_ERROR_CONNECTION_CLOSED,
    Other = WSCORE_STREAM_ERROR_OTHER,
};

enum class ReceiveMode : std::uint32_t {
    Whole = WSCORE_RECEIVE_MODE_WHOLE,
    Incremental = WSCORE_RECEIVE_MODE_INCREMENTAL,
};

enum class Envelope : std::uint32_t {
    Plain = WSCORE_ENVELOPE_PLAIN,
    Batched = WSCORE_ENVELOPE_BATCHED,
    Streamed = WSCORE_ENVELOPE_STREAMED,
};

/// Nanoseconds on the caller's monotonic clock.
using Nanos = std::chrono::nanoseconds;

/// A view of bytes someone else owns (C++17 has no std::span).
class Bytes {
public:
    constexpr Bytes() noexcept = default;
    constexpr Bytes(const std::uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    /// The bytes of a string (not its terminating NUL).
    Bytes(std::string_view text) noexcept
        : data_(reinterpret_cast<const std::uint8_t *>(text.data())), size_(text.size()) {}
    /// Any contiguous container of bytes with data() and size()
    /// (std::vector<uint8_t>, std::array, std::string, ...).
    template <class C, class = std::enable_if_t<sizeof(*std::declval<const C &>().data()) == 1>>
    Bytes(const C &container) noexcept
        : data_(reinterpret_cast<const std::uint8_t *>(container.data())), size_(container.size()) {}

    constexpr const std::uint8_t *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const std::uint8_t *begin() const noexcept { return data_; }
    constexpr const std::uint8_t *end() const noexcept { return data_ + size_; }
    constexpr std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
    /// The same bytes as text (for text messages, close reasons, names).
    std::string_view text() const noexcept {
        return std::string_view(reinterpret_cast<const char *>(data_), size_);
    }

private:
    const std::uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

/// A failed call's code, to build an Outcome from.
struct Err {
    Result code;
};

/// Either a T or the Result that says why there is none.
template <class T>
class [[nodiscard]] Outcome {
public:
    Outcome(T value) : value_(std::move(value)), code_(Result::Ok) {}
    // An Err that says Ok would be an Outcome without a value that claims
    // to have one: it is turned into an error instead.
    Outcome(Err err) : code_(err.code == Result::Ok ? Result::InvalidArgument : err.code) {}

    bool ok() const noexcept { return code_ == Result::Ok; }
    explicit operator bool() const noexcept { return ok(); }
    /// Result::Ok when there is a value.
    Result error() const noexcept { return code_; }
    /// The value; only when ok() (checked by assert in debug builds).
    T &value() & noexcept {
        assert(ok());
        return *value_;
    }
    const T &value() const & noexcept {
        assert(ok());
        return *value_;
    }
    T &&value() && noexcept {
        assert(ok());
        return std::move(*value_);
    }
    T value_or(T other) const & { return ok() ? *value_ : std::move(other); }

private:
    std::optional<T> value_;
    Result code_;
};

/// A call that gives nothing back but may fail.
template <>
class [[nodiscard]] Outcome<void> {
public:
    Outcome() noexcept : code_(Result::Ok) {}
    Outcome(Err err) noexcept : code_(err.code) {}
    bool ok() const noexcept { return code_ == Result::Ok; }
    explicit operator bool() const noexcept { return ok(); }
    Result error() const noexcept { return code_; }

private:
    Result code_;
};

namespace detail {
inline Outcome<void> check(wscore_result r) noexcept {
    if (r == WSCORE_RESULT_OK) return {};
    return Err{static_cast<Result>(r)};
}
inline std::uint64_t ns(Nanos d) noexcept {
    return d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
}
} // namespace detail

/// Settings for connections (wscore_config). Constructors copy it.
class Config {
public:
    static Outcome<Config> create() noexcept {
        wscore_config *raw = nullptr;
        wscore_result r = wscore_config_new(&raw);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return Config(raw);
    }
    Config(Config &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Config &operator=(Config &&other) noexcept {
        if (this != &other) {
            wscore_config_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;
    ~Config() { wscore_config_free(raw_); }

    Outcome<void> max_frame_size(std::uint64_t bytes) noexcept {
        return detail::check(wscore_config_set_max_frame_size(raw_, bytes));
    }
    Outcome<void> max_message_size(std::uint64_t bytes) noexcept {
        return detail::check(wscore_config_set_max_message_size(raw_, bytes));
    }
    Outcome<void> fragment_size(std::size_t bytes) noexcept {
        return detail::check(wscore_config_set_fragment_size(raw_, bytes));
    }
    Outcome<void> handshake_timeout(Nanos timeout) noexcept {
        return detail::check(wscore_config_set_handshake_timeout_ns(raw_, detail::ns(timeout)));
    }
    Outcome<void> close_timeout(Nanos timeout) noexcept {
        return detail::check(wscore_config_set_close_timeout_ns(raw_, detail::ns(timeout)));
    }
    /// Nanos{0} turns the idle timeout off.
    Outcome<void> idle_timeout(Nanos timeout) noexcept {
        return detail::check(wscore_config_set_idle_timeout_ns(raw_, detail::ns(timeout)));
    }
    /// Both Nanos{0} turn keepalive off.
    Outcome<void> keepalive(Nanos interval, Nanos timeout) noexcept {
        return detail::check(
            wscore_config_set_keepalive_ns(raw_, detail::ns(interval), detail::ns(timeout)));
    }
    Outcome<void> receive_mode(ReceiveMode mode) noexcept {
        return detail::check(wscore_config_set_receive_mode(raw_, static_cast<std::uint32_t>(mode)));
    }
    /// permessage-deflate with these options; std::nullopt turns it off.
    Outcome<void> deflate(std::optional<wscore_deflate_options> options) noexcept {
        return detail::check(wscore_config_set_deflate(raw_, options ? &*options : nullptr));
    }
    /// `name` is NUL-terminated; it is copied.
    Outcome<void> add_subprotocol(const char *name, Envelope envelope) noexcept {
        return detail::check(
            wscore_config_add_subprotocol(raw_, name, static_cast<std::uint32_t>(envelope)));
    }
    Outcome<void> stream_send_threshold(std::size_t bytes) noexcept {
        return detail::check(wscore_config_set_stream_send_threshold(raw_, bytes));
    }
    Outcome<void> stream_chunk_size(std::size_t bytes) noexcept {
        return detail::check(wscore_config_set_stream_chunk_size(raw_, bytes));
    }

    /// For the C calls this wrapper does not cover.
    wscore_config *raw() noexcept { return raw_; }
    const wscore_config *raw() const noexcept { return raw_; }

private:
    explicit Config(wscore_config *raw) noexcept : raw_(raw) {}
    wscore_config *raw_;
};

/// Bytes to write: header then payload. Valid until the transmit is
/// reported written in full (Connection::transmit_written).
struct Transmit {
    Bytes header;
    Bytes payload;
    std::size_t size() const noexcept { return header.size() + payload.size(); }
};

/// One event: a view valid until the next Connection::poll_event.
class Event {
public:
    explicit Event(const wscore_event &raw) noexcept : raw_(raw) {}

    EventKind kind() const noexcept { return static_cast<EventKind>(raw_.kind); }
    MessageKind message_kind() const noexcept { return static_cast<MessageKind>(raw_.message_kind); }
    /// The event's bytes: payload, piece, reason, path, metadata.
    Bytes data() const noexcept { return Bytes(raw_.data, raw_.data_len); }
    std::uint16_t close_code() const noexcept { return raw_.close_code; }
    CloseCause close_cause() const noexcept { return static_cast<CloseCause>(raw_.close_cause); }
    std::uint16_t status() const noexcept { return raw_.status; }
    TimeoutKind timeout_kind() const noexcept { return static_cast<TimeoutKind>(raw_.timeout_kind); }
    std::uint32_t stream_id() const noexcept { return raw_.stream_id; }
    std::uint64_t stream_total_len() const noexcept { return raw_.stream_total_len; }
    StreamDirection stream_direction() const noexcept {
        return static_cast<StreamDirection>(raw_.stream_direction);
    }
    StreamError stream_error() const noexcept { return static_cast<StreamError>(raw_.stream_error); }
    std::uint32_t abort_code() const noexcept { return raw_.abort_code; }
    /// A description of the error of a CLOSED or STREAM_FAILED event.
    std::string_view description() const noexcept {
        return std::string_view(reinterpret_cast<const char *>(raw_.text), raw_.text_len);
    }
    const wscore_event &raw() const noexcept { return raw_; }

private:
    wscore_event raw_;
};

/// One connection (wscore_conn). Move-only; the destructor frees it, and
/// with it every view it handed out.
class Connection {
public:
    /// A client for ws://host/path; `seed` must be 32 bytes from the
    /// operating system's random source. `config` may be null (defaults).
    /// `subprotocols` are offered besides the configuration's; `headers`
    /// go into the upgrade request ({"Authorization", value, length}).
    static Outcome<Connection> client(const Config *config, const char *host, const char *path,
                                      Bytes seed, Nanos now,
                                      std::initializer_list<const char *> subprotocols = {},
                                      std::initializer_list<wscore_header> headers = {}) noexcept {
        wscore_conn *raw = nullptr;
        wscore_result r = wscore_conn_client_with_headers(
            config ? config->raw() : nullptr, host, path,
            subprotocols.size() ? subprotocols.begin() : nullptr, subprotocols.size(),
            headers.size() ? headers.begin() : nullptr, headers.size(), seed.data(), seed.size(),
            detail::ns(now), &raw);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return Connection(raw);
    }
    /// A server that starts by reading the upgrade request.
    static Outcome<Connection> server(const Config *config, Nanos now) noexcept {
        wscore_conn *raw = nullptr;
        wscore_result r = wscore_conn_server(config ? config->raw() : nullptr, detail::ns(now), &raw);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return Connection(raw);
    }

    Connection(Connection &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Connection &operator=(Connection &&other) noexcept {
        if (this != &other) {
            wscore_conn_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;
    ~Connection() { wscore_conn_free(raw_); }

    // ---- inputs ----
    Outcome<void> recv(Nanos now, Bytes bytes) noexcept {
        return detail::check(wscore_conn_recv(raw_, detail::ns(now), bytes.data(), bytes.size()));
    }
    Outcome<void> eof(Nanos now) noexcept { return detail::check(wscore_conn_eof(raw_, detail::ns(now))); }
    Outcome<void> on_timeout(Nanos now) noexcept {
        return detail::check(wscore_conn_on_timeout(raw_, detail::ns(now)));
    }

    // ---- outputs ----
    /// The next bytes to write, or std::nullopt when there are none.
    Outcome<std::optional<Transmit>> poll_transmit() noexcept {
        wscore_transmit t{};
        wscore_result r = wscore_conn_poll_transmit(raw_, &t);
        if (r == WSCORE_RESULT_DONE) return std::optional<Transmit>();
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return std::optional<Transmit>(
            Transmit{Bytes(t.header, t.header_len), Bytes(t.payload, t.payload_len)});
    }
    Outcome<void> transmit_written(std::size_t written) noexcept {
        return detail::check(wscore_conn_transmit_written(raw_, written));
    }
    /// The next event, or std::nullopt when there is none.
    Outcome<std::optional<Event>> poll_event() noexcept {
        wscore_event e{};
        wscore_result r = wscore_conn_poll_event(raw_, &e);
        if (r == WSCORE_RESULT_DONE) return std::optional<Event>();
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return std::optional<Event>(Event(e));
    }
    /// The next deadline, or std::nullopt when no timer is armed.
    Outcome<std::optional<Nanos>> timeout() noexcept {
        std::uint64_t deadline = 0;
        wscore_result r = wscore_conn_timeout_ns(raw_, &deadline);
        if (r == WSCORE_RESULT_DONE) return std::optional<Nanos>();
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return std::optional<Nanos>(Nanos(static_cast<Nanos::rep>(deadline)));
    }

    // ---- commands ----
    Outcome<void> send_text(std::string_view text) noexcept {
        return detail::check(wscore_conn_send_text(
            raw_, reinterpret_cast<const std::uint8_t *>(text.data()), text.size()));
    }
    Outcome<void> send_binary(Bytes data) noexcept {
        return detail::check(wscore_conn_send_binary(raw_, data.data(), data.size()));
    }
    Outcome<void> ping(Bytes payload) noexcept {
        return detail::check(wscore_conn_ping(raw_, payload.data(), payload.size()));
    }
    Outcome<void> pong(Bytes payload) noexcept {
        return detail::check(wscore_conn_pong(raw_, payload.data(), payload.size()));
    }
    Outcome<void> close(Nanos now, std::uint16_t code, std::string_view reason) noexcept {
        return detail::check(wscore_conn_close(raw_, detail::ns(now), code,
                                               reinterpret_cast<const std::uint8_t *>(reason.data()),
                                               reason.size()));
    }
    /// Server: accept the pending request; `subprotocol` NUL-terminated or
    /// null for the configuration's choice.
    Outcome<void> accept(Nanos now, const char *subprotocol = nullptr) noexcept {
        return detail::check(wscore_conn_accept(raw_, detail::ns(now), subprotocol));
    }
    Outcome<void> reject(std::uint16_t status, Bytes body = {}) noexcept {
        return detail::check(wscore_conn_reject(raw_, status, body.data(), body.size()));
    }
    /// Server, while the REQUEST event is current: a header's value, or
    /// std::nullopt when absent. `name` is NUL-terminated.
    Outcome<std::optional<Bytes>> request_header(const char *name) noexcept {
        const std::uint8_t *value = nullptr;
        std::size_t len = 0;
        wscore_result r = wscore_conn_request_header(raw_, name, &value, &len);
        if (r == WSCORE_RESULT_DONE) return std::optional<Bytes>();
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return std::optional<Bytes>(Bytes(value, len));
    }
    /// Server, while the REQUEST event is current: the target after its
    /// `?`, or std::nullopt when it has none.
    Outcome<std::optional<std::string_view>> request_query() noexcept {
        const std::uint8_t *query = nullptr;
        std::size_t len = 0;
        wscore_result r = wscore_conn_request_query(raw_, &query, &len);
        if (r == WSCORE_RESULT_DONE) return std::optional<std::string_view>();
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return std::optional<std::string_view>(Bytes(query, len).text());
    }
    /// Sends `data` as one stream; its id.
    Outcome<std::uint32_t> send_stream(Bytes data, Bytes metadata = {}) noexcept {
        std::uint32_t id = 0;
        wscore_result r = wscore_conn_send_stream(raw_, data.data(), data.size(), metadata.data(),
                                                  metadata.size(), &id);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return id;
    }
    /// Opens a stream of `total_len` bytes pushed later; its id.
    Outcome<std::uint32_t> open_stream(std::uint64_t total_len, Bytes metadata = {}) noexcept {
        std::uint32_t id = 0;
        wscore_result r = wscore_conn_open_stream(raw_, total_len, metadata.data(), metadata.size(), &id);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return id;
    }
    Outcome<void> push_stream(std::uint32_t id, Bytes data) noexcept {
        return detail::check(wscore_conn_push_stream(raw_, id, data.data(), data.size()));
    }
    Outcome<void> abort_stream(std::uint32_t id, std::string_view reason) noexcept {
        return detail::check(wscore_conn_abort_stream(
            raw_, id, reinterpret_cast<const std::uint8_t *>(reason.data()), reason.size()));
    }

    // ---- getters ----
    Outcome<bool> is_done() noexcept {
        bool done = false;
        wscore_result r = wscore_conn_is_done(raw_, &done);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return done;
    }
    Outcome<bool> is_open() noexcept {
        bool open = false;
        wscore_result r = wscore_conn_is_open(raw_, &open);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return open;
    }
    Outcome<std::size_t> queued_bytes() noexcept {
        std::size_t queued = 0;
        wscore_result r = wscore_conn_queued_bytes(raw_, &queued);
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return queued;
    }
    /// The agreed subprotocol, or std::nullopt; the view lives as long as
    /// the connection.
    Outcome<std::optional<std::string_view>> subprotocol() noexcept {
        const std::uint8_t *name = nullptr;
        std::size_t len = 0;
        wscore_result r = wscore_conn_subprotocol(raw_, &name, &len);
        if (r == WSCORE_RESULT_DONE) return std::optional<std::string_view>();
        if (r != WSCORE_RESULT_OK) return Err{static_cast<Result>(r)};
        return std::optional<std::string_view>(Bytes(name, len).text());
    }

    /// For the C calls this wrapper does not cover.
    wscore_conn *raw() noexcept { return raw_; }

private:
    explicit Connection(wscore_conn *raw) noexcept : raw_(raw) {}
    wscore_conn *raw_;
};

} // namespace wscore

#endif /* WSCORE_HPP */
