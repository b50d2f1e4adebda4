#!/usr/bin/env bash
# The performance harness, in one command (not part of `make test`):
#   bench/run.sh [--check] [--events N] [--cold N]
# Builds the functions and the two baselines with the release profile, builds the arm64 zips
# (`make build-lambda`, cargo-lambda from PyPI) unless BENCH_SKIP_ZIPS=1, then runs each binary
# under lambda-bench's Runtime API emulator against a local stand-in and writes
# docs/performance.md. `--check` exits non-zero when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory .venv/stack/.installed > /dev/null
if [ "${BENCH_SKIP_ZIPS:-0}" != 1 ]; then
  make --no-print-directory build-lambda
fi
cargo build --locked --release \
  -p portal-api -p stripe-webhook -p invoice-mailer -p seat-provisioner \
  -p baseline-hello -p baseline-floor -p lambda-bench
exec target/release/lambda-bench "$@"
