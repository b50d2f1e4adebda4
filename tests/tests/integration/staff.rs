//! The back office's API: every staff route for every role (allowed, or refused with 403 and
//! nothing changed), reasons on staff writes, and four-eyes approval of large credit notes.

use chrono::{Datelike, Months, Utc};
use http::StatusCode;
use integration_tests::{Stack, StaffUser};
use serde_json::{Value, json};

const REASON: Option<(&str, &str)> = Some(("service_credit", "rack A12 down 3 days"));

/// Every item of the table, in a comparable form: what "nothing changed" compares.
async fn snapshot(s: &Stack) -> Vec<String> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = s
            .client
            .scan()
            .table_name(&s.table)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        // As JSON, whose maps are ordered: equal items give equal strings.
        items.extend(
            out.items()
                .iter()
                .map(|i| serde_dynamo::from_item::<_, Value>(i.clone()).expect("an item reads as JSON").to_string()),
        );
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    items.sort();
    items
}

/// An import line of cohort `dc1`: a tenant with `racks` racks at 500.00 since 2025.
fn tenant(id: &str, name: &str, email: &str, racks: u32) -> Value {
    json!({
        "account_id": id, "name": name, "currency": "USD",
        "contact": {"name": "AP", "email": email},
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        "billing_mode": "invoice", "bill_day": 1,
        "subscriptions": [{"id": "rack-a12", "price_id": "rack", "group": "DC1", "start": "2025-01-01", "quantity": racks}]
    })
}

async fn import(s: &Stack, line: &Value) -> integration_tests::Reply {
    s.ops_call("POST", "/v1/ops/cohorts/dc1/accounts", Some(line.to_string().as_bytes()), "application/x-ndjson").await
}

/// A contract account with one finalized bill of 1,000.00 USD; its id and the bill's.
async fn billed_account(s: &Stack, id: &str) -> String {
    let last_month = Utc::now().date_naive().with_day(1).unwrap().checked_sub_months(Months::new(1)).unwrap();
    let price = json!({"id": "rack", "name": "Rack space, 42U", "currency": "USD",
        "charge": {"type": "recurring", "interval": "monthly"}, "model": "per_unit", "unit_amount": "500"});
    assert_eq!(s.ops("PUT", "/v1/ops/prices/rack", Some(price)).await.status, StatusCode::OK);
    let cohort = json!({"name": "DC1", "go_live": last_month});
    assert_eq!(s.ops("PUT", "/v1/ops/cohorts/dc1", Some(cohort)).await.status, StatusCode::OK);
    let r = import(s, &tenant(id, "Staff Test Hosting", "ap@staff-test.example", 2)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let run = s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize", "date": last_month}))).await;
    assert_eq!(run.body["failures"], json!([]), "{:?}", run.body);
    run.body["results"][0]["invoice_id"].as_str().unwrap().to_owned()
}

fn roles() -> [(StaffUser, &'static [&'static str]); 4] {
    [
        (StaffUser::new("clerk-1", &["clerk"]), &["clerk"]),
        (StaffUser::new("approver-1", &["approver"]), &["approver"]),
        (StaffUser::new("admin-1", &["admin"]), &["admin"]),
        // Signed in to the staff pool but in no staff group (or only in others).
        (StaffUser::new("nobody-1", &["customers"]), &[]),
    ]
}

/// What each role's permission table gives (the test's own copy of the table, from the issue).
fn allowed(permission: &str, roles: &[&str]) -> bool {
    let clerk = ["account:read", "payment:record", "credit_note:create", "reminders:pause", "bill_run:preview"];
    let approver = ["credit_note:approve", "bill_run:finalize", "invoice:void", "parked_event:discard"];
    roles.iter().any(|r| match *r {
        "clerk" => clerk.contains(&permission),
        "approver" => clerk.contains(&permission) || approver.contains(&permission),
        "admin" => true,
        _ => false,
    })
}

