//! Ports: what the domain needs from storage, as narrow traits. A function is given only the
//! traits (and the IAM actions behind them) it uses. Adapters live in other crates.
//!
//! Every write that changes an account also appends its audit entry in the same atomic write.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Change;
use crate::account::Account;
use crate::audit::AuditEntry;
use crate::error::Result;
use crate::ids::{AccountId, AuditId, Email, MemberId, UserId};
use crate::ledger::{CreditNote, ReceivedPayment};
use crate::member::Member;

/// A claimed idempotency key for account creation: the key's scope (caller and key, hashed), the
/// fingerprint of the request it was first used with, and what that request created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub scope: String,
    pub fingerprint: String,
    pub account_id: AccountId,
    pub created_at: DateTime<Utc>,
}

/// The result of creating an account under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    Created,
    /// The key was already claimed (possibly by a concurrent request): here is its record.
    AlreadyClaimed(IdempotencyRecord),
}

#[async_trait]
pub trait AccountReader: Send + Sync {
    async fn account(&self, id: &AccountId) -> Result<Option<Account>>;
}

#[async_trait]
pub trait AccountWriter: Send + Sync {
    /// Writes the account, its founding admin and the audit entry together, and claims
    /// `idempotency` if given. Nothing is written when the key is already claimed.
    async fn create_account(
        &self,
        account: &Account,
        founder: &Member,
        audit: &AuditEntry,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Creation>;

    /// Replaces the account's profile with `after` if it is still at `after.version - 1`,
    /// otherwise `Error::Conflict`.
    async fn save_account(&self, after: &Account, audit: &AuditEntry) -> Result<()>;
}

#[async_trait]
pub trait IdempotencyReader: Send + Sync {
    async fn idempotency_record(&self, scope: &str) -> Result<Option<IdempotencyRecord>>;
}

#[async_trait]
pub trait MemberReader: Send + Sync {
    /// The caller's membership of an account, read strongly consistently: this is what every
    /// authorization decision uses.
    async fn membership(&self, account: &AccountId, user: &UserId) -> Result<Option<Member>>;
    async fn member(&self, account: &AccountId, id: &MemberId) -> Result<Option<Member>>;
    async fn member_by_email(&self, account: &AccountId, email: &Email) -> Result<Option<Member>>;
    async fn members(&self, account: &AccountId) -> Result<Vec<Member>>;
    /// Every account the user is an active member of.
    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Member>>;
    /// Every open invitation for this e-mail address, across accounts.
    async fn invitations_for(&self, email: &Email) -> Result<Vec<Member>>;
}

#[async_trait]
pub trait MemberWriter: Send + Sync {
    /// `Error::MemberExists` when the e-mail already belongs to the account.
    async fn add_member(&self, member: &Member, audit: &AuditEntry) -> Result<()>;
    /// Role change or activation. `Error::Conflict` when the stored member is no longer `before`,
    /// `Error::LastAdmin` when it would leave no active admin, `Error::AlreadyMember` when an
    /// activating user already has another membership of the account.
    async fn update_member(&self, before: &Member, after: &Member, audit: &AuditEntry) -> Result<()>;
    /// `Error::LastAdmin` when it would leave no active admin; `Error::Conflict` when the stored
    /// member changed meanwhile.
    async fn remove_member(&self, member: &Member, audit: &AuditEntry) -> Result<()>;
}

/// One page of audit entries, newest first, and where the next page starts.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<AuditId>,
}

#[async_trait]
pub trait AuditReader: Send + Sync {
    /// Newest first; `before` continues a previous page.
    async fn audit(&self, account: &AccountId, limit: u16, before: Option<&AuditId>) -> Result<AuditPage>;
}

/// Whether a ledgered write happened now or had happened before (a redelivered event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Now,
    AlreadyRecorded,
}

