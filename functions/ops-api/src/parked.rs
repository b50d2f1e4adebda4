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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParkedView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_id: String,
    pub created: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
    pub waiting_secs: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParkedList {
    pub events: Vec<ParkedView>,
}

/// `GET /v1/ops/parked-events?older_than_secs=N&limit=L`: parked events created at least
/// `older_than_secs` ago (default 0: all), oldest first, at most `limit` (default and most 1,000).
#[utoipa::path(get, path = "/v1/staff/parked-events", operation_id = "staff_parked_events", tag = "parked events",
    params(("older_than_secs" = Option<i64>, Query, description = "only events created at least this long ago"), ("limit" = Option<u16>, Query, description = "at most this many (1,000)")),
    responses((status = 200, body = ParkedList), (status = 400, body = crate::openapi::ErrorBody, description = "`invalid_parameter`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscardBody {
    /// Why it will never be applied (1 to 500 characters).
    pub reason: String,
}

/// A discarded event: who, why, when (kept on its ledger entry).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiscardView {
    pub event_id: String,
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// `POST /v1/ops/parked-events/{event_id}/discard` `{"reason"}`: the event is never applied; its
/// ledger entry keeps who discarded it, when and why (and the log says it).
#[utoipa::path(post, path = "/v1/staff/parked-events/{event_id}/discard", operation_id = "staff_discard_parked", tag = "parked events",
    params(("event_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = DiscardBody,
    responses((status = 200, body = DiscardView), (status = 404, body = crate::openapi::ErrorBody, description = "no such parked event (`not_found`)"), (status = 422, body = crate::openapi::ErrorBody, description = "invalid fields (`validation_failed`), or no reason (`reason_required`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn discard<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(event_id): Path<String>,
    JsonBody(body): JsonBody<DiscardBody>,
) -> OpsResult<Json<DiscardView>> {
    let coded = caller.write(Permission::ParkedEventDiscard)?;
    let words = billing_domain::text::bounded(&body.reason, 1, 500)
        .map_err(|e| billing_domain::Error::from(e.under("reason")))?;
    let reason = match &coded {
        Some(r) => format!("{}: {words}", r.code.as_str()),
        None => words,
    };
    let discard = Discard { event_id, by: caller.name(), reason, at: Utc::now() };
    let audit = caller.seller_audit(
        billing_domain::AuditAction::ParkedEventDiscarded,
        Some(discard.event_id.clone()),
        None::<&()>,
        Some(&discard),
        coded.as_ref(),
    );
    state.store.discard_parked(&discard, &audit).await?;
    tracing::warn!(event_id = %discard.event_id, by = %discard.by, reason = %discard.reason, "parked event discarded");
    Ok(Json(DiscardView { event_id: discard.event_id, by: discard.by, reason: discard.reason, at: discard.at }))
}
