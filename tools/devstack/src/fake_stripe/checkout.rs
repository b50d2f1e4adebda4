//! Checkout (subscription, setup and payment modes) with a local page to complete it, as if the
//! customer paid with a test card, emitting the events Stripe would.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::*;

pub(super) async fn create_checkout(State(fake): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
    guard!(headers);
    let f = form(&body);
    once(&fake, &headers, || reply(new_checkout(&fake, &f)))
}

fn new_checkout(fake: &FakeStripe, f: &Form) -> Result<Value, Fail> {
    let mode = f.get("mode").cloned().unwrap_or_default();
    let id = fake.next_id("cs_test");
    let mut s = template("checkout_session");
    let metadata: serde_json::Map<String, Value> = f
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')).map(|k| (k.to_owned(), json!(v)))
        })
        .collect();
    let (mut amount_total, mut currency) = (Value::Null, Value::Null);
    match mode.as_str() {
        "subscription" => {
            let price_id = f.get("line_items[0][price]").cloned().unwrap_or_default();
            let Some(price) = fake.price(&price_id) else {
                return Err(bad_param("line_items[0][price]", format!("No such price: '{price_id}'")));
            };
            let quantity: i64 = f.get("line_items[0][quantity]").and_then(|q| q.parse().ok()).unwrap_or(1);
            amount_total = json!(price.unit_amount * quantity);
            currency = json!(price.currency);
        }
        "payment" => {
            let mut total = 0;
            for n in 0.. {
                let Some(amount) = f.get(&format!("line_items[{n}][price_data][unit_amount]")) else { break };
                total += amount.parse::<i64>().unwrap_or(0);
                currency = json!(f.get(&format!("line_items[{n}][price_data][currency]")));
            }
            amount_total = json!(total);
        }
        "setup" => {}
        other => return Err(bad_param("mode", format!("Invalid mode: {other:?}"))),
    }
    let obj = s.as_object_mut().expect("session object");
    obj.insert("id".into(), json!(id));
    obj.insert("mode".into(), json!(mode));
    obj.insert("status".into(), json!("open"));
    obj.insert("payment_status".into(), json!(if mode == "setup" { "no_payment_required" } else { "unpaid" }));
    obj.insert("customer".into(), json!(f.get("customer")));
    obj.insert("customer_email".into(), json!(f.get("customer_email")));
    obj.insert("client_reference_id".into(), json!(f.get("client_reference_id")));
    obj.insert("metadata".into(), Value::Object(metadata));
    obj.insert("url".into(), json!(format!("{}/checkout/{id}", fake.base_url())));
    obj.insert("success_url".into(), json!(f.get("success_url")));
    obj.insert("cancel_url".into(), json!(f.get("cancel_url")));
    obj.insert("subscription".into(), Value::Null);
    obj.insert("payment_intent".into(), Value::Null);
    // Stripe Tax: asked for, Checkout collects the address (and a tax ID) and taxes what it makes.
    let automatic_tax = f.get("automatic_tax[enabled]").is_some_and(|v| v == "true");
    obj.insert(
        "automatic_tax".into(),
        json!({"enabled": automatic_tax, "liability": {"type": "account"}, "provider": automatic_tax.then_some("stripe"),
               "status": automatic_tax.then_some("complete")}),
    );
    let tax_ids = f.get("tax_id_collection[enabled]").is_some_and(|v| v == "true");
    obj.insert("tax_id_collection".into(), json!({"enabled": tax_ids, "required": "never"}));
    obj.insert("amount_total".into(), amount_total);
    obj.insert("currency".into(), currency);
    obj.insert("created".into(), json!(now()));
    obj.insert("expires_at".into(), json!(now() + DAY));
    fake.put(s.clone());
    // What completing it needs, kept beside the session.
    let request: serde_json::Map<String, Value> = f.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    fake.put(json!({"id": format!("{id}#request"), "object": "fake.checkout_request", "form": request}));
    Ok(s)
}