/// Parked events of every customer.
#[async_trait]
pub trait ParkedReader: Send + Sync {
    /// Up to `limit` parked events, oldest first (by Stripe's `created`, then id), created at or
    /// before `before`, and after `after` (the last of the previous page) when given.
    async fn parked_events(
        &self,
        before: DateTime<Utc>,
        limit: u16,
        after: Option<&crate::billing::ParkedEvent>,
    ) -> Result<Vec<crate::billing::ParkedEvent>>;
}

/// The processor-event side of the store: the exactly-once ledger and the projections it guards.
/// Every write claims the event id in the same transaction as its change.
#[async_trait]
pub trait ProcessorEvents: ParkedReader {
    async fn event_record(&self, event_id: &str) -> Result<Option<crate::billing::EventRecord>>;
    async fn customer_account(&self, customer_id: &str) -> Result<Option<AccountId>>;
    async fn subscription(&self, account: &AccountId, id: &str) -> Result<Option<crate::billing::Subscription>>;
    /// Claims the event with nothing else to change (ignored, stale, unparseable events).
    async fn record_event(&self, record: &crate::billing::EventRecord) -> Result<Recorded>;
    /// Claims the event as parked (`record.outcome` is `Parked`) and keeps `parked` under its
    /// customer, in one write. `AlreadyRecorded` when the event was claimed before (parked or not).
    ///
    /// A parked claim is the one claim a later write may take over: every other write of this
    /// port claims an event that is absent from the ledger *or parked*, so the replay of a parked
    /// event is applied exactly once.
    async fn park(
        &self,
        record: &crate::billing::EventRecord,
        parked: &crate::billing::ParkedEvent,
    ) -> Result<Recorded>;
    /// The events parked for `customer_id`, in Stripe's order (`created`, then id).
    async fn parked_for(&self, customer_id: &str) -> Result<Vec<crate::billing::ParkedEvent>>;
    /// Forgets a parked event once its replay was recorded (applied, stale, or a duplicate).
    async fn unpark(&self, parked: &crate::billing::ParkedEvent) -> Result<()>;
    /// Claims the event and links the customer to its account (first link wins; a later,
    /// different link is refused with `Error::Conflict`).
    async fn link_customer(
        &self,
        record: &crate::billing::EventRecord,
        link: &crate::billing::CustomerLink,
    ) -> Result<Recorded>;
    /// Claims the event and replaces the subscription `before` (None: absent) with `after`, with
    /// the follow-up work item if any. `Error::Conflict` when the stored subscription is no longer
    /// `before` (a concurrent event got there first: re-read and decide again).
    async fn save_subscription(
        &self,
        record: &crate::billing::EventRecord,
        before: Option<&crate::billing::Subscription>,
        after: &crate::billing::Subscription,
        work: Option<&crate::billing::WorkItem>,
    ) -> Result<Recorded>;
    /// Claims the event and writes `after` with `work` in one write, if the stored subscription
    /// is the one the event says it replaced: absent (`prior` None), or older than `after` with
    /// `prior`'s seats and status. `Error::Conflict` when it is not (read it and decide again with
    /// [`save_subscription`](Self::save_subscription)); `AlreadyRecorded` for a claimed event.
    async fn save_subscription_over(
        &self,
        record: &crate::billing::EventRecord,
        prior: Option<&crate::billing::SubscriptionPrior>,
        after: &crate::billing::Subscription,
        work: Option<&crate::billing::WorkItem>,
    ) -> Result<Recorded>;
    async fn invoice(&self, account: &AccountId, id: &str) -> Result<Option<crate::invoice::Invoice>>;
    /// Claims the event, replaces the invoice `before` (None: absent) with `after` (None: the
    /// event is stale, only the claim and the work item are written), moves the account's
    /// balance due by the change in what the invoice leaves outstanding, and writes the work item.
    /// `Error::Conflict` when the stored invoice is no longer `before`; `Error::Invalid` when the
    /// invoice's currency is not the account's.
    async fn save_invoice(
        &self,
        record: &crate::billing::EventRecord,
        before: Option<&crate::invoice::Invoice>,
        after: Option<&crate::invoice::Invoice>,
        work: Option<&crate::billing::WorkItem>,
    ) -> Result<Recorded>;
    /// The products the store knows among `ids`, in no particular order (one round trip for up
    /// to 100).
    async fn products(&self, ids: &[&str]) -> Result<Vec<crate::billing::Product>>;
    /// Replaces the product stored under `after.id` if it is still stamped `previous` (None:
    /// absent); otherwise `Error::Conflict`. With `record`, claims that event in the same write
    /// (a `product.*` event); without, keeps a product read from the processor.
    async fn save_product(
        &self,
        record: Option<&crate::billing::EventRecord>,
        previous: Option<&crate::billing::Stamp>,
        after: &crate::billing::Product,
    ) -> Result<Recorded>;
    async fn projection(&self, key: &crate::billing::ProjectionKey) -> Result<Option<crate::billing::Projection>>;
    /// Claims the event and replaces the projection stored under `after`'s key, if it is still
    /// stamped `previous` (None: absent); otherwise `Error::Conflict`. `audit`, if given, is
    /// appended in the same transaction.
    async fn save_projection(
        &self,
        record: &crate::billing::EventRecord,
        previous: Option<&crate::billing::Stamp>,
        after: &crate::billing::Projection,
        audit: Option<&AuditEntry>,
    ) -> Result<Recorded>;
    /// Claims the event and writes `after` in one write, if no projection is stored under its key
    /// or the stored one is older by its stamp's time; otherwise `Error::Conflict` (read it and
    /// decide again with [`save_projection`](Self::save_projection)). For projections whose new
    /// state does not depend on the stored one and that are not audited.
    async fn save_projection_over(
        &self,
        record: &crate::billing::EventRecord,
        after: &crate::billing::Projection,
    ) -> Result<Recorded>;
}

