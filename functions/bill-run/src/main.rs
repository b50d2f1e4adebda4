//! Lambda entry point: wiring only. Clients are built once per cold start.
//!
//! Invoked by the hourly schedule (`{"scheduled": true}`: every due account, finalized, or only
//! drafted for review in the back office when `SCHEDULED_MODE` is `draft`; with
//! `BILL_RUN_QUEUE_URL` set, as in the template, the accounts are handed to the bill-run workers
//! through that queue instead of billed here), or directly
//! by ops with a [`bill_run::RunRequest`] (`{"mode": "dry_run", "date": "2026-12-01"}`), which
//! gets the run's report back.

use std::time::{Instant, SystemTime};

use bill_run::{BillRun, RunRequest, Settings};
use billing_aws::{DynamoStore, SqsBillJobs, config, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let table = config::required("TABLE_NAME")?;
    let settings = Settings {
        invoice_prefix: config::optional("INVOICE_PREFIX").unwrap_or_else(|| "INV".into()),
        ..Settings::default()
    };
    let scheduled_mode = match config::optional("SCHEDULED_MODE").as_deref() {
        None | Some("finalize") => bill_run::Mode::Finalize,
        Some("draft") => bill_run::Mode::Draft,
        Some(other) => return Err(Error::from(format!("SCHEDULED_MODE must be finalize or draft, not {other:?}"))),
    };
    let aws = config::load_aws().await;
    let run = BillRun::new(DynamoStore::from_config(&aws, table), settings);
    let queue = config::optional("BILL_RUN_QUEUE_URL").map(|url| SqsBillJobs::from_config(&aws, url));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (run, queue) = (run.clone(), queue.clone());
        async move {
            let scheduled = event.payload.get("source").and_then(Value::as_str) == Some("aws.events")
                || event.payload.get("scheduled").and_then(Value::as_bool) == Some(true);
            let request: RunRequest = if scheduled {
                RunRequest { mode: scheduled_mode, ..RunRequest::default() }
            } else {
                serde_json::from_value(event.payload)?
            };
            let left = event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
            if let (true, Some(queue)) = (scheduled, &queue) {
                let report = run.dispatch(queue, &request, chrono::Utc::now(), Some(Instant::now() + left)).await;
                tracing::info!(
                    date = %report.date,
                    dispatched = report.dispatched,
                    backlog = report.backlog,
                    failures = report.failures.len(),
                    notices = report.notices_queued,
                    reminders = report.reminders_queued,
                    more = report.more,
                    "bill jobs handed out"
                );
                if !report.failures.is_empty() {
                    return Err(Error::from(format!("bill run dispatch: {} failures", report.failures.len())));
                }
                return Ok(serde_json::to_value(&report)?);
            }
            let report = run.run(&request, chrono::Utc::now(), Some(Instant::now() + left)).await;
            tracing::info!(
                date = %report.date,
                billed = report.results.len(),
                failures = report.failures.len(),
                notices = report.notices_queued,
                more = report.more,
                "bill run done"
            );
            if scheduled && !report.failures.is_empty() {
                // Fails the invocation so the error alarm fires; the next run picks them up.
                return Err(Error::from(format!("{} accounts not billed", report.failures.len())));
            }
            Ok::<_, Error>(serde_json::to_value(&report)?)
        }
    }))
    .await
}
