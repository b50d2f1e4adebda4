#!/usr/bin/env bash
# The portal web app's figures for docs/performance.md (bench/run.sh calls it; it runs alone too):
# the first-load bundle, gzipped, against its budget (web/scripts/size.mjs), and the time from
# navigation to the overview showing the balance with Chromium's CPU slowed 4×, beside a static
# page of the same size from the same server (measured by the e2e run: `make e2e`, which writes
# target/artifacts/web/timings.json). Replaces the "## Web app" section of docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory web > /dev/null
size=$(cd web && node scripts/size.mjs)
timings=target/artifacts/web/timings.json
if [ "${BENCH_WEB_E2E:-1}" = 1 ] || [ ! -f "$timings" ]; then
  make --no-print-directory e2e > /dev/null
fi
section=$(python3 - "$size" "$timings" <<'PY'
import json, sys
size, path = sys.argv[1], sys.argv[2]
t = json.load(open(path))
print("## Web app")
print()
print(f"- Bundle (`web/scripts/size.mjs`), {size}.")
print(f"- Navigation → the overview showing the balance (local stack, Chromium, CPU slowed {t['cpu_throttling']}×, "
      f"a signed-in billing user, cold cache), median of {t['runs']}: **{t['overview_balance_ms_median']} ms**; "
      f"a static page of the same size from the same server: {t['static_same_size_ms_median']} ms (**{t['ratio']}×**).")
print(f"  Runs: app {t['overview_ms']} ms, static {t['static_ms']} ms.")
PY
)
python3 - "$section" <<'PY'
import re, sys
path = "docs/performance.md"
text = open(path, encoding="utf-8").read()
section = sys.argv[1].rstrip() + "\n"
pattern = re.compile(r"\n## Web app\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub("\n" + section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(path, "w", encoding="utf-8").write(text)
PY
echo "$section"
