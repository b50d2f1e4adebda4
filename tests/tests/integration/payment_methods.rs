//! Payment methods: the summary the portal lists (brand, last 4, expiry, never the number), the
//! default, and removal; an older `attached` never revives a detached method.

use billing_domain::AccountId;
use billing_domain::billing::{Projection, ProjectionKey};
use billing_domain::ports::ProcessorEvents;
use http::StatusCode;
use integration_tests::Stack;
use integration_tests::stripe::{sample, sign};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_pm";

async fn deliver(s: &Stack, webhook: &axum::Router, body: &str) -> Value {
    let r = s.deliver(webhook, body, Some(&sign(body, SECRET, None))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["result"].clone()
}

fn demo() -> AccountId {
    "acct_demo".parse().unwrap()
}

async fn card(s: &Stack) -> Option<billing_domain::billing::PaymentMethodSummary> {
    let key = ProjectionKey::PaymentMethod { account_id: demo(), payment_method_id: "pm_DemoVisa00000001".into() };
    match s.store().projection(&key).await.unwrap() {
        Some(Projection::PaymentMethod(pm)) => Some(pm),
        None => None,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_card_is_saved_made_default_and_removed() {
    let s = Stack::new().await;
    let webhook = s.webhook(&[SECRET]);
    // The payment method names no account: its customer's link (from checkout) does.
    deliver(&s, &webhook, &sample("checkout.session.completed.json").to_string()).await;
    assert_eq!(
        deliver(&s, &webhook, &sample("payment_method.attached.json").to_string()).await,
        json!({"recorded": "applied"})
    );
    let pm = card(&s).await.expect("summary");
    assert_eq!((pm.last4.as_deref(), pm.attached), (Some("4242"), true));

    assert_eq!(
        deliver(&s, &webhook, &sample("customer.updated.json").to_string()).await,
        json!({"recorded": "applied"})
    );
    let default = s.store().projection(&ProjectionKey::DefaultPaymentMethod { account_id: demo() }).await.unwrap();
    assert!(
        matches!(default, Some(Projection::DefaultPaymentMethod(d)) if d.payment_method_id.as_deref() == Some("pm_DemoVisa00000001"))
    );

    assert_eq!(
        deliver(&s, &webhook, &sample("payment_method.detached.json").to_string()).await,
        json!({"recorded": "applied"})
    );
    assert!(!card(&s).await.unwrap().attached);

    // The attach event redelivered under a new id but its old time: stale, the card stays removed.
    let mut again = sample("payment_method.attached.json");
    again["id"] = json!("evt_DemoPmAttachedLate");
    assert_eq!(deliver(&s, &webhook, &again.to_string()).await, json!({"recorded": "stale"}));
    assert!(!card(&s).await.unwrap().attached);
    let stored = s.items_of("projection").await.into_iter().map(|p| p.to_string()).collect::<String>();
    assert!(!stored.contains("\"number\""), "no card number is ever stored");
}
