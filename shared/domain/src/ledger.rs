//! Invoices this system issues to contract (invoice-mode) accounts, and what happens to them after:
//! numbering, payment terms, mailed-check and card payments, credit notes, voiding, account credit.
//!
//! Lifecycle: `draft` → `open` (finalized: numbered, due, immutable) → `paid`; a draft may be
//! voided. A finalized invoice is never edited: corrections are credit notes.
//!
//! Money that exceeds what an invoice still owes (an overpaid check, a credit note larger than the
//! remainder) becomes account credit, which the next bill applies before asking for payment.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::billing::Stamp;
use crate::error::{Error, FieldError, Result};
use crate::ids::AccountId;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::money::{Currency, Money};
use crate::rating::{BillDay, DateRange};

/// Net payment terms in days (`net 30` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = u16, minimum = 0, maximum = 365))]
pub struct PaymentTerms(u16);

impl PaymentTerms {
    pub const NET_30: Self = Self(30);

    pub fn days(self) -> u16 {
        self.0
    }

    /// The due date of an invoice finalized on `finalized`.
    pub fn due(self, finalized: NaiveDate) -> NaiveDate {
        finalized.checked_add_days(Days::new(u64::from(self.0))).expect("in range")
    }
}

impl Default for PaymentTerms {
    fn default() -> Self {
        Self::NET_30
    }
}

impl TryFrom<u16> for PaymentTerms {
    type Error = FieldError;
    fn try_from(days: u16) -> std::result::Result<Self, FieldError> {
        if days <= 365 { Ok(Self(days)) } else { Err(FieldError::new("", "must be 0 to 365 days")) }
    }
}

impl From<PaymentTerms> for u16 {
    fn from(t: PaymentTerms) -> u16 {
        t.0
    }
}

/// The seller's invoice number for sequence value `seq`: `INV-000042`. The sequence is gap-free:
/// a number is taken in the same write that finalizes its invoice.
pub fn invoice_number(prefix: &str, seq: u64) -> String {
    format!("{prefix}-{seq:06}")
}

/// The id of the invoice for an account's bill date: one bill per account and date, so a run that
/// is retried, or two runs at once, name the same invoice. `revision` counts drafts of that date
/// voided before: a new draft after a void gets a new id.
pub fn bill_id(account: &AccountId, bill_date: NaiveDate, revision: u32) -> String {
    let base =
        format!("bill_{}_{}", account.as_str().trim_start_matches(AccountId::PREFIX), bill_date.format("%Y%m%d"));
    if revision == 0 { base } else { format!("{base}_r{revision}") }
}

/// Whether an invoice id is one of our contract bills (not a processor invoice).
pub fn is_contract_bill(id: &str) -> bool {
    id.starts_with("bill_")
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// A draft invoice of rated lines. `period` is the bill's own period (the arrears period for usage;
/// each line carries its own service period).
pub fn draft(
    id: String,
    account: &AccountId,
    currency: Currency,
    taxed: crate::tax::Taxed,
    period: DateRange,
    created: DateTime<Utc>,
    run_id: &str,
) -> Invoice {
    let zero = Money::zero(currency);
    let crate::tax::Taxed { lines, tax } = taxed;
    let (subtotal, tax_total, total) = crate::tax::totals(&lines, &tax, currency);
    Invoice {
        id,
        account_id: account.clone(),
        customer_id: account.as_str().to_owned(),
        number: None,
        status: InvoiceStatus::Draft,
        currency,
        subtotal,
        tax: tax_total,
        total,
        tax_detail: tax,
        account_summary: None,
        amount_due: total,
        amount_paid: zero,
        amount_remaining: total,
        created,
        due_date: None,
        period_start: midnight(period.start),
        period_end: midnight(period.end),
        hosted_invoice_url: None,
        pdf_url: None,
        lines,
        lines_complete: true,
        stamp: Stamp { at: created, event_id: run_id.to_owned() },
    }
}

/// Money in and out of an account since its last bill's cut-off: what the next bill's account
/// summary starts from. Kept on the contract state and changed in the same write as the payment
/// or credit note it counts, so the summary never misses or counts twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinceLastBill {
    /// The last bill's total amount due (negative: the account was in credit).
    pub previous_balance: Money,
    /// Payments received since (checks, card payments), whole amounts.
    pub payments: Money,
    /// Credit notes issued since.
    pub credits: Money,
}

