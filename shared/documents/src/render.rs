//! Mail content, rendered with askama from the domain's invoice and account: an HTML part
//! (escaped) and a plain-text part for every mail.

use askama::Template;
use billing_domain::invoice::{ChargeKind, Invoice};
use billing_domain::{Account, RemitTo};

use crate::format::{self, count, date, money, period};

/// A rendered mail, ready to be built into MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Who sends, and where people go from a mail.
#[derive(Debug, Clone)]
pub struct Brand {
    pub seller: String,
    pub portal_url: String,
    pub remit_to: Option<RemitTo>,
    /// The scan line's check-digit scheme (the seller's bank's coupon specification).
    pub scan_check_digit: billing_domain::lockbox::CheckDigit,
}

pub struct LineRow {
    pub description: String,
    pub kind: &'static str,
    /// First and last day, inclusive.
    pub period: String,
    pub partial: bool,
    pub quantity: String,
    pub unit: String,
    pub amount: String,
}

pub struct GroupRows {
    pub name: String,
    pub subtotal: String,
    pub lines: Vec<LineRow>,
}

/// One (code, rate) group of the bill's tax: "Illinois sales tax 6.25% on 462.40 USD".
pub struct TaxRow {
    pub label: String,
    pub amount: String,
}

/// The tax rows of a bill (or a credit note): each group with its rate and taxable base.
pub fn tax_rows(groups: &[billing_domain::tax::TaxGroup]) -> Vec<TaxRow> {
    groups
        .iter()
        .map(|g| TaxRow {
            label: format!(
                "{} {}{} on {}",
                g.name,
                g.rate,
                if g.inclusive { " (included)" } else { "" },
                money(&g.taxable_base)
            ),
            amount: money(&g.amount),
        })
        .collect()
}

/// A line of a contract bill's account summary.
pub struct SummaryRow {
    pub label: &'static str,
    pub amount: String,
}

/// A contract bill's account summary as it reads: what was owed, what came in, what is carried
/// forward, this bill, and the total due as of the cut-off. Payments and credits read as
/// deductions (`-600.00 USD`).
pub struct SummaryRows {
    pub cut_off: String,
    /// Previous balance, payments, credits, balance forward, new charges.
    pub rows: Vec<SummaryRow>,
    pub total_due: String,
    /// The account is in credit: the stub asks for nothing.
    pub in_credit: bool,
}

impl SummaryRows {
    pub fn new(s: &billing_domain::ledger::AccountSummary) -> Self {
        let minus = |m: &billing_domain::Money| money(&billing_domain::Money::new(-m.amount(), m.currency()));
        let row = |label, amount| SummaryRow { label, amount };
        Self {
            cut_off: format::day(s.cut_off),
            rows: vec![
                row("Previous balance", money(&s.previous_balance)),
                row("Payments received", minus(&s.payments)),
                row("Credits and adjustments", minus(&s.credits)),
                row("Balance forward", money(&s.balance_forward)),
                row("New charges (this invoice)", money(&s.new_charges)),
            ],
            total_due: money(&s.total_due),
            in_credit: s.total_due.amount().is_sign_negative() && !s.total_due.is_zero(),
        }
    }
}

/// The parts of a bill every bill mail shows.
pub struct BillFacts {
    pub seller: String,
    pub account_name: String,
    pub account_number: String,
    pub bill_to: Vec<String>,
    pub number: String,
    pub issued: String,
    pub due: String,
    /// The service the lines cover, first to last day.
    pub period: String,
    pub groups: Vec<GroupRows>,
    pub subtotal: String,
    pub tax: String,
    /// The tax per (code, rate) group; empty when none was worked out (one "Tax" row then).
    pub taxes: Vec<TaxRow>,
    pub tax_notes: Vec<String>,
    pub total: String,
    pub amount_paid: String,
    pub amount_due: String,
    /// Nothing is left to pay (a card bill charged before its mail went out).
    pub paid_in_full: bool,
    /// A contract bill's account summary (none on card bills).
    pub summary: Option<SummaryRows>,
    /// What the payment stub asks for: the account's total due when the bill has a summary
    /// (older bills still unpaid included), else this bill's amount due.
    pub stub_amount: String,
    /// `Total amount due` when the stub asks for the summary's total, else `Amount due`.
    pub stub_label: &'static str,
    /// The stub's machine-readable line (account number, invoice number, amount due, check
    /// digit: `docs/lockbox.md`), on bills of numbered accounts.
    pub scan_line: Option<String>,
    pub remit_to: Vec<String>,
    /// The portal's pay page with this bill chosen.
    pub portal_url: String,
    /// This bill in the portal, itemized.
    pub bill_url: String,
    pub hosted_url: Option<String>,
    pub pdf_url: Option<String>,
}

