//! The demo account `make dev` seeds: one account with an admin, a billing member and a viewer,
//! each with a local user to mint tokens for (README, "Try it").

use anyhow::Result;
use billing_aws::DynamoStore;
use billing_domain::ports::{AccountReader, AccountWriter, MemberWriter};
use billing_domain::{
    Account, AccountId, Actor, Address, AddressInput, AuditAction, AuditEntry, BillingContact, Currency, Member,
    NewAccount, Role,
};
use chrono::Utc;

pub const DEMO_ACCOUNT: &str = "acct_demo";

/// `(user id, e-mail, role)` of the demo account's members.
pub const DEMO_USERS: [(&str, &str, Role); 3] = [
    ("demo-admin", "admin@demo.example", Role::Admin),
    ("demo-billing", "billing@demo.example", Role::Billing),
    ("demo-viewer", "viewer@demo.example", Role::Viewer),
];

/// Writes the demo account unless it exists; returns whether it wrote it.
pub async fn seed(store: &DynamoStore) -> Result<bool> {
    let id: AccountId = DEMO_ACCOUNT.parse()?;
    if store.account(&id).await?.is_some() {
        return Ok(false);
    }
    let now = Utc::now();
    let new = NewAccount {
        name: "Demo Hosting Customer Ltd".into(),
        currency: Currency::USD,
        billing_contact: BillingContact::parse("Avery Admin", "admin@demo.example", Some("+1 555 010 0100"))?,
        billing_address: Address::parse(AddressInput {
            line1: "100 Demo Street",
            line2: Some("Suite 5"),
            city: "Springfield",
            region: Some("IL"),
            postal_code: Some("62701"),
            country: "US",
        })?,
    };
    let account = Account::open(id.clone(), new, now);
    let (admin_sub, admin_email, _) = DEMO_USERS[0];
    let admin = Actor { user_id: admin_sub.parse()?, email: Some(admin_email.parse()?) };
    let founder = Member::founder(id.clone(), admin.user_id.clone(), admin_email.parse()?, now);
    let audit =
        AuditEntry::record(&id, &admin, AuditAction::AccountCreated, None, None::<&Account>, Some(&account), now);
    store.create_account(&account, &founder, &audit, None).await?;

    for (sub, email, role) in &DEMO_USERS[1..] {
        let invite = Member::invite(id.clone(), email.parse()?, *role, admin.user_id.clone(), now);
        let audit = AuditEntry::record(
            &id,
            &admin,
            AuditAction::MemberInvited,
            Some(invite.id.to_string()),
            None::<&Member>,
            Some(&invite),
            now,
        );
        store.add_member(&invite, &audit).await?;
        let user = Actor { user_id: sub.parse()?, email: Some(email.parse()?) };
        let active = invite.activated(user.user_id.clone(), now)?;
        let audit = AuditEntry::record(
            &id,
            &user,
            AuditAction::MemberActivated,
            Some(invite.id.to_string()),
            Some(&invite.status),
            Some(&active.status),
            now,
        );
        store.update_member(&invite, &active, &audit).await?;
    }
    Ok(true)
}
