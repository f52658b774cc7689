#!/usr/bin/env python3
"""Conformance client for the WebSocket payload envelopes.

Implements the batching envelope (docs/batching.md, varint framing) and the
streaming envelope (docs/streaming.md) and checks an echo server against them.
The server echoes every logical message: text as text, binary as binary.

    python envelope_client.py --url ws://HOST:PORT/ --scenario NAME

Scenarios: batch, batch-fallback, batch-malformed, stream, stream-errors.
Exit status 0 on success; on any mismatch a message on stderr and status 1.
"""

import argparse
import asyncio
import hashlib
import random
import sys
import time

try:  # websockets >= 13
    from websockets.asyncio.client import connect
except ImportError:  # older releases: the legacy client has the same surface
    from websockets import connect
from websockets.exceptions import ConnectionClosed

BATCH_PROTO, PLAIN_PROTO, STREAM_PROTO = "wscore.batch.v1", "wscore.plain.v1", "wscore.stream.v1"
# streaming.md "Records": the one-byte tag of every binary message
T_BATCH, T_OPEN, T_CHUNK, T_END, T_ABORT, T_REFUSE = range(6)
CODE_NAMES = {1: "cancelled", 2: "invalid", 3: "limit exceeded", 4: "expired", 5: "data source failed"}
TIMEOUT = 50  # seconds per scenario; each must finish well under 60 s


class Mismatch(Exception):
    """The server did something the specs do not allow (or the echo is wrong)."""


class Malformed(Mismatch):
    """A payload that does not decode; `offset` is where decoding stopped."""

    def __init__(self, what, offset):
        super().__init__(f"{what} at offset {offset}")
        self.offset = offset


def check(cond, msg):
    if not cond:
        raise Mismatch(msg)


# ---------------------------------------------------------------- varints
def varint(n):
    """Unsigned LEB128, shortest form (batching.md: encoders must be shortest)."""
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def padded_varint(n, width):
    """A valid but non-shortest varint, to check the peer's decoder accepts it."""
    body = varint(n)
    pad = width - len(body)
    return bytes(b | 0x80 for b in body) + b"\x80" * (pad - 1) + b"\x00" if pad > 0 else body


def read_varint(buf, pos, shortest=False):
    """Decode a varint at `pos`, return (value, next_pos).

    Accepts at most ten bytes with a value below 2**64, as decoders must.
    `shortest` additionally rejects padded forms: we use it on what the server
    sends, because its encoder is required to produce the shortest varint."""
    start, value = pos, 0
    for i in range(10):
        if pos >= len(buf):
            raise Malformed("truncated varint", start)
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if value >= 1 << 64:
                raise Malformed("varint overflows 64 bits", start)
            if shortest and i > 0 and b == 0:
                raise Malformed("non-shortest varint from peer encoder", start)
            return value, pos
    raise Malformed("varint longer than ten bytes", start)


# ---------------------------------------------------------------- batches
def encode_batch(bodies, pad=()):
    """Concatenate `length || body` records; indices in `pad` get padded lengths."""
    return b"".join((padded_varint(len(b), 3) if i in pad else varint(len(b))) + b
                    for i, b in enumerate(bodies))


def decode_batch(payload, shortest=True):
    """Validate the whole batch first, then return its records (batching.md "Receiving")."""
    records, pos = [], 0
    while pos < len(payload):
        n, pos = read_varint(payload, pos, shortest)
        if pos + n > len(payload):
            raise Malformed("length runs past the end", pos)
        records.append(payload[pos:pos + n])
        pos += n
    return records


# ---------------------------------------------------------------- stream records
def rec_open(sid, total, meta=b""): return bytes([T_OPEN]) + varint(sid) + varint(total) + meta
def rec_chunk(sid, off, data): return bytes([T_CHUNK]) + varint(sid) + varint(off) + data
def rec_end(sid): return bytes([T_END]) + varint(sid)
def rec_batch(bodies): return bytes([T_BATCH]) + encode_batch(bodies)


