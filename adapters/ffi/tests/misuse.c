/*
 * The C API misused from C: every documented result code provoked by the
 * call that documents it, NULL pointers and zero lengths everywhere they
 * can go, and a receive buffer freed (and scribbled over) right after
 * wscore_conn_recv returns. Built with AddressSanitizer and UBSan, which
 * catch any read of memory the library should not have kept.
 *
 * Linked with a library built with the `test-hooks` feature, for
 * wscore_test_panic (a panic inside the boundary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wscore.h"

/* Only in a `test-hooks` build; not part of the API. */
wscore_result wscore_test_panic(wscore_conn *conn);

static int failures;
static int checks;

#define EXPECT(call, code)                                                                       \
    do {                                                                                         \
        wscore_result got_ = (call);                                                             \
        checks++;                                                                                \
        if (got_ != (code)) {                                                                    \
            fprintf(stderr, "%s:%d: %s\n  returned %s, expected %s\n", __FILE__, __LINE__, #call, \
                    wscore_result_name((uint32_t)got_), wscore_result_name((uint32_t)(code)));   \
            failures++;                                                                          \
        }                                                                                        \
    } while (0)

#define TRUE_THAT(cond)                                                          \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: %s is false\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static const uint8_t SEED[32] = {1, 2, 3};

/* Moves every byte `from` has to write into `to`, through a heap buffer
 * that is scribbled over and freed as soon as recv returns. */
static void pump(wscore_conn *from, wscore_conn *to) {
    wscore_transmit t;
    while (wscore_conn_poll_transmit(from, &t) == WSCORE_RESULT_OK) {
        size_t len = t.header_len + t.payload_len;
        uint8_t *buf = malloc(len);
        if (!buf) abort();
        memcpy(buf, t.header, t.header_len);
        memcpy(buf + t.header_len, t.payload, t.payload_len);
        EXPECT(wscore_conn_transmit_written(from, len), WSCORE_RESULT_OK);
        EXPECT(wscore_conn_recv(to, 0, buf, len), WSCORE_RESULT_OK);
        memset(buf, 0xAA, len);
        free(buf);
    }
}

static wscore_event_kind next_kind(wscore_conn *conn) {
    wscore_event e;
    wscore_conn_poll_event(conn, &e);
    return e.kind;
}

/* A client and a server, connected in memory; the server's events taken. */
static void connect_pair(const wscore_config *config, wscore_conn **client, wscore_conn **server) {
    EXPECT(wscore_conn_client(config, "example.com", "/", NULL, 0, SEED, sizeof SEED, 0, client),
           WSCORE_RESULT_OK);
    EXPECT(wscore_conn_server(config, 0, server), WSCORE_RESULT_OK);
    pump(*client, *server);
    TRUE_THAT(next_kind(*server) == WSCORE_EVENT_KIND_REQUEST);
    EXPECT(wscore_conn_accept(*server, 0, NULL), WSCORE_RESULT_OK);
    TRUE_THAT(next_kind(*server) == WSCORE_EVENT_KIND_CONNECTED);
    pump(*server, *client);
    TRUE_THAT(next_kind(*client) == WSCORE_EVENT_KIND_CONNECTED);
}

