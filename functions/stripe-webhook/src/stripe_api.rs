//! The calls this function makes to Stripe, behind a trait: re-reading an object when an event's
//! payload cannot be ordered against the stored state. The adapter uses async-stripe's client;
//! tests and the local stack point it at a fake Stripe server.

use async_trait::async_trait;
use billing_domain::{Error, Result};

#[async_trait]
pub trait StripeObjects: Send + Sync {
    /// The subscription as Stripe holds it now. `Error::NotFound` if Stripe has no such object;
    /// `Error::Unavailable` for anything a retry can fix.
    async fn subscription(&self, id: &str) -> Result<stripe_shared::Subscription>;
}

/// async-stripe's client (API version 2026-09-30.endive), built once per process.
pub struct StripeApi {
    client: stripe::Client,
}

impl StripeApi {
    /// `base_url`: Stripe's own when `None`; the fake server's in tests and locally.
    pub fn new(secret_key: &str, base_url: Option<&str>) -> Result<Self> {
        let mut builder = stripe::ClientBuilder::new(secret_key);
        if let Some(url) = base_url {
            builder = builder.url(url);
        }
        Ok(Self { client: builder.build().map_err(|e| Error::Corrupt(format!("Stripe client: {e}")))? })
    }
}

fn classify(e: stripe::StripeError) -> Error {
    match &e {
        stripe::StripeError::Stripe(api, status) if *status == 404 => {
            tracing::warn!(error = ?api, "Stripe has no such object");
            Error::NotFound
        }
        _ => {
            tracing::warn!(error = %e, "Stripe call failed");
            Error::Unavailable(Box::new(e))
        }
    }
}

#[async_trait]
impl StripeObjects for StripeApi {
    async fn subscription(&self, id: &str) -> Result<stripe_shared::Subscription> {
        stripe_billing::subscription::RetrieveSubscription::new(id).send(&self.client).await.map_err(classify)
    }
}
