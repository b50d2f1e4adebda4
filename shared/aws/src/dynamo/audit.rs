//! The audit trail: every change's entry, written in the change's own transaction (or alone),
//! and read newest first, a page at a time.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use billing_domain::ports::{AuditPage, AuditReader, AuditWriter};
use billing_domain::{AccountId, AuditEntry, AuditId, Result};

use super::keys::*;
use super::{DynamoStore, from_item, keyed, s, unavailable};

impl DynamoStore {
    /// The audit entry, never overwriting one.
    pub(super) fn audit_put(&self, audit: &AuditEntry) -> Result<TransactWriteItem> {
        let item = keyed(audit, account_pk(&audit.account_id), audit_sk(&audit.id), "audit")?;
        self.put(item, Some("attribute_not_exists(pk)"))
    }
}

#[async_trait]
impl AuditReader for DynamoStore {
    async fn audit(&self, account: &AccountId, limit: u16, before: Option<&AuditId>) -> Result<AuditPage> {
        let pk = account_pk(account);
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s(AUDIT_PREFIX))
            .scan_index_forward(false)
            .limit(i32::from(limit.max(1)));
        if let Some(cursor) = before {
            q = q.exclusive_start_key(PK, s(pk)).exclusive_start_key(SK, s(audit_sk(cursor)));
        }
        let out = q.send().await.map_err(unavailable)?;
        let entries: Vec<AuditEntry> =
            out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<_>>()?;
        let next = match out.last_evaluated_key {
            Some(_) => entries.last().map(|e| e.id.clone()),
            None => None,
        };
        Ok(AuditPage { entries, next })
    }
}

#[async_trait]
impl AuditWriter for DynamoStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let put = self.audit_put(entry)?;
        match self.transact(vec![put]).await? {
            Ok(()) => Ok(()),
            Err(c) => Err(c.otherwise()),
        }
    }
}
