"""Writes a BAI lockbox file (the bank's fixed-width transmission, in the columns docs/lockbox.md
documents) for the README's ops session: one check from the account paying each of its open
bills (its remittance names them), and, with --unidentified, a check from a bank account never
seen before with no stub at all, which the import cannot place and leaves to staff.

  curl -s "${ops[@]}" $OPS/ops/accounts/acct_acmehosting | python3 dev/lockbox_file.py \
      --check 1041 --unidentified 250.00 > /tmp/lockbox.txt

Reads the account (the ops API's GET /v1/ops/accounts/{id}) on stdin; prints the file.
"""
import argparse
import datetime
import json
import sys
from decimal import Decimal


def cents(amount):
    return int((Decimal(amount) * 100).to_integral_value())


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--check", type=int, default=1041, help="the account's check number")
    args.add_argument("--unidentified", help="also a check of this amount nobody can be told from")
    args.add_argument("--lockbox", default="0005678", help="the lockbox number (7 digits)")
    opts = args.parse_args()
    account = json.load(sys.stdin)
    bills = sorted(
        (i for i in account["invoices"] if i["status"] == "open"),
        key=lambda i: (i["due_date"] or "", i["number"] or ""),
    )
    if not bills:
        sys.exit(f"{account['account_id']} has no open bill to pay")
    today = datetime.date.today()
    ymd, mdy = today.strftime("%y%m%d"), today.strftime("%m%d%y")
    remitter = account["name"].upper()[:30]
    checks = [(opts.check, "055002707", "0012345555", remitter,
               [(b["number"], cents(b["amount_remaining"]["amount"])) for b in bills])]
    if opts.unidentified:
        checks.append((88231, "061000104", "8877665544", "N W CO PAYABLES", []))
    lines = [f"100SELLER    0121000248{ymd}0630", "2SELLER    121000248  000000000040010408001",
             f"5001000{opts.lockbox}{ymd}SELLER    121000248"]
    total = 0
    for item, (number, routing, drawer, name, invoices) in enumerate(checks, start=1):
        amount = sum(c for _, c in invoices) if invoices else cents(opts.unidentified)
        total += amount
        lines.append(f"6001{item:03}{amount:010}{routing:<9}{drawer:<10}{number:010}{mdy}{name:<30}")
        for n, (invoice, owed) in enumerate(invoices, start=1):
            last = 9 if n == len(invoices) else 0
            lines.append(f"4001{item:03}4{n:02}{last}{invoice:<16}{owed:010}0000000000")
    lines.append(f"7001000{opts.lockbox}{ymd}{len(checks):03}{total:010}")
    lines.append(f"8000000{opts.lockbox}{ymd}{len(checks):04}{total:010}")
    lines.append(f"9{len(lines) + 1:06}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
