//! Contract (invoice-mode) billing in the table: contract state, usage buckets and keys, the
//! seller's gap-free sequences, the catalog, cohorts, and the ledger writes of ops (payments,
//! credit notes, voids). Every multi-item change is one transaction, conditional on the versions
//! and stamps it was decided on.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use billing_domain::bill_runs::BillRunRecord;
use billing_domain::billing::{Stamp, WorkItem};
use billing_domain::catalog::{Price, PriceId};
use billing_domain::contract::{ContractAccount, UsageEvent};
use billing_domain::invoice::Invoice;
use billing_domain::ledger::Cohort;
use billing_domain::ledger::{CreditNote, ReceivedPayment};
use billing_domain::ports::{
    BillRunStore, ContractAdmin, ContractBills, ContractReader, CreditNoteReader, Page, Recorded, Sequence,
    SequenceReader, StatementReader, Taken, TaxSetupReader, UsageWrite, UsageWriter,
};
use billing_domain::rating::UsageRecord;
use billing_domain::receivables::ReminderSchedule;
use billing_domain::tax::{SellerTax, TaxRate, TaxSetup};
use billing_domain::{Account, AccountId, AuditEntry, Change, Error, Money, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::accounts::account_item;
use super::keys::*;
use super::{DynamoStore, Item, built, from_item, keyed, n, s};

/// How long a usage idempotency key is remembered: longer than any record can be late.
const USAGE_KEY_TTL_SECS: i64 = 400 * 24 * 60 * 60;

/// A usage record as stored in its bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredUsage {
    account_id: AccountId,
    metric: billing_domain::catalog::Metric,
    quantity: u64,
    timestamp: DateTime<Utc>,
    idempotency_key: String,
    bucket: NaiveDate,
    received_at: DateTime<Utc>,
}

fn minor(m: &Money) -> Result<i64> {
    m.to_minor().map_err(|e| Error::Corrupt(format!("amount: {e}")))
}

impl DynamoStore {
    fn contract_item(&self, state: &ContractAccount) -> Result<Item> {
        let mut item = keyed(state, account_pk(&state.account_id), CONTRACT_SK.into(), "contract")?;
        item.insert(GSI1_PK.into(), s(BILL_DUE_GSI1PK));
        item.insert(GSI1_SK.into(), s(bill_due_gsi1sk(state.next_bill_date, &state.account_id)));
        Ok(item)
    }

    /// Puts the contract state if it is still at `before`'s version (or absent when `before` is None).
    fn contract_put(&self, before: Option<&ContractAccount>, after: &ContractAccount) -> Result<TransactWriteItem> {
        let put = Put::builder().table_name(&self.table).set_item(Some(self.contract_item(after)?));
        let put = match before {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(b) => {
                if after.version != b.version + 1 {
                    return Err(Error::Corrupt("contract versions must move by one".into()));
                }
                put.condition_expression("#version = :version")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", n(b.version as i64))
            }
        };
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// Our invoice, under the same keys and index as the processor's, so the portal and the
    /// mailer read both alike. `previous`: the stamp it must still have (None: must be absent).
    fn invoice_put(&self, invoice: &Invoice, previous: Option<&Stamp>) -> Result<TransactWriteItem> {
        let mut item = keyed(invoice, account_pk(&invoice.account_id), invoice_sk(&invoice.id), "invoice")?;
        // Drafts stay off the account's invoice list: customers see a bill once it is finalized.
        if invoice.status != billing_domain::invoice::InvoiceStatus::Draft {
            item.insert(GSI1_PK.into(), s(invoices_gsi1pk(&invoice.account_id)));
            item.insert(GSI1_SK.into(), s(invoice_gsi1sk(invoice.created, &invoice.id)));
        }
        item.insert("billed_by".into(), s("contract"));
        super::index_receivable(&mut item, invoice);
        super::index_number(&mut item, invoice);
        self.projection_put(item, previous)
    }

    /// Takes the next number of a sequence: conditional on the value read.
    fn sequence_take(&self, taken: Taken) -> Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(sequence_pk(taken.sequence.name())))
            .key(SK, s(SEQUENCE_SK))
            .update_expression("SET #value = :next");
        let update = if taken.previous == 0 {
            update.condition_expression("attribute_not_exists(#value) OR #value = :previous")
        } else {
            update.condition_expression("#value = :previous")
        }
        .expression_attribute_names("#value", "value")
        .expression_attribute_values(":next", n(taken.number() as i64))
        .expression_attribute_values(":previous", n(taken.previous as i64));
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    async fn read_sequence(&self, sequence: Sequence) -> Result<u64> {
        let item = self.get(sequence_pk(sequence.name()), SEQUENCE_SK.into()).await?;
        let value = item
            .as_ref()
            .and_then(|i| i.get("value"))
            .map(|v| v.as_n().ok().and_then(|n| n.parse::<u64>().ok()))
            .map(|v| v.ok_or_else(|| Error::Corrupt("sequence is not a number".into())))
            .transpose()?;
        Ok(value.unwrap_or(0))
    }

