//! The customer billing portal's HTTP API.
//!
//! One axum [`Router`] serves every route. In AWS it runs behind API Gateway (HTTP API, JWT
//! authorizer) through `lambda_http`; locally the dev stack feeds it the same API Gateway events.
//! Handlers read the caller from the authorizer's claims in the request context, so the path
//! through the handlers is the same in both.

pub mod access;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod processor;
pub mod routes;
pub mod state;
pub mod stripe_client;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};

pub use error::{ApiError, ApiResult};
pub use state::{AppState, PortalStore, RemitTo, Settings};

use routes::{accounts, audit, me, members, payments, seat_assignments, seats, statements, usage};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/me", get(me::me))
        .route("/v1/accounts", post(accounts::create))
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
        .route("/v1/accounts/{account_id}/statement", get(statements::statement))
        .route("/v1/accounts/{account_id}/statement/pdf", get(statements::statement_pdf))
        .route("/v1/accounts/{account_id}/invoices", get(statements::list))
        .route("/v1/accounts/{account_id}/invoices/upcoming", get(usage::upcoming))
        .route("/v1/accounts/{account_id}/invoices/{invoice_id}", get(statements::get))
        .route("/v1/accounts/{account_id}/invoices/{invoice_id}/pdf", get(statements::pdf))
        .route("/v1/accounts/{account_id}/usage", get(usage::usage))
        .route("/v1/accounts/{account_id}/billing-portal-session", post(statements::billing_portal))
        .route("/v1/accounts/{account_id}/payments", post(payments::pay))
        .route("/v1/accounts/{account_id}/payment-methods", get(payments::list_methods))
        .route("/v1/accounts/{account_id}/payment-methods/setup", post(payments::setup_method))
        .route("/v1/accounts/{account_id}/payment-methods/{payment_method_id}", delete(payments::remove_method))
        .route("/v1/accounts/{account_id}/payment-methods/{payment_method_id}/default", post(payments::set_default))
        .route("/v1/accounts/{account_id}/subscription", get(seats::get))
        .route("/v1/accounts/{account_id}/checkout/seats", post(seats::checkout))
        .route("/v1/accounts/{account_id}/subscription/seats/preview", post(seats::preview))
        .route("/v1/accounts/{account_id}/subscription/seats", put(seats::apply))
        .route("/v1/accounts/{account_id}/seats", get(seat_assignments::list))
        .route("/v1/accounts/{account_id}/seats/{seat_id}/assign", post(seat_assignments::assign))
        .route("/v1/accounts/{account_id}/seats/{seat_id}/unassign", post(seat_assignments::unassign))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}
