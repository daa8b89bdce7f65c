"""The two API generations (the original README's, the default, and
slick-queue-py 2.3.0's, chosen with SLICK_QUEUE_PY_API=2.3 or the api23
module) and 2.3.0's public names, which exist in both."""

import struct
import subprocess
import sys
import textwrap

import pytest

import atomic_ops
import slick_queue_py
from conftest import fresh_name
from slick_queue_py import AtomicCursor, SlickQueue, api10, api23


def run_with_env(code, api):
    env = {k: v for k, v in __import__("os").environ.items() if k != "SLICK_QUEUE_PY_API"}
    if api is not None:
        env["SLICK_QUEUE_PY_API"] = api
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120)


SHAPES = """
    from slick_queue_py import SlickQueue, AtomicCursor, API
    q = SlickQueue(size=8, element_size=4)
    c = AtomicCursor(bytearray(8))
    empty_read, empty_last = q.read(c), q.read_last()
    q.write(b"abcd")
    print(API, q.api, repr(empty_read), repr(empty_last), repr(q.read(c)), repr(q.read_last()), repr(q.read(0)))
"""


def test_default_mode_is_the_original_readme():
    proc = run_with_env(SHAPES, None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(" ", 2)[:2] == ["1.0", "1.0"]
    assert proc.stdout.strip().endswith("(None, 0) None (b'abcd', 1) b'abcd' (b'abcd', 1, 1)")


def test_env_var_selects_the_2_3_shapes():
    proc = run_with_env(SHAPES, "2.3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(" ", 2)[:2] == ["2.3", "2.3"]
    assert proc.stdout.strip().endswith("(None, 0, -1) (None, 0) (b'abcd', 1, 0) (b'abcd', 1) (b'abcd', 1, 1)")


def test_unknown_env_value_fails_at_import():
    proc = run_with_env("import slick_queue_py", "9.9")
    assert proc.returncode != 0
    assert "SLICK_QUEUE_PY_API='9.9'" in proc.stderr
    assert 'unknown slick_queue_py API generation "9.9"' in proc.stderr


@pytest.mark.parametrize("cls,api", [(api23.SlickQueue, "2.3"), (api10.SlickQueue, "1.0")])
def test_modules_choose_in_code(cls, api):
    q = cls(size=8, element_size=4)
    assert q.api == api and isinstance(q, SlickQueue)
    c = AtomicCursor(bytearray(8))
    q.write(b"wxyz")
    q.write(b"1234")
    if api == "2.3":
        assert q.read(c) == (b"wxyz", 1, 0)
        assert q.read_wait(c, 0) == (b"1234", 1, 1)
        assert q.read_wait(c, 0) == (None, 0, -1)
        assert q.read_last() == (b"1234", 1)
    else:
        assert q.read(c) == (b"wxyz", 1)
        assert q.read_wait(c, 0) == (b"1234", 1)
        assert q.read(c) == (None, 0)
        assert q.read_last() == b"1234"


def test_mode_is_per_queue_on_one_segment(shm_name):
    name = shm_name("mode")
    a = api23.SlickQueue(name=name, size=8, element_size=4)
    b = api10.SlickQueue(name=name, element_size=4)
    a.write(b"same")
    assert a.read_last() == (b"same", 1) and b.read_last() == b"same"
    a.close()
    b.close()


def test_mask_and_layout_constants_describe_the_segment(shm_name):
    name = shm_name("layout")
    q = SlickQueue(name=name, size=16, element_size=8)
    assert q.mask == 15
    q.write(b"x" * 8)
    raw = slick_queue_py._open_shm(name, create=False)
    try:
        buf = raw.buf
        assert raw.size >= slick_queue_py.HEADER_SIZE + 16 * slick_queue_py.SLOT_SIZE + 16 * 8
        assert struct.unpack_from("<I", buf, slick_queue_py.SIZE_OFFSET)[0] == 16
        assert struct.unpack_from("<I", buf, slick_queue_py.ELEMENT_SIZE_OFFSET)[0] == 8
        assert struct.unpack_from("<I", buf, slick_queue_py.HEADER_MAGIC_OFFSET)[0] == slick_queue_py.HEADER_MAGIC
        assert struct.unpack_from("<Q", buf, slick_queue_py.LAST_PUBLISHED_OFFSET)[0] == 0
        assert struct.unpack_from("<I", buf, slick_queue_py.INIT_STATE_OFFSET)[0] == slick_queue_py.INIT_STATE_READY
        assert struct.unpack_from("<I", buf, slick_queue_py.ITEMS_PER_SLOT_OFFSET)[0] in (0, 1)
        slot0 = struct.unpack_from(slick_queue_py.SLOT_FMT, buf, slick_queue_py.HEADER_SIZE)
        slot1 = struct.unpack_from(slick_queue_py.SLOT_FMT, buf, slick_queue_py.HEADER_SIZE + slick_queue_py.SLOT_SIZE)
        assert slot0 == (0, 1) and slot1[0] == slick_queue_py.K_INVALID_INDEX
        info = atomic_ops.AtomicReservedInfo(buf, 0)
        assert info.load() == (1, 1)
        info.release()
        del buf
    finally:
        raw.close()
    assert (slick_queue_py.HEADER_MAGIC & ~slick_queue_py.HEADER_MAGIC_FEATURE_MASK) == 0x534C5130
    assert slick_queue_py.HEADER_MAGIC_KNOWN_FEATURES == (
        slick_queue_py.HEADER_MAGIC_READ_LAST | slick_queue_py.HEADER_MAGIC_ITEMS_PER_SLOT
    )
    assert [slick_queue_py.INIT_STATE_UNINITIALIZED, slick_queue_py.INIT_STATE_LEGACY,
            slick_queue_py.INIT_STATE_INITIALIZING, slick_queue_py.INIT_STATE_READY] == [0, 1, 2, 3]
    assert slick_queue_py.RESERVED_INFO_SIZE == 8 and slick_queue_py.SLOT_SIZE_OFFSET == 8
    q.close()


def test_atomic_uint64_and_reserved_info():
    buf = bytearray(16)
    u = atomic_ops.AtomicUInt64(buf, 8)
    u.store_release(7)
    assert u.load_acquire() == 7 and struct.unpack_from("<Q", buf, 8)[0] == 7
    assert u.compare_exchange_weak(7, 9) == (True, 7)
    assert u.compare_exchange_weak(7, 1) == (False, 9)
    u.release()
    assert u.buffer is None
    with pytest.raises(RuntimeError, match="released"):
        u.load_acquire()
    r = atomic_ops.AtomicReservedInfo(buf, 0)
    assert r.load() == (0, 0)
    assert r.compare_exchange_weak((0, 0), (5, 3)) == (True, (0, 0))
    assert struct.unpack_from("<Q", buf, 0)[0] == (5 << 16) | 3
    assert r.compare_exchange_weak((0, 0), (6, 1)) == (False, (5, 3))
    assert atomic_ops.make_reserved_info(2**48 + 5, 0x1FFFF) == (5 << 16) | 0xFFFF
    assert atomic_ops.get_index((5 << 16) | 3) == 5 and atomic_ops.get_size((5 << 16) | 3) == 3
    assert int(atomic_ops.MemoryOrder.ACQUIRE) == 2
    with pytest.raises(ValueError):
        atomic_ops.AtomicUInt64(bytearray(16), 3)  # misaligned


def test_2_3_error_words_with_our_detail():
    q = SlickQueue(size=64, element_size=1)
    with pytest.raises(ValueError, match=r"required size must be > 0: n must be at least 1"):
        q.reserve(0)
    with pytest.raises(ValueError, match=r"items_per_slot 128 > queue size 64: items_per_slot must be a power of two"):
        SlickQueue(size=64, element_size=1, items_per_slot=128)
    with pytest.raises(AttributeError, match="read-only"):
        q.traits.enable_read_last = False
    with pytest.raises(AttributeError, match="read-only"):
        del q.traits.enable_cpu_relax


def test_segment_without_marker_and_with_unknown_features(shm_name):
    for magic, words in ((0x12345678, "v1.4.0"), (0x534C513C, "unknown layout features")):
        name = shm_name("marker")
        q = SlickQueue(name=name, size=8, element_size=8)
        q.close()
        raw = slick_queue_py._open_shm(name, create=False)
        struct.pack_into("<I", raw.buf, slick_queue_py.HEADER_MAGIC_OFFSET, magic)
        raw.close()
        with pytest.raises(RuntimeError, match=words):
            SlickQueue(name=name, element_size=8)


def test_the_module_also_carries_2_3_0s_atomic_names():
    for name in ("AtomicReservedInfo", "AtomicUInt64", "check_platform_support", "make_reserved_info",
                 "get_index", "get_size"):
        assert getattr(slick_queue_py, name) is getattr(atomic_ops, name)
