"""End-to-end latency of the Stripe webhook on the local stack (`make dev` running).

Sends N distinct, validly signed `customer.subscription.updated` events (each newer than the last,
so each is applied: ledger + projection + work item in one transaction against the stand-in),
interleaved with N baseline deliveries that carry a wrong signature (same route, gateway, event
conversion and verification, but no store access). Prints p50/p99 of both and their ratio.

Usage: .venv/stack/bin/python bench/webhook-latency.py [N]   (secret: STRIPE_WEBHOOK_SECRETS or
the local default; port: DEV_API_PORT or 3000)
"""

import json
import os
import pathlib
import statistics
import sys
import time
import urllib.error
import urllib.request

import stripe

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECRET = os.environ.get("STRIPE_WEBHOOK_SECRETS", "whsec_local_dev_secret_not_for_production").split(",")[0]
URL = f"http://127.0.0.1:{os.environ.get('DEV_API_PORT', '3000')}/webhooks/stripe"


def post(body: str, signature: str) -> float:
    req = urllib.request.Request(URL, data=body.encode(), method="POST",
                                 headers={"content-type": "application/json", "stripe-signature": signature})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as resp:
            resp.read()
    except urllib.error.HTTPError as e:
        e.read()
    return (time.perf_counter() - start) * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    event = json.loads((ROOT / "events/stripe/customer.subscription.updated.json").read_text())
    run = int(time.time())
    applied, baseline = [], []
    for i in range(n):
        event["id"] = f"evt_bench_{run}_{i}"
        event["created"] = 1_900_000_000 + run % 100_000 * 1000 + i
        event["data"]["object"]["items"]["data"][0]["quantity"] = 5 + i % 20
        body = json.dumps(event)
        applied.append(post(body, stripe.WebhookSignature.generate_signature_header(body, SECRET)))
        baseline.append(post(body, stripe.WebhookSignature.generate_signature_header(body, "whsec_wrong")))
    print(f"| webhook, {n} deliveries each | p50 (ms) | p99 (ms) |")
    print("|---|---|---|")
    print(f"| applied (verify + ledger + projection + work item) | {pct(applied, 50):.2f} | {pct(applied, 99):.2f} |")
    print(f"| baseline: rejected signature (no store) | {pct(baseline, 50):.2f} | {pct(baseline, 99):.2f} |")
    print(f"| ratio | {pct(applied, 50) / pct(baseline, 50):.1f}x | {pct(applied, 99) / pct(baseline, 99):.1f}x |")


if __name__ == "__main__":
    main()
