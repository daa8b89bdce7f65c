"""Rough single-thread throughput of the original README's calls, for
comparing this package with the original pure-Python slick-queue-py (run the
same script under each interpreter). Informal: one process, one thread,
local memory; the measured comparison is bench/run (bench_py.py).

    .venv/bin/python bench/python/quick_compare.py
    .peer-venv/bin/python bench/python/quick_compare.py
"""

import struct
import time

import slick_queue_py
from slick_queue_py import AtomicCursor, SlickQueue

N = 200_000
ours = hasattr(SlickQueue, "read_wait")


def rate(label, fn):
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(f"{label:<42} {N / dt / 1e6:8.3f} M ops/s")


q = SlickQueue(size=1 << 18, element_size=32)
payload = struct.pack("<II", 1, 2)


def produce():
    for _ in range(N):
        idx = q.reserve()
        q[idx][:8] = payload
        q.publish(idx)


def consume():
    read_index = 0
    for _ in range(N):
        data, size, read_index = q.read(read_index)


def steal():
    cursor = AtomicCursor(bytearray(8))
    for _ in range(N):
        q.read(cursor)


print(f"slick_queue_py {slick_queue_py.__version__} ({'this package' if ours else 'pure-Python original'})")
rate("reserve + q[idx][:8] = ... + publish", produce)
rate("read(int)", consume)
rate("read(AtomicCursor)", steal)
if ours:
    q.reset()
    rate("write(bytes)", lambda: [q.write(payload) for _ in range(N)])
    rate("read_batch(int, 1000), per record", lambda: [q.read_batch(i, 1000) for i in range(0, N, 1000)])
