"""The calls beyond the original API: write(), read_wait(), read_batch()."""

import array
import math
import struct
import textwrap
import threading
import time

import pytest

from conftest import assert_clean_exit, run_python
from slick_queue_py import AtomicCursor, SlickQueue

# --- write -----------------------------------------------------------------------


def test_write_spans_as_many_elements_as_needed_and_zero_fills():
    q = SlickQueue(size=16, element_size=4)
    assert q.write(b"abcdefghij") == 0  # 10 bytes: 3 elements
    assert q.write(b"") == 3  # nothing: still one (zeroed) element
    assert q.write(bytearray(b"wxyz")) == 4
    assert q.write(memoryview(b"..mv..")[2:4]) == 5
    assert q.write(array.array("I", [7])) == 6
    data, size, cursor = q.read(0)
    assert (data, size, cursor) == (b"abcdefghij\0\0", 3, 3)
    assert q.read(cursor) == (b"\0\0\0\0", 1, 4)
    assert q.read(4)[0] == b"wxyz"
    assert q.read(5)[0] == b"mv\0\0"
    assert q.read(6)[0] == struct.pack("<I", 7)
    assert q.read_last() == struct.pack("<I", 7)


def test_write_errors():
    q = SlickQueue(size=4, element_size=4)
    with pytest.raises(RuntimeError, match="17 bytes needs 5 elements of 4 bytes.*holds only 4"):
        q.write(bytes(17))
    assert q.write(bytes(16)) == 0  # exactly the whole ring is fine
    with pytest.raises(TypeError, match="not str"):
        q.write("text")
    with pytest.raises(TypeError):
        q.write(12)
    with pytest.raises(TypeError):
        q.write(None)


def test_writes_never_split_a_record_across_the_end_of_the_ring():
    q = SlickQueue(size=8, element_size=4)
    cursor, got = 0, []
    for i in range(20):
        q.write(struct.pack("<III", i, i + 1, i + 2))  # 3 elements each
        data, size, cursor = q.read(cursor)
        got.append(struct.unpack("<III", data))
    assert got == [(i, i + 1, i + 2) for i in range(20)]
    assert q.loss_count() == 0


def test_write_in_shared_memory_is_read_by_another_handle(shm_name):
    name = shm_name()
    writer = SlickQueue(name=name, size=64, element_size=8, items_per_slot=4)
    reader = SlickQueue(name=name, element_size=8)
    writer.write(b"x" * 20)
    assert reader.read(0) == (b"x" * 20 + bytes(4), 3, 4)
    writer.close()
    reader.close()


# --- read_batch ------------------------------------------------------------------


def test_read_batch_with_an_int_cursor():
    q = SlickQueue(size=32, element_size=2)
    assert q.read_batch(0, 10) == ([], 0)
    for i in range(5):
        q.write(bytes([i]) * (2 * (i % 2 + 1)))
    records, cursor = q.read_batch(0, 3)
    assert records == [b"\0\0", b"\1\1\1\1", b"\2\2"]
    records, cursor = q.read_batch(cursor, 100)
    assert records == [b"\3\3\3\3", b"\4\4"]
    assert q.read_batch(cursor, 1) == ([], cursor)
    with pytest.raises(ValueError, match="max_records"):
        q.read_batch(0, 0)
    with pytest.raises(TypeError):
        q.read_batch(0.5, 1)


def test_read_batch_with_an_atomic_cursor():
    q = SlickQueue(size=32, element_size=2)
    cursor = AtomicCursor(bytearray(8))
    for i in range(5):
        q.write(bytes([i]) * 2)
    assert q.read_batch(cursor, 2) == [b"\0\0", b"\1\1"]
    assert q.read_batch(cursor, 10) == [b"\2\2", b"\3\3", b"\4\4"]
    assert q.read_batch(cursor, 10) == []
    assert cursor.load() == 5


# --- read_wait -------------------------------------------------------------------


def test_read_wait_returns_what_is_there_at_once():
    q = SlickQueue(size=8, element_size=4)
    q.write(b"ping")
    assert q.read_wait(0, timeout=1e300) == (b"ping", 1, 1)
    cursor = AtomicCursor(bytearray(8))
    assert q.read_wait(cursor, None) == (b"ping", 1)


