//! Lockbox files and their checks: one item per file (by content hash), one per check (file +
//! batch + item), a queue partition of the checks waiting for staff, and the drawers (bank
//! routing + account) remembered for the account they paid.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use billing_domain::lockbox::{ItemOutcome, LockboxImport, LockboxItem};
use billing_domain::ports::LockboxStore;
use billing_domain::{AccountId, AuditEntry, Error, Result};

use super::keys::*;
use super::{DynamoStore, built, keyed, s, unavailable};

const FILES_PK: &str = "LOCKBOX#FILES";
const EXCEPTIONS_PK: &str = "LOCKBOX#EXCEPTIONS";

fn file_sk(hash: &str) -> String {
    format!("FILE#{hash}")
}

fn items_pk(hash: &str) -> String {
    format!("LOCKBOX#ITEMS#{hash}")
}

fn item_sk(key: &str) -> String {
    format!("ITEM#{key}")
}

fn drawer_pk(routing: &str, account: &str) -> String {
    format!("DRAWER#{routing}#{account}")
}

impl DynamoStore {
    fn item_put(&self, item: &LockboxItem, condition: Option<&str>) -> Result<TransactWriteItem> {
        self.put(keyed(item, items_pk(&item.file_hash), item_sk(&item.key), "lockbox_item")?, condition)
    }
}

#[async_trait]
impl LockboxStore for DynamoStore {
    async fn lockbox_import(&self, file_hash: &str) -> Result<Option<LockboxImport>> {
        self.get_as(FILES_PK.into(), file_sk(file_hash)).await
    }

    async fn lockbox_imports(&self, limit: u16) -> Result<Vec<LockboxImport>> {
        let mut all: Vec<LockboxImport> = self.query_prefix(FILES_PK.into(), "FILE#").await?;
        all.sort_by_key(|a| std::cmp::Reverse(a.imported_at));
        all.truncate(usize::from(limit));
        Ok(all)
    }

    async fn save_lockbox_import(&self, import: &LockboxImport, create: bool) -> Result<()> {
        let item = keyed(import, FILES_PK.into(), file_sk(&import.file_hash), "lockbox_import")?;
        let condition = if create { "attribute_not_exists(pk)" } else { "attribute_exists(pk)" };
        self.transact_guarded(vec![self.put(item, Some(condition))?]).await
    }

    async fn lockbox_item(&self, file_hash: &str, key: &str) -> Result<Option<LockboxItem>> {
        self.get_as(items_pk(file_hash), item_sk(key)).await
    }

    async fn put_lockbox_item(&self, item: &LockboxItem, audit: Option<&AuditEntry>) -> Result<()> {
        let mut writes = vec![self.item_put(item, Some("attribute_not_exists(pk)"))?];
        if matches!(item.outcome, ItemOutcome::Exception { .. }) {
            writes.push(self.put(keyed(item, EXCEPTIONS_PK.into(), item_sk(&item.key), "lockbox_exception")?, None)?);
        }
        if let Some(a) = audit {
            writes.push(self.audit_put(a)?);
        }
        self.transact_guarded(writes).await
    }

    async fn decide_lockbox_item(&self, after: &LockboxItem, audit: &AuditEntry) -> Result<()> {
        // Only an exception still waiting is decided (two people at once: one wins).
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(keyed(after, items_pk(&after.file_hash), item_sk(&after.key), "lockbox_item")?))
            .condition_expression("outcome.#status = :exception")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":exception", s("exception"));
        self.transact_guarded(vec![
            TransactWriteItem::builder().put(built(put.build())?).build(),
            self.delete(EXCEPTIONS_PK.into(), item_sk(&after.key))?,
            self.audit_put(audit)?,
        ])
        .await
    }

    async fn lockbox_exceptions(&self) -> Result<Vec<LockboxItem>> {
        let mut all: Vec<LockboxItem> = self.query_prefix(EXCEPTIONS_PK.into(), "ITEM#").await?;
        all.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
        Ok(all)
    }

    async fn lockbox_exception(&self, key: &str) -> Result<Option<LockboxItem>> {
        self.get_as(EXCEPTIONS_PK.into(), item_sk(key)).await
    }

    async fn drawer(&self, routing: &str, account: &str) -> Result<Option<AccountId>> {
        let Some(item) = self.get(drawer_pk(routing, account), "DRAWER".into()).await? else { return Ok(None) };
        Ok(item.get("account_id").and_then(|v| v.as_s().ok()).and_then(|a| a.parse().ok()))
    }

    async fn remember_drawer(&self, routing: &str, account: &str, payer: &AccountId) -> Result<()> {
        let item = std::collections::HashMap::from([
            (PK.to_owned(), s(drawer_pk(routing, account))),
            (SK.to_owned(), s("DRAWER")),
            ("entity".to_owned(), s("drawer")),
            ("account_id".to_owned(), s(payer.as_str())),
        ]);
        self.transact_guarded(vec![self.put(item, None)?]).await
    }

    async fn account_by_number(&self, number: u64) -> Result<Option<AccountId>> {
        let Some(item) = self.get(account_number_pk(number), "ACCOUNTNO".into()).await? else { return Ok(None) };
        Ok(item.get("account_id").and_then(|v| v.as_s().ok()).and_then(|a| a.parse().ok()))
    }

    async fn checks_numbered(&self, number: &str) -> Result<Vec<(AccountId, String)>> {
        #[derive(serde::Deserialize)]
        struct Pointer {
            account_id: AccountId,
            reference: String,
        }
        let found: Vec<Pointer> = self.query_prefix(check_number_pk(number), AccountId::PREFIX).await?;
        Ok(found.into_iter().map(|p| (p.account_id, p.reference)).collect())
    }

    async fn bill_by_number(&self, number: &str) -> Result<Option<(AccountId, String)>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI3)
            .key_condition_expression("gsi3pk = :pk")
            .expression_attribute_values(":pk", s(number_gsi3pk(number)))
            .limit(2)
            .send()
            .await
            .map_err(unavailable)?;
        let items = out.items.unwrap_or_default();
        if items.len() > 1 {
            return Err(Error::Corrupt(format!("two bills numbered {number}")));
        }
        Ok(items.first().and_then(|i| {
            let account = i.get("account_id")?.as_s().ok()?.parse().ok()?;
            Some((account, i.get("id")?.as_s().ok()?.clone()))
        }))
    }
}
