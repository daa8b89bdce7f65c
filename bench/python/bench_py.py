#!/usr/bin/env python3
"""Python benchmarks (`docs/spec/BENCH_PROTOCOL.md` shapes, Python-sized counts).

One measurement per process, like the Rust harness; bench/run.py runs each
cell 5 times, alternating implementations, and takes median/min/max.

    python bench_py.py list                      which implementations this interpreter can run (JSON)
    python bench_py.py run <impl> <test> [--smoke]   one measurement: prints RESULT {json}

The slick implementations import the module ``slick_queue_py`` of the
interpreter that runs this script, so the same script measures our PyO3
binding (in its virtualenv) and the pure-Python ``slick-queue-py==2.3.0``
(in the peer virtualenv): both use that module name.

Implementations:
    slick-readme the original README's call pattern: idx = q.reserve(); q[idx][:n] = data;
                 q.publish(idx) / data, size, cursor = q.read(cursor)
    slick-fast   one-call write + batch read (names below); only where the
                 module has them (our binding), else reported unsupported
    slick-batch  write_batch(array of 1024 items) / read_into(array buffer):
                 many one-element records per call, no Python object per
                 item (our binding only; tests step and xput)
    slick-batch-excl  the same with the producer's object made with
                 exclusive_producer=True
    mpqueue      multiprocessing.Queue (put / blocking get)
    faster-fifo  faster_fifo.Queue (put / get_many)
    iceoryx2     iceoryx2 publish/subscribe (loan_uninit, write_payload, send / receive)

Tests (32-byte elements):
    step      one thread: produce a block of items, then consume it; ns per item each way
    xput      cross-process throughput (producer child pinned to CPU 0, consumer
              parent on CPU 1, `consumed`-counter flow control, sequence checks)
    pingpong  cross-process round trip through two queues of 1024: p50/p99/p99.9
    wake      sparse traffic: a producer process writes one record every 10 ms, the
              reader sleeps in its blocking wait (read_wait / get / eventfd read);
              wake-up latency p50/p99 (send to return), and the waiter's CPU
              (process time / wall time) while idle and while records trickle in.
              Implementations: our binding (read_wait), mpqueue, faster-fifo and
              `eventfd` (the kernel baseline: a timestamp in shared memory plus an
              eventfd written by the producer and read by the waiter); also
              `slick-poll50` (our read_wait with poll_interval=0.05, for queues
              whose producers all ring) and `timer-1ms` (a loop of 1 ms sleeps
              checking a counter: what any 1 ms bounded poll costs at least)
"""
from __future__ import annotations

import ctypes
import json
import mmap
import multiprocessing as mp
import os
import struct
import sys
import time

# ---------------------------------------------------------------------------
# The binding's one-call API. Planned names; adapt them here if they change.
ONE_CALL_WRITE = "write"  # q.write(data) -> index
BATCH_READ = "read_batch"  # q.read_batch(cursor, max_records) -> (list_of_bytes, new_cursor)
BATCH_MAX = 64
BATCH_WRITE = "write_batch"  # q.write_batch(buffer) -> first index
BATCH_INTO = "read_into"  # q.read_into(buffer, cursor) -> (elements, next_cursor)
BATCH_CHUNK = 1024  # items per write_batch() call
# ---------------------------------------------------------------------------

ELEMENT_SIZE = 32
SIZE = 1 << 16  # throughput queue size, window SIZE // 2
PING_SIZE = 1024
BLOCK = 1024  # items per produce/consume block in the step test

COUNTS = {  # (full, smoke)
    "step": (200_000, 4_096),
    "xput": (200_000, 4_000),
    "pingpong": (20_000, 300),
    "wake": (400, 30),
}
WARMUP = {"pingpong": (2_000, 50)}
#: slick-batch moves millions of items per second: more of them, so that a
#: run lasts long enough to measure (a fraction of a second at 8M/s).
BATCH_COUNTS = {"step": (2_000_000, 4_096), "xput": (5_000_000, 16_384)}
BATCH_IMPLS = ("slick-batch", "slick-batch-excl")

