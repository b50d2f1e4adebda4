//! Seats bought by card: the subscription, a Checkout to buy the first seats, and changes of the
//! total with a preview whose amount is exactly what the change then charges (same proration
//! date). Accounts billed by invoice contract are sent to sales.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use billing_domain::billing::{PlanInterval, SeatCount, Subscription};
use billing_domain::proration::{self, PeriodPoint};
use billing_domain::seats::SeatStatus;
use billing_domain::{AccountId, AuditAction, AuditEntry, BillingMode, Error, Money};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::access::{AccountAccess, AccountScope, can};
use crate::error::{ApiError, ApiResult};
use crate::error::{ReadErrors, WriteErrors};
use crate::extract::{self, JsonBody};
use crate::processor::{SeatChange, SeatCheckout, SeatItem};
use crate::routes::views::{
    PeriodView, PreviewLineView, RedirectView, SeatChangeView, SeatPreviewView, SubscriptionView,
};
use crate::state::AppState;

/// How far a client's clock may run ahead of ours for a proration date.
const CLOCK_SKEW_SECS: i64 = 60;

/// `GET /v1/accounts/{account_id}/subscription`
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/subscription",
    operation_id = "seats_get",
    tag = "seats",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    responses(
        (status = 200, body = SubscriptionView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn get(State(state): State<AppState>, scope: AccountScope<can::Read>) -> ApiResult<Json<SubscriptionView>> {
    let (_, sub) = scope.read(&state, async |id| state.store.live_subscription(id).await).await?;
    let sub = sub.ok_or(ApiError::SubscriptionNotFound)?;
    Ok(Json(SubscriptionView::from(&sub)))
}

/// The account, if it buys seats by itself (card billing); otherwise sales handles it.
async fn self_serve(state: &AppState, id: &AccountId) -> ApiResult<billing_domain::Account> {
    let account = state.store.account(id).await?.ok_or(ApiError::NotFound)?;
    match account.billing_mode {
        BillingMode::Card => Ok(account),
        BillingMode::Invoice => Err(ApiError::ContactSales(state.settings.sales_contact.clone())),
    }
}

/// A quantity from 1 to the configured maximum.
fn quantity(state: &AppState, raw: i64) -> ApiResult<SeatCount> {
    let max = state.settings.seats.max_quantity;
    if raw < 1 || raw > i64::from(max) {
        return Err(Error::invalid("quantity", format!("must be a whole number from 1 to {max}")).into());
    }
    SeatCount::try_from(raw).map_err(|e| Error::Invalid(vec![e]).into())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    interval: PlanInterval,
    /// How many seats to buy (1 to the seller's maximum, default 500).
    #[schema(minimum = 1)]
    quantity: i64,
}

/// `POST /v1/accounts/{account_id}/checkout/seats`: a Checkout page to start a seat subscription.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/checkout/seats",
    operation_id = "seats_checkout",
    tag = "seats",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key returns the first result"),
    ),
    request_body = CheckoutBody,
    responses(
        (status = 201, body = RedirectView, description = "A Checkout page (subscription mode)"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn checkout(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CheckoutBody>,
) -> ApiResult<(StatusCode, Json<RedirectView>)> {
    let account = self_serve(&state, &id).await?;
    let quantity = quantity(&state, body.quantity)?;
    if state.store.live_subscription(&id).await?.is_some() {
        return Err(ApiError::SubscriptionExists);
    }
    let price_id = match body.interval {
        PlanInterval::Monthly => state.settings.seats.monthly_price.clone(),
        PlanInterval::Annual => state.settings.seats.annual_price.clone(),
    };
    // A retried request (same client key) gets the same Checkout page back.
    let idempotency_key = match extract::idempotency_key(&headers)? {
        Some(k) => format!("seat-checkout-{id}-{:x}", Sha256::digest(format!("{k}|{price_id}|{quantity}").as_bytes())),
        None => format!("seat-checkout-{id}-{}", uuid::Uuid::new_v4().simple()),
    };
    // Back to the portal's seats page, which waits there for the subscription to be recorded.
    let back = state.settings.return_url(Some(&format!("{}/accounts/{id}/seats", state.settings.portal_url)), &id)?;
    let (customer, taxes) = tokio::try_join!(state.store.customer_of(&id), state.store.tax_setup())?;
    let r = state
        .processor
        .seat_checkout(&SeatCheckout {
            account: id.clone(),
            customer,
            automatic_tax: taxes.seller.card_automatic_tax,
            customer_email: Some(account.billing_contact.email.clone()),
            price_id,
            quantity,
            max_quantity: state.settings.seats.max_quantity,
            success_url: format!("{back}?checkout=success"),
            cancel_url: format!("{back}?checkout=cancelled"),
            idempotency_key,
        })
        .await?;
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::SeatCheckoutStarted,
        Some(r.id.clone()),
        None::<&()>,
        Some(&serde_json::json!({"interval": body.interval, "quantity": quantity})),
        Utc::now(),
    );
    state.store.append_audit(&audit).await?;
    Ok((StatusCode::CREATED, Json(RedirectView { id: r.id, url: r.url })))
}

/// Seats assigned to people: a total below it would take a seat from someone.
async fn seats_taken(state: &AppState, id: &AccountId) -> ApiResult<u32> {
    let book = state.store.seat_book(id).await?;
    let taken = book.seats.iter().filter(|s| s.assignee.is_some() && s.status != SeatStatus::Suspended).count();
    Ok(u32::try_from(taken).unwrap_or(u32::MAX))
}

/// The running subscription and its seat item as the processor holds it now, for a change to
/// `quantity` seats.
async fn change_target(
    state: &AppState,
    id: &AccountId,
    raw_quantity: i64,
) -> ApiResult<(Subscription, SeatItem, SeatCount)> {
    let quantity = quantity(state, raw_quantity)?;
    let sub = state.store.live_subscription(id).await?.ok_or(ApiError::NoSubscription)?;
    let taken = seats_taken(state, id).await?;
    if quantity.get() < taken {
        return Err(ApiError::SeatsInUse(taken));
    }
    let item = state.processor.seat_item(&sub.id).await?;
    if !item.status.entitles() {
        return Err(ApiError::NoSubscription);
    }
    Ok((sub, item, quantity))
}

fn change(item: &SeatItem, quantity: SeatCount, at: DateTime<Utc>) -> SeatChange {
    SeatChange {
        subscription_id: item.subscription_id.clone(),
        item_id: item.item_id.clone(),
        customer_id: item.customer_id.clone(),
        quantity,
        proration_date: at,
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The new TOTAL number of seats.
    #[schema(minimum = 1)]
    quantity: i64,
}

/// `POST /v1/accounts/{account_id}/subscription/seats/preview`
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/subscription/seats/preview",
    operation_id = "seats_preview",
    tag = "seats",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = PreviewBody,
    responses(
        (status = 200, body = SeatPreviewView),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn preview(
    State(state): State<AppState>,
    AccountAccess { id, .. }: AccountAccess<can::ManageBilling>,
    JsonBody(body): JsonBody<PreviewBody>,
) -> ApiResult<Json<SeatPreviewView>> {
    self_serve(&state, &id).await?;
    let (sub, item, quantity) = change_target(&state, &id, body.quantity).await?;
    let at = Utc::now().trunc_subsecs(0);
    let p = state.processor.preview_seat_change(&change(&item, quantity, at)).await?;
    Ok(Json(SeatPreviewView {
        subscription_id: sub.id,
        interval: item.interval,
        current_quantity: item.quantity,
        quantity,
        proration_date: at,
        amount_now: p.amount_now,
        lines: p
            .lines
            .into_iter()
            .map(|l| PreviewLineView {
                description: l.description,
                amount: l.amount,
                service_period: PeriodView::new(l.period_start, l.period_end),
            })
            .collect(),
        new_renewal_amount: item.unit_amount.map(|u: Money| proration::renewal(u, quantity)),
        next_renewal_at: item.current_period_end,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// The new TOTAL number of seats.
    #[schema(minimum = 1)]
    quantity: i64,
    /// The `proration_date` of the preview the user accepted.
    proration_date: DateTime<Utc>,
}

/// `PUT /v1/accounts/{account_id}/subscription/seats`: applies a previewed change. The proration
/// is invoiced at once (annual plans would otherwise defer it a year) and charged to the default
/// payment method; the subscription here follows when the processor's events arrive.
#[utoipa::path(
    put,
    path = "/v1/accounts/{account_id}/subscription/seats",
    operation_id = "seats_apply",
    tag = "seats",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = ChangeBody,
    responses(
        (status = 202, body = SeatChangeView, description = "Applied at the processor; the subscription here follows its events"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn apply(
    State(state): State<AppState>,
    AccountAccess { id, caller, .. }: AccountAccess<can::ManageBilling>,
    JsonBody(body): JsonBody<ChangeBody>,
) -> ApiResult<(StatusCode, Json<SeatChangeView>)> {
    self_serve(&state, &id).await?;
    let (sub, item, quantity) = change_target(&state, &id, body.quantity).await?;
    let at = body.proration_date.trunc_subsecs(0);
    PeriodPoint::new(item.current_period_start, item.current_period_end, at).map_err(|e| Error::Invalid(vec![e]))?;
    if at > Utc::now() + Duration::seconds(CLOCK_SKEW_SECS) {
        return Err(Error::invalid("proration_date", "is in the future; use the one the preview returned").into());
    }
    // The same change (subscription, total, proration date) is the same request: a retry gets
    // the processor's first answer and is never charged twice.
    let key = format!("seats-{}-{}-{}", item.subscription_id, quantity, at.timestamp());
    state.processor.apply_seat_change(&change(&item, quantity, at), &key).await?;
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::SeatsChanged,
        Some(sub.id.clone()),
        Some(&item.quantity),
        Some(&serde_json::json!({"quantity": quantity, "proration_date": at})),
        Utc::now(),
    );
    state.store.append_audit(&audit).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SeatChangeView { subscription_id: sub.id, quantity, proration_date: at, status: "pending" }),
    ))
}
