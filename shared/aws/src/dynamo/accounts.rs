//! Accounts, their members (with the grant that makes authorization one read and the e-mail
//! guard that keeps an address to one member) and account-creation idempotency.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use billing_domain::ports::{
    AccountReader, AccountWriter, Creation, IdempotencyReader, IdempotencyRecord, MemberReader, MemberWriter,
};
use billing_domain::{
    Account, AccountId, AuditEntry, Currency, Email, Error, Member, MemberId, MemberStatus, Money, Result, UserId,
};

use super::keys::*;
use super::{DynamoStore, Item, built, from_item, keyed, n, s, to_attribute, to_item};

/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 60 * 60;

/// The account's balance due is kept as integer minor units (`balance_due_minor`), moved by
/// invoice projections with an atomic `ADD`; the profile's `balance_due` is built from it on read.
const BALANCE_DUE: &str = "balance_due";
pub(super) const BALANCE_DUE_MINOR: &str = "balance_due_minor";

pub(super) fn account_item(account: &Account) -> Result<Item> {
    let mut item = keyed(account, account_pk(&account.id), ACCOUNT_SK.into(), "account")?;
    item.remove(BALANCE_DUE);
    let minor = account.balance_due.to_minor().map_err(|e| Error::Corrupt(format!("balance due: {e}")))?;
    item.insert(BALANCE_DUE_MINOR.into(), n(minor));
    super::index_name(&mut item, account);
    Ok(item)
}

pub(super) fn account_from_item(mut item: Item) -> Result<Account> {
    let currency: Currency = item
        .get("currency")
        .and_then(|v| v.as_s().ok())
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::Corrupt("account without a currency".into()))?;
    let minor = item
        .get(BALANCE_DUE_MINOR)
        .and_then(|v| v.as_n().ok())
        .map(|v| v.parse::<i64>().map_err(|_| Error::Corrupt("balance due is not whole minor units".into())))
        .transpose()?
        .unwrap_or(0);
    item.insert(BALANCE_DUE.into(), to_attribute(&Money::from_minor(minor, currency))?);
    from_item(item)
}

fn member_item(m: &Member) -> Result<Item> {
    let mut item = keyed(m, account_pk(&m.account_id), member_sk(&m.id), "member")?;
    let gsi1pk = match (&m.status, &m.user_id) {
        (MemberStatus::Active, Some(user)) => user_gsi1pk(user),
        _ => invite_gsi1pk(&m.email),
    };
    item.insert(GSI1_PK.into(), s(gsi1pk));
    item.insert(GSI1_SK.into(), s(account_pk(&m.account_id)));
    // Staff find the account by its users' (and invitees') e-mail.
    item.insert(GSI3_PK.into(), s(email_gsi3pk(m.email.as_str())));
    item.insert(GSI3_SK.into(), s(account_pk(&m.account_id)));
    Ok(item)
}

/// The grant: a copy of an active member keyed by its user, written in the same transaction as
/// the member, so that authorization is a single strongly consistent read.
fn grant_item(m: &Member) -> Result<Item> {
    let user = m.user_id.as_ref().ok_or_else(|| Error::Corrupt("an active member has no user".into()))?;
    keyed(m, account_pk(&m.account_id), grant_sk(user), "grant")
}

fn email_guard_item(m: &Member) -> Item {
    HashMap::from([
        (PK.into(), s(account_pk(&m.account_id))),
        (SK.into(), s(email_sk(&m.email))),
        ("entity".into(), s("member_email")),
        ("member_id".into(), s(m.id.as_str())),
    ])
}

impl DynamoStore {
    /// Put `after` over the member, if the stored member still has `before`'s role and status.
    fn put_member_if_unchanged(&self, before: &Member, after: &Member) -> Result<TransactWriteItem> {
        Ok(TransactWriteItem::builder()
            .put(built(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(member_item(after)?))
                    .condition_expression("#role = :role AND #status = :status")
                    .expression_attribute_names("#role", "role")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":role", s(before.role.as_str()))
                    .expression_attribute_values(":status", s(status_str(before.status)))
                    .build(),
            )?)
            .build())
    }

    /// Moves the account's active-admin count by `delta`, refusing to take it below one.
    fn admin_count_update(&self, account: &AccountId, delta: i64) -> Result<TransactWriteItem> {
        let condition = if delta < 0 { "attribute_exists(pk) AND admin_count >= :min" } else { "attribute_exists(pk)" };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(account)))
            .key(SK, s(ACCOUNT_SK))
            .update_expression("ADD admin_count :delta")
            .condition_expression(condition)
            .expression_attribute_values(":delta", n(delta));
        if delta < 0 {
            update = update.expression_attribute_values(":min", n(1 - delta));
        }
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    /// Delete the member, if the stored member still has the role and status read.
    fn delete_member_if_unchanged(&self, m: &Member) -> Result<TransactWriteItem> {
        let d = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(&m.account_id)))
            .key(SK, s(member_sk(&m.id)))
            .condition_expression("#role = :role AND #status = :status")
            .expression_attribute_names("#role", "role")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":role", s(m.role.as_str()))
            .expression_attribute_values(":status", s(status_str(m.status)));
        Ok(TransactWriteItem::builder().delete(built(d.build())?).build())
    }
}

