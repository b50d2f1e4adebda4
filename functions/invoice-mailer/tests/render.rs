//! Snapshot tests of the bill e-mail: HTML and text, with grouped recurring, prorated and usage
//! lines, in USD and JPY, and a contract bill (rack in advance, usage in arrears, no processor
//! links). The snapshots are checked in under `tests/snapshots/`; after changing a
//! template, regenerate them with `UPDATE_SNAPSHOTS=1 cargo test -p invoice-mailer` and review
//! the diff.

use billing_domain::billing::Stamp;
use billing_domain::invoice::{ChargeKind, Invoice, InvoiceLine, InvoiceStatus, ServicePeriod};
use billing_domain::ledger::AccountSummary;
use billing_domain::{Account, AccountId, Address, AddressInput, BillingContact, Currency, Money, NewAccount, RemitTo};
use chrono::{DateTime, TimeZone, Utc};
use invoice_mailer::render::{self, BillFacts, Brand};

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()
}

fn dec_1() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

fn address(line1: &str) -> Address {
    Address::parse(AddressInput {
        line1,
        line2: None,
        city: "Springfield",
        region: Some("IL"),
        postal_code: Some("62701"),
        country: "US",
    })
    .unwrap()
}

fn brand() -> Brand {
    Brand {
        seller: "Seller Hosting".into(),
        portal_url: "https://portal.example".into(),
        remit_to: Some(RemitTo { name: "Seller Hosting AR".into(), address: address("PO Box 77") }),
        scan_check_digit: Default::default(),
    }
}

fn account(name: &str, currency: &str) -> Account {
    let new = NewAccount {
        name: name.into(),
        currency: currency.parse().unwrap(),
        billing_contact: BillingContact::parse("Avery Admin", "ap@customer.example", None).unwrap(),
        billing_address: address("100 Main St"),
    };
    Account::open("acct_snapshot".parse::<AccountId>().unwrap(), new, at(1))
}

/// One line: (id, group, kind, description), quantity, unit amount, amount, currency.
fn line(
    (id, group, kind, description): (&str, &str, ChargeKind, &str),
    qty: Option<u64>,
    unit: Option<&str>,
    amount: &str,
    c: Currency,
) -> InvoiceLine {
    let partial = kind == ChargeKind::Proration;
    InvoiceLine {
        id: id.into(),
        description: description.into(),
        kind,
        group: group.into(),
        product: None,
        quantity: qty,
        unit_amount: unit.map(|u| Money::new(u.parse().unwrap(), c)),
        amount: Money::new(amount.parse().unwrap(), c),
        // Stored as the processor sends it: the period ends where December starts.
        period: ServicePeriod { start: at(if partial { 12 } else { 1 }), end: dec_1(), partial },
        item: None,
        taxes: vec![],
    }
}

fn invoice(currency: &str, amounts: [&str; 6]) -> Invoice {
    let c: Currency = currency.parse().unwrap();
    let m = |a: &str| Money::new(a.parse().unwrap(), c);
    let lines = vec![
        line(
            ("il_1", "Site: shop.example (DC1)", ChargeKind::Recurring, "Managed server, monthly"),
            Some(1),
            Some(amounts[0]),
            amounts[0],
            c,
        ),
        line(
            ("il_2", "Site: shop.example (DC1)", ChargeKind::Usage, "Bandwidth, 1,200 GB (1,000 GB included)"),
            Some(200),
            None,
            amounts[1],
            c,
        ),
        line(
            ("il_3", "Seats", ChargeKind::Proration, "Unused time on 5 × Seat after Nov 12, 2026"),
            Some(5),
            None,
            amounts[2],
            c,
        ),
        line(
            ("il_4", "Seats", ChargeKind::Proration, "Remaining time on 8 × Seat after Nov 12, 2026"),
            Some(8),
            None,
            amounts[3],
            c,
        ),
    ];
    Invoice {
        id: "in_snapshot".into(),
        account_id: "acct_snapshot".parse().unwrap(),
        customer_id: "cus_snapshot".into(),
        number: Some("SELLER-0042".into()),
        status: InvoiceStatus::Open,
        currency: c,
        subtotal: m(amounts[4]),
        tax: Money::zero(c),
        total: m(amounts[4]),
        amount_due: m(amounts[4]),
        amount_paid: Money::zero(c),
        amount_remaining: m(amounts[5]),
        created: at(30),
        due_date: Some(Utc.with_ymd_and_hms(2026, 12, 30, 0, 0, 0).unwrap()),
        period_start: at(1),
        period_end: dec_1(),
        hosted_invoice_url: Some("https://invoice.stripe.com/i/in_snapshot".into()),
        pdf_url: Some("https://pay.stripe.com/invoice/in_snapshot/pdf".into()),
        lines,
        lines_complete: true,
        stamp: Stamp { at: at(30), event_id: "evt_snapshot".into() },
        tax_detail: Default::default(),
        account_summary: None,
    }
}

