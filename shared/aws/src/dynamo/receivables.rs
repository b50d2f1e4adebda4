//! The receivables index (`gsi2`): open invoices with money left to pay, across accounts, by due
//! date. Invoice writes keep it (see `index_receivable`); this reads it.

use std::collections::HashMap;

use async_trait::async_trait;
use billing_domain::ports::{Page, ReceivablesReader};
use billing_domain::receivables::{Receivable, due_of};
use billing_domain::{AccountId, Error, Money, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::keys::*;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{DynamoStore, Item, built, from_item, n, s, unavailable};
use billing_domain::ports::AccountReader;

/// What the index projects of an invoice.
#[derive(Deserialize)]
struct Row {
    account_id: AccountId,
    id: String,
    #[serde(default)]
    number: Option<String>,
    amount_remaining: Money,
    #[serde(default)]
    due_date: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
}

#[async_trait]
impl ReceivablesReader for DynamoStore {
    async fn receivables(
        &self,
        due_through: Option<NaiveDate>,
        limit: u16,
        after: Option<&str>,
    ) -> Result<Page<Receivable>> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI2)
            .expression_attribute_values(":pk", s(RECEIVABLE_GSI2PK))
            .limit(i32::from(limit.max(1)));
        q = match due_through {
            // Every date up to `due_through` inclusive sorts below the next day.
            Some(through) => q
                .key_condition_expression("gsi2pk = :pk AND gsi2sk < :through")
                .expression_attribute_values(":through", s(through.succ_opt().unwrap_or(through).to_string())),
            None => q.key_condition_expression("gsi2pk = :pk"),
        };
        if let Some(cursor) = after {
            let (account, invoice) =
                parse_receivable_gsi2sk(cursor).ok_or_else(|| Error::invalid("cursor", "is not a cursor"))?;
            q = q
                .exclusive_start_key(PK, s(account_pk(&account)))
                .exclusive_start_key(SK, s(invoice_sk(invoice)))
                .exclusive_start_key(GSI2_PK, s(RECEIVABLE_GSI2PK))
                .exclusive_start_key(GSI2_SK, s(cursor));
        }
        let out = q.send().await.map_err(super::unavailable)?;
        let mut items = Vec::new();
        let mut last = None;
        for item in out.items.unwrap_or_default() {
            last = item.get(GSI2_SK).and_then(|v| v.as_s().ok()).cloned();
            let row: Row = from_item(item)?;
            items.push(Receivable {
                account_id: row.account_id,
                invoice_id: row.id,
                number: row.number,
                amount_remaining: row.amount_remaining,
                due: due_of(row.due_date, row.created),
                created: row.created,
            });
        }
        let next = out.last_evaluated_key.is_some().then_some(last).flatten();
        Ok(Page { items, next })
    }

    async fn account_names(&self, ids: &[AccountId]) -> Result<HashMap<AccountId, String>> {
        use futures::{StreamExt, TryStreamExt};
        // BatchGetItem's most keys per call; a few calls at once.
        const PER_CALL: usize = 100;
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        let keys: Vec<Vec<(String, String)>> = unique
            .chunks(PER_CALL)
            .map(|ids| ids.iter().map(|id| (account_pk(id), ACCOUNT_SK.to_owned())).collect())
            .collect();
        let batches = futures::stream::iter(keys)
            .map(|keys| self.batch_get(keys))
            .buffer_unordered(4)
            .try_collect::<Vec<_>>()
            .await?;
        batches
            .into_iter()
            .flatten()
            .map(|item| super::accounts::account_from_item(item).map(|a| (a.id, a.name)))
            .collect()
    }
}

impl DynamoStore {
    /// One page (at most `limit`) of the search index's partition `gsi3pk`, its sort keys
    /// starting with `prefix` when given.
    async fn search_index(&self, gsi3pk: String, prefix: Option<&str>, limit: u16) -> Result<Vec<Item>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI3)
            .expression_attribute_values(":pk", s(gsi3pk))
            .limit(i32::from(limit));
        let q = match prefix {
            Some(p) => q
                .key_condition_expression("gsi3pk = :pk AND begins_with(gsi3sk, :prefix)")
                .expression_attribute_values(":prefix", s(p)),
            None => q.key_condition_expression("gsi3pk = :pk"),
        };
        Ok(q.send().await.map_err(unavailable)?.items.unwrap_or_default())
    }
}

