//! Every parser that takes outside input, under arbitrary and mutated input: the bank's lockbox
//! file and BAI2 report, the cohort import (JSON lines), the usage ingestion, and the portal's
//! and ops API's JSON bodies through the extractor every route uses. Each answers — a value or a
//! typed error — and never panics; what it accepts is consistent (a lockbox file it accepts adds
//! up; a body it refuses gets a JSON error with a stable code and the right status).
//!
//! Nothing here touches a store: every handler parses before it reads or writes, so a refused
//! input writes nothing by construction (the routes' integration tests show the 4xx answers
//! leave the table as it was).
//!
//! 256 cases of each in `make test`; the documented run sets `PARSER_FUZZ_CASES`:
//! `PARSER_FUZZ_CASES=1000000 cargo test --release -p integration-tests --test integration parsers`
//! (the figures are in `docs/reliability.md`).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use billing_domain::bai2;
use billing_domain::catalog::{Price, PriceId};
use billing_domain::contract::{ImportLine, parse_import};
use billing_domain::ledger::Cohort;
use billing_domain::lockbox::{self, Layout};
use billing_http::JsonBody;
use chrono::{NaiveDate, TimeZone, Utc};
use http::{Request, StatusCode};
use proptest::prelude::*;
use tower::ServiceExt;

use crate::lockbox::{Check, file};

fn cases() -> u32 {
    std::env::var("PARSER_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// One edit of a sample: at a position (taken modulo the length), insert, delete, replace,
/// duplicate a stretch, or cut the rest.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize, usize),
    Replace(usize, u8),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes the formats care about more often than chance would pick them.
    let byte = prop_oneof![any::<u8>(), prop::sample::select(b"0123456789,/\n\r{}[]\":-. 9".to_vec()),];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<usize>(), 1usize..16).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), byte).prop_map(|(p, b)| Edit::Replace(p, b)),
        (any::<usize>(), 1usize..40).prop_map(|(p, n)| Edit::Duplicate(p, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(edit(), 1..6)
}

/// The sample with the edits applied (as bytes; the result may not be UTF-8).
fn mutate(sample: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
        match *e {
            Edit::Insert(p, x) => {
                let i = at(p, b.len() + 1);
                b.insert(i, x);
            }
            Edit::Delete(p, n) if !b.is_empty() => {
                let i = at(p, b.len());
                b.drain(i..(i + n).min(b.len()));
            }
            Edit::Replace(p, x) if !b.is_empty() => {
                let i = at(p, b.len());
                b[i] = x;
            }
            Edit::Duplicate(p, n) if !b.is_empty() => {
                let i = at(p, b.len());
                let piece: Vec<u8> = b[i..(i + n).min(b.len())].to_vec();
                b.splice(i..i, piece);
            }
            Edit::Truncate(p) => {
                let i = at(p, b.len() + 1);
                b.truncate(i);
            }
            _ => {}
        }
    }
    b
}

fn lockbox_sample() -> &'static str {
    static SAMPLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        file(
            &[
                Check {
                    cents: 150_000,
                    routing: "055002707",
                    account: "0012345555",
                    number: 10452,
                    remitter: "ACME HOSTING LLC",
                    invoices: vec![("INV-000001", 100_000), ("INV-000002", 50_000)],
                },
                Check {
                    cents: 5_000,
                    routing: "021000021",
                    account: "5566778899",
                    number: 7781,
                    remitter: "X",
                    invoices: vec![],
                },
            ],
            0,
        )
    })
}

const BAI2_SAMPLE: &str = include_str!("../../../shared/domain/tests/fixtures/bai2-package.txt");
const COHORT_SAMPLE: &str = include_str!("../../../events/ops/cohort-dc1.jsonl");

fn catalog() -> &'static BTreeMap<PriceId, Price> {
    static CATALOG: std::sync::OnceLock<BTreeMap<PriceId, Price>> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| {
        let files = [
            include_str!("../../../events/ops/price-rack.json"),
            include_str!("../../../events/ops/price-bandwidth.json"),
            include_str!("../../../events/ops/price-power.json"),
            include_str!("../../../events/ops/price-cross-connect.json"),
        ];
        files
            .iter()
            .map(|f| serde_json::from_str::<Price>(f).expect("a sample price").parse().expect("a valid sample price"))
            .map(|p| (p.id.clone(), p))
            .collect()
    })
}

fn cohort() -> Cohort {
    Cohort::parse("dc1", "DC1 colocation", NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()).unwrap()
}

