"""No segment is ever unlinked implicitly, and nothing touches
multiprocessing's resource tracker."""

import textwrap

from conftest import assert_clean_exit, run_python, shm_exists
from slick_queue_py import SlickQueue


def test_a_process_exit_leaves_the_segment_and_prints_nothing(shm_name):
    name = shm_name()
    script = textwrap.dedent(
        f"""
        import sys
        from slick_queue_py import SlickQueue
        creator = SlickQueue(name={name!r}, size=16, element_size=8)
        opener = SlickQueue(name={name!r}, element_size=8)
        view = creator[creator.reserve()]
        view[:5] = b"kept!"
        creator.publish(0)
        with SlickQueue(name={name!r}, element_size=8) as scoped:
            pass
        opener.close()
        del opener
        # Neither closed nor unlinked: the interpreter exits with them open.
        loaded = sorted(m for m in sys.modules if m.startswith("multiprocessing"))
        print(loaded)
        """
    )
    proc = run_python(["-c", script])
    assert_clean_exit(proc)
    assert proc.stdout == "[]\n", "the package must not import multiprocessing (or its resource tracker)"
    assert shm_exists(name)
    q = SlickQueue(name=name, element_size=8)
    assert q.read(0)[0] == b"kept!\0\0\0"
    q.close()


def test_garbage_collection_does_not_unlink(shm_name):
    import gc

    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=8)
    del q
    gc.collect()
    assert shm_exists(name)


def test_segments_are_private_to_the_user(shm_name):
    import os
    import stat

    name = shm_name()
    q = SlickQueue(name=name, size=8, element_size=8)
    assert stat.S_IMODE(os.stat(f"/dev/shm/{name}").st_mode) == 0o600
    q.close()
