//! Lockbox: the checks customers mail with the bill's stub, as the bank reports them.
//!
//! - [`CheckDigit`]: the scan line's check-digit schemes (a seller setting, because the bank's
//!   coupon specification decides): mod 10 with weights 2-1 from the left, Luhn (weights from
//!   the right), mod 11.
//! - [`parse`]: the bank's fixed-width BAI lockbox transmission (records 1 header, 2 service,
//!   5 batch header, 6 check, 4 overflow/remittance, 7 batch trailer, 8 lockbox trailer, 9 file
//!   trailer), its field positions a [`Layout`] (banks differ), every trailer count and total
//!   verified: a file that does not add up is refused whole, with the line and why.
//! - [`apply`]: cash application of one check: who sent it, then which bills it pays, or the
//!   exception that sends it to staff.
//!
//! Pure: the adapters load what [`Books`] answers and write what [`apply`] decides.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::AccountId;
use crate::money::{Currency, Money};

/// How the scan line's last digit is computed from the digits before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CheckDigit {
    /// Weights 2, 1, 2, 1 … from the leftmost digit; the digits of each product summed; the
    /// check digit brings the sum to a multiple of 10 (Creditron's, Naviga's coupons).
    #[default]
    Mod10Weights21,
    /// Luhn (IBM mod 10): weight 2 on the rightmost digit and every other one from there.
    Luhn,
    /// Weights 2, 3, 4, 5, 6, 7 repeating from the rightmost digit; 11 − (sum mod 11), where 11
    /// is written 0 and 10 is written 0 too (a digit-only line has no `X`).
    Mod11,
}

impl CheckDigit {
    /// The check digit of `digits` (ASCII digits only, else None).
    pub fn of(self, digits: &str) -> Option<u8> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let values = digits.bytes().map(|b| u32::from(b - b'0'));
        let sum_digits = |p: u32| p / 10 + p % 10;
        let digit = match self {
            CheckDigit::Mod10Weights21 => {
                let sum: u32 = values.enumerate().map(|(i, d)| sum_digits(d * if i % 2 == 0 { 2 } else { 1 })).sum();
                (10 - sum % 10) % 10
            }
            CheckDigit::Luhn => {
                let sum: u32 =
                    values.rev().enumerate().map(|(i, d)| sum_digits(d * if i % 2 == 0 { 2 } else { 1 })).sum();
                (10 - sum % 10) % 10
            }
            CheckDigit::Mod11 => {
                let sum: u32 = values.rev().enumerate().map(|(i, d)| d * (2 + (i as u32) % 6)).sum();
                (11 - sum % 11) % 11 % 10
            }
        };
        Some(digit as u8)
    }

    /// Whether `line`'s last digit is the check digit of the digits before it.
    pub fn verifies(self, line: &str) -> bool {
        let Some((body, last)) = line.len().checked_sub(1).map(|n| line.split_at(n)) else { return false };
        match (self.of(body), last.bytes().next()) {
            (Some(d), Some(b)) if b.is_ascii_digit() => d == b - b'0',
            _ => false,
        }
    }
}

/// The scan line's fixed widths: account number, invoice number, amount due in cents, each
/// zero-filled, then one check digit over the 30 digits before it (`docs/lockbox.md`).
pub const SCAN_ACCOUNT: usize = 10;
pub const SCAN_INVOICE: usize = 10;
pub const SCAN_AMOUNT: usize = 10;
pub const SCAN_LEN: usize = SCAN_ACCOUNT + SCAN_INVOICE + SCAN_AMOUNT + 1;

/// What a scan line carries, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanFields {
    pub account_number: u64,
    pub invoice_number: u64,
    pub amount_cents: u64,
}

impl ScanFields {
    /// The line printed on the stub (None: a field does not fit its width).
    pub fn line(&self, scheme: CheckDigit) -> Option<String> {
        let fits = |n: u64, w: usize| n.to_string().len() <= w;
        if !(fits(self.account_number, SCAN_ACCOUNT)
            && fits(self.invoice_number, SCAN_INVOICE)
            && fits(self.amount_cents, SCAN_AMOUNT))
        {
            return None;
        }
        let body = format!(
            "{:0wa$}{:0wi$}{:0wm$}",
            self.account_number,
            self.invoice_number,
            self.amount_cents,
            wa = SCAN_ACCOUNT,
            wi = SCAN_INVOICE,
            wm = SCAN_AMOUNT
        );
        let digit = scheme.of(&body)?;
        Some(format!("{body}{digit}"))
    }

    /// Reads a scan line back (spaces ignored, as scanners group digits); a line of the wrong
    /// length or whose check digit fails is not trusted.
    pub fn read(line: &str, scheme: CheckDigit) -> Option<Self> {
        let digits: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != SCAN_LEN || !scheme.verifies(&digits) {
            return None;
        }
        let n = |from: usize, w: usize| digits[from..from + w].parse::<u64>().ok();
        Some(Self {
            account_number: n(0, SCAN_ACCOUNT)?,
            invoice_number: n(SCAN_ACCOUNT, SCAN_INVOICE)?,
            amount_cents: n(SCAN_ACCOUNT + SCAN_INVOICE, SCAN_AMOUNT)?,
        })
    }
}