    /// The next account number (`SET value = value + 1`, atomically).
    async fn next_account_number(&self) -> Result<u64> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(sequence_pk(Sequence::Account.name())))
            .key(SK, s(SEQUENCE_SK))
            .update_expression("SET #value = if_not_exists(#value, :zero) + :one")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(super::unavailable)?;
        out.attributes
            .and_then(|a| a.get("value").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()))
            .ok_or_else(|| Error::Corrupt("the account-number sequence is not a number".into()))
    }

    /// A transaction whose every condition guards state the caller read: any failure is a conflict.
    pub(super) async fn transact_guarded(&self, items: Vec<TransactWriteItem>) -> Result<()> {
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(c) if (0..c.0.len()).any(|i| c.failed_condition(i)) => Err(Error::Conflict),
            Err(c) => Err(c.otherwise()),
        }
    }
}

#[async_trait]
impl ContractReader for DynamoStore {
    async fn contract_account(&self, id: &AccountId) -> Result<Option<ContractAccount>> {
        self.get_as(account_pk(id), CONTRACT_SK.into()).await
    }
}

#[async_trait]
impl SequenceReader for DynamoStore {
    async fn sequence(&self, sequence: Sequence) -> Result<u64> {
        self.read_sequence(sequence).await
    }
}

#[async_trait]
impl UsageWriter for DynamoStore {
    async fn store_usage(
        &self,
        account: &ContractAccount,
        records: &[(NaiveDate, UsageEvent)],
        now: DateTime<Utc>,
    ) -> Result<UsageWrite> {
        if records.len() > billing_domain::ports::MAX_USAGE_BATCH {
            return Err(Error::invalid("records", "too many records for one write"));
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(&account.account_id)))
            .key(SK, s(CONTRACT_SK))
            .condition_expression("#bucket = :bucket")
            .expression_attribute_names("#bucket", "usage_bucket")
            .expression_attribute_values(":bucket", s(account.usage_bucket.to_string()));
        let check = TransactWriteItem::builder().condition_check(built(check.build())?).build();
        let mut pending: Vec<usize> = (0..records.len()).collect();
        let mut duplicates = Vec::new();
        loop {
            if pending.is_empty() {
                return Ok(UsageWrite::Stored { duplicates });
            }
            let mut items = vec![check.clone()];
            for &i in &pending {
                let (bucket, e) = &records[i];
                let mut key_item = Item::new();
                key_item.insert(PK.into(), s(usage_key_pk(&e.account_id, &e.idempotency_key)));
                key_item.insert(SK.into(), s(USAGE_KEY_SK));
                key_item.insert("bucket".into(), s(bucket.to_string()));
                key_item.insert(EXPIRES_AT.into(), n(now.timestamp() + USAGE_KEY_TTL_SECS));
                items.push(self.put(key_item, Some("attribute_not_exists(pk)"))?);
                let stored = StoredUsage {
                    account_id: e.account_id.clone(),
                    metric: e.metric.clone(),
                    quantity: e.quantity,
                    timestamp: e.timestamp,
                    idempotency_key: e.idempotency_key.clone(),
                    bucket: *bucket,
                    received_at: now,
                };
                let record = keyed(
                    &stored,
                    usage_pk(&e.account_id, *bucket),
                    usage_sk(e.timestamp, &e.idempotency_key),
                    "usage",
                )?;
                items.push(self.put(record, None)?);
            }
            match self.transact(items).await? {
                Ok(()) => return Ok(UsageWrite::Stored { duplicates }),
                Err(c) if c.failed_condition(0) => return Ok(UsageWrite::BucketMoved),
                Err(c) => {
                    // Key puts are at 1, 3, 5, …: a failed one is a key seen before.
                    let seen: Vec<usize> = pending
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| c.failed_condition(1 + 2 * j))
                        .map(|(_, &i)| i)
                        .collect();
                    if seen.is_empty() {
                        return Err(c.otherwise());
                    }
                    duplicates.extend(&seen);
                    pending.retain(|i| !seen.contains(i));
                }
            }
        }
    }
}

