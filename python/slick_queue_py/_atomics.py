"""slick-queue-py 2.3.0's atomic helpers beyond ``AtomicCursor`` (its
``atomic_ops`` module lists them): ``AtomicUInt64``, ``AtomicReservedInfo``,
``MemoryOrder`` and the reservation-word packing helpers. Re-exported by
``atomic_ops`` and ``slick_queue_py``; built on the Rust ``AtomicCursor``.
"""

from enum import IntEnum
from typing import Optional, Tuple

from ._native import AtomicCursor, check_platform_support


def make_reserved_info(index: int, size: int) -> int:
    """Packs a reservation word: ``(index & (2**48 - 1)) << 16 | (size & 0xFFFF)``."""
    return ((index & 0xFFFFFFFFFFFF) << 16) | (size & 0xFFFF)


def get_index(reserved: int) -> int:
    """The index (upper 48 bits) of a reservation word."""
    return reserved >> 16


def get_size(reserved: int) -> int:
    """The size (lower 16 bits) of a reservation word."""
    return reserved & 0xFFFF


class MemoryOrder(IntEnum):
    """C++ ``std::memory_order`` values, as slick-queue-py 2.3.0 names them."""

    RELAXED = 0
    ACQUIRE = 2
    RELEASE = 3
    SEQ_CST = 5


class AtomicUInt64:
    """An atomic ``uint64`` at ``offset`` in ``buffer`` (a C++
    ``std::atomic<uint64_t>``), as in slick-queue-py 2.3.0.

    The word must be 8-byte aligned inside a writable buffer (``ValueError``
    / ``TypeError`` otherwise). ``release()`` drops the buffer reference;
    later operations raise ``RuntimeError``.
    """

    def __init__(self, buffer: object, offset: int = 0) -> None:
        self.buffer: Optional[object] = buffer
        self.offset = offset
        self._word: Optional[AtomicCursor] = AtomicCursor(buffer, offset)  # type: ignore[arg-type]

    def _live(self) -> AtomicCursor:
        if self._word is None:
            raise RuntimeError("AtomicUInt64 has been released")
        return self._word

    def release(self) -> None:
        """Drops the reference to the buffer."""
        if self._word is not None:
            self._word.release()
        self._word = None
        self.buffer = None

    def load_acquire(self) -> int:
        """The value (acquire ordering)."""
        return self._live().load()

    def store_release(self, value: int) -> None:
        """Sets the value (release ordering)."""
        self._live().store(value)

    def compare_exchange_weak(self, expected: int, desired: int) -> Tuple[bool, int]:
        """Replaces the value with ``desired`` if it is ``expected``:
        ``(True, expected)``, else ``(False, actual)``."""
        return self._live().compare_exchange_weak(expected, desired)


class AtomicReservedInfo:
    """The header's reservation word (``index << 16 | size``, a C++
    ``std::atomic<uint64_t>``) at ``offset`` in ``buffer``, with the value
    as an ``(index, size)`` pair, as in slick-queue-py 2.3.0."""

    #: struct format of the word.
    RESERVED_INFO_FMT = "Q"

    def __init__(self, buffer: object, offset: int = 0) -> None:
        supported, msg = check_platform_support()
        if not supported:
            raise RuntimeError(f"Platform not supported for atomic operations: {msg}")
        self.buffer: Optional[object] = buffer
        self.offset = offset
        self._word: Optional[AtomicCursor] = AtomicCursor(buffer, offset)  # type: ignore[arg-type]

    def _live(self) -> AtomicCursor:
        if self._word is None:
            raise RuntimeError("AtomicReservedInfo has been released")
        return self._word

    def release(self) -> None:
        """Drops the reference to the buffer."""
        if self._word is not None:
            self._word.release()
        self._word = None
        self.buffer = None

    def load(self) -> Tuple[int, int]:
        """The word as ``(index, size)``."""
        packed = self._live().load()
        return get_index(packed), get_size(packed)

    def compare_exchange_weak(
        self, expected: Tuple[int, int], desired: Tuple[int, int]
    ) -> Tuple[bool, Tuple[int, int]]:
        """Replaces ``expected`` with ``desired`` (both ``(index, size)``):
        ``(True, expected)``, else ``(False, actual)``."""
        ok, actual = self._live().compare_exchange_weak(
            make_reserved_info(*expected), make_reserved_info(*desired)
        )
        return ok, (get_index(actual), get_size(actual))
