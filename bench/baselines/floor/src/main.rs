//! The webhook's floor: verify the Stripe signature on the raw body, then one conditional put
//! (the event id's claim) to DynamoDB, with the same SDK, TLS stack and lambda_http as the real
//! function. Anything the real webhook costs beyond this is its own work.

use aws_sdk_dynamodb::types::AttributeValue;
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
            let put = client
                .put_item()
                .table_name(&table)
                .item("pk", AttributeValue::S(format!("FLOOR#{}", event.id)))
                .item("sk", AttributeValue::S("EVENT".into()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            let status = match put {
                Ok(_) => 200,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => 200,
                Err(_) => 503,
            };
            Ok(Response::builder().status(status).body(Body::Empty)?)
        }
    }))
    .await
}
