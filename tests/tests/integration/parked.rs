//! Events for a customer no account is linked to yet: answered 200 and parked, then applied in
//! Stripe's order, exactly once, when the link comes; listed, alarmed and discardable when it
//! never does.

use std::collections::BTreeMap;

use billing_domain::billing::EventOutcome;
use billing_domain::ports::ProcessorEvents;
use devstack::seed;
use http::StatusCode;
use integration_tests::stripe::{sample, strip_account_hints};
use integration_tests::{Reply, Stack};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_parked";

async fn send(s: &Stack, webhook: &axum::Router, body: &str) -> Reply {
    let r = s.deliver(webhook, body, Some(&devstack::sign_event(body, SECRET))).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {:?}", r.body);
    r
}

/// `ev` with every `metadata.account_id` taken out: its account can only come from its
/// customer's link.
fn unhinted(mut ev: Value) -> Value {
    strip_account_hints(&mut ev["data"]);
    ev
}

/// Every sample event about the demo customer but the link itself (and the dispute, which needs
/// Stripe's API to find its charge), in Stripe's order.
fn customer_events() -> Vec<Value> {
    let mut events: Vec<Value> = std::fs::read_dir(devstack::repo_root().join("events/stripe"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            !["checkout.", "charge.dispute", "unknown", "product."]
                .iter()
                .any(|not_about_it| n.starts_with(not_about_it))
        })
        .map(|n| unhinted(sample(&n)))
        .collect();
    events.sort_by(|a, b| (a["created"].as_i64(), a["id"].as_str()).cmp(&(b["created"].as_i64(), b["id"].as_str())));
    events
}

fn link() -> String {
    sample("checkout.session.completed.json").to_string()
}

/// What the events left, without the times of their delivery.
async fn state(s: &Stack) -> BTreeMap<&'static str, Vec<Value>> {
    let mut out = BTreeMap::new();
    for entity in ["account", "customer_link", "account_customer", "subscription", "invoice", "projection", "work_item"]
    {
        // The seeded members' invitations carry ids of their own; the rest is the events' doing.
        let mut items: Vec<Value> =
            s.items_of(entity).await.into_iter().filter(|i| i["kind"] != "member_invited").collect();
        for i in &mut items {
            let obj = i.as_object_mut().unwrap();
            for volatile in ["expires_at", "received_at", "updated_at", "created_at"] {
                obj.remove(volatile);
            }
        }
        items.sort_by_key(|i| format!("{}{}", i["pk"], i["sk"]));
        out.insert(entity, items);
    }
    // What Stripe's events changed (the seeded account and members have ids of their own).
    let mut audit: Vec<String> = s
        .items_of("audit")
        .await
        .iter()
        .filter(|a| !a["target"].as_str().is_some_and(|t| t.starts_with("mem_")) && a["action"] != "account.created")
        .map(|a| format!("{} {}", a["action"], a["target"]))
        .collect();
    audit.sort();
    out.insert("audit", audit.into_iter().map(Value::String).collect());
    out
}

