//! Lambda entry point: wiring only. Clients are built once per cold start.

use aws_lambda_events::event::s3::S3Event;
use billing_aws::{DynamoStore, S3Documents, config, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lockbox_import::Importer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let bucket = config::required("LOCKBOX_BUCKET")?;
    let settings = bill_run::Settings {
        invoice_prefix: config::optional("INVOICE_PREFIX").unwrap_or_else(|| "INV".into()),
        ..bill_run::Settings::default()
    };
    let aws = config::load_aws().await;
    let state = ops_api::OpsState::new(DynamoStore::from_config(&aws, table), settings)
        .with_lockbox(config::lockbox_from_env()?);
    let importer = Importer::new(state, S3Documents::from_config(&aws, bucket));
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let importer = importer.clone();
        async move {
            let done = importer.handle(event.payload).await?;
            tracing::info!(files = done.len(), "lockbox event handled");
            Ok::<_, Error>(())
        }
    }))
    .await
}
