//! Money received for a contract invoice outside the card processor's own invoices: a mailed check
//! recorded by ops, or a card payment through Checkout that the webhook reports. One rule for
//! both, so the ledger cannot tell them apart except by method and reference.

use crate::retry::Retry;
use chrono::{DateTime, NaiveDate, Utc};

use crate::Change;
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::billing::{Stamp, WorkItem};
use crate::error::{Error, Result};
use crate::ids::AccountId;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::ledger;
use crate::ledger::ReceivedPayment;
use crate::money::Money;
use crate::ports::{ContractAdmin, Recorded};

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
            amount: incoming.amount.rounded(),
            received_on: incoming.received_on,
            to_invoice: applied.to_invoice,
            to_credit: applied.to_credit,
            recorded_at: now,
            recorded_by: incoming.recorded_by.clone(),
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
