//! A bill-run worker: one batch of [`BillJob`]s from the queue (the SQS event source mapping
//! delivers up to ten at a time), billed side by side, each through [`bill_run::BillRun::bill_job`].
//!
//! The answer names the messages that failed (`ReportBatchItemFailures`): only those come back
//! after the queue's visibility timeout, and after the queue's `maxReceiveCount` they land in its
//! dead-letter queue, whose alarm tells ops. A message that is not a job is a failure too (it
//! ends there as well, where it can be read). Jobs billed already, or billed by a job that came
//! twice, find nothing due: the worker repeats nothing.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use bill_run::{AccountResult, BillRun, Outcome, RunError};
use billing_domain::bill_runs::BillJob;
use billing_domain::ports::BillRunStore;
use chrono::{DateTime, Utc};
use futures::StreamExt;

/// What one batch did, for the log and for tests.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Message ids to hand back to the queue.
    pub failed: Vec<String>,
    pub results: Vec<AccountResult>,
}

impl BatchOutcome {
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .failed
            .iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id.clone();
                f
            })
            .collect();
        response
    }

    pub fn finalized(&self) -> usize {
        self.results.iter().filter(|r| r.outcome == Outcome::Finalized).count()
    }
}

/// The job a message carries.
pub fn job(message: &SqsMessage) -> Result<BillJob, RunError> {
    let body = message.body.as_deref().ok_or_else(|| RunError::Job("the message has no body".into()))?;
    serde_json::from_str(body).map_err(|e| RunError::Job(format!("the message is not a bill job: {e}")))
}

/// Bills every job of `event` (`concurrency` at a time) by the clock `now`.
pub async fn handle<S: BillRunStore + 'static>(
    run: &BillRun<S>,
    event: SqsEvent,
    concurrency: usize,
    now: DateTime<Utc>,
) -> BatchOutcome {
    let ids: Vec<String> = event.records.iter().map(|m| m.message_id.clone().unwrap_or_default()).collect();
    // The seller's tax data, once for the batch; without it nothing is billed and every job
    // comes back.
    let taxes = match run.taxes().await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, jobs = ids.len(), "tax data unreadable; the batch goes back to the queue");
            return BatchOutcome { failed: ids, results: vec![] };
        }
    };
    let taxes = &taxes;
    let outcomes: Vec<(String, Result<Vec<AccountResult>, RunError>)> = futures::stream::iter(event.records)
        .map(|message| async move {
            let id = message.message_id.clone().unwrap_or_default();
            let billed = match job(&message) {
                Ok(job) => run.bill_job(&job, taxes, now).await.inspect_err(|e| {
                    tracing::error!(account_id = %job.account_id, date = %job.date, error = %e, transient = e.is_transient(), "account not billed; the job goes back to the queue");
                }),
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "not a bill job; it goes back to the queue and on to the dead letters");
                    Err(e)
                }
            };
            (id, billed)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut outcome = BatchOutcome::default();
    for (id, billed) in outcomes {
        match billed {
            Ok(results) => outcome.results.extend(results),
            Err(_) => outcome.failed.push(id),
        }
    }
    tracing::info!(jobs = ids.len(), finalized = outcome.finalized(), failed = outcome.failed.len(), "bill jobs done");
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: Option<&str>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = body.map(str::to_owned);
        m
    }

    #[test]
    fn a_message_is_a_job_or_a_failure_that_names_why() {
        let body =
            r#"{"account_id":"acct_one","date":"2026-12-01","mode":"finalize","dispatched_at":"2026-12-01T09:00:00Z"}"#;
        assert_eq!(job(&message("1", Some(body))).unwrap().account_id.as_str(), "acct_one");
        assert!(job(&message("2", None)).unwrap_err().to_string().contains("no body"));
        assert!(job(&message("3", Some("{}"))).unwrap_err().to_string().contains("not a bill job"));
    }

    #[test]
    fn only_the_failed_messages_go_back_to_the_queue() {
        let outcome = BatchOutcome { failed: vec!["m2".into(), "m7".into()], results: vec![] };
        let response = serde_json::to_value(outcome.response()).unwrap();
        assert_eq!(
            response,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m7"}]})
        );
        assert_eq!(
            serde_json::to_value(BatchOutcome::default().response()).unwrap()["batchItemFailures"],
            serde_json::json!([])
        );
    }
}
