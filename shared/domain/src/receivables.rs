//! Money owed: open invoices with an amount left to pay ([`Receivable`]), aged as of a date into
//! the buckets collections work with ([`Aging`]: current, 1–30, 31–60, 61–90 and over 90 days past
//! due), what an account shows as past due ([`PastDue`]), and the reminders a contract bill gets
//! on its way past its due date ([`ReminderSchedule`]).
//!
//! Days past due are calendar days (UTC) after the due date: a bill due on Dec 1 is current on
//! Dec 1 and one day past due on Dec 2. An invoice without a due date (a card invoice charged
//! automatically) is due on the day it was made.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::ids::AccountId;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::money::{Currency, Money};

/// An open invoice with money left to pay, as the receivables index holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receivable {
    pub account_id: AccountId,
    pub invoice_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub amount_remaining: Money,
    pub due: NaiveDate,
    pub created: DateTime<Utc>,
}

impl Receivable {
    /// The invoice's entry, when it is open with something left to pay.
    pub fn of(invoice: &Invoice) -> Option<Receivable> {
        let owed =
            invoice.status == InvoiceStatus::Open && invoice.amount_remaining.amount() > rust_decimal::Decimal::ZERO;
        owed.then(|| Receivable {
            account_id: invoice.account_id.clone(),
            invoice_id: invoice.id.clone(),
            number: invoice.number.clone(),
            amount_remaining: invoice.amount_remaining,
            due: due_day(invoice),
            created: invoice.created,
        })
    }

    /// Calendar days past due on `as_of`; zero or less while not yet past due.
    pub fn days_past_due(&self, as_of: NaiveDate) -> i64 {
        (as_of - self.due).num_days()
    }
}

/// Amounts of one account or report add up in one currency; another is corrupt data.
fn plus(a: &Money, b: &Money) -> Result<Money> {
    a.checked_add(b).map_err(|e| Error::Corrupt(e.to_string()))
}

/// The day an invoice is due: its due date, or the day it was made.
pub fn due_day(invoice: &Invoice) -> NaiveDate {
    due_of(invoice.due_date, invoice.created)
}

/// The day an invoice with `due_date` made at `created` is due.
pub fn due_of(due_date: Option<DateTime<Utc>>, created: DateTime<Utc>) -> NaiveDate {
    due_date.unwrap_or(created).date_naive()
}

/// The aging buckets, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AgingBucket {
    /// Not yet past due.
    Current,
    Days1To30,
    Days31To60,
    Days61To90,
    Over90,
}

impl AgingBucket {
    pub const ALL: [AgingBucket; 5] = [
        AgingBucket::Current,
        AgingBucket::Days1To30,
        AgingBucket::Days31To60,
        AgingBucket::Days61To90,
        AgingBucket::Over90,
    ];

    pub fn for_days_past_due(days: i64) -> AgingBucket {
        match days {
            ..=0 => AgingBucket::Current,
            1..=30 => AgingBucket::Days1To30,
            31..=60 => AgingBucket::Days31To60,
            61..=90 => AgingBucket::Days61To90,
            _ => AgingBucket::Over90,
        }
    }

    /// Its name in reports (`days_1_30`).
    pub fn as_str(self) -> &'static str {
        match self {
            AgingBucket::Current => "current",
            AgingBucket::Days1To30 => "days_1_30",
            AgingBucket::Days31To60 => "days_31_60",
            AgingBucket::Days61To90 => "days_61_90",
            AgingBucket::Over90 => "over_90",
        }
    }
}

/// Amounts per aging bucket, in one currency, and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    pub currency: Currency,
    /// In [`AgingBucket::ALL`]'s order.
    pub amounts: [Money; 5],
    pub total: Money,
}

impl Buckets {
    fn new(currency: Currency) -> Self {
        let zero = Money::zero(currency);
        Self { currency, amounts: [zero; 5], total: zero }
    }

    fn add(&mut self, bucket: AgingBucket, amount: Money) -> Result<()> {
        let at = AgingBucket::ALL.iter().position(|b| *b == bucket).expect("every bucket is in ALL");
        self.amounts[at] = plus(&self.amounts[at], &amount)?;
        self.total = plus(&self.total, &amount)?;
        Ok(())
    }
}

/// One account's money owed in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgingRow {
    pub account_id: AccountId,
    pub buckets: Buckets,
    pub oldest_due: NaiveDate,
    pub invoices: usize,
}

/// Receivables aged as of a date: a row per account and currency (most past due first), and
/// totals per currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aging {
    pub as_of: NaiveDate,
    pub rows: Vec<AgingRow>,
    pub totals: Vec<Buckets>,
}

