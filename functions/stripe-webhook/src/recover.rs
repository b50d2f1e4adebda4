//! Missed-event recovery: reads Stripe's event list from a stored watermark and applies every
//! event through the same path as the webhook, so an outage longer than Stripe's three days of
//! retries loses nothing within the 30 days Stripe keeps events. Events already applied are
//! duplicates and change nothing; the watermark moves only after every listed event was applied.

use billing_domain::billing::EventOutcome;
use billing_domain::ports::ContractAdmin;
use billing_domain::ports::{ProcessorEvents, RecoveryWatermark};
use billing_domain::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::apply::{self, Applied};
use crate::stripe_api::StripeObjects;
use crate::verify;

/// Re-read this far behind the watermark: events created in the same seconds as the last run's
/// newest ones may have appeared after it listed.
pub const OVERLAP_SECS: i64 = 300;
/// Where the first run starts: Stripe's retry window.
pub const FIRST_LOOKBACK_SECS: i64 = 3 * 24 * 60 * 60;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub since: i64,
    pub listed: usize,
    /// Applied now (any outcome but duplicate).
    pub recorded: usize,
    pub duplicates: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<i64>,
}

/// A listed event as the JSON Stripe would have delivered, so it takes the webhook's own parsing.
fn delivery_json(e: &stripe_shared::Event) -> String {
    use miniserde::json::{Number, Object, Value};
    let mut data = Object::new();
    data.insert("object".into(), e.data.object.clone());
    if let Some(prev) = &e.data.previous_attributes {
        data.insert("previous_attributes".into(), prev.clone());
    }
    let mut ev = Object::new();
    ev.insert("id".into(), Value::String(e.id.as_str().to_owned()));
    ev.insert("object".into(), Value::String("event".into()));
    ev.insert("type".into(), Value::String(e.type_.as_str().to_owned()));
    ev.insert("created".into(), Value::Number(Number::I64(e.created)));
    ev.insert("livemode".into(), Value::Bool(e.livemode));
    ev.insert("pending_webhooks".into(), Value::Number(Number::I64(e.pending_webhooks)));
    if let Some(v) = &e.api_version {
        ev.insert("api_version".into(), Value::String(v.clone()));
    }
    ev.insert("data".into(), Value::Object(data));
    miniserde::json::to_string(&Value::Object(ev))
}

/// One recovery run at `now`.
pub async fn recover(
    store: &dyn ProcessorEvents,
    watermark: &dyn RecoveryWatermark,
    stripe: &dyn StripeObjects,
    ledger: Option<&dyn ContractAdmin>,
    now: DateTime<Utc>,
) -> Result<Report> {
    let since = match watermark.watermark().await? {
        Some(w) => w - OVERLAP_SECS,
        None => now.timestamp() - FIRST_LOOKBACK_SECS,
    };
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stripe.events(since, after.as_deref()).await?;
        after = page.events.last().map(|e| e.id.as_str().to_owned());
        events.extend(page.events);
        if !page.has_more || after.is_none() {
            break;
        }
    }
    // Oldest first, as they happened (apply is order-safe either way).
    events.sort_by(|a, b| (a.created, a.id.as_str()).cmp(&(b.created, b.id.as_str())));
    let mut report = Report { since, listed: events.len(), ..Report::default() };

    // Events from the API are authenticated by TLS and our key; re-signing each with a key made
    // for this run lets it take the webhook's exact parse and apply path.
    for e in &events {
        // Most listed events were delivered already: a ledger read tells, before any apply work
        // (the webhook itself skips this read, since its deliveries are mostly new). A parked
        // event is applied again: its customer may be linked by now.
        if store.event_record(e.id.as_str()).await?.is_some_and(|r| r.outcome != EventOutcome::Parked) {
            report.duplicates += 1;
            continue;
        }
        let body = delivery_json(e);
        let verified = verify::reverify(&body, now)
            .map_err(|r| Error::Corrupt(format!("listed event {} rejected: {r}", e.id.as_str())))?;
        match apply::apply(store, Some(stripe), ledger, verified, &body, now).await? {
            Applied::Duplicate => report.duplicates += 1,
            Applied::Recorded(_) => report.recorded += 1,
        }
    }
    if let Some(newest) = events.iter().map(|e| e.created).max() {
        watermark.advance_watermark(newest).await?;
        report.watermark = Some(newest);
    }
    tracing::info!(?report, "missed-event recovery run");
    Ok(report)
}
