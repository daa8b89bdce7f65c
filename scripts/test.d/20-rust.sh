# Every Rust test of the workspace (unit, integration, processes, interop with
# the PyPI peer via $SLICK_PEER_PYTHON), then the doc tests.
set -euo pipefail
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --locked --doc
