"""A peer built on the `websockets` library for the interop tests.

Usage:

    peer.py server [OPTIONS]        listen on 127.0.0.1, serve one connection
    peer.py client URL [OPTIONS]    open one connection to URL

Options:

    --subprotocols A,B,...   the subprotocols this side speaks, in order of
                             preference (a client offers them all)
    --deflate SPEC           "off" disables permessage-deflate; otherwise a
                             comma-separated list of the extension's
                             parameters (server_no_context_takeover,
                             client_max_window_bits=10, ...) used instead of
                             the library's default settings
    --greet TEXT             send TEXT as soon as the connection is open
    --tls CERT KEY           (server) serve wss:// with the certificate
                             chain and private key in these PEM files

Every data message received is echoed back with its type, except text
messages that start with "!", which are commands:

    !close CODE REASON       start the closing handshake with CODE and REASON
    !ping HEX                ping with that payload, wait for the matching
                             pong, then send the text "pong HEX"
    !pings                   send the text "pings COUNT HEX,HEX,...": how
                             many pings were received so far, and their
                             payloads
    !fragments KIND N SIZE   send a KIND (text or binary) message in N
                             fragments of SIZE bytes; fragment i is SIZE
                             copies of the letter "a" + i % 26 (text) or of
                             the byte i % 256 (binary)
    !count KIND              receive the next message frame by frame, send the
                             text "fragments COUNT BYTES", then echo the
                             message as KIND

Lines on standard output tell the test what it cannot see on the connection:

    listening PORT           (server) the port it listens on
    open SUBPROTOCOL EXT     after the handshake: the subprotocol and the
                             Sec-WebSocket-Extensions value ("-" for none)
    closed CODE REASON       the close frame received ("closed -" for none)

The exit status is non-zero if anything failed, including a connection
that ended without a close frame from the other side.
"""

import argparse
import asyncio
import ssl
import sys

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode

# Payloads of the pings received, in order.
PINGS = []

# The first message to send, from --greet.
GREETING = None


def recording(base):
    """A connection class that records the payload of every ping received:
    the library answers pings without telling the application."""

    class Recording(base):
        def process_event(self, event):
            if isinstance(event, Frame) and event.opcode is Opcode.PING:
                PINGS.append(bytes(event.data))
            super().process_event(event)

    return Recording


def report(*words):
    print(*words, flush=True)


def deflate_options(spec, factory):
    """Keyword arguments for connect() or serve() from --deflate."""
    if spec is None:
        return {}
    if spec == "off":
        return {"compression": None}
    params = {}
    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        params[name] = int(value) if value else True
    return {"compression": None, "extensions": [factory(**params)]}


def fragments(kind, count, size):
    if kind == "text":
        return [chr(ord("a") + i % 26) * size for i in range(count)]
    if kind == "binary":
        return [bytes([i % 256]) * size for i in range(count)]
    raise ValueError(f"unknown kind {kind!r}")


async def command(ws, line):
    name, _, rest = line.partition(" ")
    if name == "close":
        code, _, reason = rest.partition(" ")
        await ws.close(int(code), reason)
    elif name == "ping":
        pong = await ws.ping(bytes.fromhex(rest))
        await asyncio.wait_for(pong, timeout=5)
        await ws.send(f"pong {rest}")
    elif name == "pings":
        await ws.send(f"pings {len(PINGS)} " + ",".join(p.hex() for p in PINGS))
    elif name == "fragments":
        kind, count, size = rest.split(" ")
        await ws.send(fragments(kind, int(count), int(size)))
    elif name == "count":
        parts = [part async for part in ws.recv_streaming(decode=False)]
        data = b"".join(parts)
        await ws.send(f"fragments {len(parts)} {len(data)}")
        await ws.send(data.decode() if rest == "text" else data)
    else:
        raise ValueError(f"unknown command {line!r}")


async def session(ws):
    """Runs one connection to its end; fails unless it closed cleanly."""
    extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
    report("open", ws.subprotocol or "-", extensions or "-")
    if GREETING is not None:
        await ws.send(GREETING)
    try:
        while True:
            message = await ws.recv()
            if isinstance(message, str) and message.startswith("!"):
                await command(ws, message[1:])
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    received = ws.protocol.close_rcvd
    if received is None:
        report("closed -")
        raise RuntimeError("the connection ended without a close frame")
    report("closed", int(received.code), received.reason)


async def run_server(args, options):
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        # An exception escaping the handler would only be logged.
        try:
            await session(ws)
        except BaseException as error:
            if not done.done():
                done.set_exception(error)
            raise
        if not done.done():
            done.set_result(None)

    async with serve(
        handler,
        "127.0.0.1",
        0,
        create_connection=recording(ServerConnection),
        **options,
        **deflate_options(args.deflate, ServerPerMessageDeflateFactory),
    ) as server:
        report("listening", server.sockets[0].getsockname()[1])
        await done


async def run_client(args, options):
    async with connect(
        args.url,
        create_connection=recording(ClientConnection),
        **options,
        **deflate_options(args.deflate, ClientPerMessageDeflateFactory),
    ) as ws:
        await session(ws)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("url", nargs="?")
    parser.add_argument("--subprotocols")
    parser.add_argument("--deflate")
    parser.add_argument("--greet")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    global GREETING
    GREETING = args.greet
    options = {
        # The tests send messages of 16 MiB and more.
        "max_size": None,
        # Pings come only from commands, so the tests can count them.
        "ping_interval": None,
        "open_timeout": 10,
        "close_timeout": 5,
    }
    if args.subprotocols:
        options["subprotocols"] = args.subprotocols.split(",")
    if args.tls:
        if args.role != "server":
            parser.error("--tls is for the server")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
        options["ssl"] = context
    if args.role == "server":
        asyncio.run(run_server(args, options))
    else:
        if not args.url:
            parser.error("client needs a URL")
        asyncio.run(run_client(args, options))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        print(f"peer.py: {type(error).__name__}: {error}", file=sys.stderr)
        raise
