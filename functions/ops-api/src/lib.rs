//! The seller's own API: routes for the seller's services and staff, not for customers. In AWS,
//! API Gateway authorizes every route here with IAM (SigV4); callers are IAM principals allowed
//! `execute-api:Invoke` on them. Locally the dev stack plays that part.
//!
//! The same `/v1/ops/…` routes serve the back office under `/v1/staff/…`, behind the staff user
//! pool's JWT authorizer: each handler asks the caller for its permission (a staff member's
//! roles, [`billing_domain::staff`]); staff writes name a reason; credit notes above the
//! approval limit wait for a second person (`/v1/staff/approvals`).
//!
//! - `POST /v1/usage`: metered usage from the seller's services, in batches.
//! - `/v1/ops/…`: the catalog, cohorts and their import, bill runs (dry run included), mailed-check
//!   payments, credit notes and voiding drafts, the receivables (aging) report, and the payment
//!   reminders' schedule and pauses, and taxes (rates, the seller's settings, an account's
//!   VAT number, exemption and codes).

pub mod billruns;
pub mod error;
pub mod extract;
pub mod ledger;
pub mod lockbox;
pub mod openapi;
pub mod ops;
pub mod parked;
pub mod receivables;
pub mod reminders;
pub mod returns;
pub mod staff;
pub mod tax;
pub mod usage;

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post, put};
use bill_run::BillRun;
use billing_domain::ports::{
    AccountSearch, ApprovalStore, AuditReader, BillRunLog, BillRunStore, BillingReader, ContractAdmin,
    CreditNoteReader, LockboxStore, MemberReader, MemberWriter, ParkedEventsAdmin, ReceivablesReader, StatementReader,
    UsageWriter,
};
use billing_domain::staff::Permission;

pub use error::{OpsError, OpsResult};

/// Everything the ops API reads and writes.
pub trait OpsStore:
    UsageWriter
    + ContractAdmin
    + BillRunStore
    + BillingReader
    + MemberWriter
    + ParkedEventsAdmin
    + ReceivablesReader
    + ApprovalStore
    + CreditNoteReader
    + AuditReader
    + AccountSearch
    + BillRunLog
    + MemberReader
    + StatementReader
    + LockboxStore
    + 'static
{
}
impl<
    T: UsageWriter
        + ContractAdmin
        + BillRunStore
        + BillingReader
        + MemberWriter
        + ParkedEventsAdmin
        + ReceivablesReader
        + ApprovalStore
        + CreditNoteReader
        + AuditReader
        + AccountSearch
        + BillRunLog
        + MemberReader
        + StatementReader
        + LockboxStore
        + 'static,
> OpsStore for T
{
}

pub struct OpsState<S> {
    pub store: Arc<S>,
    pub bill_run: BillRun<S>,
    /// The seller's four-eyes rule (none until set: `CREDIT_NOTE_APPROVAL_LIMIT`).
    pub approvals: billing_domain::staff::ApprovalPolicy,
    /// How the stubs' scan lines are read back from the bank's file.
    pub scan: ScanSettings,
}

/// The seller's lockbox settings (scan line check digit, the bank's layout, the returned-check
/// fee) and the invoice numbers' prefix (`INV` → `INV-000042`).
#[derive(Debug, Clone)]
pub struct ScanSettings {
    pub lockbox: billing_domain::lockbox::LockboxSettings,
    pub invoice_prefix: String,
}

impl<S> Clone for OpsState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            bill_run: self.bill_run.clone(),
            approvals: self.approvals,
            scan: self.scan.clone(),
        }
    }
}

impl<S: OpsStore> OpsState<S> {
    pub fn new(store: S, settings: bill_run::Settings) -> Self {
        let store = Arc::new(store);
        let scan = ScanSettings { lockbox: Default::default(), invoice_prefix: settings.invoice_prefix.clone() };
        Self { bill_run: BillRun::from_arc(store.clone(), settings), store, approvals: Default::default(), scan }
    }

    /// With the stubs' scan lines read under `check_digit` (`LOCKBOX_CHECK_DIGIT`).
    pub fn with_check_digit(mut self, check_digit: billing_domain::lockbox::CheckDigit) -> Self {
        self.scan.lockbox.check_digit = check_digit;
        self
    }

