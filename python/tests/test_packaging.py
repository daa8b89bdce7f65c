"""What the installed wheel contains, and whether its stubs and docstrings
describe the extension truthfully."""

import inspect
import sys
from importlib import metadata

import pytest

import atomic_ops
import slick_queue_py
from conftest import TESTS, run_python
from slick_queue_py import _native

DIST = "slick-queue-rs"


def test_wheel_ships_both_modules_stubs_and_typed_markers():
    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:  # pragma: no cover - a setup error
        pytest.fail(f"{DIST} is not installed: build and install the wheel (scripts/test.d/40-python.sh)")
    files = {str(f) for f in dist.files or []}
    for required in (
        "slick_queue_py/__init__.py",
        "slick_queue_py/_native.pyi",
        "slick_queue_py/py.typed",
        "atomic_ops/__init__.py",
        "atomic_ops/py.typed",
    ):
        assert required in files, f"{required} missing from the wheel (files: {sorted(files)})"
    natives = [f for f in files if f.startswith("slick_queue_py/_native") and f.endswith(".so")]
    assert natives == ["slick_queue_py/_native.abi3.so"], natives
    assert "tests" not in " ".join(files)
    assert "Tag: cp38-abi3-" in dist.read_text("WHEEL")
    assert dist.metadata["Requires-Python"] == ">=3.8"
    assert dist.version == slick_queue_py.__version__


def test_import_names_match_the_original():
    assert slick_queue_py.SlickQueue.__module__ == "slick_queue_py"
    assert slick_queue_py.AtomicCursor.__module__ == "slick_queue_py"
    # What slick-queue-py 2.3.0 lists in its atomic_ops.__all__.
    assert sorted(atomic_ops.__all__) == sorted(
        [
            "AtomicReservedInfo",
            "AtomicUInt64",
            "AtomicCursor",
            "MemoryOrder",
            "check_platform_support",
            "make_reserved_info",
            "get_index",
            "get_size",
        ]
    )


def public_names():
    for cls in (_native.SlickQueue, _native.AtomicCursor, _native.QueueTraitsSnapshot):
        yield cls.__name__, cls
        for name, member in vars(cls).items():
            # (Slot methods such as __getitem__ carry CPython's generic
            # docstrings; the class docstring documents q[index].)
            if not name.startswith("_") or name in ("__enter__", "__exit__"):
                yield f"{cls.__name__}.{name}", member
    for name in ("validate_traits", "check_platform_support"):
        yield name, getattr(_native, name)
    yield "QueueTraits", slick_queue_py.QueueTraits
    yield "slick_queue_py", slick_queue_py
    yield "atomic_ops", atomic_ops


@pytest.mark.parametrize("name,obj", list(public_names()), ids=[n for n, _ in public_names()])
def test_every_public_name_has_a_docstring(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc.split()) >= 3, f"{name} has no real docstring"


def test_stubs_match_the_runtime():
    pytest.importorskip("mypy", reason="mypy is installed by scripts/test.d/40-python.sh; without it stubs go unchecked")
    proc = run_python(["-m", "mypy.stubtest", "slick_queue_py", "atomic_ops"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stubs_give_the_documented_types():
    pytest.importorskip("mypy", reason="mypy is installed by scripts/test.d/40-python.sh; without it stubs go unchecked")
    usage = TESTS / "typing_usage.py"
    proc = run_python(["-m", "mypy", "--strict", "--no-incremental", str(usage)], cwd=TESTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = run_python([usage])
    assert ran.returncode == 0 and ran.stdout == "ok\n", ran.stdout + ran.stderr


def test_python_version_floor_is_what_the_wheel_claims():
    # The extension is built for the stable ABI of 3.8 (abi3-py38), so any
    # CPython >= 3.8 imports it; this interpreter must be one of them.
    assert sys.version_info >= (3, 8)