#[async_trait]
impl ContractBills for DynamoStore {
    async fn bucket_usage(&self, account: &AccountId, bucket: NaiveDate) -> Result<Vec<UsageRecord>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(usage_pk(account, bucket)))
            .projection_expression("#metric, #quantity, #ts")
            .expression_attribute_names("#metric", "metric")
            .expression_attribute_names("#quantity", "quantity")
            .expression_attribute_names("#ts", "timestamp")
            .consistent_read(true);
        let mut out = Vec::new();
        let mut pages = q.into_paginator().items().send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(super::unavailable)?;
            #[derive(Deserialize)]
            struct Row {
                metric: billing_domain::catalog::Metric,
                quantity: u64,
                timestamp: DateTime<Utc>,
            }
            let row: Row = from_item(item)?;
            out.push(UsageRecord { metric: row.metric, quantity: row.quantity, date: row.timestamp.date_naive() });
        }
        Ok(out)
    }

    async fn bill(&self, account: &AccountId, id: &str) -> Result<Option<Invoice>> {
        self.get_as(account_pk(account), invoice_sk(id)).await
    }
}

#[async_trait]
impl BillRunStore for DynamoStore {
    async fn due_accounts(&self, through: NaiveDate, limit: u16, after: Option<&str>) -> Result<Page<AccountId>> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :through")
            .expression_attribute_values(":pk", s(BILL_DUE_GSI1PK))
            // Every date up to `through` inclusive sorts below the next day.
            .expression_attribute_values(":through", s(through.succ_opt().unwrap_or(through).to_string()))
            .limit(i32::from(limit.max(1)));
        if let Some(cursor) = after {
            let (date, account) = cursor.split_once('#').ok_or_else(|| Error::invalid("cursor", "is not a cursor"))?;
            let account: AccountId = account.parse().map_err(|_| Error::invalid("cursor", "is not a cursor"))?;
            let date: NaiveDate = date.parse().map_err(|_| Error::invalid("cursor", "is not a cursor"))?;
            q = q
                .exclusive_start_key(PK, s(account_pk(&account)))
                .exclusive_start_key(SK, s(CONTRACT_SK))
                .exclusive_start_key(GSI1_PK, s(BILL_DUE_GSI1PK))
                .exclusive_start_key(GSI1_SK, s(bill_due_gsi1sk(date, &account)));
        }
        let out = q.send().await.map_err(super::unavailable)?;
        let mut items = Vec::new();
        let mut last = None;
        for item in out.items.unwrap_or_default() {
            let sk = item.get(GSI1_SK).and_then(|v| v.as_s().ok()).cloned();
            let state: ContractAccount = from_item(item)?;
            last = sk;
            items.push(state.account_id);
        }
        let next = out.last_evaluated_key.is_some().then_some(last).flatten();
        Ok(Page { items, next })
    }

    async fn save_contract(&self, before: &ContractAccount, after: &ContractAccount) -> Result<()> {
        self.transact_guarded(vec![self.contract_put(Some(before), after)?]).await
    }

    async fn save_draft(&self, before: &ContractAccount, after: &ContractAccount, draft: &Invoice) -> Result<()> {
        self.transact_guarded(vec![self.contract_put(Some(before), after)?, self.invoice_put(draft, None)?]).await
    }

    async fn finalize_bill(
        &self,
        contract: Change<'_, ContractAccount>,
        invoice: &Invoice,
        replaces_draft: bool,
        number: Taken,
        work: &WorkItem,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let previous = if replaces_draft {
            let stored: Option<Invoice> = self.get_as(account_pk(&invoice.account_id), invoice_sk(&invoice.id)).await?;
            Some(stored.ok_or(Error::Conflict)?.stamp)
        } else {
            None
        };
        let mut items = vec![
            self.contract_put(Some(contract.before), contract.after)?,
            self.sequence_take(number)?,
            self.invoice_put(invoice, previous.as_ref())?,
            self.work_put(work, now)?,
        ];
        let delta = minor(&invoice.outstanding())?;
        if delta != 0 {
            items.push(self.balance_add(&invoice.account_id, invoice.currency, delta)?);
        }
        self.transact_guarded(items).await
    }

    async fn mark_notices_queued(&self, cohort: &Cohort) -> Result<()> {
        let item = keyed(cohort, COHORTS_PK.into(), cohort_sk(&cohort.id), "cohort")?;
        self.transact_guarded(vec![self.put(item, None)?]).await
    }

    async fn cohorts(&self) -> Result<Vec<Cohort>> {
        self.query_prefix(COHORTS_PK.into(), COHORT_PREFIX).await
    }

    async fn cohort_accounts(&self, cohort: &str) -> Result<Vec<AccountId>> {
        #[derive(Deserialize)]
        struct Membership {
            account_id: AccountId,
        }
        let members: Vec<Membership> = self.query_prefix(cohort_pk(cohort), "ACCOUNT#").await?;
        Ok(members.into_iter().map(|m| m.account_id).collect())
    }

    async fn queue_work(&self, work: &WorkItem, now: DateTime<Utc>) -> Result<bool> {
        match self.transact(vec![self.work_put(work, now)?]).await? {
            Ok(()) => Ok(true),
            Err(c) if c.failed_condition(0) => Ok(false),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn reminder_schedule(&self) -> Result<ReminderSchedule> {
        #[derive(Deserialize)]
        struct Stored {
            offsets_days: ReminderSchedule,
        }
        let stored: Option<Stored> = self.get_as(SETTINGS_PK.into(), REMINDER_SCHEDULE_SK.into()).await?;
        Ok(stored.map(|s| s.offsets_days).unwrap_or_default())
    }

    async fn reminders_sent(&self, account: &AccountId, invoice_id: &str) -> Result<Vec<i32>> {
        let item = self.get(account_pk(account), reminders_sk(invoice_id)).await?;
        let Some(steps) = item.as_ref().and_then(|i| i.get("steps")) else { return Ok(vec![]) };
        let steps = steps.as_ns().map_err(|_| Error::Corrupt("reminder steps are not a number set".into()))?;
        steps.iter().map(|n| n.parse::<i32>().map_err(|_| Error::Corrupt(format!("reminder step {n:?}")))).collect()
    }

    async fn queue_reminder(&self, work: &WorkItem, now: DateTime<Utc>) -> Result<bool> {
        let WorkItem::PaymentReminder { account_id, invoice_id, step, .. } = work else {
            return Err(Error::Corrupt(format!("{} is not a payment reminder", work.kind())));
        };
        let record = Update::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(account_id)))
            .key(SK, s(reminders_sk(invoice_id)))
            .update_expression("SET #entity = :entity, #invoice = :invoice ADD #steps :step_set")
            .condition_expression("attribute_not_exists(#steps) OR NOT contains(#steps, :step)")
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_names("#invoice", "invoice_id")
            .expression_attribute_names("#steps", "steps")
            .expression_attribute_values(":entity", s("reminders"))
            .expression_attribute_values(":invoice", s(invoice_id.as_str()))
            .expression_attribute_values(":step_set", AttributeValue::Ns(vec![step.to_string()]))
            .expression_attribute_values(":step", n(i64::from(*step)));
        let items =
            vec![self.work_put(work, now)?, TransactWriteItem::builder().update(built(record.build())?).build()];
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(c) if c.failed_condition(0) || c.failed_condition(1) => Ok(false),
            Err(c) => Err(c.otherwise()),
        }
    }
}

