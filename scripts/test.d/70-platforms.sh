# Windows and macOS, as far as this Linux machine can test them:
#  * Windows (x86_64-pc-windows-gnu, cross-compiled with mingw) runs under
#    Wine: the core's tests (unit, platform.rs, the processes tests with two or more
#    Windows processes on one named mapping, the produce/consume examples)
#    and the CLI's (windows.rs); then the produce/consume examples once more
#    as two Wine processes started from here; clippy; the Python wheel
#    (maturin, cp311-abi3 win_amd64, PyO3 buffer API).
#  * macOS (x86_64-apple-darwin, aarch64-apple-darwin): core, CLI and
#    binding type-check and are clippy-clean, with their tests (the Zenoh
#    bridge is left out: see below).
# Wine's prefix lives in target/wine/ (scripts/wine/runner).
# Time: 125 s to 275 s with the targets already built once, depending on the
# load (`bash scripts/test.d/70-platforms.sh` after scripts/env.sh, AMD EPYC,
# 2 cores shared with other builds); a first run also compiles the Windows and
# macOS targets and creates the Wine prefix.
set -euo pipefail
cd "$SLICK_ROOT"
win=x86_64-pc-windows-gnu
runner="$SLICK_ROOT/scripts/wine/runner"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$runner"
step() { echo "--- $1 ($(( $(date +%s) - t0 ))s)"; }
t0=$(date +%s)

step "Windows: core and CLI tests under Wine"
# slickq without its Zenoh bridge (the default "bridge" feature): the bridge
# is tested on Linux; here the queue is.
cargo build --locked -q -p slick-queue --examples --target "$win"
cargo test --locked -q -p slick-queue -p slickq --no-default-features --target "$win"

step "Windows: the produce/consume examples as two Wine processes"
examples="target/$win/debug/examples"
name="sqwine_${$}_$(date +%s)"
"$runner" "$examples/consume.exe" "$name" 20000 64 --size 65536 --quiet >"target/wine/consume.out" &
consumer=$!
# The consumer creates the queue and holds it; produce only once it exists
# (a producer that created it, published and exited first would take the
# mapping with it: on Windows a mapping lives only while someone holds it).
for _ in $(seq 1 150); do
  if "$runner" "target/$win/debug/slickq.exe" inspect "$name" >/dev/null 2>&1; then
    break
  fi
  sleep 0.2
done
"$runner" "$examples/produce.exe" "$name" 20000 64 >"target/wine/produce.out"
status=0
wait "$consumer" || status=$?
summary=$(tail -n 1 target/wine/consume.out)
echo "producer: $(cat target/wine/produce.out)"
echo "consumer: $summary"
case "$status:$summary" in
  0:received=*" ok") ;;
  *) echo "the Windows consumer did not report a clean run: $summary" >&2; exit 1 ;;
esac

step "Windows: clippy (core, CLI; binding with the 3.11 stable-ABI floor)"
cargo clippy --locked -q -p slick-queue -p slickq --no-default-features --all-targets --target "$win" -- -D warnings
cargo clippy --locked -q -p slick-queue-py --all-targets --target "$win" --no-default-features --features abi3-py311 \
  -- -D warnings

step "Windows: the Python wheel (maturin, generate-import-lib)"
wheels="target/wheels-windows"
rm -rf "$wheels"
"$SLICK_VENV/bin/maturin" build --release --locked --target "$win" --no-default-features --features abi3-py311 \
  --out "$wheels" >/dev/null
wheel=$(ls "$wheels"/slick_queue_rs-*-cp311-abi3-win_amd64.whl)
echo "built $wheel"
"$SLICK_VENV/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for want in ("slick_queue_py/_native.pyd", "slick_queue_py/__init__.py", "atomic_ops/__init__.py"):
    assert want in names, f"{want} missing from the wheel: {names}"
PY

step "the binding's 3.11-floor build (the Windows wheel's buffer code) natively: pytest"
py="$SLICK_VENV/bin/python"
if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  venv="target/venv-abi3-py311"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q "pytest>=7" "mypy>=1.10" "typing_extensions>=4.15"
  rm -rf target/wheels-py311
  "$SLICK_VENV/bin/maturin" build --release --locked --no-default-features --features abi3-py311 \
    --interpreter "$venv/bin/python" --out target/wheels-py311 >/dev/null
  "$venv/bin/python" -m pip install -q --force-reinstall --no-deps target/wheels-py311/slick_queue_rs-*.whl
  # Not here: the cp38 wheel-tag check, the manylinux2014 platform-tag check
  # (this wheel is built for this host only, without zig) and the
  # other-CPython installs (this wheel is cp311-abi3 by design); stage 40
  # runs them on the wheel that ships.
  "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests --deselect python/tests/test_versions.py \
    --deselect python/tests/test_packaging.py::test_wheel_ships_both_modules_stubs_and_typed_markers \
    --deselect python/tests/test_packaging.py::test_wheel_is_manylinux2014_or_older
else
  echo "skipped: $("$py" --version) is older than 3.11, which a cp311-abi3 wheel needs"
fi

# The Zenoh bridge (slick-queue-zenoh, slickq's default "bridge" feature) is
# left out of the macOS check: a zenoh dependency (psm, via stacker) runs an
# Apple C compiler in its build script, which this Linux machine lacks. The
# bridge is plain Rust over Zenoh's own macOS support; it runs here on Linux.
for t in x86_64-apple-darwin aarch64-apple-darwin; do
  step "macOS ($t): check + clippy of the core, the CLI (without the bridge) and the binding"
  cargo clippy --locked -q -p slick-queue -p slickq --no-default-features --all-targets --target "$t" -- -D warnings
  cargo clippy --locked -q -p slick-queue-py --all-targets --target "$t" -- -D warnings
done
step "done"