    /// With the returned-check fee's price (`RETURNED_CHECK_FEE_PRICE`).
    pub fn with_returned_check_fee(mut self, price: Option<String>) -> Self {
        self.scan.lockbox.returned_check_fee = price;
        self
    }

    /// The seller's lockbox settings from the environment: the scan line's check digit, the
    /// bank's layout, the returned-check fee.
    pub fn with_lockbox(mut self, settings: billing_domain::lockbox::LockboxSettings) -> Self {
        self.scan.lockbox = settings;
        self
    }

    /// With the bank's own lockbox file layout.
    pub fn with_layout(mut self, layout: billing_domain::lockbox::Layout) -> Self {
        self.scan.lockbox.layout = layout;
        self
    }

    /// With credit notes above `limit` (major units of the bill's currency) needing approval.
    pub fn with_approval_limit(mut self, limit: Option<rust_decimal::Decimal>) -> Self {
        self.approvals.credit_note_limit = limit;
        self
    }
}

/// Changes an account's contract state: `change` makes the state to write from the one read (its
/// version is set here), or `None` when there is nothing to change; a write that loses a race
/// re-reads and decides again. Returns the state as it stands after.
pub(crate) async fn update_contract<S: OpsStore>(
    store: &S,
    id: &billing_domain::AccountId,
    change: impl Fn(&billing_domain::contract::ContractAccount) -> Option<billing_domain::contract::ContractAccount>,
    audit: impl Fn(
        &billing_domain::contract::ContractAccount,
        &billing_domain::contract::ContractAccount,
    ) -> billing_domain::AuditEntry,
) -> OpsResult<billing_domain::contract::ContractAccount> {
    let mut retry = billing_domain::retry::Retry::on_conflict();
    while retry.attempt().await {
        let before = store.contract_account(id).await?.ok_or(OpsError::NotContractBilled)?;
        let Some(mut after) = change(&before) else { return Ok(before) };
        after.version = before.version + 1;
        match store.save_contract_audited(&before, &after, &audit(&before, &after)).await {
            Ok(()) => return Ok(after),
            Err(billing_domain::Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(billing_domain::Error::Conflict.into())
}

/// Refuses, before anything else is read (the body included), a caller whose permissions lack
/// `p`: the route's permission, checked here for every route in one table ([`seller_routes`]);
/// handlers ask again where the body decides (a bill run's mode).
fn guarded<S: OpsStore>(route: MethodRouter<OpsState<S>>, p: Permission) -> MethodRouter<OpsState<S>> {
    route.route_layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| async move {
            use axum::extract::FromRequestParts;
            use axum::response::IntoResponse;
            let (mut parts, body) = request.into_parts();
            match extract::OpsCaller::from_request_parts(&mut parts, &()).await.and_then(|c| c.require(p)) {
                Ok(()) => next.run(axum::extract::Request::from_parts(parts, body)).await,
                Err(e) => e.into_response(),
            }
        },
    ))
}

/// The seller's routes, relative, each with the permission it needs: mounted at `/v1/ops` (IAM)
/// and at `/v1/staff` (the staff console's JWT), the same handlers.
fn seller_routes<S: OpsStore>() -> Router<OpsState<S>> {
    use Permission as P;
    let g = guarded::<S>;
    Router::new()
        .route("/prices", g(get(ops::list_prices::<S>), P::AccountRead))
        .route("/prices/{price_id}", g(put(ops::put_price::<S>), P::CatalogManage))
        .route("/cohorts", g(get(ops::list_cohorts::<S>), P::AccountRead))
        .route("/cohorts/{cohort_id}", g(put(ops::put_cohort::<S>), P::CatalogManage))
        .route("/cohorts/{cohort_id}/accounts", g(post(ops::import::<S>), P::CatalogManage))
        .route(
            "/bill-runs",
            g(post(ops::bill_run::<S>), P::BillRunPreview).merge(g(get(billruns::list::<S>), P::BillRunPreview)),
        )
        .route("/bill-runs/{date}", g(get(billruns::preview::<S>), P::BillRunPreview))
        .route("/bill-runs/{date}/drafts", g(post(billruns::draft::<S>), P::BillRunPreview))
        .route("/bill-runs/{date}/approve", g(post(billruns::approve::<S>), P::BillRunFinalize))
        .route("/bill-runs/{date}/finalize", g(post(billruns::finalize::<S>), P::BillRunFinalize))
        .route("/accounts", g(get(staff::search::<S>), P::AccountRead))
        .route("/accounts/{account_id}", g(get(ops::account::<S>), P::AccountRead))
        .route("/accounts/{account_id}/audit", g(get(staff::audit::<S>), P::AccountRead))
        .route(
            "/accounts/{account_id}/members",
            g(get(ops::members::<S>), P::AccountRead).merge(g(post(ops::invite::<S>), P::MemberManage)),
        )
        .route("/accounts/{account_id}/members/{member_id}", g(delete(ops::remove_member::<S>), P::MemberManage))
        .route("/accounts/{account_id}/checks", g(post(ledger::record_check::<S>), P::PaymentRecord))
        .route("/accounts/{account_id}/payments/return", g(post(returns::return_payment::<S>), P::PaymentRecord))
        .route(
            "/accounts/{account_id}/invoices/{invoice_id}/payments",
            g(post(ledger::record_payment::<S>), P::PaymentRecord),
        )
        .route(
            "/accounts/{account_id}/invoices/{invoice_id}/credit-notes",
            g(post(ledger::credit_note::<S>), P::CreditNoteCreate),
        )
        .route(
            "/accounts/{account_id}/invoices/{invoice_id}/write-off",
            g(post(ledger::write_off::<S>), P::CreditNoteCreate),
        )
        .route("/accounts/{account_id}/invoices/{invoice_id}/void", g(post(ledger::void::<S>), P::InvoiceVoid))
        .route("/approvals", g(get(staff::approvals::<S>), P::AccountRead))
        .route("/audit", g(get(staff::seller_audit::<S>), P::AccountRead))
        .route("/approvals/{approval_id}/approve", g(post(staff::approve::<S>), P::CreditNoteApprove))
        .route("/approvals/{approval_id}/reject", g(post(staff::reject::<S>), P::CreditNoteApprove))
        .route("/receivables", g(get(receivables::report::<S>), P::AccountRead))
        .route("/tax-rates", g(get(tax::list_rates::<S>), P::AccountRead))
        .route("/tax-rates/{code}", g(put(tax::put_rate::<S>), P::CatalogManage))
        .route(
            "/settings/tax",
            g(get(tax::get_seller::<S>), P::AccountRead).merge(g(put(tax::put_seller::<S>), P::CatalogManage)),
        )
        .route(
            "/accounts/{account_id}/tax",
            g(get(tax::get_account::<S>), P::AccountRead).merge(g(put(tax::put_account::<S>), P::CatalogManage)),
        )
        .route(
            "/settings/reminders",
            g(get(reminders::get_schedule::<S>), P::AccountRead)
                .merge(g(put(reminders::put_schedule::<S>), P::CatalogManage)),
        )
        .route("/accounts/{account_id}/reminders", g(put(reminders::pause::<S>), P::RemindersPause))
        .route(
            "/lockbox-files",
            g(get(lockbox::files::<S>), P::AccountRead).merge(g(post(lockbox::import::<S>), P::PaymentRecord)),
        )
        .route("/lockbox-exceptions", g(get(lockbox::exceptions::<S>), P::AccountRead))
        .route("/lockbox-exceptions/{key}/apply", g(post(lockbox::resolve::<S>), P::PaymentRecord))
        .route("/lockbox-exceptions/{key}/return", g(post(lockbox::return_check::<S>), P::PaymentRecord))
        .route("/parked-events", g(get(parked::list::<S>), P::AccountRead))
        .route("/parked-events/{event_id}/discard", g(post(parked::discard::<S>), P::ParkedEventDiscard))
}

pub fn router<S: OpsStore>(state: OpsState<S>) -> Router {
    Router::new()
        .route("/v1/usage", post(usage::ingest::<S>))
        .nest("/v1/ops", seller_routes::<S>())
        .nest("/v1/staff", seller_routes::<S>().route("/me", get(staff::me)))
        .fallback(|| async { OpsError::NotFound })
        .method_not_allowed_fallback(|| async { OpsError::MethodNotAllowed })
        .with_state(state)
}
