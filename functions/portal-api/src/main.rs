//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::config::ExposeSecret;
use billing_aws::{DynamoStore, S3Documents, config, telemetry};
use portal_api::stripe_client::StripeClient;
use portal_api::{AppState, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err("portal-api runs inside AWS Lambda; locally, run `make dev`".into());
    }
    let settings = Settings::from_env()?;
    let aws = config::load_aws().await;
    // A restricted key allowed to create Checkout and customer-portal sessions and to change
    // subscriptions, invoices, customers and payment methods; read once per cold start.
    let api_key = config::secret_string(&aws, &config::required("STRIPE_API_KEY_ARN")?).await?;
    let stripe = StripeClient::new(api_key.expose_secret().trim(), config::optional("STRIPE_API_BASE").as_deref())?;
    let store = DynamoStore::from_config(&aws, &settings.table_name);
    let documents = S3Documents::from_config(&aws, config::required("BILL_DOCUMENTS_BUCKET")?);
    lambda_http::run(portal_api::router(AppState::new(store, stripe, settings).with_documents(documents))).await
}
