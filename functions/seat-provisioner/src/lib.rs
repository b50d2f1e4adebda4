//! The seat provisioner: on every `seats_changed` work item (the webhook writes one whenever a
//! subscription's quantity or entitlement changes), makes the account's seats match what its
//! subscription pays for *now*, read from the table rather than from the record. The result
//! depends only on the latest subscription and the seats, so duplicates, replays and records out
//! of order converge; concurrent runs for one account are serialized by the seats' version.
//! When seats changed, a `seats_ready` work item (in the same transaction) has the mailer tell
//! the account's admins.

use billing_domain::retry::{CONFLICT_ATTEMPTS, Retry};
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use billing_domain::billing::{SeatCount, WorkItem};
use billing_domain::ports::{MAX_SEAT_CHANGES, ProcessorEvents, SeatStore};
use billing_domain::seats::{self, SeatStatus};
use billing_domain::{AccountId, Error};
use chrono::Utc;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error("subscription {0} of {1} is not in the table")]
    MissingSubscription(String, AccountId),
    #[error("seats of {0} kept changing under {1} attempts; retry")]
    Contended(AccountId, u32),
}

pub trait ProvisionerStore: ProcessorEvents + SeatStore {}
impl<T: ProcessorEvents + SeatStore> ProvisionerStore for T {}

/// What one reconciliation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reconciled {
    pub changes: usize,
    pub active: usize,
    pub pending_removal: usize,
}

#[derive(Clone)]
pub struct Provisioner {
    store: Arc<dyn ProvisionerStore>,
}

impl Provisioner {
    pub fn new(store: impl ProvisionerStore + 'static) -> Self {
        Self { store: Arc::new(store) }
    }

    /// A stream batch: records in order; the first failure is reported for retry.
    pub async fn handle(&self, event: StreamEvent) -> DynamoDbEventResponse {
        billing_aws::stream::process(&event, |work| async move {
            if let WorkItem::SeatsChanged { account_id, subscription_id, event_id, .. } = work {
                let r = self.reconcile(&account_id, &subscription_id, &event_id).await?;
                tracing::info!(account_id = %account_id, changes = r.changes, active = r.active, pending_removal = r.pending_removal, "seats reconciled");
            }
            Ok::<_, ProvisionError>(())
        })
        .await
    }

    /// Makes `account`'s seats match its subscription as stored now; `cause` names the event
    /// (the `seats_ready` work item's id).
    pub async fn reconcile(
        &self,
        account: &AccountId,
        subscription_id: &str,
        cause: &str,
    ) -> Result<Reconciled, ProvisionError> {
        let mut total = 0;
        let mut retry = Retry::on_conflict();
        while retry.attempt().await {
            // The paid quantity and the seats are read at once: neither read needs the other, and
            // the seats' version guards the write whatever moved in between.
            let (sub, book) =
                tokio::try_join!(self.store.subscription(account, subscription_id), self.store.seat_book(account))?;
            let sub =
                sub.ok_or_else(|| ProvisionError::MissingSubscription(subscription_id.to_owned(), account.clone()))?;
            let entitled = sub.status.entitles();
            let changes = seats::reconcile(account, &book.seats, sub.seats, entitled, Utc::now());
            if changes.is_empty() {
                let pending = book.count(SeatStatus::PendingRemoval);
                return Ok(Reconciled { changes: total, active: book.active(), pending_removal: pending });
            }
            let last = changes.len() <= MAX_SEAT_CHANGES;
            let batch = &changes[..changes.len().min(MAX_SEAT_CHANGES)];
            let work = last.then(|| {
                let after = seats::apply(&book.seats, batch);
                let active = after.iter().filter(|s| s.is_active()).count();
                let pending = after.iter().filter(|s| s.status == SeatStatus::PendingRemoval).count();
                WorkItem::SeatsReady {
                    account_id: account.clone(),
                    seats: SeatCount::try_from(active as i64).unwrap_or(sub.seats),
                    pending_removal: pending as u32,
                    entitled,
                    event_id: cause.to_owned(),
                }
            });
            match self.store.change_seats(account, book.version, batch, work.as_ref(), None).await {
                Ok(()) => total += batch.len(),
                // Another reconciliation (or an admin's assignment) moved the seats: re-read.
                Err(Error::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ProvisionError::Contended(account.clone(), CONFLICT_ATTEMPTS))
    }
}
