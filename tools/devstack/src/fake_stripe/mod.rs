//! A local fake of the Stripe API: the endpoints this project calls, answering with objects shaped
//! like Stripe's published fixtures (the sample events' objects, or what a test stores), and
//! Stripe's own error shapes. Bound to loopback; for tests and `make dev`, never production.
//!
//! Its billing flows: Checkout (subscription, setup and payment modes) with a local page to
//! complete it, customer-portal sessions, invoice previews and payments, default payment methods,
//! subscription quantity changes with prorations, and the webhook events Stripe would send after
//! each (`checkout.session.completed` → `customer.subscription.created` → `invoice.finalized` →
//! `invoice.paid`, …), emitted to the event list, to [`FakeStripe::take_emitted`] and to the
//! configured sink.
//!
//! Objects are built from the sample events in `events/stripe/` (Stripe's published fixtures),
//! so async-stripe parses them as it parses Stripe's. Prorations use the domain's arithmetic,
//! which follows Stripe's, so a preview and the change it previews invoice the same amount.
//! Requests with an `Idempotency-Key` are answered once and replayed, as Stripe does.
//!
//! This module owns what every part shares (the state, the error and form helpers, idempotent
//! replies, the router); [`objects`] serves the objects and events this project re-reads;
//! [`checkout`], [`portal`] (customer portal, customers, payment methods, invoices) and [`seats`]
//! (quantity changes and their previews) are the flows, and [`invoices`] the invoice lifecycle
//! they share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use billing_domain::{Currency, Money};
use chrono::Utc;
use serde_json::{Value, json};

pub use faults::{StripeFaultCounts, StripeFaults};

/// Where emitted events go besides the event list: the local webhook endpoint in `make dev`.
pub type EventSink = Arc<dyn Fn(Value) + Send + Sync>;

/// The objects the fake holds, by id (`sub_…`), and what it has emitted.
#[derive(Clone, Default)]
pub struct FakeStripe {
    objects: Arc<Mutex<HashMap<String, Value>>>,
    events: Arc<Mutex<Vec<Value>>>,
    invoice_lines: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    billing: Arc<Mutex<Billing>>,
    sink: Arc<Mutex<Option<EventSink>>>,
    /// Object id → `created` of the newest event sent to the local webhook about it from outside
    /// the fake (`make stripe-event`), see [`FakeStripe::follow`].
    followed: Arc<Mutex<HashMap<String, i64>>>,
    /// Faults injected into the API's answers, when set ([`FakeStripe::inject_faults`]).
    faults: Arc<Mutex<Option<Arc<StripeFaults>>>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer sk_"))
}

macro_rules! guard {
    ($headers:expr) => {
        if !authorized(&$headers) {
            return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
        }
    };
}

mod checkout;
mod faults;
mod invoices;
mod objects;
mod portal;
mod seats;

const API_VERSION: &str = "2026-09-30.endive";
const DAY: i64 = 86_400;