class StreamReceiver:
    """Decodes streamed-connection messages from the server into events.

    Events: ("msg", str|bytes) for logical messages (text, batch records,
    completed streams), ("refuse"|"abort", id, code, reason). Streams are hashed
    as they arrive so a 64 MiB echo is never held whole; small ones are kept."""

    KEEP = 1 << 20

    def __init__(self):
        self.open = {}  # id -> dict(total, got, sha, data, meta)
        self.streams_done = []  # (id, total, metadata, sha256 hex)
        self.batches = 0

    def feed(self, msg):
        if isinstance(msg, str):
            return [("msg", msg)]
        try:
            return self._record(msg)
        except Malformed as e:
            raise Mismatch(f"server sent an undecodable record ({e}): {msg[:32].hex()}")

    def _record(self, m):
        if not m:
            raise Malformed("empty binary message", 0)
        tag = m[0]
        if tag == T_BATCH:
            self.batches += 1
            return [("msg", r) for r in decode_batch(m[1:])]
        if tag > T_REFUSE:
            raise Malformed(f"unknown tag {tag}", 0)
        sid, pos = read_varint(m, 1, True)
        check(sid < 1 << 32, f"stream id {sid} does not fit in 32 bits")
        if tag == T_END:
            check(pos == len(m), f"end record for stream {sid} has trailing bytes")
            st = self.open.pop(sid, None)
            check(st is not None, f"end for stream {sid} that is not open")
            check(st["got"] == st["total"], f"stream {sid} ended at {st['got']} of {st['total']} bytes")
            self.streams_done.append((sid, st["total"], st["meta"], st["sha"].hexdigest()))
            return [("msg", bytes(st["data"]) if st["data"] is not None else None)]
        num, pos = read_varint(m, pos, True)
        rest = m[pos:]
        if tag == T_OPEN:
            check(sid not in self.open, f"open for stream {sid} which is already open")
            self.open[sid] = dict(total=num, got=0, sha=hashlib.sha256(), meta=rest,
                                  data=bytearray() if num <= self.KEEP else None)
            return []
        if tag == T_CHUNK:
            st = self.open.get(sid)
            check(st is not None, f"chunk for stream {sid} that is not open")
            check(num == st["got"], f"stream {sid}: chunk at offset {num}, expected {st['got']}")
            check(num + len(rest) <= st["total"], f"stream {sid}: chunk runs past total_len")
            st["got"] += len(rest)
            st["sha"].update(rest)
            if st["data"] is not None:
                st["data"] += rest
            return []
        check(num < 1 << 32, f"abort/refuse code {num} does not fit in 32 bits")
        try:
            reason = rest.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("reason is not UTF-8", pos)
        if tag == T_ABORT:
            self.open.pop(sid, None)
        return [("refuse" if tag == T_REFUSE else "abort", sid, num, reason)]


# ---------------------------------------------------------------- helpers
async def open_ws(url, offer, want, **kw):
    """Connect offering `offer` (batched/streamed first) and insist on `want`."""
    ws = await connect(url, subprotocols=offer, max_size=1 << 24, **kw)
    check(ws.subprotocol == want, f"server selected {ws.subprotocol!r}, expected {want!r}")
    return ws


def describe(m):
    return repr(m if isinstance(m, str) or m is None or len(m) < 24 else m[:24] + b"...")


def compare(got, want, what):
    check(len(got) == len(want), f"{what}: got {len(got)} messages, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        check(type(g) is type(w) and g == w,
              f"{what}: message {i} differs: got {describe(g)}, expected {describe(w)}")


# ---------------------------------------------------------------- scenarios
async def scenario_batch(url):
    rng = random.Random(20240521)
    ws = await open_ws(url, [BATCH_PROTO, PLAIN_PROTO], BATCH_PROTO)

    # Plan the outgoing WebSocket messages and the logical messages they carry.
    outgoing, expected, sent_overhead, n_bin, rnd = [], [], 0, 0, 0
    while n_bin < 2000:
        rnd += 1
        k = min(rng.randint(1, 40), 2000 - n_bin)
        bodies = [rng.randbytes(rng.randint(0, 300)) for _ in range(k)]
        # Now and then pad one length varint: decoders must accept any valid varint.
        pad = {rng.randrange(k)} if rng.random() < 0.1 else set()
        payload = encode_batch(bodies, pad)
        sent_overhead += len(payload) - sum(map(len, bodies))
        outgoing.append(payload)
        expected += bodies
        n_bin += k
        if rng.random() < 0.05:  # text travels outside batches, order must hold
            outgoing.append(f"text #{len(outgoing)} between batches")
            expected.append(outgoing[-1])
        if rnd == 10:  # an empty binary message is a batch of no records
            outgoing.append(b"")
    outgoing.append("done")  # sentinel: must be the very last message echoed
    expected.append("done")

    got, stats = [], dict(batches=0, overhead=0)

    async def receiver():
        while len(got) < len(expected):
            m = await ws.recv()
            if isinstance(m, str):
                got.append(m)
                continue
            try:
                records = decode_batch(m)
            except Malformed as e:
                raise Mismatch(f"echoed batch is malformed: {e}")
            stats["batches"] += 1
            stats["overhead"] += len(m) - sum(map(len, records))
            got.extend(records)

    async def sender():
        for m in outgoing:
            await ws.send(m)

    await asyncio.gather(sender(), receiver())
    compare(got, expected, "batch echo")
    await ws.close()
    n_text = sum(isinstance(m, str) for m in expected)
    n_bin_batches = sum(isinstance(m, bytes) for m in outgoing)
    print(f"batch: {len(expected)} messages ({n_bin} binary, {n_text} text); "
          f"batches sent {n_bin_batches}, received {stats['batches']}; overhead per binary "
          f"message sent {sent_overhead / n_bin:.3f} B, received {stats['overhead'] / n_bin:.3f} B")


