#!/usr/bin/env bash
# Checks the PDFs the mailer's tests wrote to target/artifacts/ (bill-contract.pdf, a 1-page
# contract bill; bill-500-lines.pdf; credit-note.pdf; statement.pdf, a year of an account): qpdf finds no structural error; pdftotext shows every line,
# the totals, REMIT-TO and the payment stub, the table header and "Page i of n" on every page;
# pdftoppm renders page images beside them. Installs the tools with apt when it can; where it
# cannot, says so and skips (the mailer's own tests still ran).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/artifacts
dev/ensure-pdf-tools.sh || { echo "pdf-check: SKIPPED, qpdf and poppler-utils cannot be installed here" >&2; exit 0; }
fail() { echo "pdf-check: $*" >&2; exit 1; }
for pdf in bill-contract bill-500-lines credit-note statement; do
  [ -s "$out/$pdf.pdf" ] || fail "$out/$pdf.pdf is missing: run cargo test -p invoice-mailer first"
  qpdf --check "$out/$pdf.pdf" > "$out/$pdf.qpdf.txt" 2>&1 || fail "qpdf --check $pdf.pdf: $(tail -3 "$out/$pdf.qpdf.txt")"
  pdftotext -layout "$out/$pdf.pdf" "$out/$pdf.txt"
done

text="$out/bill-contract.txt"
for needle in "Seller Hosting" "INVOICE" "INV-000042" "Bill to" "Full rack, 42U" "Bandwidth_95th" \
  "Dec 1, 2026 – Dec 31, 2026" "Nov 1, 2026 – Nov 30, 2026" "Subtotal Site: Frankfurt" "1,182,000.00 USD" \
  "52,567.89 USD" "Amount due Dec 31, 2026" "1,234,567.89 USD" "REMIT TO" "Seller Hosting AR" "PO Box 77" \
  "PAYMENT STUB" "Amount enclosed" "Page 1 of 1"; do
  grep -qF -- "$needle" "$text" || fail "bill-contract.pdf does not show \"$needle\""
done
[ "$(pdfinfo "$out/bill-contract.pdf" | awk '/^Pages:/ {print $2}')" = 1 ] || fail "bill-contract.pdf is not 1 page"
pdfinfo "$out/bill-contract.pdf" | grep -q "^Author: *Seller Hosting" || fail "bill-contract.pdf has no author"
pdffonts "$out/bill-contract.pdf" | awk 'NR > 2 && ($(NF-4) != "yes" || $(NF-3) != "yes") {bad=1} END {exit bad}' ||
  fail "a font of bill-contract.pdf is not embedded and subset"

text="$out/bill-500-lines.txt"
pages=$(pdfinfo "$out/bill-500-lines.pdf" | awk '/^Pages:/ {print $2}')
[ "$pages" -gt 10 ] || fail "the 500-line bill has $pages pages"
for i in $(seq 0 499); do grep -qF "Line $i:" "$text" || fail "the 500-line bill does not show line $i"; done
headers=$(grep -c "Description *Type *Service period" "$text" || true)
[ "$headers" = "$pages" ] || fail "the table header shows on $headers of $pages pages"
for p in $(seq 1 "$pages"); do grep -qF "Page $p of $pages" "$text" || fail "page $p is not numbered"; done
grep -qF "PAYMENT STUB" "$text" || fail "the 500-line bill has no stub"

text="$out/credit-note.txt"
for needle in "CREDIT NOTE" "CN-000007" "Credits invoice" "INV-000042" "Rack A12 down 3 days (SLA credit)" \
  "Credit on invoice INV-000042" "150.00 USD" "Still due on invoice INV-000042" "Page 1 of 1"; do
  grep -qF -- "$needle" "$text" || fail "credit-note.pdf does not show \"$needle\""
done
! grep -qF "PAYMENT STUB" "$text" || fail "a credit note has nothing to pay: no stub"

text="$out/statement.txt"
for needle in "STATEMENT" "Jan 1, 2026 – Dec 31, 2026" "Opening balance" "Check 2210 for invoice INV-000010" \
  "Credit note CN-000001 on invoice INV-000012" "Total charges and credits" "150,000.00 USD" "122,650.00 USD" \
  "Closing balance" "27,350.00 USD" "Open bills" "61 days past due" "Over 90 days" "REMIT TO" "Page 2 of 2"; do
  grep -qF -- "$needle" "$text" || fail "statement.pdf does not show \"$needle\""
done
headers=$(grep -c "Date *Description *Charges" "$text" || true)
[ "$headers" -ge 1 ] || fail "statement.pdf has no table header"

pdftoppm -r 60 -png "$out/statement.pdf" "$out/statement-page"
pdftoppm -r 60 -png "$out/bill-contract.pdf" "$out/bill-contract-page"
pdftoppm -r 60 -png "$out/credit-note.pdf" "$out/credit-note-page"
pdftoppm -r 60 -png -f 1 -l 1 "$out/bill-500-lines.pdf" "$out/bill-500-lines-first"
pdftoppm -r 60 -png -f "$pages" -l "$pages" "$out/bill-500-lines.pdf" "$out/bill-500-lines-last"
echo "pdf-check: bill-contract.pdf (1 page), bill-500-lines.pdf ($pages pages), credit-note.pdf and statement.pdf pass qpdf and show every line, the totals, REMIT-TO and the stub; page images in $out/"
