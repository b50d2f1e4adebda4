//! The bank's lockbox file, imported: every check applied to its payer's bills or waiting in the
//! exceptions queue with why, never lost and never applied twice.
//!
//! A file is known by its content's SHA-256: the same file again applies nothing. Each check is
//! keyed by file + batch + item, and its payments' references derive from that key, so an import
//! that crashed half-way is sent again and goes on where it stopped (a payment recorded before
//! its check's record is found by its reference and not made twice). Cash application's rules
//! are `billing_domain::lockbox::apply`; `docs/lockbox.md` has the file layout.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use billing_domain::invoice::InvoiceStatus;
use billing_domain::lockbox::{
    self, BillShare, Books, DepositMatch, Exception, FileFormat, Found, ItemOutcome, LockboxCheck, LockboxImport,
    LockboxItem, OpenBill, ReturnMatch, ReturnOutcome,
};
use billing_domain::ports::Recorded;
use billing_domain::receipts::{self, Incoming, Received, WhenClosed};
use billing_domain::staff::{Permission, Reason};
use billing_domain::{AccountId, AuditAction, AuditEntry, Currency, Error as DomainError, Money};
use chrono::Utc;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::extract::{JsonBody, OpsCaller, account_id};
use crate::{OpsError, OpsResult, OpsState, OpsStore};

/// US lockboxes deposit dollars.
fn deposit_currency() -> Currency {
    "USD".parse().expect("a currency")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// The file's name, for the list.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportView {
    /// `imported`, `resumed` (a crashed import went on) or `duplicate` (the file came before:
    /// nothing applied).
    pub status: &'static str,
    pub import: LockboxImport,
    /// What became of each check (all of them, for a duplicate too).
    pub items: Vec<LockboxItem>,
}

/// The data cash application reads, loaded for one check.
struct Loaded {
    /// The accounts the check may be from (named bills', the drawer's).
    candidates: Vec<AccountId>,
    bills: HashMap<String, Found>,
    open: HashMap<AccountId, Vec<OpenBill>>,
    drawer: Option<AccountId>,
    currencies: HashMap<AccountId, Currency>,
}

impl Books for Loaded {
    fn bill(&self, number: &str) -> Found {
        self.bills.get(number).cloned().flatten()
    }
    fn open_bills(&self, account: &AccountId) -> Vec<OpenBill> {
        self.open.get(account).cloned().unwrap_or_default()
    }
    fn drawer(&self, _: &str, _: &str) -> Option<AccountId> {
        self.drawer.clone()
    }
    fn currency(&self, account: &AccountId) -> Option<Currency> {
        self.currencies.get(account).copied()
    }
}

fn open_bill(invoice: &billing_domain::invoice::Invoice) -> OpenBill {
    OpenBill {
        account: invoice.account_id.clone(),
        invoice_id: invoice.id.clone(),
        number: invoice.number.clone().unwrap_or_else(|| invoice.id.clone()),
        due: invoice.due_date.map_or(invoice.created.date_naive(), |d| d.date_naive()),
        remaining: invoice.amount_remaining,
    }
}

async fn load<S: OpsStore>(
    state: &OpsState<S>,
    check: &LockboxCheck,
    scan: Option<&lockbox::ScanLine>,
) -> OpsResult<Loaded> {
    let mut bills = HashMap::new();
    let mut accounts: Vec<AccountId> = scan.map(|s| s.account.clone()).into_iter().collect();
    let named = check.remittance.iter().map(|(n, _)| n.clone()).chain(scan.and_then(|s| s.invoice_number.clone()));
    for number in named {
        let found = match state.store.bill_by_number(&number).await? {
            Some((account, id)) => state.store.contract_invoice(&account, &id).await?.map(|i| {
                accounts.push(account);
                (open_bill(&i), i.status == InvoiceStatus::Open)
            }),
            None => None,
        };
        bills.insert(number, found);
    }
    let drawer =
        if check.routing.is_empty() { None } else { state.store.drawer(&check.routing, &check.account).await? };
    accounts.extend(drawer.clone());
    accounts.dedup();
    let candidates = accounts.clone();
    let (mut open, mut currencies) = (HashMap::new(), HashMap::new());
    for account in accounts {
        if open.contains_key(&account) {
            continue;
        }
        let list = state.store.invoices(&account, Some(InvoiceStatus::Open), 100, None).await?;
        let bills: Vec<OpenBill> =
            list.invoices.iter().filter(|i| billing_domain::ledger::is_contract_bill(&i.id)).map(open_bill).collect();
        if let Some(a) = state.store.account(&account).await? {
            currencies.insert(account.clone(), a.currency);
        }
        open.insert(account, bills);
    }
    Ok(Loaded { candidates, bills, open, drawer, currencies })
}