fn check(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{name} differs from its snapshot; regenerate with UPDATE_SNAPSHOTS=1 and review:\n{actual}"
    );
}

#[test]
fn a_usd_bill_with_grouped_prorated_and_usage_lines() {
    let inv = invoice("USD", ["1250", "24.5", "-24", "38.4", "1288.90", "1288.90"]);
    let mail = render::bill(&BillFacts::new(&brand(), &account("Customer & Sons <Ltd>", "USD"), &inv)).unwrap();
    assert_eq!(mail.subject, "Seller Hosting: invoice SELLER-0042 — 1,288.90 USD due");
    check("bill-usd.html", &mail.html);
    check("bill-usd.txt", &mail.text);
    assert!(mail.html.contains("Customer &#38; Sons &#60;Ltd&#62;"), "the account name is escaped in HTML");
    assert!(!mail.html.contains("<Ltd>"));
}

#[test]
fn a_jpy_bill_has_no_decimals() {
    let inv = invoice("JPY", ["150000", "3000", "-2400", "3840", "154440", "154440"]);
    let mail = render::bill(&BillFacts::new(&brand(), &account("Kabushiki Kaisha", "JPY"), &inv)).unwrap();
    check("bill-jpy.html", &mail.html);
    check("bill-jpy.txt", &mail.text);
    assert!(mail.text.contains("AMOUNT DUE (Dec 30, 2026): 154,440 JPY"));
    assert!(mail.text.contains("Subtotal Seats: 1,440 JPY"), "group subtotal");
    assert!(mail.text.contains("[Recurring] Nov 1, 2026 – Nov 30, 2026 |"), "November ends on Nov 30");
}

