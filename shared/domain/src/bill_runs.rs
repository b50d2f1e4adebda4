//! A bill run as the back office reviews it, four eyes: one person makes the drafts, another
//! approves them, then the approved drafts are finalized (numbered, sent). The record of each
//! bill date keeps who did each step, when and why; and a preview flags each account's bill that
//! changed against its last one.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};
use crate::staff::{Reason, StaffMember};

/// A bill that moved by this much against the account's last bill (either way) is flagged.
pub const FLAG_PERCENT: Decimal = Decimal::from_parts(10, 0, 0, false, 0);

/// The account's last finalized bill, kept on its contract state for the next preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastBill {
    pub bill_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub total: Money,
}

/// How a bill compares with the account's last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeFlag {
    /// Within [`FLAG_PERCENT`] of the last bill.
    Steady,
    /// The account's first bill here (nothing to compare with).
    FirstBill,
    /// Up by [`FLAG_PERCENT`] or more (or from nothing).
    Up,
    /// Down by [`FLAG_PERCENT`] or more.
    Down,
    /// The last bill was in another currency.
    OtherCurrency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillComparison {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<LastBill>,
    /// (total − previous) / previous × 100, to one decimal; none without a previous total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub change_percent: Option<Decimal>,
    pub flag: ChangeFlag,
}

impl BillComparison {
    pub fn of(previous: Option<&LastBill>, total: &Money) -> Self {
        let Some(last) = previous else {
            return Self { previous: None, change_percent: None, flag: ChangeFlag::FirstBill };
        };
        let previous = Some(last.clone());
        if last.total.currency() != total.currency() {
            return Self { previous, change_percent: None, flag: ChangeFlag::OtherCurrency };
        }
        let (was, now) = (last.total.amount(), total.amount());
        if was.is_zero() {
            let flag = if now.is_zero() { ChangeFlag::Steady } else { ChangeFlag::Up };
            return Self { previous, change_percent: None, flag };
        }
        // Flagged on the exact change; shown to one decimal.
        let percent = (now - was) / was.abs() * Decimal::ONE_HUNDRED;
        let flag = if percent >= FLAG_PERCENT {
            ChangeFlag::Up
        } else if percent <= -FLAG_PERCENT {
            ChangeFlag::Down
        } else {
            ChangeFlag::Steady
        };
        Self { previous, change_percent: Some(percent.round_dp(1).normalize()), flag }
    }

    /// Whether a reviewer should look at it.
    pub fn flagged(&self) -> bool {
        self.flag != ChangeFlag::Steady
    }
}

/// Where a bill date's reviewed run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RunStatus {
    /// Drafts made, waiting for a second person.
    Drafted,
    /// Approved: the drafts may be finalized.
    Approved,
    /// The approved drafts are finalized.
    Finalized,
}

/// Who did a step of the run, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunStep {
    /// The staff member's id (four eyes compares these).
    pub by: String,
    pub email: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl RunStep {
    pub fn by(member: &StaffMember, at: DateTime<Utc>, reason: Option<Reason>) -> Self {
        Self { by: member.id.clone(), email: member.email.clone(), at, reason }
    }
}

/// How many bills and how much, per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillTally {
    pub bills: u32,
    /// One total per currency, in currency order.
    pub totals: Vec<Money>,
}

impl BillTally {
    pub fn of<'a>(totals: impl IntoIterator<Item = &'a Money>) -> Self {
        let mut tally = Self::default();
        for t in totals {
            tally.add(t);
        }
        tally
    }

    pub fn add(&mut self, total: &Money) {
        self.bills += 1;
        let currency: Currency = total.currency();
        match self.totals.iter_mut().find(|m| m.currency() == currency) {
            Some(sum) => *sum = Money::new(sum.amount() + total.amount(), currency),
            None => {
                self.totals.push(*total);
                self.totals.sort_by_key(|m| m.currency().to_string());
            }
        }
    }

    pub fn merge(&mut self, other: &BillTally) {
        let bills = self.bills + other.bills;
        for t in &other.totals {
            self.add(t);
        }
        self.bills = bills;
    }
}

/// The reviewed run of one bill date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillRunRecord {
    pub date: NaiveDate,
    pub status: RunStatus,
    /// The last drafting (drafts made again clear an approval: a second person sees every one).
    pub drafted: RunStep,
    /// The drafts that drafting made or found waiting.
    pub drafts: BillTally,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<RunStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalized: Option<RunStep>,
    /// Bills finalized from approved drafts so far.
    #[serde(default)]
    pub finalized_bills: BillTally,
    /// Accounts the last step could not bill, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Every write is conditional on this and increments it.
    pub version: u64,
}

/// Why a run's step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunRefusal {
    /// Four eyes: whoever made the drafts does not approve them.
    OwnDrafts,
    /// The step needs the run in another state (approve: drafted; finalize: approved).
    Status(RunStatus),
    /// Nothing was drafted to approve.
    NoDrafts,
}

