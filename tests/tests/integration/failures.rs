//! A dependency that fails gives a retryable 503 with no internal detail, and leaves nothing
//! half-written; the retry then succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use billing_aws::DynamoStore;
use http::StatusCode;
use integration_tests::faults::FailingWrites;
use integration_tests::{Stack, User, new_account};
use serde_json::json;

#[tokio::test]
async fn an_unreachable_table_is_a_retryable_503_without_details() {
    let s = Stack::new().await;
    let dead = format!("http://127.0.0.1:{}", devstack::moto::free_port().unwrap());
    let aws = devstack::aws::local_config(&dead).await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&aws).retry_config(RetryConfig::disabled()).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), &s.table);
    let broken = s.with_store(store);

    for (method, path, body) in [
        ("GET", "/v1/me", None),
        ("GET", "/v1/accounts/acct_demo", None),
        ("POST", "/v1/accounts", Some(new_account("Acme"))),
    ] {
        let r = broken.call(&User::new("ann"), method, path, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"), "{method} {path}");
        assert_eq!(r.headers["retry-after"], "1");
        let text = r.body.to_string();
        for leak in ["127.0.0.1", "dispatch", "connect", "dynamodb"] {
            assert!(!text.to_lowercase().contains(leak), "{text} leaks {leak}");
        }
    }
}

#[tokio::test]
async fn failed_writes_leave_nothing_behind_and_the_retry_succeeds() {
    let s = Stack::new().await;
    let failing = Arc::new(AtomicBool::new(false));
    let flaky = s.with_store(FailingWrites { inner: s.store(), failing: failing.clone() });
    let admin = User::new("admin");
    let acct = flaky.account_of(&admin, "Acme").await;
    let items = s.item_count().await;

    failing.store(true, Ordering::SeqCst);
    let key = [("Idempotency-Key", "k-1")];
    let body = serde_json::to_vec(&new_account("Second")).unwrap();
    let attempts = [
        flaky.call_with(Some(&admin), "POST", "/v1/accounts", &key, Some(&body)).await,
        flaky.invite(&admin, &acct, "b@example.com", "viewer").await,
        flaky
            .call(&admin, "PATCH", &format!("/v1/accounts/{acct}/billing-contact"), Some(json!({"name": "Changed"})))
            .await,
    ];
    for r in &attempts {
        assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"), "{:?}", r.body);
    }
    assert_eq!(s.item_count().await, items, "nothing half-written");

    failing.store(false, Ordering::SeqCst);
    let retried = flaky.call_with(Some(&admin), "POST", "/v1/accounts", &key, Some(&body)).await;
    assert_eq!(retried.status, StatusCode::CREATED);
    assert!(retried.headers.get("idempotent-replayed").is_none(), "the failed attempt claimed nothing");
    let r = flaky
        .call(&admin, "PATCH", &format!("/v1/accounts/{acct}/billing-contact"), Some(json!({"name": "Changed"})))
        .await;
    assert_eq!(r.body["billing_contact"]["name"], "Changed");
}
