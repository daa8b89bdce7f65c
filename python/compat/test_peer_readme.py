"""Every Python block of slick-queue-py 2.3.0's README, run as a script in a
fresh interpreter against this package in 2.3.0 mode
(``SLICK_QUEUE_PY_API=2.3``). Run by scripts/test.d/45-python-compat.sh,
which points ``SLICK_PEER_README`` at the README of the downloaded sdist.

Blocks that are fragments (they use ``q``, ``data``, ``process``... defined
elsewhere in the README) get setup code before them and checks after them;
the block text itself is never edited, except that the fixed shared-memory
names ('my_queue', 'cursor'...) are made unique so concurrent runs cannot
collide, an endless ``while True`` loop is ended by a ``process()`` that
raises once it has seen a record, and block 10's C++ lines (a comparison
with the C++ API, not Python) are cut off at its ``# C++`` comment.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README = os.environ.get("SLICK_PEER_README")
if not README or not Path(README).is_file():
    pytest.skip(
        "SLICK_PEER_README does not name slick-queue-py 2.3.0's README (scripts/setup downloads the sdist; "
        "scripts/test.d/45-python-compat.sh sets it)",
        allow_module_level=True,
    )

BLOCKS = re.findall(r"```python\n(.*?)```", Path(README).read_text(), re.S)

_counter = [0]


def unique(prefix):
    _counter[0] += 1
    return f"{prefix}_{os.getpid()}_{_counter[0]}"


LOCAL_Q = "from slick_queue_py import SlickQueue, QueueTraits, AtomicCursor\nimport struct\n"
FILLED_Q = LOCAL_Q + textwrap.dedent(
    """
    q = SlickQueue(size=64, element_size=32)
    for i in range(3):
        idx = q.reserve()
        q[idx][:4] = struct.pack("<I", i)
        q.publish(idx)
    read_index = 0
    """
)


#: For blocks with an endless ``while True`` loop (LOOPS): ``process()``
#: ends it at the first record.
PROCESS = "class Done(Exception):\n    pass\ndef process(data):\n    raise Done\n"
LOOPS = {11, 12, 13}


#: block number -> (code before, code after, fixed shm names in the block)
CASES = {
    0: ("", "assert data is not None and data[:5] == b'hello' and size == 1\n", ()),
    1: ("", "assert data is not None and data[:5] == b'hello'\n", ("my_queue",)),
    2: ("", "", ("mpmc_queue",)),
    # 100 records into a 64-element ring before anyone reads: the last 64
    # are still there, the cursor skips to the first of them.
    3: ("", "assert sum(results.values()) == 100 - 64, results\n", ()),
    4: ("", "", ("work_queue", "work_cursor")),
    5: ("", "", ("shared_queue",)),
    6: (LOCAL_Q, "assert q2.size == 256 and q3.traits.enable_read_last is False\nq.close(); q2.close(); q.unlink()\n", ("my_queue",)),
    # The block reserves but never publishes, so read(0) finds nothing.
    7: (LOCAL_Q, "assert (i, j, data, size, cursor) == (0, 64, None, 0, 0), (i, j, size, cursor)\nbuf.close(); buf.unlink()\n", ("bytes",)),
    8: (LOCAL_Q + "q = SlickQueue(size=64, element_size=32)\n", "assert idx == 0\n", ()),
    9: (LOCAL_Q + "q = SlickQueue(size=64, element_size=32)\ndata = b'abc'\ndata_len = len(data)\n",
        "assert q.read(0)[0][:3] == b'abc'\n", ()),
    10: (FILLED_Q + "from multiprocessing import shared_memory\ncursor_shm = shared_memory.SharedMemory(create=True, size=8)\n"
         "AtomicCursor(cursor_shm.buf, 0).store(1)\n",
         "assert (size, index) == (1, 1) and data[:4] == struct.pack('<I', 1)\ncursor.release(); cursor_shm.close(); cursor_shm.unlink()\n", ()),
    11: (FILLED_Q + PROCESS, "", ()),
    12: (FILLED_Q + PROCESS, "", ()),
    13: (FILLED_Q + PROCESS, "cursor.release(); cursor_shm.close(); cursor_shm.unlink()\n", ("cursor",)),
    14: (FILLED_Q + "element_size = q.element_size\n", "assert data[:4] == struct.pack('<I', 2) and size == 1\n", ()),
    15: ("", "assert cursor.load() == 0\n", ()),
    16: ("", "assert cursor.load() == 0\ncursor.release(); cursor_shm.close(); cursor_shm.unlink()\n", ("cursor",)),
    17: ("", "assert lean.traits.enable_read_last is False and standard.traits.enable_read_last is True\n", ()),
    18: ("", "assert supported\n", ()),
    19: (LOCAL_Q + "q = SlickQueue(size=64, element_size=32)\ndata = [bytes([i]) * 4 for i in range(10)]\ndata_len = 4\n",
         "d, n, _ = q.read(0)\nassert n == 10 and d[9 * 32:9 * 32 + 4] == bytes([9]) * 4\n", ()),
    20: ("import struct\nfrom slick_queue_py import SlickQueue\n",
         "assert q.read_last() == (struct.pack('<I', 99) + bytes(28), 1)\nq.close(); q.unlink()\n", ("wrap_test",)),
}


def test_every_block_has_a_case():
    assert len(BLOCKS) == len(CASES), f"the README has {len(BLOCKS)} Python blocks, {len(CASES)} are handled"


@pytest.mark.parametrize("number", sorted(CASES))
def test_readme_block(number, tmp_path):
    before, after, names = CASES[number]
    code = BLOCKS[number]
    if number == 10:
        code = code.split("# C++")[0]
    renames = {}
    for fixed in names:
        assert f"'{fixed}'" in code, f"block {number} does not use the name {fixed!r}"
        renames[fixed] = unique(fixed)
        code = code.replace(f"'{fixed}'", f"'{renames[fixed]}'")
    if number in LOOPS:
        # An endless loop: `process()` raises Done at the first record.
        body = "try:\n" + textwrap.indent(code, "    ") + "\nexcept Done:\n    print('processed a record')\n"
        script = before + body + after
    else:
        script = before + code + "\n" + after
    path = tmp_path / f"block{number}.py"
    path.write_text(script)
    env = dict(os.environ, SLICK_QUEUE_PY_API="2.3")
    try:
        proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    finally:
        for name in renames.values():
            for p in (Path("/dev/shm") / name,):
                if p.exists():
                    p.unlink()
    assert proc.returncode == 0, f"block {number} failed:\n{script}\n--- stderr:\n{proc.stderr}"
    for bad in ("Traceback", "BufferError", "leaked shared_memory"):
        assert bad not in proc.stderr, f"block {number} printed {bad!r}:\n{proc.stderr}"
    if number in LOOPS:
        assert "processed a record" in proc.stdout
