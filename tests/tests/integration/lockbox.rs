//! The bank's lockbox file imported: checks applied by invoice number and by remembered drawer,
//! partial and over payments, the exceptions queue (unidentified, another customer's bill, an
//! unknown number) resolved and returned by staff, a file that does not add up refused whole,
//! the same file twice, and an import that crashed half-way resumed without doubling.
//!
//! The files are made here by a writer of our own from the documented layout (`docs/lockbox.md`),
//! not by the parser's code.

use billing_domain::ports::ContractAdmin;
use chrono::{Datelike, Months, Utc};
use http::StatusCode;
use integration_tests::{Stack, StaffUser};
use serde_json::json;

/// A check record (type 6) and its remittance records (type 4), in the documented columns.
pub(crate) struct Check<'a> {
    pub(crate) cents: u64,
    pub(crate) routing: &'a str,
    pub(crate) account: &'a str,
    pub(crate) number: u64,
    pub(crate) remitter: &'a str,
    pub(crate) invoices: Vec<(&'a str, u64)>,
}

/// A whole transmission: header, one batch of `checks`, trailers with their counts and totals.
pub(crate) fn file(checks: &[Check], tamper_total: u64) -> String {
    let (lockbox, date) = ("0002712", "261204");
    let mut lines = vec![
        "100ATMOSERA  01210002482612040630".to_owned(),
        "2ATMOSERA 121000248  000000000040010408001".to_owned(),
        format!("5001000{lockbox}{date}ATMOSERA 121000248"),
    ];
    for (i, c) in checks.iter().enumerate() {
        let item = i + 1;
        lines.push(format!(
            "6001{item:03}{:010}{:<9}{:<10}{:010}120126{:<30}ATMOSERA INC",
            c.cents, c.routing, c.account, c.number, c.remitter
        ));
        for (n, (invoice, cents)) in c.invoices.iter().enumerate() {
            let end = if n + 1 == c.invoices.len() { 9 } else { 0 };
            lines.push(format!("4001{item:03}4{:02}{end}{invoice:<16}{cents:010}0000000000", n + 1));
        }
    }
    let total: u64 = checks.iter().map(|c| c.cents).sum::<u64>() + tamper_total;
    lines.push(format!("7001000{lockbox}{date}{:03}{total:010}", checks.len()));
    lines.push(format!("8000000{lockbox}{date}{:04}{total:010}", checks.len()));
    lines.push(format!("9{:06}", lines.len() + 1));
    lines.join("\n") + "\n"
}

async fn import(s: &Stack, body: &str) -> integration_tests::Reply {
    s.ops_call("POST", "/v1/ops/lockbox-files?name=lbx-20261204.txt", Some(body.as_bytes()), "text/plain").await
}

/// The rack price at 500.00 a month, and cohort `dc1` live since the 1st of last month (so each
/// tenant's bill run makes two bills: last month's and this month's).
async fn catalog(s: &Stack) {
    let last_month = Utc::now().date_naive().with_day(1).unwrap().checked_sub_months(Months::new(1)).unwrap();
    let price = json!({"id": "rack", "name": "Rack space, 42U", "currency": "USD",
        "charge": {"type": "recurring", "interval": "monthly"}, "model": "per_unit", "unit_amount": "500"});
    s.ops("PUT", "/v1/ops/prices/rack", Some(price)).await;
    s.ops("PUT", "/v1/ops/cohorts/dc1", Some(json!({"name": "DC1", "go_live": last_month}))).await;
}

async fn tenant(s: &Stack, id: &str, name: &str, racks: u32) {
    let line = json!({
        "account_id": id, "name": name, "currency": "USD",
        "contact": {"name": "AP", "email": format!("ap@{id}.example")},
        "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"},
        "billing_mode": "invoice", "bill_day": 1,
        "subscriptions": [{"id": "rack-1", "price_id": "rack", "group": "DC1", "start": "2025-01-01", "quantity": racks}]
    });
    let r = s
        .ops_call("POST", "/v1/ops/cohorts/dc1/accounts", Some(line.to_string().as_bytes()), "application/x-ndjson")
        .await;
    assert_eq!(r.body["imported"], 1, "{:?}", r.body);
}