impl SinceLastBill {
    pub fn zero(currency: Currency) -> Self {
        Self {
            previous_balance: Money::zero(currency),
            payments: Money::zero(currency),
            credits: Money::zero(currency),
        }
    }

    /// A payment of `amount` received.
    pub fn paid(&mut self, amount: Money) {
        self.payments = Money::new(self.payments.amount() + amount.amount(), self.payments.currency()).rounded();
    }

    /// A credit note of `amount` issued.
    pub fn credited(&mut self, amount: Money) {
        self.credits = Money::new(self.credits.amount() + amount.amount(), self.credits.currency()).rounded();
    }

    /// The account summary of a bill of `new_charges` cut off on `cut_off`, and what counts from
    /// then on (its total due as the next previous balance, nothing received yet).
    pub fn summarize(&self, cut_off: NaiveDate, new_charges: Money) -> (AccountSummary, SinceLastBill) {
        let currency = new_charges.currency();
        let forward = self.previous_balance.amount() - self.payments.amount() - self.credits.amount();
        let balance_forward = Money::new(forward, currency).rounded();
        let total_due = Money::new(forward + new_charges.amount(), currency).rounded();
        let summary = AccountSummary {
            cut_off,
            previous_balance: self.previous_balance,
            payments: self.payments,
            credits: self.credits,
            balance_forward,
            new_charges,
            total_due,
        };
        (summary, SinceLastBill { previous_balance: total_due, ..SinceLastBill::zero(currency) })
    }
}

/// A contract bill's account summary, as statements of account print it: what was owed at the
/// last bill, what came in since, what is carried forward, this bill's charges, and the total the
/// account owes as of the cut-off. `balance_forward = previous_balance − payments − credits` and
/// `total_due = balance_forward + new_charges`, exactly; the stub asks for `total_due` (never
/// below zero). A negative amount is money the account has in credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountSummary {
    /// Payments and credit notes recorded up to this day are counted; later ones go on the next
    /// bill.
    pub cut_off: NaiveDate,
    pub previous_balance: Money,
    pub payments: Money,
    /// Credit notes and adjustments.
    pub credits: Money,
    pub balance_forward: Money,
    pub new_charges: Money,
    pub total_due: Money,
}

impl AccountSummary {
    /// What the stub asks for: the total due, or nothing when the account is in credit.
    pub fn stub_amount(&self) -> Money {
        Money::new(self.total_due.amount().max(Decimal::ZERO), self.total_due.currency()).rounded()
    }
}

/// What finalizing did to the account's credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finalized {
    pub credit_applied: Money,
}

/// Finalizes a draft: numbers it, sets the due date, applies account credit (never more than the
/// total; credit below zero adds to what is due), and marks it paid when nothing is left to pay.
pub fn finalize(
    invoice: &mut Invoice,
    number: String,
    at: DateTime<Utc>,
    terms: PaymentTerms,
    credit: Money,
) -> Result<Finalized> {
    if invoice.status != InvoiceStatus::Draft {
        return Err(Error::Conflict);
    }
    let currency = invoice.currency;
    // Credit below zero is money the account owes that no bill asked for yet (a returned check
    // whose overpayment a later bill had already used): this bill asks for it.
    let applied = if credit.amount() < Decimal::ZERO {
        credit
    } else if invoice.total.amount() > Decimal::ZERO {
        Money::new(credit.amount().min(invoice.total.amount()), currency)
    } else {
        Money::zero(currency)
    };
    invoice.number = Some(number);
    invoice.status = InvoiceStatus::Open;
    invoice.due_date = Some(midnight(terms.due(at.date_naive())));
    invoice.amount_due = Money::new(invoice.total.amount() - applied.amount(), currency).rounded();
    invoice.amount_remaining = Money::new(invoice.amount_due.amount().max(Decimal::ZERO), currency).rounded();
    if invoice.amount_remaining.is_zero() {
        invoice.status = InvoiceStatus::Paid;
    }
    invoice.stamp.at = at;
    Ok(Finalized { credit_applied: applied.rounded() })
}

