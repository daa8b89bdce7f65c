"""The SlickQueue API of `docs/spec/PYTHON_API.md`: construction, attributes, every
operation and every error path."""

import struct

import pytest

import atomic_ops
import slick_queue_py
from conftest import shm_exists
from slick_queue_py import AtomicCursor, QueueTraits, SlickQueue, default_queue_traits, validate_traits


class NoReadLast(QueueTraits):
    enable_read_last = False


class NoLossDetection(QueueTraits):
    enable_loss_detection = False


def put(q, payload, n=1):
    """reserve/write/publish one record the original README's way; returns its index."""
    idx = q.reserve(n)
    es = q.element_size
    for k in range(n):
        chunk = payload[k * es:(k + 1) * es]
        q[idx + k][:len(chunk)] = chunk
    q.publish(idx, n)
    return idx


def write_segment(name, header_fields, length=4096):
    """Creates /dev/shm/<name> by hand with the given header words."""
    raw = bytearray(length)
    for offset, fmt, value in header_fields:
        struct.pack_into(fmt, raw, offset, value)
    with open(f"/dev/shm/{name}", "wb") as f:
        f.write(raw)


# --- construction and attributes --------------------------------------------


def test_local_queue_attributes():
    q = SlickQueue(size=64, element_size=24)
    assert (q.name, q.size, q.element_size, q.use_shm, q.items_per_slot, q.slot_count) == (None, 64, 24, False, 1, 64)
    assert q.get_shm_name() is None
    t = q.traits
    assert (t.enable_read_last, t.enable_reset_check, t.enable_loss_detection, t.enable_cpu_relax) == (
        True,
        False,
        True,
        True,
    )
    assert "SlickQueue(size=64" in repr(q)
    q.close()
    assert "closed" in repr(q)
    assert q.size == 64, "attributes outlive close()"


def test_shared_queue_create_then_open_adopts_geometry(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=128, element_size=16, items_per_slot=4)
    assert (q.name, q.use_shm, q.get_shm_name()) == (name, True, "/" + name)
    assert (q.size, q.items_per_slot, q.slot_count) == (128, 4, 32)
    assert shm_exists(name)
    q2 = SlickQueue(name=name, element_size=16)
    assert (q2.size, q2.items_per_slot, q2.slot_count) == (128, 4, 32)
    q3 = SlickQueue(name=name, size=128, element_size=16, items_per_slot=4)  # create-or-open: opens
    put(q, b"shared!")
    assert q2.read(0)[0][:7] == b"shared!"
    assert q3.read(0)[0][:7] == b"shared!"
    for h in (q, q2, q3):
        h.close()


def test_leading_slash_is_accepted_and_not_doubled(shm_name):
    name = shm_name()
    q = SlickQueue(name="/" + name, size=8, element_size=8)
    assert q.name == name and q.get_shm_name() == "/" + name
    assert shm_exists(name)
    q.close()
    assert SlickQueue.remove("/" + name) is True
    assert not shm_exists(name)


@pytest.mark.parametrize("size", [3, 100, 0, -4, 2**32, 2**40])
def test_size_must_be_a_power_of_two(size):
    with pytest.raises(ValueError, match="size"):
        SlickQueue(size=size, element_size=8)


@pytest.mark.parametrize("element_size", [0, -1])
def test_element_size_must_be_positive(element_size):
    with pytest.raises(ValueError, match="element_size"):
        SlickQueue(size=8, element_size=element_size)


def test_missing_arguments(shm_name):
    with pytest.raises(ValueError, match="size and element_size are required"):
        SlickQueue(size=8)
    with pytest.raises(ValueError, match="size and element_size are required"):
        SlickQueue(element_size=8)
    with pytest.raises(ValueError, match="element_size is required"):
        SlickQueue(name=shm_name(), size=8)
    with pytest.raises(ValueError, match="element_size must be provided"):
        SlickQueue(name=shm_name())
    with pytest.raises(TypeError):
        SlickQueue(8, 8)  # keyword-only, as in the original
    with pytest.raises(TypeError):
        SlickQueue(size=8.5, element_size=8)


@pytest.mark.parametrize("items_per_slot", [3, 0, -2, 16])
def test_invalid_items_per_slot(items_per_slot):
    with pytest.raises(ValueError, match="items_per_slot"):
        SlickQueue(size=8, element_size=8, items_per_slot=items_per_slot)


def test_items_per_slot_rounds_reservations_up():
    q = SlickQueue(size=64, element_size=8, items_per_slot=4)
    assert q.slot_count == 16
    assert [q.reserve(1), q.reserve(5), q.reserve(4)] == [0, 4, 12]