/// Ages `receivables` as of `as_of`. Invoices made after `as_of` are left out.
pub fn aging(receivables: &[Receivable], as_of: NaiveDate) -> Result<Aging> {
    let mut rows: BTreeMap<(AccountId, String), AgingRow> = BTreeMap::new();
    let mut totals: BTreeMap<String, Buckets> = BTreeMap::new();
    for r in receivables.iter().filter(|r| r.created.date_naive() <= as_of) {
        let currency = r.amount_remaining.currency();
        let bucket = AgingBucket::for_days_past_due(r.days_past_due(as_of));
        let row = rows.entry((r.account_id.clone(), currency.code().to_owned())).or_insert_with(|| AgingRow {
            account_id: r.account_id.clone(),
            buckets: Buckets::new(currency),
            oldest_due: r.due,
            invoices: 0,
        });
        row.buckets.add(bucket, r.amount_remaining)?;
        row.oldest_due = row.oldest_due.min(r.due);
        row.invoices += 1;
        totals
            .entry(currency.code().to_owned())
            .or_insert_with(|| Buckets::new(currency))
            .add(bucket, r.amount_remaining)?;
    }
    let mut rows: Vec<AgingRow> = rows.into_values().collect();
    rows.sort_by(|a, b| a.oldest_due.cmp(&b.oldest_due).then_with(|| a.account_id.cmp(&b.account_id)));
    Ok(Aging { as_of, rows, totals: totals.into_values().collect() })
}

/// What an account owes past its due dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PastDue {
    /// The earliest due date of the bills not paid on time.
    pub oldest_due_date: NaiveDate,
    /// Days since then.
    pub days_past_due: i64,
    /// What is left to pay on the bills past due.
    pub amount: Money,
    /// How many bills are past due.
    pub invoices: usize,
}

/// What of `invoices` (an account's, in its currency) is past due on `today`; `None` when
/// nothing is.
pub fn past_due<'a>(invoices: impl IntoIterator<Item = &'a Invoice>, today: NaiveDate) -> Result<Option<PastDue>> {
    let mut out: Option<PastDue> = None;
    for r in invoices.into_iter().filter_map(Receivable::of).filter(|r| r.days_past_due(today) > 0) {
        out = Some(match out {
            None => PastDue {
                oldest_due_date: r.due,
                days_past_due: r.days_past_due(today),
                amount: r.amount_remaining,
                invoices: 1,
            },
            Some(p) => PastDue {
                oldest_due_date: p.oldest_due_date.min(r.due),
                days_past_due: p.days_past_due.max(r.days_past_due(today)),
                amount: plus(&p.amount, &r.amount_remaining)?,
                invoices: p.invoices + 1,
            },
        });
    }
    Ok(out)
}

/// When a contract bill's payment reminders go out: days relative to its due date (negative:
/// before it). The seller sets it; [`ReminderSchedule::default`] is 3 days before, then 1, 7 and
/// 14 days after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<i32>", into = "Vec<i32>")]
pub struct ReminderSchedule(Vec<i32>);

impl ReminderSchedule {
    /// At most this many reminders per bill.
    pub const MAX_STEPS: usize = 10;
    /// Offsets from 30 days before the due date to a year after it.
    pub const EARLIEST: i32 = -30;
    pub const LATEST: i32 = 365;

    pub fn offsets(&self) -> &[i32] {
        &self.0
    }

    /// The earliest offset: reminders look at bills due up to this many days ahead.
    pub fn lead_days(&self) -> i64 {
        self.0.first().map_or(0, |first| i64::from((-first).max(0)))
    }

    /// The reminder a bill due on `due` gets on `today`: the latest step already reached, unless
    /// that step or a later one was sent. Steps passed while none was sent (the run did not
    /// run, the bill was paused) are not sent late: the customer gets one reminder, the current.
    pub fn step_due(&self, due: NaiveDate, today: NaiveDate, sent: &[i32]) -> Option<i32> {
        let days = (today - due).num_days();
        let step = self.0.iter().copied().filter(|o| i64::from(*o) <= days).max()?;
        (!sent.iter().any(|s| *s >= step)).then_some(step)
    }
}

/// The reminder of `invoice_id` at `step` for the mailer.
pub fn reminder(account_id: &AccountId, invoice_id: &str, step: i32, as_of: NaiveDate) -> crate::billing::WorkItem {
    crate::billing::WorkItem::PaymentReminder {
        account_id: account_id.clone(),
        invoice_id: invoice_id.to_owned(),
        step,
        as_of,
        event_id: format!("reminder:{invoice_id}:{step}"),
    }
}

impl Default for ReminderSchedule {
    fn default() -> Self {
        Self(vec![-3, 1, 7, 14])
    }
}

