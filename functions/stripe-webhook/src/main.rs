//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::{DynamoStore, config, telemetry};
use stripe_intake::{AppState, secrets_from, tolerance_from_env};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err("stripe-webhook runs inside AWS Lambda; locally, run `make dev`".into());
    }
    let table = config::required("TABLE_NAME")?;
    let tolerance = tolerance_from_env()?;
    let aws = config::load_aws().await;
    // The signing secrets (comma-separated, two during a rotation) live in Secrets Manager.
    let secrets = secrets_from(&config::secret_string(&aws, &config::required("STRIPE_WEBHOOK_SECRETS_ARN")?).await?);
    if secrets.is_empty() {
        return Err("the webhook signing secret holds no whsec_ value".into());
    }
    let store = DynamoStore::from_config(&aws, table);
    lambda_http::run(stripe_intake::router(AppState::new(store, secrets).with_tolerance(tolerance))).await
}
