//! `GET /v1/ops/receivables?as_of=DATE`: who owes what for how long. Every account with money
//! owed (open invoices with something left to pay, card and contract alike), aged as of the date
//! into current, 1–30, 31–60, 61–90 and over 90 days past due, with totals per currency; with
//! `Accept: text/csv`, the same as CSV.
//!
//! It ages what is open now: invoices made after `as_of` are left out, but a past `as_of` does not
//! undo payments recorded since.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use billing_domain::Money;
use billing_domain::receivables::{AgingBucket, Buckets, Receivable, aging};
use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::extract::OpsCaller;
use crate::{OpsError, OpsResult, OpsState, OpsStore};
use billing_domain::staff::Permission;

/// Receivables read per page of the index.
const PAGE: u16 = 500;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BucketAmounts {
    pub current: Money,
    pub days_1_30: Money,
    pub days_31_60: Money,
    pub days_61_90: Money,
    pub over_90: Money,
    pub total: Money,
}

impl From<&Buckets> for BucketAmounts {
    fn from(b: &Buckets) -> Self {
        let [current, days_1_30, days_31_60, days_61_90, over_90] = b.amounts;
        Self { current, days_1_30, days_31_60, days_61_90, over_90, total: b.total }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountAging {
    pub account_id: String,
    pub name: String,
    pub currency: String,
    #[serde(flatten)]
    pub amounts: BucketAmounts,
    pub oldest_due_date: NaiveDate,
    /// Days past due of the oldest open invoice (zero or less: not yet due).
    pub days_past_due: i64,
    pub invoices: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    #[serde(flatten)]
    pub amounts: BucketAmounts,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceivablesReport {
    pub as_of: NaiveDate,
    /// The most past due first.
    pub accounts: Vec<AccountAging>,
    pub totals: Vec<CurrencyTotal>,
}

/// `GET /v1/ops/receivables?as_of=YYYY-MM-DD` (default today, UTC).
#[utoipa::path(get, path = "/v1/staff/receivables", operation_id = "staff_receivables", tag = "staff",
    params(("as_of" = Option<String>, Query, description = "The day the bills are aged on (`YYYY-MM-DD`), default today (UTC)")),
    responses((status = 200, body = ReceivablesReport, description = "Aging per account and currency, most past due first; with `Accept: text/csv` the same as CSV (formula-safe)"),
        (status = 400, body = crate::openapi::ErrorBody, description = "`invalid_parameter`"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn report<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> OpsResult<Response> {
    caller.require(Permission::AccountRead)?;
    if let Some(unknown) = q.keys().find(|k| k.as_str() != "as_of") {
        return Err(OpsError::InvalidParameter(format!("unknown parameter {unknown:?}; only as_of is taken")));
    }
    let as_of = match q.get("as_of") {
        None => Utc::now().date_naive(),
        Some(raw) => raw
            .parse::<NaiveDate>()
            .map_err(|_| OpsError::InvalidParameter(format!("as_of must be a date like 2026-12-31; got {raw:?}")))?,
    };
    let mut open: Vec<Receivable> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = state.store.receivables(None, PAGE, cursor.as_deref()).await?;
        open.extend(page.items);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let aged = aging(&open, as_of)?;
    // The accounts' names, a hundred a call.
    let ids: Vec<_> = aged.rows.iter().map(|r| r.account_id.clone()).collect();
    let names = state.store.account_names(&ids).await?;
    let report = ReceivablesReport {
        as_of,
        accounts: aged
            .rows
            .iter()
            .map(|r| AccountAging {
                account_id: r.account_id.to_string(),
                name: names.get(&r.account_id).cloned().unwrap_or_default(),
                currency: r.buckets.currency.to_string(),
                amounts: BucketAmounts::from(&r.buckets),
                oldest_due_date: r.oldest_due,
                days_past_due: (as_of - r.oldest_due).num_days(),
                invoices: r.invoices,
            })
            .collect(),
        totals: aged
            .totals
            .iter()
            .map(|t| CurrencyTotal { currency: t.currency.to_string(), amounts: BucketAmounts::from(t) })
            .collect(),
    };
    Ok(if billing_http::accepts(&headers, "text/csv") {
        let mut response = csv(&report).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        let disposition = format!("attachment; filename=\"receivables-{as_of}.csv\"");
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        response
    } else {
        Json(report).into_response()
    })
}

/// The report as CSV (RFC 4180): a row per account and currency, then a `TOTAL` row per
/// currency. Amounts are plain decimals in their row's currency.
pub fn csv(report: &ReceivablesReport) -> String {
    let buckets = AgingBucket::ALL.map(AgingBucket::as_str).join(",");
    let mut out = format!("account_id,name,currency,{buckets},total,oldest_due_date,days_past_due,invoices\r\n");
    let amounts = |a: &BucketAmounts| {
        [a.current, a.days_1_30, a.days_31_60, a.days_61_90, a.over_90, a.total]
            .iter()
            .map(|m| m.amount().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for r in &report.accounts {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            field(&r.account_id),
            field(&r.name),
            r.currency,
            amounts(&r.amounts),
            r.oldest_due_date,
            r.days_past_due,
            r.invoices
        ));
    }
    for t in &report.totals {
        out.push_str(&format!("TOTAL,,{},{},,,\r\n", t.currency, amounts(&t.amounts)));
    }
    out
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is escaped with `'` so a spreadsheet does not run it as a formula.
fn field(raw: &str) -> String {
    let text = if raw.starts_with(['=', '+', '-', '@']) { format!("'{raw}") } else { raw.to_owned() };
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(field("Acme Hosting"), "Acme Hosting");
        assert_eq!(field("Smith, Jones & \"Co\""), "\"Smith, Jones & \"\"Co\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
    }
}