#[async_trait]
impl billing_domain::ports::AccountSearch for DynamoStore {
    async fn search_accounts(&self, query: &str, limit: u16) -> Result<Vec<billing_domain::ports::AccountHit>> {
        use billing_domain::ports::AccountHit;
        let query = query.trim();
        let normalized = search_text(query);
        let by_id = async {
            match query.parse::<AccountId>() {
                Ok(id) => self.account(&id).await,
                Err(_) => Ok(None),
            }
        };
        let by_number = async {
            if query.is_empty() || query.len() > 64 {
                return Ok(vec![]);
            }
            let items = self.search_index(number_gsi3pk(query), None, 10).await?;
            Ok::<_, Error>(
                items
                    .iter()
                    .filter_map(|i| {
                        let account = i.get("account_id")?.as_s().ok()?.parse::<AccountId>().ok()?;
                        Some((account, i.get("number")?.as_s().ok()?.clone()))
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let by_name = async {
            if normalized.chars().count() < 2 {
                return Ok(vec![]);
            }
            let items = self.search_index(name_search_gsi3pk(&normalized), Some(&normalized), limit).await?;
            Ok::<_, Error>(
                items
                    .iter()
                    .filter_map(|i| {
                        let id = i.get("id")?.as_s().ok()?.parse::<AccountId>().ok()?;
                        Some((id, i.get("name")?.as_s().ok()?.clone()))
                    })
                    .collect::<Vec<_>>(),
            )
        };
        // A whole e-mail address: the accounts whose contact, user or invitee it is.
        let by_email = async {
            if !query.contains('@') || query.len() > 254 {
                return Ok(vec![]);
            }
            let items = self.search_index(email_gsi3pk(query), None, limit).await?;
            Ok::<_, Error>(
                items
                    .iter()
                    .filter_map(|i| i.get("account_id")?.as_s().ok()?.parse::<AccountId>().ok())
                    .collect::<Vec<_>>(),
            )
        };
        let (account, numbered, named, emailed) = futures::try_join!(by_id, by_number, by_name, by_email)?;
        let mut hits: Vec<AccountHit> = Vec::new();
        if let Some(a) = account {
            hits.push(AccountHit { account_id: a.id, name: a.name, matched: "id", invoice_number: None });
        }
        let ids: Vec<AccountId> = numbered.iter().map(|(a, _)| a.clone()).chain(emailed.iter().cloned()).collect();
        let names = if ids.is_empty() { HashMap::new() } else { self.account_names(&ids).await? };
        for (account_id, number) in numbered {
            let name = names.get(&account_id).cloned().unwrap_or_default();
            hits.push(AccountHit { account_id, name, matched: "invoice", invoice_number: Some(number) });
        }
        for account_id in emailed {
            let name = names.get(&account_id).cloned().unwrap_or_default();
            hits.push(AccountHit { account_id, name, matched: "email", invoice_number: None });
        }
        for (account_id, name) in named {
            hits.push(AccountHit { account_id, name, matched: "name", invoice_number: None });
        }
        let mut seen = std::collections::HashSet::new();
        hits.retain(|h| seen.insert(h.account_id.clone()));
        hits.truncate(usize::from(limit));
        Ok(hits)
    }
}

/// What one page of [`DynamoStore::backfill_search_index`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Backfilled {
    pub scanned: usize,
    /// Search entries written (names, contact e-mails, users' e-mails, invoice numbers).
    pub indexed: usize,
    /// Items that changed between the scan and the write: the write that changed them indexed them.
    pub skipped: usize,
}

impl DynamoStore {
    /// Puts the items written before the account search existed into its index, one page of the
    /// table at a time (`start`: where the last page stopped; returns where this one did, none at
    /// the end). Each write is conditional on the item being as scanned, so a change made
    /// meanwhile (which indexes itself) is never overwritten; running it twice writes the same.
    pub async fn backfill_search_index(&self, start: Option<Item>, page: i32) -> Result<(Backfilled, Option<Item>)> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("entity IN (:account, :member, :invoice)")
            .expression_attribute_values(":account", s("account"))
            .expression_attribute_values(":member", s("member"))
            .expression_attribute_values(":invoice", s("invoice"))
            .set_exclusive_start_key(start)
            .limit(page.clamp(1, 1000))
            .send()
            .await
            .map_err(unavailable)?;
        let mut done = Backfilled { scanned: out.scanned_count as usize, ..Default::default() };
        for item in out.items.unwrap_or_default() {
            let writes = self.search_entries(&item)?;
            for write in writes {
                match self.transact(write).await? {
                    Ok(()) => done.indexed += 1,
                    Err(c) if c.failed_condition(0) => done.skipped += 1,
                    Err(c) => return Err(c.otherwise()),
                }
            }
        }
        Ok((done, out.last_evaluated_key))
    }

    /// The conditional writes that put one scanned item's search entries in place.
    fn search_entries(&self, item: &Item) -> Result<Vec<Vec<TransactWriteItem>>> {
        use aws_sdk_dynamodb::types::{ConditionCheck, Update};
        let attr = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let key = |update: aws_sdk_dynamodb::types::builders::UpdateBuilder| {
            update.table_name(&self.table).key(PK, item[PK].clone()).key(SK, item[SK].clone())
        };
        let set_index = |update: aws_sdk_dynamodb::types::builders::UpdateBuilder, pk: String, sk: String| {
            update
                .update_expression("SET gsi3pk = :gpk, gsi3sk = :gsk")
                .expression_attribute_values(":gpk", s(pk))
                .expression_attribute_values(":gsk", s(sk))
        };
        let update = |u: aws_sdk_dynamodb::types::builders::UpdateBuilder| -> Result<TransactWriteItem> {
            Ok(TransactWriteItem::builder().update(built(u.build())?).build())
        };
        let mut writes = Vec::new();
        match attr("entity").as_deref() {
            Some("account") => {
                let version = item.get("version").cloned().unwrap_or_else(|| n(0));
                let account = super::accounts::account_from_item(item.clone())?;
                let as_scanned = "#version = :version";
                let normalized = search_text(&account.name);
                if !item.contains_key(GSI3_PK) && !normalized.is_empty() {
                    let u = set_index(
                        key(Update::builder()),
                        name_search_gsi3pk(&normalized),
                        name_search_gsi3sk(&normalized, &account.id),
                    )
                    .condition_expression(as_scanned)
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", version.clone());
                    writes.push(vec![update(u)?]);
                }
                // The contact's entry, as of this version of the account.
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .key(PK, item[PK].clone())
                    .key(SK, item[SK].clone())
                    .condition_expression(as_scanned)
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":version", version);
                writes.push(vec![
                    TransactWriteItem::builder().condition_check(built(check.build())?).build(),
                    self.put(super::contact_item(&account), None)?,
                ]);
            }
            Some("member") if !item.contains_key(GSI3_PK) => {
                let (Some(email), Some(account)) = (attr("email"), attr("account_id")) else { return Ok(writes) };
                let account: AccountId = account.parse().map_err(|_| Error::Corrupt("a member's account id".into()))?;
                let u = set_index(key(Update::builder()), email_gsi3pk(&email), account_pk(&account))
                    .condition_expression("email = :email")
                    .expression_attribute_values(":email", s(email));
                writes.push(vec![update(u)?]);
            }
            Some("invoice") if !item.contains_key(GSI3_PK) => {
                let (Some(number), Some(account)) = (attr("number"), attr("account_id")) else { return Ok(writes) };
                let u = set_index(key(Update::builder()), number_gsi3pk(&number), account)
                    .condition_expression("#number = :number")
                    .expression_attribute_names("#number", "number")
                    .expression_attribute_values(":number", s(number));
                writes.push(vec![update(u)?]);
            }
            _ => {}
        }
        Ok(writes)
    }
}
