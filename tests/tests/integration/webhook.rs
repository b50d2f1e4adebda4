//! Stripe webhook intake: signatures made by Stripe's own library, exactly-once application,
//! order safety, and failures that Stripe's retry completes. Each test asserts what is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use billing_domain::AccountId;
use billing_domain::billing::SubscriptionStatus;
use billing_domain::ports::ProcessorEvents;
use http::StatusCode;
use integration_tests::faults::FailingWrites;
use integration_tests::stripe::{sample, sign};
use integration_tests::{Reply, Stack};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_current";

fn demo() -> AccountId {
    "acct_demo".parse().unwrap()
}

/// A variant of a sample event: another id, `created` and seat quantity.
fn subscription_event(id: &str, created: i64, quantity: u64) -> String {
    let mut ev = sample("customer.subscription.updated.json");
    ev["id"] = json!(id);
    ev["created"] = json!(created);
    ev["data"]["object"]["items"]["data"][0]["quantity"] = json!(quantity);
    ev.to_string()
}

async fn send(s: &Stack, webhook: &axum::Router, body: &str) -> Reply {
    let sig = sign(body, SECRET, None);
    s.deliver(webhook, body, Some(&sig)).await
}

#[tokio::test]
async fn signed_checkout_and_subscription_events_project_the_paid_seats() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    for name in ["checkout.session.completed.json", "customer.subscription.created.json"] {
        let r = send(&s, &webhook, &sample(name).to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
        assert_eq!(r.body["result"], json!({"recorded": "applied"}), "{name}");
    }
    let store = s.store();
    assert_eq!(store.customer_account("cus_DemoCustomer0001").await.unwrap(), Some(demo()));
    let sub = store.subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().expect("subscription");
    assert_eq!((sub.seats.get(), sub.status), (5, SubscriptionStatus::Active));
    let work = s.items_of("work_item").await;
    assert_eq!(work.len(), 1);
    assert_eq!(work[0]["kind"], "seats_changed");
    assert_eq!((work[0]["to"].as_i64(), work[0].get("from")), (Some(5), None));

    let r = send(&s, &webhook, &sample("customer.subscription.updated.json").to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    let sub = store.subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap();
    assert_eq!(sub.seats.get(), 8);
    let mut work = s.items_of("work_item").await;
    work.sort_by_key(|w| w["to"].as_i64());
    assert_eq!(work.len(), 2);
    assert_eq!((work[1]["from"].as_i64(), work[1]["to"].as_i64()), (Some(5), Some(8)));

    let r = send(&s, &webhook, &sample("customer.subscription.deleted.json").to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    let sub = store.subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Canceled);
    assert_eq!(s.items_of("work_item").await.len(), 3, "cancellation changes what the seats entitle");
    assert_eq!(s.items_of("stripe_event").await.len(), 4);
}

#[tokio::test]
async fn forged_stale_or_unsigned_deliveries_are_rejected_and_write_nothing() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    let body = sample("customer.subscription.created.json").to_string();
    let good = sign(&body, SECRET, None);

    let flipped =
        body.replacen("\"quantity\": 5", "\"quantity\": 6", 1).replacen("\"quantity\":5", "\"quantity\":6", 1);
    assert_ne!(flipped, body);
    let old = sign(&body, SECRET, Some(chrono::Utc::now().timestamp() - 301));
    let foreign = sign(&body, "whsec_someone_else", None);
    for (what, b, sig, code) in [
        ("one flipped byte", flipped.as_str(), Some(good.as_str()), "bad_signature"),
        ("an old timestamp", body.as_str(), Some(old.as_str()), "stale_signature"),
        ("a wrong secret", body.as_str(), Some(foreign.as_str()), "bad_signature"),
        ("no header", body.as_str(), None, "missing_signature"),
    ] {
        let r = s.deliver(&webhook, b, sig).await;
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{what}");
    }
    assert_eq!(s.item_count().await, 0, "nothing written");
}

#[tokio::test]
async fn a_rotated_secret_and_the_new_one_are_both_accepted() {
    let s = Stack::new().await;
    let webhook = s.webhook(&["whsec_old", "whsec_new"]);
    for (secret, name) in
        [("whsec_old", "checkout.session.completed.json"), ("whsec_new", "customer.subscription.created.json")]
    {
        let body = sample(name).to_string();
        let r = s.deliver(&webhook, &body, Some(&sign(&body, secret, None))).await;
        assert_eq!(r.status, StatusCode::OK, "{secret}");
    }
}

