//! The fake Stripe's billing flows: Checkout (subscription, setup and payment modes) with a
//! local page to complete it, customer-portal sessions, invoice previews and payments, default
//! payment methods, subscription quantity changes with prorations, and the webhook events Stripe
//! would send after each (`checkout.session.completed` → `customer.subscription.created` →
//! `invoice.finalized` → `invoice.paid`, …), emitted to the event list, to [`FakeStripe::take_emitted`]
//! and to the configured sink.
//!
//! Objects are built from the sample events in `events/stripe/` (Stripe's published fixtures),
//! so async-stripe parses them as it parses Stripe's. Prorations use the domain's arithmetic,
//! which follows Stripe's, so a preview and the change it previews invoice the same amount.
//! Requests with an `Idempotency-Key` are answered once and replayed, as Stripe does.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use billing_domain::billing::SeatCount;
use billing_domain::proration::{self, PeriodPoint};
use billing_domain::{Currency, Money};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::fake_stripe::{FakeStripe, authorized, error};

const API_VERSION: &str = "2026-09-30.endive";
const DAY: i64 = 86_400;

fn template(name: &str) -> Value {
    let raw = match name {
        "subscription" => include_str!("../../../events/stripe/customer.subscription.created.json"),
        "invoice" => include_str!("../../../events/stripe/invoice.finalized.json"),
        "proration_invoice" => include_str!("../../../events/stripe/invoice.proration.finalized.json"),
        "checkout_session" => include_str!("../../../events/stripe/checkout.session.completed.json"),
        "payment_method" => include_str!("../../../events/stripe/payment_method.attached.json"),
        "customer" => include_str!("../../../events/stripe/customer.updated.json"),
        "billing_portal_session" => {
            return serde_json::from_str(include_str!("../fixtures/stripe/billing_portal.session.json"))
                .expect("fixture parses");
        }
        other => unreachable!("no template {other}"),
    };
    let event: Value = serde_json::from_str(raw).expect("sample event parses");
    event["data"]["object"].clone()
}

/// A price the fake sells: per unit, per interval.
#[derive(Debug, Clone)]
pub struct FakePrice {
    pub id: String,
    /// `month` or `year`.
    pub interval: String,
    pub unit_amount: i64,
    pub currency: String,
}

/// The fake's billing state beside its object store.
#[derive(Default)]
pub struct Billing {
    pub base_url: String,
    prices: HashMap<String, FakePrice>,
    /// Payment methods whose charges are declined (like Stripe's test card 4000 0000 0000 0002).
    declining: std::collections::HashSet<String>,
    /// Idempotency key → (status, response).
    replies: HashMap<String, (StatusCode, Value)>,
    /// The events emitted since the last [`FakeStripe::take_emitted`].
    emitted: Vec<Value>,
    counter: u64,
    /// The `created` of the last event: events get strictly increasing times, as Stripe's do
    /// for one object's successive changes.
    clock: i64,
}

impl Billing {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_Fake{:010}", self.counter)
    }
}

impl FakeStripe {
    /// Adds a price the fake sells.
    pub fn add_price(&self, price: FakePrice) {
        self.billing.lock().expect("fake Stripe state").prices.insert(price.id.clone(), price);
    }

    /// Makes charges to this payment method fail with `card_declined`.
    pub fn decline(&self, payment_method: &str) {
        self.billing.lock().expect("fake Stripe state").declining.insert(payment_method.to_owned());
    }

    /// Sends every event emitted from now on to `sink` too (the local webhook in `make dev`).
    pub fn set_sink(&self, sink: crate::fake_stripe::EventSink) {
        *self.sink.lock().expect("fake Stripe state") = Some(sink);
    }

    /// The events emitted since the last call, oldest first (tests deliver them to the webhook).
    pub fn take_emitted(&self) -> Vec<Value> {
        std::mem::take(&mut self.billing.lock().expect("fake Stripe state").emitted)
    }

    fn emit(&self, kind: &str, object: &Value, previous: Option<Value>) {
        let event = {
            let mut b = self.billing.lock().expect("fake Stripe state");
            b.clock = (b.clock + 1).max(Utc::now().timestamp());
            let id = b.next_id("evt");
            let mut data = json!({"object": object});
            if let Some(p) = previous {
                data["previous_attributes"] = p;
            }
            json!({
                "id": id, "object": "event", "api_version": API_VERSION, "created": b.clock,
                "data": data, "livemode": false, "pending_webhooks": 1,
                "request": {"id": null, "idempotency_key": null}, "type": kind,
            })
        };
        self.add_event(event.clone());
        self.billing.lock().expect("fake Stripe state").emitted.push(event.clone());
        let sink = self.sink.lock().expect("fake Stripe state").clone();
        if let Some(sink) = sink {
            sink(event);
        }
    }

