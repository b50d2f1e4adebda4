//! Seats: versioned, changed in one transaction per batch.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use billing_domain::billing::WorkItem;
use billing_domain::ports::{MAX_SEAT_CHANGES, SeatStore};
use billing_domain::seats::{Seat, SeatBook, SeatChange};
use billing_domain::{AccountId, Error, Result};
use chrono::Utc;

use super::keys::*;
use super::{DynamoStore, built, keyed, n, s};

#[derive(serde::Deserialize)]
struct SeatsVersion {
    version: u64,
}

#[async_trait]
impl SeatStore for DynamoStore {
    async fn seat_book(&self, account: &AccountId) -> Result<SeatBook> {
        // The version first: a change committed between the two reads then fails its condition.
        let version: Option<SeatsVersion> = self.get_as(account_pk(account), SEATS_SK.into()).await?;
        let seats: Vec<Seat> = self.query_prefix(account_pk(account), SEAT_PREFIX).await?;
        Ok(SeatBook { version: version.map_or(0, |v| v.version), seats })
    }

    async fn change_seats(
        &self,
        account: &AccountId,
        version: u64,
        changes: &[SeatChange],
        work: Option<&WorkItem>,
        audit: Option<&billing_domain::AuditEntry>,
    ) -> Result<()> {
        if changes.len() > MAX_SEAT_CHANGES {
            return Err(Error::Corrupt(format!("{} seat changes in one write", changes.len())));
        }
        let guard = Update::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(account)))
            .key(SK, s(SEATS_SK))
            .update_expression("SET #version = :next, entity = :entity")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":next", n(version as i64 + 1))
            .expression_attribute_values(":entity", s("seat_version"));
        let guard = if version == 0 {
            guard.condition_expression("attribute_not_exists(pk)")
        } else {
            guard
                .condition_expression("#version = :expected")
                .expression_attribute_values(":expected", n(version as i64))
        };
        let mut items = vec![TransactWriteItem::builder().update(built(guard.build())?).build()];
        for change in changes {
            items.push(match change {
                SeatChange::Create(seat) | SeatChange::Update(seat) => {
                    let item = keyed(seat, account_pk(account), seat_sk(&seat.id), "seat")?;
                    let put = Put::builder().table_name(&self.table).set_item(Some(item));
                    TransactWriteItem::builder().put(built(put.build())?).build()
                }
                SeatChange::Delete(id) => {
                    let del = Delete::builder()
                        .table_name(&self.table)
                        .key(PK, s(account_pk(account)))
                        .key(SK, s(seat_sk(id)));
                    TransactWriteItem::builder().delete(built(del.build())?).build()
                }
            });
        }
        if let Some(a) = audit {
            items.push(self.audit_put(a)?);
        }
        let work_index = items.len();
        if let Some(w) = work {
            let mut item = keyed(w, account_pk(w.account_id()), work_sk(w.event_id(), w.kind()), "work_item")?;
            item.insert(EXPIRES_AT.into(), n(Utc::now().timestamp() + 7 * 24 * 60 * 60));
            items.push(self.put(item, Some("attribute_not_exists(pk)"))?);
        }
        match self.transact(items.clone()).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed_condition(0) => Err(Error::Conflict),
            // The same cause already left its work item (a replay that found more to change):
            // the change goes through, the notice is not repeated.
            Err(c) if work.is_some() && c.failed_condition(work_index) => {
                items.truncate(work_index);
                match self.transact(items).await? {
                    Ok(()) => Ok(()),
                    Err(c) if c.failed_condition(0) => Err(Error::Conflict),
                    Err(c) => Err(c.otherwise()),
                }
            }
            Err(c) => Err(c.otherwise()),
        }
    }
}
