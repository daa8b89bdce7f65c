"""Atomic helpers of ``slick_queue_py``, under the module name the original
``slick-queue-py`` uses (``from atomic_ops import AtomicCursor``).

The atomics themselves are Rust's (``std::sync::atomic``), lock-free on every
supported platform; no C++ extension or ``libatomic`` is involved.
"""

from slick_queue_py._native import AtomicCursor, check_platform_support

__all__ = ["AtomicCursor", "check_platform_support"]
