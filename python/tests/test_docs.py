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
