# Model checks of the ring protocol with loom (a separate target dir, since
# --cfg loom rebuilds every dependency).
set -euo pipefail
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo test -p slick-queue --test loom --release --locked