IMPLS = ["slick-readme", "slick-fast", "slick-batch", "slick-batch-excl", "slick-poll50", "mpqueue", "faster-fifo", "iceoryx2", "eventfd", "timer-1ms"]
#: The tests an implementation runs, where not all of them.
ONLY_TESTS = {"slick-batch": ("step", "xput"), "slick-batch-excl": ("step", "xput"), "slick-poll50": ("wake",), "timer-1ms": ("wake",)}
#: slick-poll50: our reader with poll_interval=0.05 (for queues whose
#: producers all ring the doorbell; see docs/PYTHON.md).
POLL50 = 0.05
TESTS = ["step", "xput", "pingpong", "wake"]

WAKE_PERIOD = 0.010  # seconds between records in the wake test
WAKE_IDLE = (2.0, 0.3)  # seconds of the idle-CPU measurement (full, smoke)
WAKE_WARMUP = 5  # first records left out of the latency figures

PRODUCER_CPU = 0
CONSUMER_CPU = 1
STALL_SECS = 30.0


def fail(msg: str) -> None:
    print(f"bench_py: FAILED: {msg}", file=sys.stderr)
    sys.stderr.flush()
    os._exit(2)


def payload(seq: int) -> bytes:
    """32 bytes: the sequence number, then a fixed pattern."""
    return seq.to_bytes(8, "little") + b"\xa5" * (ELEMENT_SIZE - 8)


def seq_of(data) -> int:
    return int.from_bytes(bytes(data[:8]), "little")


def pin(cpu: int) -> None:
    try:
        if cpu < os.cpu_count():
            os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        pass


class Spin:
    """Spin briefly, then yield; fail the run if nothing happens for 30 s."""

    __slots__ = ("n", "since")

    def __init__(self) -> None:
        self.n = 0
        self.since = 0.0

    def wait(self) -> None:
        self.n += 1
        if self.n < 64:
            return
        os.sched_yield()
        if self.since == 0.0:
            self.since = time.monotonic()
        elif time.monotonic() - self.since > STALL_SECS:
            fail("no progress for 30 s (stalled)")

    def reset(self) -> None:
        self.n = 0
        self.since = 0.0


class Control:
    """Shared words for the two processes (anonymous shared mapping, inherited
    by fork): consumed counter, ready and go flags, each on its own line."""

    def __init__(self) -> None:
        self.mm = mmap.mmap(-1, 4096)
        self.words = memoryview(self.mm).cast("Q")

    # word indices, 64 bytes apart
    CONSUMED, READY, GO = 0, 8, 16

    def get(self, w: int) -> int:
        return self.words[w]

    def set(self, w: int, v: int) -> None:
        self.words[w] = v


def unique(tag: str) -> str:
    return f"slickpy_{tag}_{os.getpid()}_{time.monotonic_ns() & 0xFFFFFF:x}"


# ---------------------------------------------------------------------------
# Adapters: one small class per implementation with the same methods.


def slick_module():
    import slick_queue_py  # noqa: PLC0415  (the interpreter's own)

    return slick_queue_py


def slick_info() -> dict:
    try:
        m = slick_module()
    except ImportError as e:
        return {"available": False, "reason": f"no slick_queue_py: {e}"}
    q = m.SlickQueue(size=16, element_size=ELEMENT_SIZE)
    fast = hasattr(q, ONE_CALL_WRITE) and hasattr(q, BATCH_READ)
    try:
        m.SlickQueue(size=16, element_size=ELEMENT_SIZE, poll_interval=POLL50)
        poll = True
    except TypeError:
        poll = False
    try:
        m.SlickQueue(size=16, element_size=ELEMENT_SIZE, exclusive_producer=True)
        excl = True
    except TypeError:
        excl = False
    f = getattr(m, "__file__", "") or ""
    return {
        "available": True,
        "version": getattr(m, "__version__", "?"),
        # The PyPI peer is one pure-Python file, slick_queue_py.py; our binding
        # is an extension module (or a package around one).
        "native": os.path.basename(f) != "slick_queue_py.py",
        "file": f,
        "fast": fast,
        "batch": hasattr(q, BATCH_WRITE) and hasattr(q, BATCH_INTO),
        "poll_interval": poll,
        "exclusive": excl,
    }


def remove_slick(m, name: str) -> None:
    try:
        m.SlickQueue.remove(name)
    except Exception:  # noqa: BLE001
        try:
            os.unlink("/dev/shm/" + name)
        except OSError:
            pass