def test_opening_a_missing_segment_is_file_not_found(shm_name):
    name = shm_name()
    with pytest.raises(FileNotFoundError, match=f"no shared-memory queue named '{name}'.*size="):
        SlickQueue(name=name, element_size=8)


@pytest.mark.parametrize("bad", ["a/b", "", "/", "x" * 300])
def test_invalid_names(bad):
    with pytest.raises(ValueError, match="name"):
        SlickQueue(name=bad, size=8, element_size=8)


def test_geometry_mismatches_are_value_errors_saying_what_to_pass(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=64, element_size=32, items_per_slot=2)
    with pytest.raises(ValueError, match=r"size mismatch.*has size=64.*asked for size=128.*pass size=64"):
        SlickQueue(name=name, size=128, element_size=32, items_per_slot=2)
    with pytest.raises(ValueError, match=r"element_size mismatch.*pass element_size=32"):
        SlickQueue(name=name, size=64, element_size=16, items_per_slot=2)
    with pytest.raises(ValueError, match=r"items_per_slot mismatch.*pass items_per_slot=2"):
        SlickQueue(name=name, size=64, element_size=32)
    with pytest.raises(ValueError, match=r"element_size mismatch"):
        SlickQueue(name=name, element_size=8)
    with pytest.raises(ValueError, match=r"items_per_slot mismatch"):
        SlickQueue(name=name, element_size=32, items_per_slot=8)
    q.close()


def test_read_last_trait_must_match_the_segment(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=8)
    with pytest.raises(RuntimeError, match=r"enable_read_last=True.*enable_read_last=False.*pass traits"):
        SlickQueue(name=name, element_size=8, traits=NoReadLast)
    q.close()
    other = shm_name()
    q = SlickQueue(name=other, size=8, element_size=8, traits=NoReadLast)
    with pytest.raises(RuntimeError, match="feature mismatch"):
        SlickQueue(name=other, size=8, element_size=8)
    # The traits that stay local to a process may differ between processes.
    q2 = SlickQueue(name=other, element_size=8, traits=type("T", (NoReadLast,), {"enable_reset_check": True}))
    q2.close()
    q.close()


HEADER_READY = [(8, "<I", 8), (12, "<I", 8), (16, "<Q", 2**64 - 1), (48, "<I", 3)]


def test_foreign_segment_is_refused(shm_name):
    name = shm_name()
    write_segment(name, HEADER_READY + [(24, "<I", 0x12345678)])
    with pytest.raises(RuntimeError, match="not a slick-queue segment.*marker"):
        SlickQueue(name=name, element_size=8)


def test_segment_from_a_newer_peer_is_refused(shm_name):
    name = shm_name()
    write_segment(name, HEADER_READY + [(24, "<I", 0x534C5135)])  # 'SLQ5': unknown bit 2
    with pytest.raises(RuntimeError, match="newer peer"):
        SlickQueue(name=name, element_size=8)


def test_corrupt_segment_is_refused(shm_name):
    name = shm_name()
    # 'SLQ3' says items_per_slot != 1 but the field says 1.
    write_segment(name, HEADER_READY + [(24, "<I", 0x534C5133), (28, "<I", 1)])
    with pytest.raises(RuntimeError, match="corrupt"):
        SlickQueue(name=name, element_size=8)


def test_truncated_segment_is_refused(shm_name):
    name = shm_name()
    write_segment(name, HEADER_READY + [(8, "<I", 1024), (24, "<I", 0x534C5131)], length=256)
    with pytest.raises(RuntimeError, match="truncated"):
        SlickQueue(name=name, element_size=8)


def test_never_initialized_segment_times_out_with_advice(shm_name):
    name = shm_name()
    write_segment(name, [])  # init_state 0: its creator never finished
    with pytest.raises(RuntimeError, match="timed out.*remove the name"):
        SlickQueue(name=name, element_size=8)


# --- traits ------------------------------------------------------------------


def test_traits_validation():
    assert default_queue_traits is QueueTraits
    assert validate_traits(QueueTraits) is None
    assert validate_traits(NoReadLast()) is None

    class IntTrait(QueueTraits):
        enable_cpu_relax = 1

    with pytest.raises(TypeError, match="'enable_cpu_relax' must be a bool.*int"):
        validate_traits(IntTrait)
    with pytest.raises(TypeError, match="'enable_cpu_relax' must be a bool"):
        SlickQueue(size=8, element_size=8, traits=IntTrait)

    class Missing:
        enable_read_last = True

    with pytest.raises(TypeError, match="'Missing' is missing required attribute 'enable_reset_check'.*QueueTraits"):
        validate_traits(Missing)
    with pytest.raises(TypeError, match="missing required attribute"):
        SlickQueue(size=8, element_size=8, traits=Missing)
    with pytest.raises(TypeError):
        SlickQueue(size=8, element_size=8, traits=42)