async def scenario_batch_fallback(url):
    ws = await open_ws(url, [PLAIN_PROTO], PLAIN_PROTO)
    # On the plain subprotocol these are ordinary messages, not batches: the
    # first would decode as a batch of "hi", the second is not a valid batch.
    msgs = [b"\x02hi", b"\x05ab", b"", "plain text", bytes(range(256)) * 8]
    for m in msgs:
        await ws.send(m)
    got = [await asyncio.wait_for(ws.recv(), 10) for _ in msgs]
    compare(got, msgs, "plain echo")
    await ws.close()
    print(f"batch-fallback: {PLAIN_PROTO} selected, {len(msgs)} messages echoed unchanged")


async def scenario_batch_malformed(url):
    ok = encode_batch([b"ok"])  # a valid batch first: it must be delivered
    cases = [  # (name, payload, offset where decoding stops)
        ("length past end", encode_batch([b"hi"]) + varint(5) + b"ab", 4),
        ("truncated varint", encode_batch([b"x"]) + b"\x80", 2),
        ("varint over 64 bits", b"\xff" * 9 + b"\x7f", 0),
        ("varint over ten bytes", encode_batch([b"y"]) + b"\x80" * 10 + b"\x00", 2),
    ]
    for name, bad, offset in cases:
        ws = await open_ws(url, [BATCH_PROTO, PLAIN_PROTO], BATCH_PROTO)
        await ws.send(ok)
        await ws.send(bad)
        got = []
        try:
            while True:  # nothing of the bad batch may come back, only the close
                got.extend(decode_batch(await asyncio.wait_for(ws.recv(), 10)))
        except ConnectionClosed as e:
            rcvd = e.rcvd
        except asyncio.TimeoutError:
            raise Mismatch(f"{name}: connection still open 10 s after a malformed batch")
        check(rcvd is not None, f"{name}: connection dropped without a close frame")
        check(rcvd.code == 1007, f"{name}: close code {rcvd.code} ({rcvd.reason!r}), expected 1007")
        check(got in ([b"ok"], []), f"{name}: part of the malformed batch was delivered: {got}")
        note = "" if str(offset) in rcvd.reason else f" [reason does not name offset {offset}]"
        print(f"batch-malformed: {name}: closed 1007 {rcvd.reason!r}; "
              f"earlier batch echoed: {got == [b'ok']}{note}")


