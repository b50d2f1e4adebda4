//! A statement of account for a period: the opening balance, one row per bill, payment, credit
//! note and void with a running balance, the closing balance, and the bills still open at the end
//! of the period, aged. Made from the account's documents alone (its invoices, the payments
//! received for its contract bills, its credit notes), for card and contract accounts alike.
//!
//! Every document is turned into dated events, each moving the balance and the open items by the
//! same amount, so `opening + debits − credits = closing = open items − unapplied credit` holds
//! for any period; the statement checks it and refuses to answer (corrupt data) when it does not.
//!
//! - A contract bill is a debit of its total on the day it was made; account credit it used at
//!   finalizing moves credit onto it (no change to the balance).
//! - A payment received (a check, a card payment of a contract bill) is a credit of the whole
//!   amount on the day it was received; the part beyond what the bill owed becomes account credit.
//! - A credit note is a credit of its amount on the day it was issued.
//! - A card invoice (the processor's) is a debit of its amount due on the day it was made; what
//!   was paid is a credit on the day the processor last reported it; a voided one is credited
//!   back in full on the day it was voided. Refunds are the processor's credit notes, not shown.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::ledger::{CreditNote, ReceivedPayment, is_contract_bill};
use crate::money::{Currency, Money};
use crate::receivables::{Aging, AgingBucket, Receivable, due_day};

/// The documents a statement is made of, as the store holds them.
#[derive(Debug, Clone, Default)]
pub struct LedgerItems {
    /// Every invoice of the account (drafts are left out here).
    pub invoices: Vec<Invoice>,
    pub payments: Vec<ReceivedPayment>,
    pub credit_notes: Vec<CreditNote>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EntryKind {
    Invoice,
    CreditNote,
    Payment,
    /// A voided invoice, credited back.
    Void,
    /// A payment the bank returned (a bounced check): owed again.
    ReturnedPayment,
}

/// One row of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementEntry {
    pub date: NaiveDate,
    pub kind: EntryKind,
    /// The invoice or credit-note number, or the payment's reference (`check:2201`).
    pub reference: String,
    pub description: String,
    /// The invoice it is about.
    pub invoice_id: String,
    /// What it adds to the balance (zero for a credit).
    pub debit: Money,
    /// What it takes off the balance (zero for a debit).
    pub credit: Money,
    /// The balance after it.
    pub balance: Money,
}

/// A bill with money left to pay at the end of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenItem {
    pub invoice_id: String,
    pub number: Option<String>,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub amount_remaining: Money,
    /// Days past due at the end of the period (zero or less: not yet due).
    pub days_past_due: i64,
    pub bucket: AgingBucket,
}

/// What is owed at the end of the period per aging bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementAging {
    pub current: Money,
    pub days_1_30: Money,
    pub days_31_60: Money,
    pub days_61_90: Money,
    pub over_90: Money,
}

/// An account's statement for `from` to `to`, both days included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Statement {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub account_id: AccountId,
    pub currency: Currency,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// What the account owed at the start of `from` (negative: in credit).
    pub opening_balance: Money,
    pub entries: Vec<StatementEntry>,
    pub total_debits: Money,
    pub total_credits: Money,
    /// What the account owed at the end of `to`: the opening balance plus debits less credits,
    /// which is also the open items less the unapplied credit.
    pub closing_balance: Money,
    pub open_items: Vec<OpenItem>,
    /// Overpayments and excess credit notes not yet used by a bill, at the end of `to`.
    pub unapplied_credit: Money,
    pub aging: StatementAging,
}

/// What one event does.
#[derive(Debug, Clone)]
struct Event {
    date: NaiveDate,
    /// When it was recorded: the order of a day's events.
    at: chrono::DateTime<chrono::Utc>,
    kind: EntryKind,
    reference: String,
    description: String,
    invoice_id: String,
    /// Positive: a debit; negative: a credit.
    change: Decimal,
    /// What it does to the invoice's remaining amount and to the account's credit.
    to_invoice: Decimal,
    to_credit: Decimal,
}

fn amount(m: &Money, currency: Currency) -> Result<Decimal> {
    if m.currency() != currency {
        return Err(Error::Corrupt(format!("{m} on an account in {currency}")));
    }
    Ok(m.amount())
}

