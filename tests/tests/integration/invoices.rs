//! Invoice events: projected with their lines, the account's balance due following, and the
//! follow-up work items the mailer needs; in any delivery order.

use billing_domain::AccountId;
use billing_domain::invoice::InvoiceStatus;
use billing_domain::ports::ProcessorEvents;
use devstack::seed;
use http::StatusCode;
use integration_tests::stripe::{sample, sign};
use integration_tests::{Stack, User};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_invoices";

async fn deliver(s: &Stack, webhook: &axum::Router, name: &str) -> Value {
    let body = sample(name).to_string();
    let r = s.deliver(webhook, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
    r.body["result"].clone()
}

async fn balance(s: &Stack) -> Value {
    let admin = User::new("demo-admin").with_email("admin@demo.example");
    s.get(&admin, "/v1/accounts/acct_demo").await.body["balance_due"].clone()
}

async fn work_kinds(s: &Stack) -> Vec<String> {
    // The seeded members' invitations are not the invoices' follow-up.
    let mut kinds: Vec<String> = s
        .items_of("work_item")
        .await
        .iter()
        .map(|w| w["kind"].as_str().unwrap().to_owned())
        .filter(|k| k != "member_invited")
        .collect();
    kinds.sort();
    kinds
}

fn demo() -> AccountId {
    "acct_demo".parse().unwrap()
}

#[tokio::test]
async fn a_finalized_then_paid_bill_moves_the_balance_and_leaves_mail_work() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);

    assert_eq!(deliver(&s, &webhook, "invoice.finalized.json").await, json!({"recorded": "applied"}));
    assert_eq!(balance(&s).await, json!({"amount": "60.00", "currency": "USD"}));
    let inv = s.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().expect("invoice");
    assert_eq!((inv.status, inv.lines.len()), (InvoiceStatus::Open, 1));
    assert_eq!(work_kinds(&s).await, ["bill_ready"]);

    assert_eq!(deliver(&s, &webhook, "invoice.paid.json").await, json!({"recorded": "applied"}));
    assert_eq!(balance(&s).await, json!({"amount": "0.00", "currency": "USD"}));
    assert_eq!(work_kinds(&s).await, ["bill_ready", "payment_received"]);
    assert_eq!(deliver(&s, &webhook, "invoice.paid.json").await, json!("duplicate"));
    assert_eq!(balance(&s).await, json!({"amount": "0.00", "currency": "USD"}));
}

#[tokio::test]
async fn paid_arriving_before_finalized_ends_paid_and_still_sends_the_bill() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    assert_eq!(deliver(&s, &webhook, "invoice.paid.json").await, json!({"recorded": "applied"}));
    assert_eq!(deliver(&s, &webhook, "invoice.finalized.json").await, json!({"recorded": "stale"}));
    let inv = s.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().unwrap();
    assert_eq!(inv.status, InvoiceStatus::Paid);
    assert_eq!(balance(&s).await, json!({"amount": "0.00", "currency": "USD"}));
    assert_eq!(work_kinds(&s).await, ["bill_ready", "payment_received"], "the bill is still mailed, once");
}

#[tokio::test]
async fn a_prorated_bill_whose_payment_fails_stays_due() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    deliver(&s, &webhook, "invoice.finalized.json").await;
    deliver(&s, &webhook, "invoice.paid.json").await;
    deliver(&s, &webhook, "invoice.proration.finalized.json").await;
    assert_eq!(deliver(&s, &webhook, "invoice.payment_failed.json").await, json!({"recorded": "applied"}));
    assert_eq!(balance(&s).await, json!({"amount": "24.00", "currency": "USD"}));
    let inv = s.store().invoice(&demo(), "in_DemoProration001").await.unwrap().unwrap();
    assert!(inv.lines.iter().all(|l| l.period.partial));
    let failed: Vec<Value> =
        s.items_of("work_item").await.into_iter().filter(|w| w["kind"] == "payment_failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["amount_due"], json!({"amount": "24.00", "currency": "USD"}));
}

