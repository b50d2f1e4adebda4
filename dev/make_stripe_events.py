"""Builds the sample Stripe events in events/stripe/ from Stripe's published OpenAPI fixtures.

Source: fixtures3.json from Stripe's OpenAPI repository (one example object per resource, ids and
times are placeholders), provided beside the checkout as ../shared/stripe/fixtures3.json. This
script wraps those objects in event envelopes and makes ids, customers, prices, quantities and
periods consistent for one scenario: the demo account (acct_demo) buys 5 monthly seats, changes to
8, and later cancels. Run it again only to regenerate; the outputs are committed.

Usage: python dev/make_stripe_events.py [path/to/fixtures3.json]
"""

import copy
import json
import pathlib
import sys

API_VERSION = "2026-09-30.endive"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "events" / "stripe"
ACCOUNT = "acct_demo"
CUSTOMER = "cus_DemoCustomer0001"
SUBSCRIPTION = "sub_DemoSeats00000001"
PRICE = "price_DemoSeatMonthly01"
T0 = 1795000000  # 2026-11-18T11:06:40Z, the scenario's start


def envelope(fixtures, event_id, kind, created, obj, previous=None):
    ev = copy.deepcopy(fixtures["event"])
    ev.update(id=event_id, type=kind, created=created, api_version=API_VERSION, livemode=False, pending_webhooks=1)
    ev["request"] = {"id": None, "idempotency_key": None}
    ev["data"] = {"object": obj}
    if previous is not None:
        ev["data"]["previous_attributes"] = previous
    return ev


def subscription(fixtures, quantity, status, created, period_start):
    sub = copy.deepcopy(fixtures["subscription"])
    item = sub["items"]["data"][0]
    price = item["price"]
    price.update(id=PRICE, currency="usd", unit_amount=1200, unit_amount_decimal="1200", type="recurring",
                 billing_scheme="per_unit", tiers_mode=None, custom_unit_amount=None, lookup_key="seat_monthly")
    price["recurring"] = {"interval": "month", "interval_count": 1, "meter": None, "trial_period_days": None,
                          "usage_type": "licensed"}
    item["plan"].update(id=PRICE, interval="month", interval_count=1, amount=1200, amount_decimal="1200",
                        billing_scheme="per_unit", currency="usd", tiers_mode=None, transform_usage=None)
    item.update(id="si_DemoSeats000001", quantity=quantity, subscription=SUBSCRIPTION, created=created,
                current_period_start=period_start, current_period_end=period_start + 30 * 86400)
    sub["items"]["url"] = f"/v1/subscription_items?subscription={SUBSCRIPTION}"
    sub.update(id=SUBSCRIPTION, customer=CUSTOMER, status=status, created=created, start_date=created,
               billing_cycle_anchor=period_start, currency="usd", cancel_at_period_end=False, cancel_at=None,
               canceled_at=None, ended_at=None, latest_invoice=None, metadata={"account_id": ACCOUNT})
    if status == "canceled":
        sub.update(canceled_at=created, ended_at=created)
    return sub


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "stripe" / "fixtures3.json")
    fixtures = json.loads(src.read_text())["resources"]
    OUT.mkdir(parents=True, exist_ok=True)

    session = copy.deepcopy(fixtures["checkout.session"])
    session.update(id="cs_test_DemoSeats01", client_reference_id=ACCOUNT, customer=CUSTOMER, mode="subscription",
                   subscription=SUBSCRIPTION, status="complete", payment_status="paid", created=T0,
                   metadata={"account_id": ACCOUNT})
    events = {
        "checkout.session.completed.json": envelope(fixtures, "evt_DemoCheckoutDone01", "checkout.session.completed",
                                                    T0 + 2, session),
        "customer.subscription.created.json": envelope(fixtures, "evt_DemoSubCreated001",
                                                       "customer.subscription.created", T0 + 1,
                                                       subscription(fixtures, 5, "active", T0, T0)),
        "customer.subscription.updated.json": envelope(fixtures, "evt_DemoSubUpdated001",
                                                       "customer.subscription.updated", T0 + 3600,
                                                       subscription(fixtures, 8, "active", T0, T0),
                                                       previous={"quantity": 5}),
        "customer.subscription.deleted.json": envelope(fixtures, "evt_DemoSubDeleted001",
                                                       "customer.subscription.deleted", T0 + 40 * 86400,
                                                       subscription(fixtures, 8, "canceled", T0, T0 + 30 * 86400)),
        "unknown.event.json": envelope(fixtures, "evt_DemoUnknownType01", "billing.future_feature.created",
                                       T0 + 5, {"id": "bff_123", "object": "billing.future_feature"}),
    }
    for name, ev in events.items():
        (OUT / name).write_text(json.dumps(ev, indent=2, sort_keys=True) + "\n")
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()
