//! Accounts billed by contract: usage so far in the open billing period and the next bill, both
//! as the bill run will rate them (the domain's own rating and draft, not a copy). Any member may
//! read them; accounts billed by card get `not_contract_billed`, an invoice account whose contract is
//! not loaded yet `contract_not_set_up`, each with a sentence that says so.

use axum::Json;
use axum::extract::State;
use billing_domain::rating::usage_to_date;
use billing_domain::{Error as DomainError, contract};
use chrono::{NaiveTime, Utc};

use crate::access::{AccountAccess, WithContract, can};
use crate::error::{ApiError, ApiResult, ReadErrors};
use crate::routes::views::{InvoiceView, PeriodView, UpcomingBillView, UsageItemView, UsageView};
use crate::state::AppState;

/// `GET /v1/accounts/{account_id}/usage`: usage so far in the open billing period, per usage
/// item, with its included units and the estimated amount.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/usage",
    operation_id = "usage_to_date",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = UsageView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn usage(
    State(state): State<AppState>,
    WithContract { access: AccountAccess { id, .. }, contract }: WithContract<can::Read>,
) -> ApiResult<Json<UsageView>> {
    let now = Utc::now();
    let today = now.date_naive();
    let bill_date = contract.bucket_of(today);
    let records = state.store.bucket_usage(&id, bill_date).await?;
    let currency = contract.contract.currency;
    let items = usage_to_date(&contract.contract, &records, today);
    let estimated_total = contract::sum(items.iter().map(|u| u.amount), currency)?;
    let cycle = contract.contract.billing_cycle(today).service_period(false);
    Ok(Json(UsageView {
        period: PeriodView::from(&cycle),
        bill_date,
        estimated_total,
        items: items
            .into_iter()
            .map(|u| UsageItemView {
                item_id: u.item_id,
                metric: u.metric,
                description: u.description,
                group: u.group,
                unit: u.unit,
                period: PeriodView::from(&u.period.service_period(false)),
                quantity: u.quantity,
                included: u.included,
                beyond_included: u.beyond_included,
                estimated_amount: u.amount,
            })
            .collect(),
        as_of: now,
        note: "An estimate: usage reported later for this period, and the contract's changes, are billed as they \
               stand on the bill date."
            .into(),
    }))
}

/// `GET /v1/accounts/{account_id}/invoices/upcoming`: the next bill as the bill run would make
/// it now (a draft waiting for review is shown as it is).
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/invoices/upcoming",
    operation_id = "statements_upcoming",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = UpcomingBillView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn upcoming(
    State(state): State<AppState>,
    WithContract { access: AccountAccess { id, .. }, contract }: WithContract<can::Read>,
) -> ApiResult<Json<UpcomingBillView>> {
    let now = Utc::now();
    let bill_date = contract.next_bill_date;
    let (mut invoice, unrated_usage) = match contract.draft.as_ref().filter(|d| d.bill_date == bill_date) {
        Some(draft) => {
            let stored = state.store.bill(&id, &draft.invoice_id).await?;
            let missing = || DomainError::Corrupt(format!("draft {} of {id} is missing", draft.invoice_id));
            (stored.ok_or_else(missing)?, 0)
        }
        None => {
            let (records, taxes) = tokio::try_join!(state.store.bucket_usage(&id, bill_date), state.store.tax_setup())?;
            let (rated, invoice) = contract
                .draft_bill(bill_date, &records, &taxes, now)
                .map_err(|e| DomainError::Corrupt(format!("the upcoming bill of {id}: {e}")))?;
            (invoice, rated.unrated.len())
        }
    };
    // The due date it will get if it is made on its date (or today, when the run is behind).
    let made = bill_date.max(now.date_naive());
    invoice.due_date = Some(contract.terms.due(made).and_time(NaiveTime::MIN).and_utc());
    Ok(Json(UpcomingBillView {
        estimate: true,
        note: "An estimate: the bill is made on its date from the contract and the usage as they stand then.".into(),
        bill_date,
        credit_available: contract.credit,
        unrated_usage,
        invoice: InvoiceView::new(&invoice).map_err(ApiError::from)?,
    }))
}
