//! The DynamoDB store: one table, keys in [`keys`], items written with serde_dynamo from the
//! domain types, every multi-item change in one `TransactWriteItems`.
//!
//! This module is the toolkit every port's file shares (the store, item conversion, get, query,
//! put, delete and transact); each port lives in its own file: [`accounts`] (accounts, members,
//! idempotency), [`audit`], [`billing`] (the portal's billing reads), [`contract`] (contract
//! billing), [`mail`] (the mail ledger and suppressions), [`processor`] (processor events),
//! [`seats`].

mod accounts;
mod audit;
mod billing;
mod contract;
pub mod keys;
mod lockbox;
mod mail;
mod processor;
mod receivables;
mod seats;

pub use receivables::Backfilled;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use billing_domain::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use keys::*;

type Item = HashMap<String, AttributeValue>;

/// Holds the SDK client and the table name; cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn unavailable<E, R>(e: SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "dynamodb call failed");
    Error::unavailable(e)
}

fn built<T>(r: std::result::Result<T, BuildError>) -> Result<T> {
    r.map_err(Error::unavailable)
}

fn to_item<T: Serialize>(value: &T) -> Result<Item> {
    serde_dynamo::to_item(value).map_err(|e| Error::Corrupt(format!("cannot serialize item: {e}")))
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T> {
    serde_dynamo::from_item(item).map_err(|e| Error::Corrupt(format!("cannot read item: {e}")))
}

/// A domain value as an item under the given keys.
fn keyed<T: Serialize>(value: &T, pk: String, sk: String, entity: &str) -> Result<Item> {
    let mut item = to_item(value)?;
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    item.insert("entity".into(), s(entity));
    Ok(item)
}

/// Puts an invoice in the receivables index while it is open with money left to pay; an
/// invoice item is always written whole, so one written without these keys leaves the index.
fn index_receivable(item: &mut Item, invoice: &billing_domain::invoice::Invoice) {
    if let Some(r) = billing_domain::receivables::Receivable::of(invoice) {
        item.insert(GSI2_PK.into(), s(RECEIVABLE_GSI2PK));
        item.insert(GSI2_SK.into(), s(receivable_gsi2sk(r.due, &r.account_id, &r.invoice_id)));
    }
}

/// Puts a numbered invoice in the search index (`gsi3`: by number).
fn index_number(item: &mut Item, invoice: &billing_domain::invoice::Invoice) {
    if let Some(number) = &invoice.number {
        item.insert(GSI3_PK.into(), s(number_gsi3pk(number)));
        item.insert(GSI3_SK.into(), s(invoice.account_id.to_string()));
    }
}

/// Puts an account in the search index (`gsi3`: by its name's first letters).
fn index_name(item: &mut Item, account: &billing_domain::Account) {
    let normalized = search_text(&account.name);
    if !normalized.is_empty() {
        item.insert(GSI3_PK.into(), s(name_search_gsi3pk(&normalized)));
        item.insert(GSI3_SK.into(), s(name_search_gsi3sk(&normalized, &account.id)));
    }
}

/// The account's contact e-mail as its own search entry (`EMAIL#…`), written with the account.
fn contact_item(account: &billing_domain::Account) -> Item {
    HashMap::from([
        (PK.to_owned(), s(account_pk(&account.id))),
        (SK.to_owned(), s(CONTACT_SK)),
        ("entity".to_owned(), s("contact_email")),
        ("account_id".to_owned(), s(account.id.as_str())),
        ("email".to_owned(), s(account.billing_contact.email.as_str())),
        (GSI3_PK.to_owned(), s(email_gsi3pk(account.billing_contact.email.as_str()))),
        (GSI3_SK.to_owned(), s(account_pk(&account.id))),
    ])
}

fn to_attribute<T: Serialize>(value: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(|e| Error::Corrupt(format!("cannot serialize: {e}")))
}

/// Why a transaction was cancelled: the reason code of each item, in order.
struct Cancelled(Vec<Option<String>>);

impl Cancelled {
    fn failed_condition(&self, index: usize) -> bool {
        self.0.get(index).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed")
    }

    /// What to report when no condition the caller knows about failed.
    fn otherwise(self) -> Error {
        if self.0.iter().any(|c| c.as_deref() == Some("TransactionConflict")) {
            Error::Conflict
        } else {
            Error::Unavailable(format!("transaction cancelled: {:?}", self.0).into())
        }
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// A store over `table` with a client from the process's shared AWS configuration.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    async fn get_as<T: DeserializeOwned>(&self, pk: String, sk: String) -> Result<Option<T>> {
        self.get(pk, sk).await?.map(from_item).transpose()
    }

    /// The items stored under `keys` (at most 100), consistently read in one round trip; keys
    /// DynamoDB leaves unprocessed (throttling) are asked for again, with a short backoff.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<Vec<Item>> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::with_capacity(keys.len());
        if keys.is_empty() {
            return Ok(found);
        }
        let keys = keys.into_iter().map(|(pk, sk)| HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]));
        let ask = KeysAndAttributes::builder().set_keys(Some(keys.collect())).consistent_read(true).build();
        let mut pending = Some(built(ask)?);
        let mut retry = billing_domain::retry::Retry::on_throttling();
        while let Some(ask) = pending.take() {
            if !retry.attempt().await {
                return Err(Error::Unavailable("batch read keys left unprocessed after retries".into()));
            }
            let out = self.client.batch_get_item().request_items(&self.table, ask).send().await.map_err(unavailable)?;
            found.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
        }
        Ok(found)
    }

    /// Every item under `pk` whose sort key starts with `prefix`.
    async fn query_prefix<T: DeserializeOwned>(&self, pk: String, prefix: &str) -> Result<Vec<T>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        Self::all_pages(q).await
    }

    async fn query_gsi1<T: DeserializeOwned>(&self, gsi1pk: String) -> Result<Vec<T>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(gsi1pk));
        Self::all_pages(q).await
    }

    /// Every item of every page of a query.
    async fn all_pages<T: DeserializeOwned>(q: QueryFluentBuilder) -> Result<Vec<T>> {
        let items: Vec<Item> =
            q.into_paginator().items().send().collect::<std::result::Result<_, _>>().await.map_err(unavailable)?;
        items.into_iter().map(from_item).collect()
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<std::result::Result<(), Cancelled>> {
        // The token makes the SDK's own retry of a transaction whose answer was lost (it was
        // applied) a success instead of a failed condition: DynamoDB answers a repeated token
        // (within 10 minutes) without applying it again.
        let token = uuid::Uuid::new_v4().simple().to_string();
        let call = self.client.transact_write_items().set_transact_items(Some(items)).client_request_token(token);
        match call.send().await {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(ctx)) => match ctx.into_err() {
                TransactWriteItemsError::TransactionCanceledException(ex) => Ok(Err(Cancelled(
                    ex.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                        .collect(),
                ))),
                other => {
                    tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&other), "transaction failed");
                    Err(Error::unavailable(other))
                }
            },
            Err(e) => Err(unavailable(e)),
        }
    }

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(built(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .set_condition_expression(condition.map(str::to_owned))
                    .build(),
            )?)
            .build())
    }

    fn delete(&self, pk: String, sk: String) -> Result<TransactWriteItem> {
        let d = Delete::builder().table_name(&self.table).key(PK, s(pk)).key(SK, s(sk));
        Ok(TransactWriteItem::builder().delete(built(d.build())?).build())
    }
}
