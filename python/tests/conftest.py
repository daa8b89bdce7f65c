"""Shared fixtures: unique shared-memory names that are always cleaned up,
subprocess helpers, and the interpreter of the original pure-Python
``slick-queue-py`` 2.3.0 (the interop peer, in its own virtualenv because it
uses the same module name)."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slick_queue_py import SlickQueue

TESTS = Path(__file__).resolve().parent
AGENT = TESTS / "agent.py"

#: Seconds any helper process may take before the test gives up on it. A
#: safety net against hangs, not a performance assertion.
PROCESS_TIMEOUT = 180

#: Output that must never appear: the warnings slick-queue-py's README told
#: users to ignore, and any traceback.
FORBIDDEN_STDERR = ("BufferError", "exported pointers exist", "resource_tracker", "leaked shared_memory", "Traceback")

_counter = itertools.count()


def fresh_name(prefix: str) -> str:
    """A shared-memory name no other test (or concurrent test run) uses."""
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


def shm_exists(name: str) -> bool:
    return os.path.exists("/dev/shm/" + name.lstrip("/"))


@pytest.fixture
def shm_name():
    """A factory of unique queue names; every segment made under one of them
    is removed after the test."""
    names = []

    def make(prefix="t"):
        name = fresh_name(prefix)
        names.append(name)
        return name

    yield make
    for n in names:
        SlickQueue.remove(n)


def run_python(args, *, python=None, input=None, timeout=PROCESS_TIMEOUT, cwd=None):
    """Runs a Python subprocess and returns the CompletedProcess (text)."""
    cmd = [python or sys.executable, *[str(a) for a in args]]
    return subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout, cwd=cwd)


def assert_clean_exit(proc, what="process"):
    """The process exited 0 and printed none of the forbidden warnings."""
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for bad in FORBIDDEN_STDERR:
        assert bad not in proc.stderr, f"{what} printed {bad!r} on stderr:\n{proc.stderr}"


# scripts/setup creates it there (scripts/env.sh exports SLICK_PEER_PYTHON).
DEFAULT_PEER = str(TESTS.parent.parent / ".peer-venv" / "bin" / "python")


def peer_interpreter() -> str:
    return os.environ.get("SLICK_PEER_PYTHON") or DEFAULT_PEER


@pytest.fixture(scope="session")
def peer_python():
    """The interpreter that has the original slick-queue-py 2.3.0.

    Interop tests must not pass silently without it: a missing or broken
    peer is a test failure with instructions, never a skip."""
    path = peer_interpreter()
    if not os.path.exists(path):
        pytest.fail(
            f"the interop peer interpreter {path} does not exist; run scripts/setup (it creates "
            f"$SLICK_ROOT/.peer-venv with slick-queue-py==2.3.0) or point SLICK_PEER_PYTHON at a "
            f"Python that has slick-queue-py 2.3.0 installed",
            pytrace=False,
        )
    probe = run_python(
        ["-c", "import slick_queue_py, sys; print(slick_queue_py.__version__, slick_queue_py.__file__)"],
        python=path,
    )
    if probe.returncode != 0 or not probe.stdout.startswith("2.3.0 "):
        pytest.fail(
            f"{path} does not provide slick-queue-py 2.3.0 (got {probe.stdout.strip()!r}, "
            f"stderr {probe.stderr.strip()!r}); install it with: {path} -m pip install slick-queue-py==2.3.0",
            pytrace=False,
        )
    return path
