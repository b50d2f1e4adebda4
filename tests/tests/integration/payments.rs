//! Statements, paying the balance (saved card or Checkout, amounts only from the invoices),
//! payment methods and the customer portal, through the fake Stripe and its webhooks.

use http::StatusCode;
use integration_tests::{PORTAL_URL, Stack, User};
use serde_json::{Value, json};

use crate::seats::account_with_seats;

fn amount(v: &Value) -> String {
    v["amount"].as_str().unwrap_or_else(|| panic!("no amount in {v}")).to_owned()
}

/// An account with 2 seats whose card then fails a 2 → 6 seat change: one open invoice.
async fn account_owing(s: &Stack, webhook: &axum::Router, admin: &User) -> (String, String, String) {
    let acct = account_with_seats(s, webhook, admin, 2).await;
    let methods = s.get(admin, &format!("/v1/accounts/{acct}/payment-methods")).await;
    let card = methods.body["payment_methods"][0]["id"].as_str().unwrap().to_owned();
    s.fake.decline(&card);
    let preview = s
        .call(admin, "POST", &format!("/v1/accounts/{acct}/subscription/seats/preview"), Some(json!({"quantity": 6})))
        .await;
    let change = json!({"quantity": 6, "proration_date": preview.body["proration_date"]});
    let r = s.call(admin, "PUT", &format!("/v1/accounts/{acct}/subscription/seats"), Some(change)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let kinds: Vec<String> = s.flush(webhook).await.into_iter().map(|(k, _)| k).collect();
    assert!(kinds.contains(&"invoice.payment_failed".to_owned()), "{kinds:?}");
    (acct, card, amount(&preview.body["amount_now"]))
}

#[tokio::test]
async fn a_declined_change_leaves_a_balance_paid_through_checkout() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("pay-admin");
    let (acct, card, owed) = account_owing(&s, &webhook, &admin).await;

    let statement = s.get(&admin, &format!("/v1/accounts/{acct}/statement")).await;
    assert_eq!(amount(&statement.body["balance_due"]), owed);
    let open = statement.body["open_invoices"].as_array().unwrap();
    assert_eq!(open.len(), 1);
    let invoice = open[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(statement.body["latest_invoice"]["id"], json!(invoice));
    assert!(statement.body["latest_invoice"]["hosted_invoice_url"].as_str().unwrap().contains(&invoice));

    // The saved card is still declined: the result says so, nothing is paid.
    let pay = format!("/v1/accounts/{acct}/payments");
    let r = s.call(&admin, "POST", &pay, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!((&r.body["mode"], &r.body["payment_method_id"]), (&json!("saved_method"), &json!(card)));
    assert_eq!(r.body["results"][0]["outcome"], "declined");
    assert_eq!(amount(&r.body["total"]), owed);

    // A client cannot name an amount; only invoices.
    let r = s.call(&admin, "POST", &pay, Some(json!({"amount": "0.50"}))).await;
    assert_eq!(r.code(), "validation_failed");
    let r = s.call(&admin, "POST", &pay, Some(json!({"invoice_ids": ["in_not_ours"]}))).await;
    assert_eq!((r.code(), &r.body["error"]["details"][0]["field"]), ("validation_failed", &json!("invoice_ids[0]")));

    // Pay with another card through Checkout: the session carries the invoice's own amount.
    let r = s.call(&admin, "POST", &pay, Some(json!({"invoice_ids": [invoice], "pay_with": "checkout"}))).await;
    assert_eq!((r.status, &r.body["mode"]), (StatusCode::CREATED, &json!("checkout")), "{:?}", r.body);
    let session = s.fake.get(r.body["session_id"].as_str().unwrap()).unwrap();
    let owed_minor = (owed.parse::<f64>().unwrap() * 100.0).round() as i64;
    assert_eq!(session["amount_total"], json!(owed_minor));
    s.fake.complete_checkout(r.body["session_id"].as_str().unwrap()).unwrap();
    let kinds: Vec<(String, Value)> = s.flush(&webhook).await;
    assert_eq!(
        kinds.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["checkout.session.completed", "invoice.paid"],
        "the webhook settles the invoice at Stripe, whose invoice.paid follows"
    );
    let statement = s.get(&admin, &format!("/v1/accounts/{acct}/statement")).await;
    assert_eq!(amount(&statement.body["balance_due"]), "0.00");
    assert_eq!(s.call(&admin, "POST", &pay, Some(json!({}))).await.code(), "nothing_to_pay");
}

#[tokio::test]
async fn a_saved_card_pays_and_a_retry_charges_once() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("retry-admin");
    let (acct, _declined, owed) = account_owing(&s, &webhook, &admin).await;

    // A new card becomes the default (what a Checkout in setup mode does).
    let customer = first_invoice_customer(&s, &admin, &acct).await;
    let good = s.fake.attach_new_card(&customer, "4444", "mastercard");
    s.flush(&webhook).await;
    let r = s.call(&admin, "POST", &format!("/v1/accounts/{acct}/payment-methods/{good}/default"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    s.flush(&webhook).await;
    let methods = s.get(&admin, &format!("/v1/accounts/{acct}/payment-methods")).await;
    let defaults: Vec<&Value> =
        methods.body["payment_methods"].as_array().unwrap().iter().filter(|m| m["default"] == true).collect();
    assert_eq!((defaults.len(), &defaults[0]["id"]), (1, &json!(good)));

    let pay = format!("/v1/accounts/{acct}/payments");
    let key = [("idempotency-key", "pay-once-1")];
    let body = serde_json::to_vec(&json!({})).unwrap();
    let first = s.call_with(Some(&admin), "POST", &pay, &key, Some(&body)).await;
    assert_eq!(first.body["results"][0]["outcome"], "paid", "{:?}", first.body);
    assert_eq!(amount(&first.body["results"][0]["amount_paid"]), owed);
    // The response was lost; the client retries before the webhook updated our copy.
    let again = s.call_with(Some(&admin), "POST", &pay, &key, Some(&body)).await;
    assert_eq!(again.body["results"][0]["outcome"], "already_paid", "{:?}", again.body);
    let paid_events = s.flush(&webhook).await.into_iter().filter(|(k, _)| k == "invoice.paid").count();
    assert_eq!(paid_events, 1, "charged once");
    assert_eq!(amount(&s.get(&admin, &format!("/v1/accounts/{acct}/statement")).await.body["balance_due"]), "0.00");
}

/// The customer id of the account's invoices (the fake's customer).
async fn first_invoice_customer(s: &Stack, admin: &User, acct: &str) -> String {
    let list = s.get(admin, &format!("/v1/accounts/{acct}/invoices")).await;
    let id = list.body["invoices"][0]["id"].as_str().unwrap().to_owned();
    s.fake.get(&id).unwrap()["customer"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_invoice_that_changed_at_stripe_is_not_charged() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("changed-admin");
    let (acct, _, _) = account_owing(&s, &webhook, &admin).await;
    let list = s.get(&admin, &format!("/v1/accounts/{acct}/invoices?status=open")).await;
    let id = list.body["invoices"][0]["id"].as_str().unwrap().to_owned();
    let mut remote = s.fake.get(&id).unwrap();
    remote["amount_remaining"] = json!(1);
    s.fake.put(remote);
    let pay = format!("/v1/accounts/{acct}/payments");
    let r = s.call(&admin, "POST", &pay, Some(json!({"invoice_ids": [id]}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "invoice_changed"));
    // The answer offers the invoice as Stripe has it now.
    let now = json!({"id": id, "status": "open", "amount_remaining": {"amount": "0.01", "currency": "USD"}});
    assert_eq!(r.body["error"]["invoice"], now, "{:?}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("0.01"), "{:?}", r.body);

    // Confirming another amount, or naming an invoice not being paid, is refused.
    let stale = json!([{"invoice_id": id, "amount_remaining": {"amount": "5.00", "currency": "USD"}}]);
    let r = s.call(&admin, "POST", &pay, Some(json!({"invoice_ids": [id], "expected_amounts": stale}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "invoice_changed"));
    let other = json!([{"invoice_id": "in_other", "amount_remaining": now["amount_remaining"]}]);
    let r = s.call(&admin, "POST", &pay, Some(json!({"invoice_ids": [id], "expected_amounts": other}))).await;
    assert_eq!(
        (r.code(), &r.body["error"]["details"][0]["field"]),
        ("validation_failed", &json!("expected_amounts[0].invoice_id"))
    );

    // Confirmed: paid for what Stripe has left on it, through Checkout (the saved card declines).
    let confirmed = json!([{"invoice_id": id, "amount_remaining": now["amount_remaining"]}]);
    let body = json!({"invoice_ids": [id], "expected_amounts": confirmed, "pay_with": "checkout"});
    let r = s.call(&admin, "POST", &pay, Some(body)).await;
    assert_eq!((r.status, &r.body["mode"]), (StatusCode::CREATED, &json!("checkout")), "{:?}", r.body);
    assert_eq!(amount(&r.body["total"]), "0.01");
    assert_eq!(s.fake.get(r.body["session_id"].as_str().unwrap()).unwrap()["amount_total"], json!(1));
}

#[tokio::test]
async fn payment_methods_setup_default_and_removal() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("pm-admin");
    let fresh = s.account_of(&admin, "No Customer Yet").await;
    let r = s.call(&admin, "POST", &format!("/v1/accounts/{fresh}/payment-methods/setup"), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "no_billing_customer"));

    let acct = account_with_seats(&s, &webhook, &admin, 1).await;
    let only = s.get(&admin, &format!("/v1/accounts/{acct}/payment-methods")).await.body["payment_methods"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.call(&admin, "DELETE", &format!("/v1/accounts/{acct}/payment-methods/{only}"), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "payment_method_required"));
    let r = s.call(&admin, "DELETE", &format!("/v1/accounts/{acct}/payment-methods/pm_unknown"), None).await;
    assert_eq!(r.code(), "not_found");

    // Save a second card through Checkout in setup mode, then remove the first.
    let r = s.call(&admin, "POST", &format!("/v1/accounts/{acct}/payment-methods/setup"), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let session = s.fake.get(r.body["id"].as_str().unwrap()).unwrap();
    assert_eq!((&session["mode"], &session["client_reference_id"]), (&json!("setup"), &json!(acct)));
    s.fake.complete_checkout(r.body["id"].as_str().unwrap()).unwrap();
    s.flush(&webhook).await;
    let listed = s.get(&admin, &format!("/v1/accounts/{acct}/payment-methods")).await;
    assert_eq!(listed.body["payment_methods"].as_array().unwrap().len(), 2);
    let r = s.call(&admin, "DELETE", &format!("/v1/accounts/{acct}/payment-methods/{only}"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    s.flush(&webhook).await;
    let left = s.get(&admin, &format!("/v1/accounts/{acct}/payment-methods")).await;
    let ids: Vec<&str> =
        left.body["payment_methods"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&only.as_str()) && ids.len() == 1, "{ids:?}");
}

#[tokio::test]
async fn the_customer_portal_returns_only_to_the_portal() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("portal-admin");
    let acct = account_with_seats(&s, &webhook, &admin, 1).await;
    let path = format!("/v1/accounts/{acct}/billing-portal-session");
    let r = s.call(&admin, "POST", &path, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let session = s.fake.get(r.body["id"].as_str().unwrap()).unwrap();
    assert_eq!(session["return_url"], json!(format!("{PORTAL_URL}/accounts/{acct}/billing")));
    let back = format!("{PORTAL_URL}/receipts");
    assert_eq!(s.call(&admin, "POST", &path, Some(json!({"return_url": back}))).await.status, StatusCode::CREATED);
    let r = s.call(&admin, "POST", &path, Some(json!({"return_url": "https://evil.example/phish"}))).await;
    assert_eq!((r.code(), &r.body["error"]["details"][0]["field"]), ("validation_failed", &json!("return_url")));
}

#[tokio::test]
async fn an_event_about_a_customer_not_linked_yet_is_parked_then_applied_by_its_link() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    // A card attached to a customer whose checkout has not been delivered yet.
    let pm = s.fake.attach_new_card("cus_NotLinkedYet", "4242", "visa");
    let event = s.fake.take_emitted().pop().expect("payment_method.attached");
    let body = event.to_string();
    let secret = integration_tests::FLUSH_SECRET;
    let r = s.deliver(&webhook, &body, Some(&devstack::sign_event(&body, secret))).await;
    // 200: Stripe is not asked to retry; the event waits for its link, kept as delivered.
    assert_eq!((r.status, &r.body["result"]), (StatusCode::OK, &json!({"recorded": "parked"})));
    assert_eq!(s.items_of("parked_event").await.len(), 1);
    assert!(s.items_of("projection").await.iter().all(|p| p["id"] != json!(pm)));

    // The customer's checkout completes: the link's delivery applies the parked event.
    let mut checkout = integration_tests::stripe::sample("checkout.session.completed.json");
    checkout["id"] = json!("evt_checkout_links_later");
    checkout["data"]["object"]["customer"] = json!("cus_NotLinkedYet");
    let body = checkout.to_string();
    let r = s.deliver(&webhook, &body, Some(&devstack::sign_event(&body, secret))).await;
    assert_eq!(r.body["result"], json!({"recorded": "applied"}));
    assert!(s.items_of("parked_event").await.is_empty());
    assert!(s.items_of("projection").await.iter().any(|p| p["id"] == json!(pm)), "the card is on the account now");
}
