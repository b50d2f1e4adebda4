//! A look into the local table: what the webhook projected for an account.

use anyhow::Result;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

async fn under(client: &Client, table: &str, pk: &str, prefix: &str) -> Result<Vec<Value>> {
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()))
        .expression_attribute_values(":p", AttributeValue::S(prefix.into()))
        .send()
        .await?;
    Ok(out.items.unwrap_or_default().into_iter().map(serde_dynamo::from_item).collect::<Result<_, _>>()?)
}

/// The account's subscriptions, invoices, work items and the Stripe events recorded about it.
pub async fn billing(client: &Client, table: &str, account: &str) -> Result<Value> {
    let pk = format!("ACCOUNT#{account}");
    let events: Vec<Value> = client
        .scan()
        .table_name(table)
        .filter_expression("entity = :e AND account_id = :a")
        .expression_attribute_values(":e", AttributeValue::S("stripe_event".into()))
        .expression_attribute_values(":a", AttributeValue::S(account.into()))
        .send()
        .await?
        .items
        .unwrap_or_default()
        .into_iter()
        .map(serde_dynamo::from_item)
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "account_id": account,
        "subscriptions": under(client, table, &pk, "SUBSCRIPTION#").await?,
        "invoices": under(client, table, &pk, "INVOICE#").await?,
        "payment_methods": under(client, table, &pk, "PAYMENT_METHOD#").await?,
        "payments": under(client, table, &pk, "PAYMENT#").await?,
        "default_payment_method": under(client, table, &pk, "DEFAULT_PAYMENT_METHOD").await?,
        "work_items": under(client, table, &pk, "WORK#").await?,
        "stripe_events": events,
    }))
}
