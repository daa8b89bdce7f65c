"""Every code example of the original slick-queue-py README (v1.0, whose
text is the Python API contract, docs/spec/PYTHON_API.md), run as a script
in a fresh interpreter against this package.

The examples live verbatim in ``readme_examples/`` (only their lost
indentation restored). A test may put setup code before a fragment that uses
names the README defines elsewhere (``q``, ``data``, ``process``...) and
checks after it, and wraps the endless ``while True`` loops in
``try/except`` (an indentation-only change); the example text itself is
never edited. The fixed shared-memory names of the README ('my_queue',
'work_cursor'...) are replaced by unique ones so that concurrent runs cannot
collide, and every segment is removed afterwards.

Each run must exit 0 without any of the warnings the original README told
users to ignore (``BufferError: cannot close exported pointers exist``,
``resource_tracker: ... leaked shared_memory objects``) or a traceback.
"""

import re
import textwrap

import pytest

from conftest import TESTS, assert_clean_exit, fresh_name, run_python, shm_exists
from slick_queue_py import SlickQueue

EXAMPLES = TESTS / "readme_examples"


def example(name):
    return (EXAMPLES / f"{name}.py").read_text()


@pytest.fixture
def run_example(tmp_path):
    """Runs example code with its fixed shm names made unique; yields a
    runner returning (CompletedProcess, {fixed name: unique name})."""
    made = []

    def run(code, fixed_names=(), python=None):
        renames = {}
        for fixed in fixed_names:
            unique = fresh_name(fixed)
            renames[fixed] = unique
            made.append(unique)
            assert f"'{fixed}'" in code, f"the example does not use the name {fixed!r}"
            code = code.replace(f"'{fixed}'", f"'{unique}'")
        script = tmp_path / "example.py"
        script.write_text(code)
        proc = run_python([script], python=python, cwd=tmp_path)
        assert_clean_exit(proc, "the example")
        return proc, renames

    yield run
    for name in made:
        SlickQueue.remove(name)


def in_try(snippet, exception="_Done"):
    """The snippet indented under ``try:`` so a ``process()`` that raises
    ``exception`` ends its endless loop."""
    return "try:\n" + textwrap.indent(snippet, "    ") + f"except {exception}:\n    pass\n"


# --- the complete programs -------------------------------------------------


def test_local_mode_quick_start(run_example):
    proc, _ = run_example(example("local_mode"))
    # `size` counts elements (1 here), so `data[:size]` is the record's
    # first byte: the original prints the same.
    assert proc.stdout == "Received: b'h'\n"


def test_shared_memory_quick_start(run_example):
    proc, names = run_example(example("shared_memory"), ["my_queue"])
    assert proc.stdout == "Received: b'h'\n"
    assert not shm_exists(names["my_queue"]), "q.unlink() must delete the segment"


@pytest.mark.parametrize("name", ["local_mode", "shared_memory"])
def test_quick_start_prints_what_the_original_prints(run_example, peer_python, name):
    fixed = ["my_queue"] if name == "shared_memory" else []
    ours, _ = run_example(example(name), fixed)
    theirs, _ = run_example(example(name), fixed, python=peer_python)
    assert ours.stdout == theirs.stdout


def test_multi_producer_processes(run_example):
    code = example("multi_producer") + textwrap.dedent(
        """
        assert [p.exitcode for p in producers] == [0, 0, 0, 0], [p.exitcode for p in producers]
        print("producers ok")
        """
    )
    proc, names = run_example(code, ["mpmc_queue"])
    assert proc.stdout == "producers ok\n"
    assert not shm_exists(names["mpmc_queue"])


def test_work_stealing_threads(run_example):
    proc, _ = run_example(example("work_stealing_threads"))
    # 100 items went into a 64-element ring before anyone read: the readers,
    # starting at 0, find index 64 in slot 0, skip the 64 overwritten or
    # stale items and share the 36 newest (64..99) between them.
    assert proc.stdout == "Total items processed: 36\n"


