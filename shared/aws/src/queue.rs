//! The bill run's job queue in SQS: the scheduler sends one message per due account (ten per
//! `SendMessageBatch`), the workers' event source mapping delivers them. A standard queue: a
//! message may come twice and out of order, which billing an account tolerates (it is
//! idempotent per bill date); what matters is that none is lost, so an entry SQS refuses is sent
//! again and a send that still fails is an error.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use billing_domain::bill_runs::BillJob;
use billing_domain::ports::BillJobQueue;
use billing_domain::{Error, Result};

/// SQS takes at most ten entries per batch.
const BATCH: usize = 10;
/// Batches in flight at once.
const SENDERS: usize = 8;
/// Entries SQS refused (throttled, internal error) are sent again this many times.
const ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct SqsBillJobs {
    client: Client,
    queue_url: String,
}

impl SqsBillJobs {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }

    pub fn from_config(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(Client::new(config), queue_url)
    }

    /// Sends up to ten jobs; entries refused are sent again, then reported.
    async fn send_batch(&self, jobs: &[BillJob]) -> Result<()> {
        let mut pending: Vec<(usize, &BillJob)> = jobs.iter().enumerate().collect();
        for attempt in 1..=ATTEMPTS {
            let entries = pending
                .iter()
                .map(|(i, job)| {
                    let body = serde_json::to_string(job).map_err(|e| Error::Corrupt(format!("bill job: {e}")))?;
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| Error::Corrupt(format!("bill job entry: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    tracing::warn!(error = %DisplayErrorContext(&e), "SQS send failed");
                    Error::unavailable(e)
                })?;
            let failed: Vec<String> = out.failed.iter().map(|f| f.id.clone()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(f) = out.failed.iter().find(|f| f.sender_fault) {
                // Our fault (a body SQS will never take): no point sending it again.
                return Err(Error::Corrupt(format!("SQS refused a bill job: {} {:?}", f.code, f.message)));
            }
            tracing::warn!(refused = failed.len(), attempt, "SQS refused bill jobs; sending them again");
            pending.retain(|(i, _)| failed.contains(&i.to_string()));
        }
        Err(Error::Unavailable(format!("SQS refused {} bill jobs {ATTEMPTS} times", pending.len()).into()))
    }
}

#[async_trait]
impl BillJobQueue for SqsBillJobs {
    async fn send(&self, jobs: &[BillJob]) -> Result<()> {
        // SENDERS batches at a time; the first failure is the answer (the caller sends the page
        // again, and a job sent twice is billed once).
        for group in jobs.chunks(BATCH * SENDERS) {
            futures::future::try_join_all(group.chunks(BATCH).map(|b| self.send_batch(b))).await?;
        }
        Ok(())
    }

    async fn backlog(&self) -> Result<u64> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %DisplayErrorContext(&e), "SQS attributes failed");
                Error::unavailable(e)
            })?;
        let attributes = out.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes.get(&name).map_or(Ok(0), |v| {
                v.parse::<u64>().map_err(|_| Error::Corrupt(format!("SQS {name} is not a count: {v:?}")))
            })
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)?
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?
            + count(QueueAttributeName::ApproximateNumberOfMessagesDelayed)?)
    }
}