/// A contract bill of Dec 1: the racks for December (in advance), November's bandwidth beyond
/// what is included (in arrears), long names, a seven-figure total.
fn contract_bill() -> Invoice {
    let c: Currency = "USD".parse().unwrap();
    let m = |a: &str| Money::new(a.parse().unwrap(), c);
    let t = |y, mo, d| Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0).unwrap();
    let month = |start, end| ServicePeriod { start, end, partial: false };
    let site = "Site: Frankfurt FRA-2 cage 14 (contract 2026-0042, colocation and transit)";
    let lines = vec![
        InvoiceLine {
            id: "rack".into(),
            description: "Full rack, 42U, 2 x 16A A+B power feeds, remote hands 2 h/month included".into(),
            kind: ChargeKind::Recurring,
            group: site.into(),
            product: None,
            quantity: Some(12),
            unit_amount: Some(m("98500.00")),
            amount: m("1182000.00"),
            period: month(t(2026, 12, 1), t(2027, 1, 1)),
            item: None,
            taxes: vec![],
        },
        InvoiceLine {
            id: "bw".into(),
            description: "Bandwidth_95th_percentile_beyond_commit_FRA2_transit_blend_GB".into(),
            kind: ChargeKind::Overage,
            group: site.into(),
            product: None,
            quantity: Some(1_250_000),
            unit_amount: None,
            amount: m("52567.89"),
            period: month(t(2026, 11, 1), t(2026, 12, 1)),
            item: None,
            taxes: vec![],
        },
    ];
    Invoice {
        id: "bill_acct_snapshot_20261201".into(),
        account_id: "acct_snapshot".parse().unwrap(),
        customer_id: String::new(),
        number: Some("INV-000042".into()),
        status: InvoiceStatus::Open,
        currency: c,
        subtotal: m("1234567.89"),
        tax: Money::zero(c),
        total: m("1234567.89"),
        amount_due: m("1234567.89"),
        amount_paid: Money::zero(c),
        amount_remaining: m("1234567.89"),
        created: t(2026, 12, 1),
        due_date: Some(t(2026, 12, 31)),
        period_start: t(2026, 11, 1),
        period_end: t(2026, 12, 1),
        hosted_invoice_url: None,
        pdf_url: None,
        lines,
        lines_complete: true,
        stamp: Stamp { at: t(2026, 12, 1), event_id: "billrun:finalize".into() },
        tax_detail: Default::default(),
        // November's bill of 1,000,000.00 partly paid (600,000.00) and credited (50,000.00).
        account_summary: Some(AccountSummary {
            cut_off: "2026-12-01".parse().unwrap(),
            previous_balance: m("1000000.00"),
            payments: m("600000.00"),
            credits: m("50000.00"),
            balance_forward: m("350000.00"),
            new_charges: m("1234567.89"),
            total_due: m("1584567.89"),
        }),
    }
}