async def scenario_stream(url):
    total, chunk = 64 << 20, 256 << 10
    rng = random.Random(7)
    big = random.Random(64).randbytes(total)
    big_sha = hashlib.sha256(big).hexdigest()
    ws = await open_ws(url, [STREAM_PROTO], STREAM_PROTO, compression=None)  # random: no deflate

    small, rx, got = [], StreamReceiver(), []

    async def sender():
        await ws.send(rec_open(0, total, b"application/octet-stream"))  # our first stream: id 0
        for i, off in enumerate(range(0, total, chunk)):
            await ws.send(rec_chunk(0, off, big[off:off + chunk]))
            if i % 4 == 3:  # small messages must not wait behind the stream
                bodies = [rng.randbytes(rng.randint(0, 300)) for _ in range(rng.randint(1, 8))]
                small.extend(bodies)
                await ws.send(rec_batch(bodies))
            if i % 64 == 10:
                small.append(f"text during chunk {i}")
                await ws.send(small[-1])
        await ws.send(rec_end(0))
        small.append("done")
        await ws.send("done")

    async def receiver():
        # The stream is unordered relative to other messages, so wait for both.
        while not (rx.streams_done and got and got[-1] == "done"):
            for ev in rx.feed(await ws.recv()):
                if ev[0] != "msg":
                    raise Mismatch(f"unexpected {ev[0]} for stream {ev[1]}: code {ev[2]} "
                                   f"({CODE_NAMES.get(ev[2], 'application')}) {ev[3]!r}")
                if ev[1] is not None:  # None: the big stream completed (hashed, not kept)
                    got.append(ev[1])

    await asyncio.gather(sender(), receiver())
    check(len(rx.streams_done) == 1, f"expected one stream back, got {len(rx.streams_done)}")
    sid, length, meta, sha = rx.streams_done[0]
    check(sid == 0, f"server's first stream has id {sid}, expected 0")
    check(length == total, f"echoed stream has {length} bytes, expected {total}")
    check(sha == big_sha, f"SHA-256 of echoed stream {sha} != sent {big_sha}")
    compare(got, small, "small messages beside the stream")
    await ws.close()
    print(f"stream: 64 MiB echoed as stream id {sid} (metadata {meta!r}), sha256 {sha[:16]}... ok; "
          f"{len(small)} small messages ok, {rx.batches} batch records received")


async def scenario_stream_errors(url):
    ws = await open_ws(url, [STREAM_PROTO], STREAM_PROTO)
    rx, refusals, got = StreamReceiver(), {}, []
    part = bytes(range(250)) * 2
    await ws.send(rec_open(0, 1000))
    await ws.send(rec_chunk(0, 0, part))
    await ws.send(rec_chunk(77, 0, b"never opened"))  # id 77 was never opened
    await ws.send(rec_chunk(0, 0, part))  # duplicate of bytes already received
    # The connection must stay usable: a batch, a text and a fresh stream (id 1).
    fresh = bytes(range(256)) * 12
    for m in (rec_batch([b"still", b"", b"alive"]), "text ok", rec_open(1, len(fresh)),
              rec_chunk(1, 0, fresh[:1000]), rec_chunk(1, 1000, fresh[1000:]), rec_end(1)):
        await ws.send(m)
    expected = [b"still", b"", b"alive", "text ok", fresh]

    async def receiver():
        while len(refusals) < 2 or len(got) < len(expected):
            for ev in rx.feed(await ws.recv()):
                if ev[0] == "msg":
                    got.append(ev[1])
                else:
                    if ev[0] != "refuse" or ev[1] in refusals:
                        raise Mismatch(f"unexpected {ev[0]} for stream {ev[1]}: code {ev[2]} {ev[3]!r}")
                    refusals[ev[1]] = (ev[2], ev[3])

    try:
        await asyncio.wait_for(receiver(), 10)
    except asyncio.TimeoutError:
        raise Mismatch(f"timed out: refusals {refusals}, echoed {[describe(g) for g in got]}")
    for sid, why in ((77, "chunk for a stream never opened"), (0, "duplicate chunk")):
        check(sid in refusals, f"no refuse for stream {sid} ({why}); got {refusals}")
        check(refusals[sid][0] == 2, f"refuse for stream {sid} ({why}) has code "
              f"{refusals[sid][0]}, expected 2 (invalid)")
    # The fresh stream's echo is below the stream threshold, so the text/batch
    # order is fixed but the stream's place relative to them is not.
    compare([g for g in got if g != fresh], expected[:-1], "echo after errors")
    check(fresh in got, "stream 1 was not echoed")
    await ws.close()
    print(f"stream-errors: refuse {refusals}; connection usable afterwards")


SCENARIOS = {
    "batch": scenario_batch,
    "batch-fallback": scenario_batch_fallback,
    "batch-malformed": scenario_batch_malformed,
    "stream": scenario_stream,
    "stream-errors": scenario_stream_errors,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="ws://HOST:PORT/ of the echo server")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    args = ap.parse_args()
    start = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(SCENARIOS[args.scenario](args.url), TIMEOUT))
    except Mismatch as e:
        print(f"FAIL {args.scenario}: {e}", file=sys.stderr)
        return 1
    except asyncio.TimeoutError:
        print(f"FAIL {args.scenario}: did not finish within {TIMEOUT} s", file=sys.stderr)
        return 1
    except (ConnectionClosed, OSError) as e:  # unexpected close, refused connection
        print(f"FAIL {args.scenario}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"PASS {args.scenario} in {time.monotonic() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
