//! The bill run of contract (invoice-mode) accounts.
//!
//! For each account whose next bill date has come, in bill-date order:
//! 1. **Close** its usage bucket: the open bucket moves to the following bill, so usage arriving
//!    from now on (late or not) goes there; a usage write that read the old bucket fails its check
//!    and is retried into the new one.
//! 2. **Rate** the contract for the bill date with the closed bucket's usage.
//! 3. **Finalize** in one transaction: the invoice (id = account + bill date, so only one can
//!    exist), its number from the seller's gap-free sequence, the contract with what it billed and
//!    its next bill date, the balance due, and the `bill_ready` work item the mailer sends.
//!
//! Each step is conditional on the contract version it read. A run that crashes resumes where it
//! stopped (a closed bucket is read again, a draft is finalized); a second run at the same time
//! loses the condition, re-reads, finds the account billed and moves on. So every account gets
//! exactly one invoice per bill date, however often the run is retried.
//!
//! Modes: `finalize` (the schedule), `draft` (leaves drafts for review; a later `finalize` run
//! finalizes them), `dry_run` (rates and returns the invoices, writes nothing).
//!
//! A scheduled run (every due account) also queues what is due by the run's clock: the cohorts'
//! "new bill format" notices, and the payment reminder each unpaid contract bill has reached on
//! the seller's schedule (once per bill and step; not for accounts ops paused).

use billing_domain::Change;
use billing_domain::retry::{CONFLICT_ATTEMPTS, Retry};
use std::sync::Arc;
use std::time::{Duration, Instant};

use billing_domain::bill_runs::{BillComparison, LastBill};
use billing_domain::billing::WorkItem;
use billing_domain::contract::{ContractAccount, Draft};
use billing_domain::invoice::Invoice;
use billing_domain::ledger::{self, Cohort};
use billing_domain::ports::{BillRunStore, Sequence, Taken};
use billing_domain::receivables::{Receivable, ReminderSchedule, reminder};
use billing_domain::tax::TaxSetup;
use billing_domain::{AccountId, Error as DomainError, Money};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("account {0} changed under {1} attempts in a row; left for the next run")]
    Contended(AccountId, u32),
    #[error("{0}")]
    Missing(String),
    /// The seller's tax data does not cover this bill: fixed by ops, then the next run bills it.
    #[error("the bill's tax cannot be worked out: {0}")]
    Tax(#[from] billing_domain::tax::TaxError),
}

impl RunError {
    /// Whether the run should be retried (the schedule retries it anyway).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Domain(DomainError::Unavailable(_)) | Self::Contended(..))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Finalize,
    Draft,
    DryRun,
}

/// What to run. Every field has a default: the schedule sends `{}`-like events.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunRequest {
    #[serde(default)]
    pub mode: Mode,
    /// Bill what is due on or before this date (default: today, UTC).
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// Only these accounts (default: every due account).
    #[serde(default)]
    pub accounts: Option<Vec<AccountId>>,
    /// Finalize only the drafts waiting for the date (reviewed and approved), billing nothing
    /// that was not drafted.
    #[serde(default)]
    pub drafts_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// Finalized now (more than one when the account was behind).
    Finalized,
    Drafted,
    /// Dry run: what would be billed.
    WouldBill,
    /// The period had nothing to bill; the account moved on to its next bill date.
    NothingToBill,
    NotDue,
    /// A draft for this date waits for review (draft and dry-run modes: the draft is shown).
    DraftPending,
    /// Finalizing drafts only: the account is due but has no draft, so it was left alone.
    NotDrafted,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountResult {
    pub account_id: AccountId,
    pub bill_date: NaiveDate,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    /// Dry run: the invoice it would make.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
    /// Dry run and drafts: the bill against the account's last one (flagged when it moved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<BillComparison>,
    /// Usage records no item priced (logged, left out of the bill).
    #[serde(skip_serializing_if = "is_zero")]
    pub unrated_usage: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Something the run could not do: bill an account, or a step of its own (the index, notices).
#[derive(Debug, Clone, Serialize)]
pub struct AccountFailure {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    /// `bill`, `due_index`, `notices` or `reminders`.
    pub step: &'static str,
    pub error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub date: NaiveDate,
    pub mode: Mode,
    pub results: Vec<AccountResult>,
    pub failures: Vec<AccountFailure>,
    pub notices_queued: usize,
    /// Payment reminders queued for the mailer.
    pub reminders_queued: usize,
    /// Stopped at the deadline with due accounts left: the next run continues.
    pub more: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `INV` → `INV-000042`.
    pub invoice_prefix: String,
    /// Accounts billed at once.
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { invoice_prefix: "INV".into(), concurrency: 8 }
    }
}

