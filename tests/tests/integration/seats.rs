//! Seats bought and changed by card through the fake Stripe, end to end: Checkout → webhooks →
//! subscription; preview → change → the prorated invoice charged exactly the previewed amount;
//! retries that never charge twice; accounts billed by invoice sent to sales.

use billing_domain::ports::{AccountReader, AccountWriter};
use billing_domain::{AccountId, Actor, AuditAction, AuditEntry, BillingMode};
use http::StatusCode;
use integration_tests::{MAX_SEATS, SALES, Stack, User};
use serde_json::{Value, json};

/// Buys `quantity` monthly seats for a new account of `admin` and lets Stripe's events arrive.
pub async fn account_with_seats(s: &Stack, webhook: &axum::Router, admin: &User, quantity: u32) -> String {
    let acct = s.account_of(admin, "Seats Inc").await;
    let r = s
        .call(
            admin,
            "POST",
            &format!("/v1/accounts/{acct}/checkout/seats"),
            Some(json!({"interval": "monthly", "quantity": quantity})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    s.fake.complete_checkout(r.body["id"].as_str().unwrap()).expect("checkout completes");
    s.flush(webhook).await;
    acct
}

fn amount(v: &Value) -> &str {
    v["amount"].as_str().unwrap_or_else(|| panic!("no amount in {v}"))
}

#[tokio::test]
async fn buy_five_seats_then_change_to_eight_charging_exactly_the_preview() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("seat-admin");
    let acct = s.account_of(&admin, "Seats Inc").await;

    // Checkout: the URL is the processor's page, tied to the account.
    let r = s
        .call(
            &admin,
            "POST",
            &format!("/v1/accounts/{acct}/checkout/seats"),
            Some(json!({"interval": "monthly", "quantity": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let session = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["url"], json!(format!("{}/checkout/{session}", s.stripe_url)));
    assert_eq!(s.fake.get(&session).unwrap()["client_reference_id"], json!(acct));
    assert_eq!(s.get(&admin, &format!("/v1/accounts/{acct}/subscription")).await.code(), "no_subscription");

    s.fake.complete_checkout(&session).unwrap();
    let mut delivered: Vec<String> = s.flush(&webhook).await.into_iter().map(|(kind, _)| kind).collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            "checkout.session.completed",
            "customer.subscription.created",
            "customer.updated",
            "invoice.finalized",
            "invoice.paid",
            "payment_method.attached",
        ],
        "every event of the purchase applied"
    );

    let sub = s.get(&admin, &format!("/v1/accounts/{acct}/subscription")).await;
    assert_eq!(sub.status, StatusCode::OK);
    assert_eq!(
        (&sub.body["seats"], &sub.body["interval"], &sub.body["status"]),
        (&json!(5), &json!("monthly"), &json!("active"))
    );
    assert_eq!(amount(&sub.body["next_renewal_amount"]), "60.00");
    let methods = s.get(&admin, &format!("/v1/accounts/{acct}/payment-methods")).await;
    assert_eq!(methods.body["payment_methods"][0]["last4"], "4242");
    assert_eq!(methods.body["payment_methods"][0]["default"], true);

    // Preview the new TOTAL, then apply it with the preview's proration date.
    let preview = s
        .call(&admin, "POST", &format!("/v1/accounts/{acct}/subscription/seats/preview"), Some(json!({"quantity": 8})))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    assert_eq!((&preview.body["current_quantity"], &preview.body["quantity"]), (&json!(5), &json!(8)));
    assert_eq!(amount(&preview.body["new_renewal_amount"]), "96.00");
    assert_eq!(preview.body["lines"].as_array().unwrap().len(), 2, "unused time credit and remaining time charge");
    let amount_now = amount(&preview.body["amount_now"]).to_owned();
    assert!(amount_now.parse::<f64>().unwrap() > 0.0, "adding seats costs something now: {amount_now}");
    let change = json!({"quantity": 8, "proration_date": preview.body["proration_date"]});
    let path = format!("/v1/accounts/{acct}/subscription/seats");
    let applied = s.call(&admin, "PUT", &path, Some(change.clone())).await;
    assert_eq!(applied.status, StatusCode::ACCEPTED, "{:?}", applied.body);
    assert_eq!(applied.body["status"], "pending");
    // The client retries (a lost response): the processor answers from its first attempt.
    assert_eq!(s.call(&admin, "PUT", &path, Some(change)).await.status, StatusCode::ACCEPTED);
    s.flush(&webhook).await;

    let sub = s.get(&admin, &format!("/v1/accounts/{acct}/subscription")).await;
    assert_eq!(sub.body["seats"], 8);
    let list = s.get(&admin, &format!("/v1/accounts/{acct}/invoices")).await;
    let invoices = list.body["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 2, "the first bill and one proration, not two: {invoices:?}");
    let proration = &invoices[0];
    assert_eq!(amount(&proration["total"]), amount_now, "charged exactly the previewed amount");
    assert_eq!(proration["status"], "paid");
    let detail = s.get(&admin, &format!("/v1/accounts/{acct}/invoices/{}", proration["id"].as_str().unwrap())).await;
    let lines = detail.body["groups"][0]["lines"].as_array().unwrap();
    assert!(lines.iter().all(|l| l["kind"] == "proration" && l["service_period"]["partial"] == true), "{lines:?}");
    assert_eq!(amount(&detail.body["groups"][0]["subtotal"]), amount_now);

    let audit: Vec<String> =
        s.audit(&admin, &acct).await.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    assert!(
        audit.contains(&"subscription.checkout_started".to_owned())
            && audit.contains(&"subscription.seats_changed".to_owned())
    );
}

#[tokio::test]
async fn annual_seats_invoice_the_proration_at_once() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("annual-admin");
    let acct = s.account_of(&admin, "Annual Ltd").await;
    let r = s
        .call(
            &admin,
            "POST",
            &format!("/v1/accounts/{acct}/checkout/seats"),
            Some(json!({"interval": "annual", "quantity": 2})),
        )
        .await;
    s.fake.complete_checkout(r.body["id"].as_str().unwrap()).unwrap();
    s.flush(&webhook).await;
    let sub = s.get(&admin, &format!("/v1/accounts/{acct}/subscription")).await;
    assert_eq!((&sub.body["interval"], amount(&sub.body["next_renewal_amount"])), (&json!("annual"), "240.00"));

    let preview = s
        .call(&admin, "POST", &format!("/v1/accounts/{acct}/subscription/seats/preview"), Some(json!({"quantity": 3})))
        .await;
    let change = json!({"quantity": 3, "proration_date": preview.body["proration_date"]});
    assert_eq!(
        s.call(&admin, "PUT", &format!("/v1/accounts/{acct}/subscription/seats"), Some(change)).await.status,
        StatusCode::ACCEPTED
    );
    s.flush(&webhook).await;
    let list = s.get(&admin, &format!("/v1/accounts/{acct}/invoices")).await;
    assert_eq!(
        amount(&list.body["invoices"][0]["total"]),
        amount(&preview.body["amount_now"]),
        "invoiced now, not in a year"
    );
}

#[tokio::test]
async fn seat_requests_are_validated() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("limits-admin");
    let acct = s.account_of(&admin, "Limits Co").await;
    let checkout = format!("/v1/accounts/{acct}/checkout/seats");
    for body in
        [json!({"interval": "monthly", "quantity": 0}), json!({"interval": "monthly", "quantity": MAX_SEATS + 1})]
    {
        let r = s.call(&admin, "POST", &checkout, Some(body)).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
        assert_eq!(r.body["error"]["details"][0]["field"], "quantity");
    }
    let r = s.call(&admin, "POST", &checkout, Some(json!({"interval": "weekly", "quantity": 2}))).await;
    assert_eq!(r.code(), "validation_failed");
    let r =
        s.call(&admin, "POST", &checkout, Some(json!({"interval": "monthly", "quantity": 2, "amount": "0.01"}))).await;
    assert_eq!(r.code(), "validation_failed", "a client cannot set a price or amount");
    let preview = format!("/v1/accounts/{acct}/subscription/seats/preview");
    assert_eq!(s.call(&admin, "POST", &preview, Some(json!({"quantity": 3}))).await.code(), "no_subscription");

    // Three people hold seats: the team cannot shrink below them.
    let r = s.call(&admin, "POST", &checkout, Some(json!({"interval": "monthly", "quantity": 4}))).await;
    s.fake.complete_checkout(r.body["id"].as_str().unwrap()).unwrap();
    s.flush(&webhook).await;
    s.provision(&acct).await;
    let seats = s.get(&admin, &format!("/v1/accounts/{acct}/seats")).await;
    for (seat, who) in
        seats.body["seats"].as_array().unwrap().iter().zip(["a@limits.example", "b@limits.example", "c@limits.example"])
    {
        let path = format!("/v1/accounts/{acct}/seats/{}/assign", seat["id"].as_str().unwrap());
        assert_eq!(s.call(&admin, "POST", &path, Some(json!({"email": who}))).await.status, StatusCode::OK);
    }
    let r = s.call(&admin, "POST", &checkout, Some(json!({"interval": "monthly", "quantity": 4}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "subscription_exists"));
    let r = s.call(&admin, "POST", &preview, Some(json!({"quantity": 2}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "seats_in_use"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains('3'));

    let apply = format!("/v1/accounts/{acct}/subscription/seats");
    let long_ago = json!({"quantity": 5, "proration_date": "2020-01-01T00:00:00Z"});
    let r = s.call(&admin, "PUT", &apply, Some(long_ago)).await;
    assert_eq!((r.code(), &r.body["error"]["details"][0]["field"]), ("validation_failed", &json!("proration_date")));
    let future =
        json!({"quantity": 5, "proration_date": (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339()});
    assert_eq!(s.call(&admin, "PUT", &apply, Some(future)).await.code(), "validation_failed");
    assert_eq!(s.get(&admin, &format!("/v1/accounts/{acct}/subscription")).await.body["seats"], 4, "nothing changed");
}

#[tokio::test]
async fn accounts_billed_by_invoice_are_sent_to_sales() {
    let s = Stack::new().await;
    let admin = User::new("contract-admin");
    let acct = s.account_of(&admin, "Contract Corp").await;
    let id: AccountId = acct.parse().unwrap();
    let store = s.store();
    let before = store.account(&id).await.unwrap().unwrap();
    let after = billing_domain::Account { billing_mode: BillingMode::Invoice, version: before.version + 1, ..before };
    let actor = Actor { user_id: "ops".parse().unwrap(), email: None };
    let audit = AuditEntry::record(
        &id,
        &actor,
        AuditAction::BillingContactUpdated,
        None,
        None::<&()>,
        None::<&()>,
        chrono::Utc::now(),
    );
    store.save_account(&after, &audit).await.unwrap();

    for (method, path, body) in [
        ("POST", "checkout/seats", json!({"interval": "monthly", "quantity": 5})),
        ("POST", "subscription/seats/preview", json!({"quantity": 8})),
        ("PUT", "subscription/seats", json!({"quantity": 8, "proration_date": chrono::Utc::now().to_rfc3339()})),
    ] {
        let r = s.call(&admin, method, &format!("/v1/accounts/{acct}/{path}"), Some(body)).await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "contact_sales"), "{path}");
        assert_eq!(r.body["error"]["contact"], SALES);
    }
    // Its usage and upcoming bill say, in words, that the contract is not loaded yet (not that
    // its bills come from the card processor).
    for path in ["usage", "invoices/upcoming"] {
        let r = s.get(&admin, &format!("/v1/accounts/{acct}/{path}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "contract_not_set_up"), "{path}");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("billed by invoice") && !message.contains("card processor"), "{message}");
    }
}

#[tokio::test]
async fn only_admins_and_billing_change_seats_and_strangers_see_nothing() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let admin = User::new("roles-admin");
    let acct = account_with_seats(&s, &webhook, &admin, 3).await;
    let billing = User::new("roles-billing").with_email("billing@roles.example");
    let viewer = User::new("roles-viewer").with_email("viewer@roles.example");
    s.add_member(&admin, &acct, &billing, "billing").await;
    s.add_member(&admin, &acct, &viewer, "viewer").await;
    let stranger = User::new("stranger");

    let preview = format!("/v1/accounts/{acct}/subscription/seats/preview");
    assert_eq!(s.call(&billing, "POST", &preview, Some(json!({"quantity": 4}))).await.status, StatusCode::OK);
    for (method, path, body) in [
        ("POST", "checkout/seats", Some(json!({"interval": "monthly", "quantity": 5}))),
        ("POST", "subscription/seats/preview", Some(json!({"quantity": 4}))),
        ("PUT", "subscription/seats", Some(json!({"quantity": 4, "proration_date": chrono::Utc::now().to_rfc3339()}))),
        ("POST", "payments", Some(json!({}))),
        ("POST", "payment-methods/setup", None),
        ("POST", "billing-portal-session", None),
    ] {
        let path = format!("/v1/accounts/{acct}/{path}");
        assert_eq!(s.call(&viewer, method, &path, body.clone()).await.code(), "forbidden", "viewer: {method} {path}");
        assert_eq!(s.call(&stranger, method, &path, body).await.code(), "not_found", "stranger: {method} {path}");
    }
    for path in ["subscription", "invoices", "statement", "payment-methods"] {
        let path = format!("/v1/accounts/{acct}/{path}");
        assert_eq!(s.get(&viewer, &path).await.status, StatusCode::OK, "viewer reads {path}");
        assert_eq!(s.get(&stranger, &path).await.code(), "not_found", "stranger: {path}");
    }
}

/// The seller turns on Stripe Tax for card accounts: Checkout asks Stripe to work out tax and to
/// collect the customer's tax ID; the subscription's invoices carry the tax Stripe computed, per
/// rate with its base and per line, named from Stripe's tax rate, shown like a contract bill's.
#[tokio::test]
async fn with_stripe_tax_on_card_invoices_carry_the_tax_stripe_computed() {
    let s = Stack::new().await;
    let webhook = s.live_webhook();
    let r = s.ops("PUT", "/v1/ops/settings/tax", Some(json!({"card_automatic_tax": true}))).await;
    assert_eq!((r.status, &r.body["card_automatic_tax"]), (StatusCode::OK, &json!(true)), "{:?}", r.body);

    let admin = User::new("stripe-tax-admin");
    let acct = s.account_of(&admin, "Taxed Seats Inc").await;
    let r = s
        .call(
            &admin,
            "POST",
            &format!("/v1/accounts/{acct}/checkout/seats"),
            Some(json!({"interval": "monthly", "quantity": 12})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let session = r.body["id"].as_str().unwrap().to_owned();
    let asked = s.fake.get(&format!("{session}#request")).expect("the request is kept")["form"].clone();
    assert_eq!(
        (asked["automatic_tax[enabled]"].as_str(), asked["tax_id_collection[enabled]"].as_str()),
        (Some("true"), Some("true"))
    );
    s.fake.complete_checkout(&session).expect("checkout completes");
    s.flush(&webhook).await;

    let list = s.get(&admin, &format!("/v1/accounts/{acct}/invoices")).await;
    let id = list.body["invoices"][0]["id"].as_str().expect("the first invoice").to_owned();
    let inv = s.get(&admin, &format!("/v1/accounts/{acct}/invoices/{id}")).await;
    assert_eq!(inv.status, StatusCode::OK, "{:?}", inv.body);
    // 12 seats × 12.00 = 144.00, Illinois sales tax 6.25 % = 9.00.
    assert_eq!(
        (amount(&inv.body["subtotal"]), amount(&inv.body["tax"]), amount(&inv.body["total"])),
        ("144.00", "9.00", "153.00")
    );
    let group = &inv.body["taxes"][0];
    assert_eq!(inv.body["taxes"].as_array().unwrap().len(), 1);
    assert_eq!(
        (group["name"].as_str(), group["rate"].as_str(), amount(&group["taxable_base"]), amount(&group["amount"])),
        (Some("Sales tax (Illinois)"), Some("6.25"), "144.00", "9.00")
    );
    assert_eq!(group["code"], "stripe:txr_fake_il_sales");
    let line_tax = &inv.body["groups"][0]["lines"][0]["taxes"][0];
    assert_eq!((line_tax["name"].as_str(), line_tax["rate"].as_str()), (Some("Sales tax (Illinois)"), Some("6.25")));
    // Paid in full: the balance is nothing, the statement closes at zero.
    let st = s.get(&admin, &format!("/v1/accounts/{acct}/statement")).await;
    assert_eq!(amount(&st.body["closing_balance"]), "0.00", "{:?}", st.body);
    assert_eq!(amount(&st.body["total_debits"]), "153.00");
}
