//! Stripe events parked because their customer is linked to no account: ops list them (to link
//! the customer, or to see what a Stripe account carries that this system does not manage) and
//! discard the ones that will never be linked here.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use billing_domain::billing::{Discard, ParkedEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller};
use crate::{OpsError, OpsResult, OpsState, OpsStore};
use billing_domain::staff::Permission;

/// Parked events listed at most.
const MAX_LISTED: u16 = 1000;

/// A parked event as ops see it: what it is, whose, and how long it has waited (its payload stays
/// in the store).
#[derive(Debug, Serialize)]
pub struct ParkedView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_id: String,
    pub created: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
    pub waiting_secs: i64,
}

#[derive(Debug, Serialize)]
pub struct ParkedList {
    pub events: Vec<ParkedView>,
}

/// `GET /v1/ops/parked-events?older_than_secs=N&limit=L`: parked events created at least
/// `older_than_secs` ago (default 0: all), oldest first, at most `limit` (default and most 1,000).
pub async fn list<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Query(q): Query<HashMap<String, String>>,
) -> OpsResult<Json<ParkedList>> {
    caller.require(Permission::AccountRead)?;
    let number = |name: &str, max: i64| -> OpsResult<Option<i64>> {
        q.get(name)
            .map(|raw| {
                raw.parse::<i64>()
                    .ok()
                    .filter(|n| (0..=max).contains(n))
                    .ok_or_else(|| OpsError::InvalidParameter(format!("{name} must be a whole number from 0 to {max}")))
            })
            .transpose()
    };
    let older_than = number("older_than_secs", 365 * 24 * 60 * 60)?.unwrap_or(0);
    let limit = number("limit", i64::from(MAX_LISTED))?.map_or(MAX_LISTED, |l| l.max(1) as u16);
    let now = Utc::now();
    let before = now - chrono::Duration::seconds(older_than);
    let events = state.store.parked_events(before, limit, None).await?;
    Ok(Json(ParkedList { events: events.into_iter().map(|p| view(p, now)).collect() }))
}

fn view(p: ParkedEvent, now: DateTime<Utc>) -> ParkedView {
    let created = DateTime::from_timestamp(p.created, 0).unwrap_or(DateTime::UNIX_EPOCH);
    ParkedView {
        waiting_secs: (now - created).num_seconds().max(0),
        event_id: p.event_id,
        kind: p.kind,
        customer_id: p.customer_id,
        created,
        parked_at: p.parked_at,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscardBody {
    pub reason: String,
}

/// `POST /v1/ops/parked-events/{event_id}/discard` `{"reason"}`: the event is never applied; its
/// ledger entry keeps who discarded it, when and why (and the log says it).
pub async fn discard<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(event_id): Path<String>,
    JsonBody(body): JsonBody<DiscardBody>,
) -> OpsResult<Json<Discard>> {
    let coded = caller.write(Permission::ParkedEventDiscard)?;
    let words = billing_domain::text::bounded(&body.reason, 1, 500)
        .map_err(|e| billing_domain::Error::from(e.under("reason")))?;
    let reason = match coded {
        Some(r) => format!("{}: {words}", r.code.as_str()),
        None => words,
    };
    let discard = Discard { event_id, by: caller.name(), reason, at: Utc::now() };
    state.store.discard_parked(&discard).await?;
    tracing::warn!(event_id = %discard.event_id, by = %discard.by, reason = %discard.reason, "parked event discarded");
    Ok(Json(discard))
}
