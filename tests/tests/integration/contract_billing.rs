//! Contract (invoice-mode) billing end to end: catalog and cohort import through the ops API,
//! usage ingestion, the bill run, mails, check payments, credit notes, drafts and voids.

use bill_run::{BillRun, Mode, RunRequest, Settings};
use billing_domain::ports::{BillRunStore, ContractReader, Sequence, SequenceReader};
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use http::StatusCode;
use integration_tests::Stack;
use invoice_mailer::Mailer;
use invoice_mailer::send::Ses;
use serde_json::{Value, json};

use crate::mailer::{FROM, settings};

/// The first of this month and of the month before (bill day 1).
pub(crate) fn months() -> (NaiveDate, NaiveDate) {
    let today = Utc::now().date_naive();
    let m0 = today.with_day(1).unwrap();
    (m0.checked_sub_months(Months::new(1)).unwrap(), m0)
}

pub(crate) async fn catalog(s: &Stack) {
    let prices = [
        json!({"id": "rack", "name": "Rack space, 42U", "currency": "USD",
               "charge": {"type": "recurring", "interval": "monthly"}, "model": "per_unit", "unit_amount": "500"}),
        json!({"id": "bandwidth", "name": "Bandwidth", "currency": "USD", "unit": "GB",
               "charge": {"type": "usage", "metric": "bandwidth_gb"}, "model": "overage", "included": 1000, "unit_amount": "0.05"}),
        json!({"id": "cross-connect", "name": "Cross-connect install", "currency": "USD",
               "charge": {"type": "one_time"}, "model": "flat", "amount": "250"}),
    ];
    for p in prices {
        let id = p["id"].as_str().unwrap().to_owned();
        let r = s.ops("PUT", &format!("/v1/ops/prices/{id}"), Some(p)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
}

pub(crate) async fn cohort(s: &Stack, id: &str, go_live: NaiveDate) {
    let r = s
        .ops("PUT", &format!("/v1/ops/cohorts/{id}"), Some(json!({"name": "DC1 colocation", "go_live": go_live})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

pub(crate) fn line(account: &str, tag: &str, extra_items: &[Value]) -> String {
    let mut items = vec![
        json!({"id": "rack-a12", "price_id": "rack", "group": "DC1 / Cage 4", "start": "2025-01-01", "quantity": 2}),
        json!({"id": "bw", "price_id": "bandwidth", "group": "DC1 / Cage 4", "start": "2025-01-01"}),
    ];
    items.extend(extra_items.iter().cloned());
    json!({
        "account_id": account, "name": format!("{account} Hosting"), "currency": "USD",
        "contact": {"name": "Accounts Payable", "email": format!("ap@{tag}.example")},
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        "billing_mode": "invoice", "bill_day": 1, "subscriptions": items
    })
    .to_string()
}

pub(crate) async fn import(s: &Stack, cohort: &str, lines: &[String]) -> Value {
    let body = lines.join("\n");
    let r = s
        .ops_call("POST", &format!("/v1/ops/cohorts/{cohort}/accounts"), Some(body.as_bytes()), "application/x-ndjson")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn run(s: &Stack, mode: &str, date: NaiveDate) -> Value {
    let r = s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": mode, "date": date}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["failures"], json!([]), "{:?}", r.body);
    r.body
}

fn outcomes(report: &Value) -> Vec<String> {
    let mut o: Vec<String> =
        report["results"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap().to_owned()).collect();
    o.sort();
    o
}

pub(crate) async fn invoices(s: &Stack) -> Vec<Value> {
    let mut all: Vec<Value> = s.items_of("invoice").await;
    all.sort_by(|a, b| a["number"].as_str().cmp(&b["number"].as_str()));
    all
}

async fn account(s: &Stack, id: &str) -> Value {
    let r = s.ops("GET", &format!("/v1/ops/accounts/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn usage(account: &str, gb: u64, at: NaiveDate, key: &str) -> Value {
    json!({"account_id": account, "metric": "bandwidth_gb", "quantity": gb,
           "timestamp": format!("{at}T12:00:00Z"), "idempotency_key": key})
}

#[tokio::test]
async fn a_month_of_usage_for_three_accounts_is_billed_once_and_mailed() {
    let s = Stack::new().await;
    let (m1, m0) = months();
    catalog(&s).await;
    cohort(&s, "dc1", m1).await;
    let tags = ["cb-flow-a", "cb-flow-b", "cb-flow-c"];
    let ids = ["acct_flowa", "acct_flowb", "acct_flowc"];
    let lines: Vec<String> = ids.iter().zip(tags).map(|(id, tag)| line(id, tag, &[])).collect();
    let imported = import(&s, "dc1", &lines).await;
    assert_eq!(imported["imported"], 3, "{imported:?}");
    // The same file again: nothing twice.
    assert_eq!(import(&s, "dc1", &lines).await["existing"], 3);

    // First bill on go-live: the month ahead, in advance (the previous system billed before).
    let first = run(&s, "finalize", m1).await;
    assert_eq!(outcomes(&first), ["finalized"; 3]);

    // A month of usage, with a duplicate and bad records in the batch.
    let mid = m1 + Days::new(9);
    let records = json!({"records": [
        usage("acct_flowa", 700, mid, "a-1"), usage("acct_flowa", 550, mid + Days::new(3), "a-2"),
        usage("acct_flowb", 800, mid, "b-1"),
        usage("acct_flowc", 3000, mid, "c-1"),
        usage("acct_flowa", 700, mid, "a-1"),
        usage("acct_flowa", 5, mid, "a-3") .as_object().map(|o| { let mut o = o.clone(); o.insert("metric".into(), json!("cpu_hours")); Value::Object(o) }).unwrap(),
        json!({"account_id": "acct_flowa", "metric": "bandwidth_gb", "quantity": -3, "timestamp": "2026-01-01T00:00:00Z", "idempotency_key": "a-4"}),
        usage("acct_nosuch", 5, mid, "x-1"),
    ]});
    let r = s.ops("POST", "/v1/usage", Some(records.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["accepted"].as_u64(), r.body["duplicates"].as_u64(), r.body["rejected"].as_u64()),
        (Some(4), Some(1), Some(3)),
        "{:?}",
        r.body
    );
    let codes: Vec<&str> = r.body["results"].as_array().unwrap().iter().filter_map(|x| x["code"].as_str()).collect();
    assert_eq!(codes, ["unknown_metric", "invalid_quantity", "account_not_contract_billed"]);
    assert_eq!(r.body["results"][0]["bill_date"], json!(m0));
    // The whole batch sent again (a client retry): every stored record is a duplicate.
    let again = s.ops("POST", "/v1/usage", Some(records)).await;
    assert_eq!(
        (again.body["accepted"].as_u64(), again.body["duplicates"].as_u64()),
        (Some(0), Some(5)),
        "{:?}",
        again.body
    );

    let second = run(&s, "finalize", m0).await;
    assert_eq!(outcomes(&second), ["finalized"; 3]);
    let totals: Vec<(String, String)> = second["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["account_id"].as_str().unwrap().to_owned(), r["total"]["amount"].as_str().unwrap().to_owned()))
        .collect();
    let total_of = |id: &str| totals.iter().find(|(a, _)| a == id).unwrap().1.clone();
    assert_eq!(total_of("acct_flowa"), "1012.50", "2 racks + 250 GB over 1,000 at 0.05");
    assert_eq!(total_of("acct_flowb"), "1000.00", "800 GB is within the allowance");
    assert_eq!(total_of("acct_flowc"), "1100.00");

    // The run again: nothing new. Numbers are gap-free.
    let third = run(&s, "finalize", m0).await;
    assert_eq!(outcomes(&third), Vec::<String>::new(), "nothing is due: {third:?}");
    let all = invoices(&s).await;
    let numbers: Vec<&str> = all.iter().map(|i| i["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["INV-000001", "INV-000002", "INV-000003", "INV-000004", "INV-000005", "INV-000006"]);
    assert_eq!(s.store().sequence(Sequence::Invoice).await.unwrap(), 6);

    // The bill of flow A: grouped lines, usage with its service period, in the account's list.
    let a_bill = all
        .iter()
        .find(|i| i["account_id"] == "acct_flowa" && i["period_end"].as_str().unwrap().starts_with(&m0.to_string()))
        .unwrap();
    let kinds: Vec<&str> = a_bill["lines"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["recurring", "usage", "overage"]);
    assert_eq!(a_bill["lines"][2]["period"]["start"].as_str().unwrap()[..10], m1.to_string());
    assert_eq!(a_bill["status"], "open");
    assert_eq!(account(&s, "acct_flowa").await["balance_due"]["amount"], "2012.50");

    // The mailer sends each bill once to each account's contact, with the stub and REMIT-TO.
    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings());
    let batch = s.stream_of("work_item").await;
    assert_eq!(batch.records.len(), 6);
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty(), "redelivered");
    for tag in tags {
        let sent = crate::mailer::sent_to(&s, tag);
        assert_eq!(sent.len(), 2, "two bills to {tag}");
        let raw = sent.iter().map(|m| m["raw_data"].as_str().unwrap_or_default().to_owned()).collect::<String>();
        assert!(raw.contains("INV-0000"), "the invoice number is in the mail");
    }
}

#[tokio::test]
async fn two_bill_runs_at_once_make_one_invoice_per_account() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc2", m1).await;
    let lines: Vec<String> = (0..6).map(|i| line(&format!("acct_conc{i}"), &format!("cb-conc-{i}"), &[])).collect();
    import(&s, "dc2", &lines).await;
    let request = RunRequest { mode: Mode::Finalize, date: Some(m1), accounts: None, drafts_only: false };
    let one = BillRun::new(s.store(), Settings { concurrency: 3, ..Settings::default() });
    let two = BillRun::new(s.store(), Settings { concurrency: 3, ..Settings::default() });
    let now = Utc::now();
    let (a, b) = tokio::join!(one.run(&request, now, None), two.run(&request, now, None));
    assert!(a.failures.is_empty() && b.failures.is_empty(), "{:?} {:?}", a.failures, b.failures);
    let finalized = a.results.iter().chain(&b.results).filter(|r| r.outcome == bill_run::Outcome::Finalized).count();
    assert_eq!(finalized, 6, "each account billed by exactly one of the runs");
    let all = invoices(&s).await;
    assert_eq!(all.len(), 6);
    let mut numbers: Vec<&str> = all.iter().map(|i| i["number"].as_str().unwrap()).collect();
    numbers.dedup();
    assert_eq!(numbers, (1..=6).map(|n| format!("INV-{n:06}")).collect::<Vec<_>>());
    assert_eq!(s.items_of("work_item").await.len(), 6, "one bill mail each");
}

#[tokio::test]
async fn a_bill_run_resumes_after_a_crash_between_closing_and_finalizing() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc3", m1).await;
    import(&s, "dc3", &[line("acct_crash", "cb-crash", &[])]).await;
    // The crash: the bucket was closed (step 1) and nothing else.
    let store = s.store();
    let id = "acct_crash".parse().unwrap();
    let before = store.contract_account(&id).await.unwrap().unwrap();
    let mut closed = before.clone();
    closed.usage_bucket = before.following_bill(before.next_bill_date);
    closed.version += 1;
    store.save_contract(&before, &closed).await.unwrap();
    let report = run(&s, "finalize", m1).await;
    assert_eq!(outcomes(&report), ["finalized"]);
    assert_eq!(invoices(&s).await.len(), 1);
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc4", m1).await;
    import(&s, "dc4", &[line("acct_dry", "cb-dry", &[json!({"id": "xc", "price_id": "cross-connect", "group": "DC1 / Cage 4", "start": m1 + Days::new(3), "quantity": 1})])]).await;
    let items = s.item_count().await;
    let report = run(&s, "dry_run", m1).await;
    assert_eq!(outcomes(&report), ["would_bill"]);
    let invoice = &report["results"][0]["invoice"];
    assert_eq!(invoice["total"]["amount"], "1250.00", "two racks and the install fee");
    assert_eq!(invoice["status"], "draft");
    assert_eq!(s.item_count().await, items, "a dry run writes nothing");
}

#[tokio::test]
async fn check_payments_partial_over_and_repeated() {
    let s = Stack::new().await;
    let (m1, m0) = months();
    catalog(&s).await;
    cohort(&s, "dc5", m1).await;
    import(&s, "dc5", &[line("acct_check", "cb-check", &[])]).await;
    run(&s, "finalize", m1).await;
    let bill = invoices(&s).await[0]["id"].as_str().unwrap().to_owned();
    let pay = |amount: &str, check: &str| json!({"amount": amount, "check_number": check, "received_on": Utc::now().date_naive()});
    let path = format!("/v1/ops/accounts/acct_check/invoices/{bill}/payments");

    let r = s.ops("POST", &path, Some(pay("400.00", "1001"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        (r.body["invoice"]["amount_remaining"]["amount"].as_str(), r.body["balance_due"]["amount"].as_str()),
        (Some("600.00"), Some("600.00"))
    );
    let again = s.ops("POST", &path, Some(pay("400.00", "1001"))).await;
    assert_eq!((again.status, again.body["status"].as_str()), (StatusCode::OK, Some("already_recorded")));
    assert_eq!(again.body["balance_due"]["amount"], "600.00", "the same check is not applied twice");

    for (amount, code) in [("12.345", "validation_failed"), ("-5", "validation_failed"), ("ten", "validation_failed")] {
        let r = s.ops("POST", &path, Some(pay(amount, "1009"))).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{amount}: {:?}", r.body);
    }

    let r = s.ops("POST", &path, Some(pay("700.00", "1002"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["invoice"]["status"], "paid");
    assert_eq!(
        (r.body["account_credit"]["amount"].as_str(), r.body["balance_due"]["amount"].as_str()),
        (Some("100.00"), Some("0.00"))
    );
    let late = s.ops("POST", &path, Some(pay("1.00", "1003"))).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "invoice_state"));

    // The overpayment is applied to the next bill.
    let next = run(&s, "finalize", m0).await;
    assert_eq!(outcomes(&next), ["finalized"]);
    let view = account(&s, "acct_check").await;
    assert_eq!(view["contract"]["credit"]["amount"], "0.00");
    assert_eq!(view["balance_due"]["amount"], "900.00");
    // The second bill's account summary: both checks in, the overpayment carried forward, and
    // the total due what the account owes.
    let summaries: Vec<Value> = invoices(&s).await.iter().map(|i| i["account_summary"].clone()).collect();
    let amounts = |v: &Value| {
        ["previous_balance", "payments", "credits", "balance_forward", "new_charges", "total_due"]
            .map(|k| v[k]["amount"].as_str().unwrap().to_owned())
    };
    assert_eq!(amounts(&summaries[0]), ["0.00", "0.00", "0.00", "0.00", "1000.00", "1000.00"]);
    assert_eq!(amounts(&summaries[1]), ["1000.00", "1100.00", "0.00", "-100.00", "1000.00", "900.00"]);
    assert_eq!(summaries[1]["cut_off"], json!(Utc::now().date_naive()));

    // The customer's statement of account: each bill a debit, each check a credit, the second
    // bill using the overpayment; it ends at what the bills still owe, the balance due.
    let r = s
        .ops(
            "POST",
            "/v1/ops/accounts/acct_check/members",
            Some(json!({"email": "ap@cb-check.example", "role": "admin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ap = integration_tests::User::new("check-ap").with_email("ap@cb-check.example");
    let st = s.get(&ap, "/v1/accounts/acct_check/statement?from=2020-01-01").await;
    assert_eq!(st.status, StatusCode::OK, "{:?}", st.body);
    let rows: Vec<(&str, &str, &str, &str)> = st.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reference"].as_str().unwrap(),
                e["debit"]["amount"].as_str().unwrap(),
                e["credit"]["amount"].as_str().unwrap(),
                e["balance"]["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("INV-000001", "1000.00", "0.00", "1000.00"),
            ("check:1001", "0.00", "400.00", "600.00"),
            ("check:1002", "0.00", "700.00", "-100.00"),
            ("INV-000002", "1000.00", "0.00", "900.00"),
        ]
    );
    assert_eq!(st.body["entries"][3]["description"], "Invoice INV-000002 (account credit used: 100.00 USD)");
    assert_eq!(st.body["entries"][2]["description"], "Check 1002 for invoice INV-000001");
    assert_eq!(
        (st.body["closing_balance"]["amount"].as_str(), st.body["balance_due"]["amount"].as_str()),
        (Some("900.00"), Some("900.00"))
    );
    assert_eq!(st.body["unapplied_credit"]["amount"], "0.00");
    assert_eq!(st.body["open_items"][0]["number"], "INV-000002");
    assert_eq!(st.body["aging"]["current"]["amount"], "900.00");
    assert_eq!(s.items_of("received_payment").await.len(), 2);
    let receipts = s.items_of("work_item").await.into_iter().filter(|w| w["kind"] == "payment_received").count();
    assert_eq!(receipts, 2, "a receipt per check");
}

#[tokio::test]
async fn credit_notes_and_voided_drafts() {
    let s = Stack::new().await;
    let (m1, m0) = months();
    catalog(&s).await;
    cohort(&s, "dc6", m1).await;
    import(&s, "dc6", &[line("acct_notes", "cb-notes", &[])]).await;

    // A draft for review, kept off the customer's list; voided; drafted again under a new id.
    let drafted = run(&s, "draft", m1).await;
    assert_eq!(outcomes(&drafted), ["drafted"]);
    let draft_id = drafted["results"][0]["invoice_id"].as_str().unwrap().to_owned();
    assert_eq!(run(&s, "draft", m1).await["results"][0]["outcome"], "draft_pending");
    let listed = account(&s, "acct_notes").await;
    assert_eq!(listed["invoices"], json!([]), "drafts are not listed");
    assert_eq!(listed["contract"]["draft_invoice_id"], json!(draft_id));
    let r = s.ops("POST", &format!("/v1/ops/accounts/acct_notes/invoices/{draft_id}/void"), None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("void")), "{:?}", r.body);
    let r = s.ops("POST", &format!("/v1/ops/accounts/acct_notes/invoices/{draft_id}/void"), None).await;
    assert_eq!(r.code(), "invoice_state", "voided once");
    let redrafted = run(&s, "draft", m1).await;
    let new_id = redrafted["results"][0]["invoice_id"].as_str().unwrap().to_owned();
    assert_eq!(new_id, format!("{draft_id}_r1"));
    // Finalizing the reviewed draft takes the first number: voided drafts use none.
    let fin = run(&s, "finalize", m1).await;
    assert_eq!(
        (fin["results"][0]["outcome"].as_str(), fin["results"][0]["number"].as_str()),
        (Some("finalized"), Some("INV-000001"))
    );
    assert_eq!(fin["results"][0]["invoice_id"], json!(new_id));
    let void_finalized = s.ops("POST", &format!("/v1/ops/accounts/acct_notes/invoices/{new_id}/void"), None).await;
    assert_eq!((void_finalized.status, void_finalized.code()), (StatusCode::CONFLICT, "invoice_state"));

    // A credit note corrects the finalized bill.
    let path = format!("/v1/ops/accounts/acct_notes/invoices/{new_id}/credit-notes");
    let r =
        s.ops("POST", &path, Some(json!({"amount": "150.00", "reason": "Rack A12 down 3 days (SLA credit)"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["credit_note"]["number"], "CN-000001");
    assert_eq!(r.body["invoice"]["amount_remaining"]["amount"], "850.00");
    let r = s.ops("POST", &path, Some(json!({"amount": "900.00", "reason": "Cancelled in error"}))).await;
    assert_eq!(
        (r.body["invoice"]["status"].as_str(), r.body["account_credit"]["amount"].as_str()),
        (Some("paid"), Some("50.00"))
    );
    let view = account(&s, "acct_notes").await;
    assert_eq!(view["balance_due"]["amount"], "0.00");
    assert_eq!(view["credit_notes"].as_array().unwrap().len(), 2);

    // Each credit note goes to the bill's recipients with its PDF, kept like the bill's.
    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings()).with_documents(s.documents());
    let batch = s.stream_of("work_item").await;
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty(), "redelivered");
    let notes: Vec<String> = crate::mailer::sent_to(&s, "cb-notes")
        .iter()
        .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
        .filter(|raw| raw.contains("Message-ID: <credit_note."))
        .collect();
    assert_eq!(notes.len(), 2, "one mail per credit note");
    let s3 = billing_aws::documents::client(&s.aws);
    for (note, number) in view["credit_notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["number"].as_str().unwrap()))
    {
        let key = format!("bills/acct_notes/{note}.pdf");
        let stored = s3.get_object().bucket(s.documents_bucket()).key(&key).send().await.unwrap();
        let stored = stored.body.collect().await.unwrap().into_bytes();
        let attached = notes.iter().find_map(|raw| attachment(raw, &format!("{number}.pdf")));
        assert_eq!(attached.as_deref(), Some(&stored[..]), "{number}: the mail carries the stored PDF");
    }
    assert_eq!(run(&s, "finalize", m0).await["results"][0]["total"]["amount"], "1000.00");
    assert_eq!(account(&s, "acct_notes").await["balance_due"]["amount"], "950.00", "credit applied");
    let all = invoices(&s).await;
    let second = &all.last().unwrap()["account_summary"];
    let amounts = ["previous_balance", "payments", "credits", "balance_forward", "new_charges", "total_due"]
        .map(|k| second[k]["amount"].as_str().unwrap().to_owned());
    assert_eq!(amounts, ["1000.00", "0.00", "1050.00", "-50.00", "1000.00", "950.00"], "both credit notes counted");
}

#[tokio::test]
async fn late_usage_is_billed_on_the_next_bill_with_its_own_period() {
    let s = Stack::new().await;
    let (m1, m0) = months();
    let m2 = m1.checked_sub_months(Months::new(1)).unwrap();
    catalog(&s).await;
    cohort(&s, "dc7", m2).await;
    import(&s, "dc7", &[line("acct_late", "cb-late", &[])]).await;
    run(&s, "finalize", m1).await; // bills m2 and m1 (catching up)
    assert_eq!(invoices(&s).await.len(), 2);
    // Usage from two months ago arrives now: its bill (m1) is made; it goes to m0's.
    let r = s
        .ops("POST", "/v1/usage", Some(json!({"records": [usage("acct_late", 1200, m2 + Days::new(5), "late-1")]})))
        .await;
    assert_eq!(r.body["results"][0]["bill_date"], json!(m0), "{:?}", r.body);
    let before_go_live = s
        .ops("POST", "/v1/usage", Some(json!({"records": [usage("acct_late", 1, m2 - Days::new(1), "early-1")]})))
        .await;
    assert_eq!(before_go_live.body["results"][0]["code"], "before_go_live");
    run(&s, "finalize", m0).await;
    let bill = invoices(&s).await.pop().unwrap();
    let late = bill["lines"].as_array().unwrap().iter().find(|l| l["kind"] == "overage").unwrap().clone();
    assert_eq!(late["amount"]["amount"], "10.00");
    assert_eq!(late["period"]["start"].as_str().unwrap()[..10], m2.to_string(), "its own service period");
    assert!(late["description"].as_str().unwrap().contains("GB"));
}

#[tokio::test]
async fn a_cohort_gets_the_new_bill_format_notice_once_a_month_ahead() {
    let s = Stack::new().await;
    catalog(&s).await;
    let today = Utc::now().date_naive();
    cohort(&s, "cloud", today + Days::new(45)).await;
    import(&s, "cloud", &[line("acct_notice1", "cb-notice-1", &[]), line("acct_notice2", "cb-notice-2", &[])]).await;
    assert_eq!(run(&s, "finalize", today).await["notices_queued"], 0, "not yet: 45 days ahead");
    assert!(s.items_of("work_item").await.is_empty());
    // Go-live moves closer: 20 days ahead, the notice is due.
    cohort(&s, "cloud", today + Days::new(20)).await;
    assert_eq!(run(&s, "finalize", today).await["notices_queued"], 2);
    assert_eq!(run(&s, "finalize", today).await["notices_queued"], 0, "once");
    // An account imported after the notices went out gets its own at import.
    import(&s, "cloud", &[line("acct_notice3", "cb-notice-3", &[])]).await;
    assert_eq!(s.items_of("work_item").await.len(), 3);

    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings());
    let batch = s.stream_of("work_item").await;
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty());
    for tag in ["cb-notice-1", "cb-notice-2", "cb-notice-3"] {
        let sent = crate::mailer::sent_to(&s, tag);
        assert_eq!(sent.len(), 1, "{tag}");
    }
}

#[tokio::test]
async fn bad_input_to_the_ops_api_is_refused_with_a_code() {
    let s = Stack::new().await;
    let r = s.ops("PUT", "/v1/ops/prices/tiers", Some(json!({"id": "tiers", "name": "T", "currency": "USD",
        "charge": {"type": "recurring", "interval": "monthly"}, "model": "graduated", "tiers": [{"up_to": 10, "unit_amount": "1"}]}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{:?}", r.body);
    let r = s.ops_call("POST", "/v1/ops/cohorts/nope/accounts", Some(b"{}"), "application/x-ndjson").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "no_cohort"));
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc8", m1).await;
    let bad = line("acct_bad", "cb-bad", &[]).replace("\"rack\"", "\"nope\"");
    let r = import(&s, "dc8", &[bad, "{not json".into()]).await;
    assert_eq!(r["rejected"], 2);
    assert_eq!(r["results"][0]["details"][0]["field"], "subscriptions[0].price_id");
    let r = s.ops("POST", "/v1/usage", Some(json!({"records": vec![json!({}); 1001]}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large"));
    let r = s.ops_call("POST", "/v1/usage", Some(b"{\"records\": ["), "application/json").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_json"));
    // Without IAM authorization in the request context (never reached in AWS): refused.
    let r = s.call_with(None, "GET", "/v1/ops/prices", &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "the portal has no ops routes");
    let due = s.store().due_accounts(m1, 10, None).await.unwrap();
    assert!(due.items.is_empty());
}

#[tokio::test]
async fn a_contract_bill_is_paid_by_card_in_the_portal() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc9", m1).await;
    import(&s, "dc9", &[line("acct_cardpay", "cb-cardpay", &[])]).await;
    run(&s, "finalize", m1).await;
    let bill = invoices(&s).await[0]["id"].as_str().unwrap().to_owned();

    // Ops invite the account's first admin; they sign in and see the bill in the portal.
    let r = s
        .ops(
            "POST",
            "/v1/ops/accounts/acct_cardpay/members",
            Some(json!({"email": "owner@cb-cardpay.example", "role": "admin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let admin = integration_tests::User::new("cardpay-owner").with_email("owner@cb-cardpay.example");
    let statement = s.get(&admin, "/v1/accounts/acct_cardpay/statement").await;
    assert_eq!(statement.status, StatusCode::OK, "{:?}", statement.body);
    assert_eq!(statement.body["balance_due"]["amount"], "1000.00");
    // The bill run ends a period where the next starts; people read its last day.
    let shown = s.get(&admin, &format!("/v1/accounts/acct_cardpay/invoices/{bill}")).await;
    for line in shown.body["groups"][0]["lines"].as_array().unwrap() {
        let period = &line["service_period"];
        let end: chrono::DateTime<chrono::Utc> = period["end"].as_str().unwrap().parse().unwrap();
        assert_eq!(end.time(), chrono::NaiveTime::MIN, "{period}");
        assert_eq!(period["last_day"], json!(end.date_naive().pred_opt().unwrap()), "{period}");
    }

    let pay = "/v1/accounts/acct_cardpay/payments";
    let r = s.call(&admin, "POST", pay, Some(json!({"pay_with": "default_method"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{:?}", r.body);
    let r = s.call(&admin, "POST", pay, None).await;
    assert_eq!((r.status, r.body["mode"].as_str()), (StatusCode::CREATED, Some("checkout")), "{:?}", r.body);
    assert_eq!(r.body["invoice_ids"], json!([bill]));
    let webhook = s.live_webhook();
    s.fake.complete_checkout(r.body["session_id"].as_str().unwrap()).unwrap();
    let kinds: Vec<String> = s.flush(&webhook).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["checkout.session.completed"]);

    let view = account(&s, "acct_cardpay").await;
    assert_eq!(view["balance_due"]["amount"], "0.00");
    assert_eq!(view["invoices"][0]["status"], "paid");
    let payments = s.items_of("received_payment").await;
    assert_eq!((payments.len(), payments[0]["method"].as_str()), (1, Some("card")));
    // The same session's payment reported again (Stripe's redelivery after a lost answer): no-op.
    let store = s.store();
    let again = billing_domain::receipts::receive(
        &store,
        &billing_domain::receipts::Incoming {
            account_id: "acct_cardpay".parse().unwrap(),
            invoice_id: bill.clone(),
            amount: billing_domain::Money::new("1000.00".parse().unwrap(), "USD".parse().unwrap()),
            reference: payments[0]["reference"].as_str().unwrap().to_owned(),
            method: "card",
            check_number: None,
            received_on: Utc::now().date_naive(),
            actor: billing_domain::Actor { user_id: "stripe".parse().unwrap(), email: None },
            recorded_by: "test".into(),
            when_closed: billing_domain::receipts::WhenClosed::ToCredit,
            reason: None,
        },
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(matches!(
        again,
        billing_domain::receipts::Received::Done { recorded: billing_domain::ports::Recorded::AlreadyRecorded, .. }
    ));
    let statement = s.get(&admin, "/v1/accounts/acct_cardpay/statement").await;
    assert_eq!(statement.body["balance_due"]["amount"], "0.00");
    let r = s.call(&admin, "POST", pay, None).await;
    assert_eq!(r.code(), "nothing_to_pay");
    // A card payment is not "returned" like a check: refunds and disputes come from Stripe.
    let back =
        json!({"reference": payments[0]["reference"], "returned_on": Utc::now().date_naive(), "reason": "other"});
    let r = s.ops("POST", "/v1/ops/accounts/acct_cardpay/payments/return", Some(back)).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{:?}", r.body);
    assert_eq!(account(&s, "acct_cardpay").await["balance_due"]["amount"], "0.00");
}

/// Any member of an account billed by contract sees this period's usage as it is accepted, and
/// the next bill as the bill run would make it now (the same bill its dry run makes).
#[tokio::test]
async fn usage_to_date_and_the_upcoming_bill_in_the_portal() {
    let s = Stack::new().await;
    let (m1, m0) = months();
    catalog(&s).await;
    cohort(&s, "dc8", m1).await;
    import(&s, "dc8", &[line("acct_usagenow", "cb-usagenow", &[])]).await;
    run(&s, "finalize", m0).await; // last month's and this month's bills: the next is next month's
    let next_bill = m0.checked_add_months(Months::new(1)).unwrap();

    let r = s
        .ops(
            "POST",
            "/v1/ops/accounts/acct_usagenow/members",
            Some(json!({"email": "viewer@cb-usagenow.example", "role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let viewer = integration_tests::User::new("usagenow-viewer").with_email("viewer@cb-usagenow.example");

    let before = s.get(&viewer, "/v1/accounts/acct_usagenow/usage").await;
    assert_eq!(before.status, StatusCode::OK, "{:?}", before.body);
    assert_eq!(before.body["bill_date"], json!(next_bill));
    assert_eq!(before.body["period"]["first_day"], json!(m0));
    assert_eq!(before.body["period"]["last_day"], json!(next_bill.pred_opt().unwrap()));
    let bw = &before.body["items"][0];
    assert_eq!((&bw["metric"], &bw["quantity"], &bw["included"]), (&json!("bandwidth_gb"), &json!(0), &json!(1000)));
    assert_eq!(bw["estimated_amount"], json!({"amount": "0.00", "currency": "USD"}));

    // 1,200 GB served now: on the next read, 200 beyond the 1,000 included, at 0.05.
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let records = json!({"records": [{"account_id": "acct_usagenow", "metric": "bandwidth_gb", "quantity": 1200,
                                      "timestamp": now, "idempotency_key": "now-1"}]});
    let r = s.ops("POST", "/v1/usage", Some(records)).await;
    assert_eq!(r.body["accepted"], 1, "{:?}", r.body);
    let after = s.get(&viewer, "/v1/accounts/acct_usagenow/usage").await;
    let bw = &after.body["items"][0];
    assert_eq!((&bw["quantity"], &bw["beyond_included"]), (&json!(1200), &json!(200)), "{:?}", after.body);
    assert_eq!(bw["estimated_amount"], json!({"amount": "10.00", "currency": "USD"}));
    assert_eq!(after.body["estimated_total"], json!({"amount": "10.00", "currency": "USD"}));

    // The upcoming bill: next month's racks in advance and this month's bandwidth, as the bill
    // run's dry run makes it.
    let upcoming = s.get(&viewer, "/v1/accounts/acct_usagenow/invoices/upcoming").await;
    assert_eq!(upcoming.status, StatusCode::OK, "{:?}", upcoming.body);
    assert_eq!((&upcoming.body["estimate"], &upcoming.body["bill_date"]), (&json!(true), &json!(next_bill)));
    let invoice = &upcoming.body["invoice"];
    assert_eq!((&invoice["status"], &invoice["number"]), (&json!("draft"), &json!(null)));
    assert_eq!(invoice["total"], json!({"amount": "1010.00", "currency": "USD"}), "{invoice:?}");
    let dry = run(&s, "dry_run", next_bill).await;
    let would =
        &dry["results"].as_array().unwrap().iter().find(|r| r["account_id"] == "acct_usagenow").unwrap()["invoice"];
    assert_eq!(would["total"]["amount"], "1010.00");
    let lines = |groups: &Value| -> Vec<(String, String)> {
        groups
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["lines"].as_array().unwrap().clone())
            .map(|l| {
                (l["description"].as_str().unwrap().to_owned(), l["amount"]["amount"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let dry_lines: Vec<(String, String)> = would["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["description"].as_str().unwrap().to_owned(), l["amount"]["amount"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(lines(&invoice["groups"]), dry_lines, "the dry run's own lines");
    assert_eq!(invoice["id"], would["id"]);

    // Not for an account billed by card, nor for a stranger.
    let card = integration_tests::User::new("usagenow-card");
    let made = s.call(&card, "POST", "/v1/accounts", Some(integration_tests::new_account("Card Co"))).await;
    let card_id = made.body["id"].as_str().unwrap().to_owned();
    for path in ["usage", "invoices/upcoming"] {
        let r = s.get(&card, &format!("/v1/accounts/{card_id}/{path}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_contract_billed"), "{path}");
        let r = s.get(&card, &format!("/v1/accounts/acct_usagenow/{path}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
}

/// An unpaid bill on its way past its due date, with the bill run's clock moved instead of slept:
/// a reminder at each step of the schedule, each once; none while paused; a partial check in
/// between; the aging report at its bucket boundaries (JSON and CSV); what the portal shows past
/// due; and once the bill is paid, no reminder, not even one queued before.
#[tokio::test]
async fn an_unpaid_bill_is_reminded_on_schedule_and_aged_until_paid() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc7", m1).await;
    import(&s, "dc7", &[line("acct_overdue", "cb-overdue", &[])]).await;
    assert_eq!(run(&s, "finalize", m1).await["reminders_queued"], 0, "not due for a month");
    let bill = invoices(&s).await[0].clone();
    let bill_id = bill["id"].as_str().unwrap().to_owned();
    let due: NaiveDate = bill["due_date"].as_str().unwrap()[..10].parse().unwrap();
    let day = |offset: i64| due.checked_add_signed(chrono::Duration::days(offset)).unwrap();
    // The scheduled run, with its clock at 09:00 on `offset` days from the due date.
    let remind_on = |offset: i64| {
        let run = BillRun::new(s.store(), Settings::default());
        async move {
            let request = RunRequest { mode: Mode::Finalize, date: Some(m1), accounts: None, drafts_only: false };
            let report = run.run(&request, day(offset).and_hms_opt(9, 0, 0).unwrap().and_utc(), None).await;
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            report.reminders_queued
        }
    };
    let steps = async |s: &Stack| {
        let mut steps: Vec<i64> = s
            .items_of("work_item")
            .await
            .into_iter()
            .filter(|w| w["kind"] == "payment_reminder")
            .map(|w| w["step"].as_i64().unwrap())
            .collect();
        steps.sort();
        steps
    };

    let r = s.ops("GET", "/v1/ops/settings/reminders", None).await;
    assert_eq!(r.body["offsets_days"], json!([-3, 1, 7, 14]), "the default schedule");
    assert_eq!(remind_on(-4).await, 0);
    assert_eq!(remind_on(-3).await, 1, "three days before it is due");
    assert_eq!(remind_on(-3).await, 0, "once");
    assert_eq!(remind_on(0).await, 0, "nothing new on the due date");

    // Paused, the day-1 step passes; resumed the day after, it goes out then.
    let pause = |paused: bool| s.ops("PUT", "/v1/ops/accounts/acct_overdue/reminders", Some(json!({"paused": paused})));
    assert_eq!(pause(true).await.body, json!({"account_id": "acct_overdue", "paused": true}));
    assert_eq!(remind_on(1).await, 0, "paused");
    assert_eq!(pause(false).await.status, StatusCode::OK);

    // A check for part of it.
    let path = format!("/v1/ops/accounts/acct_overdue/invoices/{bill_id}/payments");
    // Received today (the run's clock is a month ahead; a check cannot be received in the future).
    let check = |amount: &str, number: &str| json!({"amount": amount, "check_number": number, "received_on": Utc::now().date_naive()});
    assert_eq!(s.ops("POST", &path, Some(check("400.00", "2001"))).await.status, StatusCode::CREATED);
    assert_eq!(remind_on(2).await, 1, "the day-1 step, a day late");
    assert_eq!(steps(&s).await, [-3, 1]);

    // Aged at the boundaries of each bucket, 600.00 left.
    let bucket_on = async |offset: i64| {
        let r = s.ops("GET", &format!("/v1/ops/receivables?as_of={}", day(offset)), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let row = &r.body["accounts"][0];
        assert_eq!((&row["account_id"], &row["total"]["amount"]), (&json!("acct_overdue"), &json!("600.00")), "{r:?}");
        let nonzero: Vec<&str> = ["current", "days_1_30", "days_31_60", "days_61_90", "over_90"]
            .into_iter()
            .filter(|b| row[*b]["amount"] != "0.00")
            .collect();
        assert_eq!(r.body["totals"][0]["total"]["amount"], "600.00");
        (nonzero, row["days_past_due"].as_i64().unwrap())
    };
    assert_eq!(bucket_on(0).await, (vec!["current"], 0));
    assert_eq!(bucket_on(1).await, (vec!["days_1_30"], 1));
    assert_eq!(bucket_on(30).await, (vec!["days_1_30"], 30));
    assert_eq!(bucket_on(31).await, (vec!["days_31_60"], 31));
    assert_eq!(bucket_on(60).await, (vec!["days_31_60"], 60));
    assert_eq!(bucket_on(61).await, (vec!["days_61_90"], 61));
    assert_eq!(bucket_on(90).await, (vec!["days_61_90"], 90));
    assert_eq!(bucket_on(91).await, (vec!["over_90"], 91));
    let csv =
        s.ops_with("GET", &format!("/v1/ops/receivables?as_of={}", day(45)), &[("accept", "text/csv")], None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(
        csv.body.as_str().unwrap().lines().collect::<Vec<_>>(),
        [
            "account_id,name,currency,current,days_1_30,days_31_60,days_61_90,over_90,total,oldest_due_date,days_past_due,invoices",
            &format!("acct_overdue,acct_overdue Hosting,USD,0.00,0.00,600.00,0.00,0.00,600.00,{due},45,1"),
            "TOTAL,,USD,0.00,0.00,600.00,0.00,0.00,600.00,,,",
        ]
    );
    let r = s.ops("GET", "/v1/ops/receivables?as_of=yesterday", None).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));

    // The mailer sends the two reminders queued so far, each once, to the bill's recipient.
    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings()).with_documents(s.documents());
    let reminders = |s: &Stack| -> Vec<String> {
        crate::mailer::sent_to(s, "cb-overdue")
            .iter()
            .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
            .filter(|raw| raw.contains("Message-ID: <payment_reminder."))
            .collect()
    };
    let reminders_sent = |s: &Stack| reminders(s).len();
    let batch = s.stream_of("work_item").await;
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty(), "redelivered");
    assert_eq!(reminders_sent(&s), 2);
    let number = bill["number"].as_str().unwrap();
    assert!(reminders(&s).iter().all(|raw| attachment(raw, &format!("{number}.pdf")).is_some()), "each with the PDF");

    // Day 7's reminder is queued, then the rest is paid before it goes out: it is not sent, and
    // nothing more is queued.
    assert_eq!(remind_on(7).await, 1);
    assert_eq!(s.ops("POST", &path, Some(check("600.00", "2002"))).await.status, StatusCode::CREATED);
    assert!(mailer.handle(s.stream_of("work_item").await).await.batch_item_failures.is_empty());
    assert_eq!(reminders_sent(&s), 2, "none for a paid bill");
    assert_eq!(remind_on(14).await, 0);
    assert_eq!(steps(&s).await, [-3, 1, 7]);
    let r = s.ops("GET", &format!("/v1/ops/receivables?as_of={}", day(14)), None).await;
    assert_eq!(r.body["accounts"], json!([]), "paid: owes nothing");

    // Bad schedules are refused; a new one takes effect.
    let r = s.ops("PUT", "/v1/ops/settings/reminders", Some(json!({"offsets_days": [-31]}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{:?}", r.body);
    let r = s.ops("PUT", "/v1/ops/settings/reminders", Some(json!({"offsets_days": [10, 5, 5]}))).await;
    assert_eq!(r.body, json!({"offsets_days": [5, 10]}));
    assert_eq!(s.ops("GET", "/v1/ops/settings/reminders", None).await.body, json!({"offsets_days": [5, 10]}));
}

/// What the portal shows of a bill past due: the account and the statement say since when and
/// how much (the bill made 40 days ago on net-30 terms).
#[tokio::test]
async fn the_portal_shows_what_is_past_due() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc6", m1).await;
    import(&s, "dc6", &[line("acct_pastdue", "cb-pastdue", &[])]).await;
    let made = Utc::now() - chrono::Duration::days(40);
    let report = BillRun::new(s.store(), Settings::default())
        .run(&RunRequest { mode: Mode::Finalize, date: Some(m1), accounts: None, drafts_only: false }, made, None)
        .await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let r = s
        .ops(
            "POST",
            "/v1/ops/accounts/acct_pastdue/members",
            Some(json!({"email": "ap@cb-pastdue.example", "role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let viewer = integration_tests::User::new("pastdue-viewer").with_email("ap@cb-pastdue.example");
    let due = (made + chrono::Duration::days(30)).date_naive();
    let expected = json!({"oldest_due_date": due, "days_past_due": 10, "amount": {"amount": "1000.00", "currency": "USD"}, "invoices": 1});
    let account = s.get(&viewer, "/v1/accounts/acct_pastdue").await;
    assert_eq!(account.body["past_due"], expected, "{:?}", account.body);
    let statement = s.get(&viewer, "/v1/accounts/acct_pastdue/statement").await;
    assert_eq!(statement.body["past_due"], expected);
    // An account with nothing past due says so.
    let card = integration_tests::User::new("pastdue-card");
    let made = s.call(&card, "POST", "/v1/accounts", Some(integration_tests::new_account("On Time Co"))).await;
    let r = s.get(&card, &format!("/v1/accounts/{}", made.body["id"].as_str().unwrap())).await;
    assert_eq!(r.body["past_due"], json!(null));
}

/// The base64 body of the MIME part named `filename` in a raw message, decoded.
fn attachment(raw: &str, filename: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let at = raw.find(&format!("filename=\"{filename}\""))?;
    let body_start = at + raw[at..].find("\r\n\r\n")? + 4;
    let body_end = body_start + raw[body_start..].find("\r\n--")?;
    let b64: String = raw[body_start..body_end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// A contract bill's PDF: made once by the mailer and kept in the bucket, attached to the bill's
/// mail (exactly the stored bytes), linked from the portal for any member; a redelivery neither
/// mails nor stores it again.
#[tokio::test]
async fn a_contract_bill_pdf_is_stored_once_attached_and_linked() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    cohort(&s, "dc4", m1).await;
    import(&s, "dc4", &[line("acct_pdf", "cb-pdf", &[])]).await;
    run(&s, "finalize", m1).await;
    let bill = invoices(&s).await[0].clone();
    let (bill_id, number) = (bill["id"].as_str().unwrap().to_owned(), bill["number"].as_str().unwrap().to_owned());

    // Before the mailer made it, the portal says so.
    let r = s
        .ops("POST", "/v1/ops/accounts/acct_pdf/members", Some(json!({"email": "ap@cb-pdf.example", "role": "viewer"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let viewer = integration_tests::User::new("pdf-viewer").with_email("ap@cb-pdf.example");
    let path = format!("/v1/accounts/acct_pdf/invoices/{bill_id}/pdf");
    let r = s.get(&viewer, &path).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "pdf_not_ready"));

    devstack::outbox::verify_sender(&s.aws, FROM).await.unwrap();
    let mailer = Mailer::new(s.store(), Ses::new(&s.aws, None), settings()).with_documents(s.documents());
    let batch = s.stream_of("work_item").await;
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty(), "redelivered");

    // Stored once, under the bill.
    let s3 = billing_aws::documents::client(&s.aws);
    let bucket = s.documents_bucket();
    let key = format!("bills/acct_pdf/{bill_id}.pdf");
    let versions = s3.list_object_versions().bucket(&bucket).prefix(&key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 1, "written once");
    let stored =
        s3.get_object().bucket(&bucket).key(&key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert!(stored.starts_with(b"%PDF-"));

    // The mail carries exactly the stored file.
    let sent = crate::mailer::sent_to(&s, "cb-pdf");
    let bills: Vec<&str> = sent
        .iter()
        .filter_map(|m| m["raw_data"].as_str())
        .filter(|raw| raw.contains("Message-ID: <bill_ready."))
        .collect();
    assert_eq!(bills.len(), 1, "one bill mail (beside the viewer's invitation)");
    let raw = bills[0];
    assert!(raw.contains("Content-Type: application/pdf"), "{}", &raw[..raw.len().min(600)]);
    assert_eq!(
        attachment(raw, &format!("{number}.pdf")).as_deref(),
        Some(&stored[..]),
        "the attachment is the stored PDF"
    );

    // The portal links to it: a redirect, or the link itself for a browser app.
    let r = s.get(&viewer, &path).await;
    assert_eq!(r.status, StatusCode::FOUND, "{:?}", r.body);
    let location = r.headers["location"].to_str().unwrap().to_owned();
    assert!(location.contains(&format!("/{bucket}/bills/acct_pdf/{bill_id}.pdf?")), "{location}");
    assert!(location.contains("X-Amz-Expires=300"), "short-lived: {location}");
    let r = s.call_with(Some(&viewer), "GET", &path, &[("accept", "application/json")], None).await;
    assert_eq!(r.status, StatusCode::OK);
    let (status, body) = devstack::moto::http_get(r.body["url"].as_str().unwrap()).unwrap();
    assert_eq!((status, &body[..]), (200, &stored[..]), "the link gives the stored PDF");

    // Not for a stranger; not for a bill that is not the account's.
    let stranger = integration_tests::User::new("pdf-stranger");
    assert_eq!(s.get(&stranger, &path).await.code(), "not_found");
    assert_eq!(s.get(&viewer, "/v1/accounts/acct_pdf/invoices/bill_nope/pdf").await.code(), "not_found");
}

/// The receivables report names its accounts from one `BatchGetItem` per hundred (it read them
/// one `GetItem` each, sixteen at a time).
#[tokio::test]
async fn the_receivables_report_reads_account_names_a_hundred_a_call() {
    use billing_domain::AccountId;
    use billing_domain::ports::ReceivablesReader;

    let s = Stack::new().await;
    let ids: Vec<AccountId> = (0..130).map(|n| format!("acct_names{n:03}").parse().unwrap()).collect();
    futures::future::join_all(ids.iter().map(|id| async { crate::storm::open_account(&s.store(), id).await })).await;
    let (log, counted) = s.counted_store().await;

    // Every id, one twice, and one of no account.
    let mut asked = ids.clone();
    asked.push(ids[7].clone());
    asked.push("acct_nosuchaccount".parse().unwrap());
    let names = counted.account_names(&asked).await.unwrap();
    assert_eq!(names.len(), 130);
    assert_eq!(names[&ids[129]], "Storm acct_names129");
    assert!(!names.contains_key(&"acct_nosuchaccount".parse::<AccountId>().unwrap()));
    assert_eq!(log.tally().calls, ["DynamoDB.BatchGetItem", "DynamoDB.BatchGetItem"]);
    assert!(counted.account_names(&[]).await.unwrap().is_empty());
    assert!(log.tally().calls.is_empty(), "nothing asked, nothing read");
}

async fn ops_ok(s: &Stack, method: &str, path: &str, body: Value) -> Value {
    let r = s.ops(method, path, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{method} {path}: {:?}", r.body);
    r.body
}

fn tax_rate(code: &str, name: &str, rate: &str) -> Value {
    json!({"code": code, "name": name, "jurisdiction": "US-IL", "inclusive": false,
           "rates": [{"rate": rate, "valid_from": "2020-01-01"}]})
}

#[tokio::test]
async fn bills_are_taxed_by_precedence_rounded_per_group_and_credit_notes_reverse_it() {
    let s = Stack::new().await;
    let (m1, _) = months();
    catalog(&s).await;
    // A price may name only rates that exist; bad rates and VAT numbers are refused by field.
    let rack = json!({"id": "rack", "name": "Rack space, 42U", "currency": "USD",
        "charge": {"type": "recurring", "interval": "monthly"}, "model": "per_unit", "unit_amount": "500",
        "tax_codes": ["space_lease"]});
    let r = s.ops("PUT", "/v1/ops/prices/rack", Some(rack.clone())).await;
    assert_eq!(
        (r.status, r.body["error"]["details"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tax_codes[0]"))
    );
    let r = s.ops("PUT", "/v1/ops/tax-rates/il_state", Some(tax_rate("il_state", "Illinois sales tax", "106"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    ops_ok(&s, "PUT", "/v1/ops/tax-rates/il_state", tax_rate("il_state", "Illinois sales tax", "6.25")).await;
    ops_ok(&s, "PUT", "/v1/ops/tax-rates/space_lease", tax_rate("space_lease", "Space lease (not taxable)", "0")).await;
    let mut inclusive = tax_rate("il_state", "Illinois sales tax", "6.25");
    inclusive["inclusive"] = json!(true);
    let r = s.ops("PUT", "/v1/ops/tax-rates/il_state", Some(inclusive)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a rate's mode is fixed: {:?}", r.body);
    ops_ok(&s, "PUT", "/v1/ops/prices/rack", rack.clone()).await;
    ops_ok(&s, "PUT", "/v1/ops/settings/tax", json!({"default_codes": ["il_state"]})).await;

    cohort(&s, "dctax", m1).await;
    let xc = json!({"id": "xc", "price_id": "cross-connect", "group": "DC1 / Cage 4", "start": m1, "quantity": 1});
    import(&s, "dctax", &[line("acct_taxed", "cb-tax", std::slice::from_ref(&xc)), line("acct_eu", "cb-eu", &[xc])])
        .await;
    let r = s.ops("PUT", "/v1/ops/accounts/acct_eu/tax", Some(json!({"vat_id": "DE129273399"}))).await;
    assert_eq!(
        (r.status, r.body["error"]["details"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("vat_id")),
        "a wrong check digit"
    );
    ops_ok(&s, "PUT", "/v1/ops/accounts/acct_eu/tax", json!({"vat_id": "DE 129 273 398"})).await;
    ops_ok(
        &s,
        "PUT",
        "/v1/ops/settings/tax",
        json!({"country": "FR", "vat_id": "FR40303265045", "default_codes": ["il_state"]}),
    )
    .await;

    run(&s, "finalize", m1).await;
    let all = invoices(&s).await;
    let taxed = all
        .iter()
        .find(|i| i["account_id"] == "acct_taxed" && i["period_end"].as_str().unwrap().starts_with(&m1.to_string()))
        .expect("the taxed bill");
    // Racks (1,000.00) take their price's 0 % (it wins over the seller's default); the install
    // fee (250.00) the default 6.25 %: 15.625 → 15.63.
    let groups = &taxed["tax_detail"]["groups"];
    let got: Vec<(&str, &str, &str)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["code"].as_str().unwrap(),
                g["taxable_base"]["amount"].as_str().unwrap(),
                g["amount"]["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("il_state", "250.00", "15.63"), ("space_lease", "1000.00", "0.00")]);
    assert_eq!(
        (taxed["subtotal"]["amount"].as_str(), taxed["tax"]["amount"].as_str(), taxed["total"]["amount"].as_str()),
        (Some("1250.00"), Some("15.63"), Some("1265.63"))
    );
    let line = taxed["lines"].as_array().unwrap().iter().find(|l| l["item"] == "xc").unwrap();
    assert_eq!(line["taxes"][0]["rate"], "6.25", "the line keeps what it was taxed at");

    // Reverse charge: the German customer's valid VAT number, a French seller.
    let eu = all
        .iter()
        .find(|i| i["account_id"] == "acct_eu" && i["period_end"].as_str().unwrap().starts_with(&m1.to_string()))
        .expect("the EU bill");
    assert_eq!(eu["tax_detail"]["treatment"]["kind"], "reverse_charge");
    assert_eq!((eu["tax"]["amount"].as_str(), eu["total"]["amount"].as_str()), (Some("0.00"), Some("1250.00")));
    assert_eq!(
        (eu["tax_detail"]["customer_vat_id"].as_str(), eu["tax_detail"]["seller_vat_id"].as_str()),
        (Some("DE129273398"), Some("FR40303265045"))
    );

    // A later rate change alters no issued bill; the next bill takes the new rate.
    ops_ok(&s, "PUT", "/v1/ops/tax-rates/il_state", tax_rate("il_state", "Illinois sales tax", "7")).await;
    let id = taxed["id"].as_str().unwrap();
    let again = invoices(&s).await.into_iter().find(|i| i["id"] == id).unwrap();
    assert_eq!(again["tax_detail"], taxed["tax_detail"]);

    // A credit note of a tenth reverses a tenth of the tax at the bill's own rate.
    let r = s
        .ops(
            "POST",
            &format!("/v1/ops/accounts/acct_taxed/invoices/{id}/credit-notes"),
            Some(json!({"amount": "126.56", "reason": "SLA credit"})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let note = &r.body["credit_note"];
    assert_eq!(note["taxes"][0]["code"], "il_state");
    assert_eq!(note["taxes"][0]["rate"], "6.25");
    assert_eq!(note["taxes"][0]["amount"]["amount"], "1.56");
}
