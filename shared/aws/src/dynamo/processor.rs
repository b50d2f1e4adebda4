//! The processor-event ledger and the projections it guards. Every write puts the event's ledger
//! entry with `attribute_not_exists`, in the same transaction as its change: a redelivered event
//! fails that condition and changes nothing.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use billing_domain::billing::{
    CustomerLink, Discard, EventOutcome, EventRecord, ParkedEvent, Product, Projection, ProjectionKey, Stamp,
    Subscription, SubscriptionPrior, WorkItem,
};
use billing_domain::invoice::Invoice;
use billing_domain::ports::{ParkedEventsAdmin, ParkedReader, ProcessorEvents, Recorded};
use billing_domain::{AccountId, AuditEntry, Error, Result};

use chrono::{DateTime, Utc};

use super::accounts::BALANCE_DUE_MINOR;
use super::keys::*;
use super::{DynamoStore, built, keyed, n, s};

/// `EventOutcome::Parked` as stored.
const PARKED_OUTCOME: &str = "parked";
/// Stripe retries for 3 days and keeps events 30; the ledger outlives both.
const LEDGER_TTL_SECS: i64 = 35 * 24 * 60 * 60;
/// Stream consumers act within seconds; the item only has to outlive their retries.
const WORK_TTL_SECS: i64 = 7 * 24 * 60 * 60;

impl DynamoStore {
    /// Commits a ledgered write: the event's ledger entry at index 0, the changes it guards
    /// after it. A claimed ledger entry is a redelivery; any failed guard is a conflict.
    async fn transact_ledgered(&self, items: Vec<TransactWriteItem>) -> Result<Recorded> {
        let guarded = 1..items.len();
        match self.transact(items).await? {
            Ok(()) => Ok(Recorded::Now),
            Err(c) if c.failed_condition(0) => Ok(Recorded::AlreadyRecorded),
            Err(c) if guarded.clone().any(|i| c.failed_condition(i)) => Err(Error::Conflict),
            Err(c) => Err(c.otherwise()),
        }
    }

    /// The event's claim: absent from the ledger, or parked (the one claim a replay takes over).
    fn ledger_put(&self, record: &EventRecord) -> Result<TransactWriteItem> {
        self.ledger_over_parked(self.ledger_item(record)?, "attribute_not_exists(pk) OR outcome = :parked")
    }

    /// Writes a ledger `item` on `condition`, which may name the parked outcome as `:parked`.
    fn ledger_over_parked(&self, item: super::Item, condition: &str) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_values(":parked", s(PARKED_OUTCOME));
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    fn ledger_item(&self, record: &EventRecord) -> Result<super::Item> {
        let mut item = keyed(record, stripe_event_pk(&record.event_id), EVENT_SK.into(), "stripe_event")?;
        item.insert(EXPIRES_AT.into(), n(record.received_at.timestamp() + LEDGER_TTL_SECS));
        Ok(item)
    }

    /// Claims the event and writes a subscription (`put`, with its condition) and its follow-up,
    /// in one transaction.
    async fn subscription_write(
        &self,
        record: &EventRecord,
        put: TransactWriteItem,
        work: Option<&WorkItem>,
    ) -> Result<Recorded> {
        let mut items = vec![self.ledger_put(record)?, put];
        if let Some(w) = work {
            items.push(self.work_put(w, record.received_at)?);
        }
        self.transact_ledgered(items).await
    }

