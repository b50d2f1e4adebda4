//! The bill run as staff review it, four eyes: the preview of a bill date (what every due account
//! would be billed, against its last bill), drafts made by one person, approved by another, and
//! finalized (only the approved drafts: nothing that was not reviewed goes out). Each bill date's
//! record keeps who did each step, when and why.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bill_run::{AccountResult, Mode, Outcome, RunReport, RunRequest};
use billing_domain::bill_runs::{BillComparison, BillRunRecord, BillTally, RunRefusal, RunStatus, RunStep};
use billing_domain::staff::{Permission, Reason};
use billing_domain::{AuditAction, AuditEntry};
use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::extract::OpsCaller;
use crate::staff::decider;
use crate::{OpsError, OpsResult, OpsState, OpsStore};

/// One account of a run: what it would bill, what was drafted or finalized.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunLine {
    pub account_id: String,
    pub name: String,
    pub bill_date: NaiveDate,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<billing_domain::Money>,
    /// Against the account's last bill; flagged unless steady.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<BillComparison>,
    /// Usage records no item priced (left out of the bill).
    pub unrated_usage: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunFailure {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub error: String,
}

/// A bill date's run: its review record and the accounts as this call saw them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub date: NaiveDate,
    /// None until someone makes the drafts.
    pub record: Option<BillRunRecord>,
    pub lines: Vec<RunLine>,
    /// What the lines bill (would bill, drafted, or finalized now), per currency.
    pub tally: BillTally,
    /// Lines whose bill moved against the last one (or is the first).
    pub flagged: usize,
    pub failures: Vec<RunFailure>,
    /// Stopped at the request's deadline with accounts left: call again to go on.
    pub more: bool,
}

/// A bill date from the path: `YYYY-MM-DD`.
fn run_date(raw: &str) -> OpsResult<NaiveDate> {
    raw.parse().map_err(|_| OpsError::InvalidParameter(format!("the bill date must be YYYY-MM-DD, not {raw:?}")))
}

/// Bills are made for days that have come: a later date would bill a period before it ends.
pub(crate) fn not_in_future(date: NaiveDate) -> OpsResult<()> {
    let today = Utc::now().date_naive();
    if date > today { Err(OpsError::BillDateInFuture(date, today)) } else { Ok(()) }
}

fn refused(r: RunRefusal) -> OpsError {
    match r {
        RunRefusal::OwnDrafts => OpsError::OwnDrafts,
        RunRefusal::NoDrafts => OpsError::BillRunState("has no drafts to approve".into()),
        RunRefusal::Status(RunStatus::Drafted) => OpsError::BillRunState("is drafted, not approved yet".into()),
        RunRefusal::Status(RunStatus::Approved) => OpsError::BillRunState("is approved already".into()),
        RunRefusal::Status(RunStatus::Finalized) => {
            OpsError::BillRunState("is finalized; make drafts again for accounts due since".into())
        }
    }
}

async fn run<S: OpsStore>(state: &OpsState<S>, date: NaiveDate, mode: Mode, drafts_only: bool) -> RunReport {
    // API Gateway gives an integration 30 seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(28);
    let request = RunRequest { mode, date: Some(date), accounts: None, drafts_only };
    state.bill_run.run(&request, Utc::now(), Some(deadline)).await
}

/// The view of `report`, counting the lines whose outcome is in `counted`.
async fn view<S: OpsStore>(
    state: &OpsState<S>,
    report: RunReport,
    record: Option<BillRunRecord>,
    counted: &[Outcome],
) -> OpsResult<RunView> {
    let shown: Vec<AccountResult> =
        report.results.into_iter().filter(|r| !matches!(r.outcome, Outcome::NotDue | Outcome::NotDrafted)).collect();
    let ids: Vec<_> = shown.iter().map(|r| r.account_id.clone()).collect();
    let names = state.store.account_names(&ids).await?;
    let tally = BillTally::of(shown.iter().filter(|r| counted.contains(&r.outcome)).filter_map(|r| r.total.as_ref()));
    let lines: Vec<RunLine> = shown
        .into_iter()
        .map(|r| RunLine {
            name: names.get(&r.account_id).cloned().unwrap_or_default(),
            account_id: r.account_id.to_string(),
            bill_date: r.bill_date,
            outcome: r.outcome,
            invoice_id: r.invoice_id,
            number: r.number,
            total: r.total,
            compared: r.compared,
            unrated_usage: r.unrated_usage,
        })
        .collect();
    Ok(RunView {
        date: report.date,
        record,
        flagged: lines.iter().filter(|l| l.compared.as_ref().is_some_and(BillComparison::flagged)).count(),
        lines,
        tally,
        failures: report
            .failures
            .into_iter()
            .map(|f| RunFailure { account_id: f.account_id.map(|a| a.to_string()), error: f.error })
            .collect(),
        more: report.more,
    })
}

