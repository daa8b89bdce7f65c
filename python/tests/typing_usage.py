"""Type-checked (mypy --strict) by test_packaging.py: the stubs must give
every call the type `docs/spec/PYTHON_API.md` documents. Also runs as a plain script."""

from typing import List, Optional, Tuple

from typing_extensions import assert_type

from atomic_ops import AtomicCursor as AtomicOpsCursor
from atomic_ops import check_platform_support
from atomic_ops import AtomicReservedInfo, AtomicUInt64
from slick_queue_py import HEADER_SIZE, AtomicCursor, QueueTraits, QueueTraitsSnapshot, SlickQueue, api23, validate_traits


class Quiet(QueueTraits):
    enable_loss_detection = False


def main() -> None:
    q = SlickQueue(size=16, element_size=8, traits=Quiet)
    assert_type(q.reserve(), int)
    idx = q.reserve(2)
    view = q[idx]
    assert_type(view, memoryview)
    view[:2] = b"hi"
    q.publish(idx, 2)
    assert_type(q.read(0), Tuple[Optional[bytes], int, int])
    cursor = AtomicCursor(bytearray(8), 0)
    assert_type(q.read(cursor), Tuple[Optional[bytes], int])
    assert_type(q.read_wait(0, 0.1), Tuple[Optional[bytes], int, int])
    assert_type(q.read_wait(cursor, timeout=0), Tuple[Optional[bytes], int])
    assert_type(q.read_batch(0, 4), Tuple[List[bytes], int])
    assert_type(q.read_batch(cursor, 4), List[bytes])
    assert_type(q.write(b"payload"), int)
    assert_type(q.write(bytearray(3)), int)
    assert_type(q.read_last(), Optional[bytes])
    assert_type(q.traits, QueueTraitsSnapshot)
    assert_type(q.traits.enable_read_last, bool)
    assert_type(q.name, Optional[str])
    assert_type(q.get_shm_name(), Optional[str])
    assert_type(SlickQueue.remove("nothing_here_" + str(id(q))), bool)
    assert_type(cursor.compare_exchange_weak(0, 1), Tuple[bool, int])
    assert_type(check_platform_support(), Tuple[bool, str])
    assert AtomicOpsCursor is AtomicCursor
    validate_traits(Quiet)
    with SlickQueue(size=4, element_size=4) as scoped:
        assert_type(scoped, SlickQueue)
    # The batch calls and 2.3.0's names.
    assert_type(q.write_batch(bytes(16)), int)
    assert_type(q.read_into(bytearray(16), 0), Tuple[int, int])
    assert_type(q.read_into(bytearray(16), cursor), Tuple[int, int])
    assert_type(q.overwritten_count(), int)
    assert_type(q.is_overwritten(0), bool)
    assert_type(q.mask, int)
    assert_type(q.api, str)
    assert_type(HEADER_SIZE, int)
    # slick-queue-py 2.3.0's call shapes, for type checkers too.
    q23 = api23.SlickQueue(size=16, element_size=8)
    assert_type(q23.read(cursor), Tuple[Optional[bytes], int, int])
    assert_type(q23.read(0), Tuple[Optional[bytes], int, int])
    assert_type(q23.read_last(), Tuple[Optional[bytes], int])
    assert_type(AtomicReservedInfo(bytearray(8)).load(), Tuple[int, int])
    assert_type(AtomicUInt64(bytearray(8), 0).load_acquire(), int)


if __name__ == "__main__":
    main()
    print("ok")
