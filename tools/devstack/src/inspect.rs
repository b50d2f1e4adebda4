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

/// [`billing`] in a few lines: each object by what a person checks (seats, status, amounts),
/// work items by kind, and the Stripe events by outcome with the latest ten.
pub fn summary(report: &Value) -> Value {
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let money = |v: &Value| match (v["amount"].as_str(), v["currency"].as_str()) {
        (Some(a), Some(c)) => json!(format!("{a} {c}")),
        _ => v.clone(),
    };
    let mut events = list("stripe_events");
    events.sort_by_key(|e| e["created"].as_str().unwrap_or_default().to_owned());
    // How many items have each value of `field`.
    let count_by = |items: &[Value], field: &str| {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for item in items {
            *counts.entry(item[field].as_str().unwrap_or("?").to_owned()).or_default() += 1;
        }
        json!(counts)
    };
    let outcomes = count_by(&events, "outcome");
    let work = count_by(&list("work_items"), "kind");
    json!({
        "account_id": report["account_id"],
        "subscriptions": list("subscriptions").iter().map(|s| json!({
            "id": s["id"], "status": s["status"], "seats": s["seats"], "interval": s["interval"],
            "period": format!("{} – {}", s["current_period_start"].as_str().unwrap_or(""), s["current_period_end"].as_str().unwrap_or("")),
        })).collect::<Vec<_>>(),
        "invoices": list("invoices").iter().map(|i| json!({
            "id": i["id"], "number": i["number"], "status": i["status"], "total": money(&i["total"]),
            "remaining": money(&i["amount_remaining"]), "lines": i["lines"].as_array().map_or(0, Vec::len),
        })).collect::<Vec<_>>(),
        "payment_methods": list("payment_methods").iter().map(|p| {
            json!(format!("{} {} •••• {} {}/{}", p["id"].as_str().unwrap_or(""), p["brand"].as_str().unwrap_or(""),
                p["last4"].as_str().unwrap_or(""), p["exp_month"], p["exp_year"]))
        }).collect::<Vec<_>>(),
        "default_payment_method": list("default_payment_method").first().map(|d| d["payment_method_id"].clone()),
        "payments": list("payments").iter().map(|p| json!({
            "charge": p["charge_id"], "amount": money(&p["amount"]), "refunded": money(&p["amount_refunded"]),
        })).collect::<Vec<_>>(),
        "work_items": work,
        "stripe_events": {
            "by_outcome": outcomes,
            "latest": events.iter().rev().take(10).map(|e| json!(format!("{} {} → {}",
                e["event_id"].as_str().unwrap_or(""), e["kind"].as_str().unwrap_or(""), e["outcome"].as_str().unwrap_or("")))).collect::<Vec<_>>(),
        },
        "more": "make billing ARGS=--full prints every item as stored",
    })
}
