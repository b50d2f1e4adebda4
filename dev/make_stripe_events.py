"""Builds the sample Stripe events in events/stripe/ from Stripe's published OpenAPI fixtures.

Source: fixtures3.json from Stripe's OpenAPI repository (one example object per resource, ids and
times are placeholders), provided beside the checkout as ../shared/stripe/fixtures3.json. This
script wraps those objects in event envelopes and makes ids, customers, prices, quantities and
periods consistent for one scenario: the demo account (acct_demo) buys 5 monthly seats and pays
the first bill, changes to 8 seats ten days in (a prorated bill whose card payment fails), and
later cancels; the seat product is made before and renamed after. Run it again only to regenerate; the outputs are committed.

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


PRODUCT = "prod_DemoSeats0001"


def invoice_line(fixtures, line_id, invoice_id, description, amount, quantity, unit_minor, start, end, proration):
    line = copy.deepcopy(fixtures["invoice"]["lines"]["data"][0])
    line.update(id=line_id, invoice=invoice_id, description=description, amount=amount, subtotal=amount,
                quantity=quantity, currency="usd", metadata={"account_id": ACCOUNT}, discount_amounts=[], discounts=[],
                period={"start": start, "end": end}, taxes=[], pretax_credit_amounts=[])
    line["parent"] = {
        "type": "subscription_item_details",
        "invoice_item_details": None,
        "subscription_item_details": {"invoice_item": None, "proration": proration, "proration_details": {"credited_items": None},
                                      "subscription": SUBSCRIPTION, "subscription_item": "si_DemoSeats000001"},
    }
    line["pricing"] = {"type": "price_details", "price_details": {"price": PRICE, "product": PRODUCT},
                       "unit_amount_decimal": str(unit_minor)}
    return line


def invoice(fixtures, invoice_id, number, status, lines, created, paid=False):
    inv = copy.deepcopy(fixtures["invoice"])
    total = sum(l["amount"] for l in lines)
    paid_amount = total if paid else 0
    inv.update(id=invoice_id, number=number, status=status, customer=CUSTOMER, currency="usd", created=created,
               subtotal=total, subtotal_excluding_tax=total, total=total, total_excluding_tax=total, total_taxes=[],
               amount_due=total, amount_paid=paid_amount, amount_remaining=total - paid_amount,
               due_date=created + 30 * 86400, period_start=created, period_end=created,
               hosted_invoice_url=f"https://invoice.stripe.com/i/acct_test/{invoice_id}",
               invoice_pdf=f"https://pay.stripe.com/invoice/acct_test/{invoice_id}/pdf",
               metadata={}, collection_method="charge_automatically", auto_advance=True)
    inv["parent"] = {"type": "subscription_details", "quote_details": None,
                     "subscription_details": {"metadata": {"account_id": ACCOUNT}, "subscription": SUBSCRIPTION,
                                              "subscription_proration_date": None}}
    inv["lines"] = {"object": "list", "data": lines, "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"}
    return inv


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "stripe" / "fixtures3.json")
    fixtures = json.loads(src.read_text())["resources"]
    OUT.mkdir(parents=True, exist_ok=True)

    session = copy.deepcopy(fixtures["checkout.session"])
    session.update(id="cs_test_DemoSeats01", client_reference_id=ACCOUNT, customer=CUSTOMER, mode="subscription",
                   subscription=SUBSCRIPTION, status="complete", payment_status="paid", created=T0,
                   metadata={"account_id": ACCOUNT})
    pending = dict(session, payment_status="unpaid")
    events = {
        "checkout.session.completed.json": envelope(fixtures, "evt_DemoCheckoutDone01", "checkout.session.completed",
                                                    T0 + 2, session),
        "checkout.session.async_payment_succeeded.json": envelope(
            fixtures, "evt_DemoCheckoutAsyncOk", "checkout.session.async_payment_succeeded", T0 + 2, session),
        "checkout.session.async_payment_failed.json": envelope(
            fixtures, "evt_DemoCheckoutAsyncNo", "checkout.session.async_payment_failed", T0 + 2, pending),
        "customer.subscription.paused.json": envelope(fixtures, "evt_DemoSubPaused0001", "customer.subscription.paused",
                                                      T0 + 35 * 86400,
                                                      subscription(fixtures, 8, "paused", T0, T0 + 30 * 86400)),
        "customer.subscription.resumed.json": envelope(fixtures, "evt_DemoSubResumed001", "customer.subscription.resumed",
                                                       T0 + 36 * 86400,
                                                       subscription(fixtures, 8, "active", T0, T0 + 30 * 86400)),
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
        **invoice_events(fixtures),
        **product_events(fixtures),
        **payment_method_events(fixtures),
        **charge_events(fixtures),
        "unknown.event.json": envelope(fixtures, "evt_DemoUnknownType01", "billing.future_feature.created",
                                       T0 + 5, {"id": "bff_123", "object": "billing.future_feature"}),
    }
    for name, ev in events.items():
        (OUT / name).write_text(json.dumps(ev, indent=2, sort_keys=True) + "\n")
        print("wrote", OUT / name)


def product(fixtures, name, created, updated):
    prod = copy.deepcopy(fixtures["product"])
    prod.update(id=PRODUCT, name=name, description="A member's place in the portal, billed per month",
                default_price=PRICE, created=created, updated=updated, type="service", package_dimensions=None,
                shippable=None, unit_label="seat", metadata={})
    return prod


def product_events(fixtures):
    """The seat product as the seller made it (a month before the scenario), and renamed after it."""
    made = T0 - 30 * 86400
    renamed = T0 + 45 * 86400
    return {
        "product.created.json": envelope(fixtures, "evt_DemoProductMade01", "product.created", made,
                                         product(fixtures, "Seats", made, made)),
        "product.updated.json": envelope(fixtures, "evt_DemoProductName01", "product.updated", renamed,
                                         product(fixtures, "Team seats", made, renamed),
                                         previous={"name": "Seats", "updated": made}),
    }


def charge_events(fixtures):
    """The first bill's $60.00 payment: $12.00 of it refunded (one seat), then disputed in full."""
    charge = copy.deepcopy(fixtures["charge"])
    charge.update(id="ch_DemoFirstPayment1", customer=CUSTOMER, amount=6000, amount_captured=6000, amount_refunded=1200,
                  refunded=False, disputed=False, currency="usd", created=T0 + 4, paid=True, status="succeeded",
                  payment_intent="pi_DemoFirstPayment1", payment_method="pm_DemoVisa00000001", metadata={},
                  receipt_url="https://pay.stripe.com/receipts/acct_test/ch_DemoFirstPayment1",
                  description="Invoice DEMO-0001")
    dispute = copy.deepcopy(fixtures["dispute"])
    dispute.update(id="dp_DemoFirstPayment1", charge=charge["id"], payment_intent=charge["payment_intent"], amount=6000,
                   currency="usd", reason="fraudulent", status="needs_response", created=T0 + 20 * 86400,
                   livemode=False, metadata={}, is_charge_refundable=False, network_reason_code=None)
    # The fixture predates this API version's dispute shape: a Visa chargeback as it is sent now.
    card = dict(dispute["payment_method_details"].get("card") or {}, brand="visa", network="visa",
                case_type="chargeback", network_reason_code="10.4")
    dispute["payment_method_details"] = {"type": "card", "card": card, "amazon_pay": None, "klarna": None,
                                         "paypal": None}
    dispute["evidence"]["enhanced_evidence"] = dict(dispute["evidence"].get("enhanced_evidence") or {},
                                                    mastercard_compliance=None)
    return {
        "charge.refunded.json": envelope(fixtures, "evt_DemoChargeRefund1", "charge.refunded", T0 + 5 * 86400, charge,
                                         previous={"amount_refunded": 0}),
        "charge.dispute.created.json": envelope(fixtures, "evt_DemoDisputeOpen01", "charge.dispute.created",
                                                T0 + 20 * 86400, dispute),
    }


