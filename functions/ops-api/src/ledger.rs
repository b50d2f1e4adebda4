//! Ops' changes to contract invoices: a mailed check received, a credit note, a draft voided.
//! Each is one conditional write with its audit entry; a write that loses a race re-reads and
//! decides again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use billing_domain::Change;
use billing_domain::audit::{AuditAction, AuditEntry};
use billing_domain::billing::{Stamp, WorkItem};
use billing_domain::contract::ContractAccount;
use billing_domain::invoice::{Invoice, InvoiceStatus};
use billing_domain::ledger;
use billing_domain::ledger::CreditNote;
use billing_domain::ports::{Recorded, Sequence, Taken};
use billing_domain::receipts::{self, Incoming, Received, WhenClosed};
use billing_domain::retry::Retry;
use billing_domain::{AccountId, Error as DomainError, Money};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::extract::{JsonBody, OpsCaller, account_id};
use crate::ops::InvoiceSummary;
use crate::{OpsError, OpsResult, OpsState, OpsStore};
use billing_domain::staff::{Approval, ApprovalKind, ApprovalStatus, Permission, Reason, ReasonCode};

pub(crate) fn status_name(s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::Draft => "a draft",
        InvoiceStatus::Open => "open",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Uncollectible => "uncollectible",
        InvoiceStatus::Void => "void",
    }
}

/// The contract invoice and its account's contract state, or 404 / 409.
async fn load<S: OpsStore>(store: &S, account: &AccountId, invoice_id: &str) -> OpsResult<(Invoice, ContractAccount)> {
    let invoice = store.contract_invoice(account, invoice_id).await?.ok_or(OpsError::NotFound)?;
    let contract = store.contract_account(account).await?.ok_or(OpsError::NotContractBilled)?;
    if !ledger::is_contract_bill(&invoice.id) {
        return Err(OpsError::InvoiceState(invoice.id, "billed by the card processor", "record it there"));
    }
    Ok((invoice, contract))
}

fn amount(raw: &str, currency: billing_domain::Currency) -> OpsResult<Money> {
    let value: Decimal =
        raw.trim().parse().map_err(|_| DomainError::invalid("amount", "must be a decimal amount like \"125.00\""))?;
    Ok(Money::new(value, currency))
}