/// `credited`: what the invoice's credit notes took off it (their `to_invoice`).
fn invoice_events(invoice: &Invoice, credited: Decimal, currency: Currency) -> Result<Vec<Event>> {
    if invoice.status == InvoiceStatus::Draft {
        return Ok(vec![]);
    }
    let number = invoice.number.clone().unwrap_or_else(|| invoice.id.clone());
    let made = invoice.created.date_naive();
    let base = |kind, date, at, description: String, change, to_invoice, to_credit| Event {
        date,
        at,
        kind,
        reference: number.clone(),
        description,
        invoice_id: invoice.id.clone(),
        change,
        to_invoice,
        to_credit,
    };
    if is_contract_bill(&invoice.id) {
        // A voided contract invoice is a voided draft: it was never owed.
        if invoice.status == InvoiceStatus::Void {
            return Ok(vec![]);
        }
        let total = amount(&invoice.total, currency)?;
        let credit_used = total - amount(&invoice.amount_due, currency)? - credited;
        let mut description = format!("Invoice {number}");
        if credit_used > Decimal::ZERO {
            description.push_str(&format!(" (account credit used: {})", Money::new(credit_used, currency)));
        } else if credit_used < Decimal::ZERO {
            // Credit below zero: a returned check's overpayment a bill had already used.
            description
                .push_str(&format!(" (carried from a returned payment: {})", Money::new(-credit_used, currency)));
        }
        let at = invoice.created;
        return Ok(vec![base(EntryKind::Invoice, made, at, description, total, total - credit_used, -credit_used)]);
    }
    let due = amount(&invoice.amount_due, currency)?;
    let paid = amount(&invoice.amount_paid, currency)?;
    let (created, last_at) = (invoice.created, invoice.stamp.at.max(invoice.created));
    let last = last_at.date_naive();
    let zero = Decimal::ZERO;
    let mut events = vec![base(EntryKind::Invoice, made, created, format!("Invoice {number}"), due, due, zero)];
    if paid > Decimal::ZERO {
        let description = format!("Card payment of invoice {number}");
        events.push(base(EntryKind::Payment, last, last_at, description, -paid, -paid, zero));
    }
    if invoice.status == InvoiceStatus::Void && due - paid > Decimal::ZERO {
        let rest = due - paid;
        events.push(base(EntryKind::Void, last, last_at, format!("Invoice {number} voided"), -rest, -rest, zero));
    }
    Ok(events)
}

