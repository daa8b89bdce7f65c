# The local-memory tests under Miri (undefined behaviour, data races and weak
# memory outcomes of the in-process path). Shared-memory tests need real
# system calls and are not run here.
set -euo pipefail
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri: the nightly miri component is not installed on this machine" >&2
  echo "miri: install it with: rustup component add --toolchain nightly miri rust-src" >&2
  exit 1
fi
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}" \
  cargo +nightly miri test -p slick-queue --lib --test ops --test threads --test hot_path --test lapping
