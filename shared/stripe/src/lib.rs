//! What every function's Stripe adapter shares: building async-stripe's client (pinned to Stripe
//! API version 2026-09-30.endive, rustls), Stripe's errors in the domain's terms, and idempotency
//! keys, Stripe's values in the domain's terms, and the metadata contract between the portal that
//! writes it and the webhook that reads it ([`metadata`]). Each function keeps its own narrow trait of
//! the calls it makes.

use billing_domain::{Error, Result};

pub mod metadata;

pub use stripe::{Client, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};

/// How long one attempt of a Stripe call may take before it fails as `Unavailable`: a third of
/// the functions' 10 s timeout, so a call Stripe does not answer (a lost connection, an outage)
/// fails the request with an answer that makes its caller retry, not with the function's timeout.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A client for `secret_key`, against Stripe itself or `base_url` (the fake Stripe server), each
/// attempt bounded by [`ATTEMPT_TIMEOUT`].
pub fn client(secret_key: &str, base_url: Option<&str>) -> Result<Client> {
    client_with_timeout(secret_key, base_url, ATTEMPT_TIMEOUT)
}

/// [`client`] with another bound on each attempt (tests that make the fake hold its answers).
pub fn client_with_timeout(secret_key: &str, base_url: Option<&str>, timeout: std::time::Duration) -> Result<Client> {
    let mut builder = stripe::ClientBuilder::new(secret_key).timeout(timeout);
    if let Some(url) = base_url {
        builder = builder.url(url);
    }
    builder.build().map_err(|e| Error::Corrupt(format!("Stripe client: {e}")))
}

/// Stripe's errors in the domain's terms: 404 is `NotFound`; a refused parameter is `Invalid`
/// with Stripe's message; a reused idempotency key is `Conflict`; anything else (network, 429,
/// 5xx, auth) is `Unavailable`, which callers turn into a retry.
pub fn classify(e: StripeError) -> Error {
    match &e {
        StripeError::Stripe(api, 404) => {
            tracing::warn!(error = ?api, "Stripe has no such object");
            Error::NotFound
        }
        StripeError::Stripe(api, 400 | 409) if api.type_ == stripe::ApiErrorsType::IdempotencyError => {
            tracing::warn!(error = ?api, "Stripe idempotency key reused with other parameters");
            Error::Conflict
        }
        StripeError::Stripe(api, 400) if api.param.is_some() => {
            tracing::warn!(error = ?api, "Stripe refused a parameter");
            Error::invalid(api.param.clone().unwrap_or_default(), api.message.clone().unwrap_or_default())
        }
        _ => {
            tracing::warn!(error = %e, "Stripe call failed");
            Error::Unavailable(Box::new(e))
        }
    }
}

/// The request strategy that sends `key` as Stripe's `Idempotency-Key`.
pub fn idempotent(key: &str) -> Result<RequestStrategy> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| Error::Corrupt(format!("idempotency key {key:?}: {e}")))
}

/// A Stripe currency as the domain's (with its ISO 4217 exponent), if this system knows it.
pub fn currency(c: &stripe_types::Currency) -> Option<billing_domain::Currency> {
    c.to_string().parse().ok()
}

/// A Stripe timestamp (epoch seconds) as a time.
pub fn time(epoch_secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(epoch_secs, 0).unwrap_or(chrono::DateTime::UNIX_EPOCH)
}

/// A recurring price's interval, if monthly or annual.
pub fn interval(price: &stripe_shared::Price) -> Option<billing_domain::billing::PlanInterval> {
    use billing_domain::billing::PlanInterval;
    match price.recurring.as_ref().map(|r| &r.interval) {
        Some(stripe_shared::RecurringInterval::Month) => Some(PlanInterval::Monthly),
        Some(stripe_shared::RecurringInterval::Year) => Some(PlanInterval::Annual),
        _ => None,
    }
}

/// A subscription's status in the domain's terms, if this system knows it.
pub fn subscription_status(
    s: &stripe_shared::SubscriptionStatus,
) -> Option<billing_domain::billing::SubscriptionStatus> {
    use billing_domain::billing::SubscriptionStatus as D;
    use stripe_shared::SubscriptionStatus as S;
    Some(match s {
        S::Active => D::Active,
        S::Canceled => D::Canceled,
        S::Incomplete => D::Incomplete,
        S::IncompleteExpired => D::IncompleteExpired,
        S::PastDue => D::PastDue,
        S::Paused => D::Paused,
        S::Trialing => D::Trialing,
        S::Unpaid => D::Unpaid,
        _ => return None,
    })
}

/// A flat per-unit price in its currency (tiered prices have no single unit amount).
pub fn unit_amount(price: &stripe_shared::Price) -> Option<billing_domain::Money> {
    let currency = currency(&price.currency)?;
    price.unit_amount.map(|minor| billing_domain::Money::from_minor(minor, currency))
}
