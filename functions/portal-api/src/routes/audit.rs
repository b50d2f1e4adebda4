//! `GET /v1/accounts/{account_id}/audit`: the account's audit trail, newest first, for admins.

use axum::Json;
use axum::extract::{Query, State};
use billing_domain::{AuditEntry, AuditId};
use serde::{Deserialize, Serialize};

use crate::access::{AccountScope, can};
use crate::error::AdminReadErrors;
use crate::error::{ApiError, ApiResult};
use crate::extract::{self};
use crate::state::AppState;

const DEFAULT_LIMIT: u16 = 50;
const MAX_LIMIT: u16 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditView {
    entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<AuditId>,
}

#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/audit",
    operation_id = "audit_list",
    tag = "accounts",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        AuditQuery,
    ),
    responses(
        (status = 200, body = AuditView),
        AdminReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    scope: AccountScope<can::ReadAudit>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AuditView>> {
    // Read while the membership is checked; a bad parameter is answered only to one who may read.
    let (_, page) = scope
        .read(&state, async |id| {
            let Query(q) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
            let limit = extract::limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
            let cursor = q
                .cursor
                .map(|c| c.parse::<AuditId>())
                .transpose()
                .map_err(|_| ApiError::InvalidParameter("cursor is not one this API returned".into()))?;
            state.store.audit(id, limit, cursor.as_ref()).await.map_err(ApiError::from)
        })
        .await?;
    Ok(Json(AuditView { entries: page.entries, next_cursor: page.next }))
}