/// How a payment or credit note was applied to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The part that settled the invoice.
    pub to_invoice: Money,
    /// The rest, which becomes account credit.
    pub to_credit: Money,
}

fn positive(amount: Money, currency: Currency) -> Result<Money> {
    if amount.currency() != currency {
        return Err(Error::invalid("amount", format!("must be in the invoice's currency, {currency}")));
    }
    if amount.amount() <= Decimal::ZERO || amount.rounded() != amount {
        return Err(Error::invalid(
            "amount",
            format!("must be positive, in whole minor units of {currency} ({} decimals)", currency.exponent()),
        ));
    }
    Ok(amount.rounded())
}

fn settle(invoice: &mut Invoice, amount: Money, paid: bool) -> Result<Applied> {
    if invoice.status != InvoiceStatus::Open {
        return Err(Error::Conflict);
    }
    let currency = invoice.currency;
    let amount = positive(amount, currency)?;
    let to_invoice = Money::new(amount.amount().min(invoice.amount_remaining.amount()), currency).rounded();
    let to_credit = Money::new(amount.amount() - to_invoice.amount(), currency).rounded();
    invoice.amount_remaining = Money::new(invoice.amount_remaining.amount() - to_invoice.amount(), currency).rounded();
    if paid {
        invoice.amount_paid = Money::new(invoice.amount_paid.amount() + to_invoice.amount(), currency).rounded();
    } else {
        invoice.amount_due = Money::new(invoice.amount_due.amount() - to_invoice.amount(), currency).rounded();
    }
    if invoice.amount_remaining.is_zero() {
        invoice.status = InvoiceStatus::Paid;
    }
    Ok(Applied { to_invoice, to_credit })
}

/// A payment received for a finalized invoice (a mailed check, a card payment): a partial payment
/// leaves a balance; an overpayment settles the invoice and the rest becomes account credit.
pub fn apply_payment(invoice: &mut Invoice, amount: Money) -> Result<Applied> {
    settle(invoice, amount, true)
}

/// A credit note against a finalized invoice: lowers what is due; any excess becomes account credit.
pub fn apply_credit_note(invoice: &mut Invoice, amount: Money) -> Result<Applied> {
    settle(invoice, amount, false)
}

/// A credit note decided while its invoice was open, issued after the invoice was paid in full
/// (an approval that took its time): the bill owes nothing to lower, so all of it becomes account
/// credit, which the next bill uses. The invoice is left as it is.
pub fn credit_paid_invoice(invoice: &Invoice, amount: Money) -> Result<Applied> {
    if invoice.status != InvoiceStatus::Paid {
        return Err(Error::Conflict);
    }
    let amount = positive(amount, invoice.currency)?;
    Ok(Applied { to_invoice: Money::zero(invoice.currency), to_credit: amount })
}

/// Writes off what is left of an open invoice, or `amount` of it if less (never more: a
/// write-off makes no account credit): a credit note whose reason is the write-off. Written off
/// whole, the invoice is `uncollectible` (not paid).
pub fn write_off(invoice: &mut Invoice, amount: Money) -> Result<Applied> {
    let capped = Money::new(amount.amount().min(invoice.amount_remaining.amount()), invoice.currency);
    let applied = settle(invoice, capped, false)?;
    if invoice.status == InvoiceStatus::Paid {
        invoice.status = InvoiceStatus::Uncollectible;
    }
    Ok(applied)
}