#[tokio::test]
async fn the_same_event_five_times_at_once_has_one_effect() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    let body = sample("customer.subscription.created.json").to_string();
    let sig = sign(&body, SECRET, None);
    let replies = futures::future::join_all((0..5).map(|_| s.deliver(&webhook, &body, Some(&sig)))).await;
    let mut results: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body["result"].to_string()
        })
        .collect();
    results.sort();
    assert_eq!(results.iter().filter(|r| r.contains("applied")).count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.contains("duplicate")).count(), 4, "{results:?}");
    assert_eq!(s.items_of("work_item").await.len(), 1);
    assert_eq!(s.items_of("stripe_event").await.len(), 1);
    // And once more, later.
    let r = s.deliver(&webhook, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.body["result"], "duplicate");
}

#[tokio::test]
async fn an_older_event_never_overwrites_newer_state() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    let t = 1_795_000_000;
    // updated(quantity 10, later) arrives before updated(quantity 5, earlier).
    let r = send(&s, &webhook, &subscription_event("evt_newer", t + 100, 10)).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    let r = send(&s, &webhook, &subscription_event("evt_older", t + 50, 5)).await;
    assert_eq!(r.body["result"], json!({"recorded": "stale"}));
    let sub = s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap();
    assert_eq!((sub.seats.get(), sub.stamp.event_id.as_str()), (10, "evt_newer"));

    // `updated` before `created`: the created event is older, so the final state is the update's.
    let r = send(&s, &webhook, &sample("customer.subscription.created.json").to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "stale"}));
    assert_eq!(s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get(), 10);
    assert_eq!(s.items_of("work_item").await.len(), 1, "stale events leave no work");
}

#[tokio::test]
async fn a_store_failure_is_a_503_and_the_redelivery_applies_it_once() {
    let s = Stack::new().await;
    let failing = Arc::new(AtomicBool::new(true));
    let webhook = s.webhook_over(FailingWrites { inner: s.store(), failing: failing.clone() }, &[SECRET]);
    let body = sample("customer.subscription.created.json").to_string();
    let r = send(&s, &webhook, &body).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable"))
    );
    assert_eq!(s.item_count().await, 0);

    failing.store(false, Ordering::SeqCst);
    for expected in [json!({"recorded": "applied"}), json!("duplicate")] {
        let r = send(&s, &webhook, &body).await;
        assert_eq!((r.status, &r.body["result"]), (StatusCode::OK, &expected));
    }
    assert_eq!(s.items_of("work_item").await.len(), 1);
}

#[tokio::test]
async fn unknown_types_are_acknowledged_recorded_and_change_nothing() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    let r = send(&s, &webhook, &sample("unknown.event.json").to_string()).await;
    assert_eq!((r.status, &r.body["result"]), (StatusCode::OK, &json!({"recorded": "ignored"})));
    let ledger: Vec<Value> = s.items_of("stripe_event").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (ledger[0]["kind"].as_str(), ledger[0]["outcome"].as_str()),
        (Some("billing.future_feature.created"), Some("ignored"))
    );
    assert_eq!(s.item_count().await, 1, "only the ledger entry");
}

#[tokio::test]
async fn a_subscription_of_an_unlinked_customer_waits_for_its_checkout() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    // No metadata: the account can only come from the customer's link.
    let mut ev = sample("customer.subscription.created.json");
    ev["data"]["object"]["metadata"] = json!({});
    let r = send(&s, &webhook, &ev.to_string()).await;
    // Answered 200: Stripe is not asked to retry; the event waits, parked, for its link.
    assert_eq!((r.status, &r.body["result"]), (StatusCode::OK, &json!({"recorded": "parked"})));
    assert!(s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().is_none());

    send(&s, &webhook, &sample("checkout.session.completed.json").to_string()).await;
    // The link's delivery applied what was parked for its customer.
    assert_eq!(s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get(), 5);
    let mut later =
        serde_json::from_str::<Value>(&subscription_event("evt_after_link", 1_795_000_000 + 7200, 6)).unwrap();
    later["data"]["object"]["metadata"] = json!({});
    let r = send(&s, &webhook, &later.to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    assert_eq!(s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get(), 6);
}

