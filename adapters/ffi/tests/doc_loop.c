/*
 * Runs the loop of docs/c-api.md: scripts/ffi.sh extracts its C block
 * (`serve`) and links it with this file, which accepts one connection on
 * 127.0.0.1, prints "listening on ws://HOST:PORT" and hands it to serve().
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int serve(int fd);

int main(void) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr *)&sa, &len) != 0) {
        perror("doc_loop");
        return 1;
    }
    printf("listening on ws://127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    int fd = accept(listener, NULL, NULL);
    close(listener);
    return fd < 0 || serve(fd) != 0;
}
