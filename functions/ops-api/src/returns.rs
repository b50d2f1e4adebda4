//! Returned checks: the bank sends a deposited check back (not sufficient funds, payment
//! stopped, account closed). Staff enter it from the account page, or the bank's BAI2 file
//! reports it (type 555, see [`crate::lockbox`]); either way the payment is taken back, every
//! bill it paid is owed again (reminders and aging follow at once), the customer is told, and
//! the seller's fee, when one is chosen, goes on the next bill. Exactly once per check.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use billing_domain::catalog::PriceId;
use billing_domain::ledger::ReturnReason;
use billing_domain::receipts::{self, Returning};
use billing_domain::staff::Permission;
use billing_domain::{Error as DomainError, Money};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller, account_id};
use crate::{OpsError, OpsResult, OpsState, OpsStore};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    /// The check's payment reference as the account's payments list it: `check:1042`, or
    /// `lockbox:<key>` for a check the lockbox file brought (every share of it is taken back).
    pub reference: String,
    /// The day the bank returned it.
    pub returned_on: NaiveDate,
    pub reason: ReturnReason,
    /// A one-time catalog price in the account's currency, charged on the next bill as the
    /// returned-check fee (none: no fee).
    #[serde(default)]
    pub fee_price: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReturnedShare {
    pub invoice_id: String,
    pub number: Option<String>,
    pub amount: Money,
    /// What of it had become account credit (taken back too).
    pub to_credit: Money,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReturnResponse {
    /// `returned`, or `already_returned` when the whole check was taken back before.
    pub status: &'static str,
    pub reference: String,
    pub check_number: Option<String>,
    /// The whole check.
    pub amount: Money,
    /// The bills it had paid, each owed again by its share.
    pub shares: Vec<ReturnedShare>,
    /// The fee the next bill charges.
    pub fee: Option<Money>,
    pub balance_due: Money,
    /// Below zero: owed beyond the open bills (credit the check made that a bill already used),
    /// asked for on the next bill.
    pub account_credit: Money,
}

/// Reads the fee's price: a one-time price of the catalog, in `currency`.
pub(crate) async fn fee_price<S: OpsStore>(
    state: &OpsState<S>,
    id: Option<&str>,
) -> OpsResult<Option<billing_domain::catalog::Price>> {
    let Some(id) = id else { return Ok(None) };
    let id: PriceId = id.parse().map_err(|_| DomainError::invalid("fee_price", "not a price id"))?;
    let price = state
        .store
        .prices()
        .await?
        .remove(&id)
        .ok_or_else(|| DomainError::invalid("fee_price", format!("no price {id} in the catalog")))?;
    Ok(Some(price))
}

/// `POST …/accounts/{account_id}/payments/return`: the bank returned a check. Every share of it
/// is taken back, each bill it paid is owed again (and reminded of again), what it made account
/// credit is taken back, the customer is mailed once, and the fee (when given) goes on the next
/// bill. The same check again changes nothing (`already_returned`).
#[utoipa::path(post, path = "/v1/staff/accounts/{account_id}/payments/return", operation_id = "staff_return_payment", tag = "staff",
    params(("account_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)"),),
    request_body = ReturnBody,
    responses((status = 201, body = ReturnResponse, description = "taken back (`returned`)"), (status = 200, body = ReturnResponse, description = "taken back before (`already_returned`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`validation_failed` (a future date, a fee price that is not one-time in the account's currency), `reason_required`"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or payment (`not_found`)")),
    security(("staff" = [])))]
pub async fn return_payment<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(account): Path<String>,
    JsonBody(body): JsonBody<ReturnBody>,
) -> OpsResult<(StatusCode, Json<ReturnResponse>)> {
    let reason = caller.write(Permission::PaymentRecord)?;
    let account = account_id(&account)?;
    let now = Utc::now();
    if body.returned_on > now.date_naive() {
        return Err(DomainError::invalid("returned_on", "must not be in the future").into());
    }
    let reference = body.reference.trim();
    if reference.is_empty() || reference.len() > 120 || billing_domain::ledger::check_reference(reference) != reference
    {
        return Err(
            DomainError::invalid("reference", "must be a check's reference (`check:1042`), not one share's").into()
        );
    }
    let fee = fee_price(&state, body.fee_price.as_deref()).await?;
    let returning = Returning {
        account_id: account.clone(),
        reference: reference.to_owned(),
        returned_on: body.returned_on,
        reason: body.reason,
        bank_reference: None,
        fee,
        actor: caller.actor(),
        recorded_by: caller.name(),
        staff_reason: reason,
    };
    let done = take_back(&state, &returning).await?;
    Ok((if done.status == "returned" { StatusCode::CREATED } else { StatusCode::OK }, Json(done)))
}

/// Takes the check back and reports it as the response does (also the BAI2 import's path).
pub(crate) async fn take_back<S: OpsStore>(state: &OpsState<S>, returning: &Returning) -> OpsResult<ReturnResponse> {
    let account = &returning.account_id;
    let done = match receipts::return_check(&*state.store, returning, Utc::now()).await {
        Ok(d) => d,
        Err(DomainError::NotFound) => return Err(OpsError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let balance_due =
        state.store.account(account).await?.map_or(Money::zero(done.amount.currency()), |a| a.balance_due);
    tracing::info!(account_id = %account, reference = returning.reference, now = done.returned_now, "check returned");
    Ok(ReturnResponse {
        status: if done.returned_now > 0 { "returned" } else { "already_returned" },
        reference: returning.reference.clone(),
        check_number: done.shares.first().and_then(|s| s.check_number.clone()),
        amount: done.amount,
        shares: done
            .shares
            .iter()
            .map(|s| ReturnedShare {
                invoice_id: s.invoice_id.clone(),
                number: done.bills.iter().find(|(id, _)| *id == s.invoice_id).and_then(|(_, n)| n.clone()),
                amount: s.amount,
                to_credit: s.to_credit,
            })
            .collect(),
        fee: done.fee,
        balance_due,
        account_credit: done.credit,
    })
}