def test_traits_are_a_read_only_snapshot():
    class Mutable(QueueTraits):
        enable_reset_check = True

    q = SlickQueue(size=8, element_size=8, traits=Mutable)
    Mutable.enable_reset_check = False
    assert q.traits.enable_reset_check is True
    with pytest.raises(AttributeError):
        q.traits.enable_read_last = False
    assert q.traits == SlickQueue(size=8, element_size=8, traits=q.traits).traits
    assert q.traits != SlickQueue(size=8, element_size=8).traits
    assert hash(q.traits) == hash(SlickQueue(size=4, element_size=1, traits=q.traits).traits)
    assert "enable_reset_check=True" in repr(q.traits)


# --- reserve / publish / [] ---------------------------------------------------


def test_reserve_and_publish_errors():
    q = SlickQueue(size=8, element_size=8)
    assert [q.reserve(), q.reserve(1), q.reserve(8)] == [0, 1, 8]  # 8 elements skip to the next lap
    with pytest.raises(ValueError, match="at least 1"):
        q.reserve(0)
    with pytest.raises(ValueError, match="at least 1"):
        q.reserve(-1)
    with pytest.raises(RuntimeError, match="does not fit in a queue of size 8"):
        q.reserve(9)
    with pytest.raises(RuntimeError, match="does not fit"):
        q.reserve(2**40)
    with pytest.raises(ValueError, match="at least"):
        q.publish(0, 0)
    with pytest.raises(ValueError, match="past the end of the ring"):
        q.publish(6, 3)
    with pytest.raises(ValueError, match="index"):
        q.publish(-1)


def test_getitem_is_a_zero_copy_writable_view():
    q = SlickQueue(size=8, element_size=16)
    idx = q.reserve()
    v = q[idx]
    assert isinstance(v, memoryview)
    assert (len(v), v.format, v.readonly, v.nbytes) == (16, "B", False, 16)
    v[:5] = b"first"
    q.publish(idx)
    assert q.read(0)[0][:5] == b"first"
    # Still the same memory: a later write through the view is what the next
    # copy of that record sees.
    v[:5] = b"later"
    assert q.read(0)[0][:5] == b"later"
    assert bytes(q[idx + 8]) == bytes(v), "indices are taken modulo size"
    assert bytes(q[-8]) == bytes(v) and len(q[-1]) == 16
    assert bytes(q[2**70]) == bytes(v)
    struct.pack_into("<Q", q[3], 8, 0xDEADBEEF)
    assert struct.unpack_from("<Q", q[3], 8)[0] == 0xDEADBEEF
    with pytest.raises(TypeError, match="integers"):
        q["0"]
    # Indices wrap, so iterating would never end: it is refused instead.
    with pytest.raises(TypeError, match="not iterable"):
        iter(q)
    with pytest.raises(TypeError, match="not iterable"):
        b"x" in q


# --- reads -------------------------------------------------------------------


def test_read_with_an_int_cursor():
    q = SlickQueue(size=16, element_size=4)
    assert q.read(0) == (None, 0, 0)
    put(q, b"abcd")
    put(q, b"efghijkl", n=2)
    data, size, cursor = q.read(0)
    assert (data, size, cursor) == (b"abcd", 1, 1)
    data, size, cursor = q.read(cursor)
    assert (data, size, cursor) == (b"efghijkl", 2, 3)
    assert q.read(cursor) == (None, 0, 3)
    with pytest.raises(ValueError, match="read_index"):
        q.read(-1)
    with pytest.raises(TypeError, match="int or an AtomicCursor"):
        q.read(1.0)
    with pytest.raises(TypeError, match="int or an AtomicCursor"):
        q.read("0")


def test_read_with_an_atomic_cursor_returns_two_values():
    q = SlickQueue(size=16, element_size=4)
    cursor = AtomicCursor(bytearray(8))
    assert q.read(cursor) == (None, 0)
    put(q, b"abcd")
    put(q, b"efghijkl", n=2)
    assert q.read(cursor) == (b"abcd", 1)
    assert q.read(cursor) == (b"efghijkl", 2)
    assert q.read(cursor) == (None, 0)
    assert cursor.load() == 3


def test_read_last_returns_the_whole_last_record():
    q = SlickQueue(size=16, element_size=4)
    assert q.read_last() is None
    put(q, b"abcd")
    put(q, b"efghijkl", n=2)
    assert q.read_last() == b"efghijkl"
    with pytest.raises(RuntimeError, match="enable_read_last"):
        SlickQueue(size=8, element_size=8, traits=NoReadLast).read_last()