def test_read_wait_times_out_with_nothing():
    q = SlickQueue(size=8, element_size=4)
    assert q.read_wait(0, 0) == (None, 0, 0)
    assert q.read_wait(3, 0.01) == (None, 0, 3)
    assert q.read_wait(AtomicCursor(bytearray(8)), 0.01) == (None, 0)


@pytest.mark.parametrize("bad", [-1.0, math.nan, -math.inf])
def test_read_wait_rejects_bad_timeouts(bad):
    q = SlickQueue(size=8, element_size=4)
    with pytest.raises(ValueError, match="timeout"):
        q.read_wait(0, bad)
    with pytest.raises(TypeError):
        q.read_wait(0, "1")


def publish_later(q, payload, delay=0.05):
    t = threading.Thread(target=lambda: (time.sleep(delay), q.write(payload)))
    t.start()
    return t


def test_read_wait_releases_the_gil_and_wakes_for_a_record():
    # The producer thread can only run while read_wait() has released the
    # GIL; if it did not, the wait would end with nothing after 60 s.
    q = SlickQueue(size=8, element_size=4)
    t = publish_later(q, b"late")
    assert q.read_wait(0, timeout=60) == (b"late", 1, 1)
    t.join()
    cursor = AtomicCursor(bytearray(8))
    cursor.store(1)
    t = publish_later(q, b"next")
    assert q.read_wait(cursor, timeout=60) == (b"next", 1)
    t.join()


def test_read_wait_keeps_the_cursor_buffer_exported_while_it_waits():
    """While a thread waits on an AtomicCursor with the GIL released, the
    cursor's memory cannot be freed or moved under it."""
    q = SlickQueue(size=8, element_size=4)
    buf = bytearray(8)
    cursor = AtomicCursor(buf)
    result = []
    waiter = threading.Thread(target=lambda: result.append(q.read_wait(cursor, timeout=120)))
    waiter.start()
    while True:  # until the waiter holds the buffer
        try:
            buf.append(0)  # resizing is refused while the buffer is exported
            buf.pop()
            time.sleep(0.001)
        except BufferError:
            break
    q.write(b"done")
    waiter.join()
    assert result == [(b"done", 1)]
    buf.append(0)  # released again


def test_close_while_another_thread_waits_is_safe():
    q = SlickQueue(size=8, element_size=4)
    started, outcome = threading.Event(), []

    def wait():
        started.set()
        try:
            outcome.append(q.read_wait(0, timeout=0.5))
        except ValueError as e:  # close() came first after all
            outcome.append(str(e))

    waiter = threading.Thread(target=wait)
    waiter.start()
    started.wait()
    time.sleep(0.05)
    q.close()  # wakes the waiter: it raises ValueError (or timed out first)
    waiter.join()
    assert outcome in ([(None, 0, 0)], ["operation on a closed SlickQueue"])
    with pytest.raises(ValueError, match="closed"):
        q.read_wait(0, 0)


def test_ctrl_c_interrupts_an_endless_read_wait():
    # SIGINT is sent once the main thread is inside read_wait() (its frame
    # sits on that line), so the signal cannot arrive too early.
    script = textwrap.dedent(
        """
        import os, signal, sys, threading, time
        from slick_queue_py import SlickQueue
        q = SlickQueue(size=8, element_size=8)
        main = threading.main_thread().ident

        def interrupt():
            while sys._current_frames()[main].f_code.co_name != "wait_here":
                time.sleep(0.001)
            time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGINT)

        def wait_here():
            return q.read_wait(0)  # no timeout: only the signal can end it

        threading.Thread(target=interrupt, daemon=True).start()
        try:
            wait_here()
        except KeyboardInterrupt:
            print("interrupted")
            sys.exit(0)
        print("returned")
        """
    )
    proc = run_python(["-c", script])
    assert proc.returncode == 0 and proc.stdout == "interrupted\n", proc


def test_read_wait_in_shared_memory_across_processes(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=64, element_size=8)
    producer = (
        "import time, sys\n"
        "from slick_queue_py import SlickQueue\n"
        f"q = SlickQueue(name={name!r}, element_size=8)\n"
        "time.sleep(0.1)\n"
        "q.write(b'from far')\n"
    )
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", producer], stderr=subprocess.PIPE, text=True)
    assert q.read_wait(0, timeout=120) == (b"from far", 1, 1)
    _, err = p.communicate(timeout=120)
    assert_clean_exit(subprocess.CompletedProcess(p.args, p.returncode, "", err), "producer")
    q.close()
