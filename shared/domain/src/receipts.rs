//! Money received for a contract invoice outside the card processor's own invoices: a mailed check
//! recorded by ops, or a card payment through Checkout that the webhook reports. One rule for
//! both, so the ledger cannot tell them apart except by method and reference.

use crate::retry::Retry;
use chrono::{DateTime, NaiveDate, Utc};

use crate::Change;
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::billing::{Stamp, WorkItem};
use crate::catalog::{ChargeType, Price};
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::ledger;
use crate::ledger::{PaymentReturn, ReceivedPayment, ReturnReason};
use crate::money::Money;
use crate::ports::{ContractAdmin, Recorded};
use crate::rating::{ContractItem, QuantityChange};

/// What to do when the invoice no longer takes payments (paid, void).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenClosed {
    /// Refuse: ops choose another invoice for the check.
    Refuse,
    /// The money arrived anyway (a card payment that raced a check): all of it becomes credit.
    ToCredit,
}

#[derive(Debug, Clone)]
pub struct Incoming {
    pub account_id: AccountId,
    pub invoice_id: String,
    pub amount: Money,
    /// `check:1042`, `card:cs_…`: the same reference twice is one payment.
    pub reference: String,
    pub method: &'static str,
    /// The check's own number, as the bank and the customer know it.
    pub check_number: Option<String>,
    pub received_on: NaiveDate,
    pub actor: Actor,
    pub recorded_by: String,
    pub when_closed: WhenClosed,
    /// Why, when staff recorded it (their reason code and words).
    pub reason: Option<crate::staff::Reason>,
}

#[derive(Debug, Clone)]
pub enum Received {
    /// Recorded now (`Recorded::Now`) or before (`AlreadyRecorded`): the invoice and the account
    /// credit after it.
    Done { recorded: Recorded, invoice: Box<Invoice>, credit: Money },
    /// The invoice takes no payment in this state (with [`WhenClosed::Refuse`]).
    Refused(InvoiceStatus),
}