fn kind_label(k: ChargeKind) -> &'static str {
    match k {
        ChargeKind::Recurring => "Recurring",
        ChargeKind::OneTime => "One-time",
        ChargeKind::Usage => "Usage",
        ChargeKind::Overage => "Overage",
        ChargeKind::Proration => "Proration",
    }
}

/// Who the document is addressed to: the account, its billing contact, its address.
fn bill_to(account: &Account) -> Vec<String> {
    let mut lines = vec![account.name.clone(), format!("Attn: {}", account.billing_contact.name)];
    lines.extend(address_lines(&account.billing_address));
    lines
}

impl Brand {
    /// The REMIT-TO block's lines (none when the seller has no REMIT-TO address).
    fn remit_to_lines(&self) -> Vec<String> {
        self.remit_to
            .as_ref()
            .map(|r| std::iter::once(r.name.clone()).chain(address_lines(&r.address)).collect())
            .unwrap_or_default()
    }
}

fn address_lines(a: &billing_domain::Address) -> Vec<String> {
    let mut lines = vec![a.line1.clone()];
    lines.extend(a.line2.clone());
    let city =
        [Some(a.city.clone()), a.region.clone(), a.postal_code.clone()].into_iter().flatten().collect::<Vec<_>>();
    lines.push(city.join(" "));
    lines.push(a.country.to_string());
    lines
}

impl BillFacts {
    pub fn new(brand: &Brand, account: &Account, invoice: &Invoice) -> Self {
        let mut groups: Vec<(String, billing_domain::Money, Vec<LineRow>)> = Vec::new();
        for l in &invoice.lines {
            let row = LineRow {
                description: l.description.clone(),
                kind: kind_label(l.kind),
                period: period(&l.period),
                partial: l.period.partial,
                quantity: l.quantity.map(count).unwrap_or_default(),
                unit: l.unit_amount.as_ref().map(money).unwrap_or_default(),
                amount: money(&l.amount),
            };
            match groups.iter_mut().find(|g| g.0 == l.group) {
                Some(g) => {
                    g.1 = g.1.checked_add(&l.amount).unwrap_or(g.1);
                    g.2.push(row);
                }
                None => groups.push((l.group.clone(), l.amount, vec![row])),
            }
        }
        let (bill_to, remit_to) = (bill_to(account), brand.remit_to_lines());
        let stub = invoice.account_summary.as_ref().map_or(invoice.amount_remaining, |s| s.stub_amount());
        Self {
            seller: brand.seller.clone(),
            account_name: account.name.clone(),
            account_number: account.number.map_or_else(|| account.id.to_string(), |n| format!("{n:010}")),
            scan_line: scan_line(brand, account, invoice, &stub),
            bill_to,
            number: invoice.number.clone().unwrap_or_else(|| invoice.id.clone()),
            issued: date(&invoice.created),
            due: invoice.due_date.as_ref().map(date).unwrap_or_else(|| "on receipt".to_owned()),
            period: period(&invoice.service_span()),
            groups: groups
                .into_iter()
                .map(|(name, subtotal, lines)| GroupRows { name, subtotal: money(&subtotal), lines })
                .collect(),
            subtotal: money(&invoice.subtotal),
            tax: money(&invoice.tax),
            taxes: tax_rows(&invoice.tax_detail.groups),
            tax_notes: invoice.tax_detail.notes(),
            total: money(&invoice.total),
            amount_paid: money(&invoice.amount_paid),
            amount_due: money(&invoice.amount_remaining),
            paid_in_full: invoice.amount_remaining.is_zero() && !invoice.total.is_zero(),
            summary: invoice.account_summary.as_ref().map(SummaryRows::new),
            stub_label: if invoice.account_summary.is_some() { "Total amount due" } else { "Amount due" },
            stub_amount: money(&stub),
            remit_to,
            portal_url: format!("{}/accounts/{}/billing?invoice={}", brand.portal_url, account.id, invoice.id),
            bill_url: format!("{}/accounts/{}/bills/{}", brand.portal_url, account.id, invoice.id),
            hosted_url: invoice.hosted_invoice_url.clone(),
            pdf_url: invoice.pdf_url.clone(),
        }
    }
}