/// Voids a draft. Finalized invoices are corrected with credit notes instead.
pub fn void_draft(invoice: &mut Invoice, at: DateTime<Utc>) -> Result<()> {
    if invoice.status != InvoiceStatus::Draft {
        return Err(Error::Conflict);
    }
    invoice.status = InvoiceStatus::Void;
    invoice.amount_remaining = Money::zero(invoice.currency);
    invoice.stamp.at = at;
    Ok(())
}

/// A group of accounts moving to bills from this system together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cohort {
    /// `dc1-colo`: lowercase letters, digits and `-`.
    pub id: String,
    pub name: String,
    /// The first day accounts of the cohort are billed by this system.
    pub go_live: NaiveDate,
    /// When the bill run queued the notice for every account then in the cohort (accounts
    /// imported later get theirs at import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices_queued_on: Option<NaiveDate>,
}

impl Cohort {
    /// How long before go-live the "new bill format" notice goes out.
    pub const NOTICE_DAYS: u64 = 30;

    /// The day the notice is due.
    pub fn notice_date(&self) -> NaiveDate {
        self.go_live.checked_sub_days(Days::new(Self::NOTICE_DAYS)).expect("in range")
    }

    /// Whether the notice should have gone out by `today` (and go-live is still ahead or today:
    /// an account added after go-live gets no advance notice, its first bill is the notice).
    pub fn notice_due(&self, today: NaiveDate) -> bool {
        self.notice_date() <= today && today <= self.go_live
    }

    /// The first bill day on or after go-live: the account's first bill from this system.
    pub fn first_bill_date(&self, bill_day: BillDay) -> NaiveDate {
        bill_day.on_or_after(self.go_live)
    }

    pub fn parse(id: &str, name: &str, go_live: NaiveDate) -> Result<Self> {
        let ok = !id.is_empty()
            && id.len() <= 40
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(Error::invalid("id", "must be 1 to 40 lowercase letters, digits or `-`"));
        }
        let name = crate::text::bounded(name, 1, 200).map_err(|e| Error::from(e.under("name")))?;
        Ok(Self { id: id.to_owned(), name, go_live, notices_queued_on: None })
    }
}

/// A payment received for one of our invoices, outside a processor: a mailed check (or, later, a
/// card payment of a contract bill). `reference` makes it idempotent: the same check recorded
/// twice is one payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedPayment {
    pub account_id: AccountId,
    pub invoice_id: String,
    /// `check:1042`
    pub reference: String,
    pub method: String,
    /// The check's number (checks only; absent on payments recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_number: Option<String>,
    pub amount: Money,
    pub received_on: NaiveDate,
    /// What settled the invoice and what became account credit.
    pub to_invoice: Money,
    pub to_credit: Money,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    /// The bank returned the check (or the payment was otherwise reversed): see
    /// [`reverse_payment`]. Set once; a payment is returned at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned: Option<PaymentReturn>,
}

impl ReceivedPayment {
    /// The check's own reference, without the share suffix: `check:1042:2` → `check:1042`,
    /// `lockbox:<key>:3` → `lockbox:<key>`.
    pub fn check_reference(&self) -> &str {
        check_reference(&self.reference)
    }
}

/// A payment reference without its share suffix (`check:1042:2` → `check:1042`): every share of
/// one check has the same.
pub fn check_reference(reference: &str) -> &str {
    match reference.rsplit_once(':') {
        Some((base, n)) if base.contains(':') && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => reference,
    }
}

/// Why a bank returned a deposited check (the return reasons of Regulation CC / the BAI2
/// returned-item codes, reduced to what the customer is told).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReturnReason {
    /// Not sufficient funds (NSF).
    InsufficientFunds,
    /// The payer stopped payment.
    StopPayment,
    /// The payer's bank account is closed.
    AccountClosed,
    /// Any other reason the bank gives (unable to locate, signature, …).
    Other,
}