pub(super) async fn checkout_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
    let Some(s) = fake.get(&id).filter(|s| s["object"] == "checkout.session") else {
        return (StatusCode::NOT_FOUND, Html("No such Checkout Session".to_owned())).into_response();
    };
    let what = match s["mode"].as_str() {
        Some("subscription") => "Start the subscription",
        Some("setup") => "Save the card",
        _ => "Pay",
    };
    // What is bought, as Stripe's page shows it: product, quantity and amount per line, the total.
    let request = fake.get(&format!("{id}#request")).map(|r| r["form"].clone()).unwrap_or(Value::Null);
    let field = |k: &str| request[k].as_str().map(str::to_owned);
    let currency = s["currency"].as_str().unwrap_or("usd").to_owned();
    let mut lines = String::new();
    match s["mode"].as_str() {
        Some("subscription") => {
            let price = fake.price(&field("line_items[0][price]").unwrap_or_default());
            let quantity: i64 = field("line_items[0][quantity]").and_then(|q| q.parse().ok()).unwrap_or(1);
            if let Some(p) = price {
                let per = if p.interval == "year" { "year" } else { "month" };
                lines.push_str(&format!(
                    "<tr><td>Seats, billed per {per}</td><td>{quantity} × {}</td><td>{}</td></tr>",
                    money(p.unit_amount, &p.currency),
                    money(p.unit_amount * quantity, &p.currency)
                ));
            }
        }
        Some("payment") => {
            for n in 0.. {
                let Some(amount) = field(&format!("line_items[{n}][price_data][unit_amount]")) else { break };
                let name = field(&format!("line_items[{n}][price_data][product_data][name]")).unwrap_or_default();
                let quantity = field(&format!("line_items[{n}][quantity]")).unwrap_or_else(|| "1".into());
                lines.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html_escape(&name),
                    html_escape(&quantity),
                    money(amount.parse().unwrap_or(0), &currency)
                ));
            }
        }
        _ => lines.push_str("<tr><td colspan=3>A card to save for later payments (nothing is charged now)</td></tr>"),
    }
    let total = s["amount_total"].as_i64().map(|t| money(t, &currency)).unwrap_or_default();
    Html(format!(
        "<!doctype html><html lang=en><meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>Fake Stripe Checkout</title><main><h1>Fake Stripe Checkout</h1>\
         <p>Session <code>{id}</code> ({mode}), status <b>{status}</b>.</p>\
         <table><thead><tr><th>Item</th><th>Quantity</th><th>Amount</th></tr></thead><tbody>{lines}</tbody>\
         <tfoot><tr><th colspan=2>Total</th><td id=total>{total}</td></tr></tfoot></table>\
         <form method=post action=/checkout/{id}/complete><button>{what} with test card 4242 4242 4242 4242</button></form>\
         <form method=post action=/checkout/{id}/complete?card=0341><button>{what} with test card 4000 0000 0000 0341 \
         (saved, but later charges are declined)</button></form>\
         <p><a href=\"{cancel}\">Cancel and go back</a></p></main></html>",
        mode = s["mode"].as_str().unwrap_or(""),
        status = s["status"].as_str().unwrap_or(""),
        cancel = html_escape(s["cancel_url"].as_str().unwrap_or("/")),
    ))
    .into_response()
}

/// Completes a Checkout Session as if the customer paid with the test card 4242, emitting the
/// events Stripe would. Returns the completed session (the local page's form posts here).
pub(super) async fn complete_checkout(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let card = match q.get("card").map(String::as_str) {
        None | Some("4242") => TestCard::Visa4242,
        Some("0341") => TestCard::DeclinesLater0341,
        Some(other) => return respond(bad_param("card", format!("no test card {other}; use 4242 or 0341"))),
    };
    match fake.complete_checkout_with(&id, card) {
        // The page's form (a browser): back to the app's success URL, as Stripe redirects.
        Ok(session) if wants_html(&headers) => match session["success_url"].as_str() {
            Some(url) => axum::response::Redirect::to(url).into_response(),
            None => axum::Json(session).into_response(),
        },
        Ok(session) => axum::Json(session).into_response(),
        Err(f) => respond(f),
    }
}

/// Whether the caller is a browser following a page (not an API client such as curl).
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The test cards the local Checkout page offers (Stripe's own test numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCard {
    /// 4242 4242 4242 4242: every charge succeeds.
    Visa4242,
    /// 4000 0000 0000 0341: saves fine, later charges are declined.
    DeclinesLater0341,
}

impl FakeStripe {
    /// Completes the session `id` with the test card 4242 (what the local Checkout page does).
    pub fn complete_checkout(&self, id: &str) -> Result<Value, Fail> {
        self.complete_checkout_with(id, TestCard::Visa4242)
    }

