// A client in C++17 over the wscore.hpp wrapper: POSIX sockets, poll(),
// the engine's timers on CLOCK_MONOTONIC (std::chrono::steady_clock).
//
//   client --addr HOST:PORT [--path PATH] [--streamed NAME] [--any-metadata]
//
// Against an echo server it checks, in order: a text message and a binary
// message come back unchanged; a ping is answered with its payload; with
// --streamed (a subprotocol with the streamed envelope, which the server
// must choose) a 1 MiB stream comes back as a stream with its metadata;
// (--any-metadata accepts other metadata: a server that echoes the stream
// as one binary message, which goes out as a stream of its own without
// metadata); our close (1000 "bye") is answered and the connection ends cleanly.
// Messages and streams are received incrementally. Prints "client: ok" and
// exits 0, or says what went wrong and exits 1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "wscore.hpp"

namespace {

using Clock = std::chrono::steady_clock;

wscore::Nanos now() { return std::chrono::duration_cast<wscore::Nanos>(Clock::now().time_since_epoch()); }

[[noreturn]] void fail(const std::string &what) {
    std::fprintf(stderr, "client: %s\n", what.c_str());
    std::exit(1);
}

void check(const wscore::Outcome<void> &outcome, const char *what) {
    if (!outcome) fail(std::string(what) + ": " + wscore::name(outcome.error()));
}

template <class T>
T take(wscore::Outcome<T> outcome, const char *what) {
    if (!outcome) fail(std::string(what) + ": " + wscore::name(outcome.error()));
    return std::move(outcome).value();
}

// What arrived, owned: whole messages and streams, assembled from the
// incremental events.
struct Received {
    wscore::EventKind kind;
    wscore::MessageKind message_kind = wscore::MessageKind::Binary;
    std::vector<std::uint8_t> data;  // payload, reason, or stream bytes
    std::string metadata;            // streams
    std::uint16_t close_code = 0;
    wscore::CloseCause cause = wscore::CloseCause::None;
};

class Session {
public:
    Session(wscore::Connection conn, int fd) : conn_(std::move(conn)), fd_(fd) {}
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    ~Session() { ::close(fd_); }

    wscore::Connection &conn() { return conn_; }

    // The next thing received, driving the socket and the timers until
    // there is one (at most 20 s).
    Received next() {
        auto give_up = Clock::now() + std::chrono::seconds(20);
        while (received_.empty()) {
            flush();
            drain_events();
            if (!received_.empty()) break;
            if (Clock::now() > give_up) fail("timed out waiting for the server");
            wait_and_read();
        }
        Received r = std::move(received_.front());
        received_.pop_front();
        return r;
    }

    // Writes everything the engine has to write.
    void flush() {
        for (;;) {
            auto t = take(conn_.poll_transmit(), "poll_transmit");
            if (!t) return;
            iovec iov[2] = {{const_cast<std::uint8_t *>(t->header.data()), t->header.size()},
                            {const_cast<std::uint8_t *>(t->payload.data()), t->payload.size()}};
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = 2;
            ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    pollfd p{fd_, POLLOUT, 0};
                    ::poll(&p, 1, 1000);
                    continue;
                }
                fail(std::string("write: ") + std::strerror(errno));
            }
            check(conn_.transmit_written(static_cast<std::size_t>(n)), "transmit_written");
        }
    }

    // Drives the connection until it is done (after Closed).
    void finish() {
        auto give_up = Clock::now() + std::chrono::seconds(20);
        while (!take(conn_.is_done(), "is_done")) {
            flush();
            drain_events();
            if (take(conn_.is_done(), "is_done")) break;
            if (Clock::now() > give_up) fail("timed out finishing");
            wait_and_read();
        }
    }