/// The seller's lockbox settings (from the environment, see `billing_aws::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockboxSettings {
    pub check_digit: CheckDigit,
    pub layout: Layout,
    /// The one-time catalog price a check returned by the bank's BAI2 file is charged.
    pub returned_check_fee: Option<String>,
}

impl Default for LockboxSettings {
    fn default() -> Self {
        Self { check_digit: CheckDigit::default(), layout: Layout::bai(), returned_check_fee: None }
    }
}

/// A field of a fixed-width record: its first column (1-based, as bank layouts count) and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub start: usize,
    pub len: usize,
}

const fn at(start: usize, len: usize) -> Field {
    Field { start, len }
}

/// Where a bank puts each field of its lockbox file. [`Layout::bai`] is the common one (the BAI
/// Lockbox Communications layout as `FundersClub/bai-lockbox` reads it, with SAP's FLB24 type-4
/// remittance records); a bank that differs is configured as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub batch_number: Field,
    pub batch_lockbox: Field,
    /// `YYMMDD`.
    pub batch_deposit_date: Field,
    pub check_batch: Field,
    pub check_item: Field,
    /// Cents, zero-filled.
    pub check_amount: Field,
    pub check_routing: Field,
    pub check_account: Field,
    pub check_number: Field,
    /// `MMDDYY`.
    pub check_date: Field,
    pub check_remitter: Field,
    /// Where the bank puts the stub's scan line as its scanner read it (none: this bank does not).
    #[serde(default)]
    pub check_scan_line: Option<Field>,
    pub remittance_batch: Field,
    pub remittance_item: Field,
    /// The invoice numbers and amounts (cents) a remittance record carries, in pairs.
    pub remittance_invoices: Vec<(Field, Field)>,
    pub batch_trailer_batch: Field,
    pub batch_trailer_items: Field,
    pub batch_trailer_total: Field,
    pub lockbox_trailer_checks: Field,
    pub lockbox_trailer_total: Field,
    /// Every record of the file, the trailer itself included.
    pub file_trailer_records: Field,
}

impl Layout {
    pub fn bai() -> Self {
        Self {
            batch_number: at(2, 3),
            batch_lockbox: at(8, 7),
            batch_deposit_date: at(15, 6),
            check_batch: at(2, 3),
            check_item: at(5, 3),
            check_amount: at(8, 10),
            check_routing: at(18, 9),
            check_account: at(27, 10),
            check_number: at(37, 10),
            check_date: at(47, 6),
            check_remitter: at(53, 30),
            check_scan_line: None,
            remittance_batch: at(2, 3),
            remittance_item: at(5, 3),
            remittance_invoices: vec![(at(12, 16), at(28, 10))],
            batch_trailer_batch: at(2, 3),
            batch_trailer_items: at(21, 3),
            batch_trailer_total: at(24, 10),
            lockbox_trailer_checks: at(21, 4),
            lockbox_trailer_total: at(25, 10),
            file_trailer_records: at(2, 6),
        }
    }
}

/// One check as the bank read it, with the invoices its remittance names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockboxCheck {
    pub batch: String,
    pub item: String,
    /// In cents (the file's unit).
    pub amount_cents: u64,
    /// The drawer's bank routing number and account (MICR), as printed.
    pub routing: String,
    pub account: String,
    pub number: String,
    pub date: Option<NaiveDate>,
    pub remitter: String,
    /// Invoice numbers with the amount paid on each (cents; 0 when the stub gave none).
    pub remittance: Vec<(String, u64)>,
    /// The stub's scan line, as the bank's scanner read it (when the layout has it).
    #[serde(default)]
    pub scan_line: Option<String>,
    /// The file's line of the check record (1-based).
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockboxBatch {
    pub number: String,
    pub lockbox: String,
    pub deposit_date: Option<NaiveDate>,
    pub checks: Vec<LockboxCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockboxFile {
    pub batches: Vec<LockboxBatch>,
    pub total_cents: u64,
}

/// Why a file is refused: its line (1-based; 0 for the file as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct FileError {
    pub line: usize,
    pub reason: String,
}

fn refuse(line: usize, reason: impl Into<String>) -> FileError {
    FileError { line, reason: reason.into() }
}

fn slice<'a>(record: &'a str, f: Field, line: usize, what: &str) -> Result<&'a str, FileError> {
    let end = f.start - 1 + f.len;
    record
        .get(f.start - 1..end.min(record.len()))
        .filter(|_| record.len() >= f.start)
        .ok_or_else(|| refuse(line, format!("too short for its {what} (columns {}–{end})", f.start)))
}

fn text(record: &str, f: Field, line: usize, what: &str) -> Result<String, FileError> {
    Ok(slice(record, f, line, what)?.trim().to_owned())
}

