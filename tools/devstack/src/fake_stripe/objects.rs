//! The objects and events this project re-reads: `GET /v1/events`, subscriptions, charges,
//! products and invoice lines.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::*;

/// `GET /v1/events`: newest first, `created[gte]`, `limit` (default 10, at most 100),
/// `starting_after` — as Stripe pages its event list.
pub(super) async fn events(
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

/// `GET /v1/{kind}s/{id}` for the objects this project re-reads.
pub(super) async fn object(kind: &'static str, fake: FakeStripe, headers: HeaderMap, id: String) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
    }
    match fake.stored(kind, &id) {
        Ok(obj) => axum::Json(obj).into_response(),
        Err(f) => respond(f),
    }
}

/// `GET /v1/invoices/{id}/lines`: `limit` (default 10, at most 100) and `starting_after`.
pub(super) async fn invoice_lines(
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

pub(super) async fn subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    object("subscription", fake, headers, id).await
}

pub(super) async fn charge(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    object("charge", fake, headers, id).await
}

pub(super) async fn product(State(fake): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    object("product", fake, headers, id).await
}

/// The fake's one tax rate (what its Stripe Tax applies).
pub(super) async fn tax_rate(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, None, "You did not provide an API key.".into());
    }
    if id != super::invoices::FAKE_TAX_RATE {
        return error(StatusCode::NOT_FOUND, Some("resource_missing"), format!("No such tax rate: '{id}'"));
    }
    axum::Json(super::invoices::fake_tax_rate()).into_response()
}