#[async_trait]
impl TaxSetupReader for DynamoStore {
    async fn tax_setup(&self) -> Result<TaxSetup> {
        let (rates, seller) = futures::try_join!(
            self.query_prefix::<TaxRate>(CATALOG_PK.into(), TAX_RATE_PREFIX),
            self.get_as::<SellerTax>(SETTINGS_PK.into(), SELLER_TAX_SK.into()),
        )?;
        Ok(TaxSetup {
            rates: rates.into_iter().map(|r| (r.code.clone(), r)).collect(),
            seller: seller.unwrap_or_default(),
        })
    }
}

#[async_trait]
impl billing_domain::ports::ApprovalStore for DynamoStore {
    async fn put_approval(&self, approval: &billing_domain::staff::Approval, audit: &AuditEntry) -> Result<()> {
        let item = keyed(approval, APPROVALS_PK.into(), approval_sk(&approval.id), "approval")?;
        self.transact_guarded(vec![self.put(item, Some("attribute_not_exists(pk)"))?, self.audit_put(audit)?]).await
    }

    async fn approval(&self, id: &str) -> Result<Option<billing_domain::staff::Approval>> {
        self.get_as(APPROVALS_PK.into(), approval_sk(id)).await
    }

    async fn approvals(&self) -> Result<Vec<billing_domain::staff::Approval>> {
        let mut all: Vec<billing_domain::staff::Approval> =
            self.query_prefix(APPROVALS_PK.into(), APPROVAL_PREFIX).await?;
        all.sort_by(|a, b| b.requested_at.cmp(&a.requested_at).then_with(|| b.id.cmp(&a.id)));
        Ok(all)
    }

