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
//! **Fanned out** (the schedule, in AWS): [`BillRun::dispatch`] lists the due accounts and hands
//! each to the workers as a [`BillJob`] through a queue; each worker ([`BillRun::bill_job`], the
//! `bill-run-worker` function) bills its jobs as above, side by side with the others. A job that
//! comes twice finds its account billed; a worker that crashes mid-job leaves a state the next
//! attempt resumes from; a job that keeps failing ends in the dead-letter queue. The numbers come
//! from the one sequence item, taken in each bill's own write (see [`BillRun::finalize`]).
//!
//! A scheduled run (every due account) also queues what is due by the run's clock: the cohorts'
//! "new bill format" notices, and the payment reminder each unpaid contract bill has reached on
//! the seller's schedule (once per bill and step; not for accounts ops paused).

use billing_domain::Change;
use billing_domain::retry::{CONFLICT_ATTEMPTS, Retry};
use std::sync::Arc;
use std::time::{Duration, Instant};

use billing_domain::bill_runs::{BillComparison, BillJob, LastBill};
use billing_domain::billing::WorkItem;
use billing_domain::contract::{ContractAccount, Draft};
use billing_domain::invoice::Invoice;
use billing_domain::ledger::{self, Cohort};
use billing_domain::ports::{BillJobQueue, BillRunStore, Sequence, Taken};
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
    /// A job no worker may bill (a dry run, a date ahead of the clock).
    #[error("{0}")]
    Job(String),
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

pub use billing_domain::bill_runs::RunMode as Mode;

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
    /// `bill`, `due_index`, `notices`, `reminders`, `taxes`, `queue` or `dispatch`.
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

/// A scheduled run that hands its accounts to workers: how many, and what it queued itself.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchReport {
    pub date: NaiveDate,
    pub mode: Mode,
    /// Jobs handed out (one per due account).
    pub dispatched: usize,
    /// Jobs of an earlier run still queued; when not zero, nothing new was handed out.
    pub backlog: u64,
    pub notices_queued: usize,
    pub reminders_queued: usize,
    pub failures: Vec<AccountFailure>,
    /// Stopped at the deadline with due accounts left: the next run continues.
    pub more: bool,
}

#[derive(Default)]
struct MailQueued {
    notices: usize,
    reminders: usize,
    failures: Vec<AccountFailure>,
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

/// Due accounts read (and jobs handed out) per page of the due index.
const DISPATCH_PAGE: u16 = 500;

/// A finalize that lost only its number (another worker took it) is made again with the next one
/// up to this many times in a row before the account is read again from the start.
const SEQUENCE_ATTEMPTS: u32 = 64;

pub struct BillRun<S> {
    store: Arc<S>,
    settings: Settings,
    /// Numbers are taken one at a time within a run (accounts are rated in parallel): the
    /// sequence is one item, and parallel takers would only make each other retry. Holds the
    /// last number this process took, so the next take needs no read unless another process
    /// (a concurrent run, a retry) moved the sequence meanwhile.
    numbering: Arc<tokio::sync::Mutex<Option<u64>>>,
    /// Finalizes made again because another process took the number first (contention on the
    /// sequence item, for the log and the benchmark).
    numbers_lost: Arc<std::sync::atomic::AtomicU64>,
}

impl<S> Clone for BillRun<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            settings: self.settings.clone(),
            numbering: self.numbering.clone(),
            numbers_lost: self.numbers_lost.clone(),
        }
    }
}