def payment_method_events(fixtures):
    """The demo customer saves a Visa card, makes it the default, and later removes it (a
    detached method no longer names its customer: only the event's previous attributes do)."""
    pm = copy.deepcopy(fixtures["payment_method"])
    pm.update(id="pm_DemoVisa00000001", customer=CUSTOMER, type="card", created=T0, metadata={})
    pm["card"].update(brand="visa", display_brand="visa", last4="4242", exp_month=12, exp_year=2030, country="US",
                      funding="credit")
    detached = copy.deepcopy(pm)
    detached["customer"] = None
    customer = copy.deepcopy(fixtures["customer"])
    customer.update(id=CUSTOMER, email="admin@demo.example", name="Demo Hosting Customer Ltd", created=T0,
                    metadata={"account_id": ACCOUNT})
    customer["invoice_settings"] = {"custom_fields": None, "default_payment_method": pm["id"], "footer": None,
                                    "rendering_options": None}
    return {
        "payment_method.attached.json": envelope(fixtures, "evt_DemoPmAttached001", "payment_method.attached", T0 + 1, pm),
        "customer.updated.json": envelope(fixtures, "evt_DemoCustUpdated01", "customer.updated", T0 + 2, customer,
                                          previous={"invoice_settings": {"default_payment_method": None}}),
        "payment_method.detached.json": envelope(fixtures, "evt_DemoPmDetached001", "payment_method.detached",
                                                 T0 + 50 * 86400, detached, previous={"customer": CUSTOMER}),
    }


