// wscore.hpp tested in memory: a client and a server over the wrapper,
// the server's side of the handshake (request headers, accept), errors as
// values, moves of the RAII handles, and the close. Built with ASan and
// UBSan and without exceptions by scripts/ffi.sh.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "wscore.hpp"

namespace {

int failures = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            std::fprintf(stderr, "%s:%d: %s is false\n", __FILE__, __LINE__, #cond); \
            failures++;                                                      \
        }                                                                    \
    } while (0)

const wscore::Nanos T0{0};

// Moves every byte `from` has to write into `to`, one short write at a
// time, from a buffer that is gone when recv returns.
void pump(wscore::Connection &from, wscore::Connection &to) {
    for (;;) {
        auto t = from.poll_transmit();
        CHECK(t.ok());
        if (!t.ok() || !t.value()) return;
        std::vector<std::uint8_t> bytes(t.value()->header.begin(), t.value()->header.end());
        bytes.insert(bytes.end(), t.value()->payload.begin(), t.value()->payload.end());
        std::size_t n = bytes.size() > 5 ? bytes.size() - 5 : bytes.size();
        bytes.resize(n);
        CHECK(from.transmit_written(n).ok());
        CHECK(to.recv(T0, bytes).ok());
    }
}

wscore::EventKind next_kind(wscore::Connection &conn) {
    auto e = conn.poll_event();
    if (!e.ok() || !e.value()) return wscore::EventKind::None;
    return e.value()->kind();
}

}  // namespace

int main() {
    auto config = wscore::Config::create();
    CHECK(config.ok());
    CHECK(config.value().add_subprotocol("chat.v1", wscore::Envelope::Plain).ok());
    // A refused value is an error value, and changes nothing.
    auto refused = config.value().max_frame_size(0);
    CHECK(!refused && refused.error() == wscore::Result::InvalidConfig);
    CHECK(std::string(wscore::name(refused.error())) == "WSCORE_RESULT_INVALID_CONFIG");
    CHECK(!config.value().receive_mode(static_cast<wscore::ReceiveMode>(9)));

    std::vector<std::uint8_t> seed(32, 3);
    auto bad_seed = wscore::Connection::client(&config.value(), "example.com", "/", wscore::Bytes(seed.data(), 8), T0);
    CHECK(!bad_seed && bad_seed.error() == wscore::Result::InvalidArgument);

    const char token[] = "Bearer abc";
    auto made = wscore::Connection::client(&config.value(), "example.com", "/room?x=1", seed, T0, {},
                                           {{"Authorization", reinterpret_cast<const std::uint8_t *>(token),
                                             sizeof token - 1}});
    CHECK(made.ok());
    wscore::Connection client = std::move(made).value();
    wscore::Connection server = wscore::Connection::server(&config.value(), T0).value();
    {
        // Handles move; the moved-from one is freed harmlessly.
        wscore::Connection moved = std::move(client);
        client = std::move(moved);
    }
    CHECK(client.send_text("too early").error() == wscore::Result::NotOpen);

    pump(client, server);
    auto request = server.poll_event();
    CHECK(request.ok() && request.value() && request.value()->kind() == wscore::EventKind::Request);
    CHECK(request.value()->data().text() == "/room");
    auto host = server.request_header("host");
    CHECK(host.ok() && host.value() && host.value()->text() == "example.com");
    auto auth = server.request_header("authorization");
    CHECK(auth.ok() && auth.value() && auth.value()->text() == "Bearer abc");
    auto query = server.request_query();
    CHECK(query.ok() && query.value() && *query.value() == "x=1");
    auto absent = server.request_header("x-absent");
    CHECK(absent.ok() && !absent.value());
    CHECK(server.accept(T0).ok());
    CHECK(next_kind(server) == wscore::EventKind::Connected);
    pump(server, client);
    CHECK(next_kind(client) == wscore::EventKind::Connected);
    auto chosen = client.subprotocol();
    CHECK(chosen.ok() && chosen.value() && *chosen.value() == "chat.v1");
    CHECK(client.is_open().value_or(false));

    CHECK(client.send_text("hello").ok());
    std::vector<std::uint8_t> blob(70000, 0x5a);
    CHECK(client.send_binary(blob).ok());
    CHECK(client.ping(wscore::Bytes("p")).ok());
    CHECK(client.ping(std::string(126, 'x')).error() == wscore::Result::ControlPayloadTooLong);
    CHECK(client.send_stream(blob).error() == wscore::Result::StreamsNotNegotiated);
    pump(client, server);
    CHECK(next_kind(server) == wscore::EventKind::Ping);  // pings go ahead of queued data
    auto text = server.poll_event();
    CHECK(text.ok() && text.value()->kind() == wscore::EventKind::Message &&
          text.value()->message_kind() == wscore::MessageKind::Text && text.value()->data().text() == "hello");
    auto binary = server.poll_event();
    CHECK(binary.ok() && binary.value()->message_kind() == wscore::MessageKind::Binary &&
          std::vector<std::uint8_t>(binary.value()->data().begin(), binary.value()->data().end()) == blob);
    auto none = server.poll_event();
    CHECK(none.ok() && !none.value());

    CHECK(server.close(T0, 1006, "").error() == wscore::Result::InvalidCloseCode);
    CHECK(server.close(T0, 4000, "done").ok());
    CHECK(server.send_text("late").error() == wscore::Result::Closing);
    pump(server, client);
    CHECK(next_kind(client) == wscore::EventKind::Pong);
    auto received = client.poll_event();
    CHECK(received.ok() && received.value()->kind() == wscore::EventKind::CloseReceived &&
          received.value()->close_code() == 4000 && received.value()->data().text() == "done");
    auto closed = client.poll_event();
    CHECK(closed.ok() && closed.value()->close_cause() == wscore::CloseCause::Remote);
    pump(client, server);
    CHECK(next_kind(server) == wscore::EventKind::CloseReceived);
    auto ended = server.poll_event();
    CHECK(ended.ok() && ended.value()->close_cause() == wscore::CloseCause::Local);
    CHECK(client.is_done().value_or(false) && server.is_done().value_or(false));
    auto deadline = server.timeout();
    CHECK(deadline.ok() && !deadline.value());

    if (failures) {
        std::fprintf(stderr, "wrapper: %d checks failed\n", failures);
        return 1;
    }
    std::printf("wrapper: ok (library %s)\n", wscore::version());
    return 0;
}
