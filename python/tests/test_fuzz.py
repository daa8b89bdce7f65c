"""Random calls with hostile arguments: every failure is an ordinary Python
exception, never a Rust panic (PanicException derives from BaseException)
or a crash, and the queue stays usable."""

import random

from slick_queue_py import AtomicCursor, SlickQueue

INTERESTING = [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, -1, -2, 2**31, 2**32, 2**32 + 1, 2**48, 2**63 - 1, 2**63, 2**64 - 1,
               2**64, 2**70, -(2**63), -(2**64), 0.5, float("nan"), float("inf"), None, "3", b"12345678",
               bytearray(8), True]
# Constructor arguments: hostile, but never a valid request for gigabytes.
SIZES = [None, 0, 1, 3, 8, 64, -1, -8, 2**32, 2**64, 2**70, 0.5, "8", b"8", float("nan"), True]
# Finite ones only: a cursor far ahead of the producers would wait for ever.
TIMEOUTS = [0, 0.0005, -1.0, float("nan"), -float("inf"), "3", b"x"]
EXPECTED = (ValueError, TypeError, RuntimeError, OverflowError, MemoryError)


def call(fn, *args):
    try:
        fn(*args)
    except EXPECTED:
        pass


def test_random_calls_raise_only_ordinary_exceptions():
    rng = random.Random(1234)
    pick = lambda: rng.choice(INTERESTING)  # noqa: E731
    q = SlickQueue(size=64, element_size=8, items_per_slot=2)
    words = bytearray(16)
    cursors = [AtomicCursor(words, 0), AtomicCursor(words, 8)]
    ops = [
        lambda: q.reserve(pick()),
        lambda: q.publish(pick(), pick()),
        lambda: q.__getitem__(pick()),
        lambda: q.read(pick()),
        lambda: q.read(rng.choice(cursors)),
        lambda: q.read_wait(pick(), 0),
        lambda: q.read_wait(rng.choice(cursors), rng.choice(TIMEOUTS)),
        lambda: q.read_wait(pick(), rng.choice(TIMEOUTS)),
        lambda: q.read_batch(pick(), pick()),
        lambda: q.read_batch(rng.choice(cursors), rng.randint(-2, 5)),
        lambda: q.write(pick()),
        lambda: q.write(bytes(rng.randint(0, 600))),
        lambda: q.read_last(),
        lambda: rng.choice(cursors).store(pick()),
        lambda: rng.choice(cursors).compare_exchange_weak(pick(), pick()),
        lambda: AtomicCursor(pick(), pick()),
        lambda: SlickQueue(size=rng.choice(SIZES), element_size=rng.choice(SIZES), items_per_slot=rng.choice(SIZES)),
        lambda: q.reset() if rng.random() < 0.05 else None,
    ]
    for _ in range(20000):
        op = rng.choice(ops)
        call(op)
    # Still a working queue.
    start = q.initial_reading_index()
    q.write(b"final")
    assert q.read(start)[0] == b"final\0\0\0"


def test_an_impossible_local_queue_is_a_memory_error():
    import pytest

    with pytest.raises(MemoryError, match="cannot allocate"):
        SlickQueue(size=2**31, element_size=2**31)  # 4 EiB
