//! The sample events in `events/apigw/`, replayed unmodified, are what the function accepts.

use devstack::{apigw, seed};
use http::StatusCode;
use http_body_util::BodyExt;
use integration_tests::Stack;
use serde_json::Value;

async fn replay(s: &Stack, file: &str) -> (StatusCode, Value) {
    replay_to(s.router.clone(), file).await
}

async fn replay_to(router: axum::Router, file: &str) -> (StatusCode, Value) {
    let path = devstack::repo_root().join("events/apigw").join(file);
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let resp = apigw::invoke(router, &event).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_sample_events_run_as_they_are() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();

    let (status, body) = replay(&s, "portal-request.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], seed::DEMO_ACCOUNT);

    let (status, created) = replay(&s, "create-account.json").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "Newcomer Hosting LLC");
    assert_eq!(created["billing_contact"]["phone"], "+15550100199");
    // Delivered twice (a client retry), it is the same account.
    let (status, again) = replay(&s, "create-account.json").await;
    assert_eq!((status, &again["id"]), (StatusCode::CREATED, &created["id"]));
}

#[tokio::test]
async fn the_usage_sample_reaches_the_ops_api_as_an_iam_caller() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let (status, body) = replay_to(s.ops_router(), "usage-request.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The demo account is billed by card: its records are refused, each with its reason; the
    // repeated key is a duplicate.
    assert_eq!(body["results"][0]["code"], "account_not_contract_billed");
    assert_eq!(body["results"][1]["status"], "duplicate");
}