#[tokio::test]
async fn every_event_parked_before_its_link_ends_as_in_order_delivery_would() {
    let events = customer_events();
    assert!(events.len() >= 15, "the samples cover subscriptions, invoices, payments, methods, the customer");

    let in_order = Stack::new().await;
    seed::seed(&in_order.store()).await.unwrap();
    let webhook = in_order.webhook(&[SECRET]);
    send(&in_order, &webhook, &link()).await;
    for ev in &events {
        let r = send(&in_order, &webhook, &ev.to_string()).await;
        assert_ne!(r.body["result"], json!({"recorded": "parked"}), "{}", ev["type"]);
    }

    let early = Stack::new().await;
    seed::seed(&early.store()).await.unwrap();
    let webhook = early.webhook(&[SECRET]);
    for ev in &events {
        let r = send(&early, &webhook, &ev.to_string()).await;
        assert_eq!(r.body["result"], json!({"recorded": "parked"}), "{}: {:?}", ev["type"], r.body);
    }
    assert!(
        early.store().subscription(&"acct_demo".parse().unwrap(), "sub_DemoSeats00000001").await.unwrap().is_none()
    );
    assert_eq!(early.items_of("parked_event").await.len(), events.len());
    let r = send(&early, &webhook, &link()).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));

    assert_eq!(early.items_of("parked_event").await.len(), 0, "every parked event was replayed and forgotten");
    let (got, want) = (state(&early).await, state(&in_order).await);
    for (entity, items) in &want {
        assert_eq!(&got[entity], items, "{entity}");
    }
    for ev in &events {
        let rec = early.store().event_record(ev["id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_ne!(rec.outcome, EventOutcome::Parked, "{}", ev["id"]);
    }
}

#[tokio::test]
async fn a_parked_event_delivered_again_stays_parked_and_is_applied_once() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    let sub = unhinted(sample("customer.subscription.created.json")).to_string();
    assert_eq!(send(&s, &webhook, &sub).await.body["result"], json!({"recorded": "parked"}));
    assert_eq!(send(&s, &webhook, &sub).await.body["result"], json!("duplicate"));
    assert_eq!(s.items_of("parked_event").await.len(), 1);

    send(&s, &webhook, &link()).await;
    let demo = "acct_demo".parse().unwrap();
    assert_eq!(s.store().subscription(&demo, "sub_DemoSeats00000001").await.unwrap().unwrap().seats.get(), 5);
    assert_eq!(send(&s, &webhook, &sub).await.body["result"], json!("duplicate"));
    let seats_work = s.items_of("work_item").await.into_iter().filter(|w| w["kind"] == "seats_changed").count();
    assert_eq!(seats_work, 1, "applied once: one provisioning");
    // The link delivered again replays nothing more.
    assert_eq!(send(&s, &webhook, &link()).await.body["result"], json!("duplicate"));
    assert_eq!(s.items_of("work_item").await.into_iter().filter(|w| w["kind"] == "seats_changed").count(), 1);
}

