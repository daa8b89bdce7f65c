# The core crate under Miri (undefined behaviour, data races and weak memory
# outcomes of the in-process path): its unit tests and every integration
# test binary. Tests over shared memory or child processes need system calls
# Miri does not emulate: they are marked `#[cfg_attr(miri, ignore = ...)]`,
# or their file is `#![cfg(not(miri))]` (the two libtest-mimic binaries,
# doorbell and processes, say so and exit), each with the reason.
set -euo pipefail
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri: the nightly miri component is not installed on this machine" >&2
  echo "miri: install it with: rustup component add --toolchain nightly miri rust-src" >&2
  exit 1
fi
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}" \
  cargo +nightly miri test -p slick-queue --lib --tests
