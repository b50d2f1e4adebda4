//! Two events of the same second cannot be ordered from their payloads: the webhook re-reads the
//! subscription from Stripe (here the fake Stripe server, through async-stripe's client).

use billing_domain::AccountId;
use billing_domain::ports::ProcessorEvents;
use devstack::fake_stripe::FakeStripe;
use http::StatusCode;
use integration_tests::Stack;
use integration_tests::stripe::{sample, sign};
use serde_json::{Value, json};
use stripe_webhook::stripe_api::StripeApi;

const SECRET: &str = "whsec_test_refetch";
const SECOND: i64 = 1_795_003_600;

fn update(id: &str, quantity: u64) -> Value {
    let mut ev = sample("customer.subscription.updated.json");
    ev["id"] = json!(id);
    ev["created"] = json!(SECOND);
    ev["data"]["object"]["items"]["data"][0]["quantity"] = json!(quantity);
    ev
}

async fn send(s: &Stack, webhook: &axum::Router, ev: &Value) -> (StatusCode, Value) {
    let body = ev.to_string();
    let r = s.deliver(webhook, &body, Some(&sign(&body, SECRET, None))).await;
    (r.status, r.body)
}

async fn seats(s: &Stack) -> u32 {
    let account: AccountId = "acct_demo".parse().unwrap();
    s.store().subscription(&account, "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get()
}

#[tokio::test]
async fn a_same_second_event_is_settled_by_stripes_current_object() {
    let s = Stack::new().await;
    let fake = FakeStripe::default();
    let url = fake.serve(0).await.unwrap();
    // Stripe's subscription now: 9 seats (the later of the two same-second changes).
    fake.put(update("evt_unused", 9)["data"]["object"].clone());
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));

    assert_eq!(send(&s, &webhook, &update("evt_tie_a", 7)).await.1["result"], json!({"recorded": "applied"}));
    assert_eq!(seats(&s).await, 7);
    // Same second, another event: the payload alone cannot say which is newer.
    assert_eq!(send(&s, &webhook, &update("evt_tie_b", 9)).await.1["result"], json!({"recorded": "applied"}));
    assert_eq!(seats(&s).await, 9, "Stripe's current object decided");
    // A redelivery of the first changes nothing.
    assert_eq!(send(&s, &webhook, &update("evt_tie_a", 7)).await.1["result"], json!("duplicate"));
    assert_eq!(seats(&s).await, 9);
}

#[tokio::test]
async fn without_stripe_a_same_second_event_is_kept_out_as_stale() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    send(&s, &webhook, &update("evt_tie_a", 7)).await;
    assert_eq!(send(&s, &webhook, &update("evt_tie_b", 9)).await.1["result"], json!({"recorded": "stale"}));
    assert_eq!(seats(&s).await, 7);
}

#[tokio::test]
async fn stripe_unreachable_is_a_503_and_nothing_is_written() {
    let s = Stack::new().await;
    let dead = format!("http://127.0.0.1:{}", devstack::moto::free_port().unwrap());
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&dead)).unwrap()));
    send(&s, &webhook, &update("evt_tie_a", 7)).await;
    let items = s.item_count().await;
    let (status, body) = send(&s, &webhook, &update("evt_tie_b", 9)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable"))
    );
    assert_eq!(s.item_count().await, items);
    assert_eq!(seats(&s).await, 7);
}

#[tokio::test]
async fn a_subscription_stripe_no_longer_has_is_ignored() {
    let s = Stack::new().await;
    let url = FakeStripe::default().serve(0).await.unwrap();
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));
    send(&s, &webhook, &update("evt_tie_a", 7)).await;
    let (status, body) = send(&s, &webhook, &update("evt_tie_b", 9)).await;
    assert_eq!((status, &body["result"]), (StatusCode::OK, &json!({"recorded": "ignored"})));
    assert_eq!(seats(&s).await, 7);
}
