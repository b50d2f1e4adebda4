//! Lambda entry point: wiring only. Clients are built once per cold start.
//!
//! Invoked by the SQS event source mapping of the bill run's job queue, up to ten jobs a batch;
//! the mapping's maximum concurrency (the template's `BillRunWorkers`) is how many run at once.

use bill_run::{BillRun, Settings};
use billing_aws::{DynamoStore, config, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let settings = Settings {
        invoice_prefix: config::optional("INVOICE_PREFIX").unwrap_or_else(|| "INV".into()),
        ..Settings::default()
    };
    let concurrency = settings.concurrency;
    let aws = config::load_aws().await;
    let run = BillRun::new(DynamoStore::from_config(&aws, table), settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let run = run.clone();
        async move {
            let outcome = bill_run_worker::handle(&run, event.payload, concurrency, chrono::Utc::now()).await;
            Ok::<_, Error>(outcome.response())
        }
    }))
    .await
}