/// How far missed-event recovery has read the processor's event list.
#[async_trait]
pub trait RecoveryWatermark: Send + Sync {
    /// The `created` time (epoch seconds) up to which every event has been applied.
    async fn watermark(&self) -> Result<Option<i64>>;
    /// Moves the watermark forward to `created`; never backwards.
    async fn advance_watermark(&self, created: i64) -> Result<()>;
}

/// One page of an account's invoices, newest first, and where the next page starts.
#[derive(Debug, Clone)]
pub struct InvoicePage {
    pub invoices: Vec<crate::invoice::Invoice>,
    /// Opaque: pass back to continue after the last invoice of this page.
    pub next: Option<String>,
}

/// What the portal reads of an account's billing, as the processor's events projected it.
#[async_trait]
pub trait BillingReader: Send + Sync {
    /// The processor customer that pays for the account, once its first checkout completed.
    async fn customer_of(&self, account: &AccountId) -> Result<Option<String>>;
    /// The account's running seat subscription (not canceled or expired), if any; the newest
    /// when there is more than one.
    async fn live_subscription(&self, account: &AccountId) -> Result<Option<crate::billing::Subscription>>;
    /// Invoices newest first, `limit` at most, optionally of one status, after the cursor `after`.
    async fn invoices(
        &self,
        account: &AccountId,
        status: Option<crate::invoice::InvoiceStatus>,
        limit: u16,
        after: Option<&str>,
    ) -> Result<InvoicePage>;
    async fn account_invoice(&self, account: &AccountId, id: &str) -> Result<Option<crate::invoice::Invoice>>;
    /// Methods still attached to the account's customer.
    async fn payment_methods(&self, account: &AccountId) -> Result<Vec<crate::billing::PaymentMethodSummary>>;
    async fn default_payment_method(&self, account: &AccountId) -> Result<Option<String>>;
}

/// Appends an audit entry on its own, for changes made at the processor (the processor's event
/// later changes our state; the entry records who asked for it).
#[async_trait]
pub trait AuditWriter: Send + Sync {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()>;
}