static void null_pointers_and_zero_lengths(void) {
    wscore_conn *conn = NULL;
    wscore_config *config = NULL;
    wscore_event e;
    wscore_transmit t;
    uint64_t deadline;
    bool flag;
    size_t size;
    const uint8_t *view;
    uint32_t id;

    EXPECT(wscore_config_new(NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_config_set_max_message_size(NULL, 1), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_config_add_subprotocol(NULL, "x", WSCORE_ENVELOPE_PLAIN), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_server(NULL, 0, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_client(NULL, NULL, "/", NULL, 0, SEED, 32, 0, &conn), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_client(NULL, "h", NULL, NULL, 0, SEED, 32, 0, &conn), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_client(NULL, "h", "/", NULL, 0, NULL, 32, 0, &conn), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_client(NULL, "h", "/", NULL, 2, SEED, 32, 0, &conn), WSCORE_RESULT_NULL_ARGUMENT);
    TRUE_THAT(conn == NULL); /* no out-parameter written on an error */

    /* Every call on a NULL connection. */
    EXPECT(wscore_conn_recv(NULL, 0, (const uint8_t *)"x", 1), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_eof(NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_on_timeout(NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_timeout_ns(NULL, &deadline), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_poll_transmit(NULL, &t), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_transmit_written(NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_poll_event(NULL, &e), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_is_done(NULL, &flag), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_is_open(NULL, &flag), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_queued_bytes(NULL, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_subprotocol(NULL, &view, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_send_text(NULL, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_send_binary(NULL, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_ping(NULL, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_pong(NULL, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_close(NULL, 0, 1000, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_accept(NULL, 0, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_reject(NULL, 403, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_send_stream(NULL, NULL, 0, NULL, 0, &id), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_open_stream(NULL, 1, NULL, 0, &id), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_push_stream(NULL, 1, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_abort_stream(NULL, 1, NULL, 0), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_header(NULL, "Host", &view, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_subprotocol(NULL, 0, &view, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_query(NULL, &view, &size), WSCORE_RESULT_NULL_ARGUMENT);

    /* NULL out-parameters and data pointers on a live connection. */
    EXPECT(wscore_config_new(&config), WSCORE_RESULT_OK);
    EXPECT(wscore_config_add_subprotocol(config, NULL, WSCORE_ENVELOPE_PLAIN), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_server(config, 0, &conn), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_recv(conn, 0, NULL, 5), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_recv(conn, 0, NULL, 0), WSCORE_RESULT_OK); /* zero length: nothing */
    /* A length no buffer can have is refused before anything is read. */
    EXPECT(wscore_conn_recv(conn, 0, (const uint8_t *)"x", SIZE_MAX), WSCORE_RESULT_INVALID_ARGUMENT);
    EXPECT(wscore_conn_timeout_ns(conn, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_poll_transmit(conn, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_poll_event(conn, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_is_done(conn, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_is_open(conn, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_queued_bytes(conn, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_subprotocol(conn, NULL, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_send_stream(conn, NULL, 0, NULL, 0, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_open_stream(conn, 1, NULL, 0, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_header(conn, NULL, &view, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_header(conn, "Host", NULL, &size), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_query(conn, &view, NULL), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_request_query(conn, &view, &size), WSCORE_RESULT_NO_PENDING_REQUEST);
    EXPECT(wscore_conn_send_text(conn, NULL, 4), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_send_binary(conn, NULL, 4), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_reject(conn, 403, NULL, 4), WSCORE_RESULT_NULL_ARGUMENT);
    /* DONE: a fresh server has nothing to write and no event. */
    EXPECT(wscore_conn_poll_transmit(conn, &t), WSCORE_RESULT_DONE);
    EXPECT(wscore_conn_poll_event(conn, &e), WSCORE_RESULT_DONE);
    TRUE_THAT(e.kind == WSCORE_EVENT_KIND_NONE);
    EXPECT(wscore_conn_subprotocol(conn, &view, &size), WSCORE_RESULT_DONE);
    wscore_conn_free(conn);
    wscore_config_free(config);
    /* Freeing NULL is fine. */
    wscore_conn_free(NULL);
    wscore_config_free(NULL);
}

static void bad_values(void) {
    wscore_conn *conn = NULL;
    wscore_config *config = NULL;
    const char *bad_utf8 = "\xff\xfe";
    const char *offers[] = {"chat", NULL};

    EXPECT(wscore_conn_client(NULL, "h", "/", NULL, 0, SEED, 16, 0, &conn), WSCORE_RESULT_INVALID_ARGUMENT);
    EXPECT(wscore_conn_client(NULL, bad_utf8, "/", NULL, 0, SEED, 32, 0, &conn), WSCORE_RESULT_INVALID_UTF8);
    EXPECT(wscore_conn_client(NULL, "h", "/", offers, 2, SEED, 32, 0, &conn), WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_client(NULL, "h\r\nInjected: 1", "/", NULL, 0, SEED, 32, 0, &conn),
           WSCORE_RESULT_INVALID_REQUEST);
    wscore_header header = {"X-Split", (const uint8_t *)"a\r\nb", 4};
    EXPECT(wscore_conn_client_with_headers(NULL, "h", "/", NULL, 0, &header, 1, SEED, 32, 0, &conn),
           WSCORE_RESULT_INVALID_REQUEST);
    header = (wscore_header){"X-Null", NULL, 3};
    EXPECT(wscore_conn_client_with_headers(NULL, "h", "/", NULL, 0, &header, 1, SEED, 32, 0, &conn),
           WSCORE_RESULT_NULL_ARGUMENT);
    header = (wscore_header){NULL, NULL, 0};
    EXPECT(wscore_conn_client_with_headers(NULL, "h", "/", NULL, 0, &header, 1, SEED, 32, 0, &conn),
           WSCORE_RESULT_NULL_ARGUMENT);
    EXPECT(wscore_conn_client_with_headers(NULL, "h", "/", NULL, 0, NULL, 1, SEED, 32, 0, &conn),
           WSCORE_RESULT_NULL_ARGUMENT);
    TRUE_THAT(conn == NULL);

    EXPECT(wscore_config_new(&config), WSCORE_RESULT_OK);
    EXPECT(wscore_config_set_max_frame_size(config, 0), WSCORE_RESULT_INVALID_CONFIG);
    EXPECT(wscore_config_set_fragment_size(config, 0), WSCORE_RESULT_INVALID_CONFIG);
    EXPECT(wscore_config_set_max_handshake_bytes(config, 10), WSCORE_RESULT_INVALID_CONFIG);
    EXPECT(wscore_config_set_keepalive_ns(config, 1000, 0), WSCORE_RESULT_INVALID_CONFIG);
    EXPECT(wscore_config_set_keepalive_ns(config, 0, 0), WSCORE_RESULT_OK);
    EXPECT(wscore_config_set_stream_ttl_ns(config, 0), WSCORE_RESULT_INVALID_CONFIG);
    EXPECT(wscore_config_set_receive_mode(config, 7), WSCORE_RESULT_INVALID_ARGUMENT);
    EXPECT(wscore_config_add_subprotocol(config, "x", 9), WSCORE_RESULT_INVALID_ARGUMENT);
    EXPECT(wscore_config_add_subprotocol(config, bad_utf8, WSCORE_ENVELOPE_PLAIN), WSCORE_RESULT_INVALID_UTF8);
    wscore_deflate_options deflate = wscore_deflate_options_default();
    deflate.level = 10;
    EXPECT(wscore_config_set_deflate(config, &deflate), WSCORE_RESULT_INVALID_CONFIG);
    deflate = wscore_deflate_options_default();
    deflate.client_max_window_bits = 7;
    EXPECT(wscore_config_set_deflate(config, &deflate), WSCORE_RESULT_INVALID_CONFIG);
    EXPECT(wscore_config_set_deflate(config, NULL), WSCORE_RESULT_OK);
    /* The refused values left the configuration usable. */
    EXPECT(wscore_conn_server(config, 0, &conn), WSCORE_RESULT_OK);
    wscore_conn_free(conn);
    wscore_config_free(config);
}

static void state_errors(void) {
    wscore_conn *client = NULL, *server = NULL;
    uint8_t big[200] = {0};
    const uint8_t text[] = "hi";
    const uint8_t bad_text[] = {0xc3, 0x28};
    uint32_t id;

    /* Before the handshake. */
    EXPECT(wscore_conn_client(NULL, "example.com", "/", NULL, 0, SEED, 32, 0, &client), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_send_text(client, text, 2), WSCORE_RESULT_NOT_OPEN);
    EXPECT(wscore_conn_accept(client, 0, NULL), WSCORE_RESULT_NO_PENDING_REQUEST);
    EXPECT(wscore_conn_reject(client, 403, NULL, 0), WSCORE_RESULT_NO_PENDING_REQUEST);
    EXPECT(wscore_conn_transmit_written(client, 1), WSCORE_RESULT_NO_TRANSMIT);
    wscore_transmit t;
    EXPECT(wscore_conn_poll_transmit(client, &t), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_transmit_written(client, t.header_len + t.payload_len + 1), WSCORE_RESULT_INVALID_ARGUMENT);
    wscore_conn_free(client); /* with a transmit still handed out */

    /* A request that waits for an answer. */
    EXPECT(wscore_conn_client(NULL, "example.com", "/", NULL, 0, SEED, 32, 0, &client), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_server(NULL, 0, &server), WSCORE_RESULT_OK);
    pump(client, server);
    TRUE_THAT(next_kind(server) == WSCORE_EVENT_KIND_REQUEST);
    EXPECT(wscore_conn_reject(server, 99, NULL, 0), WSCORE_RESULT_HANDSHAKE_ANSWER);
    EXPECT(wscore_conn_accept(server, 0, "never-offered"), WSCORE_RESULT_HANDSHAKE_ANSWER);
    EXPECT(wscore_conn_accept(server, 0, "\xff"), WSCORE_RESULT_INVALID_UTF8);
    const uint8_t *value;
    size_t len;
    EXPECT(wscore_conn_request_header(server, "host", &value, &len), WSCORE_RESULT_OK);
    TRUE_THAT(len == 11 && memcmp(value, "example.com", 11) == 0);
    EXPECT(wscore_conn_request_header(server, "X-Absent", &value, &len), WSCORE_RESULT_DONE);
    EXPECT(wscore_conn_request_subprotocol(server, 0, &value, &len), WSCORE_RESULT_DONE);
    EXPECT(wscore_conn_request_query(server, &value, &len), WSCORE_RESULT_DONE);
    EXPECT(wscore_conn_accept(server, 0, NULL), WSCORE_RESULT_OK);
    /* The request's views live until the next event is taken. */
    EXPECT(wscore_conn_request_header(server, "host", &value, &len), WSCORE_RESULT_OK);
    TRUE_THAT(next_kind(server) == WSCORE_EVENT_KIND_CONNECTED);
    EXPECT(wscore_conn_request_header(server, "host", &value, &len), WSCORE_RESULT_NO_PENDING_REQUEST);
    pump(server, client);
    TRUE_THAT(next_kind(client) == WSCORE_EVENT_KIND_CONNECTED);

    /* Open: bad payloads. */
    EXPECT(wscore_conn_send_text(client, bad_text, 2), WSCORE_RESULT_INVALID_UTF8);
    EXPECT(wscore_conn_send_text(client, NULL, 0), WSCORE_RESULT_OK); /* an empty message */
    EXPECT(wscore_conn_send_binary(client, NULL, 0), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_ping(client, big, 126), WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG);
    EXPECT(wscore_conn_pong(client, big, 126), WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG);
    EXPECT(wscore_conn_ping(client, NULL, 0), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_close(client, 0, 1006, NULL, 0), WSCORE_RESULT_INVALID_CLOSE_CODE);
    EXPECT(wscore_conn_close(client, 0, 999, NULL, 0), WSCORE_RESULT_INVALID_CLOSE_CODE);
    EXPECT(wscore_conn_close(client, 0, 1000, (const uint8_t *)big, 124), WSCORE_RESULT_CONTROL_PAYLOAD_TOO_LONG);
    EXPECT(wscore_conn_close(client, 0, 1000, bad_text, 2), WSCORE_RESULT_INVALID_UTF8);
    EXPECT(wscore_conn_send_stream(client, text, 2, NULL, 0, &id), WSCORE_RESULT_STREAMS_NOT_NEGOTIATED);
    EXPECT(wscore_conn_open_stream(client, 2, NULL, 0, &id), WSCORE_RESULT_STREAMS_NOT_NEGOTIATED);
    EXPECT(wscore_conn_abort_stream(client, 5, NULL, 0), WSCORE_RESULT_UNKNOWN_STREAM);

    /* Closing, then closed. */
    EXPECT(wscore_conn_close(client, 0, 1000, (const uint8_t *)"bye", 3), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_send_text(client, text, 2), WSCORE_RESULT_CLOSING);
    EXPECT(wscore_conn_eof(server, 0), WSCORE_RESULT_OK);
    wscore_event e;
    while (wscore_conn_poll_event(server, &e) == WSCORE_RESULT_OK && e.kind != WSCORE_EVENT_KIND_CLOSED) {
    }
    TRUE_THAT(e.kind == WSCORE_EVENT_KIND_CLOSED && e.close_cause == WSCORE_CLOSE_CAUSE_EOF && e.close_code == 1006);
    EXPECT(wscore_conn_send_binary(server, text, 2), WSCORE_RESULT_CLOSED);
    bool done = false;
    EXPECT(wscore_conn_is_done(server, &done), WSCORE_RESULT_OK);
    TRUE_THAT(done);
    wscore_conn_free(client);
    wscore_conn_free(server);
}

static void stream_errors(void) {
    wscore_config *config = NULL;
    wscore_conn *client = NULL, *server = NULL;
    uint8_t data[16] = {0};
    uint32_t sent, opened;

    EXPECT(wscore_config_new(&config), WSCORE_RESULT_OK);
    EXPECT(wscore_config_add_subprotocol(config, "files.v1", WSCORE_ENVELOPE_STREAMED), WSCORE_RESULT_OK);
    EXPECT(wscore_config_set_stream_max_send_size(config, 8), WSCORE_RESULT_OK);
    connect_pair(config, &client, &server);
    wscore_config_free(config); /* connections keep their own copy */

    EXPECT(wscore_conn_send_stream(client, data, 9, NULL, 0, &sent), WSCORE_RESULT_STREAM_TOO_LARGE);
    EXPECT(wscore_conn_open_stream(client, 9, NULL, 0, &opened), WSCORE_RESULT_STREAM_TOO_LARGE);
    EXPECT(wscore_conn_send_stream(client, data, 8, (const uint8_t *)"m", 1, &sent), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_push_stream(client, sent, data, 1), WSCORE_RESULT_NOT_PUSHED);
    EXPECT(wscore_conn_open_stream(client, 4, NULL, 0, &opened), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_push_stream(client, opened, data, 5), WSCORE_RESULT_PUSH_PAST_END);
    EXPECT(wscore_conn_push_stream(client, opened, data, 4), WSCORE_RESULT_OK);
    EXPECT(wscore_conn_push_stream(client, opened + 100, data, 1), WSCORE_RESULT_UNKNOWN_STREAM);
    EXPECT(wscore_conn_abort_stream(client, sent, (const uint8_t *)"\xff", 1), WSCORE_RESULT_INVALID_UTF8);
    pump(client, server);
    wscore_conn_free(client);
    wscore_conn_free(server);
}

static void panic_poisons(void) {
    wscore_conn *client = NULL, *server = NULL;
    connect_pair(NULL, &client, &server);
    EXPECT(wscore_test_panic(client), WSCORE_RESULT_PANIC);
    EXPECT(wscore_conn_send_text(client, (const uint8_t *)"x", 1), WSCORE_RESULT_POISONED);
    EXPECT(wscore_conn_recv(client, 0, NULL, 0), WSCORE_RESULT_POISONED);
    wscore_transmit t;
    EXPECT(wscore_conn_poll_transmit(client, &t), WSCORE_RESULT_POISONED);
    EXPECT(wscore_test_panic(client), WSCORE_RESULT_POISONED);
    /* The other connection is untouched. */
    EXPECT(wscore_conn_send_text(server, (const uint8_t *)"x", 1), WSCORE_RESULT_OK);
    wscore_conn_free(client); /* freeing a poisoned connection is fine */
    wscore_conn_free(server);
}

static void every_code_is_named(void) {
    for (uint32_t code = WSCORE_RESULT_OK; code <= WSCORE_RESULT_POISONED; code++) {
        const char *name = wscore_result_name(code);
        TRUE_THAT(strncmp(name, "WSCORE_RESULT_", 14) == 0 && strcmp(name, "WSCORE_RESULT_UNKNOWN") != 0);
    }
    TRUE_THAT(strcmp(wscore_result_name(WSCORE_RESULT_POISONED + 1), "WSCORE_RESULT_UNKNOWN") == 0);
    TRUE_THAT(strcmp(wscore_result_name(UINT32_MAX), "WSCORE_RESULT_UNKNOWN") == 0);
}

int main(void) {
    null_pointers_and_zero_lengths();
    bad_values();
    state_errors();
    stream_errors();
    panic_poisons();
    every_code_is_named();
    if (failures) {
        fprintf(stderr, "misuse: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("misuse: %d checks passed\n", checks);
    return 0;
}
