//! Statements from the sample invoice events: newest first, paginated, filtered by status, each
//! invoice itemized with lines grouped by logical element and their service periods.

use devstack::seed;
use http::StatusCode;
use integration_tests::stripe::{sample, sign};
use integration_tests::{Stack, User};
use serde_json::json;

const SECRET: &str = "whsec_test_statements";

async fn with_invoices() -> (Stack, User) {
    let s = Stack::new().await;
    seed::seed(&s.store()).await.unwrap();
    let webhook = s.webhook(&[SECRET]);
    for name in ["invoice.finalized.json", "invoice.paid.json", "invoice.proration.finalized.json"] {
        let body = sample(name).to_string();
        assert_eq!(s.deliver(&webhook, &body, Some(&sign(&body, SECRET, None))).await.status, StatusCode::OK);
    }
    (s, User::new("demo-viewer").with_email("viewer@demo.example"))
}

#[tokio::test]
async fn invoices_newest_first_paginated_and_filtered() {
    let (s, viewer) = with_invoices().await;
    let page = s.get(&viewer, "/v1/accounts/acct_demo/invoices?limit=1").await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    assert_eq!(page.body["invoices"][0]["id"], "in_DemoProration001", "newest first");
    let cursor = page.body["next_cursor"].as_str().expect("a second page").to_owned();
    let next = s.get(&viewer, &format!("/v1/accounts/acct_demo/invoices?limit=1&cursor={cursor}")).await;
    assert_eq!(next.body["invoices"][0]["id"], "in_DemoFirst0000001");
    assert_eq!(next.body["next_cursor"], json!(null));

    let paid = s.get(&viewer, "/v1/accounts/acct_demo/invoices?status=paid").await;
    let ids: Vec<&str> = paid.body["invoices"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["in_DemoFirst0000001"]);
    let open = s.get(&viewer, "/v1/accounts/acct_demo/invoices?status=open&limit=1").await;
    assert_eq!(open.body["invoices"][0]["id"], "in_DemoProration001");

    for bad in ["status=late", "limit=0", "limit=101", "cursor=garbage", "colour=red"] {
        let r = s.get(&viewer, &format!("/v1/accounts/acct_demo/invoices?{bad}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"), "{bad}");
    }
}

#[tokio::test]
async fn an_invoice_is_itemized_and_grouped_with_service_periods() {
    let (s, viewer) = with_invoices().await;
    let inv = s.get(&viewer, "/v1/accounts/acct_demo/invoices/in_DemoProration001").await;
    assert_eq!(inv.status, StatusCode::OK, "{:?}", inv.body);
    assert_eq!((&inv.body["number"], &inv.body["status"]), (&json!("DEMO-0002"), &json!("open")));
    assert_eq!(inv.body["amount_due"], json!({"amount": "24.00", "currency": "USD"}));
    let groups = inv.body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["subtotal"], json!({"amount": "24.00", "currency": "USD"}));
    let lines = groups[0]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert_eq!(line["kind"], "proration");
        assert_eq!(line["service_period"]["partial"], true);
        let period = &line["service_period"];
        let (start, end) = (period["start"].as_str().unwrap(), period["end"].as_str().unwrap());
        // The samples' periods end within a day, so they end on that day (midnight ends are
        // read as the day before: the domain's unit tests).
        assert!(!end.ends_with("T00:00:00Z"), "{end}");
        assert_eq!(
            (period["first_day"].as_str().unwrap(), period["last_day"].as_str().unwrap()),
            (&start[..10], &end[..10])
        );
    }
    let span = &inv.body["service_period"];
    assert_eq!(
        span["first_day"],
        lines.iter().map(|l| l["service_period"]["first_day"].as_str().unwrap()).min().unwrap()
    );
    assert!(inv.body["pdf_url"].as_str().unwrap().ends_with("/pdf"));

    let statement = s.get(&viewer, "/v1/accounts/acct_demo/statement").await;
    assert_eq!(statement.body["balance_due"], json!({"amount": "24.00", "currency": "USD"}));
    assert_eq!(statement.body["latest_invoice"]["id"], "in_DemoProration001");
    assert_eq!(statement.body["open_invoices"].as_array().unwrap().len(), 1);

    assert_eq!(s.get(&viewer, "/v1/accounts/acct_demo/invoices/in_nope").await.code(), "not_found");
    let stranger = User::new("stranger");
    assert_eq!(s.get(&stranger, "/v1/accounts/acct_demo/invoices/in_DemoProration001").await.code(), "not_found");
    assert_eq!(s.get(&stranger, "/v1/accounts/acct_demo/statement").await.code(), "not_found");
}

