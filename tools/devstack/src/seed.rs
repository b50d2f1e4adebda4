//! The demo accounts `make dev` seeds: a card-billed account with an admin, a billing member and a
//! viewer, and a contract account billed by invoice whose admin is the same demo admin (so the
//! portal shows the account switcher and the "contact sales" answer). Locally each demo user is a
//! user of the stand-in's Cognito pool with a documented password (README, "The portal").

use anyhow::Result;
use billing_aws::DynamoStore;
use billing_domain::ports::{AccountReader, AccountWriter, MemberWriter};
use billing_domain::{
    Account, AccountId, Actor, Address, AddressInput, AuditAction, AuditEntry, BillingContact, BillingMode, Currency,
    Member, NewAccount, Role,
};
use chrono::Utc;

pub const DEMO_ACCOUNT: &str = "acct_demo";
/// The demo account billed by invoice contract (its admin is the demo admin).
pub const DEMO_CONTRACT_ACCOUNT: &str = "acct_democontract";

/// `(user id, e-mail, role)` of the demo account's members.
pub const DEMO_USERS: [(&str, &str, Role); 3] = [
    ("demo-admin", "admin@demo.example", Role::Admin),
    ("demo-billing", "billing@demo.example", Role::Billing),
    ("demo-viewer", "viewer@demo.example", Role::Viewer),
];

/// The demo users' local passwords (they meet the template's password policy). Local only. The
/// last is a user of no account yet, who can create one.
pub const DEMO_PASSWORDS: [(&str, &str); 4] = [
    ("admin@demo.example", "Demo-Admin-2026"),
    ("billing@demo.example", "Demo-Billing-2026"),
    ("viewer@demo.example", "Demo-Viewer-2026"),
    ("new.customer@demo.example", "Demo-Customer-2026"),
];

/// Writes the demo account unless it exists, its members with the demo user ids; returns whether
/// it wrote it.
pub async fn seed(store: &DynamoStore) -> Result<bool> {
    let subs = DEMO_USERS.map(|(sub, _, _)| sub.to_owned());
    seed_with(store, &subs).await
}

/// [`seed`] with the user ids (`sub`) the identity provider gave the demo users, in the order of
/// [`DEMO_USERS`].
pub async fn seed_with(store: &DynamoStore, subs: &[String; 3]) -> Result<bool> {
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
    let admin = create_with_demo_admin(store, Account::open(id.clone(), new, now), &subs[0]).await?;

    for ((_, email, role), sub) in DEMO_USERS.iter().zip(subs).skip(1) {
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

/// Writes the demo contract account (billed by invoice, as ops would import it) with `admin_sub`
/// as its admin, unless it exists; returns whether it wrote it.
pub async fn seed_contract(store: &DynamoStore, admin_sub: &str) -> Result<bool> {
    let id: AccountId = DEMO_CONTRACT_ACCOUNT.parse()?;
    if store.account(&id).await?.is_some() {
        return Ok(false);
    }
    let now = Utc::now();
    let new = NewAccount {
        name: "Demo Colocation Tenant GmbH".into(),
        currency: Currency::USD,
        billing_contact: BillingContact::parse("Avery Admin", "admin@demo.example", None)?,
        billing_address: Address::parse(AddressInput {
            line1: "200 Rack Row",
            line2: None,
            city: "Springfield",
            region: Some("IL"),
            postal_code: Some("62702"),
            country: "US",
        })?,
    };
    let account = Account { billing_mode: BillingMode::Invoice, ..Account::open(id, new, now) };
    create_with_demo_admin(store, account, admin_sub).await?;
    Ok(true)
}

/// Writes `account` with the demo admin (user id `admin_sub`) as its founding admin; returns the
/// admin as an actor.
async fn create_with_demo_admin(store: &DynamoStore, account: Account, admin_sub: &str) -> Result<Actor> {
    let (_, admin_email, _) = DEMO_USERS[0];
    let admin = Actor { user_id: admin_sub.parse()?, email: Some(admin_email.parse()?) };
    let founder = Member::founder(account.id.clone(), admin.user_id.clone(), admin_email.parse()?, account.created_at);
    let audit = AuditEntry::record(
        &account.id,
        &admin,
        AuditAction::AccountCreated,
        None,
        None::<&Account>,
        Some(&account),
        account.created_at,
    );
    store.create_account(&account, &founder, &audit, None).await?;
    Ok(admin)
}
