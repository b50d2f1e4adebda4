//! Payment reminders of contract bills: the seller's schedule, and pausing them for an account.
//!
//! - `GET /v1/ops/settings/reminders`, `PUT` with `{"offsets_days": [-3, 1, 7, 14]}`: days
//!   relative to a bill's due date (negative: before it); `[]` sends none.
//! - `PUT /v1/ops/accounts/{account_id}/reminders` with `{"paused": true}`: no reminders for the
//!   account's bills until unpaused (then the latest step reached goes out; steps passed
//!   meanwhile are skipped).

use axum::Json;
use axum::extract::{Path, State};
use billing_domain::Error as DomainError;
use billing_domain::audit::{AuditAction, AuditEntry};
use billing_domain::receivables::ReminderSchedule;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller, account_id};
use crate::{OpsResult, OpsState, OpsStore, update_contract};
use billing_domain::staff::Permission;

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// Days relative to a bill's due date (negative: before it); `[]` sends none.
    pub offsets_days: Vec<i32>,
}

/// `GET /v1/ops/settings/reminders`: the schedule in force (the default until one is set).
#[utoipa::path(get, path = "/v1/staff/settings/reminders", operation_id = "staff_reminder_schedule", tag = "settings",
    responses((status = 200, body = ScheduleBody), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn get_schedule<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<ScheduleBody>> {
    caller.require(Permission::AccountRead)?;
    let schedule = state.store.reminder_schedule().await?;
    Ok(Json(ScheduleBody { offsets_days: schedule.offsets().to_vec() }))
}

/// `PUT /v1/ops/settings/reminders`: sets the schedule (sorted; a day given twice counts once).
#[utoipa::path(put, path = "/v1/staff/settings/reminders", operation_id = "staff_put_reminder_schedule", tag = "settings",
    params(("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = ScheduleBody,
    responses((status = 200, body = ScheduleBody), (status = 422, body = crate::openapi::ErrorBody, description = "invalid fields (`validation_failed`), or no reason (`reason_required`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn put_schedule<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> OpsResult<Json<ScheduleBody>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let schedule = ReminderSchedule::try_from(body.offsets_days).map_err(DomainError::from)?;
    let before = state.store.reminder_schedule().await?;
    let audit =
        caller.seller_audit(AuditAction::ReminderScheduleSaved, None, Some(&before), Some(&schedule), reason.as_ref());
    state.store.put_reminder_schedule(&schedule, Some(&audit)).await?;
    tracing::info!(by = %caller.name(), offsets = ?schedule.offsets(), "reminder schedule set");
    Ok(Json(ScheduleBody { offsets_days: schedule.offsets().to_vec() }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    pub paused: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PauseView {
    pub account_id: String,
    pub paused: bool,
}

/// `PUT /v1/ops/accounts/{account_id}/reminders`: pauses or resumes the account's reminders.
#[utoipa::path(put, path = "/v1/staff/accounts/{account_id}/reminders", operation_id = "staff_pause_reminders", tag = "staff",
    params(("account_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = PauseBody,
    responses((status = 200, body = PauseView), (status = 404, body = crate::openapi::ErrorBody, description = "no such account (`not_found`)"), (status = 409, body = crate::openapi::ErrorBody, description = "not billed by contract (`not_contract_billed`)"), (status = 422, body = crate::openapi::ErrorBody, description = "invalid fields (`validation_failed`), or no reason (`reason_required`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn pause<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody<PauseBody>,
) -> OpsResult<Json<PauseView>> {
    let reason = caller.write(Permission::RemindersPause)?;
    let id = account_id(&raw)?;
    let action = if body.paused { AuditAction::RemindersPaused } else { AuditAction::RemindersResumed };
    let after = update_contract(
        &*state.store,
        &id,
        |before| {
            (before.reminders_paused != body.paused).then(|| {
                let mut after = before.clone();
                after.reminders_paused = body.paused;
                after
            })
        },
        |before, after| {
            let paused = |c: &billing_domain::contract::ContractAccount| serde_json::json!({"reminders_paused": c.reminders_paused});
            AuditEntry::record(&id, &caller.actor(), action, None, Some(&paused(before)), Some(&paused(after)), Utc::now())
                .because(reason.as_ref())
        },
    )
    .await?;
    tracing::info!(account_id = %id, paused = after.reminders_paused, by = %caller.name(), reason = ?reason, "payment reminders set");
    Ok(Json(PauseView { account_id: id.to_string(), paused: after.reminders_paused }))
}