/// What an earlier, interrupted import already paid with this check (its references are the
/// item's): the account, and each bill with its share.
async fn recorded<S: OpsStore>(
    state: &OpsState<S>,
    candidates: &[AccountId],
    item: &LockboxItem,
) -> OpsResult<Option<(AccountId, Vec<(String, Money)>)>> {
    let base = item.reference(1);
    for account in candidates {
        let shares: Vec<(String, Money)> = state
            .store
            .ledger_items(account)
            .await?
            .payments
            .into_iter()
            .filter(|p| p.reference == base || p.reference.starts_with(&format!("{base}:")))
            .map(|p| (p.invoice_id, p.amount))
            .collect();
        if !shares.is_empty() {
            return Ok(Some((account.clone(), shares)));
        }
    }
    Ok(None)
}

/// Records `shares` of a check on `account`'s bills (the last share may exceed its bill: the rest
/// is credit), each under its own reference (recorded before: found, not made again).
async fn pay<S: OpsStore>(
    state: &OpsState<S>,
    item: &LockboxItem,
    account: &AccountId,
    shares: &[(String, Money)],
    first: usize,
    caller: &OpsCaller,
    reason: Option<Reason>,
) -> OpsResult<()> {
    let now = Utc::now();
    for (n, (invoice_id, amount)) in shares.iter().enumerate() {
        let n = n + first - 1;
        let incoming = Incoming {
            account_id: account.clone(),
            invoice_id: invoice_id.clone(),
            amount: *amount,
            reference: item.reference(n + 1),
            method: "check",
            check_number: Some(item.check_number.clone()),
            received_on: item.deposit_date.unwrap_or(now.date_naive()),
            actor: caller.actor(),
            recorded_by: format!("lockbox {} (check {})", item.lockbox, item.check_number),
            // The money came: a bill paid meanwhile takes it as credit, never a refusal.
            when_closed: WhenClosed::ToCredit,
            reason: reason.clone(),
        };
        match receipts::receive(&*state.store, &incoming, now).await? {
            Received::Done { recorded: Recorded::Now | Recorded::AlreadyRecorded, .. } => {}
            Received::Refused(status) => {
                return Err(OpsError::InvoiceState(
                    invoice_id.clone(),
                    crate::ledger::status_name(status),
                    "takes no payment",
                ));
            }
        }
    }
    Ok(())
}

fn share((invoice_id, amount): &(String, Money)) -> BillShare {
    BillShare { invoice_id: invoice_id.clone(), number: None, amount: *amount }
}

/// The stub's scan line read back: its account and bill, `Err` when its check digit (or length)
/// fails (never trusted), none when there is none or its account number is nobody's.
async fn scanned<S: OpsStore>(
    state: &OpsState<S>,
    check: &LockboxCheck,
) -> OpsResult<Option<Result<lockbox::ScanLine, ()>>> {
    let Some(raw) = &check.scan_line else { return Ok(None) };
    let Some(fields) = lockbox::ScanFields::read(raw, state.scan.lockbox.check_digit) else { return Ok(Some(Err(()))) };
    let Some(account) = state.store.account_by_number(fields.account_number).await? else { return Ok(None) };
    let invoice_number =
        Some(billing_domain::ledger::invoice_number(&state.scan.invoice_prefix, fields.invoice_number));
    Ok(Some(Ok(lockbox::ScanLine { account, invoice_number })))
}

