//! What every consumer of the billing table's stream shares: picking the work items out of
//! Lambda's DynamoDB stream records, and processing a batch in order with batch item failure
//! reporting (the first failed record and everything after it are retried).

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use billing_domain::billing::WorkItem;

/// The work item a record inserted, if it is one this build knows.
pub fn work_item(record: &EventRecord) -> Option<WorkItem> {
    let image = &record.change.new_image;
    if record.event_name != "INSERT"
        || !matches!(image.get("entity"), Some(serde_dynamo::AttributeValue::S(e)) if e == "work_item")
    {
        return None;
    }
    match serde_dynamo::from_item(image.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            // Written by a newer build: not ours to act on.
            tracing::warn!(error = %e, event_id = %record.event_id, "work item of a kind this build does not know");
            None
        }
    }
}

/// Runs `apply` on each record's work item in order; on the first failure, reports that record
/// (Lambda retries from it) and stops.
pub async fn process<F, Fut, E>(event: &Event, mut apply: F) -> DynamoDbEventResponse
where
    F: FnMut(WorkItem) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let Some(work) = work_item(record) else { continue };
        if let Err(e) = apply(work).await {
            tracing::error!(error = %e, event_id = %record.event_id, "work item failed; reported for retry");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
