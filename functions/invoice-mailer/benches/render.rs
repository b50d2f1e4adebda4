//! Rendering a 200-line bill e-mail (HTML and text parts, and its MIME message), and the bill's
//! PDF at 1 page and at 500 lines, with no I/O. `cargo bench -p invoice-mailer`.

use billing_domain::billing::Stamp;
use billing_domain::invoice::{ChargeKind, Invoice, InvoiceLine, InvoiceStatus, ServicePeriod};
use billing_domain::{Account, Address, AddressInput, BillingContact, Currency, Money, NewAccount, RemitTo};
use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use invoice_mailer::render::{self, BillFacts, Brand};
use invoice_mailer::send::{Outgoing, mime};

fn address() -> Address {
    let input = AddressInput {
        line1: "1 Main St",
        line2: None,
        city: "Springfield",
        region: Some("IL"),
        postal_code: Some("62701"),
        country: "US",
    };
    Address::parse(input).unwrap()
}

fn bill(lines: usize) -> (Brand, Account, Invoice) {
    let usd: Currency = "USD".parse().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let kinds =
        [ChargeKind::Recurring, ChargeKind::Usage, ChargeKind::Overage, ChargeKind::OneTime, ChargeKind::Proration];
    let lines: Vec<InvoiceLine> = (0..lines)
        .map(|i| InvoiceLine {
            id: format!("il_{i}"),
            description: format!("Service {i} on host-{i}.dc1.example"),
            kind: kinds[i % kinds.len()],
            group: format!("Site {}", i / 20),
            product: None,
            quantity: Some(i as u64 + 1),
            unit_amount: Some(Money::new(rust_decimal::Decimal::new(1250, 2), usd)),
            amount: Money::new(rust_decimal::Decimal::new(1250 * (i as i64 + 1), 2), usd),
            period: ServicePeriod { start, end, partial: i % 5 == 4 },
            item: None,
            taxes: vec![],
        })
        .collect();
    let total = lines.iter().fold(Money::zero(usd), |s, l| s.checked_add(&l.amount).unwrap());
    let account = Account::open(
        "acct_bench".parse().unwrap(),
        NewAccount {
            name: "Bench Customer".into(),
            currency: usd,
            billing_contact: BillingContact::parse("Ann", "ap@bench.example", None).unwrap(),
            billing_address: address(),
        },
        start,
    );
    let invoice = Invoice {
        id: "in_bench".into(),
        account_id: account.id.clone(),
        customer_id: "cus_bench".into(),
        number: Some("B-0001".into()),
        status: InvoiceStatus::Open,
        currency: usd,
        subtotal: total,
        tax: Money::zero(usd),
        total,
        amount_due: total,
        amount_paid: Money::zero(usd),
        amount_remaining: total,
        created: end,
        due_date: Some(end),
        period_start: start,
        period_end: end,
        hosted_invoice_url: None,
        pdf_url: None,
        lines,
        lines_complete: true,
        stamp: Stamp { at: end, event_id: "evt_bench".into() },
        tax_detail: Default::default(),
        account_summary: None,
    };
    let brand = Brand {
        seller: "Bench Hosting".into(),
        portal_url: "https://portal.example".into(),
        remit_to: Some(RemitTo { name: "Bench AR".into(), address: address() }),
        scan_check_digit: Default::default(),
    };
    (brand, account, invoice)
}

fn bench(c: &mut Criterion) {
    let (brand, account, invoice) = bill(200);
    c.bench_function("render a 200-line bill (HTML + text)", |b| {
        b.iter(|| render::bill(&BillFacts::new(&brand, &account, std::hint::black_box(&invoice))).unwrap())
    });
    let rendered = render::bill(&BillFacts::new(&brand, &account, &invoice)).unwrap();
    let outgoing = Outgoing {
        from_name: "Bench Hosting".into(),
        from_address: "billing@bench.example".into(),
        to: "ap@bench.example".parse().unwrap(),
        rendered,
        message_id: "bill_ready.0@bench.example".into(),
        attachment: None,
    };
    c.bench_function("build its MIME message", |b| b.iter(|| mime(std::hint::black_box(&outgoing)).unwrap()));

    for lines in [5, 500] {
        let (brand, account, invoice) = bill(lines);
        let facts = BillFacts::new(&brand, &account, &invoice);
        let pdf = invoice_mailer::pdf::bill(&facts, invoice.created, &invoice.id).unwrap();
        eprintln!("the {lines}-line bill's PDF: {} bytes", pdf.len());
        c.bench_function(&format!("the PDF of a {lines}-line bill"), |b| {
            b.iter(|| invoice_mailer::pdf::bill(std::hint::black_box(&facts), invoice.created, &invoice.id).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