/// The scan line of a numbered account's bill: its account number, the invoice number's digits
/// and the amount the stub asks for in minor units; none without them (or nothing to ask for).
fn scan_line(brand: &Brand, account: &Account, invoice: &Invoice, stub: &billing_domain::Money) -> Option<String> {
    let invoice_number = invoice.number.as_deref()?.rsplit('-').next()?.parse().ok()?;
    let amount_cents = u64::try_from(stub.to_minor().ok()?).ok()?;
    billing_domain::lockbox::ScanFields { account_number: account.number?, invoice_number, amount_cents }
        .line(brand.scan_check_digit)
}

/// What a credit note's mail and PDF show.
pub struct CreditNoteFacts {
    pub seller: String,
    pub account_name: String,
    pub account_number: String,
    pub bill_to: Vec<String>,
    pub number: String,
    pub issued: String,
    /// The bill it credits.
    pub invoice_number: String,
    pub reason: String,
    pub amount: String,
    pub to_invoice: String,
    pub to_credit: String,
    /// Net of the tax it reverses, and that tax per the bill's groups (empty: none).
    pub net: String,
    pub taxes: Vec<TaxRow>,
    /// What is left to pay on the bill now.
    pub invoice_still_due: String,
    pub bill_url: String,
}

impl CreditNoteFacts {
    pub fn new(brand: &Brand, account: &Account, note: &billing_domain::ledger::CreditNote, invoice: &Invoice) -> Self {
        let bill = BillFacts::new(brand, account, invoice);
        Self {
            seller: bill.seller,
            account_name: bill.account_name,
            account_number: bill.account_number,
            bill_to: bill.bill_to,
            number: note.number.clone(),
            issued: date(&note.created),
            invoice_number: bill.number,
            reason: note.reason.clone(),
            amount: money(&note.amount),
            to_invoice: money(&note.to_invoice),
            to_credit: money(&note.to_credit),
            net: money(&note.net()),
            taxes: tax_rows(&note.taxes),
            invoice_still_due: bill.amount_due,
            bill_url: bill.bill_url,
        }
    }
}

/// A credit note's mail (its PDF goes with it).
pub fn credit_note(c: &CreditNoteFacts) -> askama::Result<Rendered> {
    let paras = vec![
        format!(
            "We issued credit note {} for {} on invoice {} ({}, account {}).",
            c.number, c.amount, c.invoice_number, c.account_name, c.account_number
        ),
        format!("Reason: {}", c.reason),
    ];
    let mut paras = paras;
    if !c.taxes.is_empty() {
        let taxes: Vec<String> = c.taxes.iter().map(|t| format!("{} {}", t.label, t.amount)).collect();
        paras.push(format!(
            "Of this, {} is credited net of tax and {} is tax reversed at the invoice's rates.",
            c.net,
            taxes.join("; ")
        ));
    }
    paras.extend([
        format!(
            "Applied to invoice {}: {}. Added to your account credit (taken off your next bill): {}.",
            c.invoice_number, c.to_invoice, c.to_credit
        ),
        format!("Still due on invoice {}: {}.", c.invoice_number, c.invoice_still_due),
        "The credit note is attached as a PDF for your records.".to_owned(),
    ]);
    notice(
        &c.seller,
        format!("{}: credit note {} — {} on invoice {}", c.seller, c.number, c.amount, c.invoice_number),
        "Credit note",
        &paras,
        "View the invoice in the billing portal",
        &c.bill_url,
    )
}

#[derive(Template)]
#[template(path = "bill.html")]
struct BillHtml<'a> {
    b: &'a BillFacts,
}

#[derive(Template)]
#[template(path = "bill.txt")]
struct BillText<'a> {
    b: &'a BillFacts,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticeHtml<'a> {
    seller: &'a str,
    heading: &'a str,
    paragraphs: &'a [String],
    link_text: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "notice.txt")]
struct NoticeText<'a> {
    seller: &'a str,
    heading: &'a str,
    paragraphs: &'a [String],
    link_text: &'a str,
    link: &'a str,
}