/// The account's open bills' numbers, oldest first, and its balance.
async fn bills(s: &Stack, id: &str) -> (Vec<String>, String, String) {
    let a = s.ops("GET", &format!("/v1/ops/accounts/{id}"), None).await;
    let mut open: Vec<(String, String)> = a.body["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "open")
        .map(|i| (i["due_date"].as_str().unwrap().to_owned(), i["number"].as_str().unwrap().to_owned()))
        .collect();
    open.sort();
    let credit = a.body["contract"]["credit"]["amount"].as_str().unwrap_or("0.00").to_owned();
    (open.into_iter().map(|(_, n)| n).collect(), a.body["balance_due"]["amount"].as_str().unwrap().to_owned(), credit)
}

fn outcomes(r: &integration_tests::Reply) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| match i["outcome"]["status"].as_str().unwrap() {
            "exception" => format!("exception:{}", i["outcome"]["exception"]["kind"].as_str().unwrap()),
            other => other.to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn a_lockbox_file_is_applied_once_and_what_cannot_be_waits_for_staff() {
    let s = Stack::new().await;
    catalog(&s).await;
    tenant(&s, "acct_lbacme", "Acme Hosting LLC", 2).await;
    tenant(&s, "acct_lbnorth", "Northwind Co", 1).await;
    // Two bills each (last month's and this month's): Acme 1,000.00 each, Northwind 500.00.
    let run = s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize"}))).await;
    assert_eq!(run.body["failures"], json!([]), "{:?}", run.body);
    let (acme, ..) = bills(&s, "acct_lbacme").await;
    let (north, ..) = bills(&s, "acct_lbnorth").await;
    assert_eq!((acme.len(), north.len()), (2, 2));

    let day_one = file(
        &[
            // Names both of Acme's bills: the first paid, 500.00 on the second.
            Check {
                cents: 150_000,
                routing: "055002707",
                account: "0012345555",
                number: 10452,
                remitter: "ACME HOSTING LLC",
                invoices: vec![(&acme[0], 100_000), (&acme[1], 50_000)],
            },
            // Partial: 200.00 of Northwind's first bill.
            Check {
                cents: 20_000,
                routing: "061000104",
                account: "8877665544",
                number: 88231,
                remitter: "NORTHWIND CO",
                invoices: vec![(&north[0], 20_000)],
            },
            // A number nobody has, from a bank account never seen: unidentified.
            Check {
                cents: 5_000,
                routing: "021000021",
                account: "5566778899",
                number: 7781,
                remitter: "CONTOSO LTD",
                invoices: vec![("INV-999999", 5_000)],
            },
            // Acme's bank account (known by now) naming Northwind's bill: never guessed.
            Check {
                cents: 10_000,
                routing: "055002707",
                account: "0012345555",
                number: 10460,
                remitter: "ACME HOSTING LLC",
                invoices: vec![(&north[1], 10_000)],
            },
            // No stub at all, from an unknown bank account.
            Check {
                cents: 70_000,
                routing: "011000015",
                account: "1234500000",
                number: 501,
                remitter: "N W CO PAYABLES",
                invoices: vec![],
            },
        ],
        0,
    );
    // A file whose trailer does not add up is refused whole: nothing is applied.
    let bad = file(&[Check { cents: 100, routing: "1", account: "2", number: 3, remitter: "X", invoices: vec![] }], 1);
    let r = import(&s, &bad).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "file_refused"), "{:?}", r.body);
    let why = r.body["error"]["message"].as_str().unwrap();
    assert!(why.contains("line 5: batch 001 says 1.01 in total; its checks add up to 1.00"), "{why}");
    let r = s.ops_call("POST", "/v1/ops/lockbox-files", Some(&[0xff, 0xfe, b'1']), "text/plain").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "file_refused"), "not text");
    let files = s.ops("GET", "/v1/ops/lockbox-files", None).await;
    assert_eq!(files.body, json!([]), "a refused file leaves nothing");

    let r = import(&s, &day_one).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::CREATED, Some("imported")), "{:?}", r.body);
    assert_eq!(
        outcomes(&r),
        ["applied", "applied", "exception:unidentified", "exception:other_customers_invoice", "exception:unidentified"]
    );
    assert_eq!(r.body["items"][0]["outcome"]["by"], "invoice");
    assert_eq!((r.body["import"]["applied"].as_u64(), r.body["import"]["exceptions"].as_u64()), (Some(2), Some(3)));
    assert_eq!(r.body["import"]["total"]["amount"], "2550.00");
    assert_eq!(bills(&s, "acct_lbacme").await.1, "500.00");
    assert_eq!(bills(&s, "acct_lbnorth").await.1, "800.00", "a partial payment leaves the rest due");

    // The same file again: recognised, nothing applied.
    let again = import(&s, &day_one).await;
    assert_eq!((again.status, again.body["status"].as_str()), (StatusCode::OK, Some("duplicate")));
    assert_eq!(bills(&s, "acct_lbacme").await.1, "500.00");

    // The next day: Acme's bank account, no stub: known by its drawer; beyond its bills, credit.
    let day_two = file(
        &[Check {
            cents: 60_000,
            routing: "055002707",
            account: "0012345555",
            number: 10470,
            remitter: "ACME HOSTING LLC",
            invoices: vec![],
        }],
        0,
    )
    .replace("261204", "261205");
    let r = import(&s, &day_two).await;
    assert_eq!(outcomes(&r), ["applied"], "{:?}", r.body);
    assert_eq!(
        (r.body["items"][0]["outcome"]["by"].as_str(), r.body["items"][0]["outcome"]["to_credit"]["amount"].as_str()),
        (Some("drawer"), Some("100.00"))
    );
    let (open, balance, credit) = bills(&s, "acct_lbacme").await;
    assert_eq!((open.len(), balance.as_str(), credit.as_str()), (0, "0.00", "100.00"));

    // Staff work the queue: the unstubbed 700.00 is Northwind's (its bank account is remembered
    // from now on); Contoso's 50.00 goes back.
    let clerk = StaffUser::new("clerk-1", &["clerk"]);
    let queue = s.staff(&clerk, "GET", "/v1/staff/lockbox-exceptions", None, None).await;
    let keys: Vec<(String, String)> = queue
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["key"].as_str().unwrap().to_owned(), i["remitter"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(keys.len(), 3, "{:?}", queue.body);
    let key_of = |who: &str| keys.iter().find(|(_, r)| r == who).unwrap().0.clone();
    let why = Some(("payment_received", "N W Co is Northwind's payables office"));
    let resolve = format!("/v1/staff/lockbox-exceptions/{}/apply", key_of("N W CO PAYABLES"));
    let r = s.staff(&clerk, "POST", &resolve, Some(json!({"account_id": "acct_lbnorth"})), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"));
    let r = s.staff(&clerk, "POST", &resolve, Some(json!({"account_id": "acct_lbnorth"})), why).await;
    assert_eq!((r.status, r.body["outcome"]["status"].as_str()), (StatusCode::OK, Some("resolved")), "{:?}", r.body);
    assert_eq!(bills(&s, "acct_lbnorth").await.1, "100.00", "800.00 owed, 700.00 applied oldest first");
    let r = s.staff(&clerk, "POST", &resolve, Some(json!({"account_id": "acct_lbnorth"})), why).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "decided once");
    let back = format!("/v1/staff/lockbox-exceptions/{}/return", key_of("CONTOSO LTD"));
    let r = s.staff(&clerk, "POST", &back, None, Some(("other", "not our customer; check mailed back"))).await;
    assert_eq!(r.body["outcome"]["status"], "returned", "{:?}", r.body);
    let queue = s.staff(&clerk, "GET", "/v1/staff/lockbox-exceptions", None, None).await;
    assert_eq!(queue.body.as_array().unwrap().len(), 1, "Acme's check naming Northwind's bill still waits");
    let audit = s.staff(&clerk, "GET", "/v1/staff/accounts/acct_lbnorth/audit?limit=20", None, None).await;
    assert!(
        audit.body["entries"].as_array().unwrap().iter().any(|e| e["action"] == "lockbox.check_applied"
            && e["reason"]["text"] == "N W Co is Northwind's payables office")
    );
    // Northwind's bank account is known now: its next unstubbed check applies itself.
    let day_three = file(
        &[Check {
            cents: 10_000,
            routing: "011000015",
            account: "1234500000",
            number: 502,
            remitter: "N W CO PAYABLES",
            invoices: vec![],
        }],
        0,
    )
    .replace("261204", "261206");
    let r = import(&s, &day_three).await;
    assert_eq!(
        (outcomes(&r), r.body["items"][0]["outcome"]["account_id"].as_str()),
        (vec!["applied".to_owned()], Some("acct_lbnorth"))
    );
    assert_eq!(bills(&s, "acct_lbnorth").await.1, "0.00");
}

