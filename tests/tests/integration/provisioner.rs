//! The seat provisioner against the stand-in's table: seats follow the paid quantity up, down
//! (never revoking an assigned seat), into suspension and back; duplicates, reordered records
//! and concurrent runs converge on the same seats; admins get one seats-ready notice per change.

use billing_domain::ports::{ProcessorEvents, SeatStore};
use billing_domain::seats::SeatStatus;
use billing_domain::{AccountId, Email};
use integration_tests::stripe::{sample, sign};
use integration_tests::{Stack, User};
use seat_provisioner::Provisioner;
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_provisioner";

fn demo() -> AccountId {
    "acct_demo".parse().unwrap()
}

/// Delivers a subscription event with `quantity` seats, `status` and `created` time.
async fn subscription_event(s: &Stack, webhook: &axum::Router, id: &str, created: i64, quantity: u32, status: &str) {
    let mut ev: Value = sample("customer.subscription.updated.json");
    ev["id"] = json!(id);
    ev["created"] = json!(created);
    ev["data"]["object"]["items"]["data"][0]["quantity"] = json!(quantity);
    ev["data"]["object"]["status"] = json!(status);
    let body = ev.to_string();
    let r = s.deliver(webhook, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.status, http::StatusCode::OK, "{:?}", r.body);
}

async fn seats(s: &Stack) -> Vec<(SeatStatus, Option<Email>)> {
    let mut v: Vec<_> =
        s.store().seat_book(&demo()).await.unwrap().seats.into_iter().map(|x| (x.status, x.assignee)).collect();
    v.sort_by_key(|(st, a)| (format!("{st:?}"), a.clone()));
    v
}

fn count(v: &[(SeatStatus, Option<Email>)], status: SeatStatus) -> usize {
    v.iter().filter(|(s, _)| *s == status).count()
}

/// Delivers the work items written since the last call, as the stream would (each once).
async fn provision(s: &Stack, seen: &mut Vec<String>) {
    let p = Provisioner::new(s.store());
    let mut batch = s.stream_of("work_item").await;
    let key = |r: &aws_lambda_events::event::dynamodb::EventRecord| format!("{:?}", r.change.keys.get("sk"));
    batch.records.retain(|r| !seen.contains(&key(r)));
    seen.extend(batch.records.iter().map(key));
    assert!(p.handle(batch).await.batch_item_failures.is_empty());
}

/// The whole stream again from the start (a replay): changes nothing.
async fn replay(s: &Stack) {
    let batch = s.stream_of("work_item").await;
    assert!(Provisioner::new(s.store()).handle(batch).await.batch_item_failures.is_empty());
}

