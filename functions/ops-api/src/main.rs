//! Lambda entry point: wiring only. Clients are built once per cold start.

use billing_aws::{DynamoStore, config, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err("ops-api runs inside AWS Lambda; locally, run `make dev`".into());
    }
    let table = config::required("TABLE_NAME")?;
    let settings = bill_run::Settings {
        invoice_prefix: config::optional("INVOICE_PREFIX").unwrap_or_else(|| "INV".into()),
        ..bill_run::Settings::default()
    };
    let aws = config::load_aws().await;
    let limit = match config::optional("CREDIT_NOTE_APPROVAL_LIMIT").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| format!("CREDIT_NOTE_APPROVAL_LIMIT must be a decimal amount (\"500\"), not {v:?}"))?,
        ),
    };
    let state = ops_api::OpsState::new(DynamoStore::from_config(&aws, table), settings)
        .with_approval_limit(limit)
        .with_lockbox(config::lockbox_from_env()?);
    lambda_http::run(ops_api::router(state)).await
}
