//! The bill run's job queue on the stand-in: `BillRunJobs` and its dead-letter queue created from
//! `infra/template.yaml` (redrive policy and all), and workers that poll it as Lambda's SQS event
//! source mapping does: up to ten messages a batch, the handler's failed ids left to come back
//! after the visibility timeout, the rest deleted. The stand-in's SQS moves a message received
//! `maxReceiveCount` times to the dead-letter queue, as SQS does.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use serde_norway::Value;

/// The job queue and its dead-letter queue, as created.
#[derive(Debug, Clone)]
pub struct JobQueues {
    pub jobs_url: String,
    pub jobs_arn: String,
    pub dead_letters_url: String,
    /// From the template's redrive policy.
    pub max_receive_count: u32,
}

/// What the template says of the job queue: its redrive policy's receive count, checked to point
/// at `BillRunDeadLetters`.
pub fn max_receive_count(yaml: &str) -> Result<u32> {
    let doc: Value = serde_norway::from_str(yaml).context("infra/template.yaml is not YAML")?;
    let redrive = doc
        .get("Resources")
        .and_then(|r| r.get("BillRunJobs"))
        .and_then(|q| q.get("Properties"))
        .and_then(|p| p.get("RedrivePolicy"))
        .ok_or_else(|| anyhow!("BillRunJobs has no RedrivePolicy in the template"))?;
    let target = serde_norway::to_string(redrive.get("deadLetterTargetArn").context("no deadLetterTargetArn")?)?;
    anyhow::ensure!(target.contains("BillRunDeadLetters"), "BillRunJobs redrives to {target}, not BillRunDeadLetters");
    let count = redrive.get("maxReceiveCount").and_then(Value::as_u64).context("no maxReceiveCount")?;
    Ok(u32::try_from(count)?)
}

/// Creates `<prefix>-jobs` and `<prefix>-jobs-dlq` as the template defines them, with a local
/// `visibility` timeout (short, so a failed job comes back in seconds rather than half an hour).
pub async fn create_from_template(client: &Client, prefix: &str, visibility: Duration) -> Result<JobQueues> {
    let yaml = std::fs::read_to_string(crate::template_path()).context("reading infra/template.yaml")?;
    let max_receive_count = max_receive_count(&yaml)?;
    let dlq = client.create_queue().queue_name(format!("{prefix}-jobs-dlq")).send().await?;
    let dead_letters_url = dlq.queue_url.context("no dead-letter queue URL")?;
    let dlq_arn = arn(client, &dead_letters_url).await?;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count.to_string()});
    let jobs = client
        .create_queue()
        .queue_name(format!("{prefix}-jobs"))
        .attributes(QueueAttributeName::VisibilityTimeout, visibility.as_secs().max(1).to_string())
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await?;
    let jobs_url = jobs.queue_url.context("no queue URL")?;
    let jobs_arn = arn(client, &jobs_url).await?;
    Ok(JobQueues { jobs_url, jobs_arn, dead_letters_url, max_receive_count })
}

async fn arn(client: &Client, url: &str) -> Result<String> {
    let out = client.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await?;
    out.attributes.and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned()).context("no queue ARN")
}

/// Every message body in `url`, received (and made visible again at once): for tests and
/// inspection of the dead letters.
pub async fn bodies(client: &Client, url: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    loop {
        let got =
            client.receive_message().queue_url(url).max_number_of_messages(10).visibility_timeout(30).send().await?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        out.extend(messages.into_iter().filter_map(|m| m.body));
    }
    Ok(out)
}

/// Polls `queues.jobs_url` with `workers` pollers side by side, each handing a batch to
/// `handler` (which answers the ids of the messages that failed) until `stop` is set and the
/// queue is empty.
pub async fn work<H, F>(
    client: Client,
    queues: JobQueues,
    workers: usize,
    stop: Arc<AtomicBool>,
    handler: H,
) -> Result<()>
where
    H: Fn(SqsEvent) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Vec<String>> + Send,
{
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (client, queues, stop, handler) = (client.clone(), queues.clone(), stop.clone(), handler.clone());
            tokio::spawn(async move { poll(&client, &queues, &stop, handler).await })
        })
        .collect();
    for task in tasks {
        task.await.context("a worker panicked")??;
    }
    Ok(())
}

