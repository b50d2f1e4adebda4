//! Catalog, cohorts and their import, bill runs, and an account's contract billing at a glance.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bill_run::{RunReport, RunRequest};
use billing_domain::audit::{AuditAction, AuditEntry};
use billing_domain::catalog::{Price, PriceId};
use billing_domain::contract::{ContractAccount, parse_import};
use billing_domain::invoice::Invoice;
use billing_domain::ledger::Cohort;
use billing_domain::ledger::CreditNote;
use billing_domain::{Account, BillingMode, Error as DomainError, FieldError, Money};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller, account_id};
use crate::{OpsError, OpsResult, OpsState, OpsStore};
use billing_domain::staff::Permission;

#[utoipa::path(get, path = "/v1/staff/prices", operation_id = "staff_prices", tag = "catalog",
    responses((status = 200, body = Vec<Price>), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn list_prices<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<Vec<Price>>> {
    caller.require(Permission::AccountRead)?;
    Ok(Json(state.store.prices().await?.into_values().collect()))
}

/// `PUT /v1/ops/prices/{price_id}`: creates or replaces a catalog price. Running contracts keep
/// the price they were imported with.
#[utoipa::path(put, path = "/v1/staff/prices/{price_id}", operation_id = "staff_put_price", tag = "catalog",
    params(("price_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = Price,
    responses((status = 200, body = Price), (status = 422, body = crate::openapi::ErrorBody, description = "invalid fields (`validation_failed`), or no reason (`reason_required`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn put_price<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
    JsonBody(price): JsonBody<Price>,
) -> OpsResult<Json<Price>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let id: PriceId =
        id.parse().map_err(|e: FieldError| OpsError::InvalidParameter(format!("price id: {}", e.message)))?;
    if price.id != id {
        return Err(DomainError::invalid("id", "must be the id in the path").into());
    }
    let price = price.parse()?;
    if !price.tax_codes.is_empty() {
        let setup = state.store.tax_setup().await?;
        billing_domain::tax::check_codes(&price.tax_codes, &setup.rates, "tax_codes")?;
    }
    let before = state.store.prices().await?.remove(&price.id);
    let audit = caller.seller_audit(
        AuditAction::PriceSaved,
        Some(price.id.to_string()),
        before.as_ref(),
        Some(&price),
        reason.as_ref(),
    );
    state.store.put_price(&price, Some(&audit)).await?;
    tracing::info!(by = %caller.name(), price = %price.id, "price saved");
    Ok(Json(price))
}

/// `GET …/cohorts`: the cohorts, by go-live.
#[utoipa::path(get, path = "/v1/staff/cohorts", operation_id = "staff_cohorts", tag = "catalog",
    responses((status = 200, body = Vec<Cohort>), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn list_cohorts<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<Vec<Cohort>>> {
    caller.require(Permission::AccountRead)?;
    let mut cohorts = state.store.cohorts().await?;
    cohorts.sort_by(|a, b| a.go_live.cmp(&b.go_live).then_with(|| a.id.cmp(&b.id)));
    Ok(Json(cohorts))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CohortBody {
    pub name: String,
    pub go_live: NaiveDate,
}

/// `PUT /v1/ops/cohorts/{cohort_id}`: creates or renames a cohort or moves its go-live.
#[utoipa::path(put, path = "/v1/staff/cohorts/{cohort_id}", operation_id = "staff_put_cohort", tag = "catalog",
    params(("cohort_id" = String, Path, description = "1 to 40 lowercase letters, digits or `-`"), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = CohortBody,
    responses((status = 200, body = Cohort), (status = 422, body = crate::openapi::ErrorBody, description = "invalid fields (`validation_failed`), or no reason (`reason_required`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn put_cohort<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CohortBody>,
) -> OpsResult<Json<Cohort>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let mut cohort = Cohort::parse(&id, &body.name, body.go_live)?;
    let existing = state.store.cohort(&id).await?;
    if let Some(existing) = &existing
        && existing.go_live == cohort.go_live
    {
        cohort.notices_queued_on = existing.notices_queued_on;
    }
    let audit = caller.seller_audit(
        AuditAction::CohortSaved,
        Some(cohort.id.clone()),
        existing.as_ref(),
        Some(&cohort),
        reason.as_ref(),
    );
    state.store.put_cohort(&cohort, Some(&audit)).await?;
    tracing::info!(by = %caller.name(), cohort = %cohort.id, "cohort saved");
    Ok(Json(cohort))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Imported,
    /// The account exists already; the line was not applied again.
    Exists,
    Rejected,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub status: ImportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bill_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResponse {
    pub cohort: Cohort,
    pub imported: usize,
    pub existing: usize,
    pub rejected: usize,
    pub results: Vec<ImportResult>,
}

/// Lines in one import request; larger cohorts are sent in several.
pub const MAX_IMPORT_LINES: usize = 500;

/// `POST /v1/ops/cohorts/{cohort_id}/accounts`: bulk import, JSON lines (one account a line).
/// Each line is imported on its own (account, contract, cohort membership, audit entry in one
/// write); a bad line is reported and the others go on. Sending the same file again imports
/// nothing twice.
#[utoipa::path(post, path = "/v1/staff/cohorts/{cohort_id}/accounts", operation_id = "staff_import", tag = "catalog",
    params(("cohort_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body(content = String, content_type = "application/x-ndjson", description = "one account a line (JSON lines)"),
    responses((status = 200, body = ImportResponse, description = "each line imported, found existing, or rejected with why"), (status = 404, body = crate::openapi::ErrorBody, description = "no such cohort (`no_cohort`)"), (status = 413, body = crate::openapi::ErrorBody, description = "more than 500 lines (`batch_too_large`)"), (status = 422, body = crate::openapi::ErrorBody, description = "invalid fields (`validation_failed`), or no reason (`reason_required`)"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn import<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
    body: String,
) -> OpsResult<Json<ImportResponse>> {
    let reason = caller.write(Permission::CatalogManage)?;
    let cohort = state.store.cohort(&id).await?.ok_or_else(|| OpsError::NoCohort(id.clone()))?;
    let lines = parse_import(&body);
    if lines.len() > MAX_IMPORT_LINES {
        return Err(OpsError::BatchTooLarge(lines.len(), MAX_IMPORT_LINES));
    }
    let catalog = state.store.prices().await?;
    let now = Utc::now();
    let today = now.date_naive();
    let mut results = Vec::new();
    for (line, parsed) in lines {
        let reject = |message: String, details: Vec<FieldError>, account: Option<String>| ImportResult {
            line,
            account_id: account,
            status: ImportStatus::Rejected,
            first_bill_date: None,
            message: Some(message),
            details,
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                results.push(reject(format!("not an import line: {e}"), vec![], None));
                continue;
            }
        };
        let account_id = parsed.account_id.clone();
        let imported = match parsed.parse(&cohort, &catalog) {
            Ok(i) => i,
            Err(DomainError::Invalid(details)) => {
                results.push(reject("validation failed".into(), details, Some(account_id.to_string())));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut account = Account::open(account_id.clone(), imported.account, now);
        account.billing_mode = BillingMode::Invoice;
        account.bill_recipients = imported.bill_recipients;
        let audit = AuditEntry::record(
            &account.id,
            &caller.actor(),
            AuditAction::AccountImported,
            Some(cohort.id.clone()),
            None::<&()>,
            Some(&imported.contract),
            now,
        )
        .because(reason.as_ref());
        let first_bill_date = imported.contract.next_bill_date;
        let status = match state.store.import_account(&account, &imported.contract, &audit).await {
            Ok(()) => {
                // Joined after the cohort's notices went out, but before go-live: its own notice.
                if cohort.notice_due(today) {
                    state.store.queue_work(&bill_run::notice(&cohort, &imported.contract), now).await?;
                }
                ImportStatus::Imported
            }
            Err(DomainError::Conflict) => ImportStatus::Exists,
            Err(e) => return Err(e.into()),
        };
        results.push(ImportResult {
            line,
            account_id: Some(account_id.to_string()),
            status,
            first_bill_date: Some(first_bill_date),
            message: None,
            details: vec![],
        });
    }
    let count = |f: fn(&ImportStatus) -> bool| results.iter().filter(|r| f(&r.status)).count();
    Ok(Json(ImportResponse {
        imported: count(|s| matches!(s, ImportStatus::Imported)),
        existing: count(|s| matches!(s, ImportStatus::Exists)),
        rejected: count(|s| matches!(s, ImportStatus::Rejected)),
        cohort,
        results,
    }))
}

/// `POST /v1/ops/bill-runs`: runs the bill run now (`{"mode": "dry_run"}` writes nothing and
/// returns the invoices it would make). The schedule runs it daily; this is for ops and for
/// accounts named in `accounts`.
pub async fn bill_run<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    JsonBody(request): JsonBody<RunRequest>,
) -> OpsResult<(StatusCode, Json<RunReport>)> {
    // A dry run writes nothing; drafts are previews to review; finalizing numbers and sends.
    // Staff make and finalize bills only through the review (`crate::billruns`), four eyes.
    match request.mode {
        bill_run::Mode::DryRun => caller.require(Permission::BillRunPreview)?,
        _ if caller.staff().is_some() => return Err(OpsError::ReviewRequired),
        bill_run::Mode::Draft => {
            caller.write(Permission::BillRunPreview)?;
        }
        bill_run::Mode::Finalize => {
            let reason = caller.write(Permission::BillRunFinalize)?;
            tracing::info!(by = %caller.name(), reason = ?reason, date = ?request.date, "bill run finalized by hand");
        }
    }
    if request.mode != bill_run::Mode::DryRun
        && let Some(date) = request.date
    {
        crate::billruns::not_in_future(date)?;
    }
    // API Gateway gives an integration 30 seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(28);
    let report = state.bill_run.run(&request, Utc::now(), Some(deadline)).await;
    Ok((StatusCode::OK, Json(report)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub account_id: String,
    pub name: String,
    pub billing_mode: BillingMode,
    /// The account number on its bills and in their scan line (contract accounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_number: Option<u64>,
    pub contact: billing_domain::BillingContact,
    pub address: billing_domain::Address,
    pub balance_due: Money,
    /// What is owed today per aging bucket, and the open bills behind it.
    pub aging: billing_domain::statement::StatementAging,
    pub open_items: Vec<billing_domain::statement::OpenItem>,
    /// Payments received (checks), newest first.
    pub payments: Vec<PaymentView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractView>,
    pub invoices: Vec<InvoiceSummary>,
    pub credit_notes: Vec<CreditNote>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContractView {
    pub cohort: String,
    pub go_live: NaiveDate,
    pub bill_day: u8,
    pub terms_days: u16,
    pub next_bill_date: NaiveDate,
    pub credit: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_invoice_id: Option<String>,
    pub items: Vec<String>,
    /// Ops paused the payment reminders of this account's bills.
    pub reminders_paused: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub invoice_id: String,
    /// `check:1042`
    pub reference: String,
    pub method: String,
    /// The check's number (checks recorded before numbers were kept: none).
    pub check_number: Option<String>,
    /// The check's own reference, shared by its shares on several bills (what a return names).
    pub check_reference: String,
    pub amount: Money,
    pub received_on: NaiveDate,
    /// What went to account credit (beyond the bill).
    pub to_credit: Money,
    pub recorded_by: String,
    /// The bank returned it: when, why, who recorded it.
    pub returned: Option<billing_domain::ledger::PaymentReturn>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceSummary {
    pub id: String,
    pub number: Option<String>,
    pub status: billing_domain::invoice::InvoiceStatus,
    pub total: Money,
    pub amount_remaining: Money,
    pub due_date: Option<chrono::DateTime<Utc>>,
}

impl From<&Invoice> for InvoiceSummary {
    fn from(i: &Invoice) -> Self {
        Self {
            id: i.id.clone(),
            number: i.number.clone(),
            status: i.status,
            total: i.total,
            amount_remaining: i.amount_remaining,
            due_date: i.due_date,
        }
    }
}

fn contract_view(c: &ContractAccount) -> ContractView {
    ContractView {
        cohort: c.cohort.clone(),
        go_live: c.go_live,
        bill_day: c.contract.bill_day.into(),
        terms_days: c.terms.days(),
        next_bill_date: c.next_bill_date,
        credit: c.credit,
        draft_invoice_id: c.draft.as_ref().map(|d| d.invoice_id.clone()),
        items: c.contract.items.iter().map(|i| format!("{} ({}, {})", i.id, i.price.id, i.group)).collect(),
        reminders_paused: c.reminders_paused,
    }
}

/// `GET /v1/ops/accounts/{account_id}`: balance, contract state, latest invoices, credit notes.
#[utoipa::path(get, path = "/v1/staff/accounts/{account_id}", operation_id = "staff_account", tag = "staff",
    params(("account_id" = String, Path, description = "The account (`acct_…`)")),
    responses((status = 200, body = AccountView), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn account<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
) -> OpsResult<Json<AccountView>> {
    caller.require(Permission::AccountRead)?;
    let id = account_id(&id)?;
    let account = state.store.account(&id).await?.ok_or(OpsError::NotFound)?;
    let (contract, invoices, ledger) = futures::try_join!(
        state.store.contract_account(&id),
        state.store.invoices(&id, None, 20, None),
        state.store.ledger_items(&id),
    )?;
    // Today's aging: a statement of one day (its opening balance is everything before).
    let today = Utc::now().date_naive();
    let statement = billing_domain::statement::statement(&id, account.currency, &ledger, today, today)?;
    let mut payments: Vec<PaymentView> = ledger
        .payments
        .into_iter()
        .map(|p| PaymentView {
            check_reference: p.check_reference().to_owned(),
            invoice_id: p.invoice_id,
            reference: p.reference,
            method: p.method,
            check_number: p.check_number,
            returned: p.returned,
            amount: p.amount,
            received_on: p.received_on,
            to_credit: p.to_credit,
            recorded_by: p.recorded_by,
        })
        .collect();
    payments.sort_by(|a, b| b.received_on.cmp(&a.received_on).then_with(|| b.reference.cmp(&a.reference)));
    Ok(Json(AccountView {
        account_id: account.id.to_string(),
        name: account.name,
        billing_mode: account.billing_mode,
        account_number: account.number,
        contact: account.billing_contact,
        address: account.billing_address,
        balance_due: account.balance_due,
        aging: statement.aging,
        open_items: statement.open_items,
        payments,
        contract: contract.as_ref().map(contract_view),
        invoices: invoices.invoices.iter().map(InvoiceSummary::from).collect(),
        credit_notes: state.store.credit_notes(&id).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    pub role: billing_domain::Role,
}

/// A user of the customer's portal, as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub role: billing_domain::Role,
    pub status: billing_domain::MemberStatus,
    pub created_at: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<chrono::DateTime<Utc>>,
}

impl From<&billing_domain::Member> for MemberView {
    fn from(m: &billing_domain::Member) -> Self {
        Self {
            id: m.id.to_string(),
            email: m.email.to_string(),
            role: m.role,
            status: m.status,
            created_at: m.created_at,
            activated_at: m.activated_at,
        }
    }
}

/// `GET …/accounts/{account_id}/members`: the users of the customer's portal and their roles.
#[utoipa::path(get, path = "/v1/staff/accounts/{account_id}/members", operation_id = "staff_members", tag = "staff",
    params(("account_id" = String, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account (`not_found`)")),
    security(("staff" = [])))]
pub async fn members<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
) -> OpsResult<Json<Vec<MemberView>>> {
    caller.require(Permission::AccountRead)?;
    let id = account_id(&id)?;
    state.store.account(&id).await?.ok_or(OpsError::NotFound)?;
    let mut members: Vec<MemberView> = state.store.members(&id).await?.iter().map(MemberView::from).collect();
    members.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(Json(members))
}

/// `DELETE …/accounts/{account_id}/members/{member_id}`: removes a user (or an invitation) from
/// the customer's portal, in the customer's audit trail; never the account's last admin.
#[utoipa::path(delete, path = "/v1/staff/accounts/{account_id}/members/{member_id}", operation_id = "staff_remove_member", tag = "staff",
    params(("account_id" = String, Path), ("member_id" = String, Path),
        ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    responses((status = 204, description = "removed"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or member (`not_found`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "the account's last admin (`last_admin`), or changed meanwhile (`conflict`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "no reason (`reason_required`)")),
    security(("staff" = [])))]
pub async fn remove_member<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path((id, member)): Path<(String, String)>,
) -> OpsResult<StatusCode> {
    let reason = caller.write(Permission::MemberManage)?;
    let id = account_id(&id)?;
    let member: billing_domain::MemberId = member.parse().map_err(|_| OpsError::NotFound)?;
    let before = state.store.member(&id, &member).await?.ok_or(OpsError::NotFound)?;
    let audit = AuditEntry::record(
        &id,
        &caller.actor(),
        AuditAction::MemberRemoved,
        Some(member.to_string()),
        Some(&before),
        None::<&billing_domain::Member>,
        Utc::now(),
    )
    .because(reason.as_ref());
    state.store.remove_member(&before, &audit).await?;
    tracing::info!(account_id = %id, member_id = %member, by = %caller.name(), "member removed by staff");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/ops/accounts/{account_id}/members`: invites someone to an account's portal (an
/// imported account has no users until ops invite its first admin). The invitation is mailed;
/// whoever creates a portal login with that e-mail joins the account with the role.
#[utoipa::path(post, path = "/v1/staff/accounts/{account_id}/members", operation_id = "staff_invite", tag = "staff",
    params(("account_id" = String, Path),
        ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = InviteBody,
    responses((status = 201, body = MemberView), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account (`not_found`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "the e-mail is a member already (`member_exists`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "a bad e-mail (`validation_failed`), or no reason (`reason_required`)")),
    security(("staff" = [])))]
pub async fn invite<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<InviteBody>,
) -> OpsResult<(StatusCode, Json<MemberView>)> {
    let reason = caller.write(Permission::MemberManage)?;
    let id = account_id(&id)?;
    state.store.account(&id).await?.ok_or(OpsError::NotFound)?;
    let email: billing_domain::Email =
        body.email.parse().map_err(|e: FieldError| DomainError::from(e.under("email")))?;
    let now = Utc::now();
    let actor = caller.actor();
    let member = billing_domain::Member::invite(id.clone(), email, body.role, actor.user_id.clone(), now);
    let audit = AuditEntry::record(
        &id,
        &actor,
        AuditAction::MemberInvited,
        Some(member.id.to_string()),
        None::<&billing_domain::Member>,
        Some(&member),
        now,
    )
    .because(reason.as_ref());
    state.store.add_member(&member, &audit).await?;
    Ok((StatusCode::CREATED, Json(MemberView::from(&member))))
}