#[tokio::test]
async fn a_link_that_never_comes_leaves_the_event_parked_listed_alarmed_and_discardable() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    let mut ev = unhinted(sample("customer.updated.json"));
    ev["data"]["object"]["id"] = json!("cus_NotOurs0000001");
    let r = send(&s, &webhook, &ev.to_string()).await;
    assert_eq!(r.body["result"], json!({"recorded": "parked"}));

    let listed = s.ops("GET", "/v1/ops/parked-events", None).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body["events"][0]["event_id"], ev["id"]);
    assert_eq!(listed.body["events"][0]["customer_id"], "cus_NotOurs0000001");
    assert_eq!(listed.body["events"][0]["type"], "customer.updated");
    // The sample was created long ago: older than any alert age, and listed by age.
    let waiting = listed.body["events"][0]["waiting_secs"].as_i64().unwrap();
    let older = s.ops("GET", &format!("/v1/ops/parked-events?older_than_secs={}", waiting + 3600), None).await;
    assert_eq!(older.body["events"], json!([]));
    let bad = s.ops("GET", "/v1/ops/parked-events?older_than_secs=soon", None).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));

    // The recovery job's sweep counts it as waiting too long (the alarm's metric) and leaves it.
    let swept =
        stripe_webhook::apply::sweep_parked(&s.store(), None, None, chrono::Duration::hours(24), chrono::Utc::now())
            .await
            .unwrap();
    assert_eq!((swept.waiting, swept.waiting_too_long, swept.replayed.applied), (1, 1, 0));

    let path = format!("/v1/ops/parked-events/{}/discard", ev["id"].as_str().unwrap());
    let refused = s.ops("POST", &path, Some(json!({"reason": " "}))).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let done = s.ops("POST", &path, Some(json!({"reason": "a customer of the other product line"}))).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["by"], "arn:aws:iam::123456789012:user/ops-tester");
    assert_eq!(s.ops("GET", "/v1/ops/parked-events", None).await.body["events"], json!([]));
    let rec = s.store().event_record(ev["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(rec.outcome, EventOutcome::Discarded);
    let ledger = s.items_of("stripe_event").await;
    let entry = ledger.iter().find(|e| e["event_id"] == ev["id"]).unwrap();
    assert_eq!(entry["discard"]["reason"], "a customer of the other product line");
    assert_eq!(s.ops("POST", &path, Some(json!({"reason": "again"}))).await.status, StatusCode::NOT_FOUND);
    // Delivered again, a discarded event stays discarded.
    assert_eq!(send(&s, &webhook, &ev.to_string()).await.body["result"], json!("duplicate"));
}

#[tokio::test]
async fn a_newer_event_racing_the_replay_of_an_older_parked_one_wins() {
    for round in 0..3 {
        let s = Stack::new().await;
        seed::seed(&s.store()).await.unwrap();
        let webhook = s.webhook(&[SECRET]);
        let at = sample("customer.subscription.created.json")["created"].as_i64().unwrap();
        let event = |id: &str, created: i64, quantity: u64| {
            let mut ev = unhinted(sample("customer.subscription.updated.json"));
            ev["id"] = json!(id);
            ev["created"] = json!(created);
            ev["data"]["object"]["items"]["data"][0]["quantity"] = json!(quantity);
            ev.to_string()
        };
        let older = event(&format!("evt_older_{round}"), at + 100, 8);
        assert_eq!(send(&s, &webhook, &older).await.body["result"], json!({"recorded": "parked"}));
        // The link (replaying the older event) and a fresh delivery of a newer one, at once.
        let newer = event(&format!("evt_newer_{round}"), at + 200, 6);
        let link = link();
        let (linked, fresh) = tokio::join!(send(&s, &webhook, &link), send(&s, &webhook, &newer));
        assert_eq!(linked.body["result"], json!({"recorded": "applied"}));
        assert_ne!(fresh.body["result"], json!("duplicate"));
        // Parked meanwhile (before the link), the newer one is replayed after the older.
        let swept = stripe_webhook::apply::sweep_parked(
            &s.store(),
            None,
            None,
            chrono::Duration::hours(24),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(swept.waiting, 0, "round {round}: nothing left parked ({swept:?})");
        let demo = "acct_demo".parse().unwrap();
        let sub = s.store().subscription(&demo, "sub_DemoSeats00000001").await.unwrap().unwrap();
        assert_eq!(sub.seats.get(), 6, "round {round}: the newer event's quantity stands");
        for id in [format!("evt_older_{round}"), format!("evt_newer_{round}")] {
            let rec = s.store().event_record(&id).await.unwrap().unwrap();
            assert!(matches!(rec.outcome, EventOutcome::Applied | EventOutcome::Stale), "{id}: {:?}", rec.outcome);
        }
    }
}

#[tokio::test]
async fn parked_events_are_read_a_page_at_a_time_in_stripes_order() {
    use billing_domain::billing::{EventRecord, ParkedEvent};
    use billing_domain::ports::ParkedReader;
    let s = Stack::new().await;
    let store = s.store();
    let now = chrono::Utc::now();
    // Two customers, created times out of order, two events in one second.
    let mut want = Vec::new();
    for (n, (customer, created)) in
        [("cus_A", 30), ("cus_B", 10), ("cus_A", 20), ("cus_B", 20), ("cus_A", 40)].into_iter().enumerate()
    {
        let id = format!("evt_page_{n}");
        let record = EventRecord {
            event_id: id.clone(),
            kind: "customer.updated".into(),
            created: chrono::DateTime::from_timestamp(created, 0).unwrap(),
            received_at: now,
            outcome: EventOutcome::Parked,
            account_id: None,
        };
        let parked = ParkedEvent {
            event_id: id.clone(),
            kind: record.kind.clone(),
            created,
            customer_id: customer.into(),
            payload: "{}".into(),
            parked_at: now,
        };
        store.park(&record, &parked).await.unwrap();
        want.push((created, id));
    }
    want.sort();
    let mut got = Vec::new();
    let mut page = store.parked_events(now, 2, None).await.unwrap();
    while !page.is_empty() {
        assert!(page.len() <= 2);
        got.extend(page.iter().map(|p| (p.created, p.event_id.clone())));
        page = store.parked_events(now, 2, page.last()).await.unwrap();
    }
    assert_eq!(got, want);
    let early = store.parked_events(chrono::DateTime::from_timestamp(20, 0).unwrap(), 10, None).await.unwrap();
    assert_eq!(early.len(), 3, "created at or before 20");
    assert_eq!(store.parked_for("cus_A").await.unwrap().iter().map(|p| p.created).collect::<Vec<_>>(), [20, 30, 40]);
}
