//! The processor-event ledger and the projections it guards. Every write puts the event's ledger
//! entry with `attribute_not_exists`, in the same transaction as its change: a redelivered event
//! fails that condition and changes nothing.

use async_trait::async_trait;
use billing_domain::billing::{CustomerLink, EventRecord, Subscription, WorkItem};
use billing_domain::ports::{ProcessorEvents, Recorded};
use billing_domain::{AccountId, Error, Result};

use super::keys::*;
use super::{DynamoStore, keyed, n, s};

/// Stripe retries for 3 days and keeps events 30; the ledger outlives both.
const LEDGER_TTL_SECS: i64 = 35 * 24 * 60 * 60;
/// Stream consumers act within seconds; the item only has to outlive their retries.
const WORK_TTL_SECS: i64 = 7 * 24 * 60 * 60;

impl DynamoStore {
    fn ledger_put(&self, record: &EventRecord) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
        let mut item = keyed(record, stripe_event_pk(&record.event_id), EVENT_SK.into(), "stripe_event")?;
        item.insert(EXPIRES_AT.into(), n(record.received_at.timestamp() + LEDGER_TTL_SECS));
        self.put(item, Some("attribute_not_exists(pk)"))
    }

    fn work_put(
        &self,
        work: &WorkItem,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem> {
        let (account, event_id, kind) = match work {
            WorkItem::SeatsChanged { account_id, event_id, .. } => (account_id, event_id, "seats_changed"),
        };
        let mut item = keyed(work, account_pk(account), work_sk(event_id, kind), "work_item")?;
        item.insert(EXPIRES_AT.into(), n(now.timestamp() + WORK_TTL_SECS));
        self.put(item, Some("attribute_not_exists(pk)"))
    }
}

#[async_trait]
impl ProcessorEvents for DynamoStore {
    async fn event_record(&self, event_id: &str) -> Result<Option<EventRecord>> {
        self.get_as(stripe_event_pk(event_id), EVENT_SK.into()).await
    }

    async fn customer_account(&self, customer_id: &str) -> Result<Option<AccountId>> {
        let link: Option<CustomerLink> = self.get_as(stripe_customer_pk(customer_id), LINK_SK.into()).await?;
        Ok(link.map(|l| l.account_id))
    }

    async fn subscription(&self, account: &AccountId, id: &str) -> Result<Option<Subscription>> {
        self.get_as(account_pk(account), subscription_sk(id)).await
    }

    async fn record_event(&self, record: &EventRecord) -> Result<Recorded> {
        match self.transact(vec![self.ledger_put(record)?]).await? {
            Ok(()) => Ok(Recorded::Now),
            Err(c) if c.failed_condition(0) => Ok(Recorded::AlreadyRecorded),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn link_customer(&self, record: &EventRecord, link: &CustomerLink) -> Result<Recorded> {
        let item = keyed(link, stripe_customer_pk(&link.customer_id), LINK_SK.into(), "customer_link")?;
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR account_id = :account")
            .expression_attribute_values(":account", s(link.account_id.as_str()));
        let link_put = aws_sdk_dynamodb::types::TransactWriteItem::builder().put(super::built(put.build())?).build();
        match self.transact(vec![self.ledger_put(record)?, link_put]).await? {
            Ok(()) => Ok(Recorded::Now),
            Err(c) if c.failed_condition(0) => Ok(Recorded::AlreadyRecorded),
            Err(c) if c.failed_condition(1) => Err(Error::Conflict),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn save_subscription(
        &self,
        record: &EventRecord,
        before: Option<&Subscription>,
        after: &Subscription,
        work: Option<&WorkItem>,
    ) -> Result<Recorded> {
        let item = keyed(after, account_pk(&after.account_id), subscription_sk(&after.id), "subscription")?;
        let mut put = aws_sdk_dynamodb::types::Put::builder().table_name(&self.table).set_item(Some(item));
        put = match before {
            None => put.condition_expression("attribute_not_exists(pk)"),
            // Still the state this decision was made on: no newer event was applied meanwhile.
            Some(b) => put
                .condition_expression("#stamp.#event = :previous")
                .expression_attribute_names("#stamp", "stamp")
                .expression_attribute_names("#event", "event_id")
                .expression_attribute_values(":previous", s(b.stamp.event_id.as_str())),
        };
        let mut items = vec![
            self.ledger_put(record)?,
            aws_sdk_dynamodb::types::TransactWriteItem::builder().put(super::built(put.build())?).build(),
        ];
        if let Some(w) = work {
            items.push(self.work_put(w, record.received_at)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Recorded::Now),
            Err(c) if c.failed_condition(0) => Ok(Recorded::AlreadyRecorded),
            Err(c) if c.failed_condition(1) => Err(Error::Conflict),
            Err(c) => Err(c.otherwise()),
        }
    }
}
