#!/usr/bin/env bash
# Valgrind memcheck over the multi-threaded and multi-process tests:
# tests/threads.rs, tests/lapping.rs and tests/processes/ (real child
# processes: dead producers/creators/consumers, the hostile peer, the
# checksummed soak). The processes binary re-executes itself for its child
# roles; --trace-children=yes puts every child under memcheck too.
#
#   scripts/valgrind.sh            all three binaries
#   scripts/valgrind.sh processes  only test binaries whose name matches
#
# Passes when every valgrind log that reached its end reports
# "ERROR SUMMARY: 0 errors" (children a test SIGKILLs on purpose never
# write a summary; they are counted separately). Leaks are not checked:
# children are killed mid-run by design. Logs: target/valgrind/.
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-}"
out=target/valgrind
rm -rf "$out"
mkdir -p "$out"

bins=$(cargo test -p slick-queue --locked --no-run --message-format=json \
    --test threads --test lapping --test processes 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])')

export SLICK_SOAK_SECS="${SLICK_SOAK_SECS:-3}"
status=0
while read -r name bin; do
  case "$name" in *"$filter"*) ;; *) continue ;; esac
  echo "valgrind: $name"
  t0=$(date +%s)
  if ! valgrind --tool=memcheck --trace-children=yes --error-exitcode=97 --leak-check=no \
      --log-file="$out/$name.%p.log" "$bin" --test-threads=2 >"$out/$name.out" 2>&1; then
    echo "valgrind: $name FAILED (see $out/$name.out and $out/$name.*.log)"
    tail -20 "$out/$name.out"
    status=1
  fi
  grep -E '^test result|passed|failed' "$out/$name.out" | tail -1
  echo "valgrind: $name took $(( $(date +%s) - t0 ))s"
done <<<"$bins"

logs=$(ls "$out"/*.log | wc -l)
summaries=$(grep -l 'ERROR SUMMARY' "$out"/*.log | wc -l)
clean=$(grep -l 'ERROR SUMMARY: 0 errors' "$out"/*.log | wc -l)
echo "valgrind: $logs processes checked, $summaries ran to completion, $clean with 0 errors, $((logs - summaries)) killed on purpose"
if [ "$clean" -ne "$summaries" ]; then
  grep -L 'ERROR SUMMARY: 0 errors' $(grep -l 'ERROR SUMMARY' "$out"/*.log) | head -5
  status=1
fi
exit $status