def test_loss_count_and_initial_reading_index():
    q = SlickQueue(size=4, element_size=4)
    assert q.initial_reading_index() == 0
    for i in range(10):
        put(q, struct.pack("<I", i))
    assert q.initial_reading_index() == 10
    values, cursor = [], 0
    while True:
        data, size, cursor = q.read(cursor)
        if data is None:
            break
        values.append(struct.unpack("<I", data)[0])
    assert values == [8, 9] and q.loss_count() == 8
    quiet = SlickQueue(size=4, element_size=4, traits=NoLossDetection)
    for i in range(10):
        put(quiet, struct.pack("<I", i))
    assert quiet.read(0)[0] == struct.pack("<I", 8)
    assert quiet.loss_count() == 0

    # A late joiner starting at initial_reading_index() sees new records only.
    late = q.initial_reading_index()
    assert q.read(late) == (None, 0, late)
    put(q, b"new!")
    assert q.read(late)[0] == b"new!"


def test_reset_empties_the_queue():
    q = SlickQueue(size=4, element_size=4)
    for i in range(10):
        put(q, struct.pack("<I", i))
    q.read(0)
    q.reset()
    assert q.read(0) == (None, 0, 0)
    assert q.read_last() is None
    assert (q.initial_reading_index(), q.loss_count()) == (0, 0)
    assert put(q, b"zero") == 0


# --- close / unlink / remove ----------------------------------------------------


def test_close_is_idempotent_and_later_calls_raise():
    q = SlickQueue(size=8, element_size=8)
    q.close()
    q.close()
    calls = [
        lambda: q.reserve(),
        lambda: q.publish(0),
        lambda: q[0],
        lambda: q.read(0),
        lambda: q.read_last(),
        lambda: q.write(b"x"),
        lambda: q.read_wait(0, 0),
        lambda: q.read_batch(0, 4),
        lambda: q.loss_count(),
        lambda: q.initial_reading_index(),
        lambda: q.reset(),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="closed"):
            call()


def test_unlink_once_even_after_close(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=8)
    q.close()
    assert shm_exists(name), "close() never unlinks"
    q.unlink()
    assert not shm_exists(name)
    # A new queue of the same name must survive a repeated unlink().
    q2 = SlickQueue(name=name, size=8, element_size=8)
    q.unlink()
    assert shm_exists(name)
    q2.close()
    SlickQueue(size=8, element_size=8).unlink()  # local: a no-op


def test_remove_shm_and_static_remove(shm_name):
    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=8)
    assert q.remove_shm() is True
    assert not shm_exists(name)
    assert q.remove_shm() is False
    put(q, b"still ok")  # the mapping stays valid
    assert q.read(0)[0] == b"still ok"
    q2 = SlickQueue(name=name, size=8, element_size=8)
    q.unlink()  # after remove_shm(), unlink() must not delete the new segment
    assert shm_exists(name)
    assert SlickQueue.remove(name) is True
    assert SlickQueue.remove(name) is False
    assert SlickQueue.remove("/" + name) is False
    with pytest.raises(ValueError, match="name"):
        SlickQueue.remove("a/b")
    assert SlickQueue(size=8, element_size=8).remove_shm() is False
    q.close()
    q2.close()


def test_context_manager_closes_but_never_unlinks(shm_name):
    name = shm_name()
    with SlickQueue(name=name, size=8, element_size=8) as q:
        put(q, b"inside")
    with pytest.raises(ValueError, match="closed"):
        q.read(0)
    assert shm_exists(name)
    with SlickQueue(name=name, element_size=8) as again:
        assert again.read(0)[0] == b"inside\0\0"


def test_module_surface():
    assert isinstance(slick_queue_py.__version__, str) and slick_queue_py.__version__
    assert set(slick_queue_py.__all__) >= {
        "SlickQueue",
        "AtomicCursor",
        "QueueTraits",
        "default_queue_traits",
        "validate_traits",
        "__version__",
    }
    for name in slick_queue_py.__all__:
        assert hasattr(slick_queue_py, name), name
    assert atomic_ops.AtomicCursor is AtomicCursor
    supported, message = atomic_ops.check_platform_support()
    assert supported is True and "64-bit" in message


def test_python_subclasses_may_extend_the_queue(shm_name):
    class Tagged(SlickQueue):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.tag = kwargs.get("name", "local")

        def put(self, payload):
            return self.write(payload)

    name = shm_name()
    q = Tagged(name=name, size=8, element_size=8)
    assert (q.tag, q.size, q.name, type(q).__name__) == (name, 8, name, "Tagged")
    q.put(b"one")
    assert q.read(0)[0] == b"one\0\0\0\0\0"
    q.close()