def test_work_stealing_processes(run_example):
    code = example("work_stealing_processes") + textwrap.dedent(
        """
        assert [p.exitcode for p in consumers] == [0, 0, 0, 0], [p.exitcode for p in consumers]
        """
    )
    proc, names = run_example(code, ["work_queue", "work_cursor"])
    # Four processes print to one pipe: their lines may interleave.
    counts = {int(w): int(n) for w, n in re.findall(r"Worker (\d+) processed (\d+) items", proc.stdout)}
    assert sorted(counts) == [0, 1, 2, 3], proc.stdout
    # As in the threaded example: the 36 newest of 100 items in a 64-ring,
    # each claimed by exactly one process.
    assert sum(counts.values()) == 36, proc.stdout
    assert not shm_exists(names["work_queue"]) and not shm_exists(names["work_cursor"])


def test_python_consumer_of_a_foreign_producer(run_example, peer_python, shm_name):
    # The README's C++ producer cannot be built here (no C++ toolchain or
    # header); the original pure-Python package stands in for the other
    # implementation: it creates the queue and publishes 50 values first.
    name = shm_name("shared_queue")
    producer = f"""
from slick_queue_py import SlickQueue
import struct
q = SlickQueue(name={name!r}, size=64, element_size=32)
for i in range(50):
    idx = q.reserve()
    q[idx][:4] = struct.pack("<I", i)
    q.publish(idx)
q.close()
"""
    assert_clean_exit(run_python(["-c", producer], python=peer_python), "the peer producer")
    code = example("cpp_interop_consumer").replace("'shared_queue'", repr(name))
    proc, _ = run_example(code)
    assert proc.stdout.splitlines() == [f"Received from C++: {i}" for i in range(50)]
    assert not shm_exists(name)


def test_check_platform_support(run_example):
    proc, _ = run_example(example("platform_support"))
    assert proc.stdout.startswith("Platform: "), proc.stdout
    assert "64-bit atomic" in proc.stdout


# --- fragments of the API reference -----------------------------------------


def test_api_constructors(run_example):
    code = (
        "from slick_queue_py import SlickQueue\n"
        + example("api_constructors")
        + textwrap.dedent(
            """
            assert (q2.size, q2.element_size, q2.use_shm) == (256, 64, True)
            idx = q.reserve()
            q[idx][:3] = b"abc"
            q.publish(idx)
            data, size, _ = q2.read(0)
            assert data[:3] == b"abc" and size == 1
            q2.close()
            q.close()
            q.unlink()
            print("ok")
            """
        )
    )
    proc, names = run_example(code, ["my_queue"])
    assert proc.stdout == "ok\n"
    assert not shm_exists(names["my_queue"])


def test_api_reserve(run_example):
    code = (
        "from slick_queue_py import SlickQueue\nq = SlickQueue(size=16, element_size=8)\n"
        + example("api_reserve")
        + "assert idx == 0 and q.reserve(1) == 1\nprint('ok')\n"
    )
    assert run_example(code)[0].stdout == "ok\n"


def test_api_publish(run_example):
    code = (
        "from slick_queue_py import SlickQueue\nq = SlickQueue(size=16, element_size=8)\n"
        "data = b'payload'\ndata_len = len(data)\n"
        + example("api_publish")
        + textwrap.dedent(
            """
            got, size, read_index = q.read(0)
            assert got[:data_len] == data and size == 1 and read_index == 1
            print("ok")
            """
        )
    )
    assert run_example(code)[0].stdout == "ok\n"


def test_api_read_modes(run_example):
    prelude = textwrap.dedent(
        """
        from multiprocessing import shared_memory
        from slick_queue_py import SlickQueue
        q = SlickQueue(size=16, element_size=8)
        for payload in (b"first", b"second"):
            idx = q.reserve()
            q[idx][:len(payload)] = payload
            q.publish(idx)
        read_index = 0
        cursor_shm = shared_memory.SharedMemory(create=True, size=8)
        cursor_shm.buf[:8] = bytes(8)
        """
    )
    epilogue = textwrap.dedent(
        """
        assert read_index == 1
        assert (data, size) == (b"first\\0\\0\\0", 1)
        assert cursor.load() == 1
        cursor_shm.close()
        cursor_shm.unlink()
        print("ok")
        """
    )
    assert run_example(prelude + example("api_read_modes") + epilogue)[0].stdout == "ok\n"