/// An account's seats: read with their version, changed only at that version.
#[async_trait]
pub trait SeatStore: Send + Sync {
    async fn seat_book(&self, account: &AccountId) -> Result<crate::seats::SeatBook>;
    /// Applies `changes` (at most [`MAX_SEAT_CHANGES`]) if the seats are still at
    /// `version`, moving them to `version + 1`, with the work item and the audit entry if any. `Error::Conflict`
    /// when another change got there first (re-read and decide again).
    async fn change_seats(
        &self,
        account: &AccountId,
        version: u64,
        changes: &[crate::seats::SeatChange],
        work: Option<&crate::billing::WorkItem>,
        audit: Option<&AuditEntry>,
    ) -> Result<()>;
}

/// How many seat changes fit in one atomic write (DynamoDB: 100 items, less the version and the
/// work item).
pub const MAX_SEAT_CHANGES: usize = 98;

/// Whether a send was claimed now, or had been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClaim {
    /// Ours to send; record the result with [`MailLedger::sent`] or give it back with
    /// [`MailLedger::release`].
    Claimed,
    /// Sent before (a redelivered record): the provider's message id.
    AlreadySent(String),
    /// Another delivery of the same record is sending it now; retry later.
    InFlight,
    /// The recipient is on the suppression list (bounced, complained): not sent, not claimed.
    Suppressed,
}

/// Exactly-once sends: claim, send, record.
#[async_trait]
pub trait MailLedger: Send + Sync {
    /// Claims the send, in one write that also checks the recipient is not suppressed; a claim
    /// older than `lease_secs` (a sender that died) may be taken over.
    async fn claim_send(&self, key: &crate::mail::MailKey, now: DateTime<Utc>, lease_secs: i64) -> Result<SendClaim>;
    async fn sent(&self, key: &crate::mail::MailKey, message_id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Gives a claim back after a failed send, so a retry can send.
    async fn release(&self, key: &crate::mail::MailKey) -> Result<()>;
}

/// Addresses not to mail: hard bounces and complaints. (Whether one is suppressed is checked by
/// the mail's claim, [`MailLedger::claim_send`], in the same write.)
#[async_trait]
pub trait Suppressions: Send + Sync {
    async fn suppress(&self, email: &Email, reason: &str, now: DateTime<Utc>) -> Result<()>;
}

// ---- contract (invoice-mode) billing ----

/// The two gap-free sequences of the seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    Invoice,
    CreditNote,
    /// Contract accounts' numbers (the stub's scan line carries it): unique, not gap-free.
    Account,
}

impl Sequence {
    pub fn name(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
            Self::Account => "account",
        }
    }
}

/// A number taken from a sequence: the write that uses it succeeds only if the sequence is still
/// at `previous`, so numbers are never skipped or given twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub sequence: Sequence,
    pub previous: u64,
}

impl Taken {
    pub fn number(&self) -> u64 {
        self.previous + 1
    }
}

#[async_trait]
pub trait ContractReader: Send + Sync {
    async fn contract_account(&self, id: &AccountId) -> Result<Option<crate::contract::ContractAccount>>;
}

/// What storing a batch of usage did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageWrite {
    /// Stored, except these (indexes into the batch), whose keys were seen before.
    Stored { duplicates: Vec<usize> },
    /// The account's open bucket moved (a bill run closed it): re-read and choose again.
    BucketMoved,
}

/// Usage ingestion's writes: `PutItem` on usage records and keys, `ConditionCheck` on the contract.
#[async_trait]
pub trait UsageWriter: ContractReader {
    /// Stores records (each with its bucket) if `account.usage_bucket` is still what it was read
    /// as; at most [`MAX_USAGE_BATCH`] at once. Records whose idempotency key was stored before
    /// are left out and reported.
    async fn store_usage(
        &self,
        account: &crate::contract::ContractAccount,
        records: &[(chrono::NaiveDate, crate::contract::UsageEvent)],
        now: DateTime<Utc>,
    ) -> Result<UsageWrite>;
}

/// Usage records and keys written in one transaction, with the contract check.
pub const MAX_USAGE_BATCH: usize = 49;

/// One page of a walk through many items.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Where the seller's gap-free sequences stand.
#[async_trait]
pub trait SequenceReader: Send + Sync {
    /// The last number given (0: none yet).
    async fn sequence(&self, sequence: Sequence) -> Result<u64>;
}

