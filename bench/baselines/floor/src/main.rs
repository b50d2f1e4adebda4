//! The webhook's floor: verify the Stripe signature on the raw body, then one conditional put
//! (the event id's claim) to DynamoDB, with the same SDK, TLS stack and lambda_http as the real
//! function. Anything the real webhook costs beyond this is its own work.
//!
//! With `FLOOR_WRITE=transaction`, the one write is instead the shape of the webhook's for an
//! in-order event: a `TransactWriteItems` of three conditional puts (the claim, the object's state
//! conditioned on its stored stamp being older, a work item) with a client request token. What the webhook costs beyond that
//! floor is its own work; what that floor costs beyond the plain one is the store's price of the
//! atomic write.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let table = std::env::var("TABLE_NAME")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Like the webhook, the signing secret comes from Secrets Manager at cold start.
    let secret = aws_sdk_secretsmanager::Client::new(&aws)
        .get_secret_value()
        .secret_id(std::env::var("STRIPE_WEBHOOK_SECRETS_ARN")?)
        .send()
        .await?
        .secret_string
        .unwrap_or_default();
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let transaction = std::env::var("FLOOR_WRITE").is_ok_and(|w| w == "transaction");
    lambda_http::run(service_fn(|req: Request| {
        let (client, table, secret) = (client.clone(), table.clone(), secret.clone());
        async move {
            let body = std::str::from_utf8(req.body().as_ref()).unwrap_or_default().to_owned();
            let sig =
                req.headers().get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let event = match stripe_webhook::Webhook::construct_event(&body, &sig, &secret) {
                Ok(e) => e,
                Err(_) => return Ok::<_, Error>(Response::builder().status(400).body(Body::Empty)?),
            };
            let claim = || {
                Put::builder()
                    .table_name(&table)
                    .item("pk", AttributeValue::S(format!("FLOOR#{}", event.id)))
                    .item("sk", AttributeValue::S("EVENT".into()))
                    .condition_expression("attribute_not_exists(pk)")
            };
            let status = if transaction {
                let at = AttributeValue::N(event.created.to_string());
                let state = Put::builder()
                    .table_name(&table)
                    .item("pk", AttributeValue::S("FLOOR#STATE".into()))
                    .item("sk", AttributeValue::S("SUBSCRIPTION".into()))
                    .item("event_id", AttributeValue::S(event.id.to_string()))
                    .item("status", AttributeValue::S("active".into()))
                    .item("seats", AttributeValue::N("8".into()))
                    .item("stamp_at", at.clone())
                    .condition_expression("attribute_not_exists(pk) OR stamp_at < :at")
                    .expression_attribute_values(":at", at);
                let work = Put::builder()
                    .table_name(&table)
                    .item("pk", AttributeValue::S("FLOOR#WORK".into()))
                    .item("sk", AttributeValue::S(format!("WORK#{}", event.id)))
                    .item("kind", AttributeValue::S("seats_changed".into()))
                    .condition_expression("attribute_not_exists(pk)");
                let mut items = Vec::new();
                for put in [claim(), state, work] {
                    items.push(TransactWriteItem::builder().put(put.build()?).build());
                }
                // With a ClientRequestToken, as the webhook's (the event id: unique, and at most
                // the 36 characters a token may have).
                let token: String = event.id.as_str().chars().take(36).collect();
                match client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .client_request_token(token)
                    .send()
                    .await
                {
                    Ok(_) => 200,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_transaction_canceled_exception()) => 200,
                    Err(_) => 503,
                }
            } else {
                let put = claim().build()?;
                let put = client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(put.item))
                    .set_condition_expression(put.condition_expression)
                    .send()
                    .await;
                match put {
                    Ok(_) => 200,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => 200,
                    Err(_) => 503,
                }
            };
            Ok(Response::builder().status(status).body(Body::Empty)?)
        }
    }))
    .await
}
