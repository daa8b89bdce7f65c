# The Python package slick_queue_py (crates/slick-queue-py + python/): build
# the abi3 wheel with maturin, install it into $SLICK_VENV, run its pytest
# suite (seed examples, API and errors, threads, processes, interop with the
# PyPI peer in $SLICK_PEER_PYTHON, stub checks).
set -euo pipefail
cd "$SLICK_ROOT"
py="$SLICK_VENV/bin/python"

# Test-only tools (idempotent): mypy checks the type stubs against the
# extension (stubtest) and the documented types (mypy --strict); NumPy shows
# that write_batch/read_into take its arrays (the package does not need it).
"$py" -m pip install -q "mypy>=1.10" "typing_extensions>=4.15" numpy

wheels="$SLICK_ROOT/target/wheels"
mkdir -p "$wheels"
rm -f "$wheels"/slick_queue_rs-*.whl
"$SLICK_VENV/bin/maturin" build --release --locked --interpreter "$py" --out "$wheels"
wheel=$(ls "$wheels"/slick_queue_rs-*.whl)
"$py" -m pip install -q --force-reinstall --no-deps "$wheel"

# test_versions.py also installs this wheel under other CPythons it finds.
export SLICK_WHEEL="$wheel"
"$py" -m pytest -p no:cacheprovider python/tests
