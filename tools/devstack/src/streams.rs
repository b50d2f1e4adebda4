//! Plays Lambda's DynamoDB Streams event source mapping locally: reads the stand-in's stream of
//! the billing table, turns each record into the `aws_lambda_events` record Lambda would deliver
//! (through the same JSON), keeps the records each consumer's filter passes (as the template's
//! `FilterCriteria` do), and calls the consumer's handler function with the batch. A batch
//! item failure is retried from the failed record, as `ReportBatchItemFailures` does; after
//! [`RETRIES`] tries the rest of the batch is logged as going to the dead-letter queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{Value, json};

/// How often a failing batch is retried before it counts as dead-lettered.
pub const RETRIES: usize = 3;

pub type Handler = Arc<dyn Fn(Event) -> Pin<Box<dyn Future<Output = DynamoDbEventResponse> + Send>> + Send + Sync>;

/// One stream consumer: its name, the work item kinds its filter passes, its handler.
#[derive(Clone)]
pub struct Consumer {
    pub name: &'static str,
    /// From the template's filter ([`filtered_kinds`]).
    pub kinds: Vec<String>,
    pub handler: Handler,
}

/// The work item kinds a function's stream event in `infra/template.yaml` lets through (its
/// `FilterCriteria` pattern): the template is the one list of who consumes what.
pub fn filtered_kinds(function: &str) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    let yaml = std::fs::read_to_string(crate::template_path()).context("reading infra/template.yaml")?;
    let doc: serde_norway::Value = serde_norway::from_str(&yaml).context("infra/template.yaml is not YAML")?;
    let events = doc["Resources"][function]["Properties"]["Events"]
        .as_mapping()
        .with_context(|| format!("{function} has no Events in the template"))?;
    for event in events.values() {
        if event["Type"].as_str() != Some("DynamoDB") {
            continue;
        }
        let pattern = event["Properties"]["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .with_context(|| format!("{function}'s stream event has no filter pattern"))?;
        let pattern: Value = serde_json::from_str(pattern).context("the filter pattern is not JSON")?;
        let kinds = pattern["dynamodb"]["NewImage"]["kind"]["S"]
            .as_array()
            .with_context(|| format!("{function}'s filter names no kinds"))?;
        return Ok(kinds.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect());
    }
    anyhow::bail!("{function} has no DynamoDB stream event in the template")
}

impl Consumer {
    /// The template's filter: new work items of these kinds.
    pub fn accepts(&self, record: &Value) -> bool {
        record["eventName"] == "INSERT"
            && record["dynamodb"]["NewImage"]["entity"]["S"] == "work_item"
            && record["dynamodb"]["NewImage"]["kind"]["S"].as_str().is_some_and(|k| self.kinds.iter().any(|m| m == k))
    }
}

/// The record as Lambda's event JSON.
pub fn lambda_json(r: &Record, stream_arn: &str, region: &str) -> Value {
    let image = |i: Option<&std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        i.map(|m| serde_json::to_value(serde_dynamo::Item::from(m.clone())).unwrap_or(Value::Null)).unwrap_or(json!({}))
    };
    let d = r.dynamodb.as_ref();
    json!({
        "eventID": r.event_id,
        "eventName": r.event_name.as_ref().map(|e| e.as_str()),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": d.and_then(|d| d.approximate_creation_date_time).map(|t| t.secs()).unwrap_or(0),
            "Keys": image(d.and_then(|d| d.keys.as_ref())),
            "NewImage": image(d.and_then(|d| d.new_image.as_ref())),
            "OldImage": image(d.and_then(|d| d.old_image.as_ref())),
            "SequenceNumber": d.and_then(|d| d.sequence_number.clone()),
            "SizeBytes": d.and_then(|d| d.size_bytes).unwrap_or(0),
            "StreamViewType": d.and_then(|d| d.stream_view_type.as_ref()).map(|v| v.as_str()),
        }
    })
}

/// Delivers one consumer's batch, retrying from the first failed record.
pub async fn deliver(consumer: &Consumer, mut records: Vec<Value>) {
    for attempt in 1..=RETRIES {
        if records.is_empty() {
            return;
        }
        let event: Event = match serde_json::from_value(json!({ "Records": records })) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(consumer = consumer.name, error = %e, "stream records do not parse as Lambda's event");
                return;
            }
        };
        let response = (consumer.handler)(event).await;
        let Some(failed) = response.batch_item_failures.first().and_then(|f| f.item_identifier.clone()) else {
            return;
        };
        let from = records.iter().position(|r| r["dynamodb"]["SequenceNumber"] == failed).unwrap_or(0);
        records.drain(..from);
        tracing::warn!(consumer = consumer.name, attempt, failed = %failed, "batch item failed; retrying from it");
        tokio::time::sleep(Duration::from_millis(500 * attempt as u64)).await;
    }
    tracing::error!(
        consumer = consumer.name,
        records = records.len(),
        "retries exhausted: these records would go to the dead-letter queue"
    );
}

/// Polls the table's stream until the process ends, delivering to each consumer in order.
pub async fn run(config: &aws_config::SdkConfig, table: &str, consumers: Vec<Consumer>) -> Result<()> {
    let dynamo = aws_sdk_dynamodb::Client::new(config);
    let streams = aws_sdk_dynamodbstreams::Client::new(config);
    let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let arn = dynamo
        .describe_table()
        .table_name(table)
        .send()
        .await?
        .table
        .and_then(|t| t.latest_stream_arn)
        .context("the table has no stream (StreamSpecification in infra/template.yaml)")?;
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await?
        .stream_description
        .and_then(|d| d.shards)
        .unwrap_or_default();
    let mut iterators = Vec::new();
    for shard in shards {
        let Some(id) = shard.shard_id else { continue };
        let it = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await?
            .shard_iterator;
        iterators.push(it);
    }
    tracing::info!(stream = %arn, shards = iterators.len(), "polling the table's stream for the mailer and the seat provisioner");
    loop {
        for it in iterators.iter_mut() {
            let Some(current) = it.clone() else { continue };
            let out = match streams.get_records().shard_iterator(current).limit(100).send().await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "stream read failed; retrying");
                    continue;
                }
            };
            *it = out.next_shard_iterator;
            let records: Vec<Value> =
                out.records.unwrap_or_default().iter().map(|r| lambda_json(r, &arn, &region)).collect();
            for consumer in &consumers {
                let batch: Vec<Value> = records.iter().filter(|r| consumer.accepts(r)).cloned().collect();
                deliver(consumer, batch).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Parses one record as Lambda delivers it (for tests building their own).
pub fn record(value: Value) -> Result<EventRecord> {
    Ok(serde_json::from_value(value)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_work_item_kind_has_its_consumer_in_the_template() {
        let mailer = super::filtered_kinds("InvoiceMailerFunction").unwrap();
        let provisioner = super::filtered_kinds("SeatProvisionerFunction").unwrap();
        for kind in ["bill_ready", "payment_received", "payment_failed", "seats_ready", "member_invited"] {
            assert!(mailer.iter().any(|k| k == kind), "{kind}");
        }
        for kind in ["bill_format_notice", "payment_reminder", "credit_note_issued", "payment_returned"] {
            assert!(mailer.iter().any(|k| k == kind), "{kind}: queued by the bill run or ops, mailed by the mailer");
        }
        assert_eq!(provisioner, ["seats_changed"]);
    }
}
