"""Atomic helpers of ``slick_queue_py``, under the module name the original
``slick-queue-py`` uses (``from atomic_ops import AtomicCursor``).

The atomics themselves are Rust's (``std::sync::atomic``), lock-free on every
supported platform; no C++ extension or ``libatomic`` is involved.

Besides ``AtomicCursor`` and ``check_platform_support`` it offers what
slick-queue-py 2.3.0 lists in its ``atomic_ops.__all__``: ``AtomicUInt64``
(an atomic u64 in a buffer, like a slot's ``data_index``),
``AtomicReservedInfo`` (the header's packed reservation word),
``MemoryOrder`` and the packing helpers ``make_reserved_info``,
``get_index`` and ``get_size``.
"""

from slick_queue_py._atomics import (
    AtomicReservedInfo,
    AtomicUInt64,
    MemoryOrder,
    get_index,
    get_size,
    make_reserved_info,
)
from slick_queue_py._native import AtomicCursor, check_platform_support

__all__ = [
    "AtomicReservedInfo",
    "AtomicUInt64",
    "AtomicCursor",
    "MemoryOrder",
    "check_platform_support",
    "make_reserved_info",
    "get_index",
    "get_size",
]