#[tokio::test]
async fn every_staff_route_for_every_role_is_allowed_or_refused_with_403_changing_nothing() {
    let s = Stack::new().await;
    let bill = billed_account(&s, "acct_stafftest").await;
    let a = "/v1/staff/accounts/acct_stafftest";
    let today = Utc::now().date_naive();
    let routes: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", "/v1/staff/prices".into(), None, "account:read"),
        (
            "PUT",
            "/v1/staff/prices/rack".into(),
            Some(json!({"id": "rack", "name": "Rack space, 42U", "currency": "USD",
            "charge": {"type": "recurring", "interval": "monthly"}, "model": "per_unit", "unit_amount": "500"})),
            "catalog:manage",
        ),
        ("GET", "/v1/staff/cohorts".into(), None, "account:read"),
        ("PUT", "/v1/staff/cohorts/dc2".into(), Some(json!({"name": "DC2", "go_live": today})), "catalog:manage"),
        ("POST", "/v1/staff/bill-runs".into(), Some(json!({"mode": "dry_run", "date": today})), "bill_run:preview"),
        ("GET", "/v1/staff/bill-runs".into(), None, "bill_run:preview"),
        ("GET", format!("/v1/staff/bill-runs/{today}"), None, "bill_run:preview"),
        ("POST", format!("/v1/staff/bill-runs/{today}/drafts"), None, "bill_run:preview"),
        ("POST", format!("/v1/staff/bill-runs/{today}/approve"), None, "bill_run:finalize"),
        ("POST", format!("/v1/staff/bill-runs/{today}/finalize"), None, "bill_run:finalize"),
        ("GET", "/v1/staff/accounts?q=staff".into(), None, "account:read"),
        ("GET", a.into(), None, "account:read"),
        ("GET", format!("{a}/audit"), None, "account:read"),
        ("GET", format!("{a}/members"), None, "account:read"),
        ("DELETE", format!("{a}/members/mem_none"), None, "member:manage"),
        (
            "POST",
            format!("{a}/members"),
            Some(json!({"email": "new.user@staff-test.example", "role": "viewer"})),
            "member:manage",
        ),
        (
            "POST",
            format!("{a}/checks"),
            Some(json!({"amount": "10.00", "check_number": "3009", "received_on": today})),
            "payment:record",
        ),
        (
            "POST",
            format!("{a}/payments/return"),
            Some(json!({"reference": "check:3009", "returned_on": today, "reason": "insufficient_funds"})),
            "payment:record",
        ),
        (
            "POST",
            format!("{a}/invoices/{bill}/payments"),
            Some(json!({"amount": "10.00", "check_number": "3001", "received_on": today})),
            "payment:record",
        ),
        (
            "POST",
            format!("{a}/invoices/{bill}/credit-notes"),
            Some(json!({"amount": "5.00", "reason": "courtesy"})),
            "credit_note:create",
        ),
        ("POST", format!("{a}/invoices/{bill}/void"), None, "invoice:void"),
        (
            "POST",
            format!("{a}/invoices/{bill}/write-off"),
            Some(json!({"amount": "1.00", "reason": "small balance"})),
            "credit_note:create",
        ),
        ("GET", "/v1/staff/approvals".into(), None, "account:read"),
        ("GET", "/v1/staff/audit".into(), None, "account:read"),
        ("POST", "/v1/staff/approvals/apr_none/approve".into(), None, "credit_note:approve"),
        ("POST", "/v1/staff/approvals/apr_none/reject".into(), Some(json!({"note": "no"})), "credit_note:approve"),
        ("GET", "/v1/staff/receivables".into(), None, "account:read"),
        ("GET", "/v1/staff/tax-rates".into(), None, "account:read"),
        (
            "PUT",
            "/v1/staff/tax-rates/us_il_state".into(),
            Some(json!({"name": "Illinois sales tax", "jurisdiction": "US-IL",
            "inclusive": false, "rates": [{"rate": "6.25", "valid_from": "2020-01-01"}]})),
            "catalog:manage",
        ),
        ("GET", "/v1/staff/settings/tax".into(), None, "account:read"),
        ("PUT", "/v1/staff/settings/tax".into(), Some(json!({"country": "US"})), "catalog:manage"),
        ("GET", format!("{a}/tax"), None, "account:read"),
        ("PUT", format!("{a}/tax"), Some(json!({"codes": []})), "catalog:manage"),
        ("GET", "/v1/staff/settings/reminders".into(), None, "account:read"),
        ("PUT", "/v1/staff/settings/reminders".into(), Some(json!({"offsets_days": [-3, 1, 7, 14]})), "catalog:manage"),
        ("PUT", format!("{a}/reminders"), Some(json!({"paused": true})), "reminders:pause"),
        ("GET", "/v1/staff/lockbox-files".into(), None, "account:read"),
        ("GET", "/v1/staff/lockbox-exceptions".into(), None, "account:read"),
        (
            "POST",
            "/v1/staff/lockbox-exceptions/none-001-001/apply".into(),
            Some(json!({"account_id": "acct_stafftest"})),
            "payment:record",
        ),
        ("POST", "/v1/staff/lockbox-exceptions/none-001-001/return".into(), None, "payment:record"),
        ("GET", "/v1/staff/parked-events".into(), None, "account:read"),
        (
            "POST",
            "/v1/staff/parked-events/evt_none/discard".into(),
            Some(json!({"reason": "test"})),
            "parked_event:discard",
        ),
    ];
    let mut checked = 0;
    for (method, path, body, permission) in &routes {
        for (who, groups) in roles() {
            if allowed(permission, groups) {
                continue;
            }
            let before = snapshot(&s).await;
            let r = s.staff(&who, method, path, body.clone(), REASON).await;
            assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "{} {method} {path}", who.sub);
            // It names what is missing.
            let message = r.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(permission), "{message}");
            assert_eq!(snapshot(&s).await, before, "{} {method} {path} changed something", who.sub);
            checked += 1;
        }
        // And a role that holds the permission gets past it (whatever the route then answers).
        let (who, _) = roles().into_iter().find(|(_, g)| allowed(permission, g)).unwrap();
        let r = s.staff(&who, method, path, body.clone(), REASON).await;
        if *method == "GET" {
            assert_eq!(r.status, StatusCode::OK, "{} {method} {path}: {:?}", who.sub, r.body);
        }
        assert!(
            !matches!(r.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
            "{} {method} {path}: {:?} {:?}",
            who.sub,
            r.status,
            r.body
        );
    }
    assert!(checked >= 30, "{checked} refusals checked");

    // Who signed in, and what they may do.
    let me = s.staff(&StaffUser::new("clerk-1", &["clerk"]), "GET", "/v1/staff/me", None, None).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["roles"], json!(["clerk"]));
    assert!(me.body["permissions"].as_array().unwrap().contains(&json!("payment:record")));
    assert_eq!(me.body["credit_note_approval_limit"], "500");

    // A staff write says why; a reason code off the list is refused.
    let clerk = StaffUser::new("clerk-2", &["clerk"]);
    let pay = json!({"amount": "1.00", "check_number": "3002", "received_on": today});
    let path = format!("{a}/invoices/{bill}/payments");
    let before = snapshot(&s).await;
    let r = s.staff(&clerk, "POST", &path, Some(pay.clone()), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"));
    let r = s.staff(&clerk, "POST", &path, Some(pay.clone()), Some(("because", "x"))).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));
    let r = s.staff(&clerk, "POST", &path, Some(pay.clone()), Some(("other", ""))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "`other` needs words");
    assert_eq!(snapshot(&s).await, before);
    let r = s.staff(&clerk, "POST", &path, Some(pay), Some(("payment_received", "check 3002 in the mail"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let audit = s.staff(&clerk, "GET", &format!("{a}/audit?limit=5"), None, None).await;
    let entry = &audit.body["entries"][0];
    assert_eq!(entry["action"], "invoice.payment_recorded");
    assert_eq!(entry["actor"]["user_id"], "staff:clerk-2");
    assert_eq!(entry["reason"], json!({"code": "payment_received", "text": "check 3002 in the mail"}));

    // Each prefix takes its own caller only.
    let r = s.ops("GET", "/v1/staff/prices", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "staff_only"));
    let r = s.staff(&clerk, "GET", "/v1/ops/prices", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "iam_required"));
}