fn number(record: &str, f: Field, line: usize, what: &str) -> Result<u64, FileError> {
    let raw = slice(record, f, line, what)?;
    if raw.len() != f.len || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(
            line,
            format!("its {what} (columns {}–{}) is not {} digits: {raw:?}", f.start, f.start + f.len - 1, f.len),
        ));
    }
    raw.parse().map_err(|_| refuse(line, format!("its {what} is too large")))
}

fn date(raw: &str, order: &str) -> Option<NaiveDate> {
    if raw.len() != 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| raw[r].parse::<u32>().ok();
    let (y, m, d) = match order {
        "YYMMDD" => (n(0..2)?, n(2..4)?, n(4..6)?),
        _ => (n(4..6)?, n(0..2)?, n(2..4)?),
    };
    NaiveDate::from_ymd_opt(2000 + y as i32, m, d)
}

/// Reads a lockbox file whole and checks it adds up: each batch's check count and total, the
/// lockbox's, and the file's record count. Any record that does not fit, any count or total that
/// differs, refuses the file (nothing of it is applied).
pub fn parse(file: &str, layout: &Layout) -> Result<LockboxFile, FileError> {
    let mut batches: Vec<LockboxBatch> = Vec::new();
    let mut records = 0usize;
    // Each lockbox trailer (8) closes the batches since the one before it: a file may carry
    // several lockboxes (its count field has four digits).
    let mut lockboxes = 0usize;
    let mut first_open = 0usize;
    let mut file_trailer: Option<(usize, u64)> = None;
    let mut open_batch: Option<usize> = None;
    for (i, raw) in file.lines().enumerate() {
        let line = i + 1;
        let record = raw.trim_end_matches(['\r', ' ']);
        if record.is_empty() {
            continue;
        }
        records += 1;
        if file_trailer.is_some() {
            return Err(refuse(line, "a record after the file trailer (9)"));
        }
        match record.as_bytes()[0] {
            b'1' | b'2' => {}
            b'5' => {
                batches.push(LockboxBatch {
                    number: text(record, layout.batch_number, line, "batch number")?,
                    lockbox: text(record, layout.batch_lockbox, line, "lockbox number")?,
                    deposit_date: date(slice(record, layout.batch_deposit_date, line, "deposit date")?, "YYMMDD"),
                    checks: vec![],
                });
                open_batch = Some(batches.len() - 1);
            }
            b'6' => {
                let batch = open_batch.ok_or_else(|| refuse(line, "a check (6) outside a batch (5 … 7)"))?;
                let check = LockboxCheck {
                    batch: text(record, layout.check_batch, line, "batch number")?,
                    item: text(record, layout.check_item, line, "item number")?,
                    amount_cents: number(record, layout.check_amount, line, "check amount")?,
                    routing: text(record, layout.check_routing, line, "routing number")?,
                    account: text(record, layout.check_account, line, "account number")?,
                    number: text(record, layout.check_number, line, "check number")?.trim_start_matches('0').to_owned(),
                    date: date(slice(record, layout.check_date, line, "check date")?, "MMDDYY"),
                    remitter: text(record, layout.check_remitter, line, "remitter").unwrap_or_default(),
                    remittance: vec![],
                    scan_line: match layout.check_scan_line {
                        Some(f) => {
                            Some(text(record, f, line, "scan line").unwrap_or_default()).filter(|s| !s.is_empty())
                        }
                        None => None,
                    },
                    line,
                };
                if check.batch != batches[batch].number {
                    return Err(refuse(
                        line,
                        format!("a check of batch {} inside batch {}", check.batch, batches[batch].number),
                    ));
                }
                batches[batch].checks.push(check);
            }
            b'4' => {
                let batch = open_batch.ok_or_else(|| refuse(line, "a remittance record (4) outside a batch"))?;
                let item = text(record, layout.remittance_item, line, "item number")?;
                let check = batches[batch].checks.last_mut().filter(|c| c.item == item).ok_or_else(|| {
                    refuse(line, format!("a remittance record (4) for item {item}, which is not the check before it"))
                })?;
                for (invoice, amount) in &layout.remittance_invoices {
                    let Ok(number_text) = text(record, *invoice, line, "invoice number") else { continue };
                    if number_text.is_empty() {
                        continue;
                    }
                    let cents = number(record, *amount, line, "invoice amount")?;
                    check.remittance.push((number_text, cents));
                }
            }
            b'7' => {
                let batch = open_batch
                    .take()
                    .ok_or_else(|| refuse(line, "a batch trailer (7) without its batch header (5)"))?;
                let b = &batches[batch];
                let number_text = text(record, layout.batch_trailer_batch, line, "batch number")?;
                if number_text != b.number {
                    return Err(refuse(line, format!("the trailer of batch {number_text} closes batch {}", b.number)));
                }
                let items = number(record, layout.batch_trailer_items, line, "item count")?;
                let total = number(record, layout.batch_trailer_total, line, "batch total")?;
                let counted: u64 = b.checks.iter().map(|c| c.amount_cents).sum();
                if items != b.checks.len() as u64 {
                    return Err(refuse(
                        line,
                        format!("batch {} says {items} checks; it holds {}", b.number, b.checks.len()),
                    ));
                }
                if total != counted {
                    return Err(refuse(
                        line,
                        format!(
                            "batch {} says {} in total; its checks add up to {}",
                            b.number,
                            cents(total),
                            cents(counted)
                        ),
                    ));
                }
            }
            b'8' => {
                if open_batch.is_some() {
                    return Err(refuse(line, "a lockbox trailer (8) inside a batch (5 … 7)"));
                }
                let said = number(record, layout.lockbox_trailer_checks, line, "check count")?;
                let sum = number(record, layout.lockbox_trailer_total, line, "lockbox total")?;
                let closed = &batches[first_open..];
                let checks: u64 = closed.iter().map(|b| b.checks.len() as u64).sum();
                let total: u64 = closed.iter().flat_map(|b| &b.checks).map(|c| c.amount_cents).sum();
                if said != checks {
                    return Err(refuse(line, format!("the lockbox says {said} checks; its batches hold {checks}")));
                }
                if sum != total {
                    return Err(refuse(
                        line,
                        format!("the lockbox says {} in total; its checks add up to {}", cents(sum), cents(total)),
                    ));
                }
                lockboxes += 1;
                first_open = batches.len();
            }
            b'9' => file_trailer = Some((line, number(record, layout.file_trailer_records, line, "record count")?)),
            other => {
                return Err(refuse(
                    line,
                    format!("record type {:?} is not one of 1, 2, 4, 5, 6, 7, 8, 9", other as char),
                ));
            }
        }
    }
    if let Some(b) = open_batch {
        return Err(refuse(0, format!("batch {} has no trailer (7)", batches[b].number)));
    }
    if lockboxes == 0 || first_open < batches.len() {
        return Err(refuse(0, "no lockbox trailer (8) after the last batches"));
    }
    let total: u64 = batches.iter().flat_map(|b| &b.checks).map(|c| c.amount_cents).sum();
    let (line, said) = file_trailer.ok_or_else(|| refuse(0, "no file trailer (9): the file may be cut short"))?;
    if said != records as u64 {
        return Err(refuse(line, format!("the file says {said} records; it holds {records}")));
    }
    Ok(LockboxFile { batches, total_cents: total })
}