    fn base_url(&self) -> String {
        self.billing.lock().expect("fake Stripe state").base_url.clone()
    }

    fn next_id(&self, prefix: &str) -> String {
        self.billing.lock().expect("fake Stripe state").next_id(prefix)
    }

    fn price(&self, id: &str) -> Option<FakePrice> {
        self.billing.lock().expect("fake Stripe state").prices.get(id).cloned()
    }
}

/// A form body as Stripe's clients send it (`a[b][0][c]=v`), flat by key.
type Form = HashMap<String, String>;

fn form(body: &str) -> Form {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap_or_default().into_iter().collect()
}

/// A Stripe error: its status and body.
pub type Fail = (StatusCode, Value);

fn respond(fail: Fail) -> Response {
    (fail.0, axum::Json(fail.1)).into_response()
}

fn fail(status: StatusCode, kind: &str, code: &str, message: String) -> Fail {
    (status, json!({"error": {"type": kind, "code": code, "message": message}}))
}

fn bad_param(param: &str, message: String) -> Fail {
    let body = json!({"error": {"type": "invalid_request_error", "code": "parameter_invalid", "param": param, "message": message}});
    (StatusCode::BAD_REQUEST, body)
}

fn missing(kind: &str, id: &str) -> Fail {
    fail(StatusCode::NOT_FOUND, "invalid_request_error", "resource_missing", format!("No such {kind}: '{id}'"))
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Runs `f` once per idempotency key: a repeated key gets the first reply, as Stripe's API does.
fn once(fake: &FakeStripe, headers: &HeaderMap, f: impl FnOnce() -> (StatusCode, Value)) -> Response {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(k) = &key
        && let Some((status, body)) = fake.billing.lock().expect("fake Stripe state").replies.get(k).cloned()
    {
        return (status, axum::Json(body)).into_response();
    }
    let (status, body) = f();
    if let Some(k) = key {
        fake.billing.lock().expect("fake Stripe state").replies.insert(k, (status, body.clone()));
    }
    (status, axum::Json(body)).into_response()
}

/// A result as a reply to replay: errors are replayed too, as Stripe does.
fn reply(r: Result<Value, Fail>) -> (StatusCode, Value) {
    match r {
        Ok(v) => (StatusCode::OK, v),
        Err(f) => f,
    }
}

pub fn routes() -> Router<FakeStripe> {
    Router::new()
        .route("/v1/checkout/sessions", post(create_checkout))
        .route("/v1/billing_portal/sessions", post(create_portal))
        .route("/v1/invoices/create_preview", post(preview))
        .route("/v1/invoices/{id}", get(invoice))
        .route("/v1/invoices/{id}/pay", post(pay))
        .route("/v1/customers/{id}", get(customer).post(update_customer))
        .route("/v1/payment_methods/{id}/detach", post(detach))
        .route("/checkout/{id}", get(checkout_page))
        .route("/checkout/{id}/complete", post(complete_checkout))
        .route("/billing_portal/{id}", get(portal_page))
        .route("/invoice/{id}", get(hosted_invoice_page))
}

macro_rules! guard {
    ($headers:expr) => {
        if !authorized(&$headers) {
            return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Checkout

async fn create_checkout(State(fake): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
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

async fn checkout_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
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

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Completes a Checkout Session as if the customer paid with the test card 4242, emitting the
/// events Stripe would. Returns the completed session (the local page's form posts here).
async fn complete_checkout(
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
            subscription = Some(self.new_subscription(&account, &customer, &price, quantity));
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

    /// One invoice line of the subscription's seat item.
    fn line(
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
    fn new_invoice(&self, sub: &Value, lines: Vec<Value>, reason: &str) -> Value {
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
    fn finalize_and_collect(&self, mut inv: Value) -> Value {
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

    fn put_invoice(&self, inv: &Value) {
        let id = inv["id"].as_str().unwrap_or_default().to_owned();
        self.put_invoice_lines(&id, inv["lines"]["data"].as_array().cloned().unwrap_or_default());
        self.put(inv.clone());
    }

    fn mark_paid(&self, id: &str) -> Value {
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

fn money(minor: i64, currency: &str) -> String {
    match currency.to_ascii_uppercase().parse::<Currency>() {
        Ok(c) => Money::from_minor(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Customer portal, customers, payment methods, invoices

async fn create_portal(State(fake): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
    guard!(headers);
    let f = form(&body);
    let Some(customer) = f.get("customer").filter(|c| fake.get(c).is_some()) else {
        return respond(bad_param("customer", format!("No such customer: '{}'", f.get("customer").map_or("", |c| c))));
    };
    let id = fake.next_id("bps");
    let mut s = template("billing_portal_session");
    s["id"] = json!(id);
    s["customer"] = json!(customer);
    s["return_url"] = json!(f.get("return_url"));
    s["url"] = json!(format!("{}/billing_portal/{id}", fake.base_url()));
    s["created"] = json!(now());
    s["livemode"] = json!(false);
    fake.put(s.clone());
    axum::Json(s).into_response()
}

async fn portal_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
    match fake.get(&id) {
        Some(s) => Html(format!(
            "<!doctype html><html lang=en><title>Fake customer portal</title><main><h1>Fake Stripe customer portal</h1>\
             <p>Customer <code>{}</code>: receipts, invoice PDFs and payment history would be here.</p>\
             <p><a href=\"{}\">Return to the billing portal</a></p></main></html>",
            html_escape(s["customer"].as_str().unwrap_or("")),
            html_escape(s["return_url"].as_str().unwrap_or(""))
        ))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn hosted_invoice_page(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
    match fake.get(&id).filter(|i| i["object"] == "invoice") {
        Some(i) => Html(format!(
            "<!doctype html><title>Invoice {n}</title><h1>Invoice {n}</h1><p>Status {s}; amount due {d}.</p>",
            n = i["number"].as_str().unwrap_or(""),
            s = i["status"].as_str().unwrap_or(""),
            d = money(i["amount_remaining"].as_i64().unwrap_or(0), i["currency"].as_str().unwrap_or("usd")),
        ))
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn customer(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    guard!(headers);
    match fake.get(&id).filter(|c| c["object"] == "customer") {
        Some(c) => axum::Json(c).into_response(),
        None => respond(missing("customer", &id)),
    }
}

async fn update_customer(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    guard!(headers);
    let f = form(&body);
    let Some(mut c) = fake.get(&id).filter(|c| c["object"] == "customer") else {
        return respond(missing("customer", &id));
    };
    if let Some(pm) = f.get("invoice_settings[default_payment_method]") {
        if fake.get(pm).is_none_or(|p| p["customer"].as_str() != Some(id.as_str())) {
            return respond(bad_param(
                "invoice_settings[default_payment_method]",
                format!("No such PaymentMethod: '{pm}' attached to this customer"),
            ));
        }
        let previous = c["invoice_settings"]["default_payment_method"].clone();
        c["invoice_settings"]["default_payment_method"] = json!(pm);
        fake.put(c.clone());
        fake.emit("customer.updated", &c, Some(json!({"invoice_settings": {"default_payment_method": previous}})));
    }
    axum::Json(c).into_response()
}

async fn detach(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    guard!(headers);
    let Some(mut pm) = fake.get(&id).filter(|p| p["object"] == "payment_method") else {
        return respond(missing("payment_method", &id));
    };
    let Some(customer) = pm["customer"].as_str().map(str::to_owned) else {
        return error(
            StatusCode::BAD_REQUEST,
            Some("payment_method_unexpected_state"),
            "The payment method is not attached to a customer.".into(),
        );
    };
    pm["customer"] = Value::Null;
    fake.put(pm.clone());
    fake.emit("payment_method.detached", &pm, Some(json!({"customer": customer})));
    if let Some(mut c) = fake.get(&customer)
        && c["invoice_settings"]["default_payment_method"].as_str() == Some(id.as_str())
    {
        c["invoice_settings"]["default_payment_method"] = Value::Null;
        fake.put(c.clone());
        fake.emit("customer.updated", &c, Some(json!({"invoice_settings": {"default_payment_method": id}})));
    }
    axum::Json(pm).into_response()
}

async fn invoice(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    guard!(headers);
    match fake.get(&id).filter(|i| i["object"] == "invoice") {
        Some(i) => axum::Json(i).into_response(),
        None => respond(missing("invoice", &id)),
    }
}

async fn pay(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>, body: String) -> Response {
    guard!(headers);
    let f = form(&body);
    once(&fake, &headers, || {
        reply((|| {
            let inv = fake.get(&id).filter(|i| i["object"] == "invoice").ok_or_else(|| missing("invoice", &id))?;
            if inv["status"] != "open" {
                let message = format!("Invoice {id} is not open.");
                return Err(fail(StatusCode::BAD_REQUEST, "invalid_request_error", "invoice_not_open", message));
            }
            if f.get("paid_out_of_band").map(String::as_str) != Some("true") {
                let pm = f.get("payment_method").cloned().unwrap_or_default();
                if fake.billing.lock().expect("fake Stripe state").declining.contains(&pm) {
                    let mut f = fail(
                        StatusCode::PAYMENT_REQUIRED,
                        "card_error",
                        "card_declined",
                        "Your card was declined.".into(),
                    );
                    f.1["error"]["decline_code"] = json!("generic_decline");
                    return Err(f);
                }
            }
            Ok(fake.mark_paid(&id))
        })())
    })
}

// ---------------------------------------------------------------------------------------------
// Seat changes: preview and apply with the same arithmetic

/// The proration lines of changing `sub`'s seat item to `quantity` at `at`.
fn proration_lines(fake: &FakeStripe, sub: &Value, quantity: i64, at: i64) -> Result<Vec<Value>, Fail> {
    let item = &sub["items"]["data"][0];
    let (start, end) =
        (item["current_period_start"].as_i64().unwrap_or(0), item["current_period_end"].as_i64().unwrap_or(0));
    let time = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
    let when = PeriodPoint::new(time(start), time(end), time(at))
        .map_err(|e| bad_param("proration_date", format!("proration_date {at} is outside the current period: {e}")))?;
    let currency: Currency = item["price"]["currency"]
        .as_str()
        .unwrap_or("usd")
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| missing("currency", "?"))?;
    let unit = Money::from_minor(item["price"]["unit_amount"].as_i64().unwrap_or(0), currency);
    let from = item["quantity"].as_i64().unwrap_or(1);
    let seats = |n: i64| SeatCount::try_from(n).map_err(|e| bad_param("quantity", e.to_string()));
    let p = proration::seat_change(unit, seats(from)?, seats(quantity)?, when);
    let minor = |m: Money| m.to_minor().unwrap_or(0);
    let date = time(at).format("%-d %b %Y");
    Ok(vec![
        fake.line(
            sub,
            &format!("Unused time on {from} × Seat after {date}"),
            minor(p.unused_credit),
            from,
            true,
            (at, end),
        ),
        fake.line(
            sub,
            &format!("Remaining time on {quantity} × Seat after {date}"),
            minor(p.remaining_charge),
            quantity,
            true,
            (at, end),
        ),
    ])
}

async fn preview(State(fake): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
    guard!(headers);
    let f = form(&body);
    let sub_id = f.get("subscription").cloned().unwrap_or_default();
    let Some(sub) = fake.get(&sub_id).filter(|s| s["object"] == "subscription") else {
        return respond(missing("subscription", &sub_id));
    };
    let item = &sub["items"]["data"][0];
    if f.get("subscription_details[items][0][id]").map(String::as_str) != item["id"].as_str() {
        let message = "No such subscription item on this subscription".into();
        return respond(bad_param("subscription_details[items][0][id]", message));
    }
    let Some(quantity) = f.get("subscription_details[items][0][quantity]").and_then(|q| q.parse::<i64>().ok()) else {
        return respond(bad_param("subscription_details[items][0][quantity]", "A quantity is required".into()));
    };
    let at = f.get("subscription_details[proration_date]").and_then(|t| t.parse().ok()).unwrap_or_else(now);
    match proration_lines(&fake, &sub, quantity, at) {
        Ok(lines) => {
            let mut inv = fake.new_invoice(&sub, lines, "subscription_update");
            // A preview is never stored and has no id of its own at Stripe.
            inv["id"] = Value::Null;
            inv["number"] = Value::Null;
            axum::Json(inv).into_response()
        }
        Err(f) => respond(f),
    }
}

/// `POST /v1/subscriptions/{id}`: a quantity change with `always_invoice` (or `create_prorations`,
/// whose prorations this fake leaves out) at `proration_date`.
pub async fn update_subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    guard!(headers);
    let f = form(&body);
    once(&fake, &headers, || {
        reply((|| {
            let mut sub =
                fake.get(&id).filter(|s| s["object"] == "subscription").ok_or_else(|| missing("subscription", &id))?;
            if f.get("items[0][id]").map(String::as_str) != sub["items"]["data"][0]["id"].as_str() {
                return Err(bad_param("items[0][id]", "No such subscription item on this subscription".into()));
            }
            let quantity = f
                .get("items[0][quantity]")
                .and_then(|q| q.parse::<i64>().ok())
                .ok_or_else(|| bad_param("items[0][quantity]", "A quantity is required".into()))?;
            let at = f.get("proration_date").and_then(|t| t.parse().ok()).unwrap_or_else(now);
            let lines = proration_lines(&fake, &sub, quantity, at)?;
            let previous = sub["items"].clone();
            sub["items"]["data"][0]["quantity"] = json!(quantity);
            fake.put(sub.clone());
            fake.emit("customer.subscription.updated", &sub, Some(json!({"items": previous})));
            if f.get("proration_behavior").map(String::as_str) == Some("always_invoice")
                && lines.iter().any(|l| l["amount"].as_i64() != Some(0))
            {
                let inv = fake.new_invoice(&sub, lines, "subscription_update");
                let inv = fake.finalize_and_collect(inv);
                sub["latest_invoice"] = inv["id"].clone();
                fake.put(sub.clone());
            }
            Ok(sub)
        })())
    })
}
