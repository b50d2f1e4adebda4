//! Paying the balance and managing payment methods. Amounts always come from the stored
//! invoices, re-checked against the processor; a client never sets one. Card details never pass
//! through here: Checkout collects them, the processor keeps them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use billing_domain::invoice::{Invoice, InvoiceStatus};
use billing_domain::{AccountId, AuditAction, AuditEntry, Error, FieldError, Money};
use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::access::{AccountAccess, AccountScope, can};
use crate::error::{ApiError, ApiResult, ChangedInvoice};
use crate::error::{ReadErrors, WriteErrors};
use crate::extract::{self, OptionalJson};
use billing_stripe::metadata::MAX_CONTRACT_BILLS;

use crate::processor::{InvoiceCharge, PayOutcome};
use crate::routes::views::{PaymentMethodView, PaymentMethodsView, PaymentResultView, PaymentView, RedirectView};
use crate::state::AppState;

/// How many invoices one payment may settle.
const MAX_INVOICES: usize = 50;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayWith {
    /// The default payment method if the account has one, else Checkout.
    #[default]
    Auto,
    /// The account's default payment method.
    DefaultMethod,
    /// A Checkout page (a new card, or another method).
    Checkout,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// The invoices to pay; default: every open invoice with something left to pay.
    invoice_ids: Option<Vec<String>>,
    #[serde(default)]
    pay_with: PayWith,
    /// What the customer confirmed is left on an invoice after it changed at the processor (the
    /// `invoice` of an `invoice_changed` answer). An invoice is charged only when the processor
    /// still has exactly this much left on it; by default, the amount this API listed.
    expected_amounts: Option<Vec<ExpectedAmount>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAmount {
    invoice_id: String,
    amount_remaining: Money,
}

/// The client's `Idempotency-Key`, hashed (it becomes part of the processor's key).
fn client_key(headers: &HeaderMap) -> ApiResult<String> {
    Ok(extract::idempotency_key(headers)?
        .map(|k| format!("{:x}", Sha256::digest(k.as_bytes()))[..16].to_owned())
        .unwrap_or_default())
}

/// The invoices to pay: the ones named (each open, with something left), or every open one.
async fn payable(state: &AppState, account: &AccountId, ids: Option<Vec<String>>) -> ApiResult<Vec<Invoice>> {
    let Some(ids) = ids else {
        let open = state.store.invoices(account, Some(InvoiceStatus::Open), MAX_INVOICES as u16, None).await?;
        let due: Vec<Invoice> = open.invoices.into_iter().filter(|i| !i.amount_remaining.is_zero()).collect();
        return if due.is_empty() { Err(ApiError::NothingToPay) } else { Ok(due) };
    };
    if ids.is_empty() || ids.len() > MAX_INVOICES {
        return Err(Error::invalid("invoice_ids", format!("name 1 to {MAX_INVOICES} invoices")).into());
    }
    let mut invoices: Vec<Invoice> = Vec::with_capacity(ids.len());
    let mut problems = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let field = format!("invoice_ids[{n}]");
        if invoices.iter().any(|i| &i.id == id) {
            problems.push(FieldError::new(field, "is named twice"));
            continue;
        }
        match state.store.account_invoice(account, id).await? {
            None => problems.push(FieldError::new(field, format!("no invoice {id} on this account"))),
            Some(i) if i.status != InvoiceStatus::Open => {
                problems.push(FieldError::new(field, format!("invoice {id} is not open")))
            }
            Some(i) if i.amount_remaining.is_zero() => {
                problems.push(FieldError::new(field, format!("nothing is left to pay on invoice {id}")))
            }
            Some(i) => invoices.push(i),
        }
    }
    if problems.is_empty() { Ok(invoices) } else { Err(Error::Invalid(problems).into()) }
}

