/*
 * An echo server in C: POSIX sockets, one poll() loop for every
 * connection, the engine's timers on CLOCK_MONOTONIC.
 *
 *   echo_server [--addr HOST:PORT] [--deflate] [--streamed NAME]
 *               [--connections N]
 *
 * Prints "listening on ws://HOST:PORT" once it accepts connections, echoes
 * every message with its kind, and answers pings and closes (the engine
 * does). --deflate accepts permessage-deflate and compresses every
 * message; --streamed declares NAME as a subprotocol with the streamed
 * envelope; --connections makes it exit (freeing everything) after N
 * connections have ended.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "wscore.h"

#define MAX_PEERS 256
/* Reading stops while this much is queued for a peer that does not read. */
#define MAX_QUEUED ((size_t)16 << 20)

struct peer {
    int fd;
    wscore_conn *conn;
    bool want_write; /* the socket refused bytes: wait for POLLOUT */
    bool read_closed; /* the engine was told the transport ended */
};

static struct peer peers[MAX_PEERS];
static size_t peer_count;
static unsigned char read_buf[64 * 1024];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, wscore_result r) {
    fprintf(stderr, "echo_server: %s: %s\n", what, wscore_result_name((uint32_t)r));
    exit(1);
}

/* Writes what the engine has to write, as far as the socket takes it.
 * Returns false when the socket failed. */
static bool flush(struct peer *p) {
    wscore_transmit t;
    wscore_result r;
    while ((r = wscore_conn_poll_transmit(p->conn, &t)) == WSCORE_RESULT_OK) {
        struct iovec iov[2] = {
            {.iov_base = (void *)t.header, .iov_len = t.header_len},
            {.iov_base = (void *)t.payload, .iov_len = t.payload_len},
        };
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        ssize_t n = sendmsg(p->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                p->want_write = true;
                return true;
            }
            if (errno == EINTR) continue;
            return false;
        }
        r = wscore_conn_transmit_written(p->conn, (size_t)n);
        if (r != WSCORE_RESULT_OK) die("transmit_written", r);
    }
    if (r != WSCORE_RESULT_DONE) die("poll_transmit", r);
    return true;
}

/* Takes every event: accept the upgrade, echo messages. */
static void handle_events(struct peer *p, uint64_t now) {
    wscore_event e;
    wscore_result r;
    while ((r = wscore_conn_poll_event(p->conn, &e)) == WSCORE_RESULT_OK) {
        switch (e.kind) {
        case WSCORE_EVENT_KIND_REQUEST:
            r = wscore_conn_accept(p->conn, now, NULL);
            if (r != WSCORE_RESULT_OK) die("accept", r);
            break;
        case WSCORE_EVENT_KIND_MESSAGE:
            /* The event's view stays valid across the send, which copies. */
            r = e.message_kind == WSCORE_MESSAGE_KIND_TEXT
                    ? wscore_conn_send_text(p->conn, e.data, e.data_len)
                    : wscore_conn_send_binary(p->conn, e.data, e.data_len);
            /* A message that arrives after our close was queued cannot be
             * echoed; the connection is fine. */
            if (r != WSCORE_RESULT_OK && r != WSCORE_RESULT_CLOSING && r != WSCORE_RESULT_CLOSED)
                die("send", r);
            break;
        case WSCORE_EVENT_KIND_CLOSED:
            if (e.close_cause == WSCORE_CLOSE_CAUSE_PROTOCOL || e.close_cause == WSCORE_CLOSE_CAUSE_HANDSHAKE)
                fprintf(stderr, "echo_server: closed %u: %.*s\n", e.close_code, (int)e.text_len,
                        (const char *)e.text);
            break;
        default:
            break;
        }
    }
    if (r != WSCORE_RESULT_DONE) die("poll_event", r);
}