    async fn decide_approval(&self, after: &billing_domain::staff::Approval, audit: &AuditEntry) -> Result<()> {
        let item = keyed(after, APPROVALS_PK.into(), approval_sk(&after.id), "approval")?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"));
        let put = TransactWriteItem::builder().put(built(put.build())?).build();
        self.transact_guarded(vec![put, self.audit_put(audit)?]).await
    }
}

#[async_trait]
impl billing_domain::ports::BillRunLog for DynamoStore {
    async fn bill_run_record(&self, date: NaiveDate) -> Result<Option<BillRunRecord>> {
        self.get_as(BILL_RUNS_PK.into(), bill_run_sk(date)).await
    }

    async fn bill_run_records(&self, limit: usize) -> Result<Vec<BillRunRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(BILL_RUNS_PK))
            .expression_attribute_values(":prefix", s(BILL_RUN_PREFIX))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100) as i32)
            .consistent_read(true)
            .send()
            .await
            .map_err(super::unavailable)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    async fn save_bill_run_record(
        &self,
        before: Option<&BillRunRecord>,
        after: &BillRunRecord,
        audit: &AuditEntry,
    ) -> Result<()> {
        let item = keyed(after, BILL_RUNS_PK.into(), bill_run_sk(after.date), "bill_run")?;
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match before {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(b) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", n(b.version as i64)),
        };
        self.transact_guarded(vec![
            TransactWriteItem::builder().put(built(put.build())?).build(),
            self.audit_put(audit)?,
        ])
        .await
    }
}

#[async_trait]
impl StatementReader for DynamoStore {
    async fn ledger_items(&self, account: &AccountId) -> Result<billing_domain::statement::LedgerItems> {
        let pk = || account_pk(account);
        let (invoices, payments, credit_notes) = futures::try_join!(
            self.query_prefix::<Invoice>(pk(), INVOICE_PREFIX),
            self.query_prefix::<ReceivedPayment>(pk(), RECEIVED_PAYMENT_PREFIX),
            self.query_prefix::<CreditNote>(pk(), CREDIT_NOTE_PREFIX),
        )?;
        Ok(billing_domain::statement::LedgerItems { invoices, payments, credit_notes })
    }
}

#[async_trait]
impl CreditNoteReader for DynamoStore {
    async fn credit_note(&self, account: &AccountId, id: &str) -> Result<Option<CreditNote>> {
        self.get_as(account_pk(account), credit_note_sk(id)).await
    }
}

impl DynamoStore {
    /// A write and, when given, its audit entry, for one transaction.
    fn with_audit(&self, write: TransactWriteItem, audit: Option<&AuditEntry>) -> Result<Vec<TransactWriteItem>> {
        let mut items = vec![write];
        if let Some(a) = audit {
            items.push(self.audit_put(a)?);
        }
        Ok(items)
    }
}