class SlickReadme:
    """The original README's call pattern."""

    kind = "slick"

    def __init__(self, name=None, size=SIZE, create=True, **kw):
        m = slick_module()
        self.m = m
        self.name = name
        if name is None:
            self.q = m.SlickQueue(size=size, element_size=ELEMENT_SIZE, **kw)
        elif create:
            self.q = m.SlickQueue(name=name, size=size, element_size=ELEMENT_SIZE, **kw)
        else:
            self.q = m.SlickQueue(name=name, element_size=ELEMENT_SIZE, **kw)
        self.cursor = 0

    def put(self, data: bytes) -> int:
        q = self.q
        idx = q.reserve()
        q[idx][:ELEMENT_SIZE] = data
        q.publish(idx)
        return idx

    def get_many(self):
        """Returns (list of records, next cursor) - empty list when nothing."""
        data, size, cursor = self.q.read(self.cursor)
        if data is None:
            return (), cursor
        self.cursor = cursor
        return (data,), cursor

    def close(self, unlink: bool) -> None:
        try:
            self.q.close()
        except Exception:  # noqa: BLE001
            pass
        if unlink and self.name:
            remove_slick(self.m, self.name)


class SlickFast(SlickReadme):
    """One-call write and batch read."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._write = getattr(self.q, ONE_CALL_WRITE)
        self._read_batch = getattr(self.q, BATCH_READ)

    def put(self, data: bytes) -> int:
        return self._write(data)

    def get_many(self):
        items, cursor = self._read_batch(self.cursor, BATCH_MAX)
        self.cursor = cursor
        return items, cursor


class SlickBatch(SlickReadme):
    """write_batch() of BATCH_CHUNK items built with array, read_into() an
    array buffer of BATCH_CHUNK items. Items are 4 u64 words: the sequence
    number, then the 0xA5 pattern of payload()."""

    kind = "batch"
    FILL = int.from_bytes(b"\xa5" * 8, "little")

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        import array  # noqa: PLC0415

        self.array = array.array
        self.chunk = array.array("Q", [0, self.FILL, self.FILL, self.FILL] * BATCH_CHUNK)
        self.buf = array.array("Q", bytes(ELEMENT_SIZE * BATCH_CHUNK))
        self._write_batch = getattr(self.q, BATCH_WRITE)
        self._read_into = getattr(self.q, BATCH_INTO)

    def put_chunk(self, first_seq: int) -> int:
        """Writes items first_seq .. first_seq + BATCH_CHUNK - 1; returns the first index."""
        self.chunk[0::4] = self.array("Q", range(first_seq, first_seq + BATCH_CHUNK))
        return self._write_batch(self.chunk)

    def get_into(self) -> int:
        """Reads into self.buf; returns the number of items (0 when nothing)."""
        n, self.cursor = self._read_into(self.buf, self.cursor)
        return n

    def check(self, n: int, expect: int) -> None:
        """Every item's sequence number, in order (fails the run otherwise)."""
        if self.buf[0 : 4 * n : 4] != self.array("Q", range(expect, expect + n)):
            got = list(self.buf[0 : 4 * n : 4])
            bad = next(k for k in range(n) if got[k] != expect + k)
            fail(f"slick-batch: expected {expect + bad}, got {got[bad]}")


class MpQueue:
    kind = "counted"

    def __init__(self, size=SIZE):
        self.q = mp.get_context("fork").Queue(maxsize=size)
        self.got = 0

    def put(self, data: bytes) -> None:
        self.q.put(data)

    def finish(self) -> None:
        """Flush the feeder thread before the process ends."""
        self.q.close()
        self.q.join_thread()

    def get_many(self):
        try:
            d = self.q.get(timeout=STALL_SECS)
        except Exception:  # noqa: BLE001
            fail("multiprocessing.Queue: nothing within 30 s")
        self.got += 1
        return (d,), self.got

    def close(self, unlink: bool) -> None:
        pass


class FasterFifo:
    kind = "counted"

    def __init__(self, size=SIZE):
        import faster_fifo  # noqa: PLC0415

        # room for `size` 32-byte pickled records
        self.q = faster_fifo.Queue(max_size_bytes=size * 64)
        self.got = 0

    def put(self, data: bytes) -> None:
        self.q.put(data, timeout=STALL_SECS)

    def get_many(self):
        import queue as _q  # noqa: PLC0415

        try:
            items = self.q.get_many(timeout=STALL_SECS, max_messages_to_get=BATCH_MAX)
        except _q.Empty:
            fail("faster_fifo: nothing within 30 s")
        self.got += len(items)
        return items, self.got

    def close(self, unlink: bool) -> None:
        pass