    /// Puts a projected object (stamped by the event that wrote it) if the stored one is still
    /// the state the decision was made on: absent (`None`), or stamped `previous`. A newer event
    /// applied meanwhile fails the condition.
    pub(super) fn projection_put(&self, item: super::Item, previous: Option<&Stamp>) -> Result<TransactWriteItem> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match previous {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(stamp) => put
                .condition_expression("#stamp.#event = :previous")
                .expression_attribute_names("#stamp", "stamp")
                .expression_attribute_names("#event", "event_id")
                .expression_attribute_values(":previous", s(stamp.event_id.as_str())),
        };
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// Moves the account's balance due by `delta` minor units, in the account's own currency only
    /// (balances are never mixed across currencies; the account must exist).
    pub(super) fn balance_add(
        &self,
        account: &AccountId,
        currency: billing_domain::Currency,
        delta: i64,
    ) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(account)))
            .key(SK, s(ACCOUNT_SK))
            .update_expression("ADD #balance :delta")
            .condition_expression("attribute_exists(pk) AND #currency = :currency")
            .expression_attribute_names("#balance", BALANCE_DUE_MINOR)
            .expression_attribute_names("#currency", "currency")
            .expression_attribute_values(":delta", n(delta))
            .expression_attribute_values(":currency", s(currency.code()));
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    pub(super) fn work_put(&self, work: &WorkItem, now: chrono::DateTime<chrono::Utc>) -> Result<TransactWriteItem> {
        let mut item = keyed(work, account_pk(work.account_id()), work_sk(work.event_id(), work.kind()), "work_item")?;
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
        self.transact_ledgered(vec![self.ledger_put(record)?]).await
    }

    async fn park(&self, record: &EventRecord, parked: &ParkedEvent) -> Result<Recorded> {
        // Only a first delivery parks: a parked event delivered again stays as it is.
        let claim = self.put(self.ledger_item(record)?, Some("attribute_not_exists(pk)"))?;
        let mut item = keyed(
            parked,
            stripe_customer_pk(&parked.customer_id),
            parked_sk(parked.created, &parked.event_id),
            "parked_event",
        )?;
        item.insert(GSI1_PK.into(), s(PARKED_GSI1PK));
        item.insert(GSI1_SK.into(), s(parked_order(parked.created, &parked.event_id)));
        self.transact_ledgered(vec![claim, self.put(item, None)?]).await
    }

    async fn parked_for(&self, customer_id: &str) -> Result<Vec<ParkedEvent>> {
        self.query_prefix(stripe_customer_pk(customer_id), PARKED_PREFIX).await
    }

    async fn unpark(&self, parked: &ParkedEvent) -> Result<()> {
        let delete =
            self.delete(stripe_customer_pk(&parked.customer_id), parked_sk(parked.created, &parked.event_id))?;
        match self.transact(vec![delete]).await? {
            Ok(()) => Ok(()),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn link_customer(&self, record: &EventRecord, link: &CustomerLink) -> Result<Recorded> {
        let item = keyed(link, stripe_customer_pk(&link.customer_id), LINK_SK.into(), "customer_link")?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR account_id = :account")
            .expression_attribute_values(":account", s(link.account_id.as_str()));
        let link_put = TransactWriteItem::builder().put(built(put.build())?).build();
        // The account's side, so the portal finds its customer in one read.
        let account_side = keyed(link, account_pk(&link.account_id), CUSTOMER_SK.into(), "account_customer")?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(account_side))
            .condition_expression("attribute_not_exists(pk) OR customer_id = :customer")
            .expression_attribute_values(":customer", s(link.customer_id.as_str()));
        let account_put = TransactWriteItem::builder().put(built(put.build())?).build();
        self.transact_ledgered(vec![self.ledger_put(record)?, link_put, account_put]).await
    }

    async fn save_subscription(
        &self,
        record: &EventRecord,
        before: Option<&Subscription>,
        after: &Subscription,
        work: Option<&WorkItem>,
    ) -> Result<Recorded> {
        let put = self.projection_put(subscription_item(after)?, before.map(|b| &b.stamp))?;
        self.subscription_write(record, put, work).await
    }

    async fn save_subscription_over(
        &self,
        record: &EventRecord,
        prior: Option<&SubscriptionPrior>,
        after: &Subscription,
        work: Option<&WorkItem>,
    ) -> Result<Recorded> {
        let item = subscription_item(after)?;
        let put = match prior {
            None => self.projection_put(item, None)?,
            Some(p) => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("#stamp_at < :at AND #seats = :seats AND #status = :status")
                    .expression_attribute_names("#stamp_at", STAMP_AT)
                    .expression_attribute_names("#seats", "seats")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":at", n(after.stamp.at.timestamp()))
                    .expression_attribute_values(":seats", super::to_attribute(&p.seats)?)
                    .expression_attribute_values(":status", super::to_attribute(&p.status)?);
                TransactWriteItem::builder().put(built(put.build())?).build()
            }
        };
        self.subscription_write(record, put, work).await
    }

    async fn invoice(&self, account: &AccountId, id: &str) -> Result<Option<Invoice>> {
        self.get_as(account_pk(account), invoice_sk(id)).await
    }

    async fn save_invoice(
        &self,
        record: &EventRecord,
        before: Option<&Invoice>,
        after: Option<&Invoice>,
        work: Option<&WorkItem>,
    ) -> Result<Recorded> {
        let mut items = vec![self.ledger_put(record)?];
        let (mut invoice_index, mut balance_index) = (None, None);
        if let Some(after) = after {
            let mut item = keyed(after, account_pk(&after.account_id), invoice_sk(&after.id), "invoice")?;
            item.insert(GSI1_PK.into(), s(invoices_gsi1pk(&after.account_id)));
            item.insert(GSI1_SK.into(), s(invoice_gsi1sk(after.created, &after.id)));
            super::index_receivable(&mut item, after);
            super::index_number(&mut item, after);
            invoice_index = Some(items.len());
            items.push(self.projection_put(item, before.map(|b| &b.stamp))?);

            let outstanding_before = before.map(|b| b.outstanding().to_minor()).transpose();
            let delta = after.outstanding().to_minor().and_then(|a| outstanding_before.map(|b| a - b.unwrap_or(0)));
            let delta = delta.map_err(|e| Error::Corrupt(format!("invoice amount: {e}")))?;
            if delta != 0 {
                balance_index = Some(items.len());
                items.push(self.balance_add(&after.account_id, after.currency, delta)?);
            }
        }
        if let Some(w) = work {
            items.push(self.work_put(w, record.received_at)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Recorded::Now),
            Err(c) if c.failed_condition(0) => Ok(Recorded::AlreadyRecorded),
            Err(c) if invoice_index.is_some_and(|i| c.failed_condition(i)) => Err(Error::Conflict),
            Err(c) if balance_index.is_some_and(|i| c.failed_condition(i)) => Err(Error::invalid(
                "currency",
                "the invoice's currency is not the account's, or the account does not exist",
            )),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn products(&self, ids: &[&str]) -> Result<Vec<Product>> {
        let mut unique: Vec<&str> = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut found = Vec::with_capacity(unique.len());
        // BatchGetItem takes at most 100 keys.
        for chunk in unique.chunks(100) {
            let keys = chunk.iter().map(|id| (stripe_product_pk(id), PRODUCT_SK.to_owned())).collect();
            for item in self.batch_get(keys).await? {
                found.push(super::from_item(item)?);
            }
        }
        Ok(found)
    }

    async fn save_product(
        &self,
        record: Option<&EventRecord>,
        previous: Option<&Stamp>,
        after: &Product,
    ) -> Result<Recorded> {
        let item = keyed(after, stripe_product_pk(&after.id), PRODUCT_SK.into(), "product")?;
        let put = self.projection_put(item, previous)?;
        match record {
            Some(r) => self.transact_ledgered(vec![self.ledger_put(r)?, put]).await,
            None => match self.transact(vec![put]).await? {
                Ok(()) => Ok(Recorded::Now),
                Err(c) if c.failed_condition(0) => Err(Error::Conflict),
                Err(c) => Err(c.otherwise()),
            },
        }
    }

    async fn projection(&self, key: &ProjectionKey) -> Result<Option<Projection>> {
        let (pk, sk) = projection_keys(key);
        self.get_as(pk, sk).await
    }

    async fn save_projection(
        &self,
        record: &EventRecord,
        previous: Option<&Stamp>,
        after: &Projection,
        audit: Option<&AuditEntry>,
    ) -> Result<Recorded> {
        let mut items = vec![self.ledger_put(record)?, self.projection_put(projection_item(after)?, previous)?];
        if let Some(a) = audit {
            items.push(self.audit_put(a)?);
        }
        self.transact_ledgered(items).await
    }

    async fn save_projection_over(&self, record: &EventRecord, after: &Projection) -> Result<Recorded> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(projection_item(after)?))
            .condition_expression("attribute_not_exists(pk) OR #stamp_at < :at")
            .expression_attribute_names("#stamp_at", STAMP_AT)
            .expression_attribute_values(":at", n(after.stamp().at.timestamp()));
        let put = TransactWriteItem::builder().put(built(put.build())?).build();
        self.transact_ledgered(vec![self.ledger_put(record)?, put]).await
    }
}

