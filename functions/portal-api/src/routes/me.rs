//! `GET /v1/me`: who the caller is and which accounts they belong to.

use axum::Json;
use axum::extract::State;
use billing_domain::{Email, Error, MemberStatus, Role};
use serde::Serialize;

use crate::access;
use crate::error::ApiResult;
use crate::error::ReadErrors;
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeView {
    user: UserView,
    memberships: Vec<MembershipView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct UserView {
    id: String,
    email: Option<Email>,
    email_verified: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MembershipView {
    account_id: String,
    member_id: String,
    role: Role,
}

#[utoipa::path(
    get,
    path = "/v1/me",
    operation_id = "me",
    tag = "members",
    responses(
        (status = 200, body = MeView, description = "The caller and their memberships"),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MeView>> {
    // First call with a verified e-mail: accept every invitation waiting for it.
    let mut accepted = Vec::new();
    if let Some(email) = caller.verified_email() {
        for invite in state.store.invitations_for(email).await? {
            match access::accept(&state, &caller, &invite).await {
                Ok(member) => accepted.push(member),
                // Accepted meanwhile, or the user is already a member under another address.
                Err(Error::Conflict | Error::AlreadyMember) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    // The index behind `memberships_of` is eventually consistent: memberships accepted just now
    // may not be in it yet, so they are added from what this request wrote.
    let mut members = state.store.memberships_of(&caller.user_id).await?;
    for m in accepted {
        if !members.iter().any(|known| known.id == m.id) {
            members.push(m);
        }
    }
    let mut memberships: Vec<MembershipView> = members
        .into_iter()
        .filter(|m| m.status == MemberStatus::Active)
        .map(|m| MembershipView { account_id: m.account_id.to_string(), member_id: m.id.to_string(), role: m.role })
        .collect();
    memberships.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    Ok(Json(MeView {
        user: UserView {
            id: caller.user_id.to_string(),
            email: caller.email.clone(),
            email_verified: caller.email_verified,
        },
        memberships,
    }))
}
