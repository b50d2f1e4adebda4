#!/usr/bin/env bash
# Builds the portal-api release binary at opt-level 3, "s" and "z" (everything else as in
# [profile.release]) and prints a markdown table of binary size and deflated (zip-like) size,
# the figures that decide the Lambda artifact size and the cold-start download.
# Usage: bench/opt-level.sh [target-triple]   (default: the host; aarch64 needs cargo-lambda/zig)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-}
echo "| opt-level | binary (bytes) | deflated (bytes) | build (s) |"
echo "|---|---|---|---|"
for level in 3 s z; do
  start=$(date +%s)
  if [ -n "$target" ]; then
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$level cargo build --locked --release -q -p portal-api --bin portal-api --target "$target"
    bin=target/$target/release/portal-api
  else
    CARGO_PROFILE_RELEASE_OPT_LEVEL=$level cargo build --locked --release -q -p portal-api --bin portal-api
    bin=target/release/portal-api
  fi
  secs=$(( $(date +%s) - start ))
  echo "| $level | $(stat -c %s "$bin") | $(gzip -9 -c "$bin" | wc -c) | $secs |"
done