#[test]
fn a_contract_bill_reads_its_periods_with_their_last_days() {
    let account = account("Very Long Customer Name Holdings International GmbH & Co. KG", "USD");
    let mail = render::bill(&BillFacts::new(&brand(), &account, &contract_bill())).unwrap();
    check("bill-contract.html", &mail.html);
    check("bill-contract.txt", &mail.text);
    assert!(mail.text.contains("Services Nov 1, 2026 – Dec 31, 2026"), "the span of its lines, not Nov 1 – Dec 1");
    assert!(mail.text.contains("[Recurring] Dec 1, 2026 – Dec 31, 2026 |"), "December ends on Dec 31");
    assert!(mail.text.contains("[Overage] Nov 1, 2026 – Nov 30, 2026 |"));
    assert!(!mail.text.contains("Jan 1, 2027"), "no period ends on the next one's first day");
    assert!(mail.html.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#));
    // The account summary, and the stub asks for the total due (last month's rest included).
    for row in [
        "ACCOUNT SUMMARY (as of Dec 1, 2026)",
        "Previous balance: 1,000,000.00 USD",
        "Payments received: -600,000.00 USD",
        "Credits and adjustments: -50,000.00 USD",
        "Balance forward: 350,000.00 USD",
        "New charges (this invoice): 1,234,567.89 USD",
        "TOTAL AMOUNT DUE: 1,584,567.89 USD",
        "Total amount due: 1,584,567.89 USD\nAmount enclosed",
    ] {
        assert!(mail.text.contains(row), "{row}");
    }
    assert!(mail.html.contains("<strong>Total amount due</strong>"));
}

#[test]
fn a_reminder_says_what_is_still_due_since_when_and_how_to_pay() {
    let mut bill = contract_bill();
    bill.amount_paid = Money::new("234567.89".parse().unwrap(), bill.currency);
    bill.amount_remaining = Money::new("1000000.00".parse().unwrap(), bill.currency);
    let facts = BillFacts::new(&brand(), &account("Late Payer Inc", "USD"), &bill);
    let late = render::payment_reminder(&facts, 7).unwrap();
    assert_eq!(late.subject, "Seller Hosting: invoice INV-000042 is 7 days past due — 1,000,000.00 USD due");
    for part in [&late.text, &late.html] {
        assert!(part.contains("was due on Dec 31, 2026: it is 7 days past due"), "{part}");
        assert!(part.contains("Still due: 1,000,000.00 USD (invoice total 1,234,567.89 USD, paid 234,567.89 USD)"));
        assert!(part.contains("Seller Hosting AR, PO Box 77, Springfield IL 62701, US"), "REMIT-TO");
        assert!(
            part.contains("https://portal.example/accounts/acct_snapshot/billing?invoice=bill_acct_snapshot_20261201")
        );
    }
    let ahead = render::payment_reminder(&facts, -3).unwrap();
    assert_eq!(ahead.subject, "Seller Hosting: reminder, invoice INV-000042 — 1,000,000.00 USD due Dec 31, 2026");
    assert!(ahead.text.contains("is due on Dec 31, 2026, in 3 days"));
    assert!(render::payment_reminder(&facts, 1).unwrap().text.contains("it is 1 day past due"));
    assert!(render::payment_reminder(&facts, 0).unwrap().subject.ends_with("due today"));
}

/// A bill of `n` lines in groups of 25, each with a long description.
fn long_bill(n: usize) -> Invoice {
    let mut bill = contract_bill();
    let template = bill.lines[0].clone();
    bill.lines = (0..n)
        .map(|i| InvoiceLine {
            id: format!("line-{i}"),
            group: format!("Site {:02}: rack row {} (cage {})", i / 25, i / 25 + 1, 100 + i / 25),
            product: None,
            description: format!("Line {i}: full rack, 42U, 2 x 16A A+B power feeds, remote hands included"),
            ..template.clone()
        })
        .collect();
    bill
}

/// Where the PDFs go for `dev/pdf-check.sh` (qpdf, pdftotext, pdftoppm) and for people to look at.
fn artifact(name: &str, bytes: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn the_bill_pdf_is_the_same_bytes_every_time_and_carries_its_metadata() {
    let bill = contract_bill();
    let mut numbered = account("Very Long Customer Name Holdings International GmbH & Co. KG", "USD");
    numbered.number = Some(10452);
    let facts = BillFacts::new(&brand(), &numbered, &bill);
    let scan = facts.scan_line.clone().expect("a numbered account's stub has its scan line");
    assert!(scan.starts_with("0000010452") && scan.len() == 31, "{scan}");
    let once = invoice_mailer::pdf::bill(&facts, bill.created, &bill.id).unwrap();
    let again = invoice_mailer::pdf::bill(&facts, bill.created, &bill.id).unwrap();
    assert_eq!(once, again, "the same bill, the same bytes");
    assert!(once.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&once);
    assert!(text.contains("Invoice INV-000042"), "the title");
    assert!(text.contains("Seller Hosting"), "the author");
    assert!(text.contains("D:20261201000000"), "dated the bill's day, not the clock's");
    assert!(text.contains("+OCRB"), "the scan line is set in OCR-B, embedded");
    assert!(once.len() < 60_000, "subset fonts keep it small: {} bytes", once.len());
    artifact("bill-contract.pdf", &once);

    let long = long_bill(500);
    let facts = BillFacts::new(&brand(), &account("Big Customer", "USD"), &long);
    let started = std::time::Instant::now();
    let pdf = invoice_mailer::pdf::bill(&facts, long.created, &long.id).unwrap();
    eprintln!("500-line bill: {} bytes in {:?}", pdf.len(), started.elapsed());
    artifact("bill-500-lines.pdf", &pdf);
    // dev/pdf-check.sh reads both: qpdf --check, every line and page number in pdftotext's text,
    // page images from pdftoppm.
}

#[test]
fn a_credit_note_has_its_mail_and_its_pdf() {
    let bill = contract_bill();
    let note = billing_domain::ledger::CreditNote {
        id: "cn_snapshot".into(),
        number: "CN-000007".into(),
        account_id: bill.account_id.clone(),
        invoice_id: bill.id.clone(),
        amount: Money::new("150.00".parse().unwrap(), bill.currency),
        reason: "Rack A12 down 3 days (SLA credit)".into(),
        to_invoice: Money::new("150.00".parse().unwrap(), bill.currency),
        to_credit: Money::zero(bill.currency),
        created: Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap(),
        created_by: "ops".into(),
        taxes: vec![],
    };
    let facts = render::CreditNoteFacts::new(&brand(), &account("Customer Co", "USD"), &note, &bill);
    let mail = render::credit_note(&facts).unwrap();
    assert_eq!(mail.subject, "Seller Hosting: credit note CN-000007 — 150.00 USD on invoice INV-000042");
    assert!(mail.text.contains("Reason: Rack A12 down 3 days (SLA credit)"));
    let pdf = invoice_mailer::pdf::credit_note(&facts, note.created, &note.id).unwrap();
    assert_eq!(pdf, invoice_mailer::pdf::credit_note(&facts, note.created, &note.id).unwrap(), "the same bytes");
    assert!(String::from_utf8_lossy(&pdf).contains("Credit note CN-000007"), "its title");
    artifact("credit-note.pdf", &pdf);
}

/// A year of a contract account's activity: 12 bills, a check for each but the last two, one of
/// them short, a credit note; the statement made by the domain, then its PDF.
#[test]
fn a_statement_pdf_carries_its_rows_across_pages_with_the_balances() {
    use billing_domain::ledger::{CreditNote, ReceivedPayment};
    use billing_domain::statement::{LedgerItems, statement};
    let c: Currency = "USD".parse().unwrap();
    let m = |a: &str| Money::new(a.parse().unwrap(), c);
    let mut items = LedgerItems::default();
    for month in 1..=12u32 {
        let mut bill = contract_bill();
        bill.id = format!("bill_snapshot_2026{month:02}01");
        bill.number = Some(format!("INV-{month:06}"));
        bill.created = Utc.with_ymd_and_hms(2026, month, 1, 0, 0, 0).unwrap();
        bill.due_date = Some(bill.created + chrono::Duration::days(30));
        bill.total = m("12500.00");
        bill.amount_due = m("12500.00");
        bill.account_summary = None;
        let paid = match month {
            1..=9 => m("12500.00"),
            10 => m("10000.00"),
            _ => m("0"),
        };
        bill.amount_paid = paid;
        bill.amount_remaining = Money::new(m("12500.00").amount() - paid.amount(), c);
        bill.status = if bill.amount_remaining.is_zero() { InvoiceStatus::Paid } else { InvoiceStatus::Open };
        if !paid.is_zero() {
            items.payments.push(ReceivedPayment {
                account_id: bill.account_id.clone(),
                invoice_id: bill.id.clone(),
                reference: format!("check:{}", 2200 + month),
                method: "check".into(),
                check_number: None,
                amount: paid,
                received_on: bill.created.date_naive() + chrono::Days::new(20),
                to_invoice: paid,
                to_credit: m("0"),
                recorded_at: bill.created + chrono::Duration::days(21),
                recorded_by: "ops".into(),
                returned: None,
            });
        }
        items.invoices.push(bill);
    }
    let last = items.invoices.last_mut().unwrap();
    last.amount_due = m("12350.00");
    last.amount_remaining = m("12350.00");
    items.credit_notes.push(CreditNote {
        id: "cn_1".into(),
        number: "CN-000001".into(),
        account_id: last.account_id.clone(),
        invoice_id: last.id.clone(),
        amount: m("150.00"),
        taxes: vec![],
        reason: "Rack A12 down 3 days (SLA credit)".into(),
        to_invoice: m("150.00"),
        to_credit: m("0"),
        created: last.created + chrono::Duration::days(3),
        created_by: "ops".into(),
    });
    let from = "2026-01-01".parse().unwrap();
    let to = "2026-12-31".parse().unwrap();
    let stmt = statement(&"acct_snapshot".parse().unwrap(), c, &items, from, to).unwrap();
    assert_eq!(stmt.closing_balance, m("27350.00"), "2,500.00 short in October, November and December open");
    let account = account("Very Long Customer Name Holdings International GmbH & Co. KG", "USD");
    let facts = invoice_mailer::render::StatementFacts::new(&brand(), &account, &stmt);
    let created = Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0).unwrap();
    let pdf = invoice_mailer::pdf::statement(&facts, created, "statement_acct_snapshot_2026").unwrap();
    assert_eq!(pdf, invoice_mailer::pdf::statement(&facts, created, "statement_acct_snapshot_2026").unwrap());
    artifact("statement.pdf", &pdf);
    // Open bills read with their age at the end of the period.
    let open: Vec<(&str, &str)> = facts.open_items.iter().map(|o| (o.number.as_str(), o.status.as_str())).collect();
    assert_eq!(
        open,
        [("INV-000010", "61 days past due"), ("INV-000011", "30 days past due"), ("INV-000012", "due today")]
    );
}

#[test]
fn a_numbered_accounts_stub_carries_the_scan_line_the_lockbox_reads_back() {
    use billing_domain::lockbox::{CheckDigit, ScanFields};
    let mut account = account("Scan Line Tenant", "USD");
    let bill = contract_bill();
    let plain = render::bill(&BillFacts::new(&brand(), &account, &bill)).unwrap();
    assert!(!plain.text.contains("Scan line"), "an account without a number has no scan line");
    account.number = Some(10452);
    for scheme in [CheckDigit::Mod10Weights21, CheckDigit::Luhn, CheckDigit::Mod11] {
        let facts = BillFacts::new(&Brand { scan_check_digit: scheme, ..brand() }, &account, &bill);
        let line = facts.scan_line.clone().expect("a scan line");
        // What the bank's scanner reads back: this account, this bill, the stub's amount.
        let read = ScanFields::read(&line, scheme).expect("its check digit holds");
        let number: u64 = bill.number.as_deref().unwrap().rsplit('-').next().unwrap().parse().unwrap();
        assert_eq!((read.account_number, read.invoice_number, read.amount_cents), (10452, number, 158_456_789));
        assert_eq!(facts.account_number, "0000010452");
        let mail = render::bill(&facts).unwrap();
        assert!(mail.text.contains(&format!("Scan line:       {line}")), "{scheme:?}");
        assert!(mail.html.contains(&line));
        let pdf = billing_documents::pdf::bill(&facts, bill.created, &bill.id).unwrap();
        assert!(pdf.len() > 1000);
    }
}

#[test]
fn a_returned_check_notice_says_which_check_why_what_is_owed_and_the_fee() {
    let mut bill = contract_bill();
    bill.amount_remaining = bill.total;
    let facts = BillFacts::new(&brand(), &account("Acme Hosting LLC", "USD"), &bill);
    let usd: billing_domain::Currency = "USD".parse().unwrap();
    let returned = Money::new("1100.00".parse().unwrap(), usd);
    let fee = Money::new("35.00".parse().unwrap(), usd);
    let owed = Money::new("1000.00".parse().unwrap(), usd);
    let bills = ["INV-000041".to_owned(), "INV-000042".to_owned()];
    let notice = render::Returned {
        check: Some("4242"),
        amount: &returned,
        bills: &bills,
        reason: "insufficient funds",
        fee: Some(&fee),
        balance_due: &owed,
    };
    let mail = render::payment_returned(&facts, &notice).unwrap();
    assert_eq!(
        mail.subject,
        "Seller Hosting: check 4242 for 1,100.00 USD was returned — invoices INV-000041, INV-000042 due again"
    );
    check("payment-returned.txt", &mail.text);
    for part in [
        "Check 4242 for 1,100.00 USD was returned by your bank (insufficient funds)",
        "Your balance due now: 1,000.00 USD",
        "A returned-check fee of 35.00 USD",
    ] {
        assert!(mail.text.contains(part), "{part}: {}", mail.text);
        assert!(mail.html.contains(part), "{part} in the HTML");
    }
    let plain = render::Returned { check: None, bills: &[], reason: "returned unpaid", fee: None, ..notice };
    let plain = render::payment_returned(&facts, &plain).unwrap();
    assert!(plain.text.contains("Your payment for 1,100.00 USD was returned") && !plain.text.contains("fee"));
    assert!(plain.text.contains("invoice INV-000042 (Acme Hosting LLC, account acct_snapshot) is due again"));
}