/// Records `incoming` against its contract invoice: settles what the invoice still owes, the rest
/// becomes account credit; mails a receipt; audited. Retried on a lost race.
pub async fn receive(store: &dyn ContractAdmin, incoming: &Incoming, now: DateTime<Utc>) -> Result<Received> {
    let account = &incoming.account_id;
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        let before = store.contract_invoice(account, &incoming.invoice_id).await?.ok_or(Error::NotFound)?;
        let contract = store.contract_account(account).await?.ok_or(Error::NotFound)?;
        let mut after = before.clone();
        let applied = match ledger::apply_payment(&mut after, incoming.amount) {
            Ok(a) => a,
            Err(Error::Conflict) if incoming.when_closed == WhenClosed::Refuse => {
                return Ok(Received::Refused(before.status));
            }
            Err(Error::Conflict) => {
                let amount = incoming.amount.rounded();
                ledger::Applied { to_invoice: Money::zero(amount.currency()), to_credit: amount }
            }
            Err(e) => return Err(e),
        };
        let event_id = format!("{}:{}", before.id, incoming.reference);
        after.stamp = Stamp { at: now, event_id: event_id.clone() };
        let mut contract_after = contract.clone();
        contract_after.credit =
            Money::new(contract.credit.amount() + applied.to_credit.amount(), contract.credit.currency()).rounded();
        contract_after.version = contract.version + 1;
        contract_after.count_payment(incoming.amount.rounded());
        let payment = ReceivedPayment {
            account_id: account.clone(),
            invoice_id: before.id.clone(),
            reference: incoming.reference.clone(),
            method: incoming.method.to_owned(),
            check_number: incoming.check_number.clone(),
            amount: incoming.amount.rounded(),
            received_on: incoming.received_on,
            to_invoice: applied.to_invoice,
            to_credit: applied.to_credit,
            recorded_at: now,
            recorded_by: incoming.recorded_by.clone(),
            returned: None,
        };
        let work = WorkItem::PaymentReceived {
            account_id: account.clone(),
            invoice_id: before.id.clone(),
            amount_paid: incoming.amount.rounded(),
            event_id,
        };
        let audit = AuditEntry::record(
            account,
            &incoming.actor,
            AuditAction::InvoicePaymentRecorded,
            Some(before.id.clone()),
            None::<&()>,
            Some(&payment),
            now,
        )
        .because(incoming.reason.as_ref());
        match store
            .record_payment(
                &payment,
                Change::new(&before, &after),
                Change::new(&contract, &contract_after),
                &work,
                &audit,
            )
            .await
        {
            Ok(Recorded::Now) => {
                return Ok(Received::Done {
                    recorded: Recorded::Now,
                    invoice: Box::new(after),
                    credit: contract_after.credit,
                });
            }
            Ok(Recorded::AlreadyRecorded) => {
                return Ok(Received::Done {
                    recorded: Recorded::AlreadyRecorded,
                    invoice: Box::new(before),
                    credit: contract.credit,
                });
            }
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// A check the bank returned (or staff enter as returned), to take back.
#[derive(Debug, Clone)]
pub struct Returning {
    pub account_id: AccountId,
    /// The check's reference (`check:1042`, `lockbox:<key>`): every share of it is taken back.
    pub reference: String,
    pub returned_on: NaiveDate,
    pub reason: ReturnReason,
    pub bank_reference: Option<String>,
    /// The seller's returned-check fee (a one-time price in the account's currency): added to
    /// the contract once, so the next bill charges it.
    pub fee: Option<Price>,
    pub actor: Actor,
    pub recorded_by: String,
    pub staff_reason: Option<crate::staff::Reason>,
}

/// What returning a check did.
#[derive(Debug, Clone)]
pub struct ReturnedCheck {
    /// Its shares, as they are now (each marked returned).
    pub shares: Vec<ReceivedPayment>,
    /// Shares this call returned (0: all were returned before).
    pub returned_now: usize,
    /// The whole check.
    pub amount: Money,
    /// The fee the next bill charges (added by this call or an earlier one).
    pub fee: Option<Money>,
    /// The bills it had paid: their ids and numbers.
    pub bills: Vec<(String, Option<String>)>,
    /// The account's credit after it (below zero: owed beyond the open bills).
    pub credit: Money,
}

/// The contract item a returned check's fee is: one per check, so a retried return adds none.
pub fn fee_item_id(reference: &str) -> String {
    let slug: String =
        reference.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("fee-returned-{slug}")
}

/// Takes back every share of a returned check, each in its own write with its bill, the account
/// credit it made, the balance due and its audit entry; the first write also queues the
/// customer's notice and adds the fee, so they happen once. A share returned before (a retry, a
/// second return of the same check, a crash half-way) is left as it is: the check is taken back
/// exactly once. Credit the check made that a later bill already used leaves the credit below
/// zero, which the next bill asks for (see [`ledger::finalize`]).
pub async fn return_check(store: &dyn ContractAdmin, r: &Returning, now: DateTime<Utc>) -> Result<ReturnedCheck> {
    let account = &r.account_id;
    let mut shares: Vec<ReceivedPayment> = store
        .check_payments(account, &r.reference)
        .await?
        .into_iter()
        .filter(|p| p.check_reference() == r.reference)
        .collect();
    if shares.is_empty() {
        return Err(Error::NotFound);
    }
    // Card payments are refunded or disputed through the processor, whose events say so.
    if shares.iter().any(|p| p.method != "check") {
        return Err(Error::invalid(
            "reference",
            "only a check is returned this way (a card payment is refunded or disputed)",
        ));
    }
    // The first share (`check:N`) before `check:N:2`, `check:N:10`.
    shares.sort_by_key(|p| (p.reference.len(), p.reference.clone()));
    let currency = shares[0].amount.currency();
    let amount = Money::new(shares.iter().map(|p| p.amount.amount()).sum(), currency).rounded();
    if let Some(fee) = &r.fee
        && (fee.currency != currency || !matches!(fee.charge, ChargeType::OneTime))
    {
        return Err(Error::invalid("fee_price", format!("must be a one-time price in {currency}")));
    }
    let fee_id = fee_item_id(&r.reference);
    let mut first = shares.iter().all(|p| p.returned.is_none());
    // Every bill the check paid: the notice names them, the caller reports them.
    let mut bills: Vec<(String, Option<String>)> = Vec::new();
    for p in &shares {
        if !bills.iter().any(|(id, _)| *id == p.invoice_id) {
            let number = store.contract_invoice(account, &p.invoice_id).await?.and_then(|i| i.number);
            bills.push((p.invoice_id.clone(), number));
        }
    }
    let numbers: Vec<String> = bills.iter().map(|(id, n)| n.clone().unwrap_or_else(|| id.clone())).collect();
    let mut returned_now = 0;
    for share in shares.iter_mut().filter(|p| p.returned.is_none()) {
        let mut retry = Retry::on_conflict();
        let mut done = false;
        while retry.attempt().await {
            let invoice = store
                .contract_invoice(account, &share.invoice_id)
                .await?
                .ok_or_else(|| Error::Corrupt(format!("payment {} names no invoice", share.reference)))?;
            let contract = store.contract_account(account).await?.ok_or(Error::NotFound)?;
            let mut reopened = invoice.clone();
            ledger::reverse_payment(&mut reopened, share).map_err(|e| match e {
                Error::Conflict => {
                    Error::Corrupt(format!("{} is {} yet took a payment", invoice.id, invoice.status.as_str()))
                }
                e => e,
            })?;
            reopened.stamp = Stamp { at: now, event_id: format!("{}:{}:returned", invoice.id, share.reference) };
            let mut after = share.clone();
            after.returned = Some(PaymentReturn {
                returned_on: r.returned_on,
                reason: r.reason,
                recorded_at: now,
                recorded_by: r.recorded_by.clone(),
                bank_reference: r.bank_reference.clone(),
            });
            let mut contract_after = contract.clone();
            contract_after.credit =
                Money::new(contract.credit.amount() - share.to_credit.amount(), contract.credit.currency()).rounded();
            contract_after.count_payment(Money::new(-share.amount.amount(), currency));
            contract_after.version = contract.version + 1;
            let mut fee = None;
            if first && let Some(price) = &r.fee {
                if !contract_after.contract.items.iter().any(|i| i.id == fee_id) {
                    let item = fee_item(&fee_id, price, r, share);
                    // A draft waiting for review restores its contract if voided: the fee
                    // stays in that too.
                    if let Some(draft) = &mut contract_after.draft {
                        draft.contract_before.items.push(item.clone());
                    }
                    contract_after.contract.items.push(item);
                }
                fee = Some(Money::new(price.pricing.amount(1), currency).rounded());
            }
            let work = first.then(|| WorkItem::PaymentReturned {
                account_id: account.clone(),
                invoice_id: share.invoice_id.clone(),
                reference: r.reference.clone(),
                check_number: share.check_number.clone(),
                amount,
                bills: numbers.clone(),
                reason: r.reason,
                fee,
                event_id: format!("returned:{}:{}", account.as_str(), r.reference),
            });
            let audit = AuditEntry::record(
                account,
                &r.actor,
                AuditAction::InvoicePaymentReturned,
                Some(invoice.id.clone()),
                Some(&*share),
                Some(&after),
                now,
            )
            .because(r.staff_reason.as_ref());
            match store
                .return_payment(
                    &after,
                    Change::new(&invoice, &reopened),
                    Change::new(&contract, &contract_after),
                    work.as_ref(),
                    &audit,
                )
                .await
            {
                Ok(Recorded::Now) => {
                    returned_now += 1;
                    *share = after;
                }
                // Another call returned it meanwhile: theirs stands.
                Ok(Recorded::AlreadyRecorded) => {
                    if let Some(now_stored) = store
                        .check_payments(account, &share.reference)
                        .await?
                        .into_iter()
                        .find(|p| p.reference == share.reference)
                    {
                        *share = now_stored;
                    }
                }
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e),
            }
            first = false;
            done = true;
            break;
        }
        if !done {
            return Err(Error::Conflict);
        }
    }
    let contract = store.contract_account(account).await?.ok_or(Error::NotFound)?;
    let fee = contract
        .contract
        .items
        .iter()
        .find(|i| i.id == fee_id)
        .map(|i| Money::new(i.price.pricing.amount(1), currency).rounded());
    Ok(ReturnedCheck { shares, returned_now, amount, fee, bills, credit: contract.credit })
}

fn fee_item(id: &str, price: &Price, r: &Returning, share: &ReceivedPayment) -> ContractItem {
    let check = share.check_number.as_deref().map_or_else(|| r.reference.clone(), |n| format!("check {n}"));
    ContractItem {
        id: id.to_owned(),
        price: price.clone(),
        group: "Fees".to_owned(),
        description: Some(format!("Returned {check} fee ({})", r.reason.describe())),
        start: r.returned_on,
        end: None,
        quantities: vec![QuantityChange { from: r.returned_on, quantity: 1 }],
        billed: Vec::new(),
        usage_billed: Default::default(),
    }
}
