# slick-queue-py 2.3.0 compatibility: run the 2.3.0 sdist's own test suite
# (downloaded by scripts/setup into $SLICK_PEER_SDIST, never vendored)
# against this package in SLICK_QUEUE_PY_API=2.3 mode, minus the tests listed
# with their reasons in python/compat/peer-2.3.0-excluded.txt (they need
# C++ programs or reach private attributes of 2.3.0's implementation); then
# run the Python blocks of the 2.3.0 README in the same mode. Needs the wheel
# stage 40-python.sh installs into $SLICK_VENV.
set -euo pipefail
cd "$SLICK_ROOT"
py="$SLICK_VENV/bin/python"
src="$SLICK_PEER_SDIST/slick_queue_py-$SLICK_PEER_VERSION"
if [ ! -d "$src/tests" ]; then
  echo "45-python-compat: $src/tests is missing; run scripts/setup (it downloads the slick-queue-py $SLICK_PEER_VERSION sdist)" >&2
  exit 1
fi
excluded="$SLICK_ROOT/python/compat/peer-2.3.0-excluded.txt"

# A copy of tests/ alone: the suite puts its parent directory first on
# sys.path, which in the sdist holds 2.3.0's own slick_queue_py.py.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/tests" "$work/tests"
cd "$work"

args=()
ids=()
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  id="${line%% # *}"
  ids+=("$id")
  args+=(--deselect "$id")
done < "$excluded"

# Every excluded id must name a real test (a typo would silently run nothing).
collected=$(SLICK_QUEUE_PY_API=2.3 "$py" -m pytest -p no:cacheprovider -q --collect-only tests | grep '::' || true)
for id in "${ids[@]}"; do
  if ! grep -qxF "$id" <<<"$collected"; then
    echo "45-python-compat: excluded test $id is not in the $SLICK_PEER_VERSION suite" >&2
    exit 1
  fi
done
total=$(grep -c '::' <<<"$collected")
echo "45-python-compat: slick-queue-py $SLICK_PEER_VERSION suite: $total tests, ${#ids[@]} excluded (see $excluded), $((total - ${#ids[@]})) must pass"

SLICK_QUEUE_PY_API=2.3 "$py" -m pytest -p no:cacheprovider -q -rs "${args[@]}" tests

cd "$SLICK_ROOT"
SLICK_QUEUE_PY_API=2.3 SLICK_PEER_README="$src/README.md" \
  "$py" -m pytest -p no:cacheprovider -q python/compat/test_peer_readme.py
