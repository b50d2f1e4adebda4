//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::config::ExposeSecret;
use billing_aws::{DynamoStore, config, telemetry};
use stripe_webhook::stripe_api::StripeApi;
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
    // From Secrets Manager, read together: the signing secrets (comma-separated, two during a
    // rotation) and the restricted API key the function re-reads objects with.
    let (signing_arn, api_key_arn) =
        (config::required("STRIPE_WEBHOOK_SECRETS_ARN")?, config::required("STRIPE_API_KEY_ARN")?);
    let (signing, api_key) =
        tokio::try_join!(config::secret_string(&aws, &signing_arn), config::secret_string(&aws, &api_key_arn))?;
    let secrets = secrets_from(signing.expose_secret());
    if secrets.is_empty() {
        return Err("the webhook signing secret holds no whsec_ value".into());
    }
    let stripe = StripeApi::new(api_key.expose_secret().trim(), None)?;
    let store = DynamoStore::from_config(&aws, table);
    let state = AppState::new(store.clone(), secrets).with_tolerance(tolerance).with_stripe(stripe).with_ledger(store);
    lambda_http::run(stripe_webhook::router(state)).await
}