    /// Completes the session `id` with `card`.
    pub fn complete_checkout_with(&self, id: &str, card: TestCard) -> Result<Value, Fail> {
        let Some(mut session) = self.get(id).filter(|s| s["object"] == "checkout.session") else {
            return Err(missing("checkout session", id));
        };
        if session["status"] != "open" {
            let message = format!("{id} is not open");
            return Err(fail(StatusCode::BAD_REQUEST, "invalid_request_error", "checkout_session_not_open", message));
        }
        let request = self.get(&format!("{id}#request")).map(|r| r["form"].clone()).unwrap_or(Value::Null);
        let field = |k: &str| request[k].as_str().map(str::to_owned);
        let account = session["client_reference_id"].as_str().unwrap_or_default().to_owned();
        let customer = match session["customer"].as_str() {
            Some(c) => c.to_owned(),
            None => self.new_customer(&account, session["customer_email"].as_str()),
        };
        session["customer"] = json!(customer);
        let mode = session["mode"].as_str().unwrap_or_default().to_owned();
        let mut subscription = None;
        if mode == "subscription" {
            let price =
                self.price(&field("line_items[0][price]").unwrap_or_default()).ok_or_else(|| missing("price", "?"))?;
            let quantity = field("line_items[0][quantity]").and_then(|q| q.parse().ok()).unwrap_or(1);
            let mut sub = self.new_subscription(&account, &customer, &price, quantity);
            if session["automatic_tax"]["enabled"] == true {
                sub["automatic_tax"]["enabled"] = json!(true);
                self.put(sub.clone());
            }
            subscription = Some(sub);
            session["subscription"] = json!(subscription.as_ref().map(|s| s["id"].clone()));
        }
        session["status"] = json!("complete");
        session["payment_status"] = json!(if mode == "setup" { "no_payment_required" } else { "paid" });
        self.put(session.clone());
        self.emit("checkout.session.completed", &session, None);
        if mode != "payment" {
            let pm = self.attach_new_card(&customer, if card == TestCard::Visa4242 { "4242" } else { "0341" }, "visa");
            if card == TestCard::DeclinesLater0341 {
                self.decline(&pm);
            }
        }
        if let Some(sub) = subscription {
            self.emit("customer.subscription.created", &sub, None);
            let item = &sub["items"]["data"][0];
            let price = &item["price"];
            let quantity = item["quantity"].as_i64().unwrap_or(1);
            let line = self.line(
                &sub,
                &format!(
                    "{quantity} × Seat (at {} / {})",
                    money(price["unit_amount"].as_i64().unwrap_or(0), price["currency"].as_str().unwrap_or("usd")),
                    price["recurring"]["interval"].as_str().unwrap_or("month")
                ),
                price["unit_amount"].as_i64().unwrap_or(0) * quantity,
                quantity,
                false,
                (item["current_period_start"].as_i64().unwrap_or(0), item["current_period_end"].as_i64().unwrap_or(0)),
            );
            let inv = self.new_invoice(&sub, vec![line], "subscription_create");
            self.finalize_and_collect(inv);
        }
        Ok(session)
    }

    fn new_customer(&self, account: &str, email: Option<&str>) -> String {
        let id = self.next_id("cus");
        let mut c = template("customer");
        c["id"] = json!(id);
        c["email"] = json!(email);
        c["metadata"] = json!({"account_id": account});
        c["invoice_settings"]["default_payment_method"] = Value::Null;
        c["created"] = json!(now());
        self.put(c);
        id
    }

    /// Attaches a new test card to the customer and makes it the default if there is none.
    pub fn attach_new_card(&self, customer: &str, last4: &str, brand: &str) -> String {
        let id = self.next_id("pm");
        let mut pm = template("payment_method");
        pm["id"] = json!(id);
        pm["customer"] = json!(customer);
        pm["card"]["last4"] = json!(last4);
        pm["card"]["brand"] = json!(brand);
        pm["card"]["exp_month"] = json!(12);
        pm["card"]["exp_year"] = json!(2030);
        pm["created"] = json!(now());
        self.put(pm.clone());
        self.emit("payment_method.attached", &pm, None);
        if let Some(mut c) = self.get(customer)
            && c["invoice_settings"]["default_payment_method"].is_null()
        {
            c["invoice_settings"]["default_payment_method"] = json!(id);
            self.put(c.clone());
            self.emit("customer.updated", &c, Some(json!({"invoice_settings": {"default_payment_method": null}})));
        }
        id
    }

    fn new_subscription(&self, account: &str, customer: &str, price: &FakePrice, quantity: i64) -> Value {
        let id = self.next_id("sub");
        let item_id = self.next_id("si");
        let start = now();
        let end = start + if price.interval == "year" { 365 * DAY } else { 30 * DAY };
        let mut sub = template("subscription");
        sub["id"] = json!(id);
        sub["customer"] = json!(customer);
        sub["status"] = json!("active");
        sub["metadata"] = json!({"account_id": account});
        sub["created"] = json!(start);
        sub["start_date"] = json!(start);
        sub["billing_cycle_anchor"] = json!(start);
        sub["cancel_at_period_end"] = json!(false);
        sub["items"]["url"] = json!(format!("/v1/subscription_items?subscription={id}"));
        let item = &mut sub["items"]["data"][0];
        item["id"] = json!(item_id);
        item["subscription"] = json!(id);
        item["quantity"] = json!(quantity);
        item["created"] = json!(start);
        item["current_period_start"] = json!(start);
        item["current_period_end"] = json!(end);
        for (k, v) in
            [("id", json!(price.id)), ("unit_amount", json!(price.unit_amount)), ("currency", json!(price.currency))]
        {
            item["price"][k] = v;
        }
        item["price"]["unit_amount_decimal"] = json!(price.unit_amount.to_string());
        item["price"]["recurring"]["interval"] = json!(price.interval);
        item["price"]["transform_quantity"] = Value::Null;
        item["plan"]["id"] = json!(price.id);
        item["plan"]["amount"] = json!(price.unit_amount);
        item["plan"]["amount_decimal"] = json!(price.unit_amount.to_string());
        item["plan"]["interval"] = json!(price.interval);
        item["plan"]["currency"] = json!(price.currency);
        self.put(sub.clone());
        sub
    }
}