impl DynamoStore {
    /// A payment's transaction (recorded or returned): `items`, the payment's record first and
    /// conditional, with the balance due moved by what the invoice's outstanding amount moved.
    /// The record's condition failing means it was written before (`AlreadyRecorded`); another
    /// item's, that the invoice or contract moved meanwhile (`Conflict`).
    async fn payment_write(
        &self,
        mut items: Vec<TransactWriteItem>,
        account: &AccountId,
        invoice: Change<'_, Invoice>,
    ) -> Result<Recorded> {
        let delta = minor(&invoice.after.outstanding())? - minor(&invoice.before.outstanding())?;
        if delta != 0 {
            items.push(self.balance_add(account, invoice.after.currency, delta)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Recorded::Now),
            Err(c) if c.failed_condition(0) => Ok(Recorded::AlreadyRecorded),
            Err(c) if (1..c.0.len()).any(|i| c.failed_condition(i)) => Err(Error::Conflict),
            Err(c) => Err(c.otherwise()),
        }
    }
}

#[async_trait]
impl ContractAdmin for DynamoStore {
    async fn save_contract_audited(
        &self,
        before: &ContractAccount,
        after: &ContractAccount,
        audit: &AuditEntry,
    ) -> Result<()> {
        self.transact_guarded(vec![self.contract_put(Some(before), after)?, self.audit_put(audit)?]).await
    }

    async fn prices(&self) -> Result<BTreeMap<PriceId, Price>> {
        let prices: Vec<Price> = self.query_prefix(CATALOG_PK.into(), PRICE_PREFIX).await?;
        Ok(prices.into_iter().map(|p| (p.id.clone(), p)).collect())
    }

    async fn put_price(&self, price: &Price, audit: Option<&AuditEntry>) -> Result<()> {
        let item = keyed(price, CATALOG_PK.into(), price_sk(&price.id), "price")?;
        self.transact_guarded(self.with_audit(self.put(item, None)?, audit)?).await
    }

    async fn put_tax_rate(&self, rate: &TaxRate, audit: Option<&AuditEntry>) -> Result<()> {
        let item = keyed(rate, CATALOG_PK.into(), tax_rate_sk(&rate.code), "tax_rate")?;
        self.transact_guarded(self.with_audit(self.put(item, None)?, audit)?).await
    }

    async fn put_seller_tax(&self, seller: &SellerTax, audit: Option<&AuditEntry>) -> Result<()> {
        let item = keyed(seller, SETTINGS_PK.into(), SELLER_TAX_SK.into(), "settings")?;
        self.transact_guarded(self.with_audit(self.put(item, None)?, audit)?).await
    }

    async fn cohort(&self, id: &str) -> Result<Option<Cohort>> {
        self.get_as(COHORTS_PK.into(), cohort_sk(id)).await
    }