/// A contract account's bills as they stand and as they will be: a usage bucket (`Query`) and
/// a bill (`GetItem`). The bill run reads them; so does the portal, for usage to date and the
/// upcoming bill.
#[async_trait]
pub trait ContractBills: ContractReader {
    /// The usage records of the bucket of the bill on `bucket`.
    async fn bucket_usage(
        &self,
        account: &AccountId,
        bucket: chrono::NaiveDate,
    ) -> Result<Vec<crate::rating::UsageRecord>>;
    async fn bill(&self, account: &AccountId, id: &str) -> Result<Option<crate::invoice::Invoice>>;
}

/// The seller's tax data (a `Query` of the rates and a `GetItem` of the settings, at once): the
/// bill run reads it once per run, the portal for the upcoming bill, ops to check what they set.
#[async_trait]
pub trait TaxSetupReader: Send + Sync {
    /// Every tax rate and the seller's tax settings (empty until ops set them).
    async fn tax_setup(&self) -> Result<crate::tax::TaxSetup>;
}

/// What the bill run reads and writes.
#[async_trait]
pub trait BillRunStore: ContractBills + AccountReader + SequenceReader + ReceivablesReader + TaxSetupReader {
    /// Accounts whose next bill is due on or before `through`, in bill-date order.
    async fn due_accounts(
        &self,
        through: chrono::NaiveDate,
        limit: u16,
        after: Option<&str>,
    ) -> Result<Page<AccountId>>;
    /// Replaces the contract state if still at `before.version` (`after.version` must be one
    /// more); otherwise `Error::Conflict`.
    async fn save_contract(
        &self,
        before: &crate::contract::ContractAccount,
        after: &crate::contract::ContractAccount,
    ) -> Result<()>;
    /// Writes a draft invoice (absent before) with the contract state.
    async fn save_draft(
        &self,
        before: &crate::contract::ContractAccount,
        after: &crate::contract::ContractAccount,
        draft: &crate::invoice::Invoice,
    ) -> Result<()>;
    /// Finalizes a bill in one write: the invoice (new, or replacing its draft), its number taken
    /// from the sequence, the contract state, the account's balance due, and the work item that
    /// mails it. `Error::Conflict` when the contract, the sequence or the invoice moved.
    async fn finalize_bill(
        &self,
        contract: Change<'_, crate::contract::ContractAccount>,
        invoice: &crate::invoice::Invoice,
        replaces_draft: bool,
        number: Taken,
        work: &crate::billing::WorkItem,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn cohorts(&self) -> Result<Vec<crate::ledger::Cohort>>;
    async fn cohort_accounts(&self, cohort: &str) -> Result<Vec<AccountId>>;
    /// Records that every account of the cohort has its notice queued.
    async fn mark_notices_queued(&self, cohort: &crate::ledger::Cohort) -> Result<()>;
    /// Puts a work item unless one with its key exists; whether it was put.
    async fn queue_work(&self, work: &crate::billing::WorkItem, now: DateTime<Utc>) -> Result<bool>;
    /// The seller's reminder schedule (the default until ops set one).
    async fn reminder_schedule(&self) -> Result<crate::receivables::ReminderSchedule>;
    /// The reminder steps queued for a bill so far.
    async fn reminders_sent(&self, account: &AccountId, invoice_id: &str) -> Result<Vec<i32>>;
    /// Queues a [`crate::billing::WorkItem::PaymentReminder`] and records its step on the bill's
    /// reminder record, in one write, unless that step was recorded before (then `false`): a
    /// step is queued once however often the run goes over the bill.
    async fn queue_reminder(&self, work: &crate::billing::WorkItem, now: DateTime<Utc>) -> Result<bool>;
}

/// The queue the bill run hands its due accounts to (`sqs:SendMessage`,
/// `sqs:GetQueueAttributes`): workers bill them side by side.
#[async_trait]
pub trait BillJobQueue: Send + Sync {
    /// Sends every job or fails (a job not sent is an account not billed this hour; the next
    /// run hands it out again). Sending a job twice is harmless.
    async fn send(&self, jobs: &[crate::bill_runs::BillJob]) -> Result<()>;
    /// About how many jobs wait or are being billed: a run hands out nothing while the last
    /// one's jobs are still there.
    async fn backlog(&self) -> Result<u64>;
}

/// Where a bill's document (its PDF) is kept: one object per bill, written once.
pub fn bill_document_key(account: &AccountId, invoice_id: &str) -> String {
    format!("bills/{account}/{invoice_id}.pdf")
}

/// One credit note (`GetItem`): the mailer reads what it sends.
#[async_trait]
pub trait CreditNoteReader: Send + Sync {
    async fn credit_note(&self, account: &AccountId, id: &str) -> Result<Option<CreditNote>>;
}

/// An account a back-office search found, and what matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountHit {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub account_id: AccountId,
    pub name: String,
    /// `id`, `name` (its name starts with the query), `invoice` (one of its bills has this
    /// number) or `email` (the query is its contact's, a user's or an invitee's e-mail).
    pub matched: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
}