async fn poll<H, F>(client: &Client, queues: &JobQueues, stop: &AtomicBool, handler: H) -> Result<()>
where
    H: Fn(SqsEvent) -> F,
    F: Future<Output = Vec<String>>,
{
    loop {
        let got = client
            .receive_message()
            .queue_url(&queues.jobs_url)
            .max_number_of_messages(10)
            // Short polls: the stand-in serves one request at a time, and a long poll on an empty
            // queue would hold every other caller for its wait.
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .context("receiving bill jobs")?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            if stop.load(Ordering::SeqCst) && backlog(client, &queues.jobs_url).await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let handles: Vec<(String, String)> = messages
            .iter()
            .map(|m| (m.message_id.clone().unwrap_or_default(), m.receipt_handle.clone().unwrap_or_default()))
            .collect();
        let mut event = SqsEvent::default();
        event.records = messages.into_iter().map(|m| lambda_message(m, &queues.jobs_arn)).collect();
        let failed = handler(event).await;
        let done: Vec<DeleteMessageBatchRequestEntry> = handles
            .iter()
            .enumerate()
            .filter(|(_, (id, _))| !failed.contains(id))
            .map(|(i, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(receipt).build()
            })
            .collect::<Result<_, _>>()?;
        if !done.is_empty() {
            client
                .delete_message_batch()
                .queue_url(&queues.jobs_url)
                .set_entries(Some(done))
                .send()
                .await
                .context("deleting bill jobs done")?;
        }
    }
}

/// Jobs waiting, in flight or delayed (as the scheduler reads them).
pub async fn backlog(client: &Client, url: &str) -> Result<u64> {
    use billing_domain::ports::BillJobQueue;
    Ok(billing_aws::SqsBillJobs::new(client.clone(), url).backlog().await?)
}

/// An SQS message as Lambda's event source mapping hands it to the function.
fn lambda_message(m: aws_sdk_sqs::types::Message, arn: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = m.message_id;
    message.receipt_handle = m.receipt_handle;
    message.body = m.body;
    message.md5_of_body = m.md5_of_body;
    message.attributes =
        m.attributes.unwrap_or_default().into_iter().map(|(k, v)| (k.as_str().to_owned(), v)).collect();
    message.event_source = Some("aws:sqs".into());
    message.event_source_arn = Some(arn.to_owned());
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_redrives_bill_jobs_to_their_dead_letters() {
        let yaml = std::fs::read_to_string(crate::template_path()).unwrap();
        assert_eq!(max_receive_count(&yaml).unwrap(), 5);
        let broken = yaml.replace("deadLetterTargetArn: !GetAtt BillRunDeadLetters.Arn", "deadLetterTargetArn: x");
        assert!(max_receive_count(&broken).is_err());
    }
}

/// What a pool of bill-run workers did.
#[derive(Debug, Default)]
pub struct Tally {
    pub batches: std::sync::atomic::AtomicUsize,
    pub finalized: std::sync::atomic::AtomicUsize,
    /// Jobs reported back as failed (each comes again, or goes to the dead letters).
    pub failed: std::sync::atomic::AtomicUsize,
}

/// A future a worker's handler returns: the ids of the messages that failed.
pub type Handled = std::pin::Pin<Box<dyn Future<Output = Vec<String>> + Send>>;

/// The bill-run worker Lambda's handler for [`work`], over `runs` in turn: each its own
/// [`BillRun`](bill_run::BillRun) with its own cached sequence, as separate Lambda instances
/// are, all on the one sequence item. Each batch is billed `concurrency` jobs at a time.
pub fn round_robin<S>(
    runs: Vec<Arc<bill_run::BillRun<S>>>,
    concurrency: usize,
) -> (impl Fn(SqsEvent) -> Handled + Clone + Send + Sync + 'static, Arc<Tally>)
where
    S: billing_domain::ports::BillRunStore + 'static,
{
    let (tally, next) = (Arc::new(Tally::default()), Arc::new(std::sync::atomic::AtomicUsize::new(0)));
    let counts = tally.clone();
    let handler = move |event: SqsEvent| -> Handled {
        let run = runs[next.fetch_add(1, Ordering::Relaxed) % runs.len()].clone();
        let tally = counts.clone();
        Box::pin(async move {
            let outcome = bill_run_worker::handle(&run, event, concurrency, chrono::Utc::now()).await;
            tally.batches.fetch_add(1, Ordering::Relaxed);
            tally.finalized.fetch_add(outcome.finalized(), Ordering::Relaxed);
            tally.failed.fetch_add(outcome.failed.len(), Ordering::Relaxed);
            outcome.failed
        })
    };
    (handler, tally)
}
