"""The Python code blocks of docs/PYTHON.md and README.md run as written."""

import re

import pytest

from conftest import TESTS, assert_clean_exit, fresh_name, run_python, shm_exists
from slick_queue_py import SlickQueue

DOC = TESTS.parent.parent / "docs" / "PYTHON.md"
README = TESTS.parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) + re.findall(
    r"```python\n(.*?)```", README.read_text(), re.S
)


def test_the_doc_has_examples():
    assert len(BLOCKS) >= 3


def test_the_quick_start_prints_what_it_wrote(tmp_path):
    # The first example of docs/PYTHON.md writes b'hello' and prints it back
    # (the original README's version printed data[:size], one byte: b'h').
    name = fresh_name("doc")
    script = tmp_path / "quick_start.py"
    script.write_text(BLOCKS[0].replace("'my_queue'", repr(name)))
    try:
        proc = run_python([script], cwd=tmp_path)
        assert_clean_exit(proc, "docs/PYTHON.md quick start")
        assert proc.stdout == "Received: b'hello'\n"
    finally:
        SlickQueue.remove(name)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index, tmp_path):
    code = BLOCKS[index]
    name = fresh_name("doc")
    code = code.replace("'my_queue'", repr(name))
    script = tmp_path / "doc_example.py"
    script.write_text(code)
    try:
        assert_clean_exit(run_python([script], cwd=tmp_path), f"docs/PYTHON.md / README.md example {index}")
        assert not shm_exists(name), "the examples clean up after themselves"
    finally:
        SlickQueue.remove(name)