LOOP_PRELUDE = textwrap.dedent(
    """
    from slick_queue_py import SlickQueue
    q = SlickQueue(size=16, element_size=8)
    expected = [b"rec%d" % i for i in range(5)]
    for payload in expected:
        idx = q.reserve()
        q[idx][:len(payload)] = payload
        q.publish(idx)

    class _Done(Exception):
        pass

    received = []

    def process(data):
        received.append(data.rstrip(b"\\0"))
        if len(received) == len(expected):
            raise _Done
    """
)


def test_api_single_consumer_loop(run_example):
    epilogue = "assert received == expected, received\nassert read_index == 5\nprint('ok')\n"
    code = LOOP_PRELUDE + in_try(example("api_read_single_consumer_loop")) + epilogue
    assert run_example(code)[0].stdout == "ok\n"


def test_api_multi_consumer_thread_loop(run_example):
    epilogue = "assert received == expected, received\nassert cursor.load() == 5\nprint('ok')\n"
    code = LOOP_PRELUDE + in_try(example("api_read_multi_consumer_threads_loop")) + epilogue
    assert run_example(code)[0].stdout == "ok\n"


def test_api_multi_consumer_process_loop(run_example):
    epilogue = textwrap.dedent(
        """
        assert received == expected, received
        assert cursor.load() == 5
        cursor_shm.close()
        cursor_shm.unlink()
        print("ok")
        """
    )
    code = LOOP_PRELUDE + in_try(example("api_read_multi_consumer_processes_loop")) + epilogue
    proc, names = run_example(code, ["cursor"])
    assert proc.stdout == "ok\n"
    assert not shm_exists(names["cursor"])


def test_atomic_cursor_local(run_example):
    epilogue = textwrap.dedent(
        """
        assert cursor.load() == 0
        cursor.store(3)
        assert bytes(cursor_buf) == (3).to_bytes(8, "little")
        assert cursor.compare_exchange_weak(3, 9) == (True, 3)
        assert cursor.compare_exchange_weak(3, 10) == (False, 9)
        print("ok")
        """
    )
    assert run_example(example("atomic_cursor_local") + epilogue)[0].stdout == "ok\n"


def test_atomic_cursor_shared(run_example):
    epilogue = textwrap.dedent(
        """
        assert cursor.load() == 0
        cursor.store(7)
        assert bytes(cursor_shm.buf[:8]) == (7).to_bytes(8, "little")
        cursor_shm.close()
        cursor_shm.unlink()
        print("ok")
        """
    )
    proc, names = run_example(example("atomic_cursor_shared") + epilogue, ["cursor"])
    assert proc.stdout == "ok\n"
    assert not shm_exists(names["cursor"])


def test_batch_reserve_publish(run_example):
    prelude = textwrap.dedent(
        """
        from slick_queue_py import SlickQueue
        q = SlickQueue(size=16, element_size=16)
        data = [b"item-%02d" % i for i in range(10)]
        data_len = 7
        """
    )
    epilogue = textwrap.dedent(
        """
        record, size, read_index = q.read(0)
        assert (size, read_index, len(record)) == (10, 10, 160)
        for i in range(10):
            assert record[i * 16:i * 16 + data_len] == data[i]
        print("ok")
        """
    )
    assert run_example(prelude + example("batch_reserve_publish") + epilogue)[0].stdout == "ok\n"


def test_wrap_around(run_example):
    prelude = "import struct\nfrom slick_queue_py import SlickQueue\n"
    epilogue = textwrap.dedent(
        """
        last = q.read_last()
        assert struct.unpack("<I", last[:4])[0] == 99 and len(last) == 32
        # A reader from 0 finds index 96 in slot 0 (the ring held 8 of the
        # 100 items): it counts the 96 it missed and reads 96..99.
        seen, read_index = [], 0
        while True:
            data, size, read_index = q.read(read_index)
            if data is None:
                break
            seen.append(struct.unpack("<I", data[:4])[0])
        assert seen == [96, 97, 98, 99], seen
        assert q.loss_count() == 96
        q.close()
        q.unlink()
        print("ok")
        """
    )
    proc, names = run_example(prelude + example("wrap_around") + epilogue, ["wrap_test"])
    assert proc.stdout == "ok\n"
    assert not shm_exists(names["wrap_test"])


def test_every_readme_example_is_used():
    """Guards against an example file that no test runs."""
    source = open(__file__).read()
    for path in EXAMPLES.glob("*.py"):
        assert f'example("{path.stem}")' in source or f"\"{path.stem}\"" in source, path.name