#[tokio::test]
async fn a_credit_note_over_the_limit_waits_for_a_second_person() {
    let s = Stack::new().await;
    let bill = billed_account(&s, "acct_foureyes").await;
    let a = "/v1/staff/accounts/acct_foureyes";
    let notes = format!("{a}/invoices/{bill}/credit-notes");
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let approver = StaffUser::new("approver-1", &["approver"]);
    let other = StaffUser::new("approver-2", &["approver"]);

    // At the limit: issued at once.
    let r = s.staff(&clerk, "POST", &notes, Some(json!({"amount": "500.00", "reason": "SLA credit"})), REASON).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::CREATED, Some("issued")), "{:?}", r.body);
    assert_eq!(r.body["invoice"]["amount_remaining"]["amount"], "500.00");

    // Above it: a request, nothing credited yet.
    let r = s
        .staff(&clerk, "POST", &notes, Some(json!({"amount": "500.01", "reason": "Rack A12 down 3 days"})), REASON)
        .await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::ACCEPTED, Some("pending_approval")), "{:?}", r.body);
    let id = r.body["approval"]["id"].as_str().unwrap().to_owned();
    let account = s.ops("GET", "/v1/ops/accounts/acct_foureyes", None).await;
    assert_eq!(account.body["balance_due"]["amount"], "500.00", "nothing credited while pending");
    let queue = s.staff(&clerk, "GET", "/v1/staff/approvals", None, None).await;
    assert_eq!(queue.body.as_array().unwrap().len(), 1);
    assert_eq!(queue.body[0]["amount"]["amount"], "500.01");
    assert_eq!(queue.body[0]["requested_by_email"], "clerk-1@seller.example");

    // The clerk may not approve; an approver may not approve their own request.
    let approve = format!("/v1/staff/approvals/{id}/approve");
    let r = s.staff(&clerk, "POST", &approve, None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let own = s.staff(&approver, "POST", &notes, Some(json!({"amount": "600.00", "reason": "Outage"})), REASON).await;
    assert_eq!(own.status, StatusCode::ACCEPTED, "{:?}", own.body);
    let own_id = own.body["approval"]["id"].as_str().unwrap().to_owned();
    let r = s.staff(&approver, "POST", &format!("/v1/staff/approvals/{own_id}/approve"), None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "own_request"));

    // A second approver approves it: issued, once however often it is approved.
    let r = s.staff(&approver, "POST", &approve, Some(json!({"note": "checked the outage log"})), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let note_id = r.body["credit_note"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["credit_note"]["created_by"], "clerk-1@seller.example (approved by approver-1@seller.example)");
    assert_eq!(r.body["invoice"]["amount_remaining"]["amount"], "0.00");
    assert_eq!(r.body["account_credit"]["amount"], "0.01", "beyond the bill: credit");
    let again = s.staff(&other, "POST", &approve, None, None).await;
    assert_eq!((again.status, again.body["credit_note"]["id"].as_str()), (StatusCode::CREATED, Some(note_id.as_str())));
    let account = s.ops("GET", "/v1/ops/accounts/acct_foureyes", None).await;
    assert_eq!(account.body["credit_notes"].as_array().unwrap().len(), 2, "one per decision, not per click");

    // The approver's own request: rejected by the other, with words; then it cannot be approved.
    let reject = format!("/v1/staff/approvals/{own_id}/reject");
    let r = s.staff(&other, "POST", &reject, Some(json!({})), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let r = s.staff(&other, "POST", &reject, Some(json!({"note": "already credited"})), None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("rejected")), "{:?}", r.body);
    let r = s.staff(&other, "POST", &format!("/v1/staff/approvals/{own_id}/approve"), None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "already_decided"));
    let pending = s.staff(&clerk, "GET", "/v1/staff/approvals", None, None).await;
    assert_eq!(pending.body, json!([]), "the queue is empty");
    let all = s.staff(&clerk, "GET", "/v1/staff/approvals?status=all", None, None).await;
    assert_eq!(all.body.as_array().unwrap().len(), 2);

    // The account's audit: who asked, who approved, who issued, and why.
    let audit = s.staff(&clerk, "GET", &format!("{a}/audit"), None, None).await;
    let actions: Vec<(&str, &str)> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"]["user_id"].as_str().unwrap()))
        .collect();
    for expected in [
        ("invoice.credit_note_requested", "staff:clerk-1"),
        ("invoice.credit_note_approved", "staff:approver-1"),
        ("invoice.credit_note_issued", "staff:approver-1"),
        ("invoice.credit_note_rejected", "staff:approver-2"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
    let issued = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "invoice.credit_note_issued" && e["actor"]["user_id"] == "staff:approver-1")
        .unwrap();
    assert_eq!(issued["reason"]["code"], "service_credit", "the request's reason");
    let approved = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "invoice.credit_note_approved")
        .unwrap();
    assert_eq!(approved["reason"]["text"], "checked the outage log", "the approver's words");
    // Asked for while a bill was open, approved after the customer paid it in full: the credit
    // granted becomes account credit (it used to answer 409 and stay approved, never issued).
    let r = s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize"}))).await;
    assert_eq!(r.body["failures"], json!([]), "{:?}", r.body);
    let open = s.ops("GET", "/v1/ops/accounts/acct_foureyes", None).await;
    let later: Vec<(String, String)> = open.body["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "open")
        .map(|i| (i["id"].as_str().unwrap().to_owned(), i["amount_remaining"]["amount"].as_str().unwrap().to_owned()))
        .collect();
    {
        let (later_bill, owed) = later.first().expect("this month's bill, open");
        let notes = format!("{a}/invoices/{later_bill}/credit-notes");
        let r = s.staff(&clerk, "POST", &notes, Some(json!({"amount": "700.00", "reason": "Outage"})), REASON).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        let waiting = r.body["approval"]["id"].as_str().unwrap().to_owned();
        let check = json!({"amount": owed, "check_number": "5501", "received_on": Utc::now().date_naive()});
        let r = s.staff(&clerk, "POST", &format!("{a}/invoices/{later_bill}/payments"), Some(check), REASON).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let credit_before =
            s.ops("GET", "/v1/ops/accounts/acct_foureyes", None).await.body["contract"]["credit"]["amount"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap();
        let r = s.staff(&other, "POST", &format!("/v1/staff/approvals/{waiting}/approve"), None, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["credit_note"]["to_credit"]["amount"], "700.00", "{:?}", r.body);
        assert_eq!(r.body["invoice"]["status"], "paid");
        let credit_after: f64 = r.body["account_credit"]["amount"].as_str().unwrap().parse().unwrap();
        assert!((credit_after - credit_before - 700.0).abs() < 0.001, "{credit_before} → {credit_after}");
    }
}

#[tokio::test]
async fn accounts_are_found_by_id_invoice_number_and_the_start_of_their_name() {
    let s = Stack::new().await;
    let bill = billed_account(&s, "acct_searchme").await;
    for name in ["Acme Hosting", "ACME-Labs GmbH", "Acorn Data", "Zed & Co."] {
        s.account_of(&integration_tests::User::new(&format!("owner-{}", name.len())), name).await;
    }
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let find = |q: &str| format!("/v1/staff/accounts?q={q}");
    let names = |r: &integration_tests::Reply| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = r.body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["name"].as_str().unwrap().to_owned(), a["matched"].as_str().unwrap().to_owned()))
            .collect();
        v.sort();
        v
    };
    // The start of the name, whatever the case and punctuation.
    let r = s.staff(&clerk, "GET", &find("acme"), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(names(&r), [("ACME-Labs GmbH".into(), "name".into()), ("Acme Hosting".into(), "name".into())]);
    assert_eq!(
        names(&s.staff(&clerk, "GET", &find("ACME%20l"), None, None).await),
        [("ACME-Labs GmbH".into(), "name".into())]
    );
    assert_eq!(s.staff(&clerk, "GET", &find("ac"), None, None).await.body["accounts"].as_array().unwrap().len(), 3);
    assert_eq!(
        s.staff(&clerk, "GET", &find("a"), None, None).await.body["accounts"],
        json!([]),
        "one letter finds no names"
    );
    assert_eq!(
        s.staff(&clerk, "GET", &find("ac&limit=1"), None, None).await.body["accounts"].as_array().unwrap().len(),
        1
    );
    // An account id, an invoice number.
    let r = s.staff(&clerk, "GET", &find("acct_searchme"), None, None).await;
    assert_eq!(names(&r), [("Staff Test Hosting".into(), "id".into())]);
    let number = s.ops("GET", "/v1/ops/accounts/acct_searchme", None).await.body["invoices"][0]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.staff(&clerk, "GET", &find(&number), None, None).await;
    assert_eq!(names(&r), [("Staff Test Hosting".into(), "invoice".into())], "{bill}");
    assert_eq!(r.body["accounts"][0]["invoice_number"], json!(number));
    // An e-mail address, whole, any case: the billing contact's, a portal user's or invitee's.
    let r = s.staff(&clerk, "GET", &find("AP%40Staff-Test.example"), None, None).await;
    assert_eq!(names(&r), [("Staff Test Hosting".into(), "email".into())], "{:?}", r.body);
    assert_eq!(
        s.staff(&clerk, "GET", &find("ap%40staff"), None, None).await.body["accounts"],
        json!([]),
        "whole addresses only"
    );
    let admin = StaffUser::new("admin-1", &["admin"]);
    let members = "/v1/staff/accounts/acct_searchme/members";
    let invited = s
        .staff(
            &admin,
            "POST",
            members,
            Some(json!({"email": "Kim@Tenant.example", "role": "billing"})),
            Some(("customer_request", "ticket 4411")),
        )
        .await;
    assert_eq!(
        (invited.status, invited.body["status"].as_str()),
        (StatusCode::CREATED, Some("invited")),
        "{:?}",
        invited.body
    );
    let r = s.staff(&clerk, "GET", &find("kim%40tenant.example"), None, None).await;
    assert_eq!(names(&r), [("Staff Test Hosting".into(), "email".into())]);
    let listed = s.staff(&clerk, "GET", members, None, None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{:?}", listed.body);
    assert_eq!(
        (listed.body[0]["email"].as_str(), listed.body[0]["role"].as_str()),
        (Some("kim@tenant.example"), Some("billing"))
    );
    // Removed (by an admin, with a reason, in the customer's audit): no longer found by it.
    let member = format!("{members}/{}", invited.body["id"].as_str().unwrap());
    let r = s.staff(&clerk, "DELETE", &member, None, Some(("customer_request", "ticket 4412"))).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let r = s.staff(&admin, "DELETE", &member, None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"));
    let r = s.staff(&admin, "DELETE", &member, None, Some(("customer_request", "ticket 4412"))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(s.staff(&clerk, "GET", &find("kim%40tenant.example"), None, None).await.body["accounts"], json!([]));
    let r = s.staff(&admin, "DELETE", &member, None, Some(("customer_request", "again"))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let audit = s.staff(&clerk, "GET", "/v1/staff/accounts/acct_searchme/audit?limit=5", None, None).await;
    let removed = &audit.body["entries"][0];
    assert_eq!(
        (removed["action"].as_str(), removed["actor"]["user_id"].as_str()),
        (Some("member.removed"), Some("staff:admin-1"))
    );
    assert_eq!(removed["reason"]["text"], "ticket 4412");
    // Pausing reminders is in the customer's audit too, with who and why.
    let r = s
        .staff(
            &clerk,
            "PUT",
            "/v1/staff/accounts/acct_searchme/reminders",
            Some(json!({"paused": true})),
            Some(("customer_request", "disputed bill")),
        )
        .await;
    assert_eq!((r.status, r.body["paused"].as_bool()), (StatusCode::OK, Some(true)), "{:?}", r.body);
    let audit = s.staff(&clerk, "GET", "/v1/staff/accounts/acct_searchme/audit?limit=1", None, None).await;
    let paused = &audit.body["entries"][0];
    assert_eq!(
        (paused["action"].as_str(), paused["after"]["reminders_paused"].as_bool()),
        (Some("account.reminders_paused"), Some(true))
    );
    assert_eq!(paused["reason"]["text"], "disputed bill");
    for bad in ["", "?q=", "?q=ac&limit=0", "?q=ac&limit=51", "?q=ac&sort=name"] {
        let r = s.staff(&clerk, "GET", &format!("/v1/staff/accounts{bad}"), None, None).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"), "{bad}");
    }
}

#[tokio::test]
async fn a_bill_run_is_previewed_drafted_approved_by_a_second_person_and_finalized() {
    let s = Stack::new().await;
    // One account billed last month (2 racks, 1,000.00), one imported since with no bill yet.
    billed_account(&s, "acct_runsteady").await;
    let line = tenant("acct_runnew", "New Rack Tenant", "ap@run-new.example", 1);
    let r = import(&s, &line).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let today = Utc::now().date_naive();
    let run = format!("/v1/staff/bill-runs/{today}");
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let approver = StaffUser::new("approver-1", &["approver"]);
    let other = StaffUser::new("approver-2", &["approver"]);
    let why = Some(("other", "December run"));
    let line_of = |v: &Value, id: &str| -> Value {
        v["lines"].as_array().unwrap().iter().find(|l| l["account_id"] == id).cloned().unwrap_or(Value::Null)
    };

    // The preview writes nothing: each due account, its total, the change against its last bill.
    let before = snapshot(&s).await;
    let preview = s.staff(&clerk, "GET", &run, None, None).await;
    assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
    assert_eq!(snapshot(&s).await, before, "a preview writes nothing");
    assert_eq!(preview.body["record"], Value::Null);
    let steady = line_of(&preview.body, "acct_runsteady");
    assert_eq!((steady["outcome"].as_str(), steady["name"].as_str()), (Some("would_bill"), Some("Staff Test Hosting")));
    assert_eq!(steady["compared"]["flag"], "steady");
    assert_eq!(steady["compared"]["previous"]["total"]["amount"], "1000.00");
    assert_eq!(steady["compared"]["change_percent"], "0");
    let new = line_of(&preview.body, "acct_runnew");
    assert_eq!((new["outcome"].as_str(), new["compared"]["flag"].as_str()), (Some("would_bill"), Some("first_bill")));
    assert_eq!(preview.body["flagged"], 1);
    assert_eq!(preview.body["tally"]["bills"], 2);

    // Not yet drafted: nothing to approve or finalize; dates to come are refused; staff cannot
    // finalize around the review.
    let r = s.staff(&approver, "POST", &format!("{run}/approve"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    let tomorrow = today.succ_opt().unwrap();
    let r = s.staff(&clerk, "POST", &format!("/v1/staff/bill-runs/{tomorrow}/drafts"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "bill_date_in_future"));
    let r = s.staff(&clerk, "POST", "/v1/staff/bill-runs/2026-13-01/drafts", None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));
    let r =
        s.staff(&approver, "POST", "/v1/staff/bill-runs", Some(json!({"mode": "finalize", "date": today})), why).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "review_required"));
    let r = s.staff(&clerk, "POST", &format!("{run}/drafts"), None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"));
    assert_eq!(snapshot(&s).await, before, "refused steps write nothing");

    // The clerk drafts; drafts stay off the customers' lists.
    let drafted = s.staff(&clerk, "POST", &format!("{run}/drafts"), None, why).await;
    assert_eq!(drafted.status, StatusCode::OK, "{:?}", drafted.body);
    let record = &drafted.body["record"];
    assert_eq!((record["status"].as_str(), record["drafts"]["bills"].as_u64()), (Some("drafted"), Some(2)));
    assert_eq!(record["drafted"]["email"], "clerk-1@seller.example");
    assert_eq!(record["drafted"]["reason"]["text"], "December run");
    assert_eq!(line_of(&drafted.body, "acct_runnew")["outcome"], "drafted");
    let listed = s.ops("GET", "/v1/ops/accounts/acct_runnew", None).await;
    assert_eq!(listed.body["invoices"], json!([]), "a draft is not the customer's bill yet");
    let r = s.staff(&approver, "POST", &format!("{run}/finalize"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "bill_run_state"), "not approved yet");
    let r = s.staff(&clerk, "POST", &format!("{run}/approve"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    // The preview now shows the waiting drafts.
    let preview = s.staff(&clerk, "GET", &run, None, None).await;
    assert_eq!(line_of(&preview.body, "acct_runsteady")["outcome"], "draft_pending");
    assert_eq!(preview.body["record"]["status"], "drafted");

    // An approver who drafts again cannot approve their own drafts; another approver does.
    let again = s.staff(&approver, "POST", &format!("{run}/drafts"), None, why).await;
    assert_eq!(again.body["record"]["drafted"]["email"], "approver-1@seller.example");
    assert_eq!(line_of(&again.body, "acct_runnew")["outcome"], "draft_pending", "drafted once");
    let r = s.staff(&approver, "POST", &format!("{run}/approve"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "own_request"));
    let r = s.staff(&other, "POST", &format!("{run}/approve"), None, Some(("other", "checked the totals"))).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("approved")), "{:?}", r.body);
    assert_eq!(r.body["approved"]["email"], "approver-2@seller.example");
    let r = s.staff(&other, "POST", &format!("{run}/approve"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "bill_run_state"));

    // Finalized: the approved drafts only, numbered, on the customers' lists.
    let done = s.staff(&approver, "POST", &format!("{run}/finalize"), None, why).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["record"]["status"], "finalized");
    assert_eq!(done.body["record"]["finalized_bills"]["bills"], 2);
    assert_eq!(done.body["record"]["finalized_bills"]["totals"][0]["amount"], "1500.00");
    let new = line_of(&done.body, "acct_runnew");
    assert_eq!(new["outcome"], "finalized");
    assert!(new["number"].as_str().unwrap().starts_with("INV-"));
    let listed = s.ops("GET", "/v1/ops/accounts/acct_runnew", None).await;
    assert_eq!(listed.body["invoices"].as_array().unwrap().len(), 1, "drafted once, finalized once");
    let r = s.staff(&approver, "POST", &format!("{run}/finalize"), None, why).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "bill_run_state"));
    let runs = s.staff(&clerk, "GET", "/v1/staff/bill-runs", None, None).await;
    assert_eq!(runs.body[0]["date"], json!(today));
    assert_eq!(runs.body[0]["finalized"]["email"], "approver-1@seller.example");
    // The new account was behind (last month's bill too): it is due again, not drafted.
    let preview = s.staff(&clerk, "GET", &run, None, None).await;
    assert_eq!(line_of(&preview.body, "acct_runsteady"), Value::Null, "billed through this month");
    assert_eq!(line_of(&preview.body, "acct_runnew")["outcome"], "would_bill");
    // Each step is in the seller's own audit trail, with who and why.
    let trail = s.staff(&clerk, "GET", "/v1/staff/audit?limit=10", None, None).await;
    let steps: Vec<(&str, &str, &str)> = trail.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("bill_run."))
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"]["email"].as_str().unwrap(),
                e["reason"]["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("bill_run.finalized", "approver-1@seller.example", "December run"),
            ("bill_run.approved", "approver-2@seller.example", "checked the totals"),
            ("bill_run.drafted", "approver-1@seller.example", "December run"),
            ("bill_run.drafted", "clerk-1@seller.example", "December run"),
        ]
    );
    // A setup change too: its before and after.
    let admin = StaffUser::new("admin-1", &["admin"]);
    let price = json!({"id": "rack", "name": "Rack space, 42U", "currency": "USD",
        "charge": {"type": "recurring", "interval": "monthly"}, "model": "per_unit", "unit_amount": "550"});
    let r =
        s.staff(&admin, "PUT", "/v1/staff/prices/rack", Some(price), Some(("configuration", "2027 price list"))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let trail = s.staff(&clerk, "GET", "/v1/staff/audit?limit=1", None, None).await;
    let entry = &trail.body["entries"][0];
    assert_eq!((entry["action"].as_str(), entry["target"].as_str()), (Some("catalog.price_saved"), Some("rack")));
    assert_eq!(
        (entry["before"]["unit_amount"].as_str(), entry["after"]["unit_amount"].as_str()),
        (Some("500"), Some("550"))
    );
    assert_eq!(entry["reason"]["text"], "2027 price list");
    // The seller's trail's id is no customer's.
    let r = import(&s, &tenant("acct_seller", "Not The Seller", "ap@x.example", 1)).await;
    assert_eq!(r.body["results"][0]["status"], "rejected", "{:?}", r.body);
    assert_eq!(r.body["results"][0]["details"][0]["field"], "account_id");
}