impl ReturnReason {
    /// What the customer's mail says.
    pub fn describe(self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient funds",
            Self::StopPayment => "payment stopped",
            Self::AccountClosed => "account closed",
            Self::Other => "returned unpaid",
        }
    }
}

/// A payment taken back: when, why, who recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentReturn {
    pub returned_on: NaiveDate,
    pub reason: ReturnReason,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    /// The bank's reference of the returned item (BAI2 record 16), when it came from the bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_reference: Option<String>,
}

/// Takes back a payment the bank returned: what it settled on `invoice` is owed again (the
/// invoice reopens when it had been paid or written off by it), and what it made account credit
/// is the caller's to take back from the contract. Nothing else of the invoice changes: a
/// finalized invoice stays immutable except for what is owed on it.
pub fn reverse_payment(invoice: &mut Invoice, payment: &ReceivedPayment) -> Result<()> {
    if invoice.id != payment.invoice_id || invoice.currency != payment.amount.currency() {
        return Err(Error::Corrupt(format!("payment {} is not on invoice {}", payment.reference, invoice.id)));
    }
    if !matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::Paid | InvoiceStatus::Uncollectible) {
        return Err(Error::Conflict);
    }
    let currency = invoice.currency;
    let back = payment.to_invoice.amount().min(invoice.amount_paid.amount()).max(Decimal::ZERO);
    invoice.amount_paid = Money::new(invoice.amount_paid.amount() - back, currency).rounded();
    invoice.amount_remaining = Money::new(invoice.amount_remaining.amount() + back, currency).rounded();
    if !invoice.amount_remaining.is_zero() {
        invoice.status = InvoiceStatus::Open;
    }
    Ok(())
}

/// A credit note against a finalized invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditNote {
    pub id: String,
    /// From the seller's gap-free credit-note sequence: `CN-000001`.
    pub number: String,
    pub account_id: AccountId,
    pub invoice_id: String,
    /// Tax included.
    pub amount: Money,
    /// The tax it reverses, per the credited bill's (code, rate) groups in proportion to the
    /// amount, at that bill's rates (never today's); `amount` less their sum is its net.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<crate::tax::TaxGroup>,
    pub reason: String,
    pub to_invoice: Money,
    pub to_credit: Money,
    pub created: DateTime<Utc>,
    pub created_by: String,
}