#[tokio::test]
async fn an_invoice_in_another_currency_than_the_account_changes_nothing() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    let mut ev = sample("invoice.finalized.json");
    ev["data"]["object"]["currency"] = json!("eur");
    let body = ev.to_string();
    let items = s.item_count().await;
    let r = s.deliver(&webhook, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.body["result"], json!({"recorded": "ignored"}));
    assert!(s.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().is_none());
    assert_eq!(balance(&s).await, json!({"amount": "0.00", "currency": "USD"}));
    assert_eq!(s.item_count().await, items + 1, "only the ledger entry");
}

#[tokio::test]
async fn voided_and_uncollectible_invoices_leave_the_balance() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    deliver(&s, &webhook, "invoice.proration.finalized.json").await;
    assert_eq!(balance(&s).await, json!({"amount": "24.00", "currency": "USD"}));
    assert_eq!(deliver(&s, &webhook, "invoice.payment_action_required.json").await, json!({"recorded": "applied"}));
    assert_eq!(balance(&s).await, json!({"amount": "24.00", "currency": "USD"}), "still due while the customer acts");
    assert_eq!(deliver(&s, &webhook, "invoice.marked_uncollectible.json").await, json!({"recorded": "applied"}));
    assert_eq!(balance(&s).await, json!({"amount": "0.00", "currency": "USD"}), "written off, no longer due");
    // An invoice voided straight away never owed anything.
    assert_eq!(deliver(&s, &webhook, "invoice.voided.json").await, json!({"recorded": "applied"}));
    let voided = s.store().invoice(&demo(), "in_DemoVoided000001").await.unwrap().unwrap();
    assert_eq!(voided.status, InvoiceStatus::Void);
    assert_eq!(balance(&s).await, json!({"amount": "0.00", "currency": "USD"}));
}

