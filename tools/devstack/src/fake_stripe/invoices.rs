//! The invoice lifecycle the flows share: lines, a new invoice for a subscription, finalizing
//! and collecting it with the customer's default card, marking it paid.

use serde_json::{Value, json};

use super::*;

impl FakeStripe {
    /// One invoice line of the subscription's seat item.
    pub(super) fn line(
        &self,
        sub: &Value,
        description: &str,
        amount: i64,
        quantity: i64,
        proration: bool,
        period: (i64, i64),
    ) -> Value {
        let item = &sub["items"]["data"][0];
        let mut l = template("proration_invoice")["lines"]["data"][0].clone();
        l["id"] = json!(self.next_id("il"));
        l["amount"] = json!(amount);
        l["subtotal"] = json!(amount);
        l["currency"] = item["price"]["currency"].clone();
        l["description"] = json!(description);
        l["quantity"] = json!(quantity);
        l["metadata"] = sub["metadata"].clone();
        l["period"] = json!({"start": period.0, "end": period.1});
        let details = &mut l["parent"]["subscription_item_details"];
        details["proration"] = json!(proration);
        details["subscription"] = sub["id"].clone();
        details["subscription_item"] = item["id"].clone();
        l["pricing"]["price_details"]["price"] = item["price"]["id"].clone();
        l["pricing"]["unit_amount_decimal"] = item["price"]["unit_amount_decimal"].clone();
        l
    }

    /// A draft invoice of the subscription with these lines (not stored).
    pub(super) fn new_invoice(&self, sub: &Value, lines: Vec<Value>, reason: &str) -> Value {
        let id = self.next_id("in");
        let total: i64 = lines.iter().map(|l| l["amount"].as_i64().unwrap_or(0)).sum();
        let mut inv = template("invoice");
        let created = now();
        let number = format!("FAKE-{:04}", self.billing.lock().expect("fake Stripe state").counter);
        for (k, v) in [
            ("id", json!(id)),
            ("number", json!(number)),
            ("customer", sub["customer"].clone()),
            ("currency", sub["items"]["data"][0]["price"]["currency"].clone()),
            ("status", json!("draft")),
            ("billing_reason", json!(reason)),
            ("created", json!(created)),
            ("period_start", json!(created)),
            ("period_end", json!(created)),
            ("subtotal", json!(total)),
            ("subtotal_excluding_tax", json!(total)),
            ("total", json!(total)),
            ("total_excluding_tax", json!(total)),
            ("amount_due", json!(total.max(0))),
            ("amount_paid", json!(0)),
            ("amount_remaining", json!(total.max(0))),
            ("due_date", Value::Null),
            ("hosted_invoice_url", json!(format!("{}/invoice/{id}", self.base_url()))),
            ("invoice_pdf", json!(format!("{}/invoice/{id}/pdf", self.base_url()))),
            ("metadata", sub["metadata"].clone()),
        ] {
            inv[k] = v;
        }
        inv["parent"]["subscription_details"]["subscription"] = sub["id"].clone();
        inv["parent"]["subscription_details"]["metadata"] = sub["metadata"].clone();
        let mut lines = lines;
        if sub["automatic_tax"]["enabled"] == true {
            self.tax(&mut inv, &mut lines);
        }
        let count = lines.len();
        inv["lines"] = json!({"object": "list", "data": lines, "has_more": false, "total_count": count, "url": format!("/v1/invoices/{id}/lines")});
        inv
    }

