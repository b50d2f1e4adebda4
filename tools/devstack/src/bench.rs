//! What the benchmarks share: filling a table on the stand-in fast.

use std::collections::HashMap;

use anyhow::{Context, Result, ensure};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::StreamExt;

/// Puts `items` into `table`, 25 to a BatchWriteItem, four calls at once; every item is written.
pub async fn put_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) -> Result<()> {
    let batches: Vec<Vec<HashMap<String, AttributeValue>>> = items.chunks(25).map(<[_]>::to_vec).collect();
    let results: Vec<Result<()>> = futures::stream::iter(batches)
        .map(|batch| async move {
            let requests = batch
                .into_iter()
                .map(|item| {
                    Ok(WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build()?).build())
                })
                .collect::<Result<Vec<_>>>()?;
            let out = client.batch_write_item().request_items(table, requests).send().await.context("batch write")?;
            ensure!(out.unprocessed_items().is_none_or(|u| u.is_empty()), "unprocessed items");
            Ok(())
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().collect()
}

/// An item of string attributes.
pub fn item<const N: usize>(attributes: [(&str, String); N]) -> HashMap<String, AttributeValue> {
    attributes.into_iter().map(|(k, v)| (k.to_owned(), AttributeValue::S(v))).collect()
}