/// The account's statement for `from`..=`to`. Refuses a period that ends before it starts.
pub fn statement(
    account: &AccountId,
    currency: Currency,
    items: &LedgerItems,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Statement> {
    if to < from {
        return Err(Error::invalid("to", "must be on or after `from`"));
    }
    let mut events = Vec::new();
    let mut numbers: BTreeMap<&str, &Invoice> = BTreeMap::new();
    for invoice in &items.invoices {
        let credited: Decimal =
            items.credit_notes.iter().filter(|n| n.invoice_id == invoice.id).map(|n| n.to_invoice.amount()).sum();
        events.extend(invoice_events(invoice, credited, currency)?);
        numbers.insert(invoice.id.as_str(), invoice);
    }
    let number_of = |id: &str| numbers.get(id).and_then(|i| i.number.clone()).unwrap_or_else(|| id.to_owned());
    for p in &items.payments {
        let whole = amount(&p.amount, currency)?;
        // `check:1042`, or `check:1042:2` for its share of a second bill: "Check 1042".
        let check = p.check_number.clone().map(|n| format!("Check {n}")).or_else(|| {
            p.reference.strip_prefix("check:").map(|n| format!("Check {}", n.split(':').next().unwrap_or(n)))
        });
        let how = check.unwrap_or_else(|| format!("Payment ({})", p.method));
        events.push(Event {
            date: p.received_on,
            at: p.recorded_at,
            kind: EntryKind::Payment,
            reference: p.reference.clone(),
            description: format!("{how} for invoice {}", number_of(&p.invoice_id)),
            invoice_id: p.invoice_id.clone(),
            change: -whole,
            to_invoice: -amount(&p.to_invoice, currency)?,
            to_credit: amount(&p.to_credit, currency)?,
        });
        if let Some(r) = &p.returned {
            events.push(Event {
                date: r.returned_on,
                at: r.recorded_at,
                kind: EntryKind::ReturnedPayment,
                reference: p.reference.clone(),
                description: format!(
                    "{how} returned ({}) for invoice {}",
                    r.reason.describe(),
                    number_of(&p.invoice_id)
                ),
                invoice_id: p.invoice_id.clone(),
                change: whole,
                to_invoice: amount(&p.to_invoice, currency)?,
                to_credit: -amount(&p.to_credit, currency)?,
            });
        }
    }
    for n in &items.credit_notes {
        events.push(Event {
            date: n.created.date_naive(),
            at: n.created,
            kind: EntryKind::CreditNote,
            reference: n.number.clone(),
            description: format!("Credit note {} on invoice {}: {}", n.number, number_of(&n.invoice_id), n.reason),
            invoice_id: n.invoice_id.clone(),
            change: -amount(&n.amount, currency)?,
            to_invoice: -amount(&n.to_invoice, currency)?,
            to_credit: amount(&n.to_credit, currency)?,
        });
    }
    events.sort_by(|a, b| (a.date, a.at, a.kind, &a.reference).cmp(&(b.date, b.at, b.kind, &b.reference)));

    let money = |d: Decimal| Money::new(d, currency).rounded();
    let mut balance = Decimal::ZERO;
    let mut debits = Decimal::ZERO;
    let mut credits = Decimal::ZERO;
    let mut opening = Decimal::ZERO;
    let mut remaining: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut credit = Decimal::ZERO;
    let mut entries = Vec::new();
    for e in events.iter().filter(|e| e.date <= to) {
        balance += e.change;
        *remaining.entry(e.invoice_id.clone()).or_default() += e.to_invoice;
        credit += e.to_credit;
        if e.change + e.to_credit != e.to_invoice {
            return Err(Error::Corrupt(format!("{} {}: its parts do not add up", e.invoice_id, e.reference)));
        }
        if e.date < from {
            opening = balance;
            continue;
        }
        let (debit, credit_part) =
            if e.change >= Decimal::ZERO { (e.change, Decimal::ZERO) } else { (Decimal::ZERO, -e.change) };
        debits += debit;
        credits += credit_part;
        entries.push(StatementEntry {
            date: e.date,
            kind: e.kind,
            reference: e.reference.clone(),
            description: e.description.clone(),
            invoice_id: e.invoice_id.clone(),
            debit: money(debit),
            credit: money(credit_part),
            balance: money(balance),
        });
    }

    let mut open_items = Vec::new();
    let mut receivables = Vec::new();
    for (id, left) in remaining.iter().filter(|(_, left)| !left.is_zero()) {
        let invoice = numbers.get(id.as_str()).ok_or_else(|| Error::Corrupt(format!("no invoice {id}")))?;
        let due = due_day(invoice);
        let days = (to - due).num_days();
        open_items.push(OpenItem {
            invoice_id: id.clone(),
            number: invoice.number.clone(),
            issued: invoice.created.date_naive(),
            due,
            amount_remaining: money(*left),
            days_past_due: days,
            bucket: AgingBucket::for_days_past_due(days),
        });
        if *left > Decimal::ZERO {
            receivables.push(Receivable {
                account_id: account.clone(),
                invoice_id: id.clone(),
                number: invoice.number.clone(),
                amount_remaining: money(*left),
                due,
                created: invoice.created,
            });
        }
    }
    open_items.sort_by(|a, b| (a.due, &a.invoice_id).cmp(&(b.due, &b.invoice_id)));
    let open_total: Decimal = remaining.values().sum();
    if balance != open_total - credit || opening + debits - credits != balance {
        return Err(Error::Corrupt(format!(
            "statement of {account}: closing {balance} but open items {open_total} less credit {credit}"
        )));
    }
    let aged: Aging = crate::receivables::aging(&receivables, to)?;
    let bucket = |b: AgingBucket| {
        let at = AgingBucket::ALL.iter().position(|x| *x == b).expect("every bucket is in ALL");
        aged.totals.first().map_or(Money::zero(currency), |t| t.amounts[at])
    };
    Ok(Statement {
        account_id: account.clone(),
        currency,
        from,
        to,
        opening_balance: money(opening),
        entries,
        total_debits: money(debits),
        total_credits: money(credits),
        closing_balance: money(balance),
        open_items,
        unapplied_credit: money(credit),
        aging: StatementAging {
            current: bucket(AgingBucket::Current),
            days_1_30: bucket(AgingBucket::Days1To30),
            days_31_60: bucket(AgingBucket::Days31To60),
            days_61_90: bucket(AgingBucket::Days61To90),
            over_90: bucket(AgingBucket::Over90),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::Stamp;
    use crate::invoice::{ChargeKind, InvoiceLine, ServicePeriod};
    use crate::ledger::{self, PaymentTerms};
    use crate::rating::DateRange;
    use chrono::{DateTime, Days, NaiveTime, Utc};
    use proptest::prelude::*;

    fn usd(s: &str) -> Money {
        Money::new(s.parse().unwrap(), "USD".parse().unwrap())
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(day: NaiveDate) -> DateTime<Utc> {
        day.and_time(NaiveTime::MIN).and_utc()
    }

    fn acct() -> AccountId {
        "acct_stmt".parse().unwrap()
    }

    /// A finalized contract bill of `total` made on `day`, using what it can of `credit`.
    fn bill(day: NaiveDate, seq: u64, total: Money, credit: &mut Money) -> Invoice {
        let line = InvoiceLine {
            id: "l".into(),
            description: "Rack".into(),
            kind: ChargeKind::Recurring,
            group: "DC1".into(),
            product: None,
            quantity: Some(1),
            unit_amount: None,
            amount: total,
            period: ServicePeriod { start: at(day), end: at(day + Days::new(30)), partial: false },
            item: None,
            taxes: vec![],
        };
        let mut inv = ledger::draft(
            ledger::bill_id(&acct(), day, 0),
            &acct(),
            total.currency(),
            crate::tax::Taxed { lines: vec![line], tax: Default::default() },
            DateRange::new(day, day + Days::new(30)),
            at(day),
            "run",
        );
        let f = ledger::finalize(&mut inv, ledger::invoice_number("INV", seq), at(day), PaymentTerms::NET_30, *credit)
            .unwrap();
        *credit = Money::new(credit.amount() - f.credit_applied.amount(), credit.currency());
        inv
    }

    fn pay(inv: &mut Invoice, day: NaiveDate, check: u32, amount: Money, credit: &mut Money) -> ReceivedPayment {
        let a = ledger::apply_payment(inv, amount).unwrap();
        *credit = Money::new(credit.amount() + a.to_credit.amount(), credit.currency());
        ReceivedPayment {
            account_id: acct(),
            invoice_id: inv.id.clone(),
            reference: format!("check:{check}"),
            method: "check".into(),
            check_number: None,
            amount,
            received_on: day,
            to_invoice: a.to_invoice,
            to_credit: a.to_credit,
            recorded_at: at(day),
            recorded_by: "ops".into(),
            returned: None,
        }
    }

    fn note(inv: &mut Invoice, day: NaiveDate, n: u64, amount: Money, credit: &mut Money) -> CreditNote {
        let a = ledger::apply_credit_note(inv, amount).unwrap();
        *credit = Money::new(credit.amount() + a.to_credit.amount(), credit.currency());
        CreditNote {
            id: format!("cn_{n}"),
            number: ledger::invoice_number("CN", n),
            account_id: acct(),
            invoice_id: inv.id.clone(),
            amount,
            taxes: vec![],
            reason: "SLA credit".into(),
            to_invoice: a.to_invoice,
            to_credit: a.to_credit,
            created: at(day),
            created_by: "ops".into(),
        }
    }

    fn sum_open(items: &LedgerItems) -> Decimal {
        items.invoices.iter().map(|i| i.amount_remaining.amount()).sum()
    }

    #[test]
    fn a_month_of_a_contract_account_with_a_partial_check_an_overpayment_and_a_credit_note() {
        let mut credit = usd("0");
        let mut oct = bill(d("2026-10-01"), 1, usd("1000.00"), &mut credit);
        let p1 = pay(&mut oct, d("2026-10-20"), 2201, usd("400.00"), &mut credit);
        let mut nov = bill(d("2026-11-01"), 2, usd("1000.00"), &mut credit);
        let p2 = pay(&mut oct, d("2026-11-05"), 2245, usd("700.00"), &mut credit);
        let cn = note(&mut nov, d("2026-11-10"), 1, usd("50.00"), &mut credit);
        let dec = bill(d("2026-12-01"), 3, usd("1000.00"), &mut credit);
        let items = LedgerItems { invoices: vec![oct, nov, dec], payments: vec![p1, p2], credit_notes: vec![cn] };

        let s = statement(&acct(), "USD".parse().unwrap(), &items, d("2026-11-01"), d("2026-11-30")).unwrap();
        assert_eq!(s.opening_balance, usd("600.00"));
        let rows: Vec<(EntryKind, &str, String, String, String)> = s
            .entries
            .iter()
            .map(|e| (e.kind, e.reference.as_str(), e.debit.to_string(), e.credit.to_string(), e.balance.to_string()))
            .collect();
        assert_eq!(
            rows,
            [
                (EntryKind::Invoice, "INV-000002", "1000.00 USD".into(), "0.00 USD".into(), "1600.00 USD".into()),
                (EntryKind::Payment, "check:2245", "0.00 USD".into(), "700.00 USD".into(), "900.00 USD".into()),
                (EntryKind::CreditNote, "CN-000001", "0.00 USD".into(), "50.00 USD".into(), "850.00 USD".into()),
            ]
        );
        assert_eq!(s.entries[1].description, "Check 2245 for invoice INV-000001");
        assert_eq!(
            (s.total_debits, s.total_credits, s.closing_balance),
            (usd("1000.00"), usd("750.00"), usd("850.00"))
        );
        // The overpaid check's 100.00 is credit on Nov 30; November's bill is open (950.00).
        assert_eq!(s.unapplied_credit, usd("100.00"));
        assert_eq!(s.open_items.len(), 1);
        assert_eq!(
            (s.open_items[0].number.as_deref(), s.open_items[0].amount_remaining),
            (Some("INV-000002"), usd("950.00"))
        );
        assert_eq!((s.open_items[0].days_past_due, s.aging.current), (-1, usd("950.00")));

        // December's bill used the credit: the whole history ends where the bills stand now.
        let all = statement(&acct(), "USD".parse().unwrap(), &items, d("2026-01-01"), d("2027-01-31")).unwrap();
        assert_eq!(all.opening_balance, usd("0.00"));
        assert_eq!(all.unapplied_credit, usd("0.00"));
        assert_eq!(all.closing_balance.amount(), sum_open(&items));
        assert_eq!(all.closing_balance, usd("1850.00"));
        assert_eq!(all.entries[5].description, "Invoice INV-000003 (account credit used: 100.00 USD)");
        // Jan 31: November's bill is 61 days past due, December's 31.
        assert_eq!((all.aging.days_61_90, all.aging.days_31_60), (usd("950.00"), usd("900.00")));

        assert!(matches!(
            statement(&acct(), "USD".parse().unwrap(), &items, d("2026-12-01"), d("2026-11-01")),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn a_card_account_pays_one_invoice_and_voids_another() {
        let c: Currency = "USD".parse().unwrap();
        let card = |id: &str, status, made: &str, last: &str, due: &str, paid: &str| {
            let mut inv = bill(d(made), 9, usd(due), &mut Money::zero(c));
            inv.id = id.to_owned();
            inv.number = Some(id.to_uppercase());
            inv.status = status;
            inv.amount_paid = usd(paid);
            inv.amount_remaining = if status == InvoiceStatus::Open { usd(due) } else { usd("0") };
            inv.stamp = Stamp { at: at(d(last)), event_id: "evt".into() };
            inv
        };
        let items = LedgerItems {
            invoices: vec![
                card("in_1", InvoiceStatus::Paid, "2026-10-01", "2026-10-02", "24.00", "24.00"),
                card("in_2", InvoiceStatus::Void, "2026-10-05", "2026-10-06", "8.00", "0"),
                card("in_3", InvoiceStatus::Open, "2026-11-01", "2026-11-01", "24.00", "0"),
                card("in_4", InvoiceStatus::Draft, "2026-11-02", "2026-11-02", "99.00", "0"),
            ],
            ..Default::default()
        };
        let s = statement(&acct(), c, &items, d("2026-10-01"), d("2026-11-30")).unwrap();
        let kinds: Vec<(EntryKind, &str)> = s.entries.iter().map(|e| (e.kind, e.reference.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (EntryKind::Invoice, "IN_1"),
                (EntryKind::Payment, "IN_1"),
                (EntryKind::Invoice, "IN_2"),
                (EntryKind::Void, "IN_2"),
                (EntryKind::Invoice, "IN_3"),
            ],
            "the draft is not on it"
        );
        assert_eq!((s.closing_balance, s.open_items.len()), (usd("24.00"), 1));
        assert_eq!(s.closing_balance.amount(), sum_open(&items));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Bill(u32),
        Pay(usize, u32),
        Credit(usize, u32),
        /// The bank returns the k-th payment (if it is not returned yet).
        Return(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u32..200_000).prop_map(Op::Bill),
            (0usize..8, 1u32..300_000).prop_map(|(i, c)| Op::Pay(i, c)),
            (0usize..8, 1u32..50_000).prop_map(|(i, c)| Op::Credit(i, c)),
            (0usize..8).prop_map(Op::Return),
        ]
    }

    proptest! {
        /// Any history of bills (using credit, or asking for what a returned check left owed),
        /// partial, exact and over-payments, returned checks and credit notes,
        /// each written by the ledger's own functions: for any period the statement adds up, its
        /// closing balance is the opening of the next period, and at the end it is what the
        /// bills still owe less the account's credit, as the ledger holds them.
        #[test]
        fn the_statement_adds_up_for_any_history_and_period(
            ops in proptest::collection::vec(op(), 1..40),
            cut in 0u64..200,
        ) {
            let c: Currency = "USD".parse().unwrap();
            let cents = |n: u32| Money::new(Decimal::new(i64::from(n), 2), c);
            let start = d("2026-01-01");
            let mut credit = Money::zero(c);
            let mut items = LedgerItems::default();
            let (mut seq, mut checks, mut notes) = (0u64, 0u32, 0u64);
            for (i, op) in ops.iter().enumerate() {
                let day = start + Days::new(i as u64 * 5);
                match *op {
                    Op::Bill(n) => {
                        seq += 1;
                        items.invoices.push(bill(day, seq, cents(n), &mut credit));
                        // One bill a day at most: the id is the bill date.
                    }
                    Op::Return(k) if !items.payments.is_empty() => {
                        let which = k % items.payments.len();
                        if items.payments[which].returned.is_some() {
                            continue;
                        }
                        let p = items.payments[which].clone();
                        let invoice = items.invoices.iter_mut().find(|i| i.id == p.invoice_id).unwrap();
                        ledger::reverse_payment(invoice, &p).unwrap();
                        credit = Money::new(credit.amount() - p.to_credit.amount(), c);
                        items.payments[which].returned = Some(ledger::PaymentReturn {
                            returned_on: day,
                            reason: ledger::ReturnReason::InsufficientFunds,
                            recorded_at: at(day),
                            recorded_by: "bank".into(),
                            bank_reference: None,
                        });
                    }
                    Op::Pay(k, n) | Op::Credit(k, n) if !items.invoices.is_empty() => {
                        let at = k % items.invoices.len();
                        if items.invoices[at].status != InvoiceStatus::Open {
                            continue;
                        }
                        if matches!(op, Op::Pay(..)) {
                            checks += 1;
                            let p = pay(&mut items.invoices[at], day, checks, cents(n), &mut credit);
                            items.payments.push(p);
                        } else {
                            notes += 1;
                            let n = note(&mut items.invoices[at], day, notes, cents(n), &mut credit);
                            items.credit_notes.push(n);
                        }
                    }
                    _ => {}
                }
            }
            // Past the last document (at most 40 × 5 days in) and past the split.
            let end = start + Days::new(400);
            let split = start + Days::new(cut);
            let first = statement(&acct(), c, &items, start, split).unwrap();
            let second = statement(&acct(), c, &items, split + Days::new(1), end).unwrap();
            prop_assert_eq!(first.closing_balance, second.opening_balance);
            prop_assert_eq!(
                second.opening_balance.amount() + second.total_debits.amount() - second.total_credits.amount(),
                second.closing_balance.amount()
            );
            prop_assert_eq!(second.closing_balance.amount(), sum_open(&items) - credit.amount());
            prop_assert_eq!(second.unapplied_credit, credit.rounded());
            let aged: Decimal = [second.aging.current, second.aging.days_1_30, second.aging.days_31_60,
                second.aging.days_61_90, second.aging.over_90].iter().map(|m| m.amount()).sum();
            prop_assert_eq!(aged, sum_open(&items));
        }
    }
}
