//! Applying a verified event exactly once, and never letting an older event overwrite newer state.

use billing_domain::billing::{EventOutcome, EventRecord, Projection, Subscription, WorkItem};
use billing_domain::invoice::Invoice;
use billing_domain::ports::ContractAdmin;
use billing_domain::ports::{ProcessorEvents, Recorded};
use billing_domain::retry::Retry;
use billing_domain::{AccountId, Actor, AuditAction, AuditEntry, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decide::{self, Decision, FollowUp, ProjectionDraft};
use crate::stripe_api::StripeObjects;
use crate::verify::{EventHead, Verified};

/// What happened to a delivery (the response body says it, for Stripe's dashboard and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    /// This delivery recorded the event with this outcome.
    Recorded(EventOutcome),
    /// The event was recorded by an earlier delivery; nothing changed.
    Duplicate,
}

fn record(head: &EventHead, received_at: DateTime<Utc>, outcome: EventOutcome) -> EventRecord {
    EventRecord {
        event_id: head.id.clone(),
        kind: head.kind.clone(),
        created: DateTime::from_timestamp(head.created, 0).unwrap_or(DateTime::UNIX_EPOCH),
        received_at,
        outcome,
        account_id: None,
    }
}

fn result(r: Recorded, outcome: EventOutcome) -> Applied {
    match r {
        Recorded::Now => Applied::Recorded(outcome),
        Recorded::AlreadyRecorded => Applied::Duplicate,
    }
}

