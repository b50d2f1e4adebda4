#!/usr/bin/env bash
# The performance harness, in one command (not part of `make test`):
#   bench/run.sh [--check] [--events N] [--cold N]
# Builds the functions and the two baselines with the release profile, builds the arm64 zips
# (`make build-lambda`, cargo-lambda from PyPI) unless BENCH_SKIP_ZIPS=1, runs each binary under
# lambda-bench's Runtime API emulator against a local stand-in, then the criterion benchmarks,
# and writes docs/performance.md. `--check` exits non-zero when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
for a in "$@"; do [ "$a" = --check ] && check=1; done
make --no-print-directory .venv/stack/.installed > /dev/null
if [ "${BENCH_SKIP_ZIPS:-0}" != 1 ]; then
  make --no-print-directory build-lambda
fi
cargo build --locked --release \
  -p portal-api -p stripe-webhook -p invoice-mailer -p seat-provisioner \
  -p baseline-hello -p baseline-floor -p lambda-bench
status=0
target/release/lambda-bench "$@" || status=$?

# Criterion: medians (the middle of criterion's [low median high]) in µs.
bench_log=$(mktemp)
cargo bench --locked -p stripe-webhook -p invoice-mailer -p billing-domain --bench intake --bench render --bench rating -- --warm-up-time 1 --measurement-time 3 > "$bench_log" 2>&1
{
  echo
  echo "## Without I/O (criterion, median)"
  echo
  echo "| benchmark | median |"
  echo "|---|---|"
  awk '/time:/ { line = $0; n = line; sub(/ *time:.*/, "", n); gsub(/^ +| +$/, "", n); if (n != "") name = n;
                  sub(/.*time: *\[/, "", line); split(line, p, " "); printf("| %s | %s %s |\n", name, p[3], p[4]); name = ""; next }
       /^[^ ]/ && !/^(Benchmarking|Running|Found|Gnuplot|Warning|Compiling|Finished|change|Performance|No change)/ { name = $0 }' "$bench_log"
} >> docs/performance.md
decide=$(grep -A1 'verify + parse + decide' "$bench_log" | sed -n 's/.*time: *\[[^ ]* [^ ]* \([0-9.]*\) \([^ ]*\).*/\1 \2/p' | head -1)
printf "\nwebhook verify + parse + decide: %s (target ≤ 50 µs)\n" "${decide:-not measured}" | tee -a docs/performance.md
if [ "$check" = 1 ]; then
  case "$decide" in
    *µs) awk -v v="${decide% µs}" 'BEGIN { exit !(v <= 50) }' || status=1 ;;
    *) status=1 ;;
  esac
fi
rm -f "$bench_log"

# The bill run over many accounts against the stand-in (BILL_RUN_ACCOUNTS, default 10,000), in
# place and fanned out (BILL_RUN_WORKERS, default 0,1,4,8), then the model for 1,000,000 accounts.
cargo build --locked --release -p devstack --bin bench-bill-run
{
  echo
  echo "## Bill run against the stand-in"
  echo
  target/release/bench-bill-run --accounts "${BILL_RUN_ACCOUNTS:-10000}" --workers "${BILL_RUN_WORKERS:-0,1,4,8}"
  cat bench/bill-run-model.md
} | tee -a docs/performance.md || status=1

# An account's invoice list while the table grows (1,000 → 100,000 items), with the stand-in's index
# Query and, for the figures before its fix, moto's own (fewer samples: each list reads the table).
cargo build --locked --release -p devstack --bin bench-invoice-list
{
  echo
  echo "## Invoice list as the table grows (stand-in)"
  echo
  target/release/bench-invoice-list --sizes 1000,10000,100000
  echo
  MOTO_STOCK_INDEX_QUERY=1 target/release/bench-invoice-list --sizes 1000,10000,100000 --samples 5
} | tee -a docs/performance.md || status=1

# The back office's account search while the table fills with 1,000 → 100,000 accounts.
cargo build --locked --release -p devstack --bin bench-account-search
{
  echo
  echo "## Back-office account search as the table grows (stand-in)"
  echo
  target/release/bench-account-search --sizes 1000,10000,100000
} | tee -a docs/performance.md || status=1

# A lockbox file of 10,000 checks imported and applied (LOCKBOX_CHECKS, over LOCKBOX_ACCOUNTS bills).
cargo build --locked --release -p devstack --bin bench-lockbox
{
  echo
  echo "## Lockbox import against the stand-in"
  echo
  target/release/bench-lockbox --accounts "${LOCKBOX_ACCOUNTS:-1000}" --checks "${LOCKBOX_CHECKS:-10000}"
} | tee -a docs/performance.md || status=1

# The web app: bundle size and time to the balance (bench/web.sh).
bench/web.sh || status=1
exit "$status"