/// The amounts of a statement's `field` as strings.
fn amount(v: &serde_json::Value, field: &str) -> String {
    v[field]["amount"].as_str().unwrap_or_else(|| panic!("{field}: {v}")).to_owned()
}

#[tokio::test]
async fn a_card_accounts_statement_adds_up_to_its_open_invoices_and_comes_as_a_pdf() {
    let (s, viewer) = with_invoices().await;
    let today = chrono::Utc::now().date_naive();
    let all = s.get(&viewer, "/v1/accounts/acct_demo/statement?from=2020-01-01").await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let b = &all.body;
    assert_eq!((b["from"].as_str(), b["to"].as_str()), (Some("2020-01-01"), Some(today.to_string().as_str())));
    assert_eq!(amount(b, "opening_balance"), "0.00");
    // One invoice paid, one open: each bill a debit, the payment a credit, balances running.
    let rows: Vec<(String, String, String, String)> = b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().into(), amount(e, "debit"), amount(e, "credit"), amount(e, "balance")))
        .collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "invoice").count(), 2, "{rows:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "payment").count(), 1, "{rows:?}");
    let debits: f64 = rows.iter().map(|r| r.1.parse::<f64>().unwrap()).sum();
    let credits: f64 = rows.iter().map(|r| r.2.parse::<f64>().unwrap()).sum();
    assert_eq!(format!("{debits:.2}"), amount(b, "total_debits"));
    assert_eq!(format!("{credits:.2}"), amount(b, "total_credits"));
    assert_eq!(rows.last().unwrap().3, amount(b, "closing_balance"));
    // opening + debits − credits = closing = the open invoices (as the invoice list has them) =
    // the balance due the account keeps.
    let open = s.get(&viewer, "/v1/accounts/acct_demo/invoices?status=open").await;
    let open_sum: f64 = open.body["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount_remaining"]["amount"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(amount(b, "closing_balance"), format!("{open_sum:.2}"));
    assert_eq!(amount(b, "closing_balance"), amount(b, "balance_due"));
    assert_eq!(b["open_items"].as_array().unwrap().len(), 1);
    let aged: f64 = ["current", "days_1_30", "days_31_60", "days_61_90", "over_90"]
        .iter()
        .map(|k| b["aging"][k]["amount"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(format!("{aged:.2}"), amount(b, "closing_balance"));

    // Two periods meet: the first's closing is the second's opening.
    let first_day = b["entries"][0]["date"].as_str().unwrap().parse::<chrono::NaiveDate>().unwrap();
    let split = first_day;
    let before = s.get(&viewer, &format!("/v1/accounts/acct_demo/statement?from=2020-01-01&to={split}")).await;
    let after = s.get(&viewer, &format!("/v1/accounts/acct_demo/statement?from={}", split.succ_opt().unwrap())).await;
    assert_eq!(amount(&before.body, "closing_balance"), amount(&after.body, "opening_balance"));
    assert_eq!(amount(&after.body, "closing_balance"), amount(b, "closing_balance"));

    // The default period is three months to today.
    let default = s.get(&viewer, "/v1/accounts/acct_demo/statement").await;
    assert_eq!(default.body["to"], json!(today));
    assert!(default.body["from"].as_str().unwrap().ends_with("-01"));

    let tomorrow = today.succ_opt().unwrap();
    for bad in [
        format!("to={tomorrow}"),
        "from=2026-13-01".into(),
        "from=yesterday".into(),
        format!("from={today}&to=2026-01-01"),
        "from=1999-12-31".into(),
        "colour=red".into(),
    ] {
        let r = s.get(&viewer, &format!("/v1/accounts/acct_demo/statement?{bad}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"), "{bad}");
        let r = s.get(&viewer, &format!("/v1/accounts/acct_demo/statement/pdf?{bad}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"), "pdf {bad}");
    }
    let stranger = User::new("stranger");
    for path in ["statement?from=2020-01-01", "statement/pdf", "statement?to=tomorrow"] {
        assert_eq!(s.get(&stranger, &format!("/v1/accounts/acct_demo/{path}")).await.code(), "not_found", "{path}");
    }

    let pdf = s.get(&viewer, "/v1/accounts/acct_demo/statement/pdf?from=2020-01-01").await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let disposition = pdf.headers["content-disposition"].to_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"statement_acct_demo_2020-01-01_{today}.pdf\""));
    assert!(pdf.body.as_str().unwrap().starts_with("%PDF-"), "a PDF");
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let s = Stack::new().await;
    let r = s.get(&User::new("anyone"), "/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.1.0");
    assert!(r.body["paths"]["/v1/accounts/{account_id}/subscription/seats/preview"]["post"].is_object());
}

