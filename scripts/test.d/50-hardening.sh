# Hardening (hostile segments, dead processes, long runs), beyond what the
# nextest run of 20-rust.sh already covers (tests/attach_fuzz.rs replays the
# fuzz corpus and runs the proptests; tests/processes/ has the dead-process,
# hostile-peer, permission and soak tests; tests/lapping.rs the loss
# accounting):
#  1. valgrind memcheck over the threaded and multi-process tests (~1.5 min);
#  2. a time-boxed libFuzzer run of the attach target from the checked-in
#     corpus (~1 min to build, then SLICK_FUZZ_SECS, default 60 s).
# Without valgrind (or a C++ compiler for the libFuzzer runtime), which
# scripts/setup installs when run as root, that part is skipped and listed in
# the summary of ./scripts/test.
set -euo pipefail
skip() { # WHAT WHY
  echo "hardening: SKIPPED $1: $2"
  echo "50-hardening: $1 ($2)" >>"${SLICK_SKIPS:-/dev/null}"
}
if command -v valgrind >/dev/null; then
  ./scripts/valgrind.sh
else
  skip "valgrind memcheck" "valgrind is not installed: apt-get install valgrind, or run ./scripts/setup as root"
fi
if command -v c++ >/dev/null; then
  ./scripts/fuzz.sh "${SLICK_FUZZ_SECS:-60}"
else
  skip "libFuzzer run" "no C++ compiler for the libFuzzer runtime: apt-get install g++, or run ./scripts/setup as root"
fi
