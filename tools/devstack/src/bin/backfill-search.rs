//! Puts what a table held before the back office's account search into its index (`gsi3`):
//! account names, contact e-mails, portal users' e-mails and invoice numbers. Run once after
//! deploying the search onto a table with accounts, with credentials allowed `dynamodb:Scan`,
//! `UpdateItem`, `PutItem` and `ConditionCheckItem` on it (an operator's, not a function's):
//!
//! `cargo run --release -p devstack --bin backfill-search -- --table <BillingTableName>`
//!
//! It reads the table a page at a time and prints where it stopped, so an interrupted run goes on
//! with `--start '<printed key>'`. Every write is conditional on the item being as scanned (a
//! change made meanwhile indexed itself); running it again writes the same entries.

use std::collections::HashMap;

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use billing_aws::DynamoStore;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The billing table's name (the stack's `BillingTableName` output).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    /// Another endpoint (the local stand-in: `http://127.0.0.1:4566`).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// Items read per page.
    #[arg(long, default_value_t = 500)]
    page: i32,
    /// Go on from this key (`{"pk": "…", "sk": "…"}`, as a previous run printed it).
    #[arg(long)]
    start: Option<String>,
}

fn key_of(json: &str) -> Result<HashMap<String, AttributeValue>> {
    let key: HashMap<String, String> = serde_json::from_str(json).context("--start must be {\"pk\": …, \"sk\": …}")?;
    Ok(key.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

fn printable(key: &HashMap<String, AttributeValue>) -> String {
    let plain: HashMap<&str, &str> =
        key.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str()))).collect();
    serde_json::to_string(&plain).unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let aws = match &args.endpoint {
        Some(url) => devstack::aws::local_config(url).await,
        None => billing_aws::config::load_aws().await,
    };
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &args.table);
    let mut start = args.start.as_deref().map(key_of).transpose()?;
    let (mut scanned, mut indexed, mut skipped) = (0, 0, 0);
    loop {
        let (page, next) = store.backfill_search_index(start, args.page).await?;
        (scanned, indexed, skipped) = (scanned + page.scanned, indexed + page.indexed, skipped + page.skipped);
        match next {
            Some(key) => {
                eprintln!("… {scanned} items read, {indexed} entries written; next --start '{}'", printable(&key));
                start = Some(key);
            }
            None => break,
        }
    }
    println!(
        "{scanned} items read, {indexed} search entries written, {skipped} changed meanwhile (indexed by that change)"
    );
    Ok(())
}
