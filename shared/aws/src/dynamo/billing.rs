//! The portal's read side of billing: the account's customer, subscription, invoices and payment
//! methods as the processor's events projected them; and the audit entries of changes asked of
//! the processor.

use async_trait::async_trait;
use billing_domain::billing::{CustomerLink, PaymentMethodSummary, Projection, Subscription};
use billing_domain::invoice::{Invoice, InvoiceStatus};
use billing_domain::ports::{BillingReader, InvoicePage};
use billing_domain::{AccountId, Error, Result};

use super::keys::*;
use super::{DynamoStore, from_item, s, unavailable};

/// How many index items one page query reads at most while filling a filtered page.
const SCAN_BATCH: i32 = 50;

#[async_trait]
impl BillingReader for DynamoStore {
    async fn customer_of(&self, account: &AccountId) -> Result<Option<String>> {
        let link: Option<CustomerLink> = self.get_as(account_pk(account), CUSTOMER_SK.into()).await?;
        Ok(link.map(|l| l.customer_id))
    }

    async fn live_subscription(&self, account: &AccountId) -> Result<Option<Subscription>> {
        let subs: Vec<Subscription> = self.query_prefix(account_pk(account), "SUBSCRIPTION#").await?;
        Ok(subs.into_iter().filter(|s| s.status.is_live()).max_by_key(|s| s.current_period_start))
    }

    async fn invoices(
        &self,
        account: &AccountId,
        status: Option<InvoiceStatus>,
        limit: u16,
        after: Option<&str>,
    ) -> Result<InvoicePage> {
        let limit = usize::from(limit.max(1));
        let gsi1pk = invoices_gsi1pk(account);
        let mut start = match after {
            // The cursor is the last invoice's index sort key, `{created}#{id}`, written
            // `{created}.{id}` so it needs no escaping in a query string.
            Some(cursor) => {
                let (created, id) = cursor
                    .split_once('.')
                    .filter(|(c, id)| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty())
                    .ok_or_else(|| Error::invalid("cursor", "is not a cursor"))?;
                Some((invoice_sk(id), format!("{created}#{id}")))
            }
            None => None,
        };
        let status = status.map(InvoiceStatus::as_str);
        let mut invoices = Vec::new();
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(gsi1pk.clone()))
                .scan_index_forward(false)
                .limit(SCAN_BATCH.min(i32::try_from(limit - invoices.len()).unwrap_or(SCAN_BATCH)));
            if let Some(status) = &status {
                q = q
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(*status));
            }
            if let Some((sk, gsi1sk)) = &start {
                q = q
                    .exclusive_start_key(PK, s(account_pk(account)))
                    .exclusive_start_key(SK, s(sk.as_str()))
                    .exclusive_start_key(GSI1_PK, s(gsi1pk.as_str()))
                    .exclusive_start_key(GSI1_SK, s(gsi1sk.as_str()));
            }
            let out = q.send().await.map_err(unavailable)?;
            for item in out.items.unwrap_or_default() {
                invoices.push(from_item::<Invoice>(item)?);
            }
            let more = out.last_evaluated_key.is_some();
            if invoices.len() >= limit || !more {
                let next = (more || invoices.len() > limit)
                    .then(|| {
                        invoices
                            .get(limit.min(invoices.len()) - 1)
                            .map(|i| invoice_gsi1sk(i.created, &i.id).replacen('#', ".", 1))
                    })
                    .flatten();
                invoices.truncate(limit);
                return Ok(InvoicePage { invoices, next });
            }
            // Continue where DynamoDB stopped (a page whose items were all filtered out too).
            let key = out.last_evaluated_key.unwrap_or_default();
            match (key.get(SK).and_then(|v| v.as_s().ok()), key.get(GSI1_SK).and_then(|v| v.as_s().ok())) {
                (Some(sk), Some(g)) => start = Some((sk.clone(), g.clone())),
                _ => return Err(Error::Corrupt("index page without a continuation key".into())),
            }
        }
    }

    async fn account_invoice(&self, account: &AccountId, id: &str) -> Result<Option<Invoice>> {
        self.get_as(account_pk(account), invoice_sk(id)).await
    }

    async fn payment_methods(&self, account: &AccountId) -> Result<Vec<PaymentMethodSummary>> {
        let all: Vec<Projection> = self.query_prefix(account_pk(account), "PAYMENT_METHOD#").await?;
        Ok(all
            .into_iter()
            .filter_map(|p| match p {
                Projection::PaymentMethod(m) if m.attached => Some(m),
                _ => None,
            })
            .collect())
    }

    async fn default_payment_method(&self, account: &AccountId) -> Result<Option<String>> {
        let d: Option<Projection> = self.get_as(account_pk(account), DEFAULT_PAYMENT_METHOD_SK.into()).await?;
        Ok(match d {
            Some(Projection::DefaultPaymentMethod(d)) => d.payment_method_id,
            _ => None,
        })
    }
}
