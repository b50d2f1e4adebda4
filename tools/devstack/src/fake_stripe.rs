//! A local fake of the Stripe API: the endpoints this project calls, answering with objects shaped
//! like Stripe's published fixtures (the sample events' objects, or what a test stores), and
//! Stripe's own error shapes. Bound to loopback; for tests and `make dev`, never production.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// Where emitted events go besides the event list: the local webhook endpoint in `make dev`.
pub type EventSink = Arc<dyn Fn(Value) + Send + Sync>;

/// The objects the fake holds, by id (`sub_…`), and what it has emitted.
#[derive(Clone, Default)]
pub struct FakeStripe {
    objects: Arc<Mutex<HashMap<String, Value>>>,
    events: Arc<Mutex<Vec<Value>>>,
    invoice_lines: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    pub(crate) billing: Arc<Mutex<crate::fake_billing::Billing>>,
    pub(crate) sink: Arc<Mutex<Option<EventSink>>>,
}

pub(crate) fn authorized(headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer sk_"))
}

/// `GET /v1/events`: newest first, `created[gte]`, `limit` (default 10, at most 100),
/// `starting_after` — as Stripe pages its event list.
async fn events(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
    }
    let gte = q.get("created[gte]").and_then(|v| v.parse::<i64>().ok()).unwrap_or(i64::MIN);
    let limit = q.get("limit").and_then(|v| v.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let mut all: Vec<Value> = fake
        .events
        .lock()
        .expect("fake Stripe state")
        .iter()
        .filter(|e| e["created"].as_i64() >= Some(gte))
        .cloned()
        .collect();
    all.sort_by(|a, b| (b["created"].as_i64(), b["id"].as_str()).cmp(&(a["created"].as_i64(), a["id"].as_str())));
    let start = match q.get("starting_after") {
        Some(after) => match all.iter().position(|e| e["id"].as_str() == Some(after.as_str())) {
            Some(i) => i + 1,
            None => {
                return error(StatusCode::BAD_REQUEST, Some("resource_missing"), format!("No such event: '{after}'"));
            }
        },
        None => 0,
    };
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < all.len();
    axum::Json(json!({"object": "list", "url": "/v1/events", "has_more": has_more, "data": page})).into_response()
}

pub(crate) fn error(status: StatusCode, code: Option<&str>, message: String) -> Response {
    let body = json!({"error": {"type": "invalid_request_error", "code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

/// `GET /v1/{kind}s/{id}` for the objects this project re-reads.
async fn object(kind: &'static str, fake: FakeStripe, headers: HeaderMap, id: String) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
    }
    match fake.objects.lock().expect("fake Stripe state").get(&id) {
        Some(obj) if obj["object"] == kind => axum::Json(obj.clone()).into_response(),
        _ => error(StatusCode::NOT_FOUND, Some("resource_missing"), format!("No such {kind}: '{id}'")),
    }
}

/// `GET /v1/invoices/{id}/lines`: `limit` (default 10, at most 100) and `starting_after`.
async fn invoice_lines(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
    }
    let Some(all) = fake.invoice_lines.lock().expect("fake Stripe state").get(&id).cloned() else {
        return error(StatusCode::NOT_FOUND, Some("resource_missing"), format!("No such invoice: '{id}'"));
    };
    let limit = q.get("limit").and_then(|v| v.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let start = match q.get("starting_after") {
        Some(after) => all.iter().position(|l| l["id"].as_str() == Some(after.as_str())).map_or(all.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < all.len();
    let url = format!("/v1/invoices/{id}/lines");
    axum::Json(json!({"object": "list", "url": url, "has_more": has_more, "data": page})).into_response()
}

async fn subscription(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    object("subscription", fake, headers, id).await
}

async fn charge(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    object("charge", fake, headers, id).await
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

    /// The object stored under `id`, if any.
    pub fn get(&self, id: &str) -> Option<Value> {
        self.objects.lock().expect("fake Stripe state").get(id).cloned()
    }

    pub fn router(&self) -> Router {
        let billing = crate::fake_billing::routes();
        Router::new()
            .route("/v1/subscriptions/{id}", get(subscription).post(crate::fake_billing::update_subscription))
            .route("/v1/charges/{id}", get(charge))
            .route("/v1/invoices/{id}/lines", get(invoice_lines))
            .route("/v1/events", get(events))
            .merge(billing)
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
