# The Python package slick_queue_py (crates/slick-queue-py + python/): build
# the abi3 wheel with maturin, install it into $SLICK_VENV, run its pytest
# suite (the original README's examples, API and errors, threads, processes,
# interop with the PyPI peer in $SLICK_PEER_PYTHON, stub checks with mypy,
# the wheel's contents and its manylinux2014 tag).
#
# The wheel is the one users get: manylinux2014 (glibc 2.17, any Linux
# since 2014), linked with zig (`ziglang` from PyPI, installed into
# $SLICK_VENV by scripts/setup) instead of this host's newer glibc; maturin
# checks the library's symbol versions against that policy.
set -euo pipefail
cd "$SLICK_ROOT"
py="$SLICK_VENV/bin/python"

wheels="$SLICK_ROOT/target/wheels"
mkdir -p "$wheels"
rm -f "$wheels"/slick_queue_rs-*.whl
PATH="$SLICK_VENV/bin:$PATH" "$SLICK_VENV/bin/maturin" build --release --locked --interpreter "$py" \
  --compatibility manylinux2014 --zig --out "$wheels"
wheel=$(ls "$wheels"/slick_queue_rs-*.whl)
"$py" -m pip install -q --force-reinstall --no-deps "$wheel"

# test_versions.py also installs this wheel under other CPythons it finds.
export SLICK_WHEEL="$wheel"
"$py" -m pytest -p no:cacheprovider python/tests