#[tokio::test]
async fn an_import_that_crashed_half_way_goes_on_without_doubling() {
    let s = Stack::new().await;
    catalog(&s).await;
    tenant(&s, "acct_lbcrash", "Crash Test Racks", 1).await;
    s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize"}))).await;
    let (open, ..) = bills(&s, "acct_lbcrash").await;
    // The first check pays its bill whole (closing it), the second part of the next.
    let body = file(
        &[
            Check {
                cents: 50_000,
                routing: "055002707",
                account: "42",
                number: 1,
                remitter: "CRASH",
                invoices: vec![(&open[0], 50_000)],
            },
            Check {
                cents: 20_000,
                routing: "055002707",
                account: "42",
                number: 2,
                remitter: "CRASH",
                invoices: vec![(&open[1], 20_000)],
            },
        ],
        0,
    );
    let r = import(&s, &body).await;
    assert_eq!(outcomes(&r), ["applied", "applied"], "{:?}", r.body);
    assert_eq!(bills(&s, "acct_lbcrash").await.1, "300.00");
    // As if it had crashed after both checks' payments but before their records and the file's
    // end: the checks' records gone, the import not done.
    let hash = r.body["import"]["file_hash"].as_str().unwrap().to_owned();
    let pk = |p: String| aws_sdk_dynamodb::types::AttributeValue::S(p);
    for item in r.body["items"].as_array().unwrap() {
        let key = item["key"].as_str().unwrap();
        s.client
            .delete_item()
            .table_name(&s.table)
            .key("pk", pk(format!("LOCKBOX#ITEMS#{hash}")))
            .key("sk", pk(format!("ITEM#{key}")))
            .send()
            .await
            .unwrap();
    }
    s.client
        .update_item()
        .table_name(&s.table)
        .key("pk", pk("LOCKBOX#FILES".into()))
        .key("sk", pk(format!("FILE#{hash}")))
        .update_expression("SET done = :no")
        .expression_attribute_values(":no", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
        .send()
        .await
        .unwrap();
    let r = import(&s, &body).await;
    assert_eq!(
        (r.body["status"].as_str(), outcomes(&r)),
        (Some("resumed"), vec!["applied".to_owned(), "applied".to_owned()]),
        "{:?}",
        r.body
    );
    assert_eq!(bills(&s, "acct_lbcrash").await.1, "300.00", "the checks' payments were found, not made again");
    // The first check's bill was closed by it: found as paid by this check, not an exception.
    assert_eq!(r.body["items"][0]["outcome"]["bills"][0]["amount"]["amount"], "500.00");
    let account = s.ops("GET", "/v1/ops/accounts/acct_lbcrash", None).await;
    assert_eq!(account.body["payments"].as_array().unwrap().len(), 2, "{:?}", account.body["payments"]);
}

#[tokio::test]
async fn a_file_dropped_into_the_bucket_is_imported_and_a_bad_one_is_kept_refused() {
    let s = Stack::new().await;
    let bucket = format!("lbx-{}", s.table.to_lowercase());
    devstack::documents::ensure_bucket(&s.aws, &bucket).await.unwrap();
    let s3 = billing_aws::documents::client(&s.aws);
    let good = file(
        &[Check {
            cents: 5_000,
            routing: "021000021",
            account: "5566778899",
            number: 7781,
            remitter: "CONTOSO LTD",
            invoices: vec![],
        }],
        0,
    );
    for (key, body) in [("incoming/LBX 2712 20261204.txt", good.as_str()), ("incoming/broken.txt", "6001001\n")] {
        s3.put_object().bucket(&bucket).key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    // The bucket's event, as S3 sends it (the sample in events/s3, its keys URL-encoded).
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/s3/lockbox-object-created.json")).unwrap();
    let mut broken = event["Records"][0].clone();
    broken["s3"]["object"]["key"] = json!("incoming/broken.txt");
    event["Records"][0]["s3"]["object"]["key"] = json!("incoming/LBX+2712+20261204.txt");
    event["Records"].as_array_mut().unwrap().push(broken);
    let event: aws_lambda_events::event::s3::S3Event = serde_json::from_value(event).unwrap();
    let importer = lockbox_import::Importer::new(
        ops_api::OpsState::new(s.store(), bill_run::Settings::default()),
        billing_aws::S3Documents::from_config(&s.aws, &bucket),
    );
    let done = importer.handle(event.clone()).await.unwrap();
    assert!(
        matches!(&done[0], lockbox_import::Outcome::Imported { key, exceptions: 1, .. } if key == "incoming/LBX 2712 20261204.txt"),
        "{done:?}"
    );
    assert!(matches!(&done[1], lockbox_import::Outcome::Refused { why, .. } if why.contains("line 1")), "{done:?}");
    // Staff see both: the check waiting, the refused file with why.
    let files = s.ops("GET", "/v1/ops/lockbox-files", None).await;
    let refused: Vec<&str> = files.body.as_array().unwrap().iter().filter_map(|f| f["refused"].as_str()).collect();
    assert_eq!(refused.len(), 1, "{:?}", files.body);
    assert_eq!(s.ops("GET", "/v1/ops/lockbox-exceptions", None).await.body.as_array().unwrap().len(), 1);
    // The same event again (S3 delivers at least once): nothing more.
    let again = importer.handle(event).await.unwrap();
    assert!(matches!(&again[0], lockbox_import::Outcome::Duplicate { .. }), "{again:?}");
    assert_eq!(s.ops("GET", "/v1/ops/lockbox-exceptions", None).await.body.as_array().unwrap().len(), 1);
    assert_eq!(s.ops("GET", "/v1/ops/lockbox-files", None).await.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_check_is_known_by_its_stubs_scan_line_and_a_misread_one_is_not_trusted() {
    use billing_domain::lockbox::{CheckDigit, Field, Layout, ScanFields};
    let s = Stack::new().await;
    catalog(&s).await;
    tenant(&s, "acct_lbother", "Other Tenant", 1).await;
    tenant(&s, "acct_lbscan", "Scan Line Tenant", 1).await;
    s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize"}))).await;
    let account = s.ops("GET", "/v1/ops/accounts/acct_lbscan", None).await;
    let number = account.body["account_number"].as_u64().expect("numbered at import");
    assert_eq!(number, 2, "the second account imported");
    let (open, ..) = bills(&s, "acct_lbscan").await;
    let bill: u64 = open[1].rsplit('-').next().unwrap().parse().unwrap();
    let scan = ScanFields { account_number: number, invoice_number: bill, amount_cents: 50_000 }
        .line(CheckDigit::Mod10Weights21)
        .unwrap();
    let mut misread = scan.clone().into_bytes();
    misread[12] = if misread[12] == b'9' { b'0' } else { misread[12] + 1 };
    let misread = String::from_utf8(misread).unwrap();
    // This bank puts the scan line where the payee would be.
    let layout = Layout { check_scan_line: Some(Field { start: 83, len: 31 }), ..Layout::bai() };
    let body = file(
        &[
            Check {
                cents: 50_000,
                routing: "",
                account: "",
                number: 11,
                remitter: "SCAN LINE TENANT",
                invoices: vec![],
            },
            Check {
                cents: 50_000,
                routing: "",
                account: "",
                number: 12,
                remitter: "SCAN LINE TENANT",
                invoices: vec![],
            },
        ],
        0,
    );
    // The writer put "ATMOSERA INC" at column 83: the scan lines go there instead.
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    let checks: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with('6')).map(|(i, _)| i).collect();
    for (i, line) in checks.iter().zip([&scan, &misread]) {
        lines[*i] = format!("{}{line}", &lines[*i][..82]);
    }
    let body = lines.join("\n") + "\n";
    let state = ops_api::OpsState::new(s.store(), bill_run::Settings::default()).with_layout(layout);
    let caller = ops_api::extract::OpsCaller::service("lockbox-test");
    let view = ops_api::lockbox::import_file(&state, &caller, None, Some("scan.txt"), &body).await.unwrap();
    let first = serde_json::to_value(&view.items[0].outcome).unwrap();
    assert_eq!((first["status"].as_str(), first["by"].as_str()), (Some("applied"), Some("scan_line")), "{first}");
    assert_eq!(first["bills"][0]["number"], json!(open[1]), "the scan line's bill first, not the oldest");
    let second = serde_json::to_value(&view.items[1].outcome).unwrap();
    assert_eq!(second["exception"]["kind"], "bad_scan_line", "{second}");
}

/// A BAI2 file written by the PyPI `bai2` package (`tests/fixtures/make_bai2.py`): an
/// independent writer, not the import's parser.
fn bai2_file(spec: serde_json::Value) -> String {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/make_bai2.py");
    let mut child = std::process::Command::new(devstack::moto::moto_python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python with bai2 (make test installs it)");
    child.stdin.take().unwrap().write_all(spec.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the bai2 package could not write the file");
    String::from_utf8(out.stdout).unwrap()
}

/// The account's payments by reference: (amount, returned?).
async fn payments(s: &Stack, id: &str) -> Vec<(String, String, bool)> {
    let a = s.ops("GET", &format!("/v1/ops/accounts/{id}"), None).await;
    a.body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["reference"].as_str().unwrap().to_owned(),
                p["amount"]["amount"].as_str().unwrap().to_owned(),
                p["returned"].is_object(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_returned_check_reopens_its_bills_once_tells_the_customer_and_charges_the_fee() {
    let s = Stack::new().await;
    catalog(&s).await;
    let fee = json!({"id": "nsf-fee", "name": "Returned check fee", "currency": "USD",
        "charge": {"type": "one_time"}, "model": "per_unit", "unit_amount": "35"});
    assert_eq!(s.ops("PUT", "/v1/ops/prices/nsf-fee", Some(fee)).await.status, StatusCode::OK);
    tenant(&s, "acct_nsfacme", "Acme Hosting LLC", 1).await;
    tenant(&s, "acct_nsfnorth", "Northwind Co", 1).await;
    let run = s.ops("POST", "/v1/ops/bill-runs", Some(json!({"mode": "finalize"}))).await;
    assert_eq!(run.body["failures"], json!([]), "{:?}", run.body);
    let (acme, ..) = bills(&s, "acct_nsfacme").await;
    let (north, ..) = bills(&s, "acct_nsfnorth").await;
    assert_eq!((acme.len(), north.len()), (2, 2));

    // Acme's check 4242 pays both its bills (500.00 each) and 100.00 over: account credit.
    let day = file(
        &[Check {
            cents: 110_000,
            routing: "055002707",
            account: "0012345555",
            number: 4242,
            remitter: "ACME HOSTING LLC",
            invoices: vec![(&acme[0], 50_000), (&acme[1], 50_000)],
        }],
        0,
    );
    assert_eq!(outcomes(&import(&s, &day).await), ["applied"]);
    assert_eq!(bills(&s, "acct_nsfacme").await, (vec![], "0.00".into(), "100.00".into()));
    // Northwind's check has the same number (another bank's series), typed in by staff.
    let typed = json!({"amount": "500.00", "check_number": "4242", "received_on": Utc::now().date_naive()});
    let r = s.ops("POST", "/v1/ops/accounts/acct_nsfnorth/checks", Some(typed)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // The bank's BAI2 report: the lockbox deposit, Acme's check returned NSF, and a returned
    // check nobody here received.
    let report = bai2_file(json!({
        "as_of": Utc::now().date_naive(), "bank_account": "4000123456", "opening_ledger": 2_500_000,
        "deposits": [{"amount": 110_000, "bank_reference": "LBX-0002712", "customer_reference": "0002712"}],
        "returns": [
            {"amount": 110_000, "check_number": "0004242", "bank_reference": "RET-881",
             "text": "RETURNED ITEM NSF RT 055002707 AC 0012345555 CK 4242 REPRESENTMENT NOT ALLOWED"},
            {"amount": 9_999, "check_number": "777", "bank_reference": "RET-882", "text": "STOP PAYMENT"},
        ],
    }));
    // Next month's bill is drafted, waiting for review, when the report comes.
    let next = Utc::now().date_naive().with_day(1).unwrap().checked_add_months(Months::new(1)).unwrap();
    let runner = bill_run::BillRun::new(s.store(), bill_run::Settings::default());
    let request = |mode| bill_run::RunRequest {
        mode,
        date: Some(next),
        accounts: Some(vec!["acct_nsfacme".parse().unwrap()]),
        drafts_only: false,
    };
    let drafted = serde_json::to_value(runner.run(&request(bill_run::Mode::Draft), Utc::now(), None).await).unwrap();
    assert_eq!(drafted["results"][0]["outcome"], "drafted", "{drafted}");
    let draft_id = drafted["results"][0]["invoice_id"].as_str().unwrap().to_owned();
    let state = ops_api::OpsState::new(s.store(), bill_run::Settings::default())
        .with_returned_check_fee(Some("nsf-fee".into()));
    let caller = ops_api::extract::OpsCaller::service("lockbox-test");
    let view = ops_api::lockbox::import_file(&state, &caller, None, Some("bai2-today.txt"), &report).await.unwrap();
    let import = serde_json::to_value(&view.import).unwrap();
    assert_eq!((view.status, import["format"].as_str()), ("imported", Some("bai2")));
    assert_eq!(import["deposits"][0]["lockbox_file"], "lbx-20261204.txt", "the deposit is the lockbox file's");
    let returns = import["returns"].as_array().unwrap();
    assert_eq!(returns[0]["outcome"]["status"], "returned", "{import}");
    assert_eq!(returns[0]["outcome"]["account_id"], "acct_nsfacme", "by number and amount: not Northwind's 4242");
    assert_eq!(returns[0]["item"]["reason"], "insufficient_funds");
    assert_eq!(returns[0]["outcome"]["fee"]["amount"], "35.00");
    assert_eq!(returns[1]["outcome"]["status"], "no_such_check");

    // Both bills owed again, the credit taken back, Northwind untouched.
    assert_eq!(bills(&s, "acct_nsfacme").await, (acme.clone(), "1000.00".into(), "0.00".into()));
    assert!(payments(&s, "acct_nsfacme").await.iter().all(|(_, _, returned)| *returned));
    assert_eq!(bills(&s, "acct_nsfnorth").await.1, "500.00");
    assert!(payments(&s, "acct_nsfnorth").await.iter().all(|(_, _, returned)| !returned));
    // The fee is on the contract, once, for the next bill.
    let fees = |a: &serde_json::Value| {
        a["contract"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i.as_str().unwrap().starts_with("fee-returned-"))
            .count()
    };
    assert_eq!(fees(&s.ops("GET", "/v1/ops/accounts/acct_nsfacme", None).await.body), 1);

    // The same report again, and staff returning the same check by hand: nothing more.
    let again = ops_api::lockbox::import_file(&state, &caller, None, Some("bai2-today.txt"), &report).await.unwrap();
    assert_eq!(again.status, "duplicate");
    let reference = payments(&s, "acct_nsfacme").await[0].0.split(':').take(2).collect::<Vec<_>>().join(":");
    let by_hand = json!({"reference": reference, "returned_on": Utc::now().date_naive(), "reason": "insufficient_funds", "fee_price": "nsf-fee"});
    let r = s.ops("POST", "/v1/ops/accounts/acct_nsfacme/payments/return", Some(by_hand)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("already_returned")), "{:?}", r.body);
    assert_eq!(bills(&s, "acct_nsfacme").await.1, "1000.00");
    assert_eq!(fees(&s.ops("GET", "/v1/ops/accounts/acct_nsfacme", None).await.body), 1, "one fee per check");

    // Staff return Northwind's check by hand (stop payment), without a fee; bad input is refused.
    let bad = json!({"reference": "check:4242:2", "returned_on": Utc::now().date_naive(), "reason": "stop_payment"});
    let r = s.ops("POST", "/v1/ops/accounts/acct_nsfnorth/payments/return", Some(bad)).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
    );
    let unknown = json!({"reference": "check:9", "returned_on": Utc::now().date_naive(), "reason": "stop_payment"});
    let r = s.ops("POST", "/v1/ops/accounts/acct_nsfnorth/payments/return", Some(unknown)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let ok = json!({"reference": "check:4242", "returned_on": Utc::now().date_naive(), "reason": "stop_payment"});
    let r = s.ops("POST", "/v1/ops/accounts/acct_nsfnorth/payments/return", Some(ok)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::CREATED, Some("returned")), "{:?}", r.body);
    assert_eq!(r.body["shares"][0]["number"], json!(north[0]));
    assert_eq!(bills(&s, "acct_nsfnorth").await, (north.clone(), "1000.00".into(), "0.00".into()));

    // The customer is told once per check, however often the work items come.
    devstack::outbox::verify_sender(&s.aws, crate::mailer::FROM).await.unwrap();
    let mailer =
        invoice_mailer::Mailer::new(s.store(), invoice_mailer::send::Ses::new(&s.aws, None), crate::mailer::settings());
    let batch = s.stream_of("work_item").await;
    assert!(mailer.handle(batch.clone()).await.batch_item_failures.is_empty());
    assert!(mailer.handle(batch).await.batch_item_failures.is_empty(), "redelivered");
    let returned: Vec<String> = crate::mailer::sent_to(&s, "acct_nsfacme")
        .iter()
        .map(|m| m["raw_data"].as_str().unwrap_or_default().to_owned())
        .filter(|raw| raw.contains("was returned"))
        .collect();
    assert_eq!(returned.len(), 1, "one notice to Acme's contact");
    assert!(returned[0].contains("Check 4242") && returned[0].contains("insufficient funds"), "{}", returned[0]);
    assert!(returned[0].contains("35.00"), "the fee is announced");
    assert!(returned[0].contains(&acme[0]) && returned[0].contains(&acme[1]), "both bills it paid are named");
    assert_eq!(
        crate::mailer::sent_to(&s, "acct_nsfnorth")
            .iter()
            .filter(|m| m["raw_data"].as_str().unwrap_or_default().contains("was returned"))
            .count(),
        1
    );

    // The draft made before the fee is voided (it was rated without it); next month's bill made
    // again charges the fee, once, as a line of its own.
    let r = s.ops("POST", &format!("/v1/ops/accounts/acct_nsfacme/invoices/{draft_id}/void"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let report = serde_json::to_value(runner.run(&request(bill_run::Mode::Finalize), Utc::now(), None).await).unwrap();
    assert_eq!(report["failures"], json!([]), "{report}");
    let a = s.ops("GET", "/v1/ops/accounts/acct_nsfacme", None).await;
    let newest = a.body["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["number"].is_string())
        .max_by_key(|i| i["number"].as_str().unwrap().to_owned())
        .unwrap()
        .clone();
    let id = newest["id"].as_str().unwrap();
    let bill = s.store().contract_invoice(&"acct_nsfacme".parse().unwrap(), id).await.unwrap().unwrap();
    let fee_lines: Vec<_> = bill.lines.iter().filter(|l| l.description.contains("Returned check 4242 fee")).collect();
    assert_eq!(fee_lines.len(), 1, "{:?}", bill.lines);
    assert_eq!(fee_lines[0].amount.to_string(), "35.00 USD");
}
