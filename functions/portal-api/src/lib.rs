//! The customer billing portal's HTTP API.
//!
//! One axum [`Router`] serves every route. In AWS it runs behind API Gateway (HTTP API, JWT
//! authorizer) through `lambda_http`; locally the dev stack feeds it the same API Gateway events.
//! Handlers read the caller from the authorizer's claims in the request context, so the path
//! through the handlers is the same in both.

pub mod access;
pub mod error;
pub mod extract;
pub mod routes;
pub mod state;

use axum::Router;
use axum::routing::{get, patch};

pub use error::{ApiError, ApiResult};
pub use state::{AppState, PortalStore, RemitTo, Settings};

use routes::{accounts, audit, me, members};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/me", get(me::me))
        .route("/v1/accounts", axum::routing::post(accounts::create))
        .route("/v1/accounts/{account_id}", get(accounts::get))
        .route("/v1/accounts/{account_id}/billing-contact", patch(accounts::patch_contact))
        .route("/v1/accounts/{account_id}/billing-address", patch(accounts::patch_address))
        .route("/v1/accounts/{account_id}/bill-recipients", get(accounts::get_recipients).put(accounts::put_recipients))
        .route("/v1/accounts/{account_id}/members", get(members::list).post(members::invite))
        .route(
            "/v1/accounts/{account_id}/members/{member_id}",
            get(members::get).patch(members::change_role).delete(members::remove),
        )
        .route("/v1/accounts/{account_id}/audit", get(audit::list))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}
