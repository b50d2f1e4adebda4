//! The account's seats and who holds them. Admins assign a seat to a person by e-mail and take
//! it back; there are only as many seats as are paid for, so assigning beyond them is refused.
//! Seats themselves are made and removed by the seat provisioner.

use axum::Json;
use axum::extract::{Path, State};
use billing_domain::retry::Retry;
use billing_domain::seats::{Seat, SeatChange, SeatStatus};
use billing_domain::{AccountId, AuditAction, AuditEntry, Email, Error, SeatId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::{AccountAccess, AccountScope, can};
use crate::error::{ApiError, ApiResult, ReadErrors, WriteErrors};
use crate::extract::{Caller, JsonBody};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatView {
    pub id: String,
    pub status: SeatStatus,
    pub assignee: Option<Email>,
    pub assigned_at: Option<DateTime<Utc>>,
}

impl From<&Seat> for SeatView {
    fn from(s: &Seat) -> Self {
        Self { id: s.id.to_string(), status: s.status, assignee: s.assignee.clone(), assigned_at: s.assigned_at }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatsView {
    pub seats: Vec<SeatView>,
    /// Usable seats (assigned or free): what is paid for.
    pub active: usize,
    pub unassigned: usize,
    /// Assigned beyond what is paid for: unassign someone or buy more seats.
    pub pending_removal: usize,
    pub suspended: usize,
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/seats",
    operation_id = "seats_list",
    tag = "seats",
    params(("account_id" = String, Path, description = "The account (`acct_…`)")),
    responses((status = 200, body = SeatsView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, scope: AccountScope<can::Read>) -> ApiResult<Json<SeatsView>> {
    let (_, mut book) = scope.read(&state, async |id| state.store.seat_book(id).await).await?;
    book.seats
        .sort_by(|a, b| (a.assignee.is_none(), a.created_at, &a.id).cmp(&(b.assignee.is_none(), b.created_at, &b.id)));
    Ok(Json(SeatsView {
        active: book.active(),
        unassigned: book.count(SeatStatus::Unassigned),
        pending_removal: book.count(SeatStatus::PendingRemoval),
        suspended: book.count(SeatStatus::Suspended),
        seats: book.seats.iter().map(SeatView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    #[schema(format = Email, max_length = 254)]
    email: String,
}

/// Applies `decide` to the current seats, conditional on their version; re-reads on a race.
async fn change(
    state: &AppState,
    caller: &Caller,
    id: &AccountId,
    seat: &SeatId,
    action: AuditAction,
    decide: impl Fn(&[Seat], &Seat) -> ApiResult<SeatChange>,
) -> ApiResult<Option<Seat>> {
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        let book = state.store.seat_book(id).await?;
        let current = book.seats.iter().find(|s| &s.id == seat).ok_or(ApiError::NotFound)?;
        let change = decide(&book.seats, current)?;
        let after = match &change {
            SeatChange::Update(s) | SeatChange::Create(s) => Some(s.clone()),
            SeatChange::Delete(_) => None,
        };
        let audit = AuditEntry::record(
            id,
            &caller.actor(),
            action,
            Some(seat.to_string()),
            Some(&SeatView::from(current)),
            after.as_ref().map(SeatView::from).as_ref(),
            Utc::now(),
        );
        match state.store.change_seats(id, book.version, &[change], None, Some(&audit)).await {
            Ok(()) => return Ok(after),
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict.into())
}

fn seat_id(raw: &str) -> ApiResult<SeatId> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// `POST /v1/accounts/{account_id}/seats/{seat_id}/assign`: gives a free seat to `email`.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/seats/{seat_id}/assign",
    operation_id = "seats_assign",
    tag = "seats",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("seat_id" = String, Path, description = "The seat (`seat_…`)"),
    ),
    request_body = AssignBody,
    responses((status = 200, body = SeatView), WriteErrors),
    security(("bearer" = []))
)]
pub async fn assign(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageMembers>,
    Path((_, seat)): Path<(String, String)>,
    JsonBody(body): JsonBody<AssignBody>,
) -> ApiResult<Json<SeatView>> {
    let seat = seat_id(&seat)?;
    let email: Email = body.email.parse().map_err(|e| Error::Invalid(vec![e]))?;
    let after = change(&state, &caller, &id, &seat, AuditAction::SeatAssigned, |all, current| {
        if all.iter().any(|s| s.assignee.as_ref() == Some(&email)) {
            return Err(ApiError::SeatAlreadyAssigned(email.to_string()));
        }
        if current.status != SeatStatus::Unassigned {
            return Err(ApiError::SeatNotFree);
        }
        let now = Utc::now();
        Ok(SeatChange::Update(Seat {
            status: SeatStatus::Assigned,
            assignee: Some(email.clone()),
            assigned_at: Some(now),
            updated_at: now,
            ..current.clone()
        }))
    })
    .await?;
    let after = after.ok_or_else(|| Error::Corrupt("an assignment removed its seat".into()))?;
    Ok(Json(SeatView::from(&after)))
}

/// `POST /v1/accounts/{account_id}/seats/{seat_id}/unassign`: frees the seat; a seat beyond what
/// is paid for (`pending_removal`) goes away.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/seats/{seat_id}/unassign",
    operation_id = "seats_unassign",
    tag = "seats",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("seat_id" = String, Path, description = "The seat (`seat_…`)"),
    ),
    responses((status = 200, body = SeatView, description = "The freed seat"), (status = 204, description = "The seat was beyond what is paid for and is gone"), WriteErrors),
    security(("bearer" = []))
)]
pub async fn unassign(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageMembers>,
    Path((_, seat)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let seat = seat_id(&seat)?;
    let after = change(&state, &caller, &id, &seat, AuditAction::SeatUnassigned, |_, current| {
        let now = Utc::now();
        Ok(match current.status {
            SeatStatus::Unassigned => return Err(ApiError::SeatNotAssigned),
            SeatStatus::PendingRemoval => SeatChange::Delete(current.id.clone()),
            SeatStatus::Assigned => SeatChange::Update(Seat {
                status: SeatStatus::Unassigned,
                assignee: None,
                assigned_at: None,
                updated_at: now,
                ..current.clone()
            }),
            SeatStatus::Suspended => {
                if current.assignee.is_none() {
                    return Err(ApiError::SeatNotAssigned);
                }
                SeatChange::Update(Seat { assignee: None, assigned_at: None, updated_at: now, ..current.clone() })
            }
        })
    })
    .await?;
    Ok(match after {
        Some(s) => Json(SeatView::from(&s)).into_response(),
        None => axum::http::StatusCode::NO_CONTENT.into_response(),
    })
}
