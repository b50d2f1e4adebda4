//! Stripe webhook intake: `POST /webhooks/stripe`.
//!
//! 1. [`verify`]: the signature on the raw body, against every configured signing secret.
//! 2. [`decide`]: what the event asks for, as a domain change (pure).
//! 3. [`apply`]: the change and the event's ledger entry in one transaction, so a redelivered
//!    event changes nothing, and a change older than the stored state is recorded as stale.
//!
//! Answers: 200 once the event is recorded (applied, duplicate, stale or ignored), 400 when the
//! delivery is not a genuine Stripe event (nothing written), 503 when the store failed (Stripe
//! retries, and the retry completes the work).

pub mod apply;
pub mod decide;
pub mod recover;
pub mod stripe_api;
pub mod verify;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use billing_aws::config::SecretString;
use billing_domain::ports::ProcessorEvents;
use serde_json::json;

pub use apply::Applied;

/// What the function needs: the store, the signing secrets and the timestamp tolerance.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ProcessorEvents>,
    /// Never printed (`Debug` says `[REDACTED]`), zeroed when dropped.
    pub secrets: Arc<Vec<SecretString>>,
    pub tolerance_secs: i64,
    /// Re-reads objects whose events cannot be ordered; `None` records such events as stale.
    pub stripe: Option<Arc<dyn stripe_api::StripeObjects>>,
    /// Records card payments of contract bills (Checkout sessions that paid them).
    pub ledger: Option<Arc<dyn billing_domain::ports::ContractAdmin>>,
}

impl AppState {
    pub fn new(store: impl ProcessorEvents + 'static, secrets: Vec<String>) -> Self {
        Self {
            store: Arc::new(store),
            secrets: Arc::new(secrets.into_iter().map(SecretString::from).collect()),
            tolerance_secs: verify::DEFAULT_TOLERANCE_SECS,
            stripe: None,
            ledger: None,
        }
    }

    pub fn with_ledger(mut self, ledger: impl billing_domain::ports::ContractAdmin + 'static) -> Self {
        self.ledger = Some(Arc::new(ledger));
        self
    }

    pub fn with_stripe(mut self, api: impl stripe_api::StripeObjects + 'static) -> Self {
        self.stripe = Some(Arc::new(api));
        self
    }

    pub fn with_tolerance(mut self, secs: i64) -> Self {
        self.tolerance_secs = secs;
        self
    }
}

/// `STRIPE_WEBHOOK_TOLERANCE_SECS`: how far a signature's time may be from now (default 300).
pub fn tolerance_from_env() -> Result<i64, billing_aws::config::ConfigError> {
    match billing_aws::config::optional("STRIPE_WEBHOOK_TOLERANCE_SECS") {
        None => Ok(verify::DEFAULT_TOLERANCE_SECS),
        Some(raw) => raw.trim().parse::<i64>().ok().filter(|s| (1..=3600).contains(s)).ok_or(
            billing_aws::config::ConfigError::Invalid {
                name: "STRIPE_WEBHOOK_TOLERANCE_SECS",
                reason: "a whole number of seconds from 1 to 3600".into(),
            },
        ),
    }
}

/// Signing secrets from `STRIPE_WEBHOOK_SECRETS`: comma-separated `whsec_…` values (two while a
/// secret is being rotated).
pub fn secrets_from(raw: &str) -> Vec<String> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The crate's one error type, and the one place it becomes HTTP.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Rejected(#[from] verify::Rejection),
    #[error(transparent)]
    Store(#[from] billing_domain::Error),
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            WebhookError::Rejected(r) => (StatusCode::BAD_REQUEST, r.code()),
            WebhookError::Store(billing_domain::Error::Unavailable(_) | billing_domain::Error::Conflict) => {
                tracing::warn!(error = %self, "event not applied; Stripe will retry");
                (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
            }
            WebhookError::Store(_) => {
                tracing::error!(error = %self, "event not applied");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        billing_http::error_response(status, code, &self, billing_http::Extra::default())
    }
}

pub fn router(state: AppState) -> Router {
    Router::new().route("/webhooks/stripe", post(receive)).with_state(state)
}

async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, WebhookError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now();
    let verified = verify::verify(&state.secrets, &body, signature, now.timestamp(), state.tolerance_secs)
        .inspect_err(|r| {
            tracing::warn!(reason = r.code(), "webhook delivery rejected");
        })?;
    // `verify` accepted only UTF-8.
    let payload = std::str::from_utf8(&body).unwrap_or_default();
    let applied =
        apply::apply(state.store.as_ref(), state.stripe.as_deref(), state.ledger.as_deref(), verified, payload, now)
            .await?;
    Ok((StatusCode::OK, axum::Json(json!({"received": true, "result": applied}))).into_response())
}