/// Applies one check of a file, or says why it waits for staff. An import interrupted after
/// some of this check's payments (`resuming`) applies only the rest, to the same account, on bills it did not
/// pay yet, its references going on from there.
async fn settle<S: OpsStore>(
    state: &OpsState<S>,
    caller: &OpsCaller,
    reason: Option<Reason>,
    check: &LockboxCheck,
    item: &LockboxItem,
    resuming: bool,
) -> OpsResult<ItemOutcome> {
    let currency = item.amount.currency();
    let scan = scanned(state, check).await?;
    let books = load(state, check, scan.as_ref().and_then(|s| s.as_ref().ok())).await?;
    // Payments under this check's references can only come from an earlier attempt at this file,
    // which made the import's record first: a file seen for the first time has none to look for.
    let earlier = if resuming { recorded(state, &books.candidates, item).await? } else { None };
    let paid: Decimal = earlier.iter().flat_map(|(_, s)| s).map(|(_, m)| m.amount()).sum();
    let mut rest = check.clone();
    rest.amount_cents = check.amount_cents.saturating_sub((paid * Decimal::ONE_HUNDRED).try_into().unwrap_or(0));
    let paid_ids: Vec<String> = earlier.iter().flat_map(|(_, s)| s).map(|(id, _)| id.clone()).collect();
    rest.remittance.retain(|(n, _)| books.bill(n).is_none_or(|(b, _)| !paid_ids.contains(&b.invoice_id)));
    let by_before =
        if check.remittance.is_empty() { lockbox::IdentifiedBy::Drawer } else { lockbox::IdentifiedBy::Invoice };
    if let Some((account, shares)) = &earlier
        && rest.amount_cents == 0
    {
        return Ok(ItemOutcome::Applied {
            account_id: account.clone(),
            by: by_before,
            bills: shares.iter().map(share).collect(),
            to_credit: Money::zero(currency),
        });
    }
    let known = match &earlier {
        Some((account, _)) => Some(Ok(lockbox::ScanLine { account: account.clone(), invoice_number: None })),
        None => scan,
    };
    let applied = match lockbox::apply(&rest, known, currency, &books) {
        Ok(a) => a,
        Err(exception) => return Ok(ItemOutcome::Exception { exception }),
    };
    let mut shares: Vec<(String, Money)> = applied.to_bills.iter().map(|(b, m)| (b.invoice_id.clone(), *m)).collect();
    if applied.to_credit.amount() > Decimal::ZERO {
        // Beyond the bills: credit, carried by the last bill paid (now or before).
        match (shares.last_mut(), paid_ids.last()) {
            (Some(last), _) => last.1 = Money::new(last.1.amount() + applied.to_credit.amount(), currency),
            (None, Some(id)) => shares.push((id.clone(), applied.to_credit)),
            (None, None) => return Ok(ItemOutcome::Exception { exception: Exception::NothingOwed }),
        }
    }
    pay(state, item, &applied.account, &shares, paid_ids.len() + 1, caller, reason).await?;
    if !check.routing.is_empty() {
        state.store.remember_drawer(&check.routing, &check.account, &applied.account).await?;
    }
    let mut bills: Vec<BillShare> = earlier.map(|(_, s)| s.iter().map(share).collect()).unwrap_or_default();
    bills.extend(applied.to_bills.iter().map(|(b, m)| BillShare {
        invoice_id: b.invoice_id.clone(),
        number: Some(b.number.clone()),
        amount: *m,
    }));
    Ok(ItemOutcome::Applied {
        account_id: applied.account,
        by: if paid_ids.is_empty() { applied.by } else { by_before },
        bills,
        to_credit: applied.to_credit,
    })
}

