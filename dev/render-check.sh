#!/usr/bin/env bash
# Renders the bill e-mail the renderer's snapshot tests produced in headless Chromium (Debian's
# chromium package), checks that it renders with its stub and REMIT-TO, and keeps a screenshot as
# a test artifact in target/artifacts/. Installs chromium with apt when it is missing and this
# runs as root; where it cannot be installed, says so and skips (the snapshot tests still ran).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/artifacts
mkdir -p "$out"
browser=$(CHROMIUM_INSTALL_LOG="$out/apt.log" dev/ensure-chromium.sh || true)
if [ -z "$browser" ]; then
  echo "render-check: SKIPPED, chromium is not installed and cannot be installed here (needs root and apt)" >&2
  exit 0
fi
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$out/chromium-profile")
for name in bill-usd bill-jpy; do
  html="$PWD/functions/invoice-mailer/tests/snapshots/$name.html"
  "$browser" "${flags[@]}" --dump-dom "file://$html" > "$out/$name.dom.html" 2> "$out/$name.chromium.log"
  for needle in "PAYMENT STUB" "Amount enclosed" "REMIT TO" "Subtotal Seats" "(partial period)"; do
    grep -qi -- "$needle" "$out/$name.dom.html" || { echo "render-check: $name does not show \"$needle\" in Chromium" >&2; exit 1; }
  done
  "$browser" "${flags[@]}" --window-size=820,1800 --screenshot="$PWD/$out/$name.png" "file://$html" >> "$out/$name.chromium.log" 2>&1
  size=$(stat -c %s "$out/$name.png")
  [ "$size" -gt 20000 ] || { echo "render-check: $name.png is only $size bytes" >&2; exit 1; }
  echo "render-check: $name renders in $("$browser" --version 2>/dev/null | head -1); screenshot $out/$name.png ($size bytes)"
done
