//! Members of an account. Everyone on the account can list them; only admins invite, change roles
//! or remove, and never the last active admin.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use billing_domain::error::Errors;
use billing_domain::{AuditAction, AuditEntry, Email, Member, Role};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::access::{AccountAccess, AccountScope, can};
use crate::error::{ApiError, ApiResult};
use crate::error::{ReadErrors, WriteErrors};
use crate::extract::{JsonBody, member_id};
use crate::routes::views::MemberView;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct MembersView {
    members: Vec<MemberView>,
}

/// `GET /v1/accounts/{account_id}/members`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/members",
    operation_id = "members_list",
    tag = "members",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = MembersView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, scope: AccountScope<can::Read>) -> ApiResult<Json<MembersView>> {
    let (_, members) = scope.read(&state, async |id| state.store.members(id).await).await?;
    let members = members.into_iter().map(MemberView::from).collect();
    Ok(Json(MembersView { members }))
}

/// `GET /v1/accounts/{account_id}/members/{member_id}`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/members/{member_id}",
    operation_id = "members_get",
    tag = "members",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("member_id" = String, Path, description = "The member (`mem_…`)"),
    ),
    responses(
        (status = 200, body = MemberView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    scope: AccountScope<can::Read>,
    Path((_, member)): Path<(String, String)>,
) -> ApiResult<Json<MemberView>> {
    let (_, m) = scope
        .read(&state, async |id| {
            let member = member_id(&member)?;
            state.store.member(id, &member).await.map_err(ApiError::from)
        })
        .await?;
    let m = m.ok_or(ApiError::NotFound)?;
    Ok(Json(m.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    #[schema(format = Email, max_length = 254)]
    email: String,
    role: Role,
}

/// `POST /v1/accounts/{account_id}/members`: invites `email` with `role`. The invitee becomes
/// active on their first call with that verified e-mail address.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/members",
    operation_id = "members_invite",
    tag = "members",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = InviteBody,
    responses(
        (status = 201, body = MemberView),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn invite(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageMembers>,
    JsonBody(body): JsonBody<InviteBody>,
) -> ApiResult<impl IntoResponse> {
    let mut errs = Errors::default();
    let email = errs.take("email", body.email.parse::<Email>());
    errs.finish()?;
    let email = email.ok_or(ApiError::InvalidBody(billing_domain::FieldError::new("email", "is required")))?;
    let now = Utc::now();
    let member = Member::invite(id.clone(), email, body.role, caller.user_id.clone(), now);
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::MemberInvited,
        Some(member.id.to_string()),
        None::<&Member>,
        Some(&member),
        now,
    );
    state.store.add_member(&member, &audit).await?;
    tracing::info!(account_id = %id, member_id = %member.id, "member invited");
    Ok((StatusCode::CREATED, Json(MemberView::from(member))))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: Role,
}

/// `PATCH /v1/accounts/{account_id}/members/{member_id}`: changes the member's role.
#[utoipa::path(
    patch,
    path = "/v1/accounts/{account_id}/members/{member_id}",
    operation_id = "members_change_role",
    tag = "members",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("member_id" = String, Path, description = "The member (`mem_…`)"),
    ),
    request_body = RoleBody,
    responses(
        (status = 200, body = MemberView),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn change_role(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageMembers>,
    Path((_, member)): Path<(String, String)>,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult<Json<MemberView>> {
    let member = member_id(&member)?;
    let before = state.store.member(&id, &member).await?.ok_or(ApiError::NotFound)?;
    if before.role == body.role {
        return Ok(Json(before.into()));
    }
    let after = before.with_role(body.role);
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::MemberRoleChanged,
        Some(member.to_string()),
        Some(&before.role),
        Some(&after.role),
        Utc::now(),
    );
    state.store.update_member(&before, &after, &audit).await?;
    Ok(Json(after.into()))
}

/// `DELETE /v1/accounts/{account_id}/members/{member_id}`: removes a member or withdraws an
/// invitation.
#[utoipa::path(
    delete,
    path = "/v1/accounts/{account_id}/members/{member_id}",
    operation_id = "members_remove",
    tag = "members",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("member_id" = String, Path, description = "The member (`mem_…`)"),
    ),
    responses(
        (status = 204, description = "Removed"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageMembers>,
    Path((_, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let member = member_id(&member)?;
    let before = state.store.member(&id, &member).await?.ok_or(ApiError::NotFound)?;
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::MemberRemoved,
        Some(member.to_string()),
        Some(&before),
        None::<&Member>,
        Utc::now(),
    );
    state.store.remove_member(&before, &audit).await?;
    tracing::info!(account_id = %id, member_id = %member, "member removed");
    Ok(StatusCode::NO_CONTENT)
}