#[tokio::test]
async fn accounts_written_before_the_search_are_found_once_backfilled() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let s = Stack::new().await;
    let owner = integration_tests::User::new("owner-old");
    let id = s.account_of(&owner, "Oldtimer Hosting").await;
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let find = |q: &str| format!("/v1/staff/accounts?q={q}");
    let found = |r: &integration_tests::Reply| r.body["accounts"].as_array().map_or(0, Vec::len);
    assert_eq!(found(&s.staff(&clerk, "GET", &find("oldtimer"), None, None).await), 1);
    // As a table written before the search held it: no name entry, no contact or user e-mail entry.
    let pk = AttributeValue::S(format!("ACCOUNT#{id}"));
    let items = s
        .client
        .query()
        .table_name(&s.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", pk.clone())
        .send()
        .await
        .unwrap();
    for item in items.items() {
        let sk = item["sk"].clone();
        if sk.as_s().unwrap() == "CONTACT" {
            s.client.delete_item().table_name(&s.table).key("pk", pk.clone()).key("sk", sk).send().await.unwrap();
        } else if item.contains_key("gsi3pk") {
            s.client
                .update_item()
                .table_name(&s.table)
                .key("pk", pk.clone())
                .key("sk", sk)
                .update_expression("REMOVE gsi3pk, gsi3sk")
                .send()
                .await
                .unwrap();
        }
    }
    let email = owner.email.replace('@', "%40");
    for q in ["oldtimer", "ap%40example.com", email.as_str()] {
        assert_eq!(found(&s.staff(&clerk, "GET", &find(q), None, None).await), 0, "{q} before the backfill");
    }
    let store = billing_aws::DynamoStore::new(s.client.clone(), &s.table);
    let backfill = || async {
        let (mut start, mut indexed) = (None, 0);
        loop {
            let (page, next) = store.backfill_search_index(start, 7).await.unwrap();
            indexed += page.indexed;
            start = next;
            if start.is_none() {
                return indexed;
            }
        }
    };
    assert!(backfill().await >= 3, "name, contact and the founder's e-mail");
    for (q, matched) in [("oldtimer", "name"), ("ap%40example.com", "email"), (email.as_str(), "email")] {
        let r = s.staff(&clerk, "GET", &find(q), None, None).await;
        let hit = r.body["accounts"].as_array().unwrap().iter().find(|a| a["account_id"] == id.as_str()).cloned();
        assert_eq!(hit.map(|h| h["matched"].clone()), Some(json!(matched)), "{q}: {:?}", r.body);
    }
    // Again: the same entries, nothing doubled.
    backfill().await;
    assert_eq!(found(&s.staff(&clerk, "GET", &find("oldtimer"), None, None).await), 1);
}

