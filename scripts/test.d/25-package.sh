# The publishable crates (slick-queue, slickq) package as `cargo publish`
# would make them, each with its LICENSE, and their packaged tests pass when
# run from the unpacked packages, outside the repository (see
# scripts/package-check.sh; about 1.5 min the first time, then ~20 s).
set -euo pipefail
./scripts/package-check.sh