impl CreditNote {
    /// What it credits net of tax.
    pub fn net(&self) -> Money {
        let tax: Decimal = self.taxes.iter().map(|g| g.amount.amount()).sum();
        Money::new(self.amount.amount() - tax, self.amount.currency()).rounded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::{ChargeKind, InvoiceLine, ServicePeriod};

    fn usd(s: &str) -> Money {
        Money::new(s.parse().unwrap(), "USD".parse().unwrap())
    }

    fn invoice(total: &str) -> Invoice {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let line = InvoiceLine {
            id: "l1".into(),
            description: "Rack".into(),
            kind: ChargeKind::Recurring,
            group: "DC1".into(),
            product: None,
            quantity: Some(1),
            unit_amount: None,
            amount: usd(total),
            period: ServicePeriod { start: midnight(d("2026-11-01")), end: midnight(d("2026-12-01")), partial: false },
            item: None,
            taxes: vec![],
        };
        let account: AccountId = "acct_a1".parse().unwrap();
        draft(
            bill_id(&account, d("2026-11-01"), 0),
            &account,
            "USD".parse().unwrap(),
            crate::tax::Taxed { lines: vec![line], tax: Default::default() },
            DateRange::new(d("2026-10-01"), d("2026-11-01")),
            midnight(d("2026-11-01")),
            "run",
        )
    }

    fn at() -> DateTime<Utc> {
        midnight("2026-11-01".parse().unwrap())
    }

    fn finalized(total: &str) -> Invoice {
        let mut inv = invoice(total);
        finalize(&mut inv, invoice_number("INV", 7), at(), PaymentTerms::default(), usd("0")).unwrap();
        inv
    }

    #[test]
    fn finalizing_numbers_and_sets_net_30() {
        let inv = finalized("100.00");
        assert_eq!(inv.number.as_deref(), Some("INV-000007"));
        assert_eq!(inv.status, InvoiceStatus::Open);
        assert_eq!(inv.due_date.unwrap().date_naive(), "2026-12-01".parse::<NaiveDate>().unwrap());
        let mut again = inv.clone();
        assert!(matches!(
            finalize(&mut again, "X".into(), inv.created, PaymentTerms::NET_30, usd("0")),
            Err(Error::Conflict)
        ));
    }

    fn check(invoice: &Invoice, amount: &str, applied: Applied, reference: &str) -> ReceivedPayment {
        ReceivedPayment {
            account_id: invoice.account_id.clone(),
            invoice_id: invoice.id.clone(),
            reference: reference.into(),
            method: "check".into(),
            check_number: Some(reference.trim_start_matches("check:").into()),
            amount: usd(amount),
            received_on: "2026-11-10".parse().unwrap(),
            to_invoice: applied.to_invoice,
            to_credit: applied.to_credit,
            recorded_at: at(),
            recorded_by: "ops".into(),
            returned: None,
        }
    }

    #[test]
    fn a_returned_check_reopens_what_it_paid_and_only_that() {
        // Paid in two parts; the second check bounces: the bill owes the second part again.
        let mut inv = finalized("100.00");
        let first = apply_payment(&mut inv, usd("40.00")).unwrap();
        let second = apply_payment(&mut inv, usd("70.00")).unwrap();
        assert_eq!((inv.status, second.to_credit), (InvoiceStatus::Paid, usd("10.00")));
        let _ = first;
        let p = check(&inv, "70.00", second, "check:2");
        reverse_payment(&mut inv, &p).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Open);
        assert_eq!((inv.amount_paid, inv.amount_remaining), (usd("40.00"), usd("60.00")));
        // A payment that only made credit (the bill was paid already) leaves the bill alone.
        let mut paid = finalized("50.00");
        let applied = apply_payment(&mut paid, usd("50.00")).unwrap();
        let p = check(&paid, "50.00", Applied { to_invoice: usd("0.00"), to_credit: usd("50.00") }, "check:3");
        reverse_payment(&mut paid, &p).unwrap();
        assert_eq!((paid.status, paid.amount_remaining), (InvoiceStatus::Paid, usd("0.00")));
        let _ = applied;
        // Written off after a partial payment: the returned part is owed again, the bill reopens.
        let mut off = finalized("100.00");
        let part = apply_payment(&mut off, usd("30.00")).unwrap();
        write_off(&mut off, usd("70.00")).unwrap();
        assert_eq!(off.status, InvoiceStatus::Uncollectible);
        let p = check(&off, "30.00", part, "check:4");
        reverse_payment(&mut off, &p).unwrap();
        assert_eq!((off.status, off.amount_remaining), (InvoiceStatus::Open, usd("30.00")));
        // A draft or void takes no reversal; a payment of another bill is refused.
        let mut draft = invoice("10.00");
        let mut p = check(&inv, "1.00", Applied { to_invoice: usd("1.00"), to_credit: usd("0") }, "check:5");
        p.invoice_id = draft.id.clone();
        assert!(matches!(reverse_payment(&mut draft, &p), Err(Error::Conflict)));
        p.invoice_id = "bill_other".into();
        assert!(matches!(reverse_payment(&mut inv, &p), Err(Error::Corrupt(_))));
    }

    #[test]
    fn a_credit_note_on_a_bill_paid_meanwhile_is_all_account_credit() {
        let mut inv = finalized("100.00");
        assert!(matches!(credit_paid_invoice(&inv, usd("30.00")), Err(Error::Conflict)), "open: credit the bill");
        apply_payment(&mut inv, usd("100.00")).unwrap();
        let a = credit_paid_invoice(&inv, usd("30.00")).unwrap();
        assert_eq!((a.to_invoice, a.to_credit), (usd("0.00"), usd("30.00")));
        assert!(credit_paid_invoice(&inv, usd("0.00")).is_err());
    }

