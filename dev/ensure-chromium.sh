#!/usr/bin/env bash
# Prints the path of Debian's chromium, installing it with apt when it is missing and this runs as
# root (playwright's own browser download cannot work here). Exits 1 when it cannot be had.
set -euo pipefail
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  log=${CHROMIUM_INSTALL_LOG:-/tmp/chromium-apt.log}
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends chromium > "$log" 2>&1 ||
    { apt-get update -q >> "$log" 2>&1 && apt-get install -y -q --no-install-recommends chromium >> "$log" 2>&1; } ||
    true
  browser=$(command -v chromium || true)
fi
[ -n "$browser" ] || { echo "chromium is not installed and cannot be installed here (needs root and apt)" >&2; exit 1; }
echo "$browser"
