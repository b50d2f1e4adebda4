//! Lambda entry point (EventBridge schedule): wiring only. The run is
//! `stripe_webhook::recover::recover`; a failed run returns an error so the invocation counts as
//! failed (alarmed) and the watermark stays where it was.

use std::sync::Arc;

use billing_aws::{DynamoStore, config, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use stripe_webhook::stripe_api::StripeApi;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let aws = config::load_aws().await;
    let api_key = config::secret_string(&aws, &config::required("STRIPE_API_KEY_ARN")?).await?;
    let stripe = Arc::new(StripeApi::new(api_key.trim(), None)?);
    let store = Arc::new(DynamoStore::from_config(&aws, table));
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
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