#[tokio::test]
async fn a_write_off_over_the_limit_waits_and_then_takes_only_what_is_left() {
    let s = Stack::new().await;
    let bill = billed_account(&s, "acct_writeoff").await;
    let a = "/v1/staff/accounts/acct_writeoff";
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let approver = StaffUser::new("approver-1", &["approver"]);
    let why = Some(("write_off", "customer in liquidation"));
    let off = format!("{a}/invoices/{bill}/write-off");
    let r = s.staff(&clerk, "POST", &off, Some(json!({"reason": "Customer in liquidation"})), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"));
    let r = s.staff(&clerk, "POST", &off, Some(json!({"reason": "Customer in liquidation"})), why).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::ACCEPTED, Some("pending_approval")), "{:?}", r.body);
    assert_eq!(
        (r.body["approval"]["kind"].as_str(), r.body["approval"]["amount"]["amount"].as_str()),
        (Some("write_off"), Some("1000.00"))
    );
    let id = r.body["approval"]["id"].as_str().unwrap().to_owned();
    // A check arrives while it waits: the write-off takes only what is left then.
    let pay = json!({"amount": "300.00", "check_number": "4001", "received_on": Utc::now().date_naive()});
    let r = s
        .staff(
            &clerk,
            "POST",
            &format!("{a}/invoices/{bill}/payments"),
            Some(pay),
            Some(("payment_received", "check 4001")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = s.staff(&clerk, "POST", &format!("/v1/staff/approvals/{id}/approve"), None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let r = s.staff(&approver, "POST", &format!("/v1/staff/approvals/{id}/approve"), None, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["credit_note"]["amount"]["amount"], "700.00");
    assert_eq!(r.body["credit_note"]["reason"], "Written off: Customer in liquidation");
    assert_eq!(
        (r.body["invoice"]["status"].as_str(), r.body["invoice"]["amount_remaining"]["amount"].as_str()),
        (Some("uncollectible"), Some("0.00"))
    );
    assert_eq!(r.body["account_credit"]["amount"], "0.00", "a write-off makes no credit");
    let account = s.staff(&clerk, "GET", a, None, None).await;
    assert_eq!(account.body["balance_due"]["amount"], "0.00");
    let r = s.staff(&clerk, "POST", &off, Some(json!({"reason": "again"})), why).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "invoice_state"));
    let receivables = s.staff(&clerk, "GET", "/v1/staff/receivables", None, None).await;
    assert!(!receivables.body["accounts"].to_string().contains("acct_writeoff"), "written off, not owed");
}