def invoice_events(fixtures):
    """The first bill (5 seats for the first month, paid) and the bill for the change to 8 seats
    ten days in (prorated: credit for unused time on 5, charge for the remaining time on 8),
    whose card payment fails."""
    month_end = T0 + 30 * 86400
    change = T0 + 10 * 86400
    first = [invoice_line(fixtures, "il_DemoFirst000001", "in_DemoFirst0000001", "5 × Seat (at $12.00 / month)",
                          6000, 5, 1200, T0, month_end, False)]
    prorated = [
        invoice_line(fixtures, "il_DemoProration01", "in_DemoProration001", "Unused time on 5 × Seat after 28 Nov 2026",
                     -4000, 5, 1200, change, month_end, True),
        invoice_line(fixtures, "il_DemoProration02", "in_DemoProration001", "Remaining time on 8 × Seat after 28 Nov 2026",
                     6400, 8, 1200, change, month_end, True),
    ]
    draft = invoice(fixtures, "in_DemoFirst0000001", None, "draft", first, T0)
    draft.update(hosted_invoice_url=None, invoice_pdf=None)
    voided_lines = [invoice_line(fixtures, "il_DemoVoided00001", "in_DemoVoided000001", "1 × Seat (issued in error)",
                                 1200, 1, 1200, T0, month_end, False)]
    return {
        "invoice.created.json": envelope(fixtures, "evt_DemoInvCreated001", "invoice.created", T0 + 2, draft),
        "invoice.updated.json": envelope(fixtures, "evt_DemoInvUpdated001", "invoice.updated", T0 + 2,
                                         dict(draft, description="Seats for November"), previous={"description": None}),
        "invoice.payment_action_required.json": envelope(
            fixtures, "evt_DemoInvActionReq1", "invoice.payment_action_required", change + 30,
            invoice(fixtures, "in_DemoProration001", "DEMO-0002", "open", prorated, change)),
        "invoice.voided.json": envelope(fixtures, "evt_DemoInvVoided0001", "invoice.voided", T0 + 7200,
                                        invoice(fixtures, "in_DemoVoided000001", "DEMO-0003", "void", voided_lines, T0)),
        "invoice.marked_uncollectible.json": envelope(
            fixtures, "evt_DemoInvUncollect1", "invoice.marked_uncollectible", change + 40 * 86400,
            invoice(fixtures, "in_DemoProration001", "DEMO-0002", "uncollectible", prorated, change)),
        "invoice.finalized.json": envelope(fixtures, "evt_DemoInvFinalized1", "invoice.finalized", T0 + 3,
                                           invoice(fixtures, "in_DemoFirst0000001", "DEMO-0001", "open", first, T0)),
        "invoice.paid.json": envelope(fixtures, "evt_DemoInvPaid000001", "invoice.paid", T0 + 4,
                                      invoice(fixtures, "in_DemoFirst0000001", "DEMO-0001", "paid", first, T0, paid=True)),
        "invoice.proration.finalized.json": envelope(fixtures, "evt_DemoInvFinalized2", "invoice.finalized", change + 5,
                                                     invoice(fixtures, "in_DemoProration001", "DEMO-0002", "open", prorated, change)),
        "invoice.payment_failed.json": envelope(fixtures, "evt_DemoInvPayFailed1", "invoice.payment_failed", change + 60,
                                                invoice(fixtures, "in_DemoProration001", "DEMO-0002", "open", prorated, change)),
    }


if __name__ == "__main__":
    main()