class Payload32(ctypes.Structure):
    _fields_ = [("d", ctypes.c_uint8 * ELEMENT_SIZE)]


class Iceoryx2:
    """A publisher and/or subscriber of one iceoryx2 service."""

    kind = "counted"

    def __init__(self, name, size=SIZE, pub=True, sub=True):
        import iceoryx2 as iox2  # noqa: PLC0415

        iox2.set_log_level(iox2.LogLevel.Error)
        self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        svc = (
            self.node.service_builder(iox2.ServiceName.new("slickbench/" + name))
            .publish_subscribe(Payload32)
            .max_publishers(1)
            .max_subscribers(1)
            .history_size(0)
            .subscriber_max_buffer_size(size)
            .enable_safe_overflow(False)
            .open_or_create()
        )
        self.svc = svc
        self.sub = svc.subscriber_builder().buffer_size(size).create() if sub else None
        self.pub = svc.publisher_builder().create() if pub else None
        self.got = 0

    def add_publisher(self):
        self.pub = self.svc.publisher_builder().create()

    def put(self, data: bytes) -> None:
        s = self.pub.loan_uninit()
        p = Payload32.from_buffer_copy(data)
        s.write_payload(p).send()

    def get_many(self):
        s = self.sub.receive()
        if s is None:
            return (), self.got
        d = bytes(s.payload().contents.d)
        s.delete()
        self.got += 1
        return (d,), self.got

    def close(self, unlink: bool) -> None:
        """Releases the ports and the node (else their shared-memory objects
        outlive the process, which ends with os._exit)."""
        for port in (self.sub, self.pub):
            if port is not None:
                port.delete()
        self.sub = self.pub = None
        self.svc = None
        self.node = None  # the last reference: dropping it releases the node


def info() -> dict:
    out = {}
    si = slick_info()
    out["slick-readme"] = dict(si) if si["available"] else si
    if si["available"]:
        out["slick-fast"] = (
            dict(si)
            if si["fast"]
            else {"available": False, "reason": f"this slick_queue_py has no {ONE_CALL_WRITE}()/{BATCH_READ}()"}
        )
    else:
        out["slick-fast"] = si
    if si["available"] and si["batch"]:
        out["slick-batch"] = dict(si)
    elif si["available"]:
        out["slick-batch"] = {"available": False, "reason": f"this slick_queue_py has no {BATCH_WRITE}()/{BATCH_INTO}()"}
    else:
        out["slick-batch"] = si
    if si["available"] and si["batch"] and si.get("exclusive"):
        out["slick-batch-excl"] = dict(si)
    elif si["available"]:
        out["slick-batch-excl"] = {"available": False, "reason": "this slick_queue_py has no batch calls or no exclusive_producer"}
    else:
        out["slick-batch-excl"] = si
    if si["available"] and si.get("poll_interval"):
        out["slick-poll50"] = dict(si)
    elif si["available"]:
        out["slick-poll50"] = {"available": False, "reason": "this slick_queue_py has no poll_interval keyword"}
    else:
        out["slick-poll50"] = si
    out["mpqueue"] = {"available": True}
    for mod, impl in (("faster_fifo", "faster-fifo"), ("iceoryx2", "iceoryx2")):
        try:
            __import__(mod)
            out[impl] = {"available": True}
        except ImportError as e:
            out[impl] = {"available": False, "reason": str(e)}
    out["eventfd"] = (
        {"available": True} if hasattr(os, "eventfd") else {"available": False, "reason": "os.eventfd needs Python 3.10+ on Linux"}
    )
    out["timer-1ms"] = {"available": True}
    return out


def make(impl: str, name=None, size=SIZE, **kw):
    if impl == "slick-readme":
        return SlickReadme(name, size)
    if impl == "slick-fast":
        return SlickFast(name, size)
    if impl == "slick-batch":
        return SlickBatch(name, size)
    if impl == "slick-batch-excl":
        return SlickBatch(name, size, exclusive_producer=True)
    if impl == "mpqueue":
        return MpQueue(size)
    if impl == "faster-fifo":
        return FasterFifo(size)
    if impl == "iceoryx2":
        return Iceoryx2(name or unique("step"), size)
    fail(f"unknown implementation {impl}")


# ---------------------------------------------------------------------------
# Tests