#[tokio::test]
async fn one_check_pays_several_bills_in_order_and_once() {
    let s = Stack::new().await;
    // Two open bills of 1,000.00: last month's, and this month's from the bill run.
    let first = billed_account(&s, "acct_onecheck").await;
    let today = Utc::now().date_naive();
    let run = s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize", "date": today}))).await;
    let second = run.body["results"][0]["invoice_id"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let checks = "/v1/staff/accounts/acct_onecheck/checks";
    let why = Some(("payment_received", "check 5001, two stubs"));
    let check = |amount: &str, invoices: Option<Value>| {
        let mut body = json!({"amount": amount, "check_number": "5001", "received_on": today});
        if let Some(list) = invoices {
            body["invoices"] = list;
        }
        body
    };
    let r = s.staff(&clerk, "POST", checks, Some(check("0", None)), why).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let r = s.staff(&clerk, "POST", checks, Some(check("10", Some(json!(["bill_nope"])))), why).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // As if a call crashed after the first bill's share: that share is on the first bill alone.
    let pay = json!({"amount": "1000.00", "check_number": "5001", "received_on": today});
    let path = format!("/v1/staff/accounts/acct_onecheck/invoices/{first}/payments");
    assert_eq!(s.staff(&clerk, "POST", &path, Some(pay), why).await.status, StatusCode::CREATED);
    // 1,500.00 over both, oldest due first: the first paid (before), 500.00 on the second (now).
    let r = s.staff(&clerk, "POST", checks, Some(check("1500.00", None)), why).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::CREATED, Some("recorded")), "{:?}", r.body);
    let shares: Vec<(&str, &str)> = r.body["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["invoice_id"].as_str().unwrap(), a["amount"]["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(shares, [(first.as_str(), "1000.00"), (second.as_str(), "500.00")]);
    assert_eq!(
        (r.body["allocations"][0]["now"].as_bool(), r.body["allocations"][1]["now"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(r.body["balance_due"]["amount"], "500.00");
    // The same check again: nothing more.
    let again = s.staff(&clerk, "POST", checks, Some(check("1500.00", None)), why).await;
    assert_eq!((again.status, again.body["status"].as_str()), (StatusCode::OK, Some("already_recorded")));
    assert_eq!(again.body["balance_due"]["amount"], "500.00");
    // Another check beyond what is owed: the rest of the second bill, then account credit.
    let mut over = check("520.00", Some(json!([second])));
    over["check_number"] = json!("5002");
    let r = s.staff(&clerk, "POST", checks, Some(over), why).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        (r.body["allocations"][0]["to_credit"]["amount"].as_str(), r.body["account_credit"]["amount"].as_str()),
        (Some("20.00"), Some("20.00"))
    );
    assert_eq!(r.body["balance_due"]["amount"], "0.00");
    // The statement reads one check per number.
    let account = s.staff(&clerk, "GET", "/v1/staff/accounts/acct_onecheck", None, None).await;
    let refs: Vec<&str> =
        account.body["payments"].as_array().unwrap().iter().map(|p| p["reference"].as_str().unwrap()).collect();
    assert_eq!(refs.len(), 3, "{refs:?}");
    assert!(refs.contains(&"check:5001") && refs.contains(&"check:5001:2") && refs.contains(&"check:5002"), "{refs:?}");
}
