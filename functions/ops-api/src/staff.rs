//! The back office's own routes: who the staff member is, the four-eyes queue, and an account's
//! audit trail.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use billing_domain::audit::{AuditAction, AuditEntry};
use billing_domain::ports::AuditPage;
use billing_domain::staff::{Approval, ApprovalStatus, Permission, Refusal, StaffMember};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller, Principal, account_id};
use crate::ledger::{CreditNoteResponse, NewCreditNote, issue_credit_note, requester_id};
use crate::{OpsError, OpsResult, OpsState, OpsStore};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub member: StaffMember,
    /// What the roles allow, `resource:action`.
    pub permissions: Vec<Permission>,
    /// Credit notes above this (major units of the bill's currency) wait for approval; null:
    /// none do.
    pub credit_note_approval_limit: Option<rust_decimal::Decimal>,
}

/// `GET /v1/staff/me`: the signed-in staff member, their roles and permissions.
#[utoipa::path(get, path = "/v1/staff/me", operation_id = "staff_me", tag = "staff",
    responses((status = 200, body = Me), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)")),
    security(("staff" = [])))]
pub async fn me<S: OpsStore>(State(state): State<OpsState<S>>, caller: OpsCaller) -> OpsResult<Json<Me>> {
    let member = caller.staff().cloned().ok_or(OpsError::StaffOnly)?;
    Ok(Json(Me {
        permissions: member.permissions(),
        member,
        credit_note_approval_limit: state.approvals.credit_note_limit,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    /// `pending` (the default), `approved`, `rejected` or `all`.
    pub status: Option<String>,
}

/// `GET …/approvals?status=`: the four-eyes queue, newest first.
#[utoipa::path(get, path = "/v1/staff/approvals", operation_id = "staff_approvals", tag = "staff",
    params(("status" = Option<String>, Query, description = "`pending` (the default), `approved`, `rejected` or `all`")),
    responses((status = 200, body = Vec<Approval>), (status = 400, body = crate::openapi::ErrorBody, description = "`invalid_parameter`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn approvals<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    query: Result<Query<ApprovalQuery>, axum::extract::rejection::QueryRejection>,
) -> OpsResult<Json<Vec<Approval>>> {
    caller.require(Permission::AccountRead)?;
    let Query(q) = query.map_err(|e| OpsError::InvalidParameter(e.body_text()))?;
    let wanted = match q.status.as_deref().unwrap_or("pending") {
        "pending" => Some(ApprovalStatus::Pending),
        "approved" => Some(ApprovalStatus::Approved),
        "rejected" => Some(ApprovalStatus::Rejected),
        "all" => None,
        other => {
            return Err(OpsError::InvalidParameter(format!(
                "status must be pending, approved, rejected or all; got {other:?}"
            )));
        }
    };
    let all = state.store.approvals().await?;
    Ok(Json(all.into_iter().filter(|a| wanted.is_none_or(|w| a.status == w)).collect()))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The approver's words (required to reject).
    #[serde(default)]
    pub note: Option<String>,
}

/// The decider as four-eyes sees them.
pub(crate) fn decider(caller: &OpsCaller) -> StaffMember {
    match &caller.principal {
        Principal::Staff(m) => m.clone(),
        Principal::Iam { .. } => StaffMember { id: requester_id(caller), email: caller.name(), roles: vec![] },
    }
}

fn refused(r: Refusal) -> OpsError {
    match r {
        Refusal::OwnRequest => OpsError::OwnRequest,
        Refusal::Decided(ApprovalStatus::Approved) => OpsError::AlreadyDecided("approved"),
        Refusal::Decided(_) => OpsError::AlreadyDecided("rejected"),
    }
}

fn note(body: &DecisionBody) -> OpsResult<Option<String>> {
    match body.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) => Ok(Some(
            billing_domain::text::bounded(n, 1, 500).map_err(|e| billing_domain::Error::from(e.under("note")))?,
        )),
    }
}

/// Records `after` (decided from `before`); a decision someone else made first is `already_decided`.
async fn decide<S: OpsStore>(
    state: &OpsState<S>,
    caller: &OpsCaller,
    after: &Approval,
    action: AuditAction,
) -> OpsResult<()> {
    // Why: the reason headers when given, else the decider's note (the queue's own words).
    let why = caller.given_reason().cloned().or_else(|| {
        after
            .decision_note
            .as_ref()
            .map(|n| billing_domain::staff::Reason { code: billing_domain::staff::ReasonCode::Other, text: n.clone() })
    });
    let audit = AuditEntry::record(
        &after.account_id,
        &caller.actor(),
        action,
        Some(after.invoice_id.clone()),
        None::<&()>,
        Some(after),
        Utc::now(),
    )
    .because(why.as_ref());
    match state.store.decide_approval(after, &audit).await {
        Ok(()) => Ok(()),
        Err(billing_domain::Error::Conflict) => {
            let now = state.store.approval(&after.id).await?.ok_or(OpsError::NotFound)?;
            Err(refused(Refusal::Decided(now.status)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST …/approvals/{id}/approve`: a second person approves a credit-note request; it is issued
/// at once (as requested, by the requester, approved by this person). Approving again, or after
/// a crash between the decision and the credit note, issues it once. A bill paid in full while
/// the request waited takes the credit note as account credit (the next bill uses it).
#[utoipa::path(post, path = "/v1/staff/approvals/{approval_id}/approve", operation_id = "staff_approve", tag = "staff",
    params(("approval_id" = String, Path)),
    request_body(content = Option<DecisionBody>),
    responses((status = 201, body = CreditNoteResponse, description = "approved and issued (again: the same credit note)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "rejected before (`already_decided`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn approve<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
    billing_http::OptionalJson(body): billing_http::OptionalJson<DecisionBody>,
) -> OpsResult<(StatusCode, Json<CreditNoteResponse>)> {
    caller.require(Permission::CreditNoteApprove)?;
    let before = state.store.approval(&id).await?.ok_or(OpsError::NotFound)?;
    let approved = match before.status {
        // Decided approved before: finish issuing it (the decision is the authority).
        ApprovalStatus::Approved => before,
        _ => {
            let after = before.decide(&decider(&caller), true, note(&body)?, Utc::now()).map_err(refused)?;
            decide(&state, &caller, &after, AuditAction::CreditNoteApproved).await?;
            after
        }
    };
    let new = NewCreditNote {
        id: approved.credit_note_id(),
        account: approved.account_id.clone(),
        invoice_id: approved.invoice_id.clone(),
        amount: approved.amount,
        words: approved.description.clone(),
        created_by: format!(
            "{} (approved by {})",
            approved.requested_by_email,
            approved.decided_by.as_deref().unwrap_or_default()
        ),
        reason: Some(approved.reason.clone()),
        may_exist: true,
        write_off: approved.kind == billing_domain::staff::ApprovalKind::WriteOff,
    };
    let issued = issue_credit_note(&*state.store, &new, &caller.actor()).await?;
    tracing::info!(approval = %approved.id, credit_note = %issued.credit_note.id, by = %caller.name(), "credit note approved");
    Ok((StatusCode::CREATED, Json(issued)))
}

/// `POST …/approvals/{id}/reject` `{"note"}`: declines a request, with the approver's words.
#[utoipa::path(post, path = "/v1/staff/approvals/{approval_id}/reject", operation_id = "staff_reject", tag = "staff",
    params(("approval_id" = String, Path)),
    request_body = DecisionBody,
    responses((status = 200, body = Approval), (status = 409, body = crate::openapi::ErrorBody, description = "decided before (`already_decided`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "no `note` (`validation_failed`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn reject<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DecisionBody>,
) -> OpsResult<Json<Approval>> {
    caller.require(Permission::CreditNoteApprove)?;
    let words =
        note(&body)?.ok_or_else(|| billing_domain::Error::invalid("note", "say why the request is rejected"))?;
    let before = state.store.approval(&id).await?.ok_or(OpsError::NotFound)?;
    let after = before.decide(&decider(&caller), false, Some(words), Utc::now()).map_err(refused)?;
    decide(&state, &caller, &after, AuditAction::CreditNoteRejected).await?;
    Ok(Json(after))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub limit: Option<u16>,
    pub before: Option<String>,
}

/// `GET …/accounts/{id}/audit?limit=&before=`: the account's audit trail, newest first: who,
/// when, what and why (customers' changes and staff's alike).
#[utoipa::path(get, path = "/v1/staff/accounts/{account_id}/audit", operation_id = "staff_audit", tag = "staff",
    params(("account_id" = String, Path), ("limit" = Option<u16>, Query, description = "1 to 100, default 50"), ("before" = Option<String>, Query, description = "the `next` of the page before")),
    responses((status = 200, body = AuditView), (status = 400, body = crate::openapi::ErrorBody, description = "`invalid_parameter`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn audit<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(raw): Path<String>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> OpsResult<Json<AuditView>> {
    caller.require(Permission::AccountRead)?;
    let id = account_id(&raw)?;
    trail(&state, &id, query).await
}

/// `GET …/audit?limit=&before=`: the seller's own audit trail, newest first: prices, cohorts,
/// taxes, the reminder schedule, parked events discarded and bill-run steps, with who and why.
#[utoipa::path(get, path = "/v1/staff/audit", operation_id = "staff_seller_audit", tag = "staff",
    params(("limit" = Option<u16>, Query, description = "1 to 100, default 50"), ("before" = Option<String>, Query, description = "the `next` of the page before")),
    responses((status = 200, body = AuditView), (status = 400, body = crate::openapi::ErrorBody, description = "`invalid_parameter`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn seller_audit<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> OpsResult<Json<AuditView>> {
    caller.require(Permission::AccountRead)?;
    trail(&state, &billing_domain::audit::seller_trail(), query).await
}

async fn trail<S: OpsStore>(
    state: &OpsState<S>,
    id: &billing_domain::AccountId,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> OpsResult<Json<AuditView>> {
    let Query(q) = query.map_err(|e| OpsError::InvalidParameter(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(OpsError::InvalidParameter("limit must be 1 to 100".into()));
    }
    let before = match q.before.as_deref() {
        None => None,
        Some(b) => Some(b.parse().map_err(|_| OpsError::InvalidParameter("before is not an audit entry id".into()))?),
    };
    let AuditPage { entries, next } = state.store.audit(id, limit, before.as_ref()).await?;
    Ok(Json(AuditView { entries, next: next.map(|n| n.to_string()) }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub entries: Vec<AuditEntry>,
    /// `before` for the next (older) page; null on the last.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub limit: Option<u16>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub accounts: Vec<billing_domain::ports::AccountHit>,
}

/// `GET …/accounts?q=&limit=`: accounts by id, by one of their invoice numbers, or by the start of
/// their name (two letters at least; case and punctuation aside). An index, not a scan.
#[utoipa::path(get, path = "/v1/staff/accounts", operation_id = "staff_search", tag = "staff",
    params(("q" = String, Query, description = "An account id, an invoice number, or the start of a name"),
        ("limit" = Option<u16>, Query, description = "1 to 50, default 20")),
    responses((status = 200, body = SearchResult), (status = 400, body = crate::openapi::ErrorBody, description = "no `q` (`invalid_parameter`)"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn search<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> OpsResult<Json<SearchResult>> {
    caller.require(Permission::AccountRead)?;
    let Query(q) = query.map_err(|e| OpsError::InvalidParameter(e.body_text()))?;
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
        OpsError::InvalidParameter("q is required: an account id, an invoice number or the start of a name".into())
    })?;
    if text.chars().count() > 200 {
        return Err(OpsError::InvalidParameter("q must be at most 200 characters".into()));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(OpsError::InvalidParameter("limit must be 1 to 50".into()));
    }
    Ok(Json(SearchResult { accounts: state.store.search_accounts(text, limit).await? }))
}