fn cents(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// An open bill, as cash application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBill {
    pub account: AccountId,
    pub invoice_id: String,
    pub number: String,
    pub due: NaiveDate,
    pub remaining: Money,
}

/// A bill found by its number, and whether it is open.
pub type Found = Option<(OpenBill, bool)>;

/// What cash application reads: bills by number, an account's open bills, remembered drawers.
pub trait Books {
    /// The bill with this number, open or not (None: no such bill). `open` tells which.
    fn bill(&self, number: &str) -> Found;
    /// The account's open bills.
    fn open_bills(&self, account: &AccountId) -> Vec<OpenBill>;
    /// The account a check drawn on this bank routing and account paid before.
    fn drawer(&self, routing: &str, account: &str) -> Option<AccountId>;
    fn currency(&self, account: &AccountId) -> Option<Currency>;
}

/// How the payer was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum IdentifiedBy {
    /// The stub's scan line named the account (its check digit verified).
    ScanLine,
    /// A check from the same bank account paid this account before.
    Drawer,
    /// The remittance named one of the account's bills.
    Invoice,
}

/// A check applied: to which bills, how much each, and what became account credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub account: AccountId,
    pub by: IdentifiedBy,
    pub to_bills: Vec<(OpenBill, Money)>,
    pub to_credit: Money,
}

/// Why a check waits for staff instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Exception {
    /// Nothing tells whose check it is.
    Unidentified,
    /// The remittance names a bill of another customer than the one who paid.
    OtherCustomersInvoice { number: String },
    /// The remittance names a bill that does not exist (or is not open).
    UnknownInvoice { number: String },
    /// The scan line's check digit is wrong: it is not trusted.
    BadScanLine,
    /// The account bills in another currency than the lockbox deposits.
    OtherCurrency,
    /// The payer is known but owes nothing and has no bill to carry the credit.
    NothingOwed,
}

/// The scan line a stub carries, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLine {
    pub account: AccountId,
    pub invoice_number: Option<String>,
}