/// A projection's item, with its stamp's time as a number (`stamp_at`), as a subscription's.
fn projection_item(after: &Projection) -> Result<super::Item> {
    let (pk, sk) = projection_keys(&after.key());
    let mut item = keyed(after, pk, sk, "projection")?;
    item.insert(STAMP_AT.into(), n(after.stamp().at.timestamp()));
    Ok(item)
}

/// A subscription's item, with its stamp's time as a number (`stamp_at`, epoch seconds) for
/// conditions that order writes by it.
fn subscription_item(after: &Subscription) -> Result<super::Item> {
    let mut item = keyed(after, account_pk(&after.account_id), subscription_sk(&after.id), "subscription")?;
    item.insert(STAMP_AT.into(), n(after.stamp.at.timestamp()));
    Ok(item)
}

fn projection_keys(key: &ProjectionKey) -> (String, String) {
    let pk = account_pk(key.account_id());
    let sk = match key {
        ProjectionKey::PaymentMethod { payment_method_id, .. } => payment_method_sk(payment_method_id),
        ProjectionKey::DefaultPaymentMethod { .. } => DEFAULT_PAYMENT_METHOD_SK.to_owned(),
        ProjectionKey::Payment { charge_id, .. } => payment_sk(charge_id),
    };
    (pk, sk)
}