    async fn put_reminder_schedule(&self, schedule: &ReminderSchedule, audit: Option<&AuditEntry>) -> Result<()> {
        #[derive(Serialize)]
        struct Stored<'a> {
            offsets_days: &'a ReminderSchedule,
        }
        let item =
            keyed(&Stored { offsets_days: schedule }, SETTINGS_PK.into(), REMINDER_SCHEDULE_SK.into(), "settings")?;
        self.transact_guarded(self.with_audit(self.put(item, None)?, audit)?).await
    }

    async fn put_cohort(&self, cohort: &Cohort, audit: Option<&AuditEntry>) -> Result<()> {
        let item = keyed(cohort, COHORTS_PK.into(), cohort_sk(&cohort.id), "cohort")?;
        self.transact_guarded(self.with_audit(self.put(item, None)?, audit)?).await
    }

    async fn import_account(&self, account: &Account, contract: &ContractAccount, audit: &AuditEntry) -> Result<()> {
        let mut membership = Item::new();
        membership.insert(PK.into(), s(cohort_pk(&contract.cohort)));
        membership.insert(SK.into(), s(account_pk(&account.id)));
        membership.insert("account_id".into(), s(account.id.as_str()));
        membership.insert("entity".into(), s("cohort_member"));
        // Account numbers must be unique, not gap-free: one is drawn atomically first (an import
        // that then finds the account exists leaves its number unused), so concurrent imports
        // never contend for it.
        let number = self.next_account_number().await?;
        let numbered = Account { number: Some(number), ..account.clone() };
        let pointer = std::collections::HashMap::from([
            (super::PK.to_owned(), s(account_number_pk(number))),
            (super::SK.to_owned(), s("ACCOUNTNO")),
            ("entity".to_owned(), s("account_number")),
            ("account_id".to_owned(), s(account.id.as_str())),
        ]);
        let items = vec![
            self.put(account_item(&numbered)?, Some("attribute_not_exists(pk)"))?,
            self.put(super::contact_item(&numbered), None)?,
            self.contract_put(None, contract)?,
            self.put(membership, None)?,
            self.audit_put(audit)?,
            self.put(pointer, Some("attribute_not_exists(pk)"))?,
        ];
        self.transact_guarded(items).await
    }

    async fn contract_invoice(&self, account: &AccountId, id: &str) -> Result<Option<Invoice>> {
        self.get_as(account_pk(account), invoice_sk(id)).await
    }

    async fn record_payment(
        &self,
        payment: &ReceivedPayment,
        invoice: Change<'_, Invoice>,
        contract: Change<'_, ContractAccount>,
        work: &WorkItem,
        audit: &AuditEntry,
    ) -> Result<Recorded> {
        let record = keyed(
            payment,
            account_pk(&payment.account_id),
            received_payment_sk(&payment.reference),
            "received_payment",
        )?;
        let mut items = vec![
            self.put(record, Some("attribute_not_exists(pk)"))?,
            self.invoice_put(invoice.after, Some(&invoice.before.stamp))?,
            self.contract_put(Some(contract.before), contract.after)?,
            self.work_put(work, payment.recorded_at)?,
            self.audit_put(audit)?,
        ];
        // A check is found by its number when the bank returns it (BAI2 type 555).
        if let Some(number) = &payment.check_number
            && payment.check_reference() == payment.reference
        {
            items.push(self.put(check_number_item(number, &payment.account_id, &payment.reference), None)?);
        }
        self.payment_write(items, &payment.account_id, invoice).await
    }

    async fn check_payments(&self, account: &AccountId, reference: &str) -> Result<Vec<ReceivedPayment>> {
        self.query_prefix(account_pk(account), &received_payment_sk(reference)).await
    }

    async fn return_payment(
        &self,
        returned: &ReceivedPayment,
        invoice: Change<'_, Invoice>,
        contract: Change<'_, ContractAccount>,
        work: Option<&WorkItem>,
        audit: &AuditEntry,
    ) -> Result<Recorded> {
        let record = keyed(
            returned,
            account_pk(&returned.account_id),
            received_payment_sk(&returned.reference),
            "received_payment",
        )?;
        let at = returned.returned.as_ref().map_or(audit.at, |r| r.recorded_at);
        let mut items = vec![
            self.put(record, Some("attribute_exists(pk) AND attribute_not_exists(returned)"))?,
            self.invoice_put(invoice.after, Some(&invoice.before.stamp))?,
            self.contract_put(Some(contract.before), contract.after)?,
            self.audit_put(audit)?,
        ];
        if let Some(work) = work {
            items.push(self.work_put(work, at)?);
        }
        self.payment_write(items, &returned.account_id, invoice).await
    }

    async fn record_credit_note(
        &self,
        note: &CreditNote,
        number: Taken,
        invoice: Change<'_, Invoice>,
        contract: Change<'_, ContractAccount>,
        audit: &AuditEntry,
        work: &WorkItem,
    ) -> Result<()> {
        let record = keyed(note, account_pk(&note.account_id), credit_note_sk(&note.id), "credit_note")?;
        let mut items = vec![
            self.put(record, Some("attribute_not_exists(pk)"))?,
            self.sequence_take(number)?,
            self.invoice_put(invoice.after, Some(&invoice.before.stamp))?,
            self.contract_put(Some(contract.before), contract.after)?,
            self.audit_put(audit)?,
            self.work_put(work, note.created)?,
        ];
        let delta = minor(&invoice.after.outstanding())? - minor(&invoice.before.outstanding())?;
        if delta != 0 {
            items.push(self.balance_add(&note.account_id, invoice.after.currency, delta)?);
        }
        self.transact_guarded(items).await
    }

    async fn credit_notes(&self, account: &AccountId) -> Result<Vec<CreditNote>> {
        self.query_prefix(account_pk(account), CREDIT_NOTE_PREFIX).await
    }

    async fn void_draft(
        &self,
        invoice: Change<'_, Invoice>,
        contract: Change<'_, ContractAccount>,
        audit: &AuditEntry,
    ) -> Result<()> {
        self.transact_guarded(vec![
            self.invoice_put(invoice.after, Some(&invoice.before.stamp))?,
            self.contract_put(Some(contract.before), contract.after)?,
            self.audit_put(audit)?,
        ])
        .await
    }
}