/// `GET …/bill-runs`: the reviewed runs, newest bill date first.
#[utoipa::path(get, path = "/v1/staff/bill-runs", operation_id = "staff_bill_runs", tag = "bill runs",
    responses((status = 200, body = Vec<BillRunRecord>), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn list<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<Vec<BillRunRecord>>> {
    caller.require(Permission::BillRunPreview)?;
    Ok(Json(state.store.bill_run_records(24).await?))
}

/// `GET …/bill-runs/{date}`: the preview of a bill date (a dry run: writes nothing) with its
/// record: every account due by then, what it would be billed (or its waiting draft), and the
/// change against its last bill.
#[utoipa::path(get, path = "/v1/staff/bill-runs/{date}", operation_id = "staff_bill_run", tag = "bill runs",
    params(("date" = String, Path, description = "the bill date, `YYYY-MM-DD`: accounts due on or before it")),
    responses((status = 200, body = RunView), (status = 400, body = crate::openapi::ErrorBody, description = "not a date (`invalid_parameter`)"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn preview<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(date): Path<String>,
) -> OpsResult<Json<RunView>> {
    caller.require(Permission::BillRunPreview)?;
    let date = run_date(&date)?;
    let record = state.store.bill_run_record(date).await?;
    let report = run(&state, date, Mode::DryRun, false).await;
    Ok(Json(view(&state, report, record, &[Outcome::WouldBill, Outcome::DraftPending]).await?))
}

/// `POST …/bill-runs/{date}/drafts`: makes the drafts of every account due by `date` (kept off
/// the customers' lists) for a second person to approve; drafts already waiting are counted
/// again. Drafting again clears an approval.
#[utoipa::path(post, path = "/v1/staff/bill-runs/{date}/drafts", operation_id = "staff_bill_run_drafts", tag = "bill runs",
    params(("date" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    responses((status = 200, body = RunView), (status = 400, body = crate::openapi::ErrorBody, description = "not a date (`invalid_parameter`)"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "someone else changed the run meanwhile (`conflict`): try again"),
        (status = 422, body = crate::openapi::ErrorBody, description = "no reason (`reason_required`), or a date after today (`bill_date_in_future`)")),
    security(("staff" = [])))]
pub async fn draft<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(date): Path<String>,
) -> OpsResult<Json<RunView>> {
    let reason = caller.write(Permission::BillRunPreview)?;
    let date = run_date(&date)?;
    not_in_future(date)?;
    let before = state.store.bill_run_record(date).await?;
    let report = run(&state, date, Mode::Draft, false).await;
    let drafted = [Outcome::Drafted, Outcome::DraftPending];
    let drafts =
        BillTally::of(report.results.iter().filter(|r| drafted.contains(&r.outcome)).filter_map(|r| r.total.as_ref()));
    let record = if drafts.bills == 0 && before.is_none() {
        None
    } else {
        let after = BillRunRecord::drafted(before.as_ref(), date, step(&caller, reason.clone()), drafts);
        let audit = audit(&caller, AuditAction::BillRunDrafted, &after, reason.as_ref());
        state.store.save_bill_run_record(before.as_ref(), &after, &audit).await?;
        tracing::info!(by = %caller.name(), %date, drafts = after.drafts.bills, "bill run drafted");
        Some(after)
    };
    Ok(Json(view(&state, report, record, &drafted).await?))
}

/// The step's entry in the seller's audit trail: the record as it became.
fn audit(caller: &OpsCaller, action: AuditAction, after: &BillRunRecord, reason: Option<&Reason>) -> AuditEntry {
    caller.seller_audit(action, Some(after.date.to_string()), None::<&()>, Some(after), reason)
}

fn step(caller: &OpsCaller, reason: Option<Reason>) -> RunStep {
    RunStep::by(&decider(caller), Utc::now(), reason)
}

/// `POST …/bill-runs/{date}/approve`: a second person approves the drafts (never whoever made
/// them).
#[utoipa::path(post, path = "/v1/staff/bill-runs/{date}/approve", operation_id = "staff_bill_run_approve", tag = "bill runs",
    params(("date" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    responses((status = 200, body = BillRunRecord), (status = 400, body = crate::openapi::ErrorBody, description = "not a date (`invalid_parameter`)"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`), or these are your drafts (`own_request`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "nothing drafted for this date (`not_found`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "not drafted now (`bill_run_state`), or changed meanwhile (`conflict`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "no reason (`reason_required`)")),
    security(("staff" = [])))]
pub async fn approve<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(date): Path<String>,
) -> OpsResult<Json<BillRunRecord>> {
    let reason = caller.write(Permission::BillRunFinalize)?;
    let date = run_date(&date)?;
    let before = state.store.bill_run_record(date).await?.ok_or(OpsError::NotFound)?;
    let after = before.approve(step(&caller, reason.clone())).map_err(refused)?;
    let audit = audit(&caller, AuditAction::BillRunApproved, &after, reason.as_ref());
    state.store.save_bill_run_record(Some(&before), &after, &audit).await?;
    tracing::info!(by = %caller.name(), %date, drafts = after.drafts.bills, "bill run approved");
    Ok(Json(after))
}

/// `POST …/bill-runs/{date}/finalize`: numbers and sends the approved drafts of `date` (only
/// those: an account due since, or whose draft was voided, is left for the next drafts). A call
/// stopped by its deadline says `more`; calling again goes on, finalizing each bill once.
#[utoipa::path(post, path = "/v1/staff/bill-runs/{date}/finalize", operation_id = "staff_bill_run_finalize", tag = "bill runs",
    params(("date" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"), ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    responses((status = 200, body = RunView), (status = 400, body = crate::openapi::ErrorBody, description = "not a date (`invalid_parameter`)"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "nothing drafted for this date (`not_found`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "not approved (`bill_run_state`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "no reason (`reason_required`), or a date after today (`bill_date_in_future`)")),
    security(("staff" = [])))]
pub async fn finalize<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(date): Path<String>,
) -> OpsResult<(StatusCode, Json<RunView>)> {
    let reason = caller.write(Permission::BillRunFinalize)?;
    let date = run_date(&date)?;
    not_in_future(date)?;
    let before = state.store.bill_run_record(date).await?.ok_or(OpsError::NotFound)?;
    before.may_finalize().map_err(refused)?;
    let report = run(&state, date, Mode::Finalize, true).await;
    let bills = BillTally::of(
        report.results.iter().filter(|r| r.outcome == Outcome::Finalized).filter_map(|r| r.total.as_ref()),
    );
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.account_id.as_ref().map_or("run".into(), ToString::to_string), f.error))
        .collect();
    let done = !report.more && failures.is_empty();
    // The bills are made; the record follows (read again if another step moved it meanwhile).
    let mut current = before;
    let record = loop {
        let after = current.finalized(step(&caller, reason.clone()), &bills, failures.clone(), done);
        let audit = audit(&caller, AuditAction::BillRunFinalized, &after, reason.as_ref());
        match state.store.save_bill_run_record(Some(&current), &after, &audit).await {
            Ok(()) => break after,
            Err(billing_domain::Error::Conflict) => {
                current = state.store.bill_run_record(date).await?.ok_or(OpsError::NotFound)?;
            }
            Err(e) => return Err(e.into()),
        }
    };
    tracing::info!(by = %caller.name(), %date, finalized = bills.bills, done, "bill run finalized");
    Ok((StatusCode::OK, Json(view(&state, report, Some(record), &[Outcome::Finalized]).await?)))
}