/// Applies `verified`. `stripe` re-reads an object whose event cannot be ordered from its payload
/// (two events of the same second); without it such an event is recorded as stale.
pub async fn apply(
    store: &dyn ProcessorEvents,
    stripe: Option<&dyn StripeObjects>,
    ledger: Option<&dyn ContractAdmin>,
    verified: Verified,
    now: DateTime<Utc>,
) -> Result<Applied> {
    let event = match verified {
        Verified::Unparseable(head) => {
            tracing::error!(event_id = %head.id, kind = %head.kind, "signed event does not parse with the pinned Stripe types");
            return record_only(store, &record(&head, now, EventOutcome::Unparseable)).await;
        }
        Verified::Event(e) => e,
    };
    let head =
        EventHead { id: event.id.as_str().to_owned(), kind: event.type_.as_str().to_owned(), created: event.created };
    // Fast path for redeliveries; the transactions below are what guarantee exactly once.
    if store.event_record(&head.id).await?.is_some() {
        return Ok(Applied::Duplicate);
    }
    match decide::decide(&event) {
        Decision::Ignore(reason) => ignored(store, &head, now, reason).await,
        Decision::LinkCustomer(link, settlement) => {
            // Settle before recording: a failure leaves the event unclaimed, so Stripe's retry
            // (or recovery) settles again; Stripe's idempotency makes the repeat harmless.
            if !settlement.invoice_ids.is_empty() {
                let Some(api) = stripe else {
                    tracing::error!(event_id = %head.id, "a paid checkout to settle, but no Stripe client");
                    return Err(Error::Unavailable("no Stripe client to settle invoices with".into()));
                };
                for invoice in &settlement.invoice_ids {
                    api.settle_invoice(invoice, &format!("settle-{}-{invoice}", settlement.session_id)).await?;
                    tracing::info!(event_id = %head.id, invoice, session = %settlement.session_id, "invoice settled");
                }
            }
            if !settlement.contract_bills.is_empty() {
                let Some(ledger) = ledger else {
                    tracing::error!(event_id = %head.id, "a paid checkout of contract bills, but no ledger");
                    return Err(Error::Unavailable("no ledger to record contract payments in".into()));
                };
                record_contract_payments(ledger, &link.account_id, &settlement, now).await?;
            }
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(link.account_id.clone());
            match store.link_customer(&rec, &link).await {
                Ok(r) => Ok(result(r, EventOutcome::Applied)),
                Err(Error::Conflict) => {
                    tracing::error!(event_id = %head.id, customer = %link.customer_id, account_id = %link.account_id,
                        "customer is already linked to another account; not relinked");
                    record_only(store, &record(&head, now, EventOutcome::Ignored)).await
                }
                Err(e) => Err(e),
            }
        }
        Decision::Subscription(draft) => {
            let mut after = draft.subscription;
            let Some(account) = resolve(store, draft.account_hint, &after.customer_id, &head).await? else {
                return unattributed(store, &head, now).await;
            };
            after.account_id = account.clone();
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(account.clone());
            let mut retry = Retry::on_conflict();
            while retry.attempt().await {
                let before = store.subscription(&account, &after.id).await?;
                if let Some(b) = &before
                    && !after.stamp.supersedes(&b.stamp)
                {
                    let tie = after.stamp.at == b.stamp.at && after.stamp.event_id != b.stamp.event_id;
                    match (tie, stripe) {
                        // Same second: the payloads cannot be ordered; Stripe's object now can.
                        (true, Some(api)) => match refetch(api, &after, &account).await? {
                            Some(current) => after = current,
                            None => return ignored(store, &head, now, "re-read subscription not applicable").await,
                        },
                        _ => {
                            rec.outcome = EventOutcome::Stale;
                            return record_only(store, &rec).await;
                        }
                    }
                }
                let work = WorkItem::for_subscription(before.as_ref(), &after);
                match store.save_subscription(&rec, before.as_ref(), &after, work.as_ref()).await {
                    Ok(r) => return Ok(result(r, EventOutcome::Applied)),
                    Err(Error::Conflict) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(Error::Conflict)
        }
        Decision::Project(draft) => project(store, *draft, &head, now).await,
        Decision::Dispute(draft) => {
            // The dispute names only its charge: the charge (customer, amounts) comes from Stripe.
            let Some(api) = stripe else {
                tracing::warn!(event_id = %head.id, "dispute without a Stripe client to read its charge");
                return unattributed(store, &head, now).await;
            };
            let charge = match api.charge(&draft.charge_id).await {
                Ok(c) => c,
                Err(Error::NotFound) => return ignored(store, &head, now, "disputed charge unknown to Stripe").await,
                Err(e) => return Err(e),
            };
            let Some(mut payment) = decide::payment_draft(draft.stamp.clone(), &charge, AuditAction::PaymentDisputed)
            else {
                return ignored(store, &head, now, "disputed charge without a customer").await;
            };
            if let Projection::Payment(p) = &mut payment.projection {
                p.dispute = Some(draft.dispute.clone());
            }
            project(store, payment, &head, now).await
        }
        Decision::Invoice(draft) => {
            let mut after = draft.invoice;
            let Some(account) = resolve(store, draft.account_hint, &after.customer_id, &head).await? else {
                return unattributed(store, &head, now).await;
            };
            after.account_id = account.clone();
            if !after.lines_complete
                && let Some(api) = stripe
            {
                complete_lines(api, &mut after).await?;
            }
            // The follow-up belongs to the event (one per finalize, payment, failure), so a stale
            // event still leaves it; the consumer reads the invoice's current state.
            let work = draft.follow_up.map(|f| follow_up(f, &after));
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(account.clone());
            let mut retry = Retry::on_conflict();
            while retry.attempt().await {
                let before = store.invoice(&account, &after.id).await?;
                let stale = before.as_ref().is_some_and(|b| !after.stamp.supersedes(&b.stamp));
                rec.outcome = if stale { EventOutcome::Stale } else { EventOutcome::Applied };
                let projected = (!stale).then_some(&after);
                match store.save_invoice(&rec, before.as_ref(), projected, work.as_ref()).await {
                    Ok(r) => return Ok(result(r, rec.outcome)),
                    Err(Error::Conflict) => continue,
                    Err(Error::Invalid(reason)) => {
                        tracing::error!(event_id = %head.id, invoice = %after.id, account_id = %account, ?reason,
                            "invoice not projected");
                        return record_only(store, &record(&head, now, EventOutcome::Ignored)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(Error::Conflict)
        }
    }
}

/// The account a processor object belongs to: the `account_id` the portal put in its metadata,
/// else the account its customer is linked to.
async fn resolve(
    store: &dyn ProcessorEvents,
    hint: Option<AccountId>,
    customer_id: &str,
    head: &EventHead,
) -> Result<Option<AccountId>> {
    if hint.is_some() {
        return Ok(hint);
    }
    let linked = store.customer_account(customer_id).await?;
    if linked.is_none() {
        tracing::warn!(event_id = %head.id, kind = %head.kind, customer = customer_id, "customer linked to no account");
    }
    Ok(linked)
}

/// Applies a projection (payment method, default method, payment) for its account: stale events
/// change nothing, concurrent ones are re-decided, payments are audited in the same transaction.
async fn project(
    store: &dyn ProcessorEvents,
    draft: ProjectionDraft,
    head: &EventHead,
    now: DateTime<Utc>,
) -> Result<Applied> {
    let Some(account) = resolve(store, draft.account_hint, &draft.customer_id, head).await? else {
        return unattributed(store, head, now).await;
    };
    let proposed = draft.projection.for_account(account.clone());
    let mut rec = record(head, now, EventOutcome::Applied);
    rec.account_id = Some(account.clone());
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        let before = store.projection(&proposed.key()).await?;
        if let Some(b) = &before
            && !proposed.stamp().supersedes(b.stamp())
        {
            rec.outcome = EventOutcome::Stale;
            return record_only(store, &rec).await;
        }
        let after = proposed.clone().carried_over(before.as_ref());
        let audit = draft.audit.map(|action| {
            let target = match &after {
                Projection::Payment(p) => Some(p.charge_id.clone()),
                _ => None,
            };
            AuditEntry::record(&account, &processor_actor(), action, target, before.as_ref(), Some(&after), now)
        });
        match store.save_projection(&rec, before.as_ref().map(Projection::stamp), &after, audit.as_ref()).await {
            Ok(r) => return Ok(result(r, EventOutcome::Applied)),
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// Changes Stripe reports are recorded in the audit trail as made by `stripe`.
fn processor_actor() -> Actor {
    Actor { user_id: "stripe".parse().expect("a valid user id"), email: None }
}

/// An event carries the first page of an invoice's lines; the rest come from Stripe, so the
/// stored invoice is itemized in full. Left partial (and marked so) if Stripe no longer has it.
async fn complete_lines(api: &dyn StripeObjects, invoice: &mut Invoice) -> Result<()> {
    let mut lines = Vec::with_capacity(invoice.lines.len());
    let mut after: Option<String> = None;
    loop {
        let (page, more) = match api.invoice_lines(&invoice.id, after.as_deref()).await {
            Ok(p) => p,
            Err(Error::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        after = page.last().map(|l| l.id.as_str().to_owned());
        lines.extend(page.iter().map(|l| decide::line(l, invoice.currency)));
        if !more || after.is_none() {
            break;
        }
    }
    invoice.lines = lines;
    invoice.lines_complete = true;
    Ok(())
}

/// The subscription as Stripe holds it now, stamped with this event (which it is at least as new
/// as), for `account`. `None` when the current object is not a seat subscription any more.
async fn refetch(
    api: &dyn StripeObjects,
    event_view: &Subscription,
    account: &AccountId,
) -> Result<Option<Subscription>> {
    let current = match api.subscription(&event_view.id).await {
        Ok(c) => c,
        Err(Error::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    tracing::info!(subscription = %event_view.id, event_id = %event_view.stamp.event_id,
        "events of the same second: re-read the subscription from Stripe");
    Ok(match decide::subscription_at(event_view.stamp.clone(), &current) {
        Decision::Subscription(d) => Some(Subscription { account_id: account.clone(), ..d.subscription }),
        _ => None,
    })
}

async fn ignored(store: &dyn ProcessorEvents, head: &EventHead, now: DateTime<Utc>, reason: &str) -> Result<Applied> {
    tracing::info!(event_id = %head.id, kind = %head.kind, reason, "event ignored");
    record_only(store, &record(head, now, EventOutcome::Ignored)).await
}

/// Records an event about a customer no account is linked to; nothing else changes.
/// How long an event about a customer no account is linked to yet is handed back to Stripe to
/// retry: the checkout that links it may simply not have arrived yet (Stripe does not order its
/// deliveries; a card attached during Checkout is often announced before the session completes).
pub const UNATTRIBUTED_RETRY_SECS: i64 = 60 * 60;

/// An event about a customer no account is linked to: retried while young (503, nothing
/// written), recorded as `unattributed` once older than [`UNATTRIBUTED_RETRY_SECS`].
async fn unattributed(store: &dyn ProcessorEvents, head: &EventHead, now: DateTime<Utc>) -> Result<Applied> {
    if now.timestamp() - head.created < UNATTRIBUTED_RETRY_SECS {
        tracing::warn!(event_id = %head.id, kind = %head.kind, "customer not linked yet; Stripe will retry");
        return Err(Error::Unavailable("the event's customer is not linked to an account yet".into()));
    }
    record_only(store, &record(head, now, EventOutcome::Unattributed)).await
}

/// Claims the event with its outcome and nothing else.
async fn record_only(store: &dyn ProcessorEvents, rec: &EventRecord) -> Result<Applied> {
    Ok(result(store.record_event(rec).await?, rec.outcome))
}

fn follow_up(f: FollowUp, invoice: &Invoice) -> WorkItem {
    let (account_id, invoice_id, event_id) =
        (invoice.account_id.clone(), invoice.id.clone(), invoice.stamp.event_id.clone());
    match f {
        FollowUp::BillReady => WorkItem::BillReady { account_id, invoice_id, event_id },
        FollowUp::PaymentReceived => {
            WorkItem::PaymentReceived { account_id, invoice_id, amount_paid: invoice.amount_paid, event_id }
        }
        FollowUp::PaymentFailed => {
            WorkItem::PaymentFailed { account_id, invoice_id, amount_due: invoice.amount_remaining, event_id }
        }
    }
}

/// Records a paid Checkout Session's payments of our contract bills, before the event is claimed
/// (a failure leaves it unclaimed: Stripe's retry records again, and the payment's reference
/// makes the repeat a no-op). A bill paid meanwhile (by check) keeps the money as account credit.
async fn record_contract_payments(
    ledger: &dyn ContractAdmin,
    account: &billing_domain::AccountId,
    settlement: &decide::Settlement,
    now: DateTime<Utc>,
) -> Result<()> {
    use billing_domain::receipts::{self, Incoming, Received, WhenClosed};
    for (bill, amount) in &settlement.contract_bills {
        let incoming = Incoming {
            account_id: account.clone(),
            invoice_id: bill.clone(),
            amount: *amount,
            reference: format!("card:{}", settlement.session_id),
            method: "card",
            received_on: settlement.paid_at.date_naive(),
            actor: billing_domain::Actor { user_id: "stripe".parse().expect("a valid user id"), email: None },
            recorded_by: "stripe-webhook".into(),
            when_closed: WhenClosed::ToCredit,
        };
        match receipts::receive(ledger, &incoming, now).await {
            Ok(Received::Done { recorded, invoice, credit }) => tracing::info!(
                account_id = %account, invoice_id = %bill, session = %settlement.session_id, ?recorded,
                status = ?invoice.status, credit = %credit, "contract bill paid by card"
            ),
            Ok(Received::Refused(_)) => unreachable!("card payments are never refused"),
            Err(Error::NotFound) => tracing::error!(
                account_id = %account, invoice_id = %bill, session = %settlement.session_id, amount = %amount,
                "a card payment names a contract bill that does not exist; the money is at Stripe, record it by hand"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
