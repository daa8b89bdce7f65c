"""What the installed wheel contains, and whether its stubs and docstrings
describe the extension truthfully."""

import inspect
import re
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


# The legacy manylinux names and the glibc version each stands for (PEP 600).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def glibc_of(platform_tag):
    """(major, minor) of the glibc a manylinux platform tag needs, or None."""
    for legacy, version in LEGACY_MANYLINUX.items():
        if platform_tag.startswith(legacy + "_"):
            return version
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_\w+", platform_tag)
    return (int(m.group(1)), int(m.group(2))) if m else None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux tags exist on Linux only")
def test_wheel_is_manylinux2014_or_older():
    # A wheel tagged with the build host's glibc (say manylinux_2_34) would
    # not install on older distributions; scripts/test.d/40-python.sh builds
    # it for manylinux2014 (glibc 2.17).
    tags = [line.split(":", 1)[1].strip() for line in metadata.distribution(DIST).read_text("WHEEL").splitlines()
            if line.startswith("Tag:")]
    assert tags, "the WHEEL file has no Tag line"
    for tag in tags:
        platform = tag.split("-")[2]
        glibc = glibc_of(platform)
        assert glibc is not None, f"{tag}: not a manylinux tag"
        assert glibc <= (2, 17), f"{tag}: needs glibc {glibc[0]}.{glibc[1]}, newer than manylinux2014 (2.17)"
    assert glibc_of("manylinux_2_34_x86_64") == (2, 34) and glibc_of("manylinux2014_x86_64") == (2, 17)


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