/// What the lockbox parser accepts adds up: its checks' amounts are the file's total.
fn lockbox_consistent(text: &str) {
    if let Ok(f) = lockbox::parse(text, &Layout::bai()) {
        let sum: u64 = f.batches.iter().flat_map(|b| &b.checks).map(|c| c.amount_cents).sum();
        assert_eq!(sum, f.total_cents, "an accepted file adds up");
    }
}

fn bai2_consistent(text: &str) {
    if let Ok(f) = bai2::parse(text) {
        // Whatever it accepted, its deposits and returned items are read without a panic.
        let _ = (f.deposits(), f.returned_items());
    }
}

fn cohort_lines(text: &str) {
    for (_, line) in parse_import(text) {
        if let Ok(line) = line {
            let _ = ImportLine::parse(line, &cohort(), catalog());
        }
    }
}

const USAGE_SAMPLE: &str = r#"{"records": [
  {"account_id":"acct_acmehosting","metric":"bandwidth_gb","quantity":1250,"timestamp":"2026-11-10T10:00:00Z","idempotency_key":"bw-acme-1"},
  {"account_id":"acct_northwind","metric":"power_kwh","quantity":2600,"timestamp":"2026-11-10T11:00:00Z","idempotency_key":"pw-nw-1"}]}"#;

fn usage(bytes: &[u8]) {
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
    if let Ok(batch) = serde_json::from_slice::<ops_api::usage::UsageBatch>(bytes) {
        for (i, raw) in batch.records.into_iter().enumerate() {
            let _ = ops_api::usage::parse(i, raw, now);
        }
    }
}

/// A route per request body of the portal and the ops API, each taking its body through the
/// extractor the real route uses (and, where the body has one, its domain parse).
fn bodies() -> &'static Router {
    static ROUTER: std::sync::OnceLock<Router> = std::sync::OnceLock::new();
    ROUTER.get_or_init(|| {
        use ops_api::{ledger, lockbox as ops_lockbox, returns};
        use portal_api::routes::{accounts, members, seat_assignments, seats};
        macro_rules! take {
            ($t:ty) => {
                post(|JsonBody(_): JsonBody<$t>| async { StatusCode::OK })
            };
        }
        Router::new()
            .route("/ops/payment", take!(ledger::PaymentBody))
            .route("/ops/check", take!(ledger::CheckBody))
            .route("/ops/credit-note", take!(ledger::CreditNoteBody))
            .route("/ops/write-off", take!(ledger::WriteOffBody))
            .route("/ops/return", take!(returns::ReturnBody))
            .route("/ops/resolve", take!(ops_lockbox::ResolveBody))
            .route("/ops/usage", take!(ops_api::usage::UsageBatch))
            .route(
                "/ops/price",
                post(|JsonBody(p): JsonBody<Price>| async move {
                    match p.parse() {
                        Ok(_) => StatusCode::OK,
                        Err(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    }
                }),
            )
            .route("/portal/account", take!(accounts::CreateAccountRequest))
            .route("/portal/contact", take!(accounts::ContactPatch))
            .route("/portal/address", take!(accounts::AddressPatch))
            .route("/portal/recipients", take!(accounts::RecipientsBody))
            .route("/portal/invite", take!(members::InviteBody))
            .route("/portal/role", take!(members::RoleBody))
            .route("/portal/checkout", take!(seats::CheckoutBody))
            .route("/portal/preview", take!(seats::PreviewBody))
            .route("/portal/change", take!(seats::ChangeBody))
            .route("/portal/assign", take!(seat_assignments::AssignBody))
    })
}

