//! Refunds and disputes: recorded against the payment and in the account's audit trail. A
//! dispute names only its charge, which is re-read from Stripe (the fake) to find the account.

use billing_domain::AccountId;
use billing_domain::billing::{Projection, ProjectionKey};
use billing_domain::ports::ProcessorEvents;
use devstack::fake_stripe::FakeStripe;
use http::StatusCode;
use integration_tests::stripe::{sample, sign};
use integration_tests::{Stack, User};
use serde_json::{Value, json};
use stripe_webhook::stripe_api::StripeApi;

const SECRET: &str = "whsec_test_charges";

async fn deliver(s: &Stack, webhook: &axum::Router, ev: &Value) -> Value {
    let body = ev.to_string();
    let r = s.deliver(webhook, &body, Some(&sign(&body, SECRET, None))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["result"].clone()
}

async fn payment(s: &Stack) -> billing_domain::billing::PaymentRecord {
    let account: AccountId = "acct_demo".parse().unwrap();
    let key = ProjectionKey::Payment { account_id: account, charge_id: "ch_DemoFirstPayment1".into() };
    match s.store().projection(&key).await.unwrap() {
        Some(Projection::Payment(p)) => p,
        other => panic!("{other:?}"),
    }
}

async fn audit_actions(s: &Stack) -> Vec<String> {
    s.audit(&User::new("demo-admin").with_email("admin@demo.example"), "acct_demo")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_refund_then_a_dispute_are_recorded_and_audited() {
    let s = Stack::new().await;
    devstack::seed::seed(&s.store()).await.unwrap();
    let fake = FakeStripe::default();
    let url = fake.serve(0).await.unwrap();
    let refund = sample("charge.refunded.json");
    fake.put(refund["data"]["object"].clone());
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));
    deliver(&s, &webhook, &sample("checkout.session.completed.json")).await;

    assert_eq!(deliver(&s, &webhook, &refund).await, json!({"recorded": "applied"}));
    let p = payment(&s).await;
    assert_eq!((p.amount_refunded.to_string().as_str(), p.dispute.is_none()), ("12.00 USD", true));
    assert_eq!(audit_actions(&s).await[0], "payment.refunded");

    assert_eq!(deliver(&s, &webhook, &sample("charge.dispute.created.json")).await, json!({"recorded": "applied"}));
    let p = payment(&s).await;
    let dispute = p.dispute.expect("dispute recorded");
    assert_eq!((dispute.reason.as_str(), dispute.amount.to_string().as_str()), ("fraudulent", "60.00 USD"));
    let audit = s.audit(&User::new("demo-admin").with_email("admin@demo.example"), "acct_demo").await;
    assert_eq!(
        (audit[0]["action"].as_str(), audit[0]["actor"]["user_id"].as_str()),
        (Some("payment.disputed"), Some("stripe"))
    );
    assert_eq!(audit[0]["target"], "ch_DemoFirstPayment1");

    // A later refund event (no dispute details in a charge) keeps the dispute on record.
    let mut more = refund.clone();
    more["id"] = json!("evt_DemoChargeRefund2");
    more["created"] = json!(1_795_000_000 + 30 * 86_400);
    more["data"]["object"]["amount_refunded"] = json!(2400);
    assert_eq!(deliver(&s, &webhook, &more).await, json!({"recorded": "applied"}));
    let p = payment(&s).await;
    assert_eq!((p.amount_refunded.to_string().as_str(), p.dispute.is_some()), ("24.00 USD", true));
}

#[tokio::test]
async fn a_dispute_whose_charge_stripe_does_not_know_changes_nothing() {
    let s = Stack::new().await;
    let url = FakeStripe::default().serve(0).await.unwrap();
    let webhook = s.webhook_with(&[SECRET], Some(StripeApi::new("sk_test_fake", Some(&url)).unwrap()));
    assert_eq!(deliver(&s, &webhook, &sample("charge.dispute.created.json")).await, json!({"recorded": "ignored"}));
    assert_eq!(s.item_count().await, 1, "only the ledger entry");
}
