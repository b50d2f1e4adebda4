#!/usr/bin/env bash
# Makes sure Debian's qpdf and poppler-utils (pdftotext, pdftoppm, pdfinfo) are installed,
# installing them with apt when missing and this runs as root. Exits 1 when they cannot be had.
set -euo pipefail
have() { command -v qpdf > /dev/null && command -v pdftotext > /dev/null && command -v pdftoppm > /dev/null; }
if ! have && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  log=${PDF_TOOLS_INSTALL_LOG:-/tmp/pdf-tools-apt.log}
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends qpdf poppler-utils > "$log" 2>&1 ||
    { apt-get update -q >> "$log" 2>&1 && apt-get install -y -q --no-install-recommends qpdf poppler-utils >> "$log" 2>&1; } ||
    true
fi
have || { echo "qpdf and poppler-utils are not installed and cannot be installed here (needs root and apt)" >&2; exit 1; }
