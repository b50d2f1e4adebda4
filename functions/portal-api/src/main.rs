//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::{DynamoStore, config, telemetry};
use portal_api::{AppState, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err("portal-api runs inside AWS Lambda; locally, run `make dev`".into());
    }
    let settings = Settings::from_env()?;
    let aws = config::load_aws().await;
    let store = DynamoStore::from_config(&aws, &settings.table_name);
    lambda_http::run(portal_api::router(AppState::new(store, settings))).await
}