/// The back office's account search (`gsi3`: names by their first letters, invoices by number;
/// an account id is a `GetItem`): queries, never a scan.
#[async_trait]
pub trait AccountSearch: Send + Sync {
    /// Accounts whose id or one of whose invoice numbers is `query`, or whose name starts with it
    /// (case and punctuation aside; at least two letters); at most `limit`.
    async fn search_accounts(&self, query: &str, limit: u16) -> Result<Vec<AccountHit>>;
}

/// Four-eyes requests (the `APPROVALS` partition), each written with its account's audit entry.
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Records a new request (`Conflict` if its id exists).
    async fn put_approval(&self, approval: &crate::staff::Approval, audit: &AuditEntry) -> Result<()>;
    async fn approval(&self, id: &str) -> Result<Option<crate::staff::Approval>>;
    /// Every request, newest first.
    async fn approvals(&self) -> Result<Vec<crate::staff::Approval>>;
    /// Decides a request that is still pending (`Conflict` once someone else decided it).
    async fn decide_approval(&self, after: &crate::staff::Approval, audit: &AuditEntry) -> Result<()>;
}

/// The reviewed bill runs, one record per bill date (`BILLRUNS` partition).
#[async_trait]
pub trait BillRunLog: Send + Sync {
    async fn bill_run_record(&self, date: chrono::NaiveDate) -> Result<Option<crate::bill_runs::BillRunRecord>>;
    /// The newest `limit` records, newest bill date first.
    async fn bill_run_records(&self, limit: usize) -> Result<Vec<crate::bill_runs::BillRunRecord>>;
    /// Writes `after` if the stored record is still `before` (its version; none stored when
    /// `before` is None), else `Conflict`.
    async fn save_bill_run_record(
        &self,
        before: Option<&crate::bill_runs::BillRunRecord>,
        after: &crate::bill_runs::BillRunRecord,
        audit: &AuditEntry,
    ) -> Result<()>;
}

/// The lockbox bucket, as the import function reads it (`s3:GetObject` only).
#[async_trait]
pub trait LockboxFiles: Send + Sync {
    /// The object's bytes (None: not there).
    async fn lockbox_file(&self, key: &str) -> Result<Option<Vec<u8>>>;
}