impl<S: BillRunStore + 'static> BillRun<S> {
    pub fn new(store: S, settings: Settings) -> Self {
        Self::from_arc(Arc::new(store), settings)
    }

    pub fn from_arc(store: Arc<S>, settings: Settings) -> Self {
        Self { store, settings, numbering: Arc::default(), numbers_lost: Arc::default() }
    }

    /// How many finalizes this bill run (and its clones) made again with the next number because
    /// another process had taken theirs.
    pub fn numbers_lost(&self) -> u64 {
        self.numbers_lost.load(std::sync::atomic::Ordering::Relaxed)
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
            let mail = self.queue_mail_due(now).await;
            (report.notices_queued, report.reminders_queued) = (mail.notices, mail.reminders);
            report.failures.extend(mail.failures);
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
            let ids = match self.next_accounts(request, date, 100, &mut cursor).await {
                Ok(ids) => ids,
                Err(failure) => {
                    report.failures.push(failure);
                    return report;
                }
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

    /// The next accounts to bill or hand out: the request's own list, or the next `page` of the
    /// due index from `cursor` (which moves on, and is `None` after the last page).
    async fn next_accounts(
        &self,
        request: &RunRequest,
        date: NaiveDate,
        page: u16,
        cursor: &mut Option<String>,
    ) -> Result<Vec<AccountId>, AccountFailure> {
        if let Some(ids) = &request.accounts {
            return Ok(ids.clone());
        }
        let due = self.store.due_accounts(date, page, cursor.as_deref()).await.map_err(|e| AccountFailure {
            account_id: None,
            step: "due_index",
            error: e.to_string(),
        })?;
        *cursor = due.next;
        Ok(due.items)
    }

    /// What a scheduled run queues by its clock besides bills: cohort notices and reminders.
    async fn queue_mail_due(&self, now: DateTime<Utc>) -> MailQueued {
        let mut queued = MailQueued::default();
        // Notices go by the real date, not the date billed through (a re-run of a past date must
        // not send notices that were not due then).
        match self.queue_notices(now.date_naive(), now).await {
            Ok(n) => queued.notices = n,
            Err(e) => queued.failures.push(AccountFailure { account_id: None, step: "notices", error: e.to_string() }),
        }
        match self.queue_reminders(now.date_naive(), now).await {
            Ok((n, failures)) => {
                queued.reminders = n;
                queued.failures.extend(failures);
            }
            Err(e) => {
                queued.failures.push(AccountFailure { account_id: None, step: "reminders", error: e.to_string() })
            }
        }
        queued
    }

    /// The scheduled run when workers bill: queues what is due by the clock (notices,
    /// reminders), then hands every account due on or before the request's date to the workers
    /// through `queue`, one job each, in bill-date order, stopping (with `more`) near `deadline`.
    ///
    /// Nothing is handed out while the last run's jobs are still in the queue (the workers are
    /// behind, or retrying): the accounts they hold are still due, and handing them out again
    /// every hour would only pile up duplicates. The first run after the queue drains hands out
    /// whatever is still due, including accounts whose jobs went to the dead-letter queue.
    pub async fn dispatch<Q: BillJobQueue + ?Sized>(
        &self,
        queue: &Q,
        request: &RunRequest,
        now: DateTime<Utc>,
        deadline: Option<Instant>,
    ) -> DispatchReport {
        let date = request.date.unwrap_or_else(|| now.date_naive());
        let mut report = DispatchReport {
            date,
            mode: request.mode,
            dispatched: 0,
            backlog: 0,
            notices_queued: 0,
            reminders_queued: 0,
            failures: vec![],
            more: false,
        };
        if request.mode == Mode::DryRun {
            report.failures.push(AccountFailure {
                account_id: None,
                step: "dispatch",
                error: "a dry run reports what it would bill: run it in place, not through workers".into(),
            });
            return report;
        }
        if request.accounts.is_none() {
            let mail = self.queue_mail_due(now).await;
            (report.notices_queued, report.reminders_queued) = (mail.notices, mail.reminders);
            report.failures.extend(mail.failures);
        }
        match queue.backlog().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(backlog = n, "the last run's jobs are still queued; handing out nothing new");
                report.backlog = n;
                return report;
            }
            Err(e) => {
                report.failures.push(AccountFailure { account_id: None, step: "queue", error: e.to_string() });
                return report;
            }
        }
        let job = |account_id: AccountId| BillJob {
            account_id,
            date,
            mode: request.mode,
            drafts_only: request.drafts_only,
            dispatched_at: now,
        };
        let near = |d: &Option<Instant>| d.is_some_and(|d| Instant::now() + Duration::from_secs(20) >= d);
        let mut cursor: Option<String> = None;
        loop {
            let ids = match self.next_accounts(request, date, DISPATCH_PAGE, &mut cursor).await {
                Ok(ids) => ids,
                Err(failure) => {
                    report.failures.push(failure);
                    return report;
                }
            };
            let jobs: Vec<BillJob> = ids.into_iter().map(job).collect();
            if let Err(e) = queue.send(&jobs).await {
                // Whatever was not sent is still due: the next run hands it out.
                report.failures.push(AccountFailure { account_id: None, step: "queue", error: e.to_string() });
                return report;
            }
            report.dispatched += jobs.len();
            if request.accounts.is_some() || cursor.is_none() {
                break;
            }
            if near(&deadline) {
                report.more = true;
                break;
            }
        }
        tracing::info!(date = %date, dispatched = report.dispatched, "bill jobs handed out");
        report
    }

    /// A worker's job: bills its account for what is due on or before the job's date. The
    /// seller's tax data is read once per batch by the caller.
    pub async fn bill_job(
        &self,
        job: &BillJob,
        taxes: &TaxSetup,
        now: DateTime<Utc>,
    ) -> Result<Vec<AccountResult>, RunError> {
        if !job.is_plausible(now) {
            return Err(RunError::Job(format!(
                "a {:?} job for {} cannot be billed on {}",
                job.mode,
                job.date,
                now.date_naive()
            )));
        }
        self.bill_account(&job.account_id, job.date, job.mode, job.drafts_only, taxes, now).await
    }

    /// The seller's tax data (read once per run, or per batch of jobs).
    pub async fn taxes(&self) -> Result<TaxSetup, RunError> {
        Ok(self.store.tax_setup().await?)
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
    ///
    /// The number is the seller's sequence item plus one, taken in the same transaction
    /// (conditional on the item still holding what was read), so numbers are gap-free and follow
    /// the order bills are written in, whichever worker writes them. Workers side by side contend
    /// for that one item: a write that lost only the number (the sequence moved, the contract did
    /// not) is made again at once with the next number, without rating again.
    async fn finalize(
        &self,
        before: &ContractAccount,
        after: ContractAccount,
        invoice: Invoice,
        replaces_draft: bool,
        now: DateTime<Utc>,
    ) -> Result<Invoice, RunError> {
        let mut last = self.numbering.lock().await;
        let mut previous = match *last {
            Some(n) => n,
            None => self.store.sequence(Sequence::Invoice).await?,
        };
        let mut lost = 0;
        loop {
            let taken = Taken { sequence: Sequence::Invoice, previous };
            let (numbered, state, work) = self.numbered(before, after.clone(), invoice.clone(), taken, now)?;
            match self
                .store
                .finalize_bill(Change::new(before, &state), &numbered, replaces_draft, taken, &work, now)
                .await
            {
                Ok(()) => {
                    *last = Some(taken.number());
                    drop(last);
                    tracing::info!(
                        account_id = %numbered.account_id,
                        invoice_id = %numbered.id,
                        number = numbered.number.as_deref().unwrap_or_default(),
                        total = %numbered.total,
                        "bill finalized"
                    );
                    return Ok(numbered);
                }
                Err(DomainError::Conflict) => {
                    // Read the sequence afresh: another worker may have moved it.
                    *last = None;
                    let now_at = self.store.sequence(Sequence::Invoice).await?;
                    if now_at == previous || lost >= SEQUENCE_ATTEMPTS {
                        // The contract (or the draft) moved: the caller reads it again.
                        return Err(DomainError::Conflict.into());
                    }
                    lost += 1;
                    self.numbers_lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(account_id = %before.account_id, previous, now_at, "number taken meanwhile; taking the next");
                    previous = now_at;
                }
                Err(e) => {
                    *last = None;
                    return Err(e.into());
                }
            }
        }
    }

    /// The bill numbered `taken`, the contract state after it, and the work item that mails it.
    fn numbered(
        &self,
        before: &ContractAccount,
        mut after: ContractAccount,
        mut invoice: Invoice,
        taken: Taken,
        now: DateTime<Utc>,
    ) -> Result<(Invoice, ContractAccount, WorkItem), RunError> {
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
        Ok((invoice, after, work))
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
