# Benchmark smoke run: builds the benchmark workspace (bench/, a separate
# cargo workspace with the peers: crossbeam, disruptor, iceoryx2, criterion)
# and runs every Rust and Python benchmark cell once with tiny counts. Checks
# that they run and that their sequence checks pass; no timing is judged.
# SLICK_BENCH_NO_ICEORYX2=1 skips building iceoryx2 (the slowest peer to build).
set -euo pipefail
# Our binding, if a previous stage installed it into $SLICK_VENV, is measured
# from there (no second build); bench/run otherwise builds it itself.
if [ -z "${SLICK_BENCH_PY_OURS:-}" ] && [ -x "$SLICK_VENV/bin/python" ] \
  && "$SLICK_VENV/bin/python" -c "import slick_queue_py, sys; sys.exit(slick_queue_py.__file__.endswith('.py'))" 2>/dev/null; then
  export SLICK_BENCH_PY_OURS="$SLICK_VENV/bin/python"
fi
cargo fmt --manifest-path bench/Cargo.toml -- --check
t0=$(date +%s)
bench/run --smoke
echo "bench smoke: $(( $(date +%s) - t0 ))s"