fn notice(
    seller: &str,
    subject: String,
    heading: &str,
    paragraphs: &[String],
    link_text: &str,
    link: &str,
) -> askama::Result<Rendered> {
    Ok(Rendered {
        subject,
        html: NoticeHtml { seller, heading, paragraphs, link_text, link }.render()?,
        text: NoticeText { seller, heading, paragraphs, link_text, link }.render()?,
    })
}

/// The bill: itemized, grouped, with REMIT-TO and a payment stub.
pub fn bill(b: &BillFacts) -> askama::Result<Rendered> {
    Ok(Rendered {
        subject: if b.paid_in_full {
            format!("{}: invoice {} — {} paid in full", b.seller, b.number, b.total)
        } else {
            format!("{}: invoice {} — {} due", b.seller, b.number, b.amount_due)
        },
        html: BillHtml { b }.render()?,
        text: BillText { b }.render()?,
    })
}

/// The receipt for a paid bill.
pub fn receipt(b: &BillFacts, paid: &billing_domain::Money) -> askama::Result<Rendered> {
    let paras = vec![
        format!("We received your payment of {} for invoice {} ({}).", money(paid), b.number, b.account_name),
        format!("Invoice total {}; paid {}; still due {}.", b.total, b.amount_paid, b.amount_due),
    ];
    let link = b.hosted_url.clone().unwrap_or_else(|| b.bill_url.clone());
    notice(
        &b.seller,
        format!("{}: receipt for invoice {} — {} paid", b.seller, b.number, money(paid)),
        "Payment received",
        &paras,
        "View the invoice",
        &link,
    )
}

/// A failed payment attempt, with the way to pay.
pub fn payment_failed(b: &BillFacts, due: &billing_domain::Money) -> askama::Result<Rendered> {
    let paras = vec![
        format!("We could not collect {} for invoice {} ({}).", money(due), b.number, b.account_name),
        "Please pay it in the billing portal, or update your payment method there; \
         you can also mail a check with the invoice's payment stub."
            .to_owned(),
    ];
    notice(
        &b.seller,
        format!("{}: payment of {} for invoice {} failed", b.seller, money(due), b.number),
        "Payment failed",
        &paras,
        "Pay in the billing portal",
        &b.portal_url,
    )
}

/// A check the bank returned, as its notice tells it.
pub struct Returned<'a> {
    /// The check's number (none: "Your payment").
    pub check: Option<&'a str>,
    pub amount: &'a billing_domain::Money,
    /// The numbers of the bills it had paid (empty: the notice's own bill).
    pub bills: &'a [String],
    pub reason: &'a str,
    pub fee: Option<&'a billing_domain::Money>,
    pub balance_due: &'a billing_domain::Money,
}

/// What the customer is told when their bank returns a check: the check, why, the bills it paid
/// that are due again, the balance due now, the fee if any, and how to pay instead (the stub of
/// the first bill goes with it).
pub fn payment_returned(b: &BillFacts, r: &Returned<'_>) -> askama::Result<Rendered> {
    let what = r.check.map_or_else(|| "Your payment".to_owned(), |n| format!("Check {n}"));
    let owed = match r.bills {
        [] => format!("invoice {}", b.number),
        [one] => format!("invoice {one}"),
        many => format!("invoices {}", many.join(", ")),
    };
    let mut paras = vec![
        format!(
            "{what} for {} was returned by your bank ({}). We have taken the payment back: {owed} ({}, account {}) {} due again.",
            money(r.amount),
            r.reason,
            b.account_name,
            b.account_number,
            if r.bills.len() > 1 { "are" } else { "is" },
        ),
        format!(
            "Invoice {}: {} due (due date {}). Your balance due now: {}.",
            b.number,
            b.amount_due,
            b.due,
            money(r.balance_due)
        ),
    ];
    if let Some(fee) = r.fee {
        paras.push(format!("A returned-check fee of {} will be on your next bill.", money(fee)));
    }
    paras.push(format!(
        "Please pay by card in the billing portal, or mail a new check with the invoice's payment stub to {}.",
        b.remit_to.join(", ")
    ));
    notice(
        &b.seller,
        format!("{}: {} for {} was returned — {owed} due again", b.seller, what.to_lowercase(), money(r.amount)),
        "Payment returned",
        &paras,
        "Pay in the billing portal",
        &b.portal_url,
    )
}