/// A valid body of each route, to mutate.
const BODY_SAMPLES: &[(&str, &str)] = &[
    ("/ops/payment", r#"{"amount":"125.00","check_number":"1042","received_on":"2026-12-01"}"#),
    (
        "/ops/check",
        r#"{"amount":"1250.00","check_number":"1042","received_on":"2026-12-01","invoices":["bill_a_20261101"]}"#,
    ),
    ("/ops/credit-note", r#"{"amount":"50.00","reason":"outage credit"}"#),
    ("/ops/write-off", r#"{"amount":"1.00","reason":"small balance"}"#),
    (
        "/ops/return",
        r#"{"reference":"check:1042","returned_on":"2026-12-02","reason":"insufficient_funds","fee_price":"returned-check-fee"}"#,
    ),
    ("/ops/resolve", r#"{"account_id":"acct_northwind","invoices":["bill_northwind_20261101"]}"#),
    ("/ops/usage", USAGE_SAMPLE),
    ("/ops/price", include_str!("../../../events/ops/price-power.json")),
    (
        "/portal/account",
        r#"{"name":"Acme","currency":"USD","billing_contact":{"name":"Ann","email":"ann@acme.example","phone":"+1 555 010 0100"},"billing_address":{"line1":"1 Main St","city":"Springfield","postal_code":"62701","country":"US"}}"#,
    ),
    ("/portal/contact", r#"{"name":"Ann","email":"ann@acme.example"}"#),
    (
        "/portal/address",
        r#"{"line1":"1 Main St","city":"Springfield","region":"IL","postal_code":"62701","country":"US"}"#,
    ),
    ("/portal/recipients", r#"{"recipients":["ap@acme.example","cfo@acme.example"]}"#),
    ("/portal/invite", r#"{"email":"new@acme.example","role":"viewer"}"#),
    ("/portal/role", r#"{"role":"billing"}"#),
    ("/portal/checkout", r#"{"interval":"monthly","quantity":5}"#),
    ("/portal/preview", r#"{"quantity":8}"#),
    ("/portal/change", r#"{"quantity":8,"proration_date":"2026-12-07T10:00:00Z"}"#),
    ("/portal/assign", r#"{"email":"new@acme.example"}"#),
];

/// The body through its route: 200, or a refusal with its status and a JSON error with a code.
async fn body_answers(path: &str, body: Vec<u8>, json_type: bool) -> Result<(), String> {
    let mut request = Request::post(path);
    if json_type {
        request = request.header("content-type", "application/json");
    }
    let response = bodies().clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    if status == StatusCode::OK {
        return Ok(());
    }
    if !matches!(status.as_u16(), 400 | 413 | 415 | 422) {
        return Err(format!("{path}: status {status}"));
    }
    // The price route's own 422 (its domain parse) has no body to check.
    if path == "/ops/price" && bytes.is_empty() {
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| format!("{path}: not JSON ({e})"))?;
    match v["error"]["code"].as_str() {
        Some(code) if !code.is_empty() => Ok(()),
        _ => Err(format!("{path}: no error code in {v}")),
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
}

#[test]
fn the_samples_are_valid() {
    let f = lockbox::parse(lockbox_sample(), &Layout::bai()).expect("the lockbox sample parses");
    assert_eq!(f.total_cents, 155_000);
    assert!(!bai2::parse(BAI2_SAMPLE).expect("the BAI2 sample parses").returned_items().is_empty());
    let lines = parse_import(COHORT_SAMPLE);
    assert!(
        lines.iter().all(|(_, l)| l.as_ref().is_ok_and(|l| ImportLine::parse(l.clone(), &cohort(), catalog()).is_ok()))
    );
    for (path, body) in BODY_SAMPLES {
        let answered = runtime().block_on(async {
            let r = bodies()
                .clone()
                .oneshot(
                    Request::post(*path).header("content-type", "application/json").body(Body::from(*body)).unwrap(),
                )
                .await
                .unwrap();
            r.status()
        });
        assert_eq!(answered, StatusCode::OK, "{path}: its sample is accepted");
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lockbox_files_mutated(e in edits()) {
        lockbox_consistent(&String::from_utf8_lossy(&mutate(lockbox_sample().as_bytes(), &e)));
    }

    #[test]
    fn lockbox_arbitrary(text in "[0-9A-Z 4-9\n]{0,400}") {
        lockbox_consistent(&text);
    }

    #[test]
    fn bai2_reports_mutated(e in edits()) {
        bai2_consistent(&String::from_utf8_lossy(&mutate(BAI2_SAMPLE.as_bytes(), &e)));
    }

    #[test]
    fn bai2_arbitrary(text in "(0[1-3]|16|88|49|98|99)?[0-9A-Z,/+\\-\n ]{0,300}") {
        bai2_consistent(&text);
    }

    #[test]
    fn cohort_imports_mutated(e in edits()) {
        cohort_lines(&String::from_utf8_lossy(&mutate(COHORT_SAMPLE.as_bytes(), &e)));
    }

    #[test]
    fn usage_batches_mutated(e in edits()) {
        usage(&mutate(USAGE_SAMPLE.as_bytes(), &e));
    }

    #[test]
    fn request_bodies_mutated(which in 0usize..BODY_SAMPLES.len(), e in edits(), json_type in prop::bool::weighted(0.95)) {
        let (path, sample) = BODY_SAMPLES[which];
        let body = mutate(sample.as_bytes(), &e);
        let answered = runtime().block_on(body_answers(path, body, json_type));
        prop_assert!(answered.is_ok(), "{}", answered.unwrap_err());
    }
}