/// Lockbox files, their checks, the exceptions queue and the drawers remembered.
#[async_trait]
pub trait LockboxStore: Send + Sync {
    async fn lockbox_import(&self, file_hash: &str) -> Result<Option<crate::lockbox::LockboxImport>>;
    /// The newest imports first.
    async fn lockbox_imports(&self, limit: u16) -> Result<Vec<crate::lockbox::LockboxImport>>;
    /// Creates the import (`Conflict` when the file came before) or replaces it (`before` given).
    async fn save_lockbox_import(&self, import: &crate::lockbox::LockboxImport, create: bool) -> Result<()>;
    async fn lockbox_item(&self, file_hash: &str, key: &str) -> Result<Option<crate::lockbox::LockboxItem>>;
    /// Records what became of a check (once: `Conflict` when it was recorded before), in the
    /// exceptions queue when it is an exception, with its audit entry when given.
    async fn put_lockbox_item(&self, item: &crate::lockbox::LockboxItem, audit: Option<&AuditEntry>) -> Result<()>;
    /// An exception decided (resolved or returned): out of the queue, with its audit entry.
    async fn decide_lockbox_item(&self, after: &crate::lockbox::LockboxItem, audit: &AuditEntry) -> Result<()>;
    /// The exceptions waiting, oldest first.
    async fn lockbox_exceptions(&self) -> Result<Vec<crate::lockbox::LockboxItem>>;
    /// One waiting exception by its check's key.
    async fn lockbox_exception(&self, key: &str) -> Result<Option<crate::lockbox::LockboxItem>>;
    async fn drawer(&self, routing: &str, account: &str) -> Result<Option<AccountId>>;
    async fn remember_drawer(&self, routing: &str, account: &str, payer: &AccountId) -> Result<()>;
    /// The account with this account number (the scan line's).
    async fn account_by_number(&self, number: u64) -> Result<Option<AccountId>>;
    /// The checks received under this check number (account, the check's payment reference),
    /// across accounts: a returned item names only the number and amount.
    async fn checks_numbered(&self, number: &str) -> Result<Vec<(AccountId, String)>>;
    /// The account and id of the bill with this number (numbers are unique per seller).
    async fn bill_by_number(&self, number: &str) -> Result<Option<(AccountId, String)>>;
}

/// Everything an account's statement is made of (`Query` of its invoices, received payments and
/// credit notes, at once): the portal's statement of account.
#[async_trait]
pub trait StatementReader: Send + Sync {
    async fn ledger_items(&self, account: &AccountId) -> Result<crate::statement::LedgerItems>;
}

/// Bill documents, stored once (`s3:PutObject` only where none is, and `s3:GetObject`).
#[async_trait]
pub trait BillDocuments: Send + Sync {
    /// Stores `bytes` under `key` unless a document is stored there already; returns the stored
    /// document (these bytes, or the ones stored before), so what is sent is exactly what is kept.
    async fn store_once(&self, key: &str, bytes: &[u8]) -> Result<Vec<u8>>;
}

/// Short-lived links to stored bill documents (presigned `s3:GetObject`).
#[async_trait]
pub trait BillDocumentLinks: Send + Sync {
    /// A link to the document under `key` valid for `ttl`; `None` when none is stored (yet).
    async fn link(&self, key: &str, ttl: std::time::Duration) -> Result<Option<String>>;
}

/// Money owed across accounts: open invoices with something left to pay, by due date (`Query`
/// on the receivables index).
#[async_trait]
pub trait ReceivablesReader: Send + Sync {
    /// Those due on or before `due_through` (every one: `None`), the earliest due first.
    async fn receivables(
        &self,
        due_through: Option<chrono::NaiveDate>,
        limit: u16,
        after: Option<&str>,
    ) -> Result<Page<crate::receivables::Receivable>>;

    /// The names of these accounts (one left out when no such account is stored), for the
    /// report's rows: read a hundred at a time, a call each (`BatchGetItem`), not one per account.
    async fn account_names(&self, ids: &[AccountId]) -> Result<std::collections::HashMap<AccountId, String>>;
}

/// Ops' view of parked events: list them, discard one (its ledger entry records who and why).
#[async_trait]
pub trait ParkedEventsAdmin: ParkedReader {
    /// Marks the event `Discarded` with `discard` on its ledger entry and forgets it, in one write;
    /// `Error::NotFound` when no such event is parked.
    async fn discard_parked(&self, discard: &crate::billing::Discard, audit: &AuditEntry) -> Result<()>;
}

