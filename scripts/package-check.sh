#!/usr/bin/env bash
# Packages the two publishable crates (slick-queue, slickq) as `cargo publish`
# would, builds them from the packages (cargo package's own check), then runs
# the packaged crates' tests from an unpacked copy, outside this repository:
# what a user of the published crates would get. The tests that use the
# workspace's unpublished test-support crate (crates/testkit: the shared-memory
# tests of the core, the integration tests of slickq) are left out of the
# packages on purpose (`exclude` in their manifests; a package cannot depend
# on an unpublished crate): the packages keep the core's in-process tests and
# slickq's unit tests, and ./scripts/test runs the rest from the repository.
#
#   scripts/package-check.sh        package, verify, test (the interop tests
#                                   run when SLICK_PEER_PYTHON is set, as in
#                                   ./scripts/test)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

# Fresh sources and builds for the verify build: cargo unpacks the just-packaged crates
# into its registry cache ($CARGO_HOME/registry/src/<hash>/NAME-VERSION) and
# reuses an unpacked copy of the same name and version, so a second run
# would build slickq against the slick-queue of the first. None of these
# names exists on crates.io; only our own unpacked copies are removed.
rm -rf target/package
# And cargo takes a registry crate's sources for immutable, so the verify
# build (in target/debug) would reuse what it compiled from the first run's
# copy: forget our crates' build state there (they rebuild in seconds).
for crate in slick-queue slick-queue-zenoh slickq; do
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$version"
  rm -rf target/debug/.fingerprint/"$crate"-*
done
echo "package: cargo package -p slick-queue -p slick-queue-zenoh -p slickq"
cargo package --locked --allow-dirty -p slick-queue -p slick-queue-zenoh -p slickq

# A target dir of its own (the packaged crates are other packages to cargo),
# without debug info: a third of the disk and less link time. The packages
# are unpacked outside the repository (inside it, cargo would take them for
# stray members of this workspace), at a place fixed for this clone, with
# fresh modification times: cargo then rebuilds the two crates (the
# tarballs' times would let a stale build pass for fresh) but keeps their
# dependencies.
export CARGO_TARGET_DIR="$root/target/package-test"
export CARGO_PROFILE_DEV_DEBUG=0
work="${TMPDIR:-/tmp}/slick-queue-package-check-$(printf %s "$root" | cksum | cut -d' ' -f1)"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
for crate in slick-queue slick-queue-zenoh slickq; do
  tar -xzf "target/package/$crate-$version.crate" -C "$work"
  find "$work/$crate-$version" -type f -exec touch {} +
  for f in LICENSE Cargo.lock; do
    [ -f "$work/$crate-$version/$f" ] || { echo "package: $crate has no $f" >&2; exit 1; }
  done
done
# The unpacked slickq depends on slick-queue $version from crates.io; use the
# unpacked one instead (the same files a publish would upload).
patch="patch.crates-io.slick-queue.path=\"$work/slick-queue-$version\""
patch_zenoh="patch.crates-io.slick-queue-zenoh.path=\"$work/slick-queue-zenoh-$version\""
# slickq's packaged tests run without its default "bridge" feature, and
# slick-queue-zenoh's are not run from the package: both would build the zenoh
# dependency graph a second time (about 3 minutes); cargo package above built
# both packages as published, and 20-rust runs the bridge's tests.
echo "package: cargo test in the unpacked slick-queue-$version"
(cd "$work/slick-queue-$version" && cargo test --config "$patch" 2>&1)
echo "package: cargo test --no-default-features in the unpacked slickq-$version"
(cd "$work/slickq-$version" && cargo test --no-default-features --config "$patch" --config "$patch_zenoh" 2>&1)
echo "package: the three crates package and the packaged tests pass"