/// A reminder that a bill is coming due (`days_past_due` below zero) or past due: the amount
/// still due, since when, and the ways to pay (the portal, or a check with the stub to REMIT-TO).
pub fn payment_reminder(b: &BillFacts, days_past_due: i64) -> askama::Result<Rendered> {
    let (subject, heading, when) = match days_past_due {
        ..=-1 => (
            format!("{}: reminder, invoice {} — {} due {}", b.seller, b.number, b.amount_due, b.due),
            "Payment reminder",
            format!("is due on {}, in {} days", b.due, -days_past_due),
        ),
        0 => (
            format!("{}: reminder, invoice {} — {} due today", b.seller, b.number, b.amount_due),
            "Payment due today",
            format!("is due today, {}", b.due),
        ),
        days => (
            format!("{}: invoice {} is {days} days past due — {} due", b.seller, b.number, b.amount_due),
            "Payment past due",
            format!("was due on {}: it is {days} {} past due", b.due, if days == 1 { "day" } else { "days" }),
        ),
    };
    let mut paras = vec![
        format!("Invoice {} for {} ({}) {when}.", b.number, b.account_name, b.account_number),
        format!("Still due: {} (invoice total {}, paid {}).", b.amount_due, b.total, b.amount_paid),
        "Pay by card in the billing portal, or mail a check with the invoice's payment stub.".to_owned(),
    ];
    if !b.remit_to.is_empty() {
        paras.push(format!("Checks payable to {} go to: {}.", b.seller, b.remit_to.join(", ")));
    }
    paras.push("If you have paid it already, thank you: please disregard this reminder.".to_owned());
    notice(&b.seller, subject, heading, &paras, "Pay in the billing portal", &b.portal_url)
}

/// The account's seats match what it pays for.
pub fn seats_ready(
    brand: &Brand,
    account: &Account,
    seats: u32,
    pending_removal: u32,
    entitled: bool,
) -> askama::Result<Rendered> {
    let link = format!("{}/accounts/{}/seats", brand.portal_url, account.id);
    let (subject, heading, mut paras) = if entitled {
        (
            format!("{}: your {seats} seats are ready", brand.seller),
            "Your seats are ready",
            vec![format!("{} now has {seats} seats to assign to its users.", account.name)],
        )
    } else {
        (
            format!("{}: your seats are suspended", brand.seller),
            "Your seats are suspended",
            vec![format!(
                "The subscription of {} does not cover seats at the moment, so they are suspended. \
                 Assignments are kept and come back when it is paid.",
                account.name
            )],
        )
    };
    if pending_removal > 0 {
        paras.push(format!(
            "{pending_removal} assigned seats go beyond what is paid for; unassign users or buy more seats."
        ));
    }
    notice(&brand.seller, subject, heading, &paras, "Manage seats", &link)
}

/// An invitation to join the account's billing portal.
pub fn invitation(brand: &Brand, account: &Account, role: billing_domain::Role) -> askama::Result<Rendered> {
    let what = match role {
        billing_domain::Role::Admin => "manage its billing and its users",
        billing_domain::Role::Billing => "see and pay its bills and manage its payment methods and seats",
        billing_domain::Role::Viewer => "see its bills",
    };
    let paras = vec![
        format!("You have been invited to {} in the {} billing portal, to {what}.", account.name, brand.seller),
        "Sign in with this e-mail address, or create your login with it (\"Create your login\" on the sign-in \
         page); the invitation is accepted on your first visit."
            .to_owned(),
    ];
    notice(
        &brand.seller,
        format!("{}: you are invited to {}'s billing", brand.seller, account.name),
        "You are invited",
        &paras,
        "Open the billing portal",
        &brand.portal_url,
    )
}

