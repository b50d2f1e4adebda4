//! Seat changes: previews and quantity changes with the same proration arithmetic.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use billing_domain::billing::SeatCount;
use billing_domain::proration::{self, PeriodPoint};
use billing_domain::{Currency, Money};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;

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

pub(super) async fn preview(State(fake): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
    guard!(headers);
    let f = form(&body);
    let sub_id = f.get("subscription").cloned().unwrap_or_default();
    let sub = match fake.stored("subscription", &sub_id) {
        Ok(sub) => sub,
        Err(f) => return respond(f),
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
pub(super) async fn update_subscription(
    State(fake): State<FakeStripe>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    guard!(headers);
    let f = form(&body);
    once(&fake, &headers, || {
        reply((|| {
            let mut sub = fake.stored("subscription", &id)?;
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