/// `POST …/lockbox-files?name=`: imports the bank's lockbox file (the body, as the bank sent it).
/// A file that does not add up is refused whole (422 `file_refused`, with the line and why),
/// nothing applied; the same file again applies nothing (`duplicate`).
#[utoipa::path(post, path = "/v1/staff/lockbox-files", operation_id = "staff_lockbox_import", tag = "lockbox",
    params(("name" = Option<String>, Query, description = "the file's name"),
        ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body(content = String, content_type = "text/plain", description = "the BAI lockbox transmission"),
    responses((status = 201, body = ImportView, description = "imported (or resumed)"), (status = 200, body = ImportView, description = "the same file came before (`duplicate`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "the file does not add up (`file_refused`), or no reason (`reason_required`)"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn import<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    query: Result<Query<FileQuery>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Bytes,
) -> OpsResult<(StatusCode, Json<ImportView>)> {
    let reason = caller.write(Permission::PaymentRecord)?;
    let Query(q) = query.map_err(|e| OpsError::InvalidParameter(e.body_text()))?;
    let body = std::str::from_utf8(&body).map_err(|e| {
        OpsError::FileRefused(lockbox::FileError {
            line: 0,
            reason: format!("the file is not text (a BAI lockbox file is ASCII): byte {}", e.valid_up_to()),
        })
    })?;
    let view = import_file(&state, &caller, reason, q.name.as_deref(), body).await?;
    let code = if view.status == "duplicate" { StatusCode::OK } else { StatusCode::CREATED };
    Ok((code, Json(view)))
}

/// A file's identity: the SHA-256 of its bytes, hex.
pub fn file_hash(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Where the import of a file stands when it arrives.
enum Begun {
    /// Imported before, whole: nothing is applied again.
    Done(LockboxImport),
    /// Going on: `resumed` (an import that stopped half-way) or `imported` (recorded now).
    Going(LockboxImport, &'static str),
}

/// Looks the file up by its hash, and records it as `started()` makes it when it is new. Sent
/// twice at once, the second call gets `Conflict` (the first imports it).
async fn begin<S: OpsStore>(
    state: &OpsState<S>,
    hash: &str,
    started: impl FnOnce() -> LockboxImport,
) -> OpsResult<Begun> {
    match state.store.lockbox_import(hash).await? {
        Some(done) if done.done => Ok(Begun::Done(done)),
        Some(going) => Ok(Begun::Going(going, "resumed")),
        None => {
            let record = started();
            state.store.save_lockbox_import(&record, true).await?;
            Ok(Begun::Going(record, "imported"))
        }
    }
}

/// The name a file is listed under: the one given, else `fallback`.
fn file_name(name: Option<&str>, fallback: &str) -> String {
    let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(fallback);
    billing_domain::text::bounded(name, 1, 200).unwrap_or_else(|_| fallback.into())
}

/// Imports one lockbox file (the route's body, or an object the bucket received): refused
/// whole (`FileRefused`) when it does not add up, `duplicate` when it came before, else each
/// check applied or queued; an interrupted import goes on.
pub async fn import_file<S: OpsStore>(
    state: &OpsState<S>,
    caller: &OpsCaller,
    reason: Option<Reason>,
    name: Option<&str>,
    body: &str,
) -> OpsResult<ImportView> {
    if billing_domain::bai2::is_bai2(body) {
        return import_bai2(state, caller, reason, name, body).await;
    }
    let file = lockbox::parse(body, &state.scan.lockbox.layout).map_err(OpsError::FileRefused)?;
    let hash = file_hash(body.as_bytes());
    let currency = deposit_currency();
    let started = || {
        let checks = file.batches.iter().map(|b| b.checks.len() as u32).sum();
        let total = Money::new(Decimal::new(file.total_cents as i64, 2), currency);
        LockboxImport::started(
            hash.clone(),
            file_name(name, "lockbox file"),
            caller.name(),
            FileFormat::Lockbox,
            checks,
            total,
        )
    };
    let (mut record, status) = match begin(state, &hash, started).await? {
        Begun::Done(done) => {
            let items = items_of(state, &hash, &file).await?;
            return Ok(ImportView { status: "duplicate", import: done, items });
        }
        Begun::Going(record, status) => (record, status),
    };
    let mut items = Vec::new();
    for batch in &file.batches {
        for check in &batch.checks {
            let key = lockbox::item_key(&hash, check);
            if let Some(done) = state.store.lockbox_item(&hash, &key).await? {
                items.push(done);
                continue;
            }
            let amount = Money::new(Decimal::new(check.amount_cents as i64, 2), currency);
            let mut item = LockboxItem {
                key,
                file_hash: hash.clone(),
                lockbox: batch.lockbox.clone(),
                deposit_date: batch.deposit_date,
                check_number: check.number.clone(),
                amount,
                remitter: check.remitter.clone(),
                routing: check.routing.clone(),
                drawer_account: check.account.clone(),
                remittance: check.remittance.iter().map(|(n, _)| n.clone()).collect(),
                outcome: ItemOutcome::Exception { exception: Exception::Unidentified },
                at: Utc::now(),
            };
            item.outcome = settle(state, caller, reason.clone(), check, &item, status == "resumed").await?;
            match state.store.put_lockbox_item(&item, None).await {
                Ok(()) | Err(DomainError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
            items.push(item);
        }
    }
    record.applied = items.iter().filter(|i| matches!(i.outcome, ItemOutcome::Applied { .. })).count() as u32;
    record.exceptions = items.len() as u32 - record.applied;
    record.done = true;
    state.store.save_lockbox_import(&record, false).await?;
    tracing::info!(file = %hash, checks = items.len(), applied = record.applied, exceptions = record.exceptions, status, "lockbox file imported");
    Ok(ImportView { status, import: record, items })
}

/// Imports a BAI2 file (the bank's balance report): each lockbox deposit matched to the lockbox
/// file of the same total, each returned check (type 555) found by its number and amount and
/// taken back (see [`crate::returns`]), with the seller's fee when one is set. By content hash
/// as a lockbox file: the same file again changes nothing, and an interrupted import goes on
/// (a check taken back already is reported, not taken back twice).
async fn import_bai2<S: OpsStore>(
    state: &OpsState<S>,
    caller: &OpsCaller,
    reason: Option<Reason>,
    name: Option<&str>,
    body: &str,
) -> OpsResult<ImportView> {
    let file = billing_domain::bai2::parse(body).map_err(OpsError::FileRefused)?;
    let hash = file_hash(body.as_bytes());
    let returned = file.returned_items();
    let started = || {
        let currency = returned.first().map_or(deposit_currency(), |r| r.amount.currency());
        let total = Money::new(returned.iter().map(|r| r.amount.amount()).sum(), currency).rounded();
        LockboxImport::started(
            hash.clone(),
            file_name(name, "BAI2 file"),
            caller.name(),
            FileFormat::Bai2,
            returned.len() as u32,
            total,
        )
    };
    let (mut record, status) = match begin(state, &hash, started).await? {
        Begun::Done(done) => return Ok(ImportView { status: "duplicate", import: done, items: Vec::new() }),
        Begun::Going(record, status) => (record, status),
    };
    let lockbox_files: Vec<LockboxImport> = state
        .store
        .lockbox_imports(200)
        .await?
        .into_iter()
        .filter(|f| f.format == FileFormat::Lockbox && f.refused.is_none())
        .collect();
    record.deposits = file
        .deposits()
        .into_iter()
        .map(|deposit| {
            let matched = lockbox_files.iter().find(|f| f.total == deposit.amount);
            DepositMatch {
                lockbox_file: matched.map(|f| f.name.clone()),
                lockbox_hash: matched.map(|f| f.file_hash.clone()),
                deposit,
            }
        })
        .collect();
    // The seller's fee: a setting that names no usable price costs the fee, never the return.
    let fee = match crate::returns::fee_price(state, state.scan.lockbox.returned_check_fee.as_deref()).await {
        Ok(fee) => fee.filter(|p| matches!(p.charge, billing_domain::catalog::ChargeType::OneTime)),
        Err(OpsError::Domain(DomainError::Invalid(e))) => {
            tracing::warn!(price = ?state.scan.lockbox.returned_check_fee, error = ?e, "RETURNED_CHECK_FEE_PRICE names no usable price: no fee");
            None
        }
        Err(e) => return Err(e),
    };
    let mut returns = Vec::new();
    for item in returned {
        let outcome = take_back_returned(state, caller, reason.clone(), &item, fee.clone()).await?;
        returns.push(ReturnMatch { item, outcome });
    }
    record.applied = returns
        .iter()
        .filter(|r| matches!(r.outcome, ReturnOutcome::Returned { .. } | ReturnOutcome::AlreadyReturned { .. }))
        .count() as u32;
    record.exceptions = returns.len() as u32 - record.applied;
    record.returns = returns;
    record.done = true;
    state.store.save_lockbox_import(&record, false).await?;
    tracing::info!(file = %hash, returned = record.applied, unmatched = record.exceptions, deposits = record.deposits.len(), status, "BAI2 file imported");
    Ok(ImportView { status, import: record, items: Vec::new() })
}

/// Finds the check a returned item names (its number, then its whole amount) and takes it back.
async fn take_back_returned<S: OpsStore>(
    state: &OpsState<S>,
    caller: &OpsCaller,
    reason: Option<Reason>,
    item: &billing_domain::bai2::ReturnedItem,
    fee: Option<billing_domain::catalog::Price>,
) -> OpsResult<ReturnOutcome> {
    let mut matches = Vec::new();
    for (account, reference) in state.store.checks_numbered(&item.check_number).await? {
        let shares = state.store.check_payments(&account, &reference).await?;
        let whole: Decimal =
            shares.iter().filter(|p| p.check_reference() == reference).map(|p| p.amount.amount()).sum();
        let currency = shares.first().map(|p| p.amount.currency());
        if whole == item.amount.amount() && currency == Some(item.amount.currency()) {
            matches.push((account, reference));
        }
    }
    let (account, reference) = match matches.len() {
        0 => return Ok(ReturnOutcome::NoSuchCheck),
        1 => matches.remove(0),
        _ => return Ok(ReturnOutcome::Ambiguous { accounts: matches.into_iter().map(|(a, _)| a).collect() }),
    };
    // A fee in another currency than the check's is the seller's setting gone wrong: no fee.
    let fee = fee.filter(|p| p.currency == item.amount.currency());
    let returning = billing_domain::receipts::Returning {
        account_id: account.clone(),
        reference: reference.clone(),
        returned_on: item.as_of,
        reason: item.reason,
        bank_reference: Some(item.bank_reference.clone()).filter(|r| !r.is_empty()),
        fee,
        actor: caller.actor(),
        recorded_by: format!("BAI2 returned item (bank reference {})", item.bank_reference),
        staff_reason: reason,
    };
    let done = crate::returns::take_back(state, &returning).await?;
    Ok(if done.status == "returned" {
        ReturnOutcome::Returned {
            account_id: account,
            reference,
            bills: done
                .shares
                .into_iter()
                .map(|s| BillShare { invoice_id: s.invoice_id, number: s.number, amount: s.amount })
                .collect(),
            fee: done.fee,
        }
    } else {
        ReturnOutcome::AlreadyReturned { account_id: account, reference }
    })
}

async fn items_of<S: OpsStore>(
    state: &OpsState<S>,
    hash: &str,
    file: &lockbox::LockboxFile,
) -> OpsResult<Vec<LockboxItem>> {
    let mut items = Vec::new();
    for check in file.batches.iter().flat_map(|b| &b.checks) {
        if let Some(i) = state.store.lockbox_item(hash, &lockbox::item_key(hash, check)).await? {
            items.push(i);
        }
    }
    Ok(items)
}

/// `GET …/lockbox-files`: the files imported, newest first.
#[utoipa::path(get, path = "/v1/staff/lockbox-files", operation_id = "staff_lockbox_files", tag = "lockbox",
    responses((status = 200, body = Vec<LockboxImport>), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn files<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<Vec<LockboxImport>>> {
    caller.require(Permission::AccountRead)?;
    Ok(Json(state.store.lockbox_imports(50).await?))
}

/// `GET …/lockbox-exceptions`: the checks waiting for staff, oldest first, each with why.
#[utoipa::path(get, path = "/v1/staff/lockbox-exceptions", operation_id = "staff_lockbox_exceptions", tag = "lockbox",
    responses((status = 200, body = Vec<LockboxItem>), (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn exceptions<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
) -> OpsResult<Json<Vec<LockboxItem>>> {
    caller.require(Permission::AccountRead)?;
    Ok(Json(state.store.lockbox_exceptions().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// The account the check is from.
    pub account_id: String,
    /// Its bills the check pays, in order (default: its open bills, oldest due first); beyond the
    /// last, account credit.
    #[serde(default)]
    pub invoices: Option<Vec<String>>,
}

/// `POST …/lockbox-exceptions/{key}/apply`: staff say whose check it is (and which bills): it is
/// applied like a check recorded by hand, the drawer remembered for the next one; audited.
#[utoipa::path(post, path = "/v1/staff/lockbox-exceptions/{key}/apply", operation_id = "staff_lockbox_apply", tag = "lockbox",
    params(("key" = String, Path),
        ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    request_body = ResolveBody,
    responses((status = 200, body = LockboxItem), (status = 404, body = crate::openapi::ErrorBody, description = "no such waiting check or account (`not_found`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "decided meanwhile (`conflict`), or a bill that takes no payment (`invoice_state`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`validation_failed`, `reason_required`"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn resolve<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(key): Path<String>,
    JsonBody(body): JsonBody<ResolveBody>,
) -> OpsResult<Json<LockboxItem>> {
    let reason = caller.write(Permission::PaymentRecord)?;
    let before = state.store.lockbox_exception(&key).await?.ok_or(OpsError::NotFound)?;
    let account = account_id(&body.account_id)?;
    let profile = state.store.account(&account).await?.ok_or(OpsError::NotFound)?;
    if profile.currency != before.amount.currency() {
        return Err(DomainError::invalid("account_id", "bills in another currency than the lockbox deposits").into());
    }
    // A resolve interrupted after some of its payments: only the rest, on bills not yet paid.
    let earlier = recorded(&state, std::slice::from_ref(&account), &before).await?.map(|(_, s)| s).unwrap_or_default();
    let list = state.store.invoices(&account, Some(InvoiceStatus::Open), 100, None).await?;
    let mut open: Vec<OpenBill> = list
        .invoices
        .iter()
        .filter(|i| billing_domain::ledger::is_contract_bill(&i.id) && !earlier.iter().any(|(id, _)| *id == i.id))
        .map(open_bill)
        .collect();
    open.sort_by(|a, b| (a.due, &a.invoice_id).cmp(&(b.due, &b.invoice_id)));
    let order: Vec<OpenBill> = match &body.invoices {
        None => open,
        Some(ids) => {
            let mut picked = Vec::new();
            for id in ids {
                let bill = open.iter().find(|b| &b.invoice_id == id).cloned().ok_or_else(|| {
                    OpsError::InvoiceState(id.clone(), "not open", "only the account's open bills take payments")
                })?;
                picked.push(bill);
            }
            picked
        }
    };
    let mut left = before.amount.amount() - earlier.iter().map(|(_, m)| m.amount()).sum::<Decimal>();
    if order.is_empty() && earlier.is_empty() {
        return Err(OpsError::InvoiceState(key, "not applicable", "the account has no open bill to apply it to"));
    }
    let mut shares: Vec<(String, Money)> = Vec::new();
    for bill in &order {
        let share = left.min(bill.remaining.amount());
        if share > Decimal::ZERO {
            left -= share;
            shares.push((bill.invoice_id.clone(), Money::new(share, profile.currency)));
        }
    }
    let to_credit = Money::new(left, profile.currency);
    if left > Decimal::ZERO {
        let carrier = order.first().map(|b| b.invoice_id.clone()).or_else(|| earlier.last().map(|(id, _)| id.clone()));
        match (shares.last_mut(), carrier) {
            (Some(last), _) => last.1 = Money::new(last.1.amount() + left, profile.currency),
            (None, Some(id)) => shares.push((id, Money::new(left, profile.currency))),
            (None, None) => {
                return Err(OpsError::InvoiceState(
                    key,
                    "not applicable",
                    "the account has no open bill to apply it to",
                ));
            }
        }
    }
    pay(&state, &before, &account, &shares, earlier.len() + 1, &caller, reason.clone()).await?;
    let shares: Vec<(String, Money)> = earlier.into_iter().chain(shares).collect();
    if !before.routing.is_empty() {
        state.store.remember_drawer(&before.routing, &before.drawer_account, &account).await?;
    }
    let after = LockboxItem {
        outcome: ItemOutcome::Resolved {
            account_id: account.clone(),
            bills: shares
                .iter()
                .map(|s| BillShare {
                    number: order.iter().find(|b| b.invoice_id == s.0).map(|b| b.number.clone()),
                    ..share(s)
                })
                .collect(),
            to_credit,
            by: caller.name(),
            reason: reason.clone(),
        },
        ..before.clone()
    };
    let audit = AuditEntry::record(
        &account,
        &caller.actor(),
        AuditAction::LockboxCheckApplied,
        Some(before.key.clone()),
        Some(&before),
        Some(&after),
        Utc::now(),
    )
    .because(reason.as_ref());
    state.store.decide_lockbox_item(&after, &audit).await?;
    Ok(Json(after))
}

/// `POST …/lockbox-exceptions/{key}/return`: the check goes back to its payer (no money applied);
/// in the seller's audit trail with why.
#[utoipa::path(post, path = "/v1/staff/lockbox-exceptions/{key}/return", operation_id = "staff_lockbox_return", tag = "lockbox",
    params(("key" = String, Path),
        ("Reason-Code" = Option<billing_domain::staff::ReasonCode>, Header, description = "Why (required of staff): a code from the list"),
        ("Reason-Text" = Option<String>, Header, description = "The person's words, percent-encoded UTF-8 (required for `other`)")),
    responses((status = 200, body = LockboxItem), (status = 404, body = crate::openapi::ErrorBody, description = "no such waiting check (`not_found`)"),
        (status = 409, body = crate::openapi::ErrorBody, description = "decided meanwhile (`conflict`)"),
        (status = 422, body = crate::openapi::ErrorBody, description = "`reason_required`"),
        (status = 401, body = crate::openapi::ErrorBody, description = "not a staff token (`staff_only`)"),
        (status = 403, body = crate::openapi::ErrorBody, description = "the roles lack the permission (`forbidden`)")),
    security(("staff" = [])))]
pub async fn return_check<S: OpsStore>(
    State(state): State<OpsState<S>>,
    caller: OpsCaller,
    Path(key): Path<String>,
) -> OpsResult<Json<LockboxItem>> {
    let reason = caller.write(Permission::PaymentRecord)?;
    let before = state.store.lockbox_exception(&key).await?.ok_or(OpsError::NotFound)?;
    let after =
        LockboxItem { outcome: ItemOutcome::Returned { by: caller.name(), reason: reason.clone() }, ..before.clone() };
    let audit = caller.seller_audit(
        AuditAction::LockboxCheckReturned,
        Some(before.key.clone()),
        Some(&before),
        Some(&after),
        reason.as_ref(),
    );
    state.store.decide_lockbox_item(&after, &audit).await?;
    Ok(Json(after))
}
