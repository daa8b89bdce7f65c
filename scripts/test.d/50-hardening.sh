# Issue #5 (hostile segments, dead processes, long runs), beyond what the
# nextest run of 20-rust.sh already covers (tests/attach_fuzz.rs replays the
# fuzz corpus and runs the proptests; tests/processes.rs has the dead-process,
# hostile-peer, permission and soak tests; tests/lapping.rs the loss
# accounting):
#  1. valgrind memcheck over the threaded and multi-process tests (~1.5 min);
#  2. a time-boxed libFuzzer run of the attach target from the checked-in
#     corpus (~1 min to build, then SLICK_FUZZ_SECS, default 60 s).
set -euo pipefail
./scripts/valgrind.sh
./scripts/fuzz.sh "${SLICK_FUZZ_SECS:-60}"