    /// Stripe Tax, as the fake does it: every line at [`FAKE_TAX_RATE`] (Illinois sales tax,
    /// 6.25 %, exclusive), rounded per line half away from zero; the invoice's `total_taxes` the
    /// lines' sum, its total and amount due raised by it.
    fn tax(&self, inv: &mut Value, lines: &mut [Value]) {
        let mut tax = 0;
        let mut base = 0;
        for l in lines.iter_mut() {
            let amount = l["amount"].as_i64().unwrap_or(0);
            let t = (amount * FAKE_TAX_BASIS_POINTS_X100 + amount.signum() * 500_000) / 1_000_000;
            l["taxes"] = json!([fake_tax(t, amount)]);
            tax += t;
            base += amount;
        }
        let total = inv["total"].as_i64().unwrap_or(0) + tax;
        inv["automatic_tax"]["enabled"] = json!(true);
        inv["automatic_tax"]["status"] = json!("complete");
        inv["total_taxes"] = json!([fake_tax(tax, base)]);
        inv["total"] = json!(total);
        inv["amount_due"] = json!(total.max(0));
        inv["amount_remaining"] = json!(total.max(0));
    }

    /// Finalizes the invoice and charges the customer's default method (as `always_invoice` and
    /// automatic collection do), emitting `invoice.finalized` then `invoice.paid` or
    /// `invoice.payment_failed`.
    pub(super) fn finalize_and_collect(&self, mut inv: Value) -> Value {
        let id = inv["id"].as_str().unwrap_or_default().to_owned();
        inv["status"] = json!("open");
        self.put_invoice(&inv);
        self.emit("invoice.finalized", &inv, None);
        if inv["amount_due"].as_i64() == Some(0) {
            return self.mark_paid(&id);
        }
        let default = self
            .get(inv["customer"].as_str().unwrap_or_default())
            .and_then(|c| c["invoice_settings"]["default_payment_method"].as_str().map(str::to_owned));
        match default {
            Some(pm) if !self.billing.lock().expect("fake Stripe state").declining.contains(&pm) => self.mark_paid(&id),
            _ => {
                inv["attempted"] = json!(true);
                inv["attempt_count"] = json!(1);
                self.put_invoice(&inv);
                self.emit("invoice.payment_failed", &inv, None);
                inv
            }
        }
    }

    pub(super) fn put_invoice(&self, inv: &Value) {
        let id = inv["id"].as_str().unwrap_or_default().to_owned();
        self.put_invoice_lines(&id, inv["lines"]["data"].as_array().cloned().unwrap_or_default());
        self.put(inv.clone());
    }

    pub(super) fn mark_paid(&self, id: &str) -> Value {
        let mut inv = self.get(id).expect("invoice stored");
        let due = inv["amount_due"].clone();
        inv["status"] = json!("paid");
        inv["amount_paid"] = due;
        inv["amount_remaining"] = json!(0);
        inv["attempted"] = json!(true);
        self.put_invoice(&inv);
        self.emit("invoice.paid", &inv, Some(json!({"status": "open"})));
        inv
    }
}

/// The one tax rate the fake's Stripe Tax applies.
pub const FAKE_TAX_RATE: &str = "txr_fake_il_sales";
/// 6.25 %, in hundredths of a basis point (6.25 % = 62,500 / 1,000,000).
const FAKE_TAX_BASIS_POINTS_X100: i64 = 62_500;

fn fake_tax(amount: i64, taxable: i64) -> Value {
    json!({
        "amount": amount,
        "tax_behavior": "exclusive",
        "tax_rate_details": {"tax_rate": FAKE_TAX_RATE},
        "taxability_reason": "standard_rated",
        "taxable_amount": taxable,
        "type": "tax_rate_details"
    })
}

/// The fake's tax rate object, as `GET /v1/tax_rates/{id}` answers it.
pub(super) fn fake_tax_rate() -> Value {
    json!({
        "id": FAKE_TAX_RATE, "object": "tax_rate", "active": true, "country": "US", "created": 1_767_225_600,
        "description": null, "display_name": "Sales tax", "effective_percentage": 6.25, "flat_amount": null,
        "inclusive": false, "jurisdiction": "Illinois", "jurisdiction_level": "state", "livemode": false,
        "metadata": {}, "percentage": 6.25, "rate_type": "percentage", "state": "IL", "tax_type": "sales_tax"
    })
}