impl BillRunRecord {
    /// The record after `step` made (or found) `drafts` for `date`: drafted, any approval gone.
    pub fn drafted(before: Option<&Self>, date: NaiveDate, step: RunStep, drafts: BillTally) -> Self {
        Self {
            date,
            status: RunStatus::Drafted,
            drafted: step,
            drafts,
            approved: None,
            finalized: before.and_then(|b| b.finalized.clone()),
            finalized_bills: before.map(|b| b.finalized_bills.clone()).unwrap_or_default(),
            failures: vec![],
            version: before.map_or(1, |b| b.version + 1),
        }
    }

    /// `step`'s person approves the drafts: not their own, only drafted ones.
    pub fn approve(&self, step: RunStep) -> Result<Self, RunRefusal> {
        if self.status != RunStatus::Drafted {
            return Err(RunRefusal::Status(self.status));
        }
        if self.drafts.bills == 0 {
            return Err(RunRefusal::NoDrafts);
        }
        if step.by == self.drafted.by {
            return Err(RunRefusal::OwnDrafts);
        }
        Ok(Self { status: RunStatus::Approved, approved: Some(step), version: self.version + 1, ..self.clone() })
    }

    /// May `self` be finalized now?
    pub fn may_finalize(&self) -> Result<(), RunRefusal> {
        match self.status {
            RunStatus::Approved => Ok(()),
            other => Err(RunRefusal::Status(other)),
        }
    }

    /// The record after a finalize step billed `bills` (and failed `failures`); `done`: no
    /// approved draft is left (else it stays approved for the next step to go on).
    pub fn finalized(&self, step: RunStep, bills: &BillTally, failures: Vec<String>, done: bool) -> Self {
        let mut finalized_bills = self.finalized_bills.clone();
        finalized_bills.merge(bills);
        Self {
            status: if done { RunStatus::Finalized } else { RunStatus::Approved },
            finalized: Some(step),
            finalized_bills,
            failures,
            version: self.version + 1,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::staff::{ReasonCode, Role};

    fn usd(s: &str) -> Money {
        Money::new(s.parse().unwrap(), "USD".parse().unwrap())
    }

    fn last(total: &str) -> LastBill {
        LastBill { bill_date: "2026-11-01".parse().unwrap(), number: Some("INV-000001".into()), total: usd(total) }
    }

    #[test]
    fn changes_against_the_last_bill() {
        let c = |prev: Option<&str>, now: &str| BillComparison::of(prev.map(last).as_ref(), &usd(now));
        assert_eq!(c(None, "10").flag, ChangeFlag::FirstBill);
        let same = c(Some("1000.00"), "1050.00");
        assert_eq!((same.flag, same.change_percent), (ChangeFlag::Steady, Some("5".parse().unwrap())));
        assert!(!same.flagged());
        // Exactly the threshold is flagged, both ways.
        assert_eq!(c(Some("1000.00"), "1100.00").flag, ChangeFlag::Up);
        assert_eq!(c(Some("1000.00"), "900.00").flag, ChangeFlag::Down);
        assert_eq!(c(Some("1000.00"), "900.01").flag, ChangeFlag::Steady);
        let up = c(Some("300.00"), "1000.00");
        assert_eq!(up.change_percent, Some("233.3".parse().unwrap()));
        assert_eq!(c(Some("0.00"), "5.00").flag, ChangeFlag::Up);
        assert_eq!(c(Some("0.00"), "0.00").flag, ChangeFlag::Steady);
        let eur = LastBill { total: Money::new("10".parse().unwrap(), "EUR".parse().unwrap()), ..last("0") };
        assert_eq!(BillComparison::of(Some(&eur), &usd("10")).flag, ChangeFlag::OtherCurrency);
    }

    #[test]
    fn tallies_per_currency() {
        let eur = Money::new("5.50".parse().unwrap(), "EUR".parse().unwrap());
        let mut t = BillTally::of([&usd("10.00"), &eur, &usd("2.25")]);
        assert_eq!(t.bills, 3);
        assert_eq!(t.totals, vec![eur, usd("12.25")]);
        t.merge(&BillTally::of([&usd("1.00")]));
        assert_eq!((t.bills, t.totals[1]), (4, usd("13.25")));
    }

    fn staff(id: &str) -> StaffMember {
        StaffMember { id: id.into(), email: format!("{id}@seller.example"), roles: vec![Role::Approver] }
    }

    #[test]
    fn four_eyes_on_a_run() {
        let now = Utc::now();
        let date = "2026-12-01".parse().unwrap();
        let why = Reason::parse(ReasonCode::Other, Some("December bills")).ok();
        let drafted =
            BillRunRecord::drafted(None, date, RunStep::by(&staff("c"), now, why), BillTally::of([&usd("9")]));
        assert_eq!((drafted.status, drafted.version), (RunStatus::Drafted, 1));
        assert_eq!(drafted.may_finalize(), Err(RunRefusal::Status(RunStatus::Drafted)));
        assert_eq!(drafted.approve(RunStep::by(&staff("c"), now, None)), Err(RunRefusal::OwnDrafts));
        let approved = drafted.approve(RunStep::by(&staff("a"), now, None)).unwrap();
        assert_eq!((approved.status, approved.version), (RunStatus::Approved, 2));
        assert_eq!(approved.approve(RunStep::by(&staff("b"), now, None)), Err(RunRefusal::Status(RunStatus::Approved)));
        assert!(approved.may_finalize().is_ok());
        // Finalized in two steps (a deadline in between): approved until nothing is left.
        let part = approved.finalized(RunStep::by(&staff("a"), now, None), &BillTally::of([&usd("4")]), vec![], false);
        assert_eq!(part.status, RunStatus::Approved);
        let done = part.finalized(RunStep::by(&staff("a"), now, None), &BillTally::of([&usd("5")]), vec![], true);
        assert_eq!(
            (done.status, done.finalized_bills.bills, done.finalized_bills.totals[0]),
            (RunStatus::Finalized, 2, usd("9"))
        );
        // Drafting again (an account imported late) needs a second person again.
        let again =
            BillRunRecord::drafted(Some(&done), date, RunStep::by(&staff("c"), now, None), BillTally::of([&usd("1")]));
        assert_eq!(
            (again.status, again.approved.is_none(), again.finalized_bills.bills),
            (RunStatus::Drafted, true, 2)
        );
        let empty = BillRunRecord::drafted(None, date, RunStep::by(&staff("c"), now, None), BillTally::default());
        assert_eq!(empty.approve(RunStep::by(&staff("a"), now, None)), Err(RunRefusal::NoDrafts));
    }
}

/// What a bill run does with the accounts it bills (the schedule's mode, or ops' choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RunMode {
    /// Numbered, final bills that go out now.
    #[default]
    Finalize,
    /// Drafts that wait for review and a second person's approval.
    Draft,
    /// Rates and reports, writes nothing.
    DryRun,
}

/// One account handed to a bill-run worker: bill what is due for it on or before `date`. A job
/// may arrive twice, late, or after the account was billed by someone else; billing it is
/// idempotent (the invoice's id is the account and its bill date), so a repeated job finds
/// nothing due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillJob {
    pub account_id: crate::AccountId,
    pub date: NaiveDate,
    pub mode: RunMode,
    /// Finalize only the drafts waiting (reviewed and approved), billing nothing undrafted.
    #[serde(default)]
    pub drafts_only: bool,
    /// When the scheduler handed it out (the run's clock).
    pub dispatched_at: DateTime<Utc>,
}