/// Ops' writes to contract accounts: catalog, cohorts, import, payments, credit notes, voids.
#[async_trait]
pub trait ContractAdmin: ContractReader + AccountReader + SequenceReader {
    /// Replaces the contract state if still at `before.version` (else `Conflict`), with the
    /// change's audit entry in the same write.
    async fn save_contract_audited(
        &self,
        before: &crate::contract::ContractAccount,
        after: &crate::contract::ContractAccount,
        audit: &AuditEntry,
    ) -> Result<()>;
    async fn prices(&self) -> Result<std::collections::BTreeMap<crate::catalog::PriceId, crate::catalog::Price>>;
    /// Each setup write takes its entry of the seller's audit trail, written with it.
    async fn put_price(&self, price: &crate::catalog::Price, audit: Option<&AuditEntry>) -> Result<()>;
    async fn put_tax_rate(&self, rate: &crate::tax::TaxRate, audit: Option<&AuditEntry>) -> Result<()>;
    async fn put_seller_tax(&self, seller: &crate::tax::SellerTax, audit: Option<&AuditEntry>) -> Result<()>;
    async fn cohort(&self, id: &str) -> Result<Option<crate::ledger::Cohort>>;
    async fn put_reminder_schedule(
        &self,
        schedule: &crate::receivables::ReminderSchedule,
        audit: Option<&AuditEntry>,
    ) -> Result<()>;
    async fn put_cohort(&self, cohort: &crate::ledger::Cohort, audit: Option<&AuditEntry>) -> Result<()>;
    /// Creates the account with its contract state and cohort membership, numbered from the
    /// account-number sequence. `Error::Conflict` when the account exists.
    async fn import_account(
        &self,
        account: &crate::account::Account,
        contract: &crate::contract::ContractAccount,
        audit: &AuditEntry,
    ) -> Result<()>;
    async fn contract_invoice(&self, account: &AccountId, id: &str) -> Result<Option<crate::invoice::Invoice>>;
    /// Records a payment: the invoice `before` → `after`, the contract's credit, the balance due,
    /// the receipt's work item and the audit entry. `Recorded::AlreadyRecorded` when the payment's
    /// reference was recorded before; `Error::Conflict` when the invoice or contract moved.
    async fn record_payment(
        &self,
        payment: &ReceivedPayment,
        invoice: Change<'_, crate::invoice::Invoice>,
        contract: Change<'_, crate::contract::ContractAccount>,
        work: &crate::billing::WorkItem,
        audit: &AuditEntry,
    ) -> Result<Recorded>;
    /// The payments recorded under `reference` and its shares (`reference:2`, …); may hold
    /// others whose reference starts alike (`check:10420` for `check:1042`), for the caller to
    /// filter.
    async fn check_payments(&self, account: &AccountId, reference: &str) -> Result<Vec<ReceivedPayment>>;
    /// Takes a payment back: the payment as returned (`Recorded::AlreadyRecorded` when it was
    /// returned before), its invoice reopened, the contract's credit and summary, the balance
    /// due, the customer's notice when given, and the audit entry, in one write;
    /// `Error::Conflict` when the invoice or contract moved.
    async fn return_payment(
        &self,
        returned: &ReceivedPayment,
        invoice: Change<'_, crate::invoice::Invoice>,
        contract: Change<'_, crate::contract::ContractAccount>,
        work: Option<&crate::billing::WorkItem>,
        audit: &AuditEntry,
    ) -> Result<Recorded>;
    async fn record_credit_note(
        &self,
        note: &CreditNote,
        number: Taken,
        invoice: Change<'_, crate::invoice::Invoice>,
        contract: Change<'_, crate::contract::ContractAccount>,
        audit: &AuditEntry,
        work: &crate::billing::WorkItem,
    ) -> Result<()>;
    async fn credit_notes(&self, account: &AccountId) -> Result<Vec<CreditNote>>;
    /// Voids a draft and restores the contract state it was rated from.
    async fn void_draft(
        &self,
        invoice: Change<'_, crate::invoice::Invoice>,
        contract: Change<'_, crate::contract::ContractAccount>,
        audit: &AuditEntry,
    ) -> Result<()>;
}