fn status_str(s: MemberStatus) -> &'static str {
    match s {
        MemberStatus::Invited => "invited",
        MemberStatus::Active => "active",
    }
}

#[async_trait]
impl AccountReader for DynamoStore {
    async fn account(&self, id: &AccountId) -> Result<Option<Account>> {
        self.get(account_pk(id), ACCOUNT_SK.into()).await?.map(account_from_item).transpose()
    }
}

#[async_trait]
impl AccountWriter for DynamoStore {
    async fn create_account(
        &self,
        account: &Account,
        founder: &Member,
        audit: &AuditEntry,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Creation> {
        let mut account_item = account_item(account)?;
        account_item.insert("admin_count".into(), n(Member::active_admin_delta(None, Some(founder))));
        // The idempotency claim, when there is one, is item 0.
        let mut items = Vec::with_capacity(6);
        if let Some(rec) = idempotency {
            items.push(self.put(idempotency_item(rec)?, Some("attribute_not_exists(pk)"))?);
        }
        items.extend([
            self.put(account_item, Some("attribute_not_exists(pk)"))?,
            self.put(super::contact_item(account), None)?,
            self.put(member_item(founder)?, Some("attribute_not_exists(pk)"))?,
            self.put(grant_item(founder)?, Some("attribute_not_exists(pk)"))?,
            self.put(email_guard_item(founder), Some("attribute_not_exists(pk)"))?,
            self.audit_put(audit)?,
        ]);
        match self.transact(items).await? {
            Ok(()) => Ok(Creation::Created),
            Err(c)
                if let Some(rec) = idempotency
                    && c.failed_condition(0) =>
            {
                match self.idempotency_record(&rec.scope).await? {
                    Some(rec) => Ok(Creation::AlreadyClaimed(rec)),
                    // Claimed and expired between the two calls: let the client retry.
                    None => Err(Error::Conflict),
                }
            }
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn save_account(&self, after: &Account, audit: &AuditEntry) -> Result<()> {
        // SET every profile attribute, leaving attributes the profile does not own (the admin
        // count kept by member writes, the balance kept by invoice writes) untouched.
        let mut item = to_item(after)?;
        item.remove(BALANCE_DUE);
        super::index_name(&mut item, after);
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(account_pk(&after.id)))
            .key(SK, s(ACCOUNT_SK))
            .condition_expression("#version = :expected")
            .expression_attribute_values(":expected", n(after.version as i64 - 1));
        let mut sets = Vec::with_capacity(item.len());
        for (i, (name, value)) in item.into_iter().enumerate() {
            if name == "version" {
                update = update.expression_attribute_names("#version", "version");
                sets.push("#version = :new_version".to_owned());
                update = update.expression_attribute_values(":new_version", value);
                continue;
            }
            sets.push(format!("#a{i} = :v{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        let update = update.update_expression(format!("SET {}", sets.join(", ")));
        let items = vec![
            TransactWriteItem::builder().update(built(update.build())?).build(),
            self.audit_put(audit)?,
            self.put(super::contact_item(after), None)?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed_condition(0) => Err(Error::Conflict),
            Err(c) => Err(c.otherwise()),
        }
    }
}

fn idempotency_item(rec: &IdempotencyRecord) -> Result<Item> {
    let mut item = keyed(rec, idempotency_pk(&rec.scope), IDEMPOTENCY_SK.into(), "idempotency")?;
    item.insert(EXPIRES_AT.into(), n(rec.created_at.timestamp() + IDEMPOTENCY_TTL_SECS));
    Ok(item)
}

#[async_trait]
impl IdempotencyReader for DynamoStore {
    async fn idempotency_record(&self, scope: &str) -> Result<Option<IdempotencyRecord>> {
        let Some(item) = self.get(idempotency_pk(scope), IDEMPOTENCY_SK.into()).await? else {
            return Ok(None);
        };
        // TTL deletion lags expiry by up to days: an expired record is treated as gone.
        let expired = item
            .get(EXPIRES_AT)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| t <= chrono::Utc::now().timestamp());
        if expired { Ok(None) } else { from_item(item).map(Some) }
    }
}

#[async_trait]
impl MemberReader for DynamoStore {
    async fn membership(&self, account: &AccountId, user: &UserId) -> Result<Option<Member>> {
        self.get_as(account_pk(account), grant_sk(user)).await
    }

    async fn member(&self, account: &AccountId, id: &MemberId) -> Result<Option<Member>> {
        self.get_as(account_pk(account), member_sk(id)).await
    }

    async fn member_by_email(&self, account: &AccountId, email: &Email) -> Result<Option<Member>> {
        let Some(guard) = self.get(account_pk(account), email_sk(email)).await? else {
            return Ok(None);
        };
        let id: MemberId = guard
            .get("member_id")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Corrupt("e-mail guard without member id".into()))?;
        self.member(account, &id).await
    }

    async fn members(&self, account: &AccountId) -> Result<Vec<Member>> {
        let mut all: Vec<Member> = self.query_prefix(account_pk(account), MEMBER_PREFIX).await?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Member>> {
        self.query_gsi1(user_gsi1pk(user)).await
    }

    async fn invitations_for(&self, email: &Email) -> Result<Vec<Member>> {
        let all: Vec<Member> = self.query_gsi1(invite_gsi1pk(email)).await?;
        Ok(all.into_iter().filter(|m| m.status == MemberStatus::Invited).collect())
    }
}

#[async_trait]
impl MemberWriter for DynamoStore {
    async fn add_member(&self, member: &Member, audit: &AuditEntry) -> Result<()> {
        let mut items = vec![
            self.put(email_guard_item(member), Some("attribute_not_exists(pk)"))?,
            self.put(member_item(member)?, Some("attribute_not_exists(pk)"))?,
            self.audit_put(audit)?,
        ];
        let delta = Member::active_admin_delta(None, Some(member));
        if delta != 0 {
            items.push(self.admin_count_update(&member.account_id, delta)?);
            items.push(self.put(grant_item(member)?, Some("attribute_not_exists(pk)"))?);
        } else {
            items.push(
                TransactWriteItem::builder()
                    .condition_check(built(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .key(PK, s(account_pk(&member.account_id)))
                            .key(SK, s(ACCOUNT_SK))
                            .condition_expression("attribute_exists(pk)")
                            .build(),
                    )?)
                    .build(),
            );
        }
        if member.status == MemberStatus::Invited {
            // The invitation mail, sent by the mailer from the stream.
            let work = billing_domain::billing::WorkItem::MemberInvited {
                account_id: member.account_id.clone(),
                member_id: member.id.clone(),
                email: member.email.clone(),
                role: member.role,
                event_id: member.id.to_string(),
            };
            items.push(self.work_put(&work, member.created_at)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed_condition(0) => Err(Error::MemberExists),
            Err(c) if c.failed_condition(3) => Err(Error::NotFound),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn update_member(&self, before: &Member, after: &Member, audit: &AuditEntry) -> Result<()> {
        let activating = before.status == MemberStatus::Invited && after.status == MemberStatus::Active;
        let mut items = vec![self.put_member_if_unchanged(before, after)?, self.audit_put(audit)?];
        let grant_index = items.len();
        if after.status == MemberStatus::Active {
            let condition = if activating { "attribute_not_exists(pk)" } else { "attribute_exists(pk)" };
            items.push(self.put(grant_item(after)?, Some(condition))?);
        }
        let delta = Member::active_admin_delta(Some(before), Some(after));
        let count_index = items.len();
        if delta != 0 {
            items.push(self.admin_count_update(&after.account_id, delta)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed_condition(0) => Err(Error::Conflict),
            Err(c) if c.failed_condition(grant_index) && activating => Err(Error::AlreadyMember),
            Err(c) if c.failed_condition(grant_index) => Err(Error::Conflict),
            Err(c) if delta != 0 && c.failed_condition(count_index) => Err(Error::LastAdmin),
            Err(c) => Err(c.otherwise()),
        }
    }

    async fn remove_member(&self, member: &Member, audit: &AuditEntry) -> Result<()> {
        let pk = account_pk(&member.account_id);
        let mut items = vec![
            self.delete_member_if_unchanged(member)?,
            self.delete(pk.clone(), email_sk(&member.email))?,
            self.audit_put(audit)?,
        ];
        if let (MemberStatus::Active, Some(user)) = (member.status, &member.user_id) {
            items.push(self.delete(pk, grant_sk(user))?);
        }
        let delta = Member::active_admin_delta(Some(member), None);
        let count_index = items.len();
        if delta != 0 {
            items.push(self.admin_count_update(&member.account_id, delta)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed_condition(0) => Err(Error::Conflict),
            Err(c) if delta != 0 && c.failed_condition(count_index) => Err(Error::LastAdmin),
            Err(c) => Err(c.otherwise()),
        }
    }
}