impl TryFrom<Vec<i32>> for ReminderSchedule {
    type Error = FieldError;
    fn try_from(mut offsets: Vec<i32>) -> std::result::Result<Self, FieldError> {
        if offsets.len() > Self::MAX_STEPS {
            return Err(FieldError::new("offsets_days", format!("at most {} reminders per bill", Self::MAX_STEPS)));
        }
        if let Some(bad) = offsets.iter().find(|o| !(Self::EARLIEST..=Self::LATEST).contains(*o)) {
            return Err(FieldError::new(
                "offsets_days",
                format!(
                    "{bad} is out of range: days from {} to {} relative to the due date",
                    Self::EARLIEST,
                    Self::LATEST
                ),
            ));
        }
        offsets.sort_unstable();
        offsets.dedup();
        Ok(Self(offsets))
    }
}

impl From<ReminderSchedule> for Vec<i32> {
    fn from(s: ReminderSchedule) -> Vec<i32> {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn usd(a: &str) -> Money {
        Money::new(a.parse().unwrap(), Currency::USD)
    }

    fn receivable(account: &str, id: &str, due: &str, amount: &str) -> Receivable {
        Receivable {
            account_id: account.parse().unwrap(),
            invoice_id: id.into(),
            number: None,
            amount_remaining: usd(amount),
            due: day(due),
            created: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn buckets_at_their_boundaries() {
        let b = AgingBucket::for_days_past_due;
        assert_eq!(
            [b(-5), b(0), b(1), b(30), b(31), b(60), b(61), b(90), b(91)],
            [
                AgingBucket::Current,
                AgingBucket::Current,
                AgingBucket::Days1To30,
                AgingBucket::Days1To30,
                AgingBucket::Days31To60,
                AgingBucket::Days31To60,
                AgingBucket::Days61To90,
                AgingBucket::Days61To90,
                AgingBucket::Over90,
            ]
        );
    }

    #[test]
    fn an_account_ages_across_buckets_with_totals_per_currency() {
        let as_of = day("2026-12-31");
        let rs = [
            receivable("acct_a", "b1", "2026-12-31", "10.00"), // due today: current
            receivable("acct_a", "b2", "2026-12-01", "20.00"), // 30 days
            receivable("acct_a", "b3", "2026-11-30", "40.00"), // 31 days
            receivable("acct_b", "b4", "2026-09-01", "5.00"),  // 121 days
        ];
        let aged = aging(&rs, as_of).unwrap();
        assert_eq!(aged.rows.len(), 2);
        assert_eq!(aged.rows[0].account_id.as_str(), "acct_b", "the most past due first");
        let a = &aged.rows[1];
        assert_eq!(a.buckets.amounts, [usd("10.00"), usd("20.00"), usd("40.00"), usd("0"), usd("0")]);
        assert_eq!((a.buckets.total, a.oldest_due, a.invoices), (usd("70.00"), day("2026-11-30"), 3));
        assert_eq!(aged.totals.len(), 1);
        assert_eq!(aged.totals[0].total, usd("75.00"));
        assert_eq!(aged.totals[0].amounts[4], usd("5.00"));
        // As of a date before an invoice was made, it is not there.
        assert!(aging(&rs, day("2025-12-31")).unwrap().rows.is_empty());
    }

    #[test]
    fn reminders_go_once_per_step_and_a_missed_step_is_not_sent_late() {
        let s = ReminderSchedule::default();
        let due = day("2026-12-31");
        assert_eq!(s.step_due(due, day("2026-12-27"), &[]), None, "4 days before");
        assert_eq!(s.step_due(due, day("2026-12-28"), &[]), Some(-3));
        assert_eq!(s.step_due(due, day("2026-12-31"), &[-3]), None, "on the due date: sent already");
        assert_eq!(s.step_due(due, day("2027-01-01"), &[-3]), Some(1));
        assert_eq!(s.step_due(due, day("2027-01-10"), &[-3]), Some(7), "day 1 missed: only day 7's");
        assert_eq!(s.step_due(due, day("2027-01-10"), &[-3, 7]), None);
        assert_eq!(s.step_due(due, day("2027-06-01"), &[-3, 1, 7, 14]), None, "after the last step: none");
        assert_eq!(s.lead_days(), 3);
    }

    #[test]
    fn a_schedule_is_sorted_bounded_and_short() {
        let s = ReminderSchedule::try_from(vec![7, -3, 7, 1]).unwrap();
        assert_eq!(s.offsets(), [-3, 1, 7]);
        assert!(ReminderSchedule::try_from(vec![-31]).is_err());
        assert!(ReminderSchedule::try_from(vec![366]).is_err());
        assert!(ReminderSchedule::try_from((0..11).collect::<Vec<_>>()).is_err());
        assert_eq!(
            ReminderSchedule::try_from(vec![]).unwrap().step_due(day("2026-01-01"), day("2027-01-01"), &[]),
            None
        );
    }
}
