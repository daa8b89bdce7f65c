"""``_open_shm(name, create, size=0)``: a raw shared-memory segment that is
never registered with ``multiprocessing``'s resource tracker, so it is never
unlinked behind the user's back. slick-queue-py 2.3.0 has a helper of this
name, which its test suite imports to build and patch segments by hand; it
is kept here under the same name and signature for that reason. Not part of
the public API.
"""

import mmap
import os
from typing import Optional


class _Segment:
    """A mapped POSIX shared-memory object: ``name`` (without ``/``),
    ``size``, ``buf`` (a writable memoryview), ``close()``, ``unlink()``."""

    def __init__(self, name: str, create: bool, size: int) -> None:
        bare = name.lstrip("/")
        path = "/dev/shm/" + bare
        flags = os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0)
        if create and size <= 0:
            raise ValueError("'size' must be a positive number different from zero")
        fd = os.open(path, flags, 0o600)
        try:
            if create:
                os.ftruncate(fd, size)
            size = os.fstat(fd).st_size
            self._mmap: Optional[mmap.mmap] = mmap.mmap(fd, size)
        except OSError:
            if create:
                os.unlink(path)
            raise
        finally:
            os.close(fd)
        self.name = bare
        self.size = size
        self.buf: Optional[memoryview] = memoryview(self._mmap)

    def close(self) -> None:
        if self.buf is not None:
            self.buf.release()
            self.buf = None
        if self._mmap is not None:
            self._mmap.close()
            self._mmap = None

    def unlink(self) -> None:
        try:
            os.unlink("/dev/shm/" + self.name)
        except FileNotFoundError:
            pass


def _open_shm(name: str, create: bool, size: int = 0) -> _Segment:
    """Creates (``create=True``, exclusively) or attaches to the segment
    ``name``, untracked."""
    return _Segment(name, create, size)
