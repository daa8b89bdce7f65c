"""AtomicCursor over every kind of buffer, and every way a buffer can be
wrong: errors, never a crash."""

import array
import gc
import mmap
from multiprocessing import shared_memory

import pytest

from atomic_ops import AtomicCursor as AtomicCursorFromAtomicOps
from slick_queue_py import AtomicCursor, SlickQueue


def test_load_store_compare_exchange():
    buf = bytearray(8)
    c = AtomicCursor(buf, 0)
    assert c.load() == 0
    c.store(2**64 - 1)
    assert c.load() == 2**64 - 1 and bytes(buf) == b"\xff" * 8
    c.store(5)
    assert bytes(buf) == (5).to_bytes(8, "little")
    assert c.compare_exchange_weak(5, 6) == (True, 5)
    assert c.compare_exchange_weak(5, 7) == (False, 6)
    assert c.load() == 6
    assert AtomicCursorFromAtomicOps is AtomicCursor
    assert c.offset == 0 and "offset=0" in repr(c)


def test_value_range_and_types():
    c = AtomicCursor(bytearray(8))
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
            c.store(bad)
        with pytest.raises(ValueError):
            c.compare_exchange_weak(0, bad)
    with pytest.raises(TypeError):
        c.store(1.5)


def test_offset_selects_the_word():
    buf = bytearray(24)
    c = AtomicCursor(buf, offset=16)
    c.store(0x0102030405060708)
    assert bytes(buf[16:]) == (0x0102030405060708).to_bytes(8, "little")
    assert bytes(buf[:16]) == bytes(16)


@pytest.mark.parametrize("offset", [1, 4, 7, 9])
def test_misaligned_address_is_a_value_error(offset):
    with pytest.raises(ValueError, match="aligned"):
        AtomicCursor(bytearray(32), offset)


@pytest.mark.parametrize("size,offset", [(4, 0), (8, 8), (16, 16), (0, 0), (16, 2**62)])
def test_too_short_buffer_is_a_value_error(size, offset):
    with pytest.raises(ValueError, match="needs 8 bytes"):
        AtomicCursor(bytearray(size), offset)


def test_negative_offset_is_a_value_error():
    with pytest.raises(ValueError, match="offset"):
        AtomicCursor(bytearray(16), -8)


@pytest.mark.parametrize(
    "buffer",
    [bytes(8), memoryview(bytearray(8)).toreadonly(), 42, "abcdefgh", None, memoryview(bytearray(32))[::2]],
    ids=["bytes", "readonly-view", "int", "str", "None", "strided-view"],
)
def test_read_only_or_non_buffer_is_a_type_error(buffer):
    with pytest.raises(TypeError):
        AtomicCursor(buffer)


def test_any_writable_buffer_works():
    words = array.array("Q", [0, 0])
    c = AtomicCursor(words, 8)
    c.store(99)
    assert words[1] == 99
    m = mmap.mmap(-1, 4096)
    c = AtomicCursor(m)
    c.store(3)
    assert m[:8] == (3).to_bytes(8, "little")
    del c
    m.close()


def test_two_cursors_on_one_word_see_each_other():
    buf = bytearray(8)
    a, b = AtomicCursor(buf), AtomicCursor(memoryview(buf))
    a.store(11)
    assert b.load() == 11


def test_cursor_keeps_a_temporary_buffer_alive():
    c = AtomicCursor(bytearray(8))
    c.store(5)
    gc.collect()
    assert c.load() == 5


def test_buffer_changes_between_operations_are_seen_not_trusted():
    buf = bytearray(8)
    c = AtomicCursor(buf)
    c.store(4)
    buf.extend(bytes(4096))  # may move the memory: the next call looks again
    assert c.load() == 4
    buf.clear()
    with pytest.raises(ValueError, match="needs 8 bytes"):
        c.load()


def test_shared_memory_can_be_closed_while_the_cursor_exists():
    shm = shared_memory.SharedMemory(create=True, size=8)
    try:
        c = AtomicCursor(shm.buf, 0)
        c.store(1)
        shm.close()  # no BufferError: the cursor exports only during a call
        with pytest.raises(ValueError):
            c.load()  # the memory is gone: an error, not a dangling pointer
    finally:
        shm.unlink()


def test_release():
    c = AtomicCursor(bytearray(8))
    c.release()
    c.release()
    assert "released" in repr(c)
    with pytest.raises(RuntimeError, match="released"):
        c.load()
    with pytest.raises(RuntimeError, match="released"):
        SlickQueue(size=8, element_size=8).read(c)
