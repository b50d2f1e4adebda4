//! Members: invitations, activation, roles, the last-admin guard, and the audit trail.

use http::StatusCode;
use integration_tests::{Stack, User};
use serde_json::json;

#[tokio::test]
async fn an_invitee_becomes_active_on_their_first_call_with_a_verified_email() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let r = s.invite(&admin, &acct, "Bo@Example.com", "billing").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!((r.body["status"].as_str(), r.body["email"].as_str()), (Some("invited"), Some("bo@example.com")));

    // Same address, not verified: no access, and the invitation stays open.
    let unverified = User::new("bo-sub").with_email("bo@example.com").unverified();
    assert_eq!(s.get(&unverified, &format!("/v1/accounts/{acct}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&unverified, "/v1/me").await.body["memberships"], json!([]));

    // Verified: the first call to the account itself activates the membership.
    let bo = unverified.clone();
    let bo = User { email_verified: true, ..bo };
    let r = s.get(&bo, &format!("/v1/accounts/{acct}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let me = s.get(&bo, "/v1/me").await;
    assert_eq!(me.body["memberships"][0]["role"], "billing");

    let members = s.get(&admin, &format!("/v1/accounts/{acct}/members")).await;
    let statuses: Vec<(&str, &str)> = members.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("admin@example.com", "active"), ("bo@example.com", "active")]);

    let audit = s.audit(&admin, &acct).await;
    let actions: Vec<&str> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["member.activated", "member.invited", "account.created"]);
    assert_eq!(audit[0]["actor"]["user_id"], "bo-sub");
}

#[tokio::test]
async fn only_admins_invite_change_roles_or_remove() {
    let s = Stack::new().await;
    let (admin, bill, viewer) = (User::new("admin"), User::new("bill"), User::new("vera"));
    let acct = s.account_of(&admin, "Acme").await;
    let bill_id = s.add_member(&admin, &acct, &bill, "billing").await;
    let viewer_id = s.add_member(&admin, &acct, &viewer, "viewer").await;
    let before = s.item_count().await;

    for who in [&bill, &viewer] {
        let r = s.invite(who, &acct, "x@example.com", "admin").await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
        let r = s
            .call(who, "PATCH", &format!("/v1/accounts/{acct}/members/{viewer_id}"), Some(json!({"role": "admin"})))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = s.call(who, "DELETE", &format!("/v1/accounts/{acct}/members/{bill_id}"), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = s.get(who, &format!("/v1/accounts/{acct}/audit")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // But every member can read the account and its members.
        assert_eq!(s.get(who, &format!("/v1/accounts/{acct}/members")).await.status, StatusCode::OK);
    }
    assert_eq!(s.item_count().await, before, "refused requests wrote nothing");

    let r = s
        .call(&admin, "PATCH", &format!("/v1/accounts/{acct}/members/{viewer_id}"), Some(json!({"role": "billing"})))
        .await;
    assert_eq!((r.status, r.body["role"].as_str()), (StatusCode::OK, Some("billing")));
    // The new role takes effect on the next request.
    let r =
        s.call(&viewer, "PATCH", &format!("/v1/accounts/{acct}/billing-contact"), Some(json!({"name": "Vera"}))).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = s.call(&admin, "DELETE", &format!("/v1/accounts/{acct}/members/{bill_id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&bill, &format!("/v1/accounts/{acct}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&bill, "/v1/me").await.body["memberships"], json!([]));

    let audit = s.audit(&admin, &acct).await;
    assert_eq!(audit[0]["action"], "member.removed");
    assert_eq!(audit[0]["target"], bill_id.as_str());
    assert_eq!(audit[0]["before"]["email"], "bill@example.com");
    assert_eq!(audit[2]["action"], "member.role_changed");
    assert_eq!((audit[2]["before"].as_str(), audit[2]["after"].as_str()), (Some("viewer"), Some("billing")));
}

#[tokio::test]
async fn invitations_are_validated_and_unique_per_email() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let path = format!("/v1/accounts/{acct}/members");
    let r = s.call(&admin, "POST", &path, Some(json!({"email": "x@example.com", "role": "owner"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let r = s.call(&admin, "POST", &path, Some(json!({"email": "x", "role": "viewer"}))).await;
    assert_eq!(r.body["error"]["details"][0]["field"], "email");
    let r = s.call(&admin, "POST", &path, Some(json!({"email": "x@example.com", "role": "viewer"}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let items = s.item_count().await;
    let r = s.call(&admin, "POST", &path, Some(json!({"email": "X@EXAMPLE.com", "role": "admin"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "member_exists"));
    let r = s.call(&admin, "POST", &path, Some(json!({"email": "admin@example.com", "role": "viewer"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "member_exists"));
    assert_eq!(s.item_count().await, items, "no half-written member or audit entry");
}

#[tokio::test]
async fn the_last_active_admin_cannot_leave_or_be_demoted() {
    let s = Stack::new().await;
    let (admin, second) = (User::new("admin"), User::new("second"));
    let acct = s.account_of(&admin, "Acme").await;
    let my_id = s.get(&admin, "/v1/me").await.body["memberships"][0]["member_id"].as_str().unwrap().to_owned();
    let me_path = format!("/v1/accounts/{acct}/members/{my_id}");

    let r = s.call(&admin, "PATCH", &me_path, Some(json!({"role": "viewer"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_admin"));
    let r = s.call(&admin, "DELETE", &me_path, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_admin"));

    // An invited admin who has not signed in yet does not count.
    let r = s.invite(&admin, &acct, &second.email, "admin").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s.call(&admin, "DELETE", &me_path, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "last_admin"));

    // Once active, the first admin may step down.
    assert_eq!(s.get(&second, "/v1/me").await.body["memberships"][0]["role"], "admin");
    let r = s.call(&admin, "PATCH", &me_path, Some(json!({"role": "viewer"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = s.get(&admin, &format!("/v1/accounts/{acct}/audit")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a viewer no longer reads the audit trail");
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let s = Stack::new().await;
    let (a, b) = (User::new("a"), User::new("b"));
    let acct = s.account_of(&a, "Acme").await;
    let b_id = s.add_member(&a, &acct, &b, "admin").await;
    let a_id = s.get(&a, "/v1/me").await.body["memberships"][0]["member_id"].as_str().unwrap().to_owned();
    let (b_path, a_path) =
        (format!("/v1/accounts/{acct}/members/{b_id}"), format!("/v1/accounts/{acct}/members/{a_id}"));
    let (ra, rb) = tokio::join!(
        s.call(&a, "PATCH", &b_path, Some(json!({"role": "viewer"}))),
        s.call(&b, "PATCH", &a_path, Some(json!({"role": "viewer"}))),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    // One demotion wins; the other is refused either because the caller is no longer an admin
    // (403) or because it would remove the last admin (409).
    assert_eq!(statuses[0], StatusCode::OK, "{ra:?} {rb:?}");
    assert!(matches!(statuses[1], StatusCode::FORBIDDEN | StatusCode::CONFLICT), "{ra:?} {rb:?}");
    let members = s.get(&a, &format!("/v1/accounts/{acct}/members")).await.body;
    let admins = members["members"].as_array().unwrap().iter().filter(|m| m["role"] == "admin").count();
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn the_audit_trail_pages_newest_first() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    for i in 0..4 {
        let r = s
            .call(
                &admin,
                "PUT",
                &format!("/v1/accounts/{acct}/bill-recipients"),
                Some(json!({"recipients": [format!("r{i}@acme.example")]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let first = s.get(&admin, &format!("/v1/accounts/{acct}/audit?limit=3")).await;
    assert_eq!(first.body["entries"].as_array().unwrap().len(), 3);
    assert_eq!(first.body["entries"][0]["after"], json!(["r3@acme.example"]));
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = s.get(&admin, &format!("/v1/accounts/{acct}/audit?limit=3&cursor={cursor}")).await;
    let rest: Vec<&str> =
        second.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(rest, ["account.bill_recipients_updated", "account.created"]);
    assert!(second.body.get("next_cursor").is_none());

    for bad in ["limit=0", "limit=101", "limit=x", "cursor=nope", "colour=red"] {
        let r = s.get(&admin, &format!("/v1/accounts/{acct}/audit?{bad}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"), "{bad}");
    }
}