private:
    void drain_events() {
        for (;;) {
            auto event = take(conn_.poll_event(), "poll_event");
            if (!event) return;
            const wscore::Event &e = *event;
            switch (e.kind()) {
            case wscore::EventKind::Connected:
                received_.push_back({e.kind(), {}, {e.data().begin(), e.data().end()}, {}, 0, {}});
                break;
            case wscore::EventKind::MessageStart:
                message_kind_ = e.message_kind();
                message_.clear();
                break;
            case wscore::EventKind::MessageData:
                message_.insert(message_.end(), e.data().begin(), e.data().end());
                break;
            case wscore::EventKind::MessageEnd:
                received_.push_back({wscore::EventKind::Message, message_kind_, std::move(message_), {}, 0, {}});
                message_.clear();
                break;
            case wscore::EventKind::Message:  // whole mode
                received_.push_back({e.kind(), e.message_kind(), {e.data().begin(), e.data().end()}, {}, 0, {}});
                break;
            case wscore::EventKind::StreamStarted:
                streams_[e.stream_id()] = {};
                metadata_[e.stream_id()] = std::string(e.data().text());
                totals_[e.stream_id()] = e.stream_total_len();
                break;
            case wscore::EventKind::StreamData: {
                auto &s = streams_[e.stream_id()];
                s.insert(s.end(), e.data().begin(), e.data().end());
                break;
            }
            case wscore::EventKind::StreamFinished: {
                Received r{wscore::EventKind::StreamFinished, {}, std::move(streams_[e.stream_id()]),
                           metadata_[e.stream_id()], 0, {}};
                if (r.data.size() != totals_[e.stream_id()]) fail("stream shorter than announced");
                streams_.erase(e.stream_id());
                received_.push_back(std::move(r));
                break;
            }
            case wscore::EventKind::StreamFailed:
                fail("stream failed: " + std::string(e.description()));
            case wscore::EventKind::Pong:
            case wscore::EventKind::CloseReceived:
            case wscore::EventKind::Closed:
                received_.push_back({e.kind(), {}, {e.data().begin(), e.data().end()}, {}, e.close_code(),
                                     e.close_cause()});
                if (e.kind() == wscore::EventKind::Closed && !e.description().empty())
                    std::fprintf(stderr, "client: closed: %.*s\n", static_cast<int>(e.description().size()),
                                 e.description().data());
                break;
            default:
                break;
            }
        }
    }

    // Sleeps until the socket is readable or the next deadline, then feeds
    // what arrived (or the end of the stream) and fires due timers.
    void wait_and_read() {
        int timeout_ms = 1000;
        if (auto deadline = take(conn_.timeout(), "timeout")) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now()).count() + 1;
            timeout_ms = static_cast<int>(std::max<long long>(0, std::min<long long>(left, 1000)));
        }
        pollfd p{fd_, POLLIN, 0};
        if (!eof_ && ::poll(&p, 1, timeout_ms) > 0) {
            ssize_t n = ::read(fd_, buf_, sizeof buf_);
            if (n > 0) {
                check(conn_.recv(now(), wscore::Bytes(buf_, static_cast<std::size_t>(n))), "recv");
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                eof_ = true;
                check(conn_.eof(now()), "eof");
            }
        } else if (eof_) {
            ::poll(nullptr, 0, timeout_ms);
        }
        check(conn_.on_timeout(now()), "on_timeout");
    }

    wscore::Connection conn_;
    int fd_;
    bool eof_ = false;
    std::uint8_t buf_[64 * 1024];
    std::deque<Received> received_;
    wscore::MessageKind message_kind_ = wscore::MessageKind::Binary;
    std::vector<std::uint8_t> message_;
    std::map<std::uint32_t, std::vector<std::uint8_t>> streams_;
    std::map<std::uint32_t, std::string> metadata_;
    std::map<std::uint32_t, std::uint64_t> totals_;
};