/// Applies one check: who sent it (the scan line's account, else the remembered drawer, else the
/// account of a bill its remittance names), then its money: the bills its remittance names
/// first (each up to its stated amount, else what it still owes), then a bill of exactly the
/// amount left (earliest due first), then the oldest first; what is left becomes account credit.
/// A remittance that names an unknown bill or another customer's sends the check to staff
/// (never a guess).
pub fn apply(
    check: &LockboxCheck,
    scan: Option<Result<ScanLine, ()>>,
    currency: Currency,
    books: &dyn Books,
) -> Result<Applied, Exception> {
    let scan = match scan {
        Some(Err(())) => return Err(Exception::BadScanLine),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let mut named: Vec<(String, u64)> = check.remittance.clone();
    // The scan line's bill comes first while it is open (a hint: paid meanwhile, it is passed).
    if let Some(s) = &scan
        && let Some(n) = s.invoice_number.clone()
        && !named.iter().any(|(m, _)| *m == n)
        && books.bill(&n).is_some_and(|(b, open)| open && b.account == s.account)
    {
        named.insert(0, (n, 0));
    }
    // Who.
    let found: Vec<(String, Found, u64)> = named.iter().map(|(n, c)| (n.clone(), books.bill(n), *c)).collect();
    let (account, by) = if let Some(s) = &scan {
        (s.account.clone(), IdentifiedBy::ScanLine)
    } else if let Some(a) = (!check.routing.is_empty()).then(|| books.drawer(&check.routing, &check.account)).flatten()
    {
        (a, IdentifiedBy::Drawer)
    } else if let Some((_, Some((bill, _)), _)) = found.iter().find(|(_, b, _)| b.is_some()) {
        (bill.account.clone(), IdentifiedBy::Invoice)
    } else {
        return Err(Exception::Unidentified);
    };
    if books.currency(&account).is_some_and(|c| c != currency) {
        return Err(Exception::OtherCurrency);
    }
    // Every named bill must be this account's, and open.
    for (n, bill, _) in &found {
        match bill {
            Some((b, _)) if b.account != account => return Err(Exception::OtherCustomersInvoice { number: n.clone() }),
            Some((_, true)) => {}
            _ => return Err(Exception::UnknownInvoice { number: n.clone() }),
        }
    }
    let unit = Decimal::new(1, 2);
    let mut left = Decimal::from(check.amount_cents) * unit;
    let mut to_bills: Vec<(OpenBill, Money)> = Vec::new();
    let take = |bill: &OpenBill, want: Decimal, left: &mut Decimal, out: &mut Vec<(OpenBill, Money)>| {
        let share = want.min(bill.remaining.amount()).min(*left);
        if share > Decimal::ZERO {
            *left -= share;
            out.push((bill.clone(), Money::new(share, currency)));
        }
    };
    for (_, bill, cents) in &found {
        if let Some((b, _)) = bill {
            let want = if *cents > 0 { Decimal::from(*cents) * unit } else { b.remaining.amount() };
            take(b, want, &mut left, &mut to_bills);
        }
    }
    let mut open: Vec<OpenBill> = books
        .open_bills(&account)
        .into_iter()
        .filter(|b| !to_bills.iter().any(|(t, _)| t.invoice_id == b.invoice_id))
        .collect();
    open.sort_by(|a, b| (a.due, &a.invoice_id).cmp(&(b.due, &b.invoice_id)));
    if left > Decimal::ZERO
        && let Some(i) = open.iter().position(|b| b.remaining.amount() == left)
    {
        let exact = open.remove(i);
        take(&exact, left, &mut left, &mut to_bills);
    }
    for b in &open {
        if left <= Decimal::ZERO {
            break;
        }
        take(b, left, &mut left, &mut to_bills);
    }
    Ok(Applied { account, by, to_bills, to_credit: Money::new(left, currency) })
}

/// An imported lockbox file (by its content's SHA-256: the same file twice applies nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockboxImport {
    pub file_hash: String,
    pub name: String,
    pub imported_at: chrono::DateTime<chrono::Utc>,
    pub imported_by: String,
    pub checks: u32,
    pub total: Money,
    /// Checks applied and sent to the exceptions queue so far (a crashed import goes on).
    pub applied: u32,
    pub exceptions: u32,
    /// Every check looked at.
    pub done: bool,
    /// Why the file was refused whole (a file the bucket received that does not add up: kept so
    /// staff see it; nothing of it applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(default)]
    pub format: FileFormat,
    /// A BAI2 file's lockbox deposits, each with the lockbox file of the same total (the bank
    /// credited what the lockbox file reported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposits: Vec<DepositMatch>,
    /// A BAI2 file's returned checks and what became of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returns: Vec<ReturnMatch>,
}

impl LockboxImport {
    /// A file just received, nothing of it looked at yet.
    pub fn started(
        file_hash: String,
        name: String,
        imported_by: String,
        format: FileFormat,
        checks: u32,
        total: Money,
    ) -> Self {
        Self {
            file_hash,
            name,
            imported_at: chrono::Utc::now(),
            imported_by,
            checks,
            total,
            applied: 0,
            exceptions: 0,
            done: false,
            refused: None,
            format,
            deposits: Vec::new(),
            returns: Vec::new(),
        }
    }
}

/// Which of the bank's files it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FileFormat {
    /// The fixed-width BAI lockbox transmission: the checks and their remittance.
    #[default]
    Lockbox,
    /// BAI2 balance reporting: deposit totals and returned items.
    Bai2,
}

/// A BAI2 lockbox deposit and the lockbox file it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DepositMatch {
    pub deposit: crate::bai2::Deposit,
    /// The name and hash of the imported lockbox file with this total (none: no such file,
    /// which staff should look into).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockbox_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockbox_hash: Option<String>,
}

