#!/usr/bin/env bash
# The libFuzzer target for hostile segments: fuzz/fuzz_targets/attach.rs (arbitrary
# bytes -> a /dev/shm object -> attach -> reads; the case function is
# crates/testkit/src/attach_case.rs, which the normal test
# suite also replays the corpus through).
#
#   scripts/fuzz.sh [SECONDS] [libFuzzer options...]   default: 60 seconds
#   SLICK_FUZZ_MERGE=1 scripts/fuzz.sh 900              run, then merge what was
#                                                       found into fuzz/corpus/attach
#
# cargo-fuzz is not needed: the target is built with the flags cargo-fuzz
# passes (SanitizerCoverage + AddressSanitizer, --cfg fuzzing, debug
# assertions) by plain `cargo +nightly build`. The run works on a copy of the
# checked-in corpus; crashes land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true

host=$(rustc -vV | sed -n 's/^host: //p')
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# AddressSanitizer needs nightly (-Z); without it the target is still
# coverage-guided, with Rust's own bounds and overflow checks.
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=+nightly
  flags="$flags -Zsanitizer=address"
else
  toolchain=+stable
  echo "fuzz: no nightly toolchain here: building without AddressSanitizer" >&2
fi
export RUSTFLAGS="$flags"
cargo "$toolchain" build --release --locked --manifest-path fuzz/Cargo.toml --target "$host" --bin attach
bin="fuzz/target/$host/release/attach"

work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f /dev/shm/sqfuzz_attach_*' EXIT
cp fuzz/corpus/attach/* "$work/"
mkdir -p fuzz/artifacts
echo "fuzz: $(ls "$work" | wc -l) corpus inputs, running for ${secs}s"
"$bin" -max_total_time="$secs" -max_len=1024 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix=fuzz/artifacts/ "$@" "$work" 2>&1 | grep -vE '^#[0-9]+\s+(NEW|REDUCE)'
if [ -n "${SLICK_FUZZ_MERGE:-}" ]; then
  "$bin" -set_cover_merge=1 fuzz/corpus/attach "$work" 2>&1 | tail -1
fi