#[tokio::test]
async fn an_invoice_with_more_lines_than_the_event_carries_is_itemized_in_full() {
    use devstack::fake_stripe::FakeStripe;
    use stripe_webhook::stripe_api::StripeApi;

    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    // 150 one-seat lines: two pages of Stripe's line list. The event carries only the first.
    let mut ev = sample("invoice.finalized.json");
    let template = ev["data"]["object"]["lines"]["data"][0].clone();
    let lines: Vec<Value> = (0..150)
        .map(|i| {
            let mut l = template.clone();
            l["id"] = json!(format!("il_Site{i:04}"));
            l["description"] = json!(format!("Seat for site {i}"));
            l["amount"] = json!(40);
            l["quantity"] = json!(1);
            l
        })
        .collect();
    ev["data"]["object"]["lines"]["data"] = json!([lines[0].clone()]);
    ev["data"]["object"]["lines"]["has_more"] = json!(true);
    let fake = FakeStripe::default();
    fake.put_invoice_lines("in_DemoFirst0000001", lines);
    let url = fake.serve(0).await.unwrap();
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));

    let body = ev.to_string();
    let r = s.deliver(&webhook, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    let inv = s.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().unwrap();
    assert_eq!((inv.lines.len(), inv.lines_complete), (150, true));
    assert_eq!(inv.lines[149].id, "il_Site0149");

    // Without a Stripe client the invoice is stored as it came, marked incomplete.
    let s2 = Stack::new().await;
    seed::seed(&s2.store()).await.unwrap();
    let plain = s2.webhook(&[SECRET]);
    let r = s2.deliver(&plain, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    let inv = s2.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().unwrap();
    assert_eq!((inv.lines.len(), inv.lines_complete), (1, false));
}

/// A product event (`product.created`/`updated`), with a new id and time.
fn product_event(id: &str, created: i64, name: &str) -> String {
    let mut ev = sample("product.updated.json");
    ev["id"] = json!(id);
    ev["created"] = json!(created);
    ev["data"]["object"]["name"] = json!(name);
    ev["data"]["object"]["updated"] = json!(created);
    ev.to_string()
}

async fn groups(s: &Stack) -> Vec<(String, Option<String>)> {
    let inv = s.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().expect("invoice");
    inv.lines.into_iter().map(|l| (l.group, l.product)).collect()
}

#[tokio::test]
async fn bills_group_their_lines_under_the_product_name_its_events_keep() {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    let seats = || Some("prod_DemoSeats0001".to_owned());

    assert_eq!(deliver(&s, &webhook, "product.created.json").await, json!({"recorded": "applied"}));
    assert_eq!(deliver(&s, &webhook, "product.created.json").await, json!("duplicate"));
    assert_eq!(deliver(&s, &webhook, "invoice.finalized.json").await, json!({"recorded": "applied"}));
    assert_eq!(groups(&s).await, [("Seats".to_owned(), seats())]);
    let admin = User::new("demo-admin").with_email("admin@demo.example");
    let shown = s.get(&admin, "/v1/accounts/acct_demo/invoices/in_DemoFirst0000001").await;
    assert_eq!(shown.body["groups"][0]["name"], json!("Seats"), "{:?}", shown.body);

    // Renamed: the next state of the invoice is grouped under the new name. A rename sent
    // earlier but delivered later changes nothing.
    assert_eq!(deliver(&s, &webhook, "product.updated.json").await, json!({"recorded": "applied"}));
    let late = product_event("evt_ProductLateName1", 1_795_000_000, "Seats (old)");
    let r = s.deliver(&webhook, &late, Some(&sign(&late, SECRET, None))).await;
    assert_eq!(r.body["result"], json!({"recorded": "stale"}));
    let kept = s.store().products(&["prod_DemoSeats0001"]).await.unwrap();
    assert_eq!(kept.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Team seats"]);
    assert_eq!(deliver(&s, &webhook, "invoice.paid.json").await, json!({"recorded": "applied"}));
    assert_eq!(groups(&s).await, [("Team seats".to_owned(), seats())]);
}

#[tokio::test]
async fn a_product_no_event_told_of_is_read_from_stripe_once_and_kept() {
    use devstack::fake_stripe::FakeStripe;
    use stripe_webhook::stripe_api::StripeApi;

    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let fake = FakeStripe::default();
    fake.put(sample("product.updated.json")["data"]["object"].clone());
    let url = fake.serve(0).await.unwrap();
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));

    assert_eq!(deliver(&s, &webhook, "invoice.finalized.json").await, json!({"recorded": "applied"}));
    assert_eq!(groups(&s).await, [("Team seats".to_owned(), Some("prod_DemoSeats0001".to_owned()))]);
    // Kept, stamped with the product's own last change: the older event about it is stale.
    let kept = s.store().products(&["prod_DemoSeats0001"]).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].stamp.at.timestamp(), 1_798_888_000);
    assert_eq!(deliver(&s, &webhook, "product.created.json").await, json!({"recorded": "stale"}));

    // The next state of the bill finds the name in the store, with no Stripe client to ask.
    let no_stripe = s.webhook(&[SECRET]);
    assert_eq!(deliver(&s, &no_stripe, "invoice.paid.json").await, json!({"recorded": "applied"}));
    assert_eq!(groups(&s).await[0].0, "Team seats");
}

#[tokio::test]
async fn a_product_stripe_cannot_name_now_is_retried_or_left_under_its_id() {
    use devstack::fake_stripe::FakeStripe;
    use stripe_webhook::stripe_api::StripeApi;

    // Stripe unreachable: the delivery fails (Stripe retries it) and nothing is written.
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let down = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some("http://127.0.0.1:9")).unwrap()));
    let body = sample("invoice.finalized.json").to_string();
    let r = s.deliver(&down, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(s.store().invoice(&demo(), "in_DemoFirst0000001").await.unwrap().is_none());
    assert!(s.store().event_record("evt_DemoInvFinalized1").await.unwrap().is_none(), "not claimed");

    // A product Stripe does not know (deleted long ago): the lines stay under its id.
    let fake = FakeStripe::default();
    let url = fake.serve(0).await.unwrap();
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));
    assert_eq!(deliver(&s, &webhook, "invoice.finalized.json").await, json!({"recorded": "applied"}));
    assert_eq!(groups(&s).await[0].0, "prod_DemoSeats0001");
}