/// A returned check of a BAI2 file and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnMatch {
    pub item: crate::bai2::ReturnedItem,
    pub outcome: ReturnOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReturnOutcome {
    /// Taken back: its bills owed again, the customer told.
    Returned {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        account_id: AccountId,
        reference: String,
        bills: Vec<BillShare>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fee: Option<Money>,
    },
    /// Taken back before (by staff, or this file's interrupted import).
    AlreadyReturned {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        account_id: AccountId,
        reference: String,
    },
    /// No check of that number and amount was received: staff look into it.
    NoSuchCheck,
    /// Several accounts' checks have that number and amount: staff return the right one from
    /// its account page.
    Ambiguous {
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
        accounts: Vec<AccountId>,
    },
}

/// A check's share on one bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillShare {
    pub invoice_id: String,
    /// The bill's number, as printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub amount: Money,
}

/// What became of one check of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ItemOutcome {
    /// Applied when the file came in.
    Applied {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        account_id: AccountId,
        by: IdentifiedBy,
        bills: Vec<BillShare>,
        to_credit: Money,
    },
    /// Waiting for staff.
    Exception { exception: Exception },
    /// Staff applied it to an account.
    Resolved {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        account_id: AccountId,
        bills: Vec<BillShare>,
        to_credit: Money,
        by: String,
        reason: Option<crate::staff::Reason>,
    },
    /// Staff sent it back to the payer (no money applied).
    Returned { by: String, reason: Option<crate::staff::Reason> },
}

/// One check of an imported file, keyed by file + batch + item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockboxItem {
    pub key: String,
    pub file_hash: String,
    pub lockbox: String,
    pub deposit_date: Option<NaiveDate>,
    pub check_number: String,
    pub amount: Money,
    pub remitter: String,
    pub routing: String,
    pub drawer_account: String,
    /// The invoice numbers the remittance named.
    pub remittance: Vec<String>,
    pub outcome: ItemOutcome,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl LockboxItem {
    /// The payments' reference for this check's `n`th bill (1-based): `lockbox:<key>[:n]`.
    pub fn reference(&self, n: usize) -> String {
        if n <= 1 { format!("lockbox:{}", self.key) } else { format!("lockbox:{}:{n}", self.key) }
    }
}

/// Checks of a file by their key (file + batch + item): what makes each apply exactly once.
pub fn item_key(file_hash: &str, check: &LockboxCheck) -> String {
    format!("{}-{}-{}", &file_hash[..file_hash.len().min(16)], check.batch, check.item)
}