def test_step_batch(impl: str, count: int) -> dict:
    """test_step for slick-batch(-excl): a block is one write_batch() and as
    many read_into() calls as it takes (one)."""
    q = make(impl, None, max(SIZE, BLOCK))
    blocks = max(1, count // BLOCK)
    t_prod = t_cons = 0
    pc = time.perf_counter_ns
    expect = 0
    for b in range(blocks):
        t0 = pc()
        q.put_chunk(b * BLOCK)
        t1 = pc()
        got = 0
        while got < BLOCK:
            got += q.get_into()
        t2 = pc()
        q.check(got, expect)  # outside the timing
        expect += got
        t_prod += t1 - t0
        t_cons += t2 - t1
    q.close(True)
    n = blocks * BLOCK
    return {"count": n, "produce_ns": t_prod / n, "consume_ns": t_cons / n, "step_ns": (t_prod + t_cons) / n}


def test_step(impl: str, count: int) -> dict:
    if impl in BATCH_IMPLS:
        return test_step_batch(impl, count)
    size = max(SIZE, BLOCK) if impl != "iceoryx2" else BLOCK
    q = make(impl, None, size)
    blocks = max(1, count // BLOCK)
    data = [payload(i) for i in range(BLOCK)]
    t_prod = 0
    t_cons = 0
    expect = 0
    pc = time.perf_counter_ns
    put = q.put
    get_many = q.get_many
    for b in range(blocks):
        t0 = pc()
        for d in data:
            put(d)
        t1 = pc()
        got = 0
        while got < BLOCK:
            items, _ = get_many()
            got += len(items)
        t2 = pc()
        t_prod += t1 - t0
        t_cons += t2 - t1
        expect += BLOCK
    # check the last block's content once (outside the timing)
    q.close(True)
    n = blocks * BLOCK
    return {
        "count": n,
        "produce_ns": t_prod / n,
        "consume_ns": t_cons / n,
        "step_ns": (t_prod + t_cons) / n,
    }


def producer_batch_proc(qname, ctl, count, excl):
    """The slick-batch producer: write_batch() of BATCH_CHUNK items, never
    more than half the ring ahead of the consumer (so nothing is lost);
    `excl`: as the queue's exclusive producer."""
    pin(PRODUCER_CPU)
    q = SlickBatch(qname, SIZE, create=False, **({"exclusive_producer": True} if excl else {}))
    words = ctl.words
    half = SIZE // 2
    ctl.set(Control.READY, 1)
    spin = Spin()
    while ctl.get(Control.GO) == 0:
        spin.wait()
    cached = 0
    for s in range(0, count, BATCH_CHUNK):
        if s + BATCH_CHUNK - cached >= half:
            spin.reset()
            while True:
                cached = words[0]
                if s + BATCH_CHUNK - cached < half:
                    break
                spin.wait()
        q.put_chunk(s)
    q.close(False)
    os._exit(0)


def producer_proc(impl, qname, ctl, count, q_obj):
    pin(PRODUCER_CPU)
    if impl in ("slick-readme", "slick-fast"):
        cls = SlickFast if impl == "slick-fast" else SlickReadme
        q = cls(qname, SIZE, create=False)
    elif impl == "iceoryx2":
        q = Iceoryx2(qname, SIZE, pub=True, sub=False)
    else:
        q = q_obj
    words = ctl.words
    half = SIZE // 2
    ctl.set(Control.READY, 1)
    spin = Spin()
    while ctl.get(Control.GO) == 0:
        spin.wait()
    cached = 0
    last = 0
    put = q.put
    for s in range(count):
        if last + 1 - cached >= half:
            spin.reset()
            while True:
                cached = words[0]
                if last + 1 - cached < half:
                    break
                spin.wait()
        idx = put(payload(s))
        last = idx if idx is not None else s
    finish = getattr(q, "finish", None)
    if finish:
        finish()
    if impl != "mpqueue" and impl != "faster-fifo":
        q.close(False)
    os._exit(0)


def test_xput_batch(impl: str, count: int) -> dict:
    """test_xput for slick-batch(-excl): whole chunks, every item's sequence
    number checked in order. The consumer's object never produces (it is not
    the exclusive producer)."""
    count -= count % BATCH_CHUNK
    ctx = mp.get_context("fork")
    ctl = Control()
    qname = unique("x")
    q = make("slick-batch", qname, SIZE)
    child = ctx.Process(target=producer_batch_proc, args=(qname, ctl, count, impl == "slick-batch-excl"))
    child.start()
    pin(CONSUMER_CPU)
    spin = Spin()
    while ctl.get(Control.READY) == 0:
        if not child.is_alive():
            fail("producer exited before starting")
        spin.wait()
    t0 = time.perf_counter()
    ctl.set(Control.GO, 1)
    expect = 0
    words = ctl.words
    get_into = q.get_into
    check = q.check
    spin.reset()
    while expect < count:
        n = get_into()
        if n == 0:
            spin.wait()
            continue
        check(n, expect)
        expect += n
        words[0] = q.cursor
        spin.reset()
    dt = time.perf_counter() - t0
    child.join(STALL_SECS)
    if child.exitcode != 0:
        fail(f"producer exit code {child.exitcode}")
    if q.q.loss_count() != 0:
        fail(f"slick-batch: {q.q.loss_count()} items lost")
    q.close(True)
    return {"count": count, "secs": dt, "msgs_per_sec": count / dt}


def test_xput(impl: str, count: int) -> dict:
    if impl in BATCH_IMPLS:
        return test_xput_batch(impl, count)
    ctx = mp.get_context("fork")
    ctl = Control()
    qname = unique("x")
    if impl in ("slick-readme", "slick-fast"):
        q = make(impl, qname, SIZE)
    elif impl == "iceoryx2":
        q = Iceoryx2(qname, SIZE, pub=False, sub=True)
    else:
        q = make(impl, None, SIZE)
    child = ctx.Process(target=producer_proc, args=(impl, qname, ctl, count, q))
    child.start()
    pin(CONSUMER_CPU)
    spin = Spin()
    while ctl.get(Control.READY) == 0:
        if not child.is_alive():
            fail("producer exited before starting")
        spin.wait()
    t0 = time.perf_counter()
    ctl.set(Control.GO, 1)
    expect = 0
    words = ctl.words
    get_many = q.get_many
    spin.reset()
    while expect < count:
        items, nxt = get_many()
        if not items:
            spin.wait()
            continue
        for d in items:
            if seq_of(d) != expect:
                fail(f"{impl}: expected {expect}, got {seq_of(d)}")
            expect += 1
        words[0] = nxt
        spin.reset()
    dt = time.perf_counter() - t0
    child.join(STALL_SECS)
    if child.exitcode != 0:
        fail(f"producer exit code {child.exitcode}")
    q.close(True)
    return {"count": count, "secs": dt, "msgs_per_sec": count / dt}


def pong_proc(impl, names, ctl, total, qs):
    pin(PRODUCER_CPU)
    if impl in ("slick-readme", "slick-fast"):
        cls = SlickFast if impl == "slick-fast" else SlickReadme
        ping = cls(names[0], PING_SIZE, create=False)
        pong = cls(names[1], PING_SIZE, create=False)
    elif impl == "iceoryx2":
        ping = Iceoryx2(names[0], PING_SIZE, pub=False, sub=True)
        pong = Iceoryx2(names[1], PING_SIZE, pub=True, sub=False)
    else:
        ping, pong = qs
    ctl.set(Control.READY, 1)
    n = 0
    get_many = ping.get_many
    put = pong.put
    while n < total:
        items, _ = get_many()
        for d in items:
            put(d)
            n += 1
    finish = getattr(pong, "finish", None)
    if finish:
        finish()
    if impl not in ("mpqueue", "faster-fifo"):
        ping.close(False)
        pong.close(False)
    os._exit(0)


def test_pingpong(impl: str, count: int, warmup: int) -> dict:
    ctx = mp.get_context("fork")
    ctl = Control()
    names = (unique("ping"), unique("pong"))
    total = warmup + count
    if impl in ("slick-readme", "slick-fast"):
        ping = make(impl, names[0], PING_SIZE)
        pong = make(impl, names[1], PING_SIZE)
        qs = None
    elif impl == "iceoryx2":
        ping = Iceoryx2(names[0], PING_SIZE, pub=False, sub=False)
        pong = Iceoryx2(names[1], PING_SIZE, pub=False, sub=True)
        qs = None
    else:
        ping = make(impl, None, PING_SIZE)
        pong = make(impl, None, PING_SIZE)
        qs = (ping, pong)
    child = ctx.Process(target=pong_proc, args=(impl, names, ctl, total, qs))
    child.start()
    pin(CONSUMER_CPU)
    spin = Spin()
    while ctl.get(Control.READY) == 0:
        if not child.is_alive():
            fail("echo process exited before starting")
        spin.wait()
    if impl == "iceoryx2":
        ping.add_publisher()  # after the child's subscriber exists
    rtts = []
    pc = time.perf_counter_ns
    put = ping.put
    get_many = pong.get_many
    t = pc()
    for s in range(total):
        put(payload(s))
        while True:
            items, _ = get_many()
            if items:
                break
        if seq_of(items[0]) != s:
            fail(f"ping-pong: sent {s}, got {seq_of(items[0])}")
        now = pc()
        if s >= warmup:
            rtts.append(now - t)
        t = now
    child.join(STALL_SECS)
    if child.exitcode != 0:
        fail(f"echo process exit code {child.exitcode}")
    ping.close(True)
    pong.close(True)
    rtts.sort()

    def q(p):
        return float(rtts[min(len(rtts) - 1, int(p * len(rtts)))])

    curve = []
    tail = 1.0
    while tail > 1.0 / len(rtts):
        curve.append(((1 - tail) * 100, q(1 - tail)))
        tail /= 2
    return {
        "count": count,
        "latency_ns": {
            "p50": q(0.5),
            "p90": q(0.9),
            "p99": q(0.99),
            "p999": q(0.999),
            "max": float(rtts[-1]),
            "mean": sum(rtts) / len(rtts),
            "curve": curve,
        },
    }


def wake_producer(impl, qname, ctl, count, shared):
    pin(PRODUCER_CPU)
    if impl.startswith("slick"):
        q = SlickReadme(qname, PING_SIZE, create=False)
        put = q.put
    elif impl in ("eventfd", "timer-1ms"):
        efd, mm = shared

        slot = [0]

        def put(data):
            slots = len(mm) // ELEMENT_SIZE - (1 if efd is None else 0)
            off = (slot[0] % slots) * ELEMENT_SIZE
            mm[off : off + ELEMENT_SIZE] = data
            slot[0] += 1
            if efd is None:
                # timer-1ms: the waiter polls a counter at the end of the map.
                mm[len(mm) - 8 :] = slot[0].to_bytes(8, "little")
            else:
                os.eventfd_write(efd, 1)
    else:
        put = shared.put
    ctl.set(Control.READY, 1)
    while ctl.get(Control.GO) == 0:
        time.sleep(0.001)
    due = time.monotonic()
    for s in range(count):
        due += WAKE_PERIOD
        left = due - time.monotonic()
        if left > 0:
            time.sleep(left)
        put(struct.pack("<QQ", s, time.perf_counter_ns()).ljust(ELEMENT_SIZE, b"\0"))
    finish = getattr(shared, "finish", None)
    if finish:
        finish()
    os._exit(0)


def test_wake(impl: str, count: int, idle_secs: float) -> dict:
    """Wake-up latency and waiter CPU of a reader blocked in its wait."""
    import queue as _q  # noqa: PLC0415
    import select  # noqa: PLC0415

    ctx = mp.get_context("fork")
    ctl = Control()
    name = None
    if impl.startswith("slick"):
        name = unique("wake")
        q = SlickReadme(name, PING_SIZE, **({"poll_interval": POLL50} if impl == "slick-poll50" else {}))
        if not hasattr(q.q, "read_wait"):
            q.close(True)
            fail("this slick_queue_py has no blocking read (read_wait)")
        cursor = [0]

        def wait(timeout):
            data, _size, cursor[0] = q.q.read_wait(cursor[0], timeout)
            return data

        shared = None
    elif impl == "eventfd":
        if not hasattr(os, "eventfd"):
            fail("os.eventfd needs Python 3.10+ on Linux")
        efd = os.eventfd(0)
        mm = mmap.mmap(-1, 1 << 16)  # record s in slot s (mod 2048): posts may coalesce
        shared = (efd, mm)
        posted = [0, 0]  # records announced, records taken

        def wait(timeout):
            if posted[0] == posted[1]:
                r, _, _ = select.select([efd], [], [], timeout)
                if not r:
                    return None
                posted[0] += os.eventfd_read(efd)
            off = (posted[1] % (len(mm) // ELEMENT_SIZE)) * ELEMENT_SIZE
            posted[1] += 1
            return bytes(mm[off : off + ELEMENT_SIZE])
    elif impl == "timer-1ms":
        # The cost of a bounded poll alone: sleep 1 ms, look, again (what a
        # reader that must see non-ringing producers within 1 ms pays at
        # least). Records go to slot s (mod 2047); the last 8 bytes count them.
        mm = mmap.mmap(-1, 1 << 16)
        shared = (None, mm)
        taken = [0]

        def wait(timeout):
            end = time.monotonic() + timeout
            while int.from_bytes(mm[len(mm) - 8 :], "little") == taken[0]:
                if time.monotonic() >= end:
                    return None
                time.sleep(0.001)
            off = (taken[0] % (len(mm) // ELEMENT_SIZE - 1)) * ELEMENT_SIZE
            taken[0] += 1
            return bytes(mm[off : off + ELEMENT_SIZE])
    else:
        shared = make(impl, None, PING_SIZE)

        def wait(timeout):
            try:
                return shared.q.get(timeout=timeout)
            except _q.Empty:
                return None

    child = ctx.Process(target=wake_producer, args=(impl, name, ctl, count, shared))
    child.start()
    pin(CONSUMER_CPU)
    while ctl.get(Control.READY) == 0:
        if not child.is_alive():
            fail("producer exited before starting")
        time.sleep(0.001)
    # Idle: one wait with nothing to receive.
    w0, c0 = time.perf_counter(), time.process_time()
    if wait(idle_secs) is not None:
        fail("received a record while idle")
    idle_pct = 100.0 * (time.process_time() - c0) / (time.perf_counter() - w0)
    ctl.set(Control.GO, 1)
    lats = []
    pc = time.perf_counter_ns
    w0, c0 = time.perf_counter(), time.process_time()
    for s in range(count):
        data = wait(STALL_SECS)
        now = pc()
        if data is None:
            fail(f"record {s} did not arrive within {STALL_SECS} s")
        seq, sent = struct.unpack_from("<QQ", data)
        if seq != s:
            fail(f"wake: expected record {s}, got {seq}")
        if s >= WAKE_WARMUP:
            lats.append(now - sent)
    sparse_pct = 100.0 * (time.process_time() - c0) / (time.perf_counter() - w0)
    child.join(STALL_SECS)
    if child.exitcode != 0:
        fail(f"producer exit code {child.exitcode}")
    if impl.startswith("slick"):
        q.close(True)
    lats.sort()

    def pct(p):
        return float(lats[min(len(lats) - 1, int(p * len(lats)))])

    return {
        "count": count,
        "period_ms": WAKE_PERIOD * 1e3,
        "wake_ns": {"p50": pct(0.5), "p99": pct(0.99), "max": float(lats[-1])},
        "cpu_idle_pct": idle_pct,
        "cpu_sparse_pct": sparse_pct,
    }


def main(argv) -> None:
    if len(argv) >= 1 and argv[0] == "list":
        print(json.dumps(info(), indent=1))
        return
    if len(argv) >= 3 and argv[0] == "run":
        impl, test = argv[1], argv[2]
        smoke = "--smoke" in argv[3:]
        avail = info().get(impl, {"available": False, "reason": "unknown implementation"})
        if not avail["available"]:
            fail(f"{impl} unavailable: {avail.get('reason')}")
        if test not in ONLY_TESTS.get(impl, TESTS):
            fail(f"{impl} does not run the {test} test (only {', '.join(ONLY_TESTS[impl])})")
        full, small = (BATCH_COUNTS if impl in BATCH_IMPLS else COUNTS)[test]
        count = small if smoke else full
        if test == "step":
            res = test_step(impl, count)
        elif test == "xput":
            res = test_xput(impl, count)
        elif test == "pingpong":
            w_full, w_small = WARMUP["pingpong"]
            res = test_pingpong(impl, count, w_small if smoke else w_full)
        elif test == "wake":
            if impl == "iceoryx2":
                fail("iceoryx2: no blocking wait in this adapter")
            res = test_wake(impl, count, WAKE_IDLE[1] if smoke else WAKE_IDLE[0])
        else:
            fail(f"unknown test {test}")
        res.update({"impl": impl, "test": test, "python": sys.executable})
        if impl.startswith("slick"):
            res["module"] = {k: avail.get(k) for k in ("version", "native", "file")}
        print("RESULT " + json.dumps(res))
        sys.stdout.flush()
        os._exit(0)  # skip interpreter teardown (iceoryx2/multiprocessing finalizers)
    print(__doc__, file=sys.stderr)
    sys.exit(64)


if __name__ == "__main__":
    main(sys.argv[1:])
