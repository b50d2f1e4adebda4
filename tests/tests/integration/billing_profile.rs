//! Billing contact, billing address and bill recipients: who may change them, validation, audit.

use http::StatusCode;
use integration_tests::{Stack, User};
use serde_json::json;

#[tokio::test]
async fn billing_members_update_the_contact_viewers_cannot() {
    let s = Stack::new().await;
    let (admin, bill, viewer) = (User::new("admin"), User::new("bill"), User::new("vera"));
    let acct = s.account_of(&admin, "Acme").await;
    s.add_member(&admin, &acct, &bill, "billing").await;
    s.add_member(&admin, &acct, &viewer, "viewer").await;
    let path = format!("/v1/accounts/{acct}/billing-contact");

    let r = s.call(&viewer, "PATCH", &path, Some(json!({"name": "Vera"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));

    let r = s.call(&bill, "PATCH", &path, Some(json!({"email": "Invoices@Acme.example", "phone": null}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["billing_contact"], json!({"name": "Ann Lee", "email": "invoices@acme.example"}));

    let audit = s.audit(&admin, &acct).await;
    assert_eq!(audit[0]["action"], "account.billing_contact_updated");
    assert_eq!(audit[0]["actor"]["user_id"], "bill");
    assert_eq!(audit[0]["before"]["email"], "ap@example.com");
    assert_eq!(audit[0]["before"]["phone"], "+15551234567");
    assert_eq!(audit[0]["after"]["email"], "invoices@acme.example");
    assert!(audit[0]["after"].get("phone").is_none());
}

#[tokio::test]
async fn an_invalid_contact_changes_nothing() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let before = s.item_count().await;
    let path = format!("/v1/accounts/{acct}/billing-contact");
    let r = s.call(&admin, "PATCH", &path, Some(json!({"email": "nope", "name": ""}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        r.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["billing_contact.name", "billing_contact.email"]);
    let r = s.call(&admin, "PATCH", &path, Some(json!({"fax": "123"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    assert_eq!(s.item_count().await, before);
    let profile = s.get(&admin, &format!("/v1/accounts/{acct}")).await;
    assert_eq!(profile.body["billing_contact"]["email"], "ap@example.com");
}

#[tokio::test]
async fn the_address_is_merged_validated_and_audited() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let path = format!("/v1/accounts/{acct}/billing-address");

    let r = s.call(&admin, "PATCH", &path, Some(json!({"country": "Germany"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["details"][0]["field"], "billing_address.country");

    let r = s
        .call(&admin, "PATCH", &path, Some(json!({"line1": "Hauptstr. 5", "city": "Berlin", "postal_code": "10115", "country": "de", "line2": null})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["billing_address"],
        json!({"line1": "Hauptstr. 5", "city": "Berlin", "postal_code": "10115", "country": "DE"})
    );
    let too_long = "x".repeat(101);
    let r = s.call(&admin, "PATCH", &path, Some(json!({"line1": too_long}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The same address again writes nothing, not even an audit entry.
    let entries = s.audit(&admin, &acct).await.len();
    let r = s.call(&admin, "PATCH", &path, Some(json!({"city": "Berlin"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.audit(&admin, &acct).await.len(), entries);
    assert_eq!(s.audit(&admin, &acct).await[0]["action"], "account.billing_address_updated");
}

#[tokio::test]
async fn bill_recipients_are_deduplicated_and_capped() {
    let s = Stack::new().await;
    let (admin, viewer) = (User::new("admin"), User::new("vera"));
    let acct = s.account_of(&admin, "Acme").await;
    s.add_member(&admin, &acct, &viewer, "viewer").await;
    let path = format!("/v1/accounts/{acct}/bill-recipients");

    let r = s.get(&viewer, &path).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({"recipients": []})));

    let r = s
        .call(
            &admin,
            "PUT",
            &path,
            Some(json!({"recipients": ["ap@acme.example", "AP@acme.example", "cfo@acme.example"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!({"recipients": ["ap@acme.example", "cfo@acme.example"]}));
    assert_eq!(s.get(&viewer, &path).await.body, r.body);

    let many: Vec<String> = (0..21).map(|i| format!("r{i}@acme.example")).collect();
    let r = s.call(&admin, "PUT", &path, Some(json!({"recipients": many}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let r = s.call(&admin, "PUT", &path, Some(json!({"recipients": ["ok@acme.example", "broken"]}))).await;
    assert_eq!(r.body["error"]["details"][0]["field"], "recipients[1]");
    let r = s.call(&viewer, "PUT", &path, Some(json!({"recipients": []}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    assert_eq!(s.get(&viewer, &path).await.body, json!({"recipients": ["ap@acme.example", "cfo@acme.example"]}));
    let audit = s.audit(&admin, &acct).await;
    assert_eq!(audit[0]["action"], "account.bill_recipients_updated");
    assert_eq!(audit[0]["before"], json!([]));
}

#[tokio::test]
async fn concurrent_changes_to_one_account_are_all_kept() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let (contact_path, address_path, recipients_path) = (
        format!("/v1/accounts/{acct}/billing-contact"),
        format!("/v1/accounts/{acct}/billing-address"),
        format!("/v1/accounts/{acct}/bill-recipients"),
    );
    let contact = s.call(&admin, "PATCH", &contact_path, Some(json!({"name": "New Name"})));
    let address = s.call(&admin, "PATCH", &address_path, Some(json!({"city": "Shelbyville"})));
    let recipients = s.call(&admin, "PUT", &recipients_path, Some(json!({"recipients": ["x@acme.example"]})));
    let (a, b, c) = tokio::join!(contact, address, recipients);
    for r in [&a, &b, &c] {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let p = s.get(&admin, &format!("/v1/accounts/{acct}")).await.body;
    assert_eq!(p["billing_contact"]["name"], "New Name");
    assert_eq!(p["billing_address"]["city"], "Shelbyville");
    assert_eq!(p["bill_recipients"], json!(["x@acme.example"]));
}

/// A body of the wrong shape is a 422 whose `details` name the field and say, in plain words,
/// what it must be (what the portal shows next to the field), never serde's type names.
#[tokio::test]
async fn bodies_of_the_wrong_shape_are_explained_field_by_field() {
    let s = Stack::new().await;
    let admin = User::new("admin");
    let acct = s.account_of(&admin, "Acme").await;
    let cases = [
        ("PATCH", "billing-contact", json!({"name": 5}), "name", "must be text"),
        ("PATCH", "billing-contact", json!({"fax": "123"}), "fax", "is not a field of this request"),
        ("PUT", "bill-recipients", json!({"recipients": "ap@acme.example"}), "recipients", "must be a list"),
        ("PUT", "bill-recipients", json!({}), "recipients", "is required"),
        (
            "POST",
            "members",
            json!({"email": "x@acme.example", "role": "owner"}),
            "role",
            "must be one of: admin, billing, viewer",
        ),
        (
            "POST",
            "checkout/seats",
            json!({"interval": "monthly", "quantity": "five"}),
            "quantity",
            "must be a whole number",
        ),
    ];
    for (method, route, body, field, message) in cases {
        let r = s.call(&admin, method, &format!("/v1/accounts/{acct}/{route}"), Some(body.clone())).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            "{body}: {:?}",
            r.body
        );
        assert_eq!(r.body["error"]["details"], json!([{"field": field, "message": message}]), "{body}");
        let text = r.body.to_string();
        assert!(!text.contains("i64") && !text.contains("line 1"), "{text}");
    }
}