fn next_version(c: &ContractAccount, change: impl FnOnce(&mut ContractAccount)) -> ContractAccount {
    let mut after = c.clone();
    change(&mut after);
    after.version = c.version + 1;
    after
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// In the invoice's currency: `"125.00"`.
    pub amount: String,
    pub check_number: String,
    pub received_on: NaiveDate,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentResponse {
    /// `recorded`, or `already_recorded` when this check was recorded before.
    pub status: &'static str,
    pub invoice: InvoiceSummary,
    /// What the account holds as credit now (overpayments included).
    pub account_credit: Money,
    pub balance_due: Money,
}

/// `POST …/invoices/{invoice_id}/payments`: a mailed check received at the lockbox. A partial
/// payment leaves a balance; an overpayment pays the invoice and the rest becomes account credit,
/// applied to the next bill. The same check number recorded again is reported, not applied twice.
#[utoipa::path(post, path = "/v1/staff/accounts/{account_id}/invoices/{invoice_id}/payments", operation_id = "staff_record_payment", tag = "staff",
    params(("account_id" = String, Path), ("invoice_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)"),),
    request_body = PaymentBody,
    responses((status = 201, body = PaymentResponse, description = "recorded"), (status = 200, body = PaymentResponse, description = "this check was recorded before (`already_recorded`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "the invoice takes no payment (`invoice_state`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`validation_failed`, `reason_required`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn record_payment<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path((account, invoice_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<PaymentBody>,
) -> OpsResult<(StatusCode, Json<PaymentResponse>)> {
    let reason = caller.write(Permission::PaymentRecord)?;
    let account = account_id(&account)?;
    let check = check_number(&body.check_number)?;
    let reference = format!("check:{check}");
    let now = Utc::now();
    if body.received_on > now.date_naive() {
        return Err(DomainError::invalid("received_on", "must not be in the future").into());
    }
    let (invoice, _) = load(&*state.store, &account, &invoice_id).await?;
    let incoming = Incoming {
        account_id: account.clone(),
        invoice_id: invoice.id.clone(),
        amount: amount(&body.amount, invoice.currency)?,
        reference: reference.clone(),
        method: "check",
        check_number: Some(check.to_owned()),
        received_on: body.received_on,
        actor: caller.actor(),
        recorded_by: caller.name(),
        when_closed: WhenClosed::Refuse,
        reason,
    };
    let (status, code, invoice, credit) = match receipts::receive(&*state.store, &incoming, now).await? {
        Received::Refused(status) => {
            return Err(OpsError::InvoiceState(invoice.id, status_name(status), "only open invoices take payments"));
        }
        Received::Done { recorded: Recorded::Now, invoice, credit } => {
            ("recorded", StatusCode::CREATED, invoice, credit)
        }
        Received::Done { recorded: Recorded::AlreadyRecorded, invoice, credit } => {
            ("already_recorded", StatusCode::OK, invoice, credit)
        }
    };
    let balance_due = state.store.account(&account).await?.map(|a| a.balance_due).unwrap_or(invoice.amount_remaining);
    tracing::info!(account_id = %account, invoice_id = %invoice.id, reference, status, "check payment");
    Ok((
        code,
        Json(PaymentResponse {
            status,
            invoice: InvoiceSummary::from(invoice.as_ref()),
            account_credit: credit,
            balance_due,
        }),
    ))
}

fn check_number(raw: &str) -> OpsResult<&str> {
    let check = raw.trim();
    if check.is_empty() || check.len() > 40 || !check.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(DomainError::invalid("check_number", "must be 1 to 40 letters, digits or `-`").into());
    }
    Ok(check)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The whole check, in the account's currency: `"1250.00"`.
    pub amount: String,
    pub check_number: String,
    pub received_on: NaiveDate,
    /// The bills it pays, in order (default: the open bills, oldest due first).
    #[serde(default)]
    pub invoices: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Allocation {
    pub invoice_id: String,
    pub number: Option<String>,
    pub amount: Money,
    /// Beyond the bill: account credit.
    pub to_credit: Money,
    /// Applied by this call (false: by an earlier one of the same check).
    pub now: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    /// `recorded`, or `already_recorded` when the whole check was applied before.
    pub status: &'static str,
    /// How the check is spread over the bills.
    pub allocations: Vec<Allocation>,
    pub account_credit: Money,
    pub balance_due: Money,
}

/// `POST …/accounts/{account_id}/checks`: one mailed check over several bills: applied to the
/// listed bills in order (or the open bills, oldest due first), each its share up to what it
/// still owes; what is left beyond the last becomes account credit. Each share is its own
/// payment (`check:N`, then `check:N:2`, …); the same check again applies only what no earlier
/// call applied, so a retry after a crash half-way never doubles it.
#[utoipa::path(post, path = "/v1/staff/accounts/{account_id}/checks", operation_id = "staff_record_check", tag = "staff",
    params(("account_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)"),),
    request_body = CheckBody,
    responses((status = 201, body = CheckResponse, description = "recorded"), (status = 200, body = CheckResponse, description = "the whole check was recorded before (`already_recorded`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "a listed bill takes no payment, or no open bill to apply it to (`invoice_state`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`validation_failed`, `reason_required`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or bill (`not_found`)")),
    security(("staff" = [])))]
pub async fn record_check<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(account): Path<String>,
    JsonBody(body): JsonBody<CheckBody>,
) -> OpsResult<(StatusCode, Json<CheckResponse>)> {
    let reason = caller.write(Permission::PaymentRecord)?;
    let account = account_id(&account)?;
    let check = check_number(&body.check_number)?;
    let now = Utc::now();
    if body.received_on > now.date_naive() {
        return Err(DomainError::invalid("received_on", "must not be in the future").into());
    }
    let profile = state.store.account(&account).await?.ok_or(OpsError::NotFound)?;
    let total = amount(&body.amount, profile.currency)?;
    if total.amount() <= Decimal::ZERO {
        return Err(DomainError::invalid("amount", "must be more than zero").into());
    }
    let base = format!("check:{check}");
    let ledger_items = state.store.ledger_items(&account).await?;
    let numbers: std::collections::HashMap<&str, Option<String>> =
        ledger_items.invoices.iter().map(|i| (i.id.as_str(), i.number.clone())).collect();
    // What earlier calls with this check applied, and to which bills.
    let earlier: Vec<_> = ledger_items
        .payments
        .iter()
        .filter(|p| p.reference == base || p.reference.starts_with(&format!("{base}:")))
        .collect();
    let mut allocations: Vec<Allocation> = earlier
        .iter()
        .map(|p| Allocation {
            invoice_id: p.invoice_id.clone(),
            number: numbers.get(p.invoice_id.as_str()).cloned().flatten(),
            amount: p.amount,
            to_credit: p.to_credit,
            now: false,
        })
        .collect();
    let applied: Decimal = earlier.iter().map(|p| p.amount.amount()).sum();
    let mut left = total.amount() - applied;
    let order: Vec<Invoice> = match &body.invoices {
        Some(ids) if ids.is_empty() => return Err(DomainError::invalid("invoices", "list at least one bill").into()),
        Some(ids) => {
            let mut listed = Vec::new();
            for id in ids {
                let found = ledger_items.invoices.iter().find(|i| &i.id == id).ok_or(OpsError::NotFound)?;
                if !earlier.iter().any(|p| &p.invoice_id == id) && found.status != InvoiceStatus::Open {
                    return Err(OpsError::InvoiceState(
                        id.clone(),
                        status_name(found.status),
                        "only open invoices take payments",
                    ));
                }
                listed.push(found.clone());
            }
            listed
        }
        None => {
            let mut open: Vec<Invoice> = ledger_items
                .invoices
                .iter()
                .filter(|i| i.status == InvoiceStatus::Open && ledger::is_contract_bill(&i.id))
                .cloned()
                .collect();
            open.sort_by_key(|i| (i.due_date, i.id.clone()));
            open
        }
    };
    let order: Vec<Invoice> = order.into_iter().filter(|i| !earlier.iter().any(|p| p.invoice_id == i.id)).collect();
    if left > Decimal::ZERO && order.is_empty() {
        return Err(OpsError::InvoiceState(base, "not applicable", "no open bill is left for it; record it on a bill"));
    }
    // Each bill its share of what is left; the last takes the rest (beyond it: credit).
    let mut plan: Vec<(Invoice, Decimal)> = Vec::new();
    for invoice in order {
        if left <= Decimal::ZERO {
            break;
        }
        let share = left.min(invoice.amount_remaining.amount());
        if share > Decimal::ZERO {
            left -= share;
            plan.push((invoice, share));
        }
    }
    if left > Decimal::ZERO
        && let Some(last) = plan.last_mut()
    {
        last.1 += left;
    }
    let mut index = earlier.len();
    for (invoice, share) in plan {
        index += 1;
        let incoming = Incoming {
            account_id: account.clone(),
            invoice_id: invoice.id.clone(),
            amount: Money::new(share, invoice.currency),
            reference: if index == 1 { base.clone() } else { format!("{base}:{index}") },
            method: "check",
            check_number: Some(check.to_owned()),
            received_on: body.received_on,
            actor: caller.actor(),
            recorded_by: caller.name(),
            when_closed: WhenClosed::Refuse,
            reason: reason.clone(),
        };
        match receipts::receive(&*state.store, &incoming, now).await? {
            Received::Refused(status) => {
                return Err(OpsError::InvoiceState(
                    invoice.id,
                    status_name(status),
                    "only open invoices take payments",
                ));
            }
            Received::Done { invoice: after, .. } => {
                let before = invoice.amount_remaining.amount();
                let to_credit = (share - before.min(share)).max(Decimal::ZERO);
                allocations.push(Allocation {
                    invoice_id: after.id.clone(),
                    number: after.number.clone(),
                    amount: Money::new(share, after.currency).rounded(),
                    to_credit: Money::new(to_credit, after.currency).rounded(),
                    now: true,
                });
            }
        }
    }
    let fresh = allocations.iter().any(|a| a.now);
    let contract = state.store.contract_account(&account).await?.ok_or(OpsError::NotContractBilled)?;
    let balance_due = state.store.account(&account).await?.map_or(profile.balance_due, |a| a.balance_due);
    tracing::info!(account_id = %account, check, bills = allocations.len(), fresh, "check recorded over bills");
    Ok((
        if fresh { StatusCode::CREATED } else { StatusCode::OK },
        Json(CheckResponse {
            status: if fresh { "recorded" } else { "already_recorded" },
            allocations,
            account_credit: contract.credit,
            balance_due,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditNoteBody {
    pub amount: String,
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreditNoteResponse {
    pub credit_note: CreditNote,
    pub invoice: InvoiceSummary,
    pub account_credit: Money,
}

/// What a credit-note request answers: issued now, or waiting for a second person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CreditNoteOutcome {
    Issued(CreditNoteResponse),
    PendingApproval { approval: Approval },
}

/// `POST …/invoices/{invoice_id}/credit-notes`: corrects a finalized invoice by lowering what is
/// due; an amount beyond what is left becomes account credit. Numbered from the seller's gap-free
/// credit-note sequence. Above the seller's approval limit it is only requested (`202`, status
/// `pending_approval`): it is issued when another person with `credit_note:approve` approves it.
#[utoipa::path(post, path = "/v1/staff/accounts/{account_id}/invoices/{invoice_id}/credit-notes", operation_id = "staff_credit_note", tag = "staff",
    params(("account_id" = String, Path), ("invoice_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)"),),
    request_body = CreditNoteBody,
    responses((status = 201, body = CreditNoteOutcome, description = "issued (`status: issued`)"), (status = 202, body = CreditNoteOutcome, description = "above the approval limit: waiting for a second person (`status: pending_approval`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "the invoice is not open (`invoice_state`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`validation_failed`, `reason_required`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn credit_note<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path((account, invoice_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<CreditNoteBody>,
) -> OpsResult<(StatusCode, Json<CreditNoteOutcome>)> {
    let coded = caller.write(Permission::CreditNoteCreate)?;
    let account = account_id(&account)?;
    let words =
        billing_domain::text::bounded(&body.reason, 1, 500).map_err(|e| DomainError::from(e.under("reason")))?;
    let (invoice, _) = load(&*state.store, &account, &invoice_id).await?;
    let credited = amount(&body.amount, invoice.currency)?;
    credit(&state, &caller, coded, invoice, credited, words, ApprovalKind::CreditNote).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOffBody {
    /// At most this much (default: all that is left of the bill).
    #[serde(default)]
    pub amount: Option<String>,
    /// Why it will not be collected (printed on the credit note that writes it off).
    pub reason: String,
}

/// `POST …/invoices/{invoice_id}/write-off`: writes off what is left of an open bill (or `amount`
/// of it): a credit note with the write-off's reason that makes no account credit; the bill,
/// written off whole, is `uncollectible`. Above the approval limit it waits for a second person
/// like a credit note; approved later, it writes off at most what is left then.
#[utoipa::path(post, path = "/v1/staff/accounts/{account_id}/invoices/{invoice_id}/write-off", operation_id = "staff_write_off", tag = "staff",
    params(("account_id" = String, Path), ("invoice_id" = String, Path), ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)"),),
    request_body = WriteOffBody,
    responses((status = 201, body = CreditNoteOutcome, description = "written off (`status: issued`)"), (status = 202, body = CreditNoteOutcome, description = "above the approval limit: waiting for a second person (`status: pending_approval`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "the invoice is not open (`invoice_state`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`validation_failed`, `reason_required`"), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)"),
        (status = 404, body = crate::openapi::ErrorBody, description = "no such account or object (`not_found`)")),
    security(("staff" = [])))]
pub async fn write_off<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path((account, invoice_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<WriteOffBody>,
) -> OpsResult<(StatusCode, Json<CreditNoteOutcome>)> {
    let coded = caller.write(Permission::CreditNoteCreate)?;
    let account = account_id(&account)?;
    let words =
        billing_domain::text::bounded(&body.reason, 1, 500).map_err(|e| DomainError::from(e.under("reason")))?;
    let (invoice, _) = load(&*state.store, &account, &invoice_id).await?;
    let left = invoice.amount_remaining;
    let asked = match body.amount.as_deref() {
        Some(a) => amount(a, invoice.currency)?,
        None => left,
    };
    let off = Money::new(asked.amount().min(left.amount()), invoice.currency);
    let coded = coded.or(Some(Reason { code: ReasonCode::WriteOff, text: words.clone() }));
    credit(&state, &caller, coded, invoice, off, format!("Written off: {words}"), ApprovalKind::WriteOff).await
}

/// Issues a credit note (or write-off) of `credited` on `invoice` now, or, above the approval
/// limit, asks a second person for it.
async fn credit<S: OpsStore>(
    state: &OpsState<S>,
    caller: &OpsCaller,
    coded: Option<Reason>,
    invoice: Invoice,
    credited: Money,
    words: String,
    kind: ApprovalKind,
) -> OpsResult<(StatusCode, Json<CreditNoteOutcome>)> {
    let account = invoice.account_id.clone();
    if invoice.status != InvoiceStatus::Open {
        return Err(OpsError::InvoiceState(
            invoice.id,
            status_name(invoice.status),
            "credit notes and write-offs apply to open invoices (void a draft instead)",
        ));
    }
    if state.approvals.needs_approval(&credited) {
        let now = Utc::now();
        let approval = Approval {
            id: format!("apr_{}", uuid::Uuid::now_v7().simple()),
            account_id: account.clone(),
            invoice_id: invoice.id.clone(),
            kind,
            invoice_number: invoice.number.clone(),
            amount: credited.rounded(),
            description: words.clone(),
            reason: coded.clone().unwrap_or(Reason { code: ReasonCode::Other, text: words.clone() }),
            requested_by: requester_id(caller),
            requested_by_email: caller.name(),
            requested_at: now,
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            decision_note: None,
        };
        let audit = AuditEntry::record(
            &account,
            &caller.actor(),
            AuditAction::CreditNoteRequested,
            Some(invoice.id.clone()),
            None::<&()>,
            Some(&approval),
            now,
        )
        .because(coded.as_ref());
        state.store.put_approval(&approval, &audit).await?;
        tracing::info!(account_id = %account, approval = %approval.id, amount = %approval.amount, by = %caller.name(), "credit note requested");
        return Ok((StatusCode::ACCEPTED, Json(CreditNoteOutcome::PendingApproval { approval })));
    }
    let note = NewCreditNote {
        id: format!("cn_{}", uuid::Uuid::now_v7().simple()),
        account,
        invoice_id: invoice.id,
        amount: credited,
        words,
        created_by: caller.name(),
        reason: coded,
        may_exist: false,
        write_off: kind == ApprovalKind::WriteOff,
    };
    let issued = issue_credit_note(&*state.store, &note, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(CreditNoteOutcome::Issued(issued))))
}

/// The id four-eyes compares: the staff member's, or the IAM principal's.
pub(crate) fn requester_id(caller: &OpsCaller) -> String {
    match &caller.principal {
        crate::extract::Principal::Staff(m) => m.id.clone(),
        crate::extract::Principal::Iam { arn } => arn.clone(),
    }
}

/// A credit note to issue.
pub(crate) struct NewCreditNote {
    pub id: String,
    pub account: AccountId,
    pub invoice_id: String,
    pub amount: Money,
    /// What the credit note says (printed on it).
    pub words: String,
    pub created_by: String,
    pub reason: Option<Reason>,
    /// Its id is the approval's: it may have been issued before (an approval repeated, or retried
    /// after a crash). A new credit note's random id is not looked up.
    pub may_exist: bool,
    /// A write-off: at most what is left of the bill, no account credit, the bill uncollectible.
    pub write_off: bool,
}

/// Issues `new` against its invoice, in one write with the invoice, the contract's credit, the
/// credit-note number, the audit entry and the mail's work item; retried on a lost race. A
/// credit note that `may_exist` and was issued before is answered as it stands (approving twice
/// issues once).
pub(crate) async fn issue_credit_note<S: OpsStore>(
    store: &S,
    new: &NewCreditNote,
    actor: &billing_domain::Actor,
) -> OpsResult<CreditNoteResponse> {
    let account = &new.account;
    let now = Utc::now();
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        if new.may_exist
            && let Some(done) = store.credit_note(account, &new.id).await?
        {
            let (invoice, contract) = load(store, account, &done.invoice_id).await?;
            return Ok(CreditNoteResponse {
                credit_note: done,
                invoice: InvoiceSummary::from(&invoice),
                account_credit: contract.credit,
            });
        }
        let (before, contract) = load(store, account, &new.invoice_id).await?;
        let credited = new.amount;
        let mut after = before.clone();
        let applied = match if new.write_off {
            ledger::write_off(&mut after, credited)
        } else {
            ledger::apply_credit_note(&mut after, credited)
        } {
            Ok(a) => a,
            // Approved while the bill was open, which was paid in full meanwhile: the credit the
            // approver granted becomes account credit (the next bill uses it). A write-off of a
            // paid bill has nothing left to write off.
            Err(DomainError::Conflict) if new.may_exist && !new.write_off && before.status == InvoiceStatus::Paid => {
                ledger::credit_paid_invoice(&before, credited)?
            }
            Err(DomainError::Conflict) => {
                return Err(OpsError::InvoiceState(
                    before.id,
                    status_name(before.status),
                    "credit notes apply to open invoices (void a draft instead)",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        // A write-off approved after a payment writes off only what is left.
        let issued =
            Money::new(applied.to_invoice.amount() + applied.to_credit.amount(), credited.currency()).rounded();
        let previous = store.sequence(Sequence::CreditNote).await?;
        let taken = Taken { sequence: Sequence::CreditNote, previous };
        let note = CreditNote {
            id: new.id.clone(),
            number: ledger::invoice_number("CN", taken.number()),
            account_id: account.clone(),
            invoice_id: before.id.clone(),
            amount: issued,
            taxes: billing_domain::tax::reverse(issued, before.total, &before.tax_detail.groups).1,
            reason: new.words.clone(),
            to_invoice: applied.to_invoice,
            to_credit: applied.to_credit,
            created: now,
            created_by: new.created_by.clone(),
        };
        after.stamp = Stamp { at: now, event_id: format!("credit_note:{}", note.id) };
        let contract_after = next_version(&contract, |c| {
            c.credit = Money::new(c.credit.amount() + applied.to_credit.amount(), c.credit.currency()).rounded();
            c.count_credit(note.amount);
        });
        let audit = AuditEntry::record(
            account,
            actor,
            AuditAction::CreditNoteIssued,
            Some(before.id.clone()),
            Some(&InvoiceSummary::from(&before)),
            Some(&note),
            now,
        )
        .because(new.reason.as_ref());
        match store
            .record_credit_note(
                &note,
                taken,
                Change::new(&before, &after),
                Change::new(&contract, &contract_after),
                &audit,
                &WorkItem::CreditNoteIssued {
                    account_id: account.clone(),
                    credit_note_id: note.id.clone(),
                    event_id: note.id.clone(),
                },
            )
            .await
        {
            Ok(()) => {
                return Ok(CreditNoteResponse {
                    credit_note: note,
                    invoice: InvoiceSummary::from(&after),
                    account_credit: contract_after.credit,
                });
            }
            Err(DomainError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::Conflict.into())
}

/// `POST …/invoices/{invoice_id}/void`: voids a draft and restores the contract as it was before
/// the draft was rated, so the next bill run makes a new draft (or bill) for that date.
pub async fn void<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path((account, invoice_id)): Path<(String, String)>,
) -> OpsResult<Json<InvoiceSummary>> {
    let reason = caller.write(Permission::InvoiceVoid)?;
    let account = account_id(&account)?;
    let now = Utc::now();
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        let (before, contract) = load(&*state.store, &account, &invoice_id).await?;
        let mut after = before.clone();
        if ledger::void_draft(&mut after, now).is_err() {
            return Err(OpsError::InvoiceState(
                before.id,
                status_name(before.status),
                "only drafts are voided; correct a finalized invoice with a credit note",
            ));
        }
        let Some(draft) = contract.draft.clone().filter(|d| d.invoice_id == before.id) else {
            return Err(OpsError::InvoiceState(before.id, "not the account's pending draft", "nothing to void"));
        };
        after.stamp = Stamp { at: now, event_id: format!("void:{}", before.id) };
        let contract_after = next_version(&contract, |c| {
            c.contract = draft.contract_before.clone();
            c.draft = None;
            c.bill_revision += 1;
        });
        let audit = AuditEntry::record(
            &account,
            &caller.actor(),
            AuditAction::InvoiceVoided,
            Some(before.id.clone()),
            Some(&InvoiceSummary::from(&before)),
            Some(&InvoiceSummary::from(&after)),
            now,
        )
        .because(reason.as_ref());
        match state
            .store
            .void_draft(Change::new(&before, &after), Change::new(&contract, &contract_after), &audit)
            .await
        {
            Ok(()) => return Ok(Json(InvoiceSummary::from(&after))),
            Err(DomainError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::Conflict.into())
}