fn template(name: &str) -> Value {
    let raw = match name {
        "subscription" => include_str!("../../../../events/stripe/customer.subscription.created.json"),
        "invoice" => include_str!("../../../../events/stripe/invoice.finalized.json"),
        "proration_invoice" => include_str!("../../../../events/stripe/invoice.proration.finalized.json"),
        "checkout_session" => include_str!("../../../../events/stripe/checkout.session.completed.json"),
        "payment_method" => include_str!("../../../../events/stripe/payment_method.attached.json"),
        "customer" => include_str!("../../../../events/stripe/customer.updated.json"),
        "billing_portal_session" => {
            return serde_json::from_str(include_str!("../../fixtures/stripe/billing_portal.session.json"))
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

    /// Fails a share of the API's requests from now on, as `faults` says (storms).
    pub fn inject_faults(&self, faults: Arc<StripeFaults>) {
        *self.faults.lock().expect("fake Stripe state") = Some(faults);
    }

    /// Sends every event emitted from now on to `sink` too (the local webhook in `make dev`).
    pub fn set_sink(&self, sink: EventSink) {
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

pub(crate) fn error(status: StatusCode, code: Option<&str>, message: String) -> Response {
    let body = json!({"error": {"type": "invalid_request_error", "code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

impl FakeStripe {
    /// Stores (or replaces) an object, as Stripe would after a change.
    pub fn put(&self, object: Value) {
        if let Some(id) = object["id"].as_str() {
            self.objects.lock().expect("fake Stripe state").insert(id.to_owned(), object);
        }
    }

    /// All the lines of an invoice, as `GET /v1/invoices/{id}/lines` pages them.
    pub fn put_invoice_lines(&self, invoice_id: &str, lines: Vec<Value>) {
        self.invoice_lines.lock().expect("fake Stripe state").insert(invoice_id.to_owned(), lines);
    }

    /// Adds an event to the list `GET /v1/events` serves (Stripe keeps them 30 days).
    pub fn add_event(&self, event: Value) {
        self.events.lock().expect("fake Stripe state").push(event);
    }

    /// Holds the newest object of each sample event in `dir` (what Stripe would return now).
    pub fn load_events(&self, dir: &std::path::Path) -> Result<()> {
        let mut newest: HashMap<String, (i64, Value)> = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(entry?.path())?)?;
            let object = event["data"]["object"].clone();
            let (Some(id), Some(created)) = (object["id"].as_str(), event["created"].as_i64()) else { continue };
            if newest.get(id).is_none_or(|(t, _)| *t < created) {
                newest.insert(id.to_owned(), (created, object));
            }
        }
        newest.into_values().for_each(|(_, o)| self.put(o));
        Ok(())
    }

    /// Takes the object of an event sent to the local webhook by someone else than the fake (a
    /// sample event, `make stripe-event`): Stripe holds an object as its newest event shows it, so
    /// a re-read, or a payment, sees the state the events sent so far describe, not the newest
    /// sample's (`load_events`). An event older than one already followed for its object is not.
    pub fn follow(&self, event: &Value) {
        let object = &event["data"]["object"];
        let (Some(id), Some(created)) = (object["id"].as_str(), event["created"].as_i64()) else { return };
        let mut followed = self.followed.lock().expect("fake Stripe state");
        if followed.get(id).is_none_or(|seen| *seen <= created) {
            followed.insert(id.to_owned(), created);
            self.put(object.clone());
        }
    }

    /// The object stored under `id`, if any.
    pub fn get(&self, id: &str) -> Option<Value> {
        self.objects.lock().expect("fake Stripe state").get(id).cloned()
    }

    /// The `kind` object stored under `id`, or Stripe's `resource_missing`.
    fn stored(&self, kind: &str, id: &str) -> Result<Value, Fail> {
        self.get(id).filter(|o| o["object"] == kind).ok_or_else(|| missing(kind, id))
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/subscriptions/{id}", get(objects::subscription).post(seats::update_subscription))
            .route("/v1/charges/{id}", get(objects::charge))
            .route("/v1/products/{id}", get(objects::product))
            .route("/v1/tax_rates/{id}", get(objects::tax_rate))
            .route("/v1/invoices/{id}/lines", get(objects::invoice_lines))
            .route("/v1/events", get(objects::events))
            .route("/v1/checkout/sessions", post(checkout::create_checkout))
            .route("/v1/billing_portal/sessions", post(portal::create_portal))
            .route("/v1/invoices/create_preview", post(seats::preview))
            .route("/v1/invoices/{id}", get(portal::invoice))
            .route("/v1/invoices/{id}/pay", post(portal::pay))
            .route("/v1/customers/{id}", get(portal::customer).post(portal::update_customer))
            .route("/v1/payment_methods/{id}/detach", post(portal::detach))
            .route("/checkout/{id}", get(checkout::checkout_page))
            .route("/checkout/{id}/complete", post(checkout::complete_checkout))
            .route("/billing_portal/{id}", get(portal::portal_page))
            .route("/invoice/{id}", get(portal::hosted_invoice_page))
            .layer(axum::middleware::from_fn_with_state(self.clone(), faults::inject))
            .with_state(self.clone())
    }

    /// Serves on `127.0.0.1:port` (0: a free one) in the background; returns the base URL.
    pub async fn serve(&self, port: u16) -> Result<String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        self.billing.lock().expect("fake Stripe state").base_url = url.clone();
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(url)
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn money(minor: i64, currency: &str) -> String {
    match currency.to_ascii_uppercase().parse::<Currency>() {
        Ok(c) => Money::from_minor(minor, c).to_string(),
        Err(_) => format!("{minor} {currency}"),
    }
}