static void read_some(struct peer *p, uint64_t now) {
    /* A few reads per turn, so one fast peer does not starve the others. */
    for (int i = 0; i < 4 && !p->read_closed; i++) {
        ssize_t n = read(p->fd, read_buf, sizeof read_buf);
        if (n > 0) {
            wscore_result r = wscore_conn_recv(p->conn, now, read_buf, (size_t)n);
            if (r != WSCORE_RESULT_OK) die("recv", r);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        wscore_result r = wscore_conn_eof(p->conn, now);
        if (r != WSCORE_RESULT_OK) die("eof", r);
        p->read_closed = true;
    }
}

static void drop_peer(size_t i) {
    close(peers[i].fd);
    wscore_conn_free(peers[i].conn);
    peers[i] = peers[--peer_count];
}

static int listen_on(const char *addr, char *shown, size_t shown_len) {
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        fprintf(stderr, "echo_server: --addr wants HOST:PORT\n");
        exit(2);
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "echo_server: bad host %s\n", host);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        perror("echo_server: listen");
        exit(1);
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    snprintf(shown, shown_len, "%s:%u", host, ntohs(sa.sin_port));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void accept_all(int listener, const wscore_config *config, uint64_t now) {
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) return;
        if (peer_count == MAX_PEERS) {
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct peer *p = &peers[peer_count];
        memset(p, 0, sizeof *p);
        p->fd = fd;
        wscore_result r = wscore_conn_server(config, now, &p->conn);
        if (r != WSCORE_RESULT_OK) die("conn_server", r);
        peer_count++;
    }
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:9001";
    long connections = 0;
    wscore_config *config = NULL;
    wscore_result r = wscore_config_new(&config);
    if (r != WSCORE_RESULT_OK) die("config_new", r);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--addr") && i + 1 < argc) {
            addr = argv[++i];
        } else if (!strcmp(argv[i], "--deflate")) {
            wscore_deflate_options deflate = wscore_deflate_options_default();
            deflate.always_compress = true;
            if ((r = wscore_config_set_deflate(config, &deflate)) != WSCORE_RESULT_OK) die("deflate", r);
        } else if (!strcmp(argv[i], "--streamed") && i + 1 < argc) {
            r = wscore_config_add_subprotocol(config, argv[++i], WSCORE_ENVELOPE_STREAMED);
            if (r != WSCORE_RESULT_OK) die("subprotocol", r);
        } else if (!strcmp(argv[i], "--connections") && i + 1 < argc) {
            connections = atol(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--addr HOST:PORT] [--deflate] [--streamed NAME] [--connections N]\n",
                    argv[0]);
            return 2;
        }
    }
    char shown[96];
    int listener = listen_on(addr, shown, sizeof shown);
    printf("listening on ws://%s\n", shown);
    fflush(stdout);

    static struct pollfd fds[MAX_PEERS + 1];
    long ended = 0;
    while (connections == 0 || ended < connections) {
        uint64_t now = now_ns();
        /* Sleep until the earliest deadline of any connection. */
        int timeout_ms = -1;
        fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
        for (size_t i = 0; i < peer_count; i++) {
            struct peer *p = &peers[i];
            size_t queued = 0;
            wscore_conn_queued_bytes(p->conn, &queued);
            short events = 0;
            if (!p->read_closed && queued < MAX_QUEUED) events |= POLLIN;
            if (p->want_write) events |= POLLOUT;
            fds[i + 1] = (struct pollfd){.fd = p->fd, .events = events};
            uint64_t deadline;
            if (wscore_conn_timeout_ns(p->conn, &deadline) == WSCORE_RESULT_OK) {
                uint64_t wait_ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
                if (wait_ms > 60000) wait_ms = 60000;
                if (timeout_ms < 0 || (int)wait_ms < timeout_ms) timeout_ms = (int)wait_ms;
            }
        }
        size_t polled = peer_count;
        if (poll(fds, polled + 1, timeout_ms) < 0 && errno != EINTR) {
            perror("echo_server: poll");
            return 1;
        }
        now = now_ns();
        for (size_t i = 0; i < polled; i++) {
            struct peer *p = &peers[i];
            short revents = fds[i + 1].revents;
            if (revents & POLLOUT) p->want_write = false;
            if (revents & (POLLIN | POLLHUP | POLLERR)) read_some(p, now);
            if ((r = wscore_conn_on_timeout(p->conn, now)) != WSCORE_RESULT_OK) die("on_timeout", r);
        }
        if (fds[0].revents & POLLIN) accept_all(listener, config, now);
        /* Drain events, then transmits; drop the connections that are over. */
        for (size_t i = 0; i < peer_count;) {
            struct peer *p = &peers[i];
            handle_events(p, now);
            bool done = false;
            if (!flush(p)) {
                done = true; /* the socket failed: nothing more can be written */
            } else if ((r = wscore_conn_is_done(p->conn, &done)) != WSCORE_RESULT_OK) {
                die("is_done", r);
            }
            if (done) {
                drop_peer(i);
                ended++;
            } else {
                i++;
            }
        }
    }
    while (peer_count > 0) drop_peer(peer_count - 1);
    close(listener);
    wscore_config_free(config);
    return 0;
}