    #[test]
    fn credit_below_zero_is_asked_for_on_the_next_bill() {
        let mut inv = invoice("100.00");
        let f = finalize(&mut inv, invoice_number("INV", 8), at(), PaymentTerms::default(), usd("-25.00")).unwrap();
        assert_eq!(f.credit_applied, usd("-25.00"));
        assert_eq!(
            (inv.amount_due, inv.amount_remaining, inv.status),
            (usd("125.00"), usd("125.00"), InvoiceStatus::Open)
        );
        // Even on a bill of nothing.
        let mut zero = invoice("0.00");
        finalize(&mut zero, invoice_number("INV", 9), at(), PaymentTerms::default(), usd("-25.00")).unwrap();
        assert_eq!((zero.amount_remaining, zero.status), (usd("25.00"), InvoiceStatus::Open));
    }

    #[test]
    fn check_references_drop_only_the_share_suffix() {
        for (reference, base) in [
            ("check:1042", "check:1042"),
            ("check:1042:2", "check:1042"),
            ("lockbox:9f86d081884c7d65-1-3", "lockbox:9f86d081884c7d65-1-3"),
            ("lockbox:9f86d081884c7d65-1-3:12", "lockbox:9f86d081884c7d65-1-3"),
            ("card:cs_test_1", "card:cs_test_1"),
            ("check:77:x", "check:77:x"),
        ] {
            assert_eq!(check_reference(reference), base, "{reference}");
        }
    }

    #[test]
    fn account_credit_is_applied_up_to_the_total() {
        let mut inv = invoice("100.00");
        let f = finalize(&mut inv, "INV-000001".into(), at(), PaymentTerms::default(), usd("30.00")).unwrap();
        assert_eq!(
            (f.credit_applied, inv.amount_due, inv.amount_remaining),
            (usd("30.00"), usd("70.00"), usd("70.00"))
        );
        let mut inv = invoice("100.00");
        let f = finalize(&mut inv, "INV-000002".into(), at(), PaymentTerms::default(), usd("250.00")).unwrap();
        assert_eq!(f.credit_applied, usd("100.00"));
        assert_eq!(inv.status, InvoiceStatus::Paid, "fully covered by credit");
    }

    #[test]
    fn partial_then_over_payment() {
        let mut inv = finalized("100.00");
        let a = apply_payment(&mut inv, usd("40.00")).unwrap();
        assert_eq!((a.to_invoice, a.to_credit, inv.amount_remaining), (usd("40.00"), usd("0.00"), usd("60.00")));
        assert_eq!(inv.status, InvoiceStatus::Open);
        let a = apply_payment(&mut inv, usd("75.00")).unwrap();
        assert_eq!((a.to_invoice, a.to_credit), (usd("60.00"), usd("15.00")));
        assert_eq!(
            (inv.status, inv.amount_paid, inv.amount_remaining),
            (InvoiceStatus::Paid, usd("100.00"), usd("0.00"))
        );
        assert!(matches!(apply_payment(&mut inv, usd("1.00")), Err(Error::Conflict)), "paid invoices take no more");
    }

    #[test]
    fn payments_must_be_positive_whole_minor_units_in_the_currency() {
        let mut inv = finalized("100.00");
        for bad in [usd("0"), usd("-5"), usd("1.005")] {
            assert!(matches!(apply_payment(&mut inv, bad), Err(Error::Invalid(_))), "{bad}");
        }
        let eur = Money::new("5".parse().unwrap(), "EUR".parse().unwrap());
        assert!(matches!(apply_payment(&mut inv, eur), Err(Error::Invalid(_))));
        assert_eq!(inv.amount_remaining, usd("100.00"), "nothing applied");
    }

