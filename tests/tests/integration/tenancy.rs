//! One account's members can never see or touch another account: everything answers 404, as if
//! the account did not exist.

use http::StatusCode;
use integration_tests::{Stack, User};
use serde_json::json;

#[tokio::test]
async fn a_member_of_one_account_gets_404_for_everything_of_another() {
    let s = Stack::new().await;
    let (alice, bob) = (User::new("alice"), User::new("bob"));
    let a = s.account_of(&alice, "Alice Co").await;
    let b = s.account_of(&bob, "Bob Co").await;
    let bobs_member = s.get(&bob, "/v1/me").await.body["memberships"][0]["member_id"].as_str().unwrap().to_owned();
    let items = s.item_count().await;

    let attempts: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", format!("/v1/accounts/{b}"), None),
        ("GET", format!("/v1/accounts/{b}/members"), None),
        ("GET", format!("/v1/accounts/{b}/members/{bobs_member}"), None),
        ("GET", format!("/v1/accounts/{b}/audit"), None),
        ("GET", format!("/v1/accounts/{b}/bill-recipients"), None),
        ("GET", format!("/v1/accounts/{b}/usage"), None),
        ("GET", format!("/v1/accounts/{b}/invoices/upcoming"), None),
        ("PUT", format!("/v1/accounts/{b}/bill-recipients"), Some(json!({"recipients": ["evil@example.com"]}))),
        ("PATCH", format!("/v1/accounts/{b}/billing-contact"), Some(json!({"email": "evil@example.com"}))),
        ("PATCH", format!("/v1/accounts/{b}/billing-address"), Some(json!({"city": "Evil"}))),
        ("POST", format!("/v1/accounts/{b}/members"), Some(json!({"email": "alice@example.com", "role": "admin"}))),
        ("PATCH", format!("/v1/accounts/{b}/members/{bobs_member}"), Some(json!({"role": "viewer"}))),
        ("DELETE", format!("/v1/accounts/{b}/members/{bobs_member}"), None),
        // Bob's member id under Alice's own account does not reach Bob's account either.
        ("DELETE", format!("/v1/accounts/{a}/members/{bobs_member}"), None),
    ];
    for (method, path, body) in attempts {
        let r = s.call(&alice, method, &path, body).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "{method} {path}");
    }
    assert_eq!(s.item_count().await, items, "nothing was written");

    // The same 404 as for an account that does not exist at all, or an id of the wrong shape.
    for path in
        ["/v1/accounts/acct_doesnotexist", "/v1/accounts/not-an-id", "/v1/accounts/acct_x/members/bad", "/v1/nowhere"]
    {
        let r = s.get(&alice, path).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
    let r = s.call(&alice, "DELETE", "/v1/me", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

#[tokio::test]
async fn an_invitation_to_another_address_grants_nothing() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let r = s.invite(&admin, &acct, "bo@example.com", "admin").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mallory = User::new("mallory").with_email("mallory@example.com");
    assert_eq!(s.get(&mallory, &format!("/v1/accounts/{acct}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&mallory, "/v1/me").await.body["memberships"], json!([]));
}