#[tokio::test]
async fn the_statement_the_account_and_every_page_that_reads_are_one_round_trip_to_the_store() {
    let (s, viewer) = with_invoices().await;
    // The portal's store talks to the stand-in through a proxy that records each call.
    let (log, counted) = s.counted_store().await;
    let portal = s.with_store(counted);

    let statement = portal.get(&viewer, "/v1/accounts/acct_demo/statement").await;
    assert_eq!(statement.status, StatusCode::OK, "{:?}", statement.body);
    assert_eq!(statement.body["latest_invoice"]["id"], "in_DemoProration001");
    let calls = log.tally();
    // The membership, the account, its open and its newest invoices, and its invoices, payments
    // and credit notes for the statement of account: read at once.
    assert_eq!(calls.store, 7, "{}", calls.path());
    assert_eq!(calls.store_serial, 1, "{}", calls.path());

    let account = portal.get(&viewer, "/v1/accounts/acct_demo").await;
    assert_eq!(account.status, StatusCode::OK, "{:?}", account.body);
    let calls = log.tally();
    assert_eq!((calls.store, calls.store_serial), (3, 1), "{}", calls.path());

    // Every page that reads the account's data reads it while the membership is checked.
    // (The seat book is its version, then the seats: the order its writes' condition relies on.)
    for (path, reads, serial) in [
        ("/v1/accounts/acct_demo/invoices", 1, 1),
        ("/v1/accounts/acct_demo/invoices/in_DemoFirst0000001", 1, 1),
        ("/v1/accounts/acct_demo/payment-methods", 2, 1),
        ("/v1/accounts/acct_demo/members", 1, 1),
        ("/v1/accounts/acct_demo/members/mem_nosuchmember", 1, 1),
        ("/v1/accounts/acct_demo/subscription", 1, 1),
        ("/v1/accounts/acct_demo/seats", 2, 2),
    ] {
        let r = portal.get(&viewer, path).await;
        assert!(r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
        let calls = log.tally();
        assert_eq!((calls.store, calls.store_serial), (1 + reads, serial), "{path}: {}", calls.path());
    }
    // A bad parameter is answered to a member, after the same one round trip (nothing read).
    let r = portal.get(&viewer, "/v1/accounts/acct_demo/invoices?limit=0").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));
    assert_eq!(log.tally().store, 1);

    // A stranger sees nothing of what was read: not a member, then no invitation for the
    // e-mail (the second round trip), and the refusal is the answer.
    let stranger = integration_tests::User::new("someone-else").with_email("someone@elsewhere.example");
    let r = portal.get(&stranger, "/v1/accounts/acct_demo/statement").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(r.body.get("latest_invoice"), None);
    assert_eq!(log.tally().store_serial, 2);
}
