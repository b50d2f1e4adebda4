//! Accounts: creation, profile, billing contact and address, bill recipients, idempotency.

use http::StatusCode;
use integration_tests::{Stack, User, new_account};
use serde_json::json;

#[tokio::test]
async fn creating_an_account_makes_the_caller_its_first_admin() {
    let s = Stack::new().await;
    let ann = User::new("ann");
    let r = s.call(&ann, "POST", "/v1/accounts", Some(new_account("Acme Hosting"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(id.starts_with("acct_"));
    assert_eq!(r.headers["location"], format!("/v1/accounts/{id}").as_str());
    assert_eq!(r.body["billing_mode"], "card");
    assert_eq!(r.body["currency"], "USD");
    assert_eq!(r.body["balance_due"], json!({"amount": "0.00", "currency": "USD"}));
    assert_eq!(r.body["billing_contact"]["phone"], "+15551234567");
    assert_eq!(r.body["remit_to"], json!(null));

    let me = s.get(&ann, "/v1/me").await;
    assert_eq!(
        me.body["memberships"],
        json!([{"account_id": id, "member_id": me.body["memberships"][0]["member_id"], "role": "admin"}])
    );
    let profile = s.get(&ann, &format!("/v1/accounts/{id}")).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.body["name"], "Acme Hosting");

    let audit = s.audit(&ann, id).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "account.created");
    assert_eq!(audit[0]["actor"]["user_id"], "ann");
    assert_eq!(audit[0]["after"]["name"], "Acme Hosting");
}

#[tokio::test]
async fn currencies_use_their_own_exponent() {
    let s = Stack::new().await;
    let mut body = new_account("Tokyo KK");
    body["currency"] = json!("jpy");
    let r = s.call(&User::new("kenji"), "POST", "/v1/accounts", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["balance_due"], json!({"amount": "0", "currency": "JPY"}));
}

#[tokio::test]
async fn an_unverified_email_cannot_create_an_account() {
    let s = Stack::new().await;
    let r = s.call(&User::new("eve").unverified(), "POST", "/v1/accounts", Some(new_account("X"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "email_not_verified");
    assert_eq!(s.item_count().await, 0);
}

#[tokio::test]
async fn invalid_fields_are_all_reported_and_nothing_is_written() {
    let s = Stack::new().await;
    let body = json!({
        "name": " ",
        "currency": "ABC",
        "billing_contact": {"name": "Ann", "email": "not-an-email", "phone": "12"},
        "billing_address": {"line1": "", "city": "Springfield", "country": "ZZ"}
    });
    let r = s.call(&User::new("ann"), "POST", "/v1/accounts", Some(body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "validation_failed");
    let fields: Vec<&str> =
        r.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "currency",
            "billing_contact.email",
            "billing_contact.phone",
            "billing_address.line1",
            "billing_address.country"
        ]
    );
    assert_eq!(s.item_count().await, 0);
}

#[tokio::test]
async fn unknown_fields_are_rejected_so_clients_cannot_set_the_billing_mode() {
    let s = Stack::new().await;
    let mut body = new_account("Sneaky");
    body["billing_mode"] = json!("invoice");
    let r = s.call(&User::new("ann"), "POST", "/v1/accounts", Some(body)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "validation_failed");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("billing_mode"), "{:?}", r.body);
    assert_eq!(s.item_count().await, 0);
}

#[tokio::test]
async fn malformed_bodies_get_400_and_415() {
    let s = Stack::new().await;
    let ann = User::new("ann");
    let r = s.call_with(Some(&ann), "POST", "/v1/accounts", &[], Some(b"{\"name\": ")).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_json"));
    let r = s.call_with(Some(&ann), "POST", "/v1/accounts", &[("content-type", "text/plain")], Some(b"{}")).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    assert_eq!(s.item_count().await, 0);
}

#[tokio::test]
async fn a_request_without_authorizer_claims_is_401() {
    let s = Stack::new().await;
    let r = s.call_with(None, "GET", "/v1/me", &[], None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_first_account() {
    let s = Stack::new().await;
    let ann = User::new("ann");
    let body = serde_json::to_vec(&new_account("Once Only")).unwrap();
    let key = [("Idempotency-Key", "create-once-1")];
    let first = s.call_with(Some(&ann), "POST", "/v1/accounts", &key, Some(&body)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let items = s.item_count().await;
    let again = s.call_with(Some(&ann), "POST", "/v1/accounts", &key, Some(&body)).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(s.item_count().await, items, "the replay wrote nothing");

    // Another caller's identical key is a different key.
    let bob = User::new("bob");
    let other = s.call_with(Some(&bob), "POST", "/v1/accounts", &key, Some(&body)).await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.body["id"], first.body["id"]);

    // The same key with a different request is refused.
    let changed = serde_json::to_vec(&new_account("Something Else")).unwrap();
    let reused = s.call_with(Some(&ann), "POST", "/v1/accounts", &key, Some(&changed)).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));

    let bad_key = s.call_with(Some(&ann), "POST", "/v1/accounts", &[("Idempotency-Key", "")], Some(&body)).await;
    assert_eq!((bad_key.status, bad_key.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));

    let me = s.get(&ann, "/v1/me").await;
    assert_eq!(me.body["memberships"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_account() {
    let s = Stack::new().await;
    let ann = User::new("ann");
    let body = serde_json::to_vec(&new_account("Raced")).unwrap();
    let key = [("Idempotency-Key", "race-1")];
    let calls = (0..5).map(|_| s.call_with(Some(&ann), "POST", "/v1/accounts", &key, Some(&body)));
    let replies = futures::future::join_all(calls).await;
    // Each retry either gets the account or is told the first request is still in flight.
    let mut ids = std::collections::BTreeSet::new();
    for r in &replies {
        match r.status {
            StatusCode::CREATED => {
                ids.insert(r.body["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => assert_eq!(r.code(), "request_in_progress"),
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!(ids.len(), 1, "one account for one key");
    let late = s.call_with(Some(&ann), "POST", "/v1/accounts", &key, Some(&body)).await;
    assert_eq!(late.status, StatusCode::CREATED);
    assert!(ids.contains(late.body["id"].as_str().unwrap()));
    let me = s.get(&ann, "/v1/me").await;
    assert_eq!(me.body["memberships"].as_array().unwrap().len(), 1);
}
