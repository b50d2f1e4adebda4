//! The seller's own API: routes for the seller's services and staff, not for customers. In AWS,
//! API Gateway authorizes every route here with IAM (SigV4); callers are IAM principals allowed
//! `execute-api:Invoke` on them. Locally the dev stack plays that part.
//!
//! - `POST /v1/usage`: metered usage from the seller's services, in batches.
//! - `/v1/ops/…`: the catalog, cohorts and their import, bill runs (dry run included), mailed-check
//!   payments, credit notes and voiding drafts, the receivables (aging) report, and the payment
//!   reminders' schedule and pauses, and taxes (rates, the seller's settings, an account's
//!   VAT number, exemption and codes).

pub mod error;
pub mod extract;
pub mod ledger;
pub mod ops;
pub mod parked;
pub mod receivables;
pub mod reminders;
pub mod tax;
pub mod usage;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use bill_run::BillRun;
use billing_domain::ports::{
    BillRunStore, BillingReader, ContractAdmin, MemberWriter, ParkedEventsAdmin, ReceivablesReader, UsageWriter,
};

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
        + 'static,
> OpsStore for T
{
}

pub struct OpsState<S> {
    pub store: Arc<S>,
    pub bill_run: BillRun<S>,
}

impl<S> Clone for OpsState<S> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), bill_run: self.bill_run.clone() }
    }
}

impl<S: OpsStore> OpsState<S> {
    pub fn new(store: S, settings: bill_run::Settings) -> Self {
        let store = Arc::new(store);
        Self { bill_run: BillRun::from_arc(store.clone(), settings), store }
    }
}

/// Changes an account's contract state: `change` makes the state to write from the one read (its
/// version is set here), or `None` when there is nothing to change; a write that loses a race
/// re-reads and decides again. Returns the state as it stands after.
pub(crate) async fn update_contract<S: OpsStore>(
    store: &S,
    id: &billing_domain::AccountId,
    change: impl Fn(&billing_domain::contract::ContractAccount) -> Option<billing_domain::contract::ContractAccount>,
) -> OpsResult<billing_domain::contract::ContractAccount> {
    let mut retry = billing_domain::retry::Retry::on_conflict();
    while retry.attempt().await {
        let before = store.contract_account(id).await?.ok_or(OpsError::NotContractBilled)?;
        let Some(mut after) = change(&before) else { return Ok(before) };
        after.version = before.version + 1;
        match store.save_contract(&before, &after).await {
            Ok(()) => return Ok(after),
            Err(billing_domain::Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(billing_domain::Error::Conflict.into())
}

pub fn router<S: OpsStore>(state: OpsState<S>) -> Router {
    Router::new()
        .route("/v1/usage", post(usage::ingest::<S>))
        .route("/v1/ops/prices", get(ops::list_prices::<S>))
        .route("/v1/ops/prices/{price_id}", put(ops::put_price::<S>))
        .route("/v1/ops/cohorts/{cohort_id}", put(ops::put_cohort::<S>))
        .route("/v1/ops/cohorts/{cohort_id}/accounts", post(ops::import::<S>))
        .route("/v1/ops/bill-runs", post(ops::bill_run::<S>))
        .route("/v1/ops/accounts/{account_id}", get(ops::account::<S>))
        .route("/v1/ops/accounts/{account_id}/members", post(ops::invite::<S>))
        .route("/v1/ops/accounts/{account_id}/invoices/{invoice_id}/payments", post(ledger::record_payment::<S>))
        .route("/v1/ops/accounts/{account_id}/invoices/{invoice_id}/credit-notes", post(ledger::credit_note::<S>))
        .route("/v1/ops/accounts/{account_id}/invoices/{invoice_id}/void", post(ledger::void::<S>))
        .route("/v1/ops/receivables", get(receivables::report::<S>))
        .route("/v1/ops/tax-rates", get(tax::list_rates::<S>))
        .route("/v1/ops/tax-rates/{code}", put(tax::put_rate::<S>))
        .route("/v1/ops/settings/tax", get(tax::get_seller::<S>).put(tax::put_seller::<S>))
        .route("/v1/ops/accounts/{account_id}/tax", get(tax::get_account::<S>).put(tax::put_account::<S>))
        .route("/v1/ops/settings/reminders", get(reminders::get_schedule::<S>).put(reminders::put_schedule::<S>))
        .route("/v1/ops/accounts/{account_id}/reminders", put(reminders::pause::<S>))
        .route("/v1/ops/parked-events", get(parked::list::<S>))
        .route("/v1/ops/parked-events/{event_id}/discard", post(parked::discard::<S>))
        .fallback(|| async { OpsError::NotFound })
        .method_not_allowed_fallback(|| async { OpsError::MethodNotAllowed })
        .with_state(state)
}