#[tokio::test]
async fn a_base64_encoded_delivery_is_verified_on_its_decoded_bytes() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    let body = sample("checkout.session.completed.json").to_string();
    let sig = sign(&body, SECRET, None);
    let r = s.deliver_encoded(&webhook, &body, Some(&sig), true).await;
    assert_eq!((r.status, &r.body["result"]), (StatusCode::OK, &json!({"recorded": "applied"})));
    // The signature covers the raw bytes: verifying the base64 text instead would fail.
    let other = sample("customer.subscription.created.json").to_string();
    let wrong = sign(&base64_of(&other), SECRET, None);
    let r = s.deliver_encoded(&webhook, &other, Some(&wrong), true).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_signature")));
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// The webhook over a store whose calls are recorded, its customer linked to the demo account
/// (the checkout's calls already taken from the log).
async fn counted_webhook(s: &Stack) -> (devstack::calls::CallLog, axum::Router) {
    let (log, counted) = s.counted_store().await;
    let webhook = s.webhook_over(counted, &[SECRET]);
    let r = send(s, &webhook, &sample("checkout.session.completed.json").to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    log.take();
    (log, webhook)
}

#[tokio::test]
async fn an_event_delivered_in_order_is_applied_in_one_store_call() {
    let s = Stack::new().await;
    let (log, webhook) = counted_webhook(&s).await;

    let one_write = ["DynamoDB.TransactWriteItems".to_owned()];
    // Created, then updated 5 → 8, each as the event says it was before: one write each.
    for name in ["customer.subscription.created.json", "customer.subscription.updated.json"] {
        let r = send(&s, &webhook, &sample(name).to_string()).await;
        assert_eq!(r.body["result"], json!({"recorded": "applied"}), "{name}");
        let calls = log.tally();
        assert_eq!(calls.calls, one_write, "{name}");
        assert_eq!(calls.store_serial, 1);
    }
    let sub = s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap();
    assert_eq!(sub.seats.get(), 8);
    let mut work = s.items_of("work_item").await;
    work.sort_by_key(|w| w["to"].as_i64());
    assert_eq!(
        work.iter().map(|w| (w["from"].as_i64(), w["to"].as_i64())).collect::<Vec<_>>(),
        [(None, Some(5)), (Some(5), Some(8))]
    );

    // A redelivery fails the write's claim: still one call, and nothing changes.
    let r = send(&s, &webhook, &sample("customer.subscription.updated.json").to_string()).await;
    assert_eq!(r.body["result"], json!("duplicate"));
    assert_eq!(log.tally().calls, one_write);

    // An event whose prior is not what is stored (sent before the last one, delivered after):
    // the write's condition fails, the stored state is read, and the event is recorded stale.
    let late = subscription_event("evt_SentEarlierLate1", 1_795_000_100, 6);
    let r = send(&s, &webhook, &late).await;
    assert_eq!(r.body["result"], json!({"recorded": "stale"}));
    assert_eq!(log.tally().calls, ["DynamoDB.TransactWriteItems", "DynamoDB.GetItem", "DynamoDB.TransactWriteItems"]);
    assert_eq!(s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get(), 8);

    // A change the stored state does not match (an event in between was missed): read, then
    // applied against what is stored, with the follow-up the real change calls for.
    let mut missed = sample("customer.subscription.updated.json");
    missed["id"] = json!("evt_AfterAMissedOne1");
    missed["created"] = json!(1_795_100_000);
    missed["data"]["object"]["items"]["data"][0]["quantity"] = json!(12);
    missed["data"]["previous_attributes"] = json!({"quantity": 10});
    let r = send(&s, &webhook, &missed.to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    assert_eq!(log.tally().store_serial, 3);
    let work = s.items_of("work_item").await;
    assert!(work.iter().any(|w| w["from"].as_i64() == Some(8) && w["to"].as_i64() == Some(12)), "{work:?}");
}

#[tokio::test]
async fn a_payment_method_event_is_applied_in_one_write_after_its_customer_is_resolved() {
    let s = Stack::new().await;
    let (log, webhook) = counted_webhook(&s).await;

    // The payment method names only its customer: the link, then one write.
    let resolve_then_write = ["DynamoDB.GetItem", "DynamoDB.TransactWriteItems"];
    let attached = sample("payment_method.attached.json");
    let r = send(&s, &webhook, &attached.to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    assert_eq!(log.tally().calls, resolve_then_write);
    let stored = s.items_of("projection").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["stamp"]["event_id"], attached["id"]);

    // A redelivery: the same two calls, nothing changes.
    let r = send(&s, &webhook, &attached.to_string()).await;
    assert_eq!(r.body["result"], json!("duplicate"));
    assert_eq!(log.tally().calls, resolve_then_write);

    // An older event about it (sent before, delivered after): the write's condition fails, the
    // stored state is read, and the event is recorded stale.
    let mut older = attached.clone();
    older["id"] = json!("evt_OlderCardEvent01");
    older["created"] = json!(attached["created"].as_i64().unwrap() - 60);
    older["data"]["object"]["card"]["exp_year"] = json!(2001);
    let r = send(&s, &webhook, &older.to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "stale"}));
    assert_eq!(
        log.tally().calls,
        ["DynamoDB.GetItem", "DynamoDB.TransactWriteItems", "DynamoDB.GetItem", "DynamoDB.TransactWriteItems"]
    );
    let stored = s.items_of("projection").await;
    assert_eq!(stored[0]["stamp"]["event_id"], attached["id"], "the newer state stays");

    // Detached later (resolved by the customer it had): one write again.
    let r = send(&s, &webhook, &sample("payment_method.detached.json").to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    assert_eq!(log.tally().store_serial, 2, "{}", log.tally().path());
}