/// An account more than this many bills behind is caught up over several runs.
const MAX_CATCH_UP: usize = 12;

pub struct BillRun<S> {
    store: Arc<S>,
    settings: Settings,
    /// Numbers are taken one at a time within a run (accounts are rated in parallel): the
    /// sequence is one item, and parallel takers would only make each other retry. Holds the
    /// last number this process took, so the next take needs no read unless another process
    /// (a concurrent run, a retry) moved the sequence meanwhile.
    numbering: Arc<tokio::sync::Mutex<Option<u64>>>,
}

impl<S> Clone for BillRun<S> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), settings: self.settings.clone(), numbering: self.numbering.clone() }
    }
}

impl<S: BillRunStore + 'static> BillRun<S> {
    pub fn new(store: S, settings: Settings) -> Self {
        Self::from_arc(Arc::new(store), settings)
    }

    pub fn from_arc(store: Arc<S>, settings: Settings) -> Self {
        Self { store, settings, numbering: Arc::default() }
    }

    /// Runs the bill run for `request`, stopping (with `more`) once `deadline` is near.
    pub async fn run(&self, request: &RunRequest, now: DateTime<Utc>, deadline: Option<Instant>) -> RunReport {
        let date = request.date.unwrap_or_else(|| now.date_naive());
        let mut report = RunReport {
            date,
            mode: request.mode,
            results: vec![],
            failures: vec![],
            notices_queued: 0,
            reminders_queued: 0,
            more: false,
        };
        if request.mode != Mode::DryRun && request.accounts.is_none() {
            // Notices go by the real date, not the date billed through (a re-run of a past date
            // must not send notices that were not due then).
            match self.queue_notices(now.date_naive(), now).await {
                Ok(n) => report.notices_queued = n,
                Err(e) => {
                    report.failures.push(AccountFailure { account_id: None, step: "notices", error: e.to_string() })
                }
            }
            match self.queue_reminders(now.date_naive(), now).await {
                Ok((queued, failures)) => {
                    report.reminders_queued = queued;
                    report.failures.extend(failures);
                }
                Err(e) => {
                    report.failures.push(AccountFailure { account_id: None, step: "reminders", error: e.to_string() })
                }
            }
        }
        // The seller's tax data, read once for every account of the run.
        let taxes = match self.store.tax_setup().await {
            Ok(t) => Arc::new(t),
            Err(e) => {
                report.failures.push(AccountFailure { account_id: None, step: "taxes", error: e.to_string() });
                return report;
            }
        };
        let near = |d: &Option<Instant>| d.is_some_and(|d| Instant::now() + Duration::from_secs(20) >= d);
        let mut cursor: Option<String> = None;
        loop {
            let ids: Vec<AccountId> = match &request.accounts {
                Some(ids) => ids.clone(),
                None => match self.store.due_accounts(date, 100, cursor.as_deref()).await {
                    Ok(page) => {
                        cursor = page.next;
                        page.items
                    }
                    Err(e) => {
                        report.failures.push(AccountFailure {
                            account_id: None,
                            step: "due_index",
                            error: e.to_string(),
                        });
                        return report;
                    }
                },
            };
            let outcomes: Vec<(AccountId, Result<Vec<AccountResult>, RunError>)> = futures::stream::iter(ids)
                .map(|id| {
                    let taxes = taxes.clone();
                    async move {
                        let r = self.bill_account(&id, date, request.mode, request.drafts_only, &taxes, now).await;
                        (id, r)
                    }
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
            for (id, outcome) in outcomes {
                match outcome {
                    Ok(results) => report.results.extend(results),
                    Err(e) => {
                        tracing::error!(account_id = %id, error = %e, "account not billed");
                        report.failures.push(AccountFailure {
                            account_id: Some(id),
                            step: "bill",
                            error: e.to_string(),
                        });
                    }
                }
            }
            if request.accounts.is_some() || cursor.is_none() {
                break;
            }
            if near(&deadline) {
                report.more = true;
                break;
            }
        }
        report
    }

    /// Bills one account for every bill date due on or before `date` (up to [`MAX_CATCH_UP`]).
    pub async fn bill_account(
        &self,
        id: &AccountId,
        date: NaiveDate,
        mode: Mode,
        drafts_only: bool,
        taxes: &TaxSetup,
        now: DateTime<Utc>,
    ) -> Result<Vec<AccountResult>, RunError> {
        let mut results = Vec::new();
        for _ in 0..MAX_CATCH_UP {
            let result = self.bill_once(id, date, mode, drafts_only, taxes, now).await?;
            let go_on = matches!(result.outcome, Outcome::Finalized | Outcome::NothingToBill) && mode == Mode::Finalize;
            let not_due = matches!(result.outcome, Outcome::NotDue | Outcome::NotDrafted);
            if !not_due || results.is_empty() {
                results.push(result);
            }
            if !go_on || not_due {
                break;
            }
        }
        // A trailing "not due" after bills made says nothing new.
        if results.len() > 1 {
            results.retain(|r| !matches!(r.outcome, Outcome::NotDue | Outcome::NotDrafted));
        }
        Ok(results)
    }

    /// One bill date of one account, retried on lost conditions.
    async fn bill_once(
        &self,
        id: &AccountId,
        date: NaiveDate,
        mode: Mode,
        drafts_only: bool,
        taxes: &TaxSetup,
        now: DateTime<Utc>,
    ) -> Result<AccountResult, RunError> {
        // A lost condition is retried (re-reading each time) before the account is left for the
        // next run.
        let mut retry = Retry::on_conflict();
        while retry.attempt().await {
            match self.try_bill(id, date, mode, drafts_only, taxes, now).await {
                Err(RunError::Domain(DomainError::Conflict)) => {
                    tracing::info!(account_id = %id, attempt = retry.made(), "state moved; reading again");
                }
                other => return other,
            }
        }
        Err(RunError::Contended(id.clone(), CONFLICT_ATTEMPTS))
    }

    async fn try_bill(
        &self,
        id: &AccountId,
        date: NaiveDate,
        mode: Mode,
        drafts_only: bool,
        taxes: &TaxSetup,
        now: DateTime<Utc>,
    ) -> Result<AccountResult, RunError> {
        let mut state = self
            .store
            .contract_account(id)
            .await?
            .ok_or_else(|| RunError::Missing(format!("no contract for account {id}")))?;
        let bill_date = state.next_bill_date;
        let result = |outcome, invoice: Option<&Invoice>| AccountResult {
            account_id: id.clone(),
            bill_date,
            outcome,
            invoice_id: invoice.map(|i| i.id.clone()),
            number: invoice.and_then(|i| i.number.clone()),
            total: invoice.map(|i| i.total),
            invoice: None,
            compared: None,
            unrated_usage: 0,
        };
        let last_bill = state.last_bill.clone();
        let compared = |invoice: &Invoice| Some(BillComparison::of(last_bill.as_ref(), &invoice.total));
        if bill_date > date {
            return Ok(result(Outcome::NotDue, None));
        }

        // A draft for this date: finalize it (resume, or review done), or leave it.
        if let Some(draft) = state.draft.clone().filter(|d| d.bill_date == bill_date) {
            let invoice = self
                .store
                .bill(id, &draft.invoice_id)
                .await?
                .ok_or_else(|| RunError::Missing(format!("draft {} of {id}", draft.invoice_id)))?;
            return match mode {
                Mode::Draft => {
                    Ok(AccountResult { compared: compared(&invoice), ..result(Outcome::DraftPending, Some(&invoice)) })
                }
                Mode::DryRun => Ok(AccountResult {
                    compared: compared(&invoice),
                    invoice: Some(invoice.clone()),
                    ..result(Outcome::DraftPending, Some(&invoice))
                }),
                Mode::Finalize => {
                    let mut after = state.clone();
                    after.draft = None;
                    self.finalize(&state, after, invoice, true, now)
                        .await
                        .map(|inv| result(Outcome::Finalized, Some(&inv)))
                }
            };
        }

        if drafts_only && mode == Mode::Finalize {
            return Ok(result(Outcome::NotDrafted, None));
        }
        if mode == Mode::DryRun {
            let usage = self.store.bucket_usage(id, bill_date).await?;
            let (rated, invoice) = state.draft_bill(bill_date, &usage, taxes, now)?;
            let nothing = rated.lines.is_empty();
            let mut r = result(if nothing { Outcome::NothingToBill } else { Outcome::WouldBill }, None);
            r.total = Some(invoice.total);
            r.unrated_usage = rated.unrated.len();
            if !nothing {
                r.compared = compared(&invoice);
                r.invoice = Some(invoice);
            }
            return Ok(r);
        }

        // 1. Close the bucket.
        let following = state.following_bill(bill_date);
        if state.usage_bucket <= bill_date {
            let mut closed = state.clone();
            closed.usage_bucket = following;
            closed.version += 1;
            self.store.save_contract(&state, &closed).await?;
            state = closed;
        }

        // 2. Rate.
        let usage = self.store.bucket_usage(id, bill_date).await?;
        let (rated, invoice) = state.draft_bill(bill_date, &usage, taxes, now)?;
        if !rated.unrated.is_empty() {
            tracing::warn!(account_id = %id, records = rated.unrated.len(), "usage no item prices was left out");
        }
        let mut after = state.clone();
        after.contract = rated.contract.clone();
        after.version += 1;
        if rated.lines.is_empty() {
            after.next_bill_date = following;
            self.store.save_contract(&state, &after).await?;
            let mut r = result(Outcome::NothingToBill, None);
            r.unrated_usage = rated.unrated.len();
            return Ok(r);
        }

        // 3. Draft, or finalize.
        if mode == Mode::Draft {
            after.draft =
                Some(Draft { invoice_id: invoice.id.clone(), bill_date, contract_before: state.contract.clone() });
            self.store.save_draft(&state, &after, &invoice).await?;
            return Ok(AccountResult {
                unrated_usage: rated.unrated.len(),
                compared: compared(&invoice),
                ..result(Outcome::Drafted, Some(&invoice))
            });
        }
        let invoice = self.finalize(&state, after, invoice, false, now).await?;
        Ok(AccountResult { unrated_usage: rated.unrated.len(), ..result(Outcome::Finalized, Some(&invoice)) })
    }

    /// Numbers and finalizes `invoice` with the contract moved to its next bill date, in one
    /// write. `after` is the state to write; finalize sets its version (one past `before`), next
    /// bill date, bill revision and credit.
    async fn finalize(
        &self,
        before: &ContractAccount,
        mut after: ContractAccount,
        mut invoice: Invoice,
        replaces_draft: bool,
        now: DateTime<Utc>,
    ) -> Result<Invoice, RunError> {
        let mut last = self.numbering.lock().await;
        let previous = match *last {
            Some(n) => n,
            None => self.store.sequence(Sequence::Invoice).await?,
        };
        let taken = Taken { sequence: Sequence::Invoice, previous };
        let number = ledger::invoice_number(&self.settings.invoice_prefix, taken.number());
        let finalized = ledger::finalize(&mut invoice, number, now, before.terms, before.credit)?;
        invoice.stamp.event_id = format!("billrun:finalize:{}", invoice.id);
        // The account summary is cut off now: payments and credit notes recorded before this
        // write are in it (they changed the contract version this write is conditional on).
        let (summary, since) = before.since_last_bill().summarize(now.date_naive(), invoice.total);
        invoice.account_summary = Some(summary);
        after.since_last_bill = Some(since);
        after.credit =
            Money::new(after.credit.amount() - finalized.credit_applied.amount(), after.credit.currency()).rounded();
        after.next_bill_date = before.following_bill(before.next_bill_date);
        after.last_bill =
            Some(LastBill { bill_date: before.next_bill_date, number: invoice.number.clone(), total: invoice.total });
        after.bill_revision = 0;
        after.version = before.version + 1;
        let work = WorkItem::BillReady {
            account_id: invoice.account_id.clone(),
            invoice_id: invoice.id.clone(),
            event_id: invoice.id.clone(),
        };
        match self.store.finalize_bill(Change::new(before, &after), &invoice, replaces_draft, taken, &work, now).await {
            Ok(()) => *last = Some(taken.number()),
            Err(e) => {
                // Read the sequence afresh next time: another process may have moved it.
                *last = None;
                return Err(e.into());
            }
        }
        drop(last);
        tracing::info!(
            account_id = %invoice.account_id,
            invoice_id = %invoice.id,
            number = invoice.number.as_deref().unwrap_or_default(),
            total = %invoice.total,
            "bill finalized"
        );
        Ok(invoice)
    }

    /// Queues the "new bill format" notice for every account of each cohort whose notice is due
    /// and not yet queued. Returns how many were queued now.
    pub async fn queue_notices(&self, today: NaiveDate, now: DateTime<Utc>) -> Result<usize, RunError> {
        let mut queued = 0;
        for cohort in self.store.cohorts().await? {
            if cohort.notices_queued_on.is_some() || !cohort.notice_due(today) {
                continue;
            }
            for account in self.store.cohort_accounts(&cohort.id).await? {
                if let Some(work) = self.notice_for(&cohort, &account).await?
                    && self.store.queue_work(&work, now).await?
                {
                    queued += 1;
                }
            }
            let done = Cohort { notices_queued_on: Some(today), ..cohort };
            self.store.mark_notices_queued(&done).await?;
        }
        Ok(queued)
    }

    /// Queues the payment reminder each unpaid contract bill has reached on `today` (the
    /// seller's schedule, relative to the due date): the latest step reached, once per bill and
    /// step; none for accounts whose reminders ops paused. Returns how many were queued now, and
    /// the bills it could not look at (the next run tries them again).
    pub async fn queue_reminders(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(usize, Vec<AccountFailure>), RunError> {
        let schedule = self.store.reminder_schedule().await?;
        if schedule.offsets().is_empty() {
            return Ok((0, vec![]));
        }
        let through = today.checked_add_days(chrono::Days::new(schedule.lead_days().unsigned_abs())).unwrap_or(today);
        let (mut queued, mut failures) = (0, Vec::new());
        let mut cursor: Option<String> = None;
        loop {
            let page = self.store.receivables(Some(through), 500, cursor.as_deref()).await?;
            // Only bills with a step reached are looked at further.
            let reached = page
                .items
                .into_iter()
                .filter(|r| ledger::is_contract_bill(&r.invoice_id) && schedule.step_due(r.due, today, &[]).is_some());
            let outcomes: Vec<(Receivable, Result<bool, RunError>)> = futures::stream::iter(reached)
                .map(|r| {
                    let schedule = &schedule;
                    async move {
                        let outcome = self.remind(schedule, &r, today, now).await;
                        (r, outcome)
                    }
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .collect()
                .await;
            for (r, outcome) in outcomes {
                match outcome {
                    Ok(true) => queued += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(account_id = %r.account_id, invoice_id = %r.invoice_id, error = %e, "reminder not queued");
                        failures.push(AccountFailure {
                            account_id: Some(r.account_id),
                            step: "reminders",
                            error: e.to_string(),
                        });
                    }
                }
            }
            cursor = page.next;
            if cursor.is_none() {
                return Ok((queued, failures));
            }
        }
    }

    /// Queues `r`'s reminder for `today` if one is due, unsent and not paused.
    async fn remind(
        &self,
        schedule: &ReminderSchedule,
        r: &Receivable,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, RunError> {
        let (sent, contract) = tokio::try_join!(
            self.store.reminders_sent(&r.account_id, &r.invoice_id),
            self.store.contract_account(&r.account_id)
        )?;
        if contract.is_some_and(|c| c.reminders_paused) {
            return Ok(false);
        }
        let Some(step) = schedule.step_due(r.due, today, &sent) else { return Ok(false) };
        let queued = self.store.queue_reminder(&reminder(&r.account_id, &r.invoice_id, step, today), now).await?;
        if queued {
            tracing::info!(account_id = %r.account_id, invoice_id = %r.invoice_id, step, "payment reminder queued");
        }
        Ok(queued)
    }

    async fn notice_for(&self, cohort: &Cohort, account: &AccountId) -> Result<Option<WorkItem>, RunError> {
        Ok(self.store.contract_account(account).await?.map(|state| notice(cohort, &state)))
    }
}

/// The notice work item of an account in a cohort (one per account and cohort).
pub fn notice(cohort: &Cohort, state: &ContractAccount) -> WorkItem {
    WorkItem::BillFormatNotice {
        account_id: state.account_id.clone(),
        cohort: cohort.id.clone(),
        go_live: cohort.go_live,
        first_bill_date: cohort.first_bill_date(state.contract.bill_day),
        event_id: format!("cohort:{}", cohort.id),
    }
}