#[async_trait]
impl billing_domain::ports::RecoveryWatermark for DynamoStore {
    async fn watermark(&self) -> Result<Option<i64>> {
        let item = self.get(RECOVERY_PK.into(), RECOVERY_SK.into()).await?;
        Ok(item.and_then(|i| i.get("created").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())))
    }

    async fn advance_watermark(&self, created: i64) -> Result<()> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(RECOVERY_PK))
            .key(SK, s(RECOVERY_SK))
            .update_expression("SET created = :c, entity = :e")
            .condition_expression("attribute_not_exists(created) OR created < :c")
            .expression_attribute_values(":c", n(created))
            .expression_attribute_values(":e", s("recovery_watermark"))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Already at or past it (a concurrent run): nothing to do.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(super::unavailable(e)),
        }
    }
}

impl DynamoStore {
    /// Parked events from the index, oldest first: `condition` on `gsi1sk` with `:order`, after
    /// `after` when given.
    async fn parked_in_index(
        &self,
        condition: &str,
        order: String,
        limit: u16,
        after: Option<&ParkedEvent>,
    ) -> Result<Vec<ParkedEvent>> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression(format!("gsi1pk = :pk AND gsi1sk {condition} :order"))
            .expression_attribute_values(":pk", s(PARKED_GSI1PK))
            .expression_attribute_values(":order", s(order))
            .limit(i32::from(limit.max(1)));
        if let Some(p) = after {
            q = q
                .exclusive_start_key(GSI1_PK, s(PARKED_GSI1PK))
                .exclusive_start_key(GSI1_SK, s(parked_order(p.created, &p.event_id)))
                .exclusive_start_key(PK, s(stripe_customer_pk(&p.customer_id)))
                .exclusive_start_key(SK, s(parked_sk(p.created, &p.event_id)));
        }
        // A query answers at most 1 MB (a few hundred parked payloads): it goes on from where
        // DynamoDB stopped until `limit` events are read or none are left, so a short page
        // always means the end.
        let mut items = Vec::new();
        loop {
            let out = q.clone().send().await.map_err(super::unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if items.len() < usize::from(limit.max(1)) => {
                    let left = usize::from(limit.max(1)) - items.len();
                    q = q.set_exclusive_start_key(Some(key)).limit(i32::try_from(left).unwrap_or(i32::MAX));
                }
                _ => break,
            }
        }
        items.into_iter().map(super::from_item).collect()
    }
}

#[async_trait]
impl ParkedReader for DynamoStore {
    async fn parked_events(
        &self,
        before: DateTime<Utc>,
        limit: u16,
        after: Option<&ParkedEvent>,
    ) -> Result<Vec<ParkedEvent>> {
        // Every event created in `before`'s second sorts below `~`.
        self.parked_in_index("<=", format!("{:012}#~", before.timestamp().max(0)), limit, after).await
    }
}

#[async_trait]
impl ParkedEventsAdmin for DynamoStore {
    async fn discard_parked(&self, discard: &Discard, audit: &AuditEntry) -> Result<()> {
        let Some(mut record) = self.event_record(&discard.event_id).await? else { return Err(Error::NotFound) };
        if record.outcome != EventOutcome::Parked {
            return Err(Error::NotFound);
        }
        let order = parked_order(record.created.timestamp(), &record.event_id);
        let parked = self.parked_in_index("=", order, 1, None).await?.into_iter().next();
        record.outcome = EventOutcome::Discarded;
        let mut ledger = self.ledger_item(&record)?;
        ledger.insert("discard".into(), super::to_attribute(discard)?);
        let mut items = vec![self.ledger_over_parked(ledger, "outcome = :parked")?];
        if let Some(p) = parked {
            items.push(self.delete(stripe_customer_pk(&p.customer_id), parked_sk(p.created, &p.event_id))?);
        }
        items.push(self.audit_put(audit)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            // Replayed or discarded meanwhile.
            Err(c) if c.failed_condition(0) => Err(Error::NotFound),
            Err(c) => Err(c.otherwise()),
        }
    }
}
