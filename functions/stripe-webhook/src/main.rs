//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::config::ExposeSecret;
use billing_aws::{DynamoStore, config, telemetry};
use stripe_webhook::stripe_api::{OnFirstUse, StripeApi};
use stripe_webhook::{AppState, secrets_from, tolerance_from_env};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err("stripe-webhook runs inside AWS Lambda; locally, run `make dev`".into());
    }
    let table = config::required("TABLE_NAME")?;
    let tolerance = tolerance_from_env()?;
    let aws = config::load_aws().await;
    // The signing secrets (comma-separated, two during a rotation) from Secrets Manager now; the
    // restricted API key the function re-reads objects with only when an event first needs
    // Stripe (most never do), and the client with it.
    let signing = config::secret_string(&aws, &config::required("STRIPE_WEBHOOK_SECRETS_ARN")?).await?;
    let secrets = secrets_from(signing.expose_secret());
    if secrets.is_empty() {
        return Err("the webhook signing secret holds no whsec_ value".into());
    }
    let api_key_arn = config::required("STRIPE_API_KEY_ARN")?;
    let key_from = aws.clone();
    let stripe = OnFirstUse::new(Box::new(move || {
        let (aws, arn) = (key_from.clone(), api_key_arn.clone());
        Box::pin(async move {
            let key = config::secret_string(&aws, &arn)
                .await
                .map_err(|e| billing_domain::Error::Unavailable(format!("the Stripe API key: {e}").into()))?;
            StripeApi::new(key.expose_secret().trim(), None)
        })
    }));
    let store = DynamoStore::from_config(&aws, table);
    let state = AppState::new(store.clone(), secrets).with_tolerance(tolerance).with_stripe(stripe).with_ledger(store);
    lambda_http::run(stripe_webhook::router(state)).await
}
