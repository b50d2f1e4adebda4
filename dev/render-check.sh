#!/usr/bin/env bash
# Renders the bill e-mails the renderer's snapshot tests produced in headless Chromium (Debian's
# chromium package) at 390 and 800 px: each must show its stub and REMIT-TO and must not scroll
# sideways (dev/render-check.mjs). Screenshots are kept in target/artifacts/. Installs chromium
# with apt when it is missing and this runs as root; where it cannot be installed, says so and
# skips (the snapshot tests still ran). Needs web/node_modules (`make web`) for playwright-core.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/artifacts
mkdir -p "$out"
browser=$(CHROMIUM_INSTALL_LOG="$out/apt.log" dev/ensure-chromium.sh || true)
if [ -z "$browser" ]; then
  echo "render-check: SKIPPED, chromium is not installed and cannot be installed here (needs root and apt)" >&2
  exit 0
fi
exec node dev/render-check.mjs "$browser"