/// Totals of a parsed file per batch, for its import report.
pub fn batch_totals(file: &LockboxFile) -> BTreeMap<String, (usize, u64)> {
    file.batches
        .iter()
        .map(|b| (b.number.clone(), (b.checks.len(), b.checks.iter().map(|c| c.amount_cents).sum())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn published_check_digit_vectors() {
        // Creditron's worked example (mod 10, 2-1 from the left) and Naviga's.
        assert_eq!(CheckDigit::Mod10Weights21.of("00345678901110296000000000010000000001000"), Some(8));
        assert_eq!(CheckDigit::Mod10Weights21.of("76543210"), Some(4));
        assert_eq!(CheckDigit::Luhn.of("76543210"), Some(9), "the direction matters on even lengths");
        // The IBM mod-11 example: 13739 → 1.
        assert_eq!(CheckDigit::Mod11.of("13739"), Some(1));
        // One 30-digit line, three schemes, three digits.
        let line = "000010452100012340000000150000";
        assert_eq!(
            [CheckDigit::Mod10Weights21, CheckDigit::Luhn, CheckDigit::Mod11].map(|s| s.of(line)),
            [Some(7), Some(4), Some(2)]
        );
        // Luhn's own textbook number.
        assert!(CheckDigit::Luhn.verifies("79927398713"));
        assert!(!CheckDigit::Luhn.verifies("79927398710"));
        assert_eq!(CheckDigit::Luhn.of("12a4"), None);
        assert!(!CheckDigit::Mod11.verifies(""));
    }

    #[test]
    fn a_single_wrong_digit_fails_the_check() {
        let body = "000010452100012340000000150000";
        for scheme in [CheckDigit::Mod10Weights21, CheckDigit::Luhn, CheckDigit::Mod11] {
            let line = format!("{body}{}", scheme.of(body).unwrap());
            assert!(scheme.verifies(&line));
            for i in 0..body.len() {
                let mut wrong = line.clone().into_bytes();
                wrong[i] = if wrong[i] == b'9' { b'0' } else { wrong[i] + 1 };
                assert!(!scheme.verifies(std::str::from_utf8(&wrong).unwrap()), "{scheme:?} at {i}");
            }
        }
    }

    #[test]
    fn a_scan_line_is_printed_and_read_back_and_a_misread_is_not_trusted() {
        let fields = ScanFields { account_number: 10452, invoice_number: 1234, amount_cents: 150_000 };
        let line = fields.line(CheckDigit::Mod10Weights21).unwrap();
        assert_eq!(line, "0000010452000000123400001500001");
        assert_eq!(ScanFields::read(&line, CheckDigit::Mod10Weights21), Some(fields));
        assert_eq!(ScanFields::read("00000 10452 0000001234 0000150000 1", CheckDigit::Mod10Weights21), Some(fields));
        assert_eq!(ScanFields::read(&line, CheckDigit::Luhn), None, "another scheme's digit");
        assert_eq!(ScanFields::read("0000010452000000123400001500008", CheckDigit::Mod10Weights21), None);
        assert_eq!(ScanFields::read("000001045200000012340000150000", CheckDigit::Mod10Weights21), None, "too short");
        let big = ScanFields { amount_cents: 100_000_000_000, ..fields };
        assert_eq!(big.line(CheckDigit::Luhn), None, "does not fit its width");
    }

    const SAMPLE: &str = "\
100ATMOSERA  01210002482612040630
2ATMOSERA 121000248  000000000040010408001
50010000002712261204ATMOSERA 121000248
6001001000015000005500270700123455550000010452120126ACME HOSTING LLC              ATMOSERA INC
40010014019INV-0001234     00001500000000000000
6001002000009805006100010488776655440000088231120226NORTHWIND CO                  ATMOSERA INC
40010024010INV-0001240     00000500000000000000
40010024029INV-0001241     00000480500000000000
6001003000010000002100002155667788990000007781112826CONTOSO LTD                   ATMOSERA INC
700100000027122612040030000348050
8000000000271226120400030000348050
9000012
";

    #[test]
    fn reads_a_bai_lockbox_file_and_checks_its_totals() {
        let file = parse(SAMPLE, &Layout::bai()).unwrap();
        assert_eq!(file.total_cents, 348_050);
        let checks = &file.batches[0].checks;
        assert_eq!(file.batches[0].lockbox, "0002712");
        assert_eq!(checks.len(), 3);
        assert_eq!((checks[0].amount_cents, checks[0].number.as_str()), (150_000, "10452"));
        assert_eq!((checks[0].routing.as_str(), checks[0].account.as_str()), ("055002707", "0012345555"));
        assert_eq!(checks[0].date, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert_eq!(checks[0].remitter, "ACME HOSTING LLC");
        assert_eq!(checks[1].remittance, [("INV-0001240".into(), 50_000), ("INV-0001241".into(), 48_050)]);
        assert!(checks[2].remittance.is_empty(), "a check without a stub");
    }

    #[test]
    fn a_file_may_carry_several_lockboxes_each_adding_up() {
        let body: Vec<&str> = SAMPLE.lines().collect();
        // Two lockboxes: the sample's batch and trailer twice (the file trailer counts them all).
        let mut two: Vec<String> = body[..11].iter().map(|l| (*l).to_owned()).collect();
        two.extend(body[2..11].iter().map(|l| (*l).to_owned()));
        two.push(format!("9{:06}", two.len() + 1));
        let file = parse(&two.join("\n"), &Layout::bai()).unwrap();
        assert_eq!((file.batches.len(), file.total_cents), (2, 696_100));
        // The second lockbox's trailer says what the first held in all: refused at its line.
        let mut wrong = two.clone();
        wrong[19] = "8000000000271226120400060000696100".into();
        let e = parse(&wrong.join("\n"), &Layout::bai()).unwrap_err();
        assert_eq!(e.line, 20);
        assert!(e.reason.contains("says 6 checks; its batches hold 3"), "{e}");
    }

    #[test]
    fn a_file_that_does_not_add_up_is_refused_with_the_line() {
        let bad = |from: &str, to: &str| parse(&SAMPLE.replacen(from, to, 1), &Layout::bai()).unwrap_err();
        let e = bad("700100000027122612040030000348050", "700100000027122612040030000348051");
        assert_eq!(e.line, 10);
        assert!(e.reason.contains("3480.51") && e.reason.contains("3480.50"), "{e}");
        assert_eq!(bad("9000012", "9000011").line, 12);
        assert!(
            bad("8000000000271226120400030000348050", "8000000000271226120400040000348050").reason.contains("4 checks")
        );
        let cut = SAMPLE.lines().take(11).collect::<Vec<_>>().join("\n");
        assert!(parse(&cut, &Layout::bai()).unwrap_err().reason.contains("cut short"));
        let e = bad("6001003000010000002", "6001003000010000X02");
        assert_eq!(e.line, 9);
        assert!(e.reason.contains("check amount"), "{e}");
        assert!(bad("40010024029", "40010034029").reason.contains("item 003"));
        assert!(parse("X\n", &Layout::bai()).unwrap_err().reason.contains("record type"));
    }

    struct Fake {
        bills: Vec<(OpenBill, bool)>,
        drawers: HashMap<(String, String), AccountId>,
    }

    impl Books for Fake {
        fn bill(&self, number: &str) -> Option<(OpenBill, bool)> {
            self.bills.iter().find(|(b, _)| b.number == number).cloned()
        }
        fn open_bills(&self, account: &AccountId) -> Vec<OpenBill> {
            self.bills.iter().filter(|(b, open)| *open && &b.account == account).map(|(b, _)| b.clone()).collect()
        }
        fn drawer(&self, routing: &str, account: &str) -> Option<AccountId> {
            self.drawers.get(&(routing.to_owned(), account.to_owned())).cloned()
        }
        fn currency(&self, _: &AccountId) -> Option<Currency> {
            Some("USD".parse().unwrap())
        }
    }

    fn usd(s: &str) -> Money {
        Money::new(s.parse().unwrap(), "USD".parse().unwrap())
    }

    fn bill(account: &str, number: &str, due: &str, remaining: &str) -> (OpenBill, bool) {
        let b = OpenBill {
            account: account.parse().unwrap(),
            invoice_id: format!("bill_{number}"),
            number: number.into(),
            due: due.parse().unwrap(),
            remaining: usd(remaining),
        };
        (b, true)
    }

    fn books() -> Fake {
        Fake {
            bills: vec![
                bill("acct_acme", "INV-1", "2026-10-31", "600.00"),
                bill("acct_acme", "INV-2", "2026-11-30", "300.00"),
                bill("acct_acme", "INV-3", "2026-12-31", "150.00"),
                bill("acct_nw", "INV-9", "2026-11-30", "500.00"),
                (bill("acct_acme", "INV-0", "2026-09-30", "0.00").0, false),
            ],
            drawers: HashMap::from([(("055002707".into(), "0012345555".into()), "acct_acme".parse().unwrap())]),
        }
    }

    fn check(cents: u64, remittance: &[(&str, u64)], routing: &str) -> LockboxCheck {
        LockboxCheck {
            batch: "001".into(),
            item: "001".into(),
            amount_cents: cents,
            routing: routing.into(),
            account: "0012345555".into(),
            number: "10452".into(),
            date: None,
            remitter: String::new(),
            remittance: remittance.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect(),
            scan_line: None,
            line: 4,
        }
    }

    fn shares(a: &Applied) -> Vec<(&str, String)> {
        a.to_bills.iter().map(|(b, m)| (b.number.as_str(), m.amount().to_string())).collect()
    }

    #[test]
    fn cash_is_applied_named_bills_first_then_exact_then_oldest() {
        let usd_c: Currency = "USD".parse().unwrap();
        let b = books();
        // Two named bills with their amounts, by an unknown drawer: known by the invoice.
        let a = apply(&check(45_000, &[("INV-2", 30_000), ("INV-3", 15_000)], ""), None, usd_c, &b).unwrap();
        assert_eq!(
            (a.by, shares(&a)),
            (IdentifiedBy::Invoice, vec![("INV-2", "300.00".into()), ("INV-3", "150.00".into())])
        );
        // No remittance, a remembered drawer, exactly one bill's amount: that bill, not the oldest.
        let a = apply(&check(15_000, &[], "055002707"), None, usd_c, &b).unwrap();
        assert_eq!((a.by, shares(&a)), (IdentifiedBy::Drawer, vec![("INV-3", "150.00".into())]));
        // No exact match: oldest first, a partial payment leaves the rest open.
        let a = apply(&check(70_000, &[], "055002707"), None, usd_c, &b).unwrap();
        assert_eq!(shares(&a), vec![("INV-1", "600.00".into()), ("INV-2", "100.00".into())]);
        // More than everything: the rest is account credit.
        let a = apply(&check(110_000, &[], "055002707"), None, usd_c, &b).unwrap();
        assert_eq!((shares(&a).len(), a.to_credit), (3, usd("50.00")));
        // The scan line names the account; its invoice comes first.
        let scan = ScanLine { account: "acct_acme".parse().unwrap(), invoice_number: Some("INV-3".into()) };
        let a = apply(&check(20_000, &[], ""), Some(Ok(scan)), usd_c, &b).unwrap();
        assert_eq!(
            (a.by, shares(&a)),
            (IdentifiedBy::ScanLine, vec![("INV-3", "150.00".into()), ("INV-1", "50.00".into())])
        );
    }

    #[test]
    fn what_cannot_be_applied_safely_waits_for_staff_with_why() {
        let usd_c: Currency = "USD".parse().unwrap();
        let b = books();
        assert_eq!(apply(&check(10_000, &[], ""), None, usd_c, &b), Err(Exception::Unidentified));
        assert_eq!(
            apply(&check(10_000, &[("INV-404", 0)], ""), None, usd_c, &b),
            Err(Exception::Unidentified),
            "an unknown number names nobody"
        );
        assert_eq!(
            apply(&check(10_000, &[("INV-404", 0)], "055002707"), None, usd_c, &b),
            Err(Exception::UnknownInvoice { number: "INV-404".into() })
        );
        assert_eq!(
            apply(&check(50_000, &[("INV-9", 50_000)], "055002707"), None, usd_c, &b),
            Err(Exception::OtherCustomersInvoice { number: "INV-9".into() }),
            "Acme's check naming Northwind's bill"
        );
        assert_eq!(
            apply(&check(10_000, &[("INV-0", 0)], "055002707"), None, usd_c, &b),
            Err(Exception::UnknownInvoice { number: "INV-0".into() }),
            "a paid bill takes no more"
        );
        assert_eq!(apply(&check(10_000, &[], ""), Some(Err(())), usd_c, &b), Err(Exception::BadScanLine));
    }
}
