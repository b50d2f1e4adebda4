//! The exactly-once mail ledger and the suppression list. A send is claimed in one write that
//! also checks its recipient is not suppressed.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use billing_domain::mail::MailKey;
use billing_domain::ports::{MailLedger, SendClaim, Suppressions};
use billing_domain::{Email, Error, Result};
use chrono::{DateTime, Utc};

use super::keys::*;
use super::{DynamoStore, built, n, s, unavailable};

/// Sends are remembered long after any redelivery could come (stream records live 24 hours).
const MAIL_TTL_SECS: i64 = 30 * 24 * 60 * 60;

#[derive(serde::Deserialize)]
struct SendRecord {
    status: String,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    claim: Option<String>,
}

#[async_trait]
impl MailLedger for DynamoStore {
    async fn claim_send(&self, key: &MailKey, now: DateTime<Utc>, lease_secs: i64) -> Result<SendClaim> {
        // This claim's own mark: when the SDK retries the put because its first answer was lost
        // (the put was made), the claim found is recognised as this one, not as another sender's.
        let claim = uuid::Uuid::new_v4().simple().to_string();
        let put = Put::builder()
            .table_name(&self.table)
            .item(PK, s(mail_pk(&key.id())))
            .item(SK, s(MAIL_SK))
            .item("entity", s("mail_send"))
            .item("kind", s(key.kind.as_str()))
            .item("subject", s(key.subject.as_str()))
            .item("recipient", s(key.recipient.as_str()))
            .item("status", s("claimed"))
            .item("claim", s(claim.as_str()))
            .item("claimed_at", n(now.timestamp()))
            .item(EXPIRES_AT, n(now.timestamp() + MAIL_TTL_SECS))
            // New, or claimed by a sender that has not finished within the lease (it died).
            .condition_expression("attribute_not_exists(pk) OR (#status = :claimed AND claimed_at < :stale)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":stale", n(now.timestamp() - lease_secs));
        // In the same write: the recipient is not on the suppression list.
        let not_suppressed = ConditionCheck::builder()
            .table_name(&self.table)
            .key(PK, s(suppressed_pk(&key.recipient)))
            .key(SK, s(SUPPRESSED_SK))
            .condition_expression("attribute_not_exists(pk)");
        let items = vec![
            TransactWriteItem::builder().put(built(put.build())?).build(),
            TransactWriteItem::builder().condition_check(built(not_suppressed.build())?).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(SendClaim::Claimed),
            Err(c) if c.failed_condition(1) => Ok(SendClaim::Suppressed),
            Err(c) if c.failed_condition(0) => {
                let rec: Option<SendRecord> = self.get_as(mail_pk(&key.id()), MAIL_SK.into()).await?;
                Ok(match rec {
                    Some(SendRecord { status, message_id: Some(id), .. }) if status == "sent" => {
                        SendClaim::AlreadySent(id)
                    }
                    Some(SendRecord { status, claim: Some(c), .. }) if status == "claimed" && c == claim => {
                        SendClaim::Claimed
                    }
                    _ => SendClaim::InFlight,
                })
            }
            // Another delivery of the same mail is claiming it at this moment.
            Err(c) => match c.otherwise() {
                Error::Conflict => Ok(SendClaim::InFlight),
                other => Err(other),
            },
        }
    }

    async fn sent(&self, key: &MailKey, message_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(mail_pk(&key.id())))
            .key(SK, s(MAIL_SK))
            .update_expression("SET #status = :sent, message_id = :id, sent_at = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":id", s(message_id))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release(&self, key: &MailKey) -> Result<()> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(mail_pk(&key.id())))
            .key(SK, s(MAIL_SK))
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Sent after all, or already released: nothing to give back.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl Suppressions for DynamoStore {
    async fn suppress(&self, email: &Email, reason: &str, now: DateTime<Utc>) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(suppressed_pk(email)))
            .item(SK, s(SUPPRESSED_SK))
            .item("entity", s("suppressed_email"))
            .item("email", s(email.as_str()))
            .item("reason", s(reason))
            .item("at", n(now.timestamp()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
