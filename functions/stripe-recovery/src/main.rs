//! Lambda entry point (EventBridge schedule): wiring only. The run is
//! `stripe_webhook::recover::recover`, then `stripe_webhook::apply::sweep_parked` over the parked
//! events; a failed run returns an error so the invocation counts as
//! failed (alarmed) and the watermark stays where it was.

use std::sync::Arc;

use billing_aws::config::ExposeSecret;
use billing_aws::{DynamoStore, config, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use stripe_webhook::stripe_api::StripeApi;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let aws = config::load_aws().await;
    let api_key = config::secret_string(&aws, &config::required("STRIPE_API_KEY_ARN")?).await?;
    let stripe = Arc::new(StripeApi::new(api_key.expose_secret().trim(), None)?);
    let store = Arc::new(DynamoStore::from_config(&aws, table));
    let alert_after = parked_alert_after()?;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let (store, stripe) = (store.clone(), stripe.clone());
        async move {
            let report = stripe_webhook::recover::recover(
                store.as_ref(),
                store.as_ref(),
                stripe.as_ref(),
                Some(store.as_ref()),
                chrono::Utc::now(),
            )
            .await?;
            // Parked events are the job's too: replay those whose customer is linked now.
            let parked = stripe_webhook::apply::sweep_parked(
                store.as_ref(),
                Some(stripe.as_ref()),
                Some(store.as_ref()),
                alert_after,
                chrono::Utc::now(),
            )
            .await?;
            Ok::<_, Error>(serde_json::json!({"recovery": report, "parked": parked}))
        }
    }))
    .await
}

/// `PARKED_EVENT_ALERT_HOURS` (default 24, 1 to 720): how long an event may wait parked before
/// the sweep logs it as waiting too long (the alarm's metric).
fn parked_alert_after() -> Result<chrono::Duration, config::ConfigError> {
    match config::optional("PARKED_EVENT_ALERT_HOURS") {
        None => Ok(chrono::Duration::hours(24)),
        Some(raw) => {
            raw.trim().parse::<i64>().ok().filter(|h| (1..=720).contains(h)).map(chrono::Duration::hours).ok_or(
                config::ConfigError::Invalid {
                    name: "PARKED_EVENT_ALERT_HOURS",
                    reason: "a whole number of hours from 1 to 720".into(),
                },
            )
        }
    }
}