    #[test]
    fn credit_note_lowers_the_amount_due() {
        let mut inv = finalized("100.00");
        let a = apply_credit_note(&mut inv, usd("25.00")).unwrap();
        assert_eq!((a.to_invoice, inv.amount_due, inv.amount_remaining), (usd("25.00"), usd("75.00"), usd("75.00")));
        assert!(apply_credit_note(&mut invoice("1.00"), usd("1.00")).is_err(), "drafts are voided, not credited");
    }

    #[test]
    fn a_write_off_takes_at_most_what_is_left_and_leaves_the_bill_uncollectible() {
        let mut inv = finalized("100.00");
        apply_payment(&mut inv, usd("30.00")).unwrap();
        let part = write_off(&mut inv, usd("20.00")).unwrap();
        assert_eq!(
            (part.to_invoice, inv.status, inv.amount_remaining),
            (usd("20.00"), InvoiceStatus::Open, usd("50.00"))
        );
        // Asked for more than is left: the rest only, no account credit.
        let rest = write_off(&mut inv, usd("500.00")).unwrap();
        assert_eq!((rest.to_invoice, rest.to_credit), (usd("50.00"), usd("0.00")));
        assert_eq!(
            (inv.status, inv.amount_remaining, inv.amount_paid),
            (InvoiceStatus::Uncollectible, usd("0.00"), usd("30.00"))
        );
        assert!(matches!(write_off(&mut inv, usd("1.00")), Err(Error::Conflict)), "nothing left to write off");
    }

    #[test]
    fn the_account_summary_carries_the_balance_forward() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // First bill: nothing before it.
        let start = SinceLastBill::zero("USD".parse().unwrap());
        let (first, mut since) = start.summarize(d("2026-10-01"), usd("1000.00"));
        assert_eq!((first.balance_forward, first.total_due), (usd("0.00"), usd("1000.00")));
        // A partial check and a credit note before the next bill.
        since.paid(usd("600.00"));
        since.credited(usd("50.00"));
        let (second, since) = since.summarize(d("2026-11-01"), usd("1000.00"));
        assert_eq!(
            (second.previous_balance, second.payments, second.credits, second.balance_forward, second.total_due),
            (usd("1000.00"), usd("600.00"), usd("50.00"), usd("350.00"), usd("1350.00"))
        );
        // Overpaid: the account is in credit, the stub asks for nothing.
        let mut since = since;
        since.paid(usd("2000.00"));
        let (third, _) = since.summarize(d("2026-12-01"), usd("500.00"));
        assert_eq!((third.balance_forward, third.total_due), (usd("-650.00"), usd("-150.00")));
        assert_eq!(third.stub_amount(), usd("0.00"));
        assert_eq!(second.stub_amount(), usd("1350.00"));
    }

    #[test]
    fn only_drafts_are_voided() {
        let mut inv = invoice("10.00");
        void_draft(&mut inv, at()).unwrap();
        assert_eq!(inv.status, InvoiceStatus::Void);
        let mut open = finalized("10.00");
        assert!(matches!(void_draft(&mut open, at()), Err(Error::Conflict)));
    }

    #[test]
    fn cohort_notice_and_first_bill() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let cohort = Cohort::parse("dc1-colo", "DC1 colocation", d("2027-01-15")).unwrap();
        assert_eq!(cohort.notice_date(), d("2026-12-16"));
        assert!(!cohort.notice_due(d("2026-12-15")));
        assert!(cohort.notice_due(d("2026-12-16")));
        assert!(!cohort.notice_due(d("2027-01-16")));
        assert_eq!(cohort.first_bill_date(BillDay::try_from(1).unwrap()), d("2027-02-01"));
        assert_eq!(cohort.first_bill_date(BillDay::try_from(15).unwrap()), d("2027-01-15"));
        assert!(Cohort::parse("DC 1", "x", d("2027-01-15")).is_err());
    }
}
