"""write_batch(buffer) and read_into(buffer, cursor): many one-element
records per call through the buffer protocol."""

import array
import struct
import threading

import pytest

from conftest import PROCESS_TIMEOUT, run_python
from slick_queue_py import AtomicCursor, SlickQueue


def test_write_batch_makes_one_record_per_element():
    q = SlickQueue(size=16, element_size=4)
    items = array.array("I", [10, 11, 12])
    assert q.write_batch(items) == 0
    assert q.write_batch(b"\x01\x00\x00\x00") == 3
    got, cursor = q.read_batch(0, 10)
    assert got == [struct.pack("<I", v) for v in (10, 11, 12, 1)]
    assert cursor == 4
    assert q.read_last() == struct.pack("<I", 1)


@pytest.mark.parametrize(
    "make",
    [bytes, bytearray, lambda b: memoryview(bytearray(b)), lambda b: array.array("B", b), lambda b: memoryview(b)[::1]],
    ids=["bytes", "bytearray", "memoryview", "array", "memoryview-slice"],
)
def test_write_batch_takes_any_contiguous_buffer(make):
    q = SlickQueue(size=8, element_size=2)
    q.write_batch(make(b"aabbcc"))
    assert q.read_batch(0, 8)[0] == [b"aa", b"bb", b"cc"]


def test_write_batch_takes_a_numpy_array_when_numpy_is_there():
    np = pytest.importorskip("numpy", reason="NumPy is optional; the buffer protocol is what is tested")
    q = SlickQueue(size=8, element_size=8)
    q.write_batch(np.arange(3, dtype=np.uint64))
    buf = np.zeros(8, dtype=np.uint64)
    n, _ = q.read_into(buf, 0)
    assert n == 3 and list(buf[:3]) == [0, 1, 2]


def test_write_batch_errors():
    q = SlickQueue(size=4, element_size=4)
    with pytest.raises(ValueError, match="not a multiple of element_size=4"):
        q.write_batch(b"abcde")
    with pytest.raises(ValueError, match="non-zero number of elements"):
        q.write_batch(b"")
    with pytest.raises(RuntimeError, match="does not fit in a queue of size 4"):
        q.write_batch(bytes(20))
    with pytest.raises(TypeError, match="not str"):
        q.write_batch("abcd")
    with pytest.raises(TypeError):
        q.write_batch(1234)
    non_contiguous = memoryview(bytearray(16))[::2]
    with pytest.raises(Exception):
        q.write_batch(non_contiguous)
    q.close()
    with pytest.raises(ValueError, match="closed"):
        q.write_batch(b"abcd")


def test_read_into_copies_whole_records_back_to_back():
    q = SlickQueue(size=16, element_size=2)
    q.write_batch(b"a1a2a3")
    q.write(b"bbbb")  # a record of 2 elements
    buf = bytearray(8)
    assert q.read_into(buf, 0) == (3, 3)  # the 2-element record does not fit the 2 bytes left
    assert bytes(buf[:6]) == b"a1a2a3"
    assert q.read_into(buf, 3) == (2, 5)
    assert bytes(buf[:4]) == b"bbbb"
    assert q.read_into(buf, 5) == (0, 5)


def test_read_into_refuses_a_buffer_smaller_than_the_next_record():
    q = SlickQueue(size=16, element_size=2)
    q.write(b"cccccc")
    with pytest.raises(ValueError, match="too small for the next record"):
        q.read_into(bytearray(4), 0)
    assert q.read_into(bytearray(6), 0) == (3, 3)


def test_read_into_needs_a_writable_buffer():
    q = SlickQueue(size=4, element_size=1)
    q.write(b"x")
    with pytest.raises(TypeError, match="writable"):
        q.read_into(b"readonly", 0)
    with pytest.raises(TypeError):
        q.read_into(bytearray(4), "0")


def test_read_into_with_an_atomic_cursor_splits_records_between_consumers():
    q = SlickQueue(size=1024, element_size=8)
    cursor = AtomicCursor(bytearray(8))
    total = 1000
    for start in range(0, total, 100):
        q.write_batch(array.array("Q", range(start, start + 100)))
    seen = []
    lock = threading.Lock()

    def consume():
        buf = array.array("Q", bytes(8 * 64))
        while True:
            n, _ = q.read_into(buf, cursor)
            if n == 0:
                return
            with lock:
                seen.extend(buf[:n])

    threads = [threading.Thread(target=consume) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(total))
    assert cursor.load() == total


def test_read_into_shared_leaves_a_record_that_does_not_fit_unclaimed():
    q = SlickQueue(size=16, element_size=1)
    cursor = AtomicCursor(bytearray(8))
    q.write_batch(b"ab")
    q.write(b"CDE")
    buf = bytearray(4)
    assert q.read_into(buf, cursor) == (2, 2)  # "ab" claimed as one run; "CDE" does not fit
    assert cursor.load() == 2 and q.loss_count() == 0
    assert q.read_into(buf, cursor) == (3, 5) and bytes(buf[:3]) == b"CDE"
    q.write(b"FGHIJ")
    with pytest.raises(ValueError, match="too small for the next record"):
        q.read_into(buf, cursor)
    assert cursor.load() == 5  # not claimed
    assert q.read_into(bytearray(5), cursor) == (5, 10)


def test_two_processes_move_items_in_order(tmp_path, shm_name):
    """A producer process with write_batch and a consumer with read_into:
    every item arrives, in order, on a ring big enough never to lap."""
    name = shm_name("batch")
    n_items = 200_000
    q = SlickQueue(name=name, size=1 << 18, element_size=32)
    producer = tmp_path / "producer.py"
    producer.write_text(
        "import array, sys\n"
        "from slick_queue_py import SlickQueue\n"
        f"q = SlickQueue(name={name!r}, element_size=32)\n"
        f"for start in range(0, {n_items}, 1024):\n"
        f"    n = min(1024, {n_items} - start)\n"
        "    a = array.array('Q', [0] * (4 * n))\n"
        "    a[0::4] = array.array('Q', range(start, start + n))\n"
        "    q.write_batch(a)\n"
        "q.close()\n"
    )
    proc = run_python([producer], timeout=PROCESS_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    buf = array.array("Q", bytes(32 * 1024))
    cursor = expected = 0
    while expected < n_items:
        n, cursor = q.read_into(buf, cursor)
        assert n > 0
        assert list(buf[0 : 4 * n : 4]) == list(range(expected, expected + n))
        expected += n
    assert q.read_into(buf, cursor) == (0, cursor) and q.loss_count() == 0
    q.close()


def test_write_batch_with_items_per_slot_makes_one_record_per_element():
    # A record covers items_per_slot elements here, so each element gets
    # its own reservation; readers still see one record per element.
    q = SlickQueue(size=16, element_size=1, items_per_slot=4)
    first = q.write_batch(b"abc")
    assert first == 0
    got, cursor = q.read_batch(0, 10)
    assert got == [b"a", b"b", b"c"] and cursor == 12
    buf = bytearray(8)
    q.write_batch(b"de")
    assert q.read_into(buf, 12) == (2, 20) and buf[:2] == b"de"