fn total(invoices: &[Invoice]) -> ApiResult<Money> {
    let currency = invoices.first().map(|i| i.currency).ok_or(ApiError::NothingToPay)?;
    invoices.iter().try_fold(Money::zero(currency), |sum, i| {
        sum.checked_add(&i.amount_remaining).map_err(|e| Error::Corrupt(format!("invoice {}: {e}", i.id)).into())
    })
}

/// `POST /v1/accounts/{account_id}/payments`: pays open invoices with the default payment method,
/// or returns a Checkout page for them.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/payments",
    operation_id = "payments_pay",
    tag = "payments",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key returns the first result"),
    ),
    request_body = Option<PayBody>,
    responses(
        (status = 201, body = PaymentView, description = "Charged to the default method (one result per invoice), or a Checkout page to pay on"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn pay(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<PayBody>,
) -> ApiResult<(StatusCode, Json<PaymentView>)> {
    let key = client_key(&headers)?;
    let expected = body.expected_amounts.unwrap_or_default();
    let invoices = payable(&state, &id, body.invoice_ids).await?;
    if let Some((n, e)) = expected.iter().enumerate().find(|(_, e)| !invoices.iter().any(|i| i.id == e.invoice_id)) {
        return Err(Error::invalid(
            format!("expected_amounts[{n}].invoice_id"),
            format!("invoice {} is not among the invoices being paid", e.invoice_id),
        )
        .into());
    }
    // Our own contract bills (invoice-mode accounts) are paid through Checkout: there is no
    // processor invoice to charge a saved method against.
    let (contract, invoices): (Vec<Invoice>, Vec<Invoice>) =
        invoices.into_iter().partition(|i| billing_domain::ledger::is_contract_bill(&i.id));
    if !contract.is_empty() {
        if body.pay_with == PayWith::DefaultMethod {
            return Err(Error::invalid(
                "pay_with",
                "contract bills are paid through Checkout (`checkout`) or by check; a saved method is not charged",
            )
            .into());
        }
        if contract.len() > MAX_CONTRACT_BILLS {
            return Err(Error::invalid(
                "invoice_ids",
                format!("pay at most {MAX_CONTRACT_BILLS} contract bills at once"),
            )
            .into());
        }
    }
    let customer = state.store.customer_of(&id).await?;
    if customer.is_none() && contract.is_empty() {
        return Err(ApiError::NoBillingCustomer);
    }
    // Our copy may lag the processor (a payment in flight, or this very request retried): charge
    // only what the processor itself says is left, and only when it agrees with what the
    // customer was shown (or confirmed after a change). Invoices it already has as paid are
    // reported, not charged. Any other difference is answered with the invoice as the processor
    // has it, for the customer to see and confirm; our copy follows with the processor's event.
    let mut already_paid = Vec::new();
    let mut due = Vec::with_capacity(invoices.len());
    for mut inv in invoices {
        let remote = state.processor.invoice(&inv.id).await?;
        let shown =
            expected.iter().find(|e| e.invoice_id == inv.id).map_or(inv.amount_remaining, |e| e.amount_remaining);
        match remote.status {
            InvoiceStatus::Paid => already_paid.push(PaymentResultView::AlreadyPaid { invoice_id: inv.id.clone() }),
            InvoiceStatus::Open if remote.amount_remaining == shown => {
                inv.amount_remaining = remote.amount_remaining;
                due.push(inv);
            }
            status => {
                tracing::warn!(invoice = %inv.id, ?remote, "invoice differs at the processor");
                return Err(ApiError::InvoiceChanged(Box::new(ChangedInvoice {
                    id: inv.id,
                    status,
                    amount_remaining: remote.amount_remaining,
                })));
            }
        }
    }
    let mut invoices = due;
    let pay_with = if contract.is_empty() { body.pay_with } else { PayWith::Checkout };
    invoices.extend(contract);
    if invoices.is_empty() && (pay_with == PayWith::Checkout || already_paid.is_empty()) {
        return Err(ApiError::NothingToPay);
    }
    let default = match pay_with {
        PayWith::Checkout => None,
        PayWith::Auto => state.store.default_payment_method(&id).await?,
        PayWith::DefaultMethod => Some(
            state
                .store
                .default_payment_method(&id)
                .await?
                .ok_or_else(|| Error::invalid("pay_with", "this account has no default payment method"))?,
        ),
    };
    let total = if invoices.is_empty() { Money::zero(account_currency(&state, &id).await?) } else { total(&invoices)? };
    let ids: Vec<String> = invoices.iter().map(|i| i.id.clone()).collect();
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::PaymentRequested,
        Some(ids.join(",")),
        None::<&()>,
        Some(&serde_json::json!({"total": total, "pay_with": default.as_deref().unwrap_or("checkout")})),
        Utc::now(),
    );
    state.store.append_audit(&audit).await?;
    let view = match default {
        Some(pm) => {
            let mut results = already_paid;
            for inv in &invoices {
                // Same invoice, method, amount and client key: the processor answers a retry
                // with the first attempt's result instead of charging again.
                let minor = inv.amount_remaining.to_minor().map_err(|e| Error::Corrupt(e.to_string()))?;
                let idem = format!("pay-{}-{pm}-{minor}-{key}", inv.id);
                results.push(match state.processor.pay_invoice(&inv.id, &pm, &idem).await? {
                    PayOutcome::Paid { amount_paid } => {
                        PaymentResultView::Paid { invoice_id: inv.id.clone(), amount_paid }
                    }
                    PayOutcome::Declined { message } => {
                        PaymentResultView::Declined { invoice_id: inv.id.clone(), message }
                    }
                    PayOutcome::ActionRequired { url } => {
                        PaymentResultView::ActionRequired { invoice_id: inv.id.clone(), url }
                    }
                });
            }
            PaymentView::SavedMethod { payment_method_id: pm, total, results }
        }
        None => {
            let charges: Vec<InvoiceCharge> = invoices
                .iter()
                .map(|i| InvoiceCharge {
                    invoice_id: i.id.clone(),
                    description: format!("Invoice {}", i.number.as_deref().unwrap_or(&i.id)),
                    amount: i.amount_remaining,
                    contract: billing_domain::ledger::is_contract_bill(&i.id),
                })
                .collect();
            let amounts: Vec<String> = charges.iter().map(|c| format!("{}={}", c.invoice_id, c.amount)).collect();
            let idem = format!("checkout-{:x}-{key}", Sha256::digest(amounts.join(",").as_bytes()));
            // The portal's pay page tells a finished payment from an abandoned one by the query.
            let back = state.settings.return_url(None, &id)?;
            let (success, cancel) = (format!("{back}?checkout=success"), format!("{back}?checkout=cancelled"));
            let r =
                state.processor.invoice_checkout(&id, customer.as_deref(), &charges, &success, &cancel, &idem).await?;
            PaymentView::Checkout { session_id: r.id, url: r.url, total, invoice_ids: ids }
        }
    };
    Ok((StatusCode::CREATED, Json(view)))
}

async fn account_currency(state: &AppState, id: &AccountId) -> ApiResult<billing_domain::Currency> {
    Ok(state.store.account(id).await?.ok_or(ApiError::NotFound)?.currency)
}

/// `GET /v1/accounts/{account_id}/payment-methods`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/payment-methods",
    operation_id = "payments_list_methods",
    tag = "payments",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = PaymentMethodsView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn list_methods(
    State(state): State<AppState>,
    scope: AccountScope<can::Read>,
) -> ApiResult<Json<PaymentMethodsView>> {
    // The default and the methods, read together while the membership is checked.
    let (_, (default, mut methods)) = scope
        .read(&state, async |id| {
            tokio::try_join!(state.store.default_payment_method(id), state.store.payment_methods(id))
        })
        .await?;
    methods.sort_by(|a, b| b.stamp.at.cmp(&a.stamp.at).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(PaymentMethodsView {
        payment_methods: methods
            .into_iter()
            .map(|m| PaymentMethodView {
                default: default.as_deref() == Some(m.id.as_str()),
                id: m.id,
                kind: m.kind,
                brand: m.brand,
                last4: m.last4,
                exp_month: m.exp_month,
                exp_year: m.exp_year,
            })
            .collect(),
    }))
}

/// `POST /v1/accounts/{account_id}/payment-methods/setup`: a Checkout page (setup mode) where the
/// user saves a card; it appears here when the processor's event arrives.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/payment-methods/setup",
    operation_id = "payments_setup_method",
    tag = "payments",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 201, body = RedirectView, description = "A Checkout page (setup mode) to save a card"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn setup_method(
    State(state): State<AppState>,
    AccountAccess { id, .. }: AccountAccess<can::ManageBilling>,
) -> ApiResult<(StatusCode, Json<RedirectView>)> {
    let customer = state.store.customer_of(&id).await?.ok_or(ApiError::NoBillingCustomer)?;
    let page = format!("{}/accounts/{id}/payment-methods", state.settings.portal_url);
    let back = state.settings.return_url(Some(&page), &id)?;
    let (success, cancel) = (format!("{back}?setup=success"), format!("{back}?setup=cancelled"));
    let r = state.processor.setup_checkout(&id, &customer, &success, &cancel).await?;
    Ok((StatusCode::CREATED, Json(RedirectView { id: r.id, url: r.url })))
}

/// The account's attached method `pm`, or 404.
async fn attached(
    state: &AppState,
    account: &AccountId,
    pm: &str,
) -> ApiResult<billing_domain::billing::PaymentMethodSummary> {
    state.store.payment_methods(account).await?.into_iter().find(|m| m.id == pm).ok_or(ApiError::NotFound)
}

/// `POST /v1/accounts/{account_id}/payment-methods/{payment_method_id}/default`
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/payment-methods/{payment_method_id}/default",
    operation_id = "payments_set_default",
    tag = "payments",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("payment_method_id" = String, Path, description = "The payment method (`pm_…`)"),
    ),
    responses(
        (status = 202, description = "Asked of the processor; shown once its event arrives"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn set_default(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    Path((_, pm)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let method = attached(&state, &id, &pm).await?;
    let before = state.store.default_payment_method(&id).await?;
    state.processor.set_default_payment_method(&method.customer_id, &method.id).await?;
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::DefaultPaymentMethodSet,
        Some(method.id.clone()),
        before.as_ref(),
        Some(&method.id),
        Utc::now(),
    );
    state.store.append_audit(&audit).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /v1/accounts/{account_id}/payment-methods/{payment_method_id}`: not the only method of
/// a card-billed account whose subscription is running.
#[utoipa::path(
    delete,
    path = "/v1/accounts/{account_id}/payment-methods/{payment_method_id}",
    operation_id = "payments_remove_method",
    tag = "payments",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("payment_method_id" = String, Path, description = "The payment method (`pm_…`)"),
    ),
    responses(
        (status = 202, description = "Detached at the processor; gone once its event arrives"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn remove_method(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    Path((_, pm)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let method = attached(&state, &id, &pm).await?;
    let others = state.store.payment_methods(&id).await?.into_iter().filter(|m| m.id != method.id).count();
    if others == 0 {
        let account = state.store.account(&id).await?.ok_or(ApiError::NotFound)?;
        let billed = state.store.live_subscription(&id).await?.is_some_and(|s| s.status.entitles());
        if account.billing_mode == billing_domain::BillingMode::Card && billed {
            return Err(ApiError::PaymentMethodRequired);
        }
    }
    state.processor.detach_payment_method(&method.id).await?;
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::PaymentMethodRemoved,
        Some(method.id.clone()),
        Some(&serde_json::json!({"brand": method.brand, "last4": method.last4})),
        None::<&()>,
        Utc::now(),
    );
    state.store.append_audit(&audit).await?;
    Ok(StatusCode::ACCEPTED)
}
