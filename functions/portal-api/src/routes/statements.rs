//! Statements: the account's invoices (itemized, grouped, with each line's service period), the
//! latest statement with the balance due, and the processor's customer portal for receipts.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use billing_domain::invoice::InvoiceStatus;
use billing_domain::receivables::past_due;
use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;

use crate::access::{AccountAccess, AccountScope, WithStatement, can};
use crate::error::{ApiError, ApiResult};
use crate::error::{ReadErrors, WriteErrors};
use crate::extract::{self, OptionalJson};
use crate::routes::views::{
    InvoiceListView, InvoiceSummaryView, InvoiceView, PdfLinkView, RedirectView, StatementView,
};
use crate::state::AppState;

const DEFAULT_LIMIT: u16 = 20;
const MAX_LIMIT: u16 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn parse_status(raw: &str) -> ApiResult<InvoiceStatus> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| {
        ApiError::InvalidParameter(format!("status must be one of draft, open, paid, uncollectible, void; got {raw:?}"))
    })
}

/// `GET /v1/accounts/{account_id}/invoices?status=&limit=&cursor=`: newest first.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/invoices",
    operation_id = "statements_list",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        InvoiceQuery,
    ),
    responses(
        (status = 200, body = InvoiceListView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    scope: AccountScope<can::Read>,
    query: Result<Query<InvoiceQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<InvoiceListView>> {
    // Read while the membership is checked; a bad parameter is answered only to a member.
    let (_, page) = scope
        .read(&state, async |id| {
            let Query(q) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
            let status = q.status.as_deref().map(parse_status).transpose()?;
            let limit = extract::limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
            state.store.invoices(id, status, limit, q.cursor.as_deref()).await.map_err(|e| match e {
                billing_domain::Error::Invalid(_) => {
                    ApiError::InvalidParameter("cursor is not one this API issued".into())
                }
                other => other.into(),
            })
        })
        .await?;
    Ok(Json(InvoiceListView {
        invoices: page.invoices.iter().map(InvoiceSummaryView::from).collect(),
        next_cursor: page.next,
    }))
}

/// `GET /v1/accounts/{account_id}/invoices/{invoice_id}`: one invoice, itemized and grouped.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/invoices/{invoice_id}",
    operation_id = "statements_get",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("invoice_id" = String, Path, description = "The invoice (`in_…`)"),
    ),
    responses(
        (status = 200, body = InvoiceView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    scope: AccountScope<can::Read>,
    Path((_, invoice)): Path<(String, String)>,
) -> ApiResult<Json<InvoiceView>> {
    let (_, invoice) = scope.read(&state, async |id| state.store.account_invoice(id, &invoice).await).await?;
    let invoice = invoice.ok_or(ApiError::NotFound)?;
    Ok(Json(InvoiceView::new(&invoice)?))
}

/// How long a PDF link lasts.
const PDF_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// `GET /v1/accounts/{account_id}/invoices/{invoice_id}/pdf`: the bill's PDF. A contract bill's
/// is the stored one, behind a link valid for 5 minutes; a card invoice's is the processor's.
/// Answers `302` to it; with `Accept: application/json`, `200` with the link instead (a browser
/// app cannot read a cross-origin redirect).
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/invoices/{invoice_id}/pdf",
    operation_id = "statements_pdf",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        ("invoice_id" = String, Path, description = "The invoice"),
    ),
    responses(
        (status = 302, description = "To the PDF (the `Location` header)"),
        (status = 200, body = PdfLinkView, description = "With `Accept: application/json`: the link"),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn pdf(
    State(state): State<AppState>,
    AccountAccess { id, .. }: AccountAccess<can::Read>,
    Path((_, invoice)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let invoice = state.store.account_invoice(&id, &invoice).await?.ok_or(ApiError::NotFound)?;
    let (url, expires_at) = if billing_domain::ledger::is_contract_bill(&invoice.id) {
        let documents = state.documents.as_ref().ok_or(ApiError::NoPdf)?;
        let key = billing_domain::ports::bill_document_key(&id, &invoice.id);
        let url = documents.link(&key, PDF_LINK_TTL).await?.ok_or(ApiError::PdfNotReady)?;
        (url, Some(Utc::now() + chrono::Duration::from_std(PDF_LINK_TTL).unwrap_or_default()))
    } else {
        (invoice.pdf_url.clone().ok_or(ApiError::NoPdf)?, None)
    };
    if billing_http::accepts(&headers, "application/json") {
        return Ok(Json(PdfLinkView { url, expires_at }).into_response());
    }
    let mut response = (StatusCode::FOUND, Json(PdfLinkView { url: url.clone(), expires_at })).into_response();
    let location = axum::http::HeaderValue::from_str(&url).map_err(|_| ApiError::NoPdf)?;
    response.headers_mut().insert(axum::http::header::LOCATION, location);
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The statement's period: `from` and `to` (days, `YYYY-MM-DD`, both included).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// The first day; by default the first day of the month two months back (three months of
    /// activity with this one).
    from: Option<String>,
    /// The last day, today at the latest (UTC); by default today.
    to: Option<String>,
}

/// The first day statements can start.
const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");

fn day(name: &str, raw: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| ApiError::InvalidParameter(format!("{name} must be a day as YYYY-MM-DD; got {raw:?}")))
}

/// The period asked for, or why it cannot be stated.
fn period(
    query: Result<Query<StatementQuery>, axum::extract::rejection::QueryRejection>,
    today: NaiveDate,
) -> ApiResult<(NaiveDate, NaiveDate)> {
    let Query(q) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let to = q.to.as_deref().map(|t| day("to", t)).transpose()?.unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(f) => day("from", f)?,
        None => to.with_day(1).and_then(|d| d.checked_sub_months(chrono::Months::new(2))).unwrap_or(to),
    };
    if to > today {
        return Err(ApiError::InvalidParameter(format!("to must be today ({today}) or earlier")));
    }
    if from > to {
        return Err(ApiError::InvalidParameter("from must be on or before to".into()));
    }
    if from < EARLIEST {
        return Err(ApiError::InvalidParameter(format!("from must be {EARLIEST} or later")));
    }
    Ok((from, to))
}

/// `GET /v1/accounts/{account_id}/statement?from=&to=`: the balance due, the latest bill, the
/// open ones, and the statement of account for the period: opening balance, one row per bill,
/// payment, credit note and void with the running balance, closing balance, the bills open at
/// its end and their aging. The opening balance plus the charges less the credits is the closing
/// balance, which is the open bills less any unapplied credit.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/statement",
    operation_id = "statements_statement",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        StatementQuery,
    ),
    responses(
        (status = 200, body = StatementView),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn statement(
    WithStatement { access, account, open, recent, ledger }: WithStatement<can::Read>,
    query: Result<Query<StatementQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<StatementView>> {
    let today = Utc::now().date_naive();
    let (from, to) = period(query, today)?;
    let activity = billing_domain::statement::statement(&access.id, account.currency, &ledger, from, to)?;
    let latest = recent.iter().find(|i| i.status != InvoiceStatus::Draft);
    let past_due = past_due(&open, today)?;
    Ok(Json(StatementView {
        past_due,
        balance_due: account.balance_due,
        latest_invoice: latest.map(InvoiceView::new).transpose()?,
        open_invoices: open.iter().filter(|i| !i.amount_remaining.is_zero()).map(InvoiceSummaryView::from).collect(),
        activity,
    }))
}

/// `GET /v1/accounts/{account_id}/statement/pdf?from=&to=`: the statement of account as a PDF
/// (made on request; the same period gives the same bytes).
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/statement/pdf",
    operation_id = "statements_statement_pdf",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
        StatementQuery,
    ),
    responses(
        (status = 200, content_type = "application/pdf", body = Vec<u8>, description = "The statement's PDF"),
        ReadErrors
    ),
    security(("bearer" = []))
)]
pub async fn statement_pdf(
    State(state): State<AppState>,
    scope: AccountScope<can::Read>,
    query: Result<Query<StatementQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (access, (account, ledger)) =
        scope.read(&state, async |id| tokio::try_join!(state.store.account(id), state.store.ledger_items(id))).await?;
    let account = account.ok_or(ApiError::NotFound)?;
    let (from, to) = period(query, Utc::now().date_naive())?;
    let activity = billing_domain::statement::statement(&access.id, account.currency, &ledger, from, to)?;
    let brand = billing_documents::render::Brand {
        seller: state.settings.seller_name.clone(),
        portal_url: state.settings.portal_url.clone(),
        remit_to: state.settings.remit_to.clone(),
        scan_check_digit: Default::default(),
    };
    let facts = billing_documents::render::StatementFacts::new(&brand, &account, &activity);
    let id = format!("statement_{}_{from}_{to}", access.id);
    let created = to.and_time(chrono::NaiveTime::MIN).and_utc();
    let bytes = billing_documents::pdf::statement(&facts, created, &id)
        .map_err(|e| ApiError::Domain(billing_domain::Error::Corrupt(e.to_string())))?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
        (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.pdf\"")),
        (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, bytes).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalBody {
    /// Where the processor's portal sends the user back; must be under the portal's own URL.
    return_url: Option<String>,
}

/// `POST /v1/accounts/{account_id}/billing-portal-session`: the processor's customer portal, for
/// receipts, invoice PDFs and history.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/billing-portal-session",
    operation_id = "statements_billing_portal",
    tag = "statements",
    params(
        ("account_id" = String, Path, description = "The account (`acct_…`)"),
    ),
    request_body = Option<PortalBody>,
    responses(
        (status = 201, body = RedirectView, description = "The processor's customer portal: receipts, invoice PDFs, history"),
        WriteErrors
    ),
    security(("bearer" = []))
)]
pub async fn billing_portal(
    State(state): State<AppState>,
    AccountAccess { id, .. }: AccountAccess<can::ManageBilling>,
    OptionalJson(body): OptionalJson<PortalBody>,
) -> ApiResult<(StatusCode, Json<RedirectView>)> {
    let return_url = state.settings.return_url(body.return_url.as_deref(), &id)?;
    let customer = state.store.customer_of(&id).await?.ok_or(ApiError::NoBillingCustomer)?;
    let r = state.processor.billing_portal(&customer, &return_url).await?;
    Ok((StatusCode::CREATED, Json(RedirectView { id: r.id, url: r.url })))
}
