//! Applying a verified event exactly once, and never letting an older event overwrite newer state.

use std::future::Future;
use std::pin::Pin;

use billing_domain::billing::{
    EventOutcome, EventRecord, ParkedEvent, Product, Projection, Stamp, Subscription, WorkItem,
};
use billing_domain::invoice::Invoice;
use billing_domain::ports::ContractAdmin;
use billing_domain::ports::{ProcessorEvents, Recorded};
use billing_domain::retry::Retry;
use billing_domain::{AccountId, Actor, AuditAction, AuditEntry, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decide::{self, Decision, FollowUp, Prior, ProjectionDraft};
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

/// Applies `verified`, whose JSON as delivered is `payload`. `stripe` re-reads an object whose
/// event cannot be ordered from its payload (two events of the same second); without it such an
/// event is recorded as stale.
///
/// An event whose customer no account is linked to yet is parked (kept with `payload`) and
/// applied when the link comes: the link's own delivery replays its customer's parked events
/// ([`replay_parked`]), and the recovery job replays any it left ([`sweep_parked`]).
pub async fn apply(
    store: &dyn ProcessorEvents,
    stripe: Option<&dyn StripeObjects>,
    ledger: Option<&dyn ContractAdmin>,
    verified: Verified,
    payload: &str,
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
    let decision = decide::decide(&event);
    // Every write below claims the event in its own transaction, which is what makes a
    // redelivery change nothing; the ledger is read first only where applying calls Stripe
    // before that write (settling a checkout's invoices, reading a disputed charge), so a
    // redelivery does not call it again. A parked event is tried again: its customer may be
    // linked by now.
    if matches!(decision, Decision::LinkCustomer(..) | Decision::Dispute(_))
        && store.event_record(&head.id).await?.is_some_and(|r| r.outcome != EventOutcome::Parked)
    {
        return Ok(Applied::Duplicate);
    }
    let parking = Parking { payload, now };
    match decision {
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
                Ok(r) => {
                    // The link's own delivery replays what waited for it; what it cannot replay
                    // now stays parked for the recovery job's sweep.
                    match replay_parked(store, stripe, ledger, &link.customer_id, now).await {
                        Ok(done) if done != Replayed::default() => {
                            tracing::info!(customer = %link.customer_id, ?done, "parked events replayed on link");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, customer = %link.customer_id,
                            "parked events not replayed yet; the recovery job will"),
                    }
                    Ok(result(r, EventOutcome::Applied))
                }
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
                return parking.park(store, &head, &after.customer_id).await;
            };
            after.account_id = account.clone();
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(account.clone());
            // Delivered in order, the event's prior is the stored state: one write conditioned
            // on it claims the event and applies it. Anything else stored (an event missed,
            // delayed, redelivered, or of the same second) fails the condition, and the stored
            // state is read and decided on below.
            let prior = match draft.prior {
                Prior::Absent => Some(None),
                Prior::Was(p) => Some(Some(p)),
                Prior::Unknown => None,
            };
            if let Some(prior) = prior {
                let before = prior.map(|p| p.before(&after));
                let work = WorkItem::for_subscription(before.as_ref(), &after);
                match store.save_subscription_over(&rec, prior.as_ref(), &after, work.as_ref()).await {
                    Ok(r) => return Ok(result(r, EventOutcome::Applied)),
                    Err(Error::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
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
        Decision::Project(draft) => project(store, *draft, &head, &parking).await,
        Decision::Product(after) => product(store, *after, &head, now).await,
        Decision::Dispute(draft) => {
            // The dispute names only its charge: the charge (customer, amounts) comes from Stripe.
            let Some(api) = stripe else {
                tracing::error!(event_id = %head.id, "dispute without a Stripe client to read its charge");
                return Err(Error::Unavailable("no Stripe client to read the disputed charge with".into()));
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
            project(store, payment, &head, &parking).await
        }
        Decision::Invoice(draft) => {
            let mut after = draft.invoice;
            let Some(account) = resolve(store, draft.account_hint, &after.customer_id, &head).await? else {
                return parking.park(store, &head, &after.customer_id).await;
            };
            after.account_id = account.clone();
            if !after.lines_complete
                && let Some(api) = stripe
            {
                complete_lines(api, &mut after).await?;
            }
            // The lines' product names and the stored invoice are read together.
            let id = after.id.clone();
            let describe = async {
                name_products(store, stripe, &mut after).await?;
                name_tax_rates(stripe, &mut after).await
            };
            let (_, stored) = tokio::try_join!(describe, store.invoice(&account, &id))?;
            let mut stored = Some(stored);
            // The follow-up belongs to the event (one per finalize, payment, failure), so a stale
            // event still leaves it; the consumer reads the invoice's current state.
            let work = draft.follow_up.map(|f| follow_up(f, &after));
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(account.clone());
            let mut retry = Retry::on_conflict();
            while retry.attempt().await {
                let before = match stored.take() {
                    Some(first) => first,
                    None => store.invoice(&account, &after.id).await?,
                };
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
    parking: &Parking<'_>,
) -> Result<Applied> {
    let now = parking.now;
    let Some(account) = resolve(store, draft.account_hint, &draft.customer_id, head).await? else {
        return parking.park(store, head, &draft.customer_id).await;
    };
    let proposed = draft.projection.for_account(account.clone());
    let mut rec = record(head, now, EventOutcome::Applied);
    rec.account_id = Some(account.clone());
    // A payment method's state does not depend on what was stored, and is not audited: one write
    // claims the event and replaces an older one. Anything else stored (a newer or same-second
    // event) fails its condition and is read and decided on below. A payment is read first: it
    // keeps a dispute the event does not carry, and its audit entry names what it was.
    if draft.audit.is_none() && !matches!(proposed, Projection::Payment(_)) {
        match store.save_projection_over(&rec, &proposed).await {
            Ok(r) => return Ok(result(r, EventOutcome::Applied)),
            Err(Error::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
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

/// Keeps a product's new state (its name for bills) unless a newer one is stored: a later event,
/// or the product as read from Stripe after this event was sent.
async fn product(store: &dyn ProcessorEvents, after: Product, head: &EventHead, now: DateTime<Utc>) -> Result<Applied> {
    let rec = record(head, now, EventOutcome::Applied);
    let mut retry = Retry::on_conflict();
    while retry.attempt().await {
        let before = store.products(&[after.id.as_str()]).await?.pop();
        if let Some(b) = &before
            && !after.stamp.supersedes(&b.stamp)
        {
            return record_only(store, &record(head, now, EventOutcome::Stale)).await;
        }
        match store.save_product(Some(&rec), before.as_ref().map(|b| &b.stamp), &after).await {
            Ok(r) => return Ok(result(r, EventOutcome::Applied)),
            Err(Error::Conflict) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict)
}

/// Groups an invoice's lines under their products' names: from the store (kept from `product.*`
/// events), else read from Stripe and kept for the next bill (a product made before this system
/// saw its events, or whose event is still on its way). A product neither knows stays grouped
/// under its id, and a Stripe outage fails the delivery, so Stripe's retry names it.
async fn name_products(
    store: &dyn ProcessorEvents,
    stripe: Option<&dyn StripeObjects>,
    invoice: &mut Invoice,
) -> Result<()> {
    let ids: Vec<&str> = invoice.lines.iter().filter_map(|l| l.product.as_deref()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut names: std::collections::HashMap<String, String> =
        store.products(&ids).await?.into_iter().map(|p| (p.id, p.name)).collect();
    let mut unknown: Vec<String> =
        ids.iter().filter(|id| !names.contains_key(**id)).map(|id| (*id).to_owned()).collect();
    unknown.sort_unstable();
    unknown.dedup();
    for id in unknown {
        let Some(api) = stripe else {
            tracing::warn!(product = %id, invoice = %invoice.id, "product name unknown and no Stripe client to read it");
            continue;
        };
        let read = match api.product(&id).await {
            Ok(p) => p,
            Err(Error::NotFound) => {
                tracing::warn!(product = %id, invoice = %invoice.id, "product unknown to Stripe; lines keep its id");
                continue;
            }
            Err(e) => return Err(e),
        };
        // Stamped with its own last change: an event about that change or an older one is stale.
        let stamp = Stamp { at: billing_stripe::time(read.updated), event_id: format!("{id}@{}", read.updated) };
        let kept = decide::product_at(stamp, &read, read.active);
        match store.save_product(None, None, &kept).await {
            // Stored meanwhile by its event: that state wins; this bill uses the name it read.
            Ok(_) | Err(Error::Conflict) => {}
            Err(e) => return Err(e),
        }
        names.insert(id, kept.name);
    }
    for line in &mut invoice.lines {
        if let Some(name) = line.product.as_ref().and_then(|p| names.get(p)) {
            line.group.clone_from(name);
        }
    }
    Ok(())
}

/// Names the tax Stripe Tax put on an invoice (its event gives each rate's id only): each rate's
/// display name, jurisdiction, percentage and whether it is included in the price, read from
/// Stripe, on the invoice's groups and on its lines. A Stripe outage fails the delivery, so
/// Stripe's retry names it; a rate Stripe no longer has is named "Tax".
async fn name_tax_rates(stripe: Option<&dyn StripeObjects>, invoice: &mut Invoice) -> Result<()> {
    use billing_domain::tax::Percent;
    let mut ids: Vec<String> = invoice
        .tax_detail
        .groups
        .iter()
        .map(|g| &g.code)
        .chain(invoice.lines.iter().flat_map(|l| l.taxes.iter().map(|t| &t.code)))
        .filter_map(|c| c.processor_rate().map(str::to_owned))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut named: std::collections::HashMap<String, (String, String, Percent, bool)> = Default::default();
    for id in ids {
        let Some(api) = stripe else {
            tracing::warn!(tax_rate = %id, invoice = %invoice.id, "tax rate unknown and no Stripe client to read it");
            continue;
        };
        let described = match api.tax_rate(&id).await {
            Ok(rate) => {
                // Stripe gives the percentage as a float: at the boundary it becomes a decimal of
                // at most 4 places (6.25, 19, 8.875).
                let percent = format!("{:.4}", rate.percentage).parse::<Percent>().unwrap_or(Percent::ZERO);
                let name = match rate.jurisdiction.as_deref().filter(|j| !j.is_empty()) {
                    Some(j) => format!("{} ({j})", rate.display_name),
                    None => rate.display_name.clone(),
                };
                (name, rate.jurisdiction.clone().unwrap_or_default(), percent, rate.inclusive)
            }
            Err(Error::NotFound) => {
                tracing::warn!(tax_rate = %id, invoice = %invoice.id, "tax rate unknown to Stripe");
                ("Tax".to_owned(), String::new(), Percent::ZERO, false)
            }
            Err(e) => return Err(e),
        };
        named.insert(id, described);
    }
    for g in &mut invoice.tax_detail.groups {
        if let Some((name, jurisdiction, rate, inclusive)) = g.code.processor_rate().and_then(|id| named.get(id)) {
            (g.name, g.jurisdiction, g.rate, g.inclusive) = (name.clone(), jurisdiction.clone(), *rate, *inclusive);
        }
    }
    for t in invoice.lines.iter_mut().flat_map(|l| l.taxes.iter_mut()) {
        if let Some((name, jurisdiction, rate, inclusive)) = t.code.processor_rate().and_then(|id| named.get(id)) {
            (t.name, t.jurisdiction, t.rate, t.inclusive) = (name.clone(), jurisdiction.clone(), *rate, *inclusive);
        }
    }
    Ok(())
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

/// What parking an event needs: the event as delivered, and the time.
struct Parking<'a> {
    payload: &'a str,
    now: DateTime<Utc>,
}

impl Parking<'_> {
    /// Parks an event about `customer`, which no account is linked to yet: answered 200, kept
    /// with its payload, nothing else changed. A parked event delivered again stays parked.
    async fn park(&self, store: &dyn ProcessorEvents, head: &EventHead, customer: &str) -> Result<Applied> {
        let parked = ParkedEvent {
            event_id: head.id.clone(),
            kind: head.kind.clone(),
            created: head.created,
            customer_id: customer.to_owned(),
            payload: self.payload.to_owned(),
            parked_at: self.now,
        };
        let r = store.park(&record(head, self.now, EventOutcome::Parked), &parked).await?;
        if r == Recorded::Now {
            tracing::info!(event_id = %head.id, kind = %head.kind, customer, "event parked until its customer is linked");
        }
        Ok(result(r, EventOutcome::Parked))
    }
}

/// What replaying parked events did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    /// Applied now (any outcome but parked).
    pub applied: usize,
    /// Recorded before (a redelivery or an earlier replay got there first).
    pub duplicates: usize,
    /// Still parked: their customer is still linked to no account.
    pub still_parked: usize,
}

/// Applies the events parked for `customer` in Stripe's order, through the same path as a
/// delivery, and forgets each once recorded. Exactly once: a replayed event's claim takes over
/// its parked claim in the same transaction as its change, so a concurrent delivery or replay of
/// the same event is a duplicate. Stops at the first failure (the rest stay parked, in order).
pub fn replay_parked<'a>(
    store: &'a dyn ProcessorEvents,
    stripe: Option<&'a dyn StripeObjects>,
    ledger: Option<&'a dyn ContractAdmin>,
    customer: &'a str,
    now: DateTime<Utc>,
) -> Pin<Box<dyn Future<Output = Result<Replayed>> + Send + 'a>> {
    // Boxed: applying a parked event is itself a path of `apply`.
    Box::pin(async move {
        let mut done = Replayed::default();
        for parked in store.parked_for(customer).await? {
            let verified = crate::verify::reverify(&parked.payload, now)
                .map_err(|r| Error::Corrupt(format!("parked event {} no longer verifies: {r}", parked.event_id)))?;
            match apply(store, stripe, ledger, verified, &parked.payload, now).await? {
                Applied::Recorded(EventOutcome::Parked) => {
                    done.still_parked += 1;
                    continue;
                }
                Applied::Duplicate if still_parked(store, &parked.event_id).await? => {
                    done.still_parked += 1;
                    continue;
                }
                Applied::Duplicate => done.duplicates += 1,
                Applied::Recorded(_) => done.applied += 1,
            }
            store.unpark(&parked).await?;
            tracing::info!(event_id = %parked.event_id, kind = %parked.kind, customer, "parked event replayed");
        }
        Ok(done)
    })
}

async fn still_parked(store: &dyn ProcessorEvents, event_id: &str) -> Result<bool> {
    Ok(store.event_record(event_id).await?.is_some_and(|r| r.outcome == EventOutcome::Parked))
}

/// Parked events read per page by the sweep (it reads them all, a page at a time).
pub const SWEEP_PAGE: u16 = 500;

/// What a sweep of parked events found.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub replayed: Replayed,
    /// Parked events still waiting, and how many of them are older than the alert age.
    pub waiting: usize,
    pub waiting_too_long: usize,
}

/// The recovery job's pass over every parked event: replays those whose customer is linked now (a
/// link whose own replay failed, or a link made another way), and counts the ones still waiting,
/// logging `parked events waiting too long` (a metric and an alarm) for those created more than
/// `alert_after` ago.
pub async fn sweep_parked(
    store: &dyn ProcessorEvents,
    stripe: Option<&dyn StripeObjects>,
    ledger: Option<&dyn ContractAdmin>,
    alert_after: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Swept> {
    let mut swept = Swept::default();
    // Every parked event: the customers that have some, in order of their oldest, and how many
    // wait.
    let (mut customers, mut seen) = (Vec::new(), std::collections::HashSet::new());
    each_parked_page(store, now, |page| {
        for p in page {
            if seen.insert(p.customer_id.clone()) {
                customers.push(p.customer_id.clone());
            }
        }
        swept.waiting += page.len();
    })
    .await?;
    for customer in &customers {
        if store.customer_account(customer).await?.is_some() {
            let r = replay_parked(store, stripe, ledger, customer, now).await?;
            swept.replayed.applied += r.applied;
            swept.replayed.duplicates += r.duplicates;
            swept.waiting = swept.waiting.saturating_sub(r.applied + r.duplicates);
        }
    }
    // What still waits, and how much of it too long (oldest first).
    let mut oldest: Option<String> = None;
    each_parked_page(store, now - alert_after, |page| {
        swept.waiting_too_long += page.len();
        oldest.get_or_insert_with(|| page[0].event_id.clone());
    })
    .await?;
    if swept.waiting_too_long > 0 {
        let oldest = oldest.unwrap_or_default();
        tracing::warn!(count = swept.waiting_too_long, oldest, "parked events waiting too long");
    }
    Ok(swept)
}

/// Hands every parked event created at or before `before` to `each`, a page of [`SWEEP_PAGE`]
/// at a time (never an empty one), oldest first.
async fn each_parked_page(
    store: &dyn ProcessorEvents,
    before: DateTime<Utc>,
    mut each: impl FnMut(&[ParkedEvent]),
) -> Result<()> {
    let mut page = store.parked_events(before, SWEEP_PAGE, None).await?;
    while !page.is_empty() {
        each(&page);
        if page.len() < usize::from(SWEEP_PAGE) {
            break;
        }
        page = store.parked_events(before, SWEEP_PAGE, page.last()).await?;
    }
    Ok(())
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
            check_number: None,
            received_on: settlement.paid_at.date_naive(),
            actor: billing_domain::Actor { user_id: "stripe".parse().expect("a valid user id"), email: None },
            recorded_by: "stripe-webhook".into(),
            when_closed: WhenClosed::ToCredit,
            reason: None,
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
