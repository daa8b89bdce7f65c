"""The single abi3 wheel on the oldest CPython it claims (3.8, where the
buffer protocol is not yet part of the limited API the extension is built
against) and on the newest one this machine has.

Interpreters are looked up on PATH and under pyenv; the wheel is the one
scripts/test.d/40-python.sh built (``SLICK_WHEEL``)."""

import glob
import os
import shutil
import textwrap

import pytest

from conftest import assert_clean_exit, run_python

SMOKE = textwrap.dedent(
    """
    import gc, sys
    from multiprocessing import shared_memory
    from atomic_ops import check_platform_support
    from slick_queue_py import AtomicCursor, SlickQueue

    assert check_platform_support()[0]
    q = SlickQueue(size=16, element_size=8)
    view = q[q.reserve()]
    view[:5] = b"hello"
    q.publish(0)
    q.write(bytearray(b"from a bytearray"))
    q.write(memoryview(b"..view..")[2:6])
    cursor = AtomicCursor(bytearray(8))
    assert q.read(cursor) == (b"hello\\0\\0\\0", 1)
    assert q.read_batch(cursor, 9) == [b"from a bytearray", b"view\\0\\0\\0\\0"]
    assert q.read_wait(cursor, 0.01) == (None, 0)
    shm = shared_memory.SharedMemory(create=True, size=8)
    shared = AtomicCursor(shm.buf)
    shared.store(1)
    assert q.read(shared)[0][:4] == b"from"
    shm.close()
    shm.unlink()
    try:
        AtomicCursor(b"12345678")
    except TypeError:
        pass
    else:
        raise AssertionError("a read-only buffer must be refused")
    q.close()
    del q
    gc.collect()
    view[5:] = b"!!!"  # the view outlives the queue
    assert bytes(view) == b"hello!!!"
    print("ok", sys.version_info[:2])
    """
)


def find_python(version):
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    for c in candidates:
        if c and run_python(["-c", "pass"], python=c).returncode == 0:
            return c
    return None


@pytest.mark.parametrize("version", ["3.8", "3.13"])
def test_wheel_on_other_cpython_versions(version, tmp_path):
    wheel = os.environ.get("SLICK_WHEEL")
    if not wheel:
        pytest.skip("SLICK_WHEEL is not set: scripts/test.d/40-python.sh sets it to the wheel it built")
    python = find_python(version)
    if python is None:
        pytest.skip(f"no CPython {version} on this machine (PATH or ~/.pyenv/versions)")
    venv = tmp_path / "venv"
    assert_clean_exit(run_python(["-m", "venv", str(venv)], python=python), "venv")
    vpy = str(venv / "bin" / "python")
    install = run_python(["-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel], python=vpy)
    assert install.returncode == 0, install.stderr
    proc = run_python(["-c", SMOKE], python=vpy, cwd=tmp_path)
    assert_clean_exit(proc, f"the smoke test on {version}")
    assert proc.stdout.startswith("ok (" + version.replace(".", ", ") + ")")
