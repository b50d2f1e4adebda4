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
        let count = lines.len();
        inv["lines"] = json!({"object": "list", "data": lines, "has_more": false, "total_count": count, "url": format!("/v1/invoices/{id}/lines")});
        inv
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