impl BillJob {
    /// Whether the job is for a bill date the scheduler would hand out (the run's own date or
    /// earlier, never more than a day ahead of the clock that reads it).
    pub fn is_plausible(&self, now: DateTime<Utc>) -> bool {
        self.date <= now.date_naive().succ_opt().unwrap_or(self.date) && self.mode != RunMode::DryRun
    }
}

#[cfg(test)]
mod job_tests {
    use super::*;
    use chrono::TimeZone;

    fn job(date: &str, mode: RunMode) -> BillJob {
        BillJob {
            account_id: "acct_one".parse().unwrap(),
            date: date.parse().unwrap(),
            mode,
            drafts_only: false,
            dispatched_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_worker_bills_jobs_up_to_a_day_ahead_of_its_clock_and_never_a_dry_run() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 23, 59, 0).unwrap();
        assert!(job("2026-11-01", RunMode::Finalize).is_plausible(now));
        assert!(job("2026-12-02", RunMode::Draft).is_plausible(now), "a scheduler's clock a little ahead");
        assert!(!job("2026-12-03", RunMode::Finalize).is_plausible(now));
        assert!(!job("2026-12-01", RunMode::DryRun).is_plausible(now));
    }

    #[test]
    fn a_job_reads_back_what_the_scheduler_sent() {
        let sent = job("2026-12-01", RunMode::Finalize);
        let body = serde_json::to_string(&sent).unwrap();
        assert_eq!(serde_json::from_str::<BillJob>(&body).unwrap(), sent);
        assert!(body.contains("\"mode\":\"finalize\""), "{body}");
        // drafts_only may be left out.
        let short =
            r#"{"account_id":"acct_one","date":"2026-12-01","mode":"draft","dispatched_at":"2026-12-01T09:00:00Z"}"#;
        assert!(!serde_json::from_str::<BillJob>(short).unwrap().drafts_only);
        assert!(
            serde_json::from_str::<BillJob>(
                r#"{"account_id":"nope","date":"2026-12-01","mode":"draft","dispatched_at":"2026-12-01T09:00:00Z"}"#
            )
            .is_err()
        );
    }
}