#[tokio::test]
async fn seats_follow_the_paid_quantity_and_never_revoke_an_assigned_seat() {
    let s = Stack::new().await;
    devstack::seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    let admin = User::new("demo-admin").with_email("admin@demo.example");
    let t0 = 1_795_100_000;

    let seen = &mut Vec::new();
    subscription_event(&s, &webhook, "evt_p1", t0, 5, "active").await;
    provision(&s, seen).await;
    assert_eq!(count(&seats(&s).await, SeatStatus::Unassigned), 5);
    // The whole stream again (a replay): nothing changes.
    replay(&s).await;
    assert_eq!(seats(&s).await.len(), 5);

    // Three people get seats through the portal.
    let list = s.get(&admin, "/v1/accounts/acct_demo/seats").await;
    for (seat, who) in
        list.body["seats"].as_array().unwrap().iter().zip(["a@demo.example", "b@demo.example", "c@demo.example"])
    {
        let r = s
            .call(
                &admin,
                "POST",
                &format!("/v1/accounts/acct_demo/seats/{}/assign", seat["id"].as_str().unwrap()),
                Some(json!({"email": who})),
            )
            .await;
        assert_eq!(r.status, http::StatusCode::OK, "{:?}", r.body);
    }
    let again = s
        .call(
            &admin,
            "POST",
            &format!("/v1/accounts/acct_demo/seats/{}/assign", list.body["seats"][3]["id"].as_str().unwrap()),
            Some(json!({"email": "a@demo.example"})),
        )
        .await;
    assert_eq!(again.body["error"]["code"], "already_assigned");

    // Down to 2 seats: the free seats go, one person's seat waits for an admin.
    subscription_event(&s, &webhook, "evt_p2", t0 + 10, 2, "active").await;
    provision(&s, seen).await;
    let now = seats(&s).await;
    assert_eq!((now.len(), count(&now, SeatStatus::Assigned), count(&now, SeatStatus::PendingRemoval)), (3, 2, 1));

    // An admin frees the seat beyond what is paid: it goes; a viewer may not touch seats.
    let list = s.get(&admin, "/v1/accounts/acct_demo/seats").await;
    assert_eq!((&list.body["pending_removal"], &list.body["active"]), (&json!(1), &json!(2)));
    let pending =
        list.body["seats"].as_array().unwrap().iter().find(|x| x["status"] == "pending_removal").unwrap().clone();
    let viewer = User::new("demo-viewer").with_email("viewer@demo.example");
    let path =
        |seat: &Value, what: &str| format!("/v1/accounts/acct_demo/seats/{}/{what}", seat["id"].as_str().unwrap());
    assert_eq!(s.call(&viewer, "POST", &path(&pending, "unassign"), None).await.body["error"]["code"], "forbidden");
    assert_eq!(s.call(&admin, "POST", &path(&pending, "unassign"), None).await.status, http::StatusCode::NO_CONTENT);
    let list = s.get(&admin, "/v1/accounts/acct_demo/seats").await;
    assert_eq!((list.body["seats"].as_array().unwrap().len(), &list.body["pending_removal"]), (2, &json!(0)));
    let taken = list.body["seats"][0].clone();
    let freed = s.call(&admin, "POST", &path(&taken, "unassign"), None).await;
    assert_eq!((freed.status, &freed.body["status"]), (http::StatusCode::OK, &json!("unassigned")));
    assert_eq!(
        s.call(&admin, "POST", &path(&taken, "unassign"), None).await.body["error"]["code"],
        "seat_not_assigned"
    );
    let back = s.call(&admin, "POST", &path(&taken, "assign"), Some(json!({"email": pending["assignee"]}))).await;
    assert_eq!(back.status, http::StatusCode::OK, "{:?}", back.body);
    let audit: Vec<String> =
        s.audit(&admin, "acct_demo").await.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    assert!(audit.contains(&"seat.assigned".to_owned()) && audit.contains(&"seat.unassigned".to_owned()));

    // Canceled: everything suspended, assignments kept; back to 4: restored, plus one free seat.
    subscription_event(&s, &webhook, "evt_p3", t0 + 20, 2, "canceled").await;
    provision(&s, seen).await;
    assert!(seats(&s).await.iter().all(|(st, _)| *st == SeatStatus::Suspended));
    subscription_event(&s, &webhook, "evt_p4", t0 + 30, 4, "active").await;
    provision(&s, seen).await;
    let back = seats(&s).await;
    assert_eq!((count(&back, SeatStatus::Assigned), count(&back, SeatStatus::Unassigned)), (2, 2));

    // An older event arriving now changes nothing: the provisioner reads the stored subscription.
    subscription_event(&s, &webhook, "evt_p0_late", t0 - 10, 9, "active").await;
    provision(&s, seen).await;
    replay(&s).await;
    assert_eq!(seats(&s).await, back);

    // One seats-ready notice per change, none for the replays.
    let notices = s.items_of("work_item").await.into_iter().filter(|w| w["kind"] == "seats_ready").count();
    assert_eq!(notices, 4);
}

#[tokio::test]
async fn concurrent_reconciliations_provision_exactly_the_paid_seats() {
    let s = Stack::new().await;
    devstack::seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    subscription_event(&s, &webhook, "evt_c1", 1_795_100_000, 7, "active").await;
    let sub = s.store().subscription(&demo(), "sub_DemoSeats00000001").await.unwrap().unwrap();
    let (a, b) = (Provisioner::new(s.store()), Provisioner::new(s.store()));
    let acct = demo();
    let (ra, rb) = tokio::join!(a.reconcile(&acct, &sub.id, "evt_c1"), b.reconcile(&acct, &sub.id, "evt_c1"));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(seats(&s).await.len(), 7, "not 14, not fewer");
    assert_eq!(s.items_of("work_item").await.into_iter().filter(|w| w["kind"] == "seats_ready").count(), 1);
}
