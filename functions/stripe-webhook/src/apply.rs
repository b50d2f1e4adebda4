//! Applying a verified event exactly once, and never letting an older event overwrite newer state.

use billing_domain::billing::{EventOutcome, EventRecord, WorkItem};
use billing_domain::ports::{ProcessorEvents, Recorded};
use billing_domain::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decide::{self, Decision};
use crate::verify::{EventHead, Verified};

/// How often a subscription change is re-decided when a concurrent event changed it first.
const ATTEMPTS: usize = 5;

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

pub async fn apply(store: &dyn ProcessorEvents, verified: Verified, now: DateTime<Utc>) -> Result<Applied> {
    let event = match verified {
        Verified::Unparseable(head) => {
            tracing::error!(event_id = %head.id, kind = %head.kind, "signed event does not parse with the pinned Stripe types");
            let r = store.record_event(&record(&head, now, EventOutcome::Unparseable)).await?;
            return Ok(result(r, EventOutcome::Unparseable));
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
        Decision::Ignore(reason) => {
            tracing::info!(event_id = %head.id, kind = %head.kind, reason, "event ignored");
            let r = store.record_event(&record(&head, now, EventOutcome::Ignored)).await?;
            Ok(result(r, EventOutcome::Ignored))
        }
        Decision::LinkCustomer(link) => {
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(link.account_id.clone());
            match store.link_customer(&rec, &link).await {
                Ok(r) => Ok(result(r, EventOutcome::Applied)),
                Err(Error::Conflict) => {
                    tracing::error!(event_id = %head.id, customer = %link.customer_id, account_id = %link.account_id,
                        "customer is already linked to another account; not relinked");
                    let r = store.record_event(&record(&head, now, EventOutcome::Ignored)).await?;
                    Ok(result(r, EventOutcome::Ignored))
                }
                Err(e) => Err(e),
            }
        }
        Decision::Subscription(draft) => {
            let account = match draft.account_hint.clone() {
                Some(a) => Some(a),
                None => store.customer_account(&draft.subscription.customer_id).await?,
            };
            let Some(account) = account else {
                tracing::warn!(event_id = %head.id, customer = %draft.subscription.customer_id,
                    "subscription of a customer linked to no account");
                let r = store.record_event(&record(&head, now, EventOutcome::Unattributed)).await?;
                return Ok(result(r, EventOutcome::Unattributed));
            };
            let mut after = draft.subscription;
            after.account_id = account.clone();
            let mut rec = record(&head, now, EventOutcome::Applied);
            rec.account_id = Some(account.clone());
            for _ in 0..ATTEMPTS {
                let before = store.subscription(&account, &after.id).await?;
                if let Some(b) = &before
                    && !after.stamp.supersedes(&b.stamp)
                {
                    rec.outcome = EventOutcome::Stale;
                    let r = store.record_event(&rec).await?;
                    return Ok(result(r, EventOutcome::Stale));
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
    }
}