int connect_to(const std::string &addr) {
    auto colon = addr.rfind(':');
    if (colon == std::string::npos) fail("--addr wants HOST:PORT");
    std::string host = addr.substr(0, colon);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(addr.c_str() + colon + 1)));
    if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) fail("bad host " + host);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0)
        fail(std::string("connect: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

void expect_message(Session &s, wscore::MessageKind kind, const std::vector<std::uint8_t> &sent, const char *what) {
    Received r = s.next();
    if (r.kind != wscore::EventKind::Message) fail(std::string(what) + ": expected a message");
    if (r.message_kind != kind) fail(std::string(what) + ": wrong message kind");
    if (r.data != sent) fail(std::string(what) + ": the echo differs");
    std::printf("client: %s echoed (%zu bytes)\n", what, r.data.size());
}

}  // namespace

int main(int argc, char **argv) {
    std::string addr, path = "/", streamed;
    bool any_metadata = false;
    for (int i = 1; i < argc; i++) {
        std::string_view arg = argv[i];
        if (arg == "--addr" && i + 1 < argc) addr = argv[++i];
        else if (arg == "--path" && i + 1 < argc) path = argv[++i];
        else if (arg == "--streamed" && i + 1 < argc) streamed = argv[++i];
        else if (arg == "--any-metadata") any_metadata = true;
        else fail("usage: client --addr HOST:PORT [--path PATH] [--streamed NAME] [--any-metadata]");
    }
    if (addr.empty()) fail("--addr is required");

    auto config = take(wscore::Config::create(), "config");
    check(config.receive_mode(wscore::ReceiveMode::Incremental), "receive_mode");
    if (!streamed.empty()) check(config.add_subprotocol(streamed.c_str(), wscore::Envelope::Streamed), "subprotocol");

    std::vector<std::uint8_t> seed(32);
    std::random_device entropy;
    for (auto &b : seed) b = static_cast<std::uint8_t>(entropy());
    auto conn = take(wscore::Connection::client(&config, addr.c_str(), path.c_str(), seed, now()), "client");
    Session s(std::move(conn), connect_to(addr));

    Received connected = s.next();
    if (connected.kind != wscore::EventKind::Connected) fail("expected the handshake to complete");
    std::string chosen(connected.data.begin(), connected.data.end());
    if (chosen != streamed) fail("the server chose subprotocol \"" + chosen + "\"");
    std::printf("client: connected (subprotocol \"%s\")\n", chosen.c_str());

    std::string hello = "hello from C++";
    check(s.conn().send_text(hello), "send_text");
    expect_message(s, wscore::MessageKind::Text, {hello.begin(), hello.end()}, "text");

    std::vector<std::uint8_t> binary(100000);
    for (std::size_t i = 0; i < binary.size(); i++) binary[i] = static_cast<std::uint8_t>(i * 7);
    check(s.conn().send_binary(binary), "send_binary");
    expect_message(s, wscore::MessageKind::Binary, binary, "binary");

    std::string ping = "are you there";
    check(s.conn().ping(wscore::Bytes(ping)), "ping");
    Received pong = s.next();
    if (pong.kind != wscore::EventKind::Pong || std::string(pong.data.begin(), pong.data.end()) != ping)
        fail("expected the pong to our ping");
    std::printf("client: pong received\n");

    if (!streamed.empty()) {
        std::vector<std::uint8_t> body(1 << 20);
        for (std::size_t i = 0; i < body.size(); i++) body[i] = static_cast<std::uint8_t>(i % 251);
        std::string metadata = "application/octet-stream";
        take(s.conn().send_stream(body, wscore::Bytes(metadata)), "send_stream");
        Received stream = s.next();
        if (stream.kind != wscore::EventKind::StreamFinished) fail("expected a stream back");
        if (stream.data != body) fail("the stream's echo differs");
        if (!any_metadata && stream.metadata != metadata) fail("the stream's metadata differs");
        std::printf("client: stream echoed (%zu bytes, \"%s\")\n", stream.data.size(), stream.metadata.c_str());
    }

    check(s.conn().close(now(), 1000, "bye"), "close");
    Received answer = s.next();
    if (answer.kind != wscore::EventKind::CloseReceived || answer.close_code != 1000)
        fail("expected the server's close frame");
    Received closed = s.next();
    if (closed.kind != wscore::EventKind::Closed || closed.cause != wscore::CloseCause::Local)
        fail("expected the connection to end by our close");
    s.finish();
    std::printf("client: ok\n");
    return 0;
}