/// The "new bill format" notice a cohort's accounts get a month before their bills move here.
pub fn bill_format_notice(
    brand: &Brand,
    account: &Account,
    go_live: chrono::NaiveDate,
    first_bill: chrono::NaiveDate,
) -> askama::Result<Rendered> {
    let long = |d: chrono::NaiveDate| d.format("%B %-d, %Y").to_string();
    let mut paras = vec![
        format!(
            "From {}, the bills of {} come in a new format. Your first bill in it is dated {}.",
            long(go_live),
            account.name,
            long(first_bill)
        ),
        "Each bill lists your recurring, one-time and usage charges, including any overage, grouped by site \
         or service with a subtotal for each, and shows the service period of every line; a partial month is \
         marked as such."
            .to_owned(),
        "You can pay by card in the billing portal, or mail a check with the payment stub at the bottom of the bill."
            .to_owned(),
    ];
    if let Some(remit) = &brand.remit_to {
        let lines: Vec<String> = std::iter::once(remit.name.clone()).chain(address_lines(&remit.address)).collect();
        paras.push(format!("Checks go to: {}.", lines.join(", ")));
    }
    paras.push("Your prices, contract and payment terms do not change.".to_owned());
    notice(
        &brand.seller,
        format!("{}: your bills get a new format from {}", brand.seller, long(go_live)),
        "Your bills are getting a new format",
        &paras,
        "Open the billing portal",
        &brand.portal_url,
    )
}

/// One row of a statement of account as it reads.
pub struct StatementRow {
    pub date: String,
    pub description: String,
    /// Empty when the row is a credit.
    pub debit: String,
    /// Empty when the row is a debit.
    pub credit: String,
    pub balance: String,
}

/// A bill still open at the end of a statement's period.
pub struct OpenItemRow {
    pub number: String,
    pub issued: String,
    pub due: String,
    pub amount: String,
    /// `12 days past due`, `due in 5 days`, `due today`.
    pub status: String,
}

/// What a statement of account shows: the period, the opening balance, every bill, payment,
/// credit note and void with the running balance, the closing balance, what is still open and
/// how old it is, and how to pay.
pub struct StatementFacts {
    pub seller: String,
    pub account_name: String,
    pub account_number: String,
    pub bill_to: Vec<String>,
    pub period: String,
    pub statement_date: String,
    pub opening: String,
    pub rows: Vec<StatementRow>,
    pub total_debits: String,
    pub total_credits: String,
    pub closing: String,
    pub open_items: Vec<OpenItemRow>,
    /// (bucket, amount): current, 1–30, 31–60, 61–90, over 90 days past due.
    pub aging: Vec<(&'static str, String)>,
    /// Overpayments not yet used, when there are any.
    pub unapplied_credit: Option<String>,
    pub remit_to: Vec<String>,
    pub portal_url: String,
}

impl StatementFacts {
    pub fn new(brand: &Brand, account: &Account, s: &billing_domain::statement::Statement) -> Self {
        let (bill_to, remit_to) = (bill_to(account), brand.remit_to_lines());
        let nonzero = |m: &billing_domain::Money| if m.is_zero() { String::new() } else { money(m) };
        Self {
            seller: brand.seller.clone(),
            account_name: account.name.clone(),
            account_number: account.id.to_string(),
            bill_to,
            period: format!("{} – {}", format::day(s.from), format::day(s.to)),
            statement_date: format::day(s.to),
            opening: money(&s.opening_balance),
            rows: s
                .entries
                .iter()
                .map(|e| StatementRow {
                    date: format::day(e.date),
                    description: e.description.clone(),
                    debit: nonzero(&e.debit),
                    credit: nonzero(&e.credit),
                    balance: money(&e.balance),
                })
                .collect(),
            total_debits: money(&s.total_debits),
            total_credits: money(&s.total_credits),
            closing: money(&s.closing_balance),
            open_items: s
                .open_items
                .iter()
                .map(|o| OpenItemRow {
                    number: o.number.clone().unwrap_or_else(|| o.invoice_id.clone()),
                    issued: format::day(o.issued),
                    due: format::day(o.due),
                    amount: money(&o.amount_remaining),
                    status: match o.days_past_due {
                        0 => "due today".to_owned(),
                        1 => "1 day past due".to_owned(),
                        d if d > 1 => format!("{d} days past due"),
                        -1 => "due tomorrow".to_owned(),
                        d => format!("due in {} days", -d),
                    },
                })
                .collect(),
            aging: vec![
                ("Current", money(&s.aging.current)),
                ("1–30 days", money(&s.aging.days_1_30)),
                ("31–60 days", money(&s.aging.days_31_60)),
                ("61–90 days", money(&s.aging.days_61_90)),
                ("Over 90 days", money(&s.aging.over_90)),
            ],
            unapplied_credit: (!s.unapplied_credit.is_zero()).then(|| money(&s.unapplied_credit)),
            remit_to,
            portal_url: format!("{}/accounts/{}/statement", brand.portal_url, account.id),
        }
    }
}
