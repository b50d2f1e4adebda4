//! The demo accounts `make dev` seeds: a card-billed account with an admin, a billing member and a
//! viewer, and a contract account billed by invoice whose admin is the same demo admin (so the
//! portal shows the account switcher and the "contact sales" answer). Locally each demo user is a
//! user of the stand-in's Cognito pool with a documented password (README, "The portal").

use anyhow::Result;
use billing_aws::DynamoStore;
use std::sync::Arc;

use billing_domain::Money;
use billing_domain::catalog::{Metric, Price};
use billing_domain::contract::{ImportLine, UsageEvent};
use billing_domain::ledger::Cohort;
use billing_domain::ports::{AccountReader, AccountWriter, ContractAdmin, MemberWriter, UsageWriter};
use billing_domain::receipts::{self, Incoming, WhenClosed};
use billing_domain::tax::{RatePeriod, TaxRate};
use billing_domain::{
    Account, AccountId, Actor, Address, AddressInput, AuditAction, AuditEntry, BillingContact, BillingMode, Currency,
    Member, NewAccount, Role,
};
use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime, Utc};

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

/// The back office's local staff (`make dev`): one per role, and a second approver so that
/// four-eyes approval can be tried alone. Local only; in AWS staff sign in with MFA.
pub const STAFF_USERS: [(&str, &str, &[&str]); 4] = [
    ("clerk@seller.example", "Staff-Clerk-2026", &["clerk"]),
    ("approver@seller.example", "Staff-Approver-2026", &["approver"]),
    ("approver2@seller.example", "Staff-Approver2-2026", &["approver"]),
    ("admin@seller.example", "Staff-Admin-2026-x", &["admin"]),
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

/// Writes the demo contract account unless it exists, as ops would bring it in, with `admin_sub`
/// as its admin; returns whether it wrote it. Its contract (racks, power in tiers, bandwidth with
/// an allowance and overage, a one-time setup fee, a rack added mid-month) went live on the 1st
/// two months ago: the bill run has made its three bills since (taxed at Illinois' and
/// Springfield's rates, rack space not taxable), the first paid by check and the second partly,
/// and this month's usage so far is recorded, so its admin sees S2's bill, its PDF, usage to date
/// and the upcoming bill at the first sign-in.
pub async fn seed_contract(store: &Arc<DynamoStore>, admin_sub: &str, invoice_prefix: &str) -> Result<bool> {
    let id: AccountId = DEMO_CONTRACT_ACCOUNT.parse()?;
    if store.account(&id).await?.is_some() {
        return Ok(false);
    }
    let now = Utc::now();
    let today = now.date_naive();
    let this_month = today.with_day(1).expect("the 1st");
    let go_live = this_month.checked_sub_months(Months::new(2)).expect("in range");
    let last_month = this_month.checked_sub_months(Months::new(1)).expect("in range");
    let day = |base: NaiveDate, n: u64| base.checked_add_days(Days::new(n)).expect("in range");

    // The seller's tax data for this account's bills: the account takes Illinois' and the city's
    // rates; the rack price names the rate of space leases (not taxable), which wins over them.
    for rate in [
        ("il_state", "Illinois sales tax", "US-IL", "6.25"),
        ("us_il_springfield", "Springfield home rule tax", "US-IL Springfield", "2.25"),
        ("il_space_lease", "Space lease (not taxable)", "US-IL", "0"),
    ] {
        let (code, name, jurisdiction, pct) = rate;
        let rate = TaxRate {
            code: code.parse()?,
            name: name.into(),
            jurisdiction: jurisdiction.into(),
            inclusive: false,
            rates: vec![RatePeriod { rate: pct.parse()?, valid_from: "2020-01-01".parse()?, valid_to: None }],
        }
        .parse()?;
        store.put_tax_rate(&rate, None).await?;
    }
    let prices: Vec<Price> = serde_json::from_value(serde_json::json!([
        {"id": "demo_rack", "name": "Rack space, 42U", "currency": "USD", "charge": {"type": "recurring", "interval": "monthly"},
         "model": "per_unit", "unit_amount": "650.00", "unit": "rack", "tax_codes": ["il_space_lease"]},
        {"id": "demo_power", "name": "Metered power", "currency": "USD", "unit": "kWh",
         "charge": {"type": "usage", "metric": "power_kwh"}, "model": "graduated",
         "tiers": [{"up_to": 2000, "unit_amount": "0.18"}, {"unit_amount": "0.15"}]},
        {"id": "demo_bandwidth", "name": "Bandwidth", "currency": "USD", "unit": "GB",
         "charge": {"type": "usage", "metric": "bandwidth_gb"}, "model": "overage", "included": 1000, "unit_amount": "0.05"},
        {"id": "demo_setup", "name": "Installation and setup", "currency": "USD", "charge": {"type": "one_time"},
         "model": "flat", "amount": "250.00"}
    ]))?;
    for price in prices {
        store.put_price(&price.parse()?, None).await?;
    }
    let cohort = Cohort::parse("demo-colo", "Demo colocation", go_live)?;
    store.put_cohort(&cohort, None).await?;
    let line: ImportLine = serde_json::from_value(serde_json::json!({
        "account_id": DEMO_CONTRACT_ACCOUNT, "name": "Demo Colocation Tenant GmbH", "currency": "USD",
        "contact": {"name": "Avery Admin", "email": DEMO_USERS[0].1},
        "address": {"line1": "200 Rack Row", "city": "Springfield", "region": "IL", "postal_code": "62702", "country": "US"},
        "billing_mode": "invoice", "bill_day": 1,
        "subscriptions": [
            {"id": "a12-racks", "price_id": "demo_rack", "group": "Springfield DC / Cage 7", "description": "Racks A12–A13",
             "start": go_live, "quantity": 2},
            {"id": "a14-rack", "price_id": "demo_rack", "group": "Springfield DC / Cage 7", "description": "Rack A14",
             "start": day(go_live, 14), "quantity": 1},
            {"id": "cage7-power", "price_id": "demo_power", "group": "Springfield DC / Cage 7", "start": go_live},
            {"id": "cage7-bw", "price_id": "demo_bandwidth", "group": "Springfield DC / Network", "start": go_live},
            {"id": "cage7-setup", "price_id": "demo_setup", "group": "Springfield DC / Cage 7", "start": go_live, "quantity": 1}
        ]
    }))?;
    let imported = line.parse(&cohort, &store.prices().await?)?;
    let mut contract = imported.contract;
    contract.tax.codes = vec!["il_state".parse()?, "us_il_springfield".parse()?];
    let account = Account {
        billing_mode: BillingMode::Invoice,
        ..Account::open(id.clone(), imported.account, go_live.and_time(NaiveTime::MIN).and_utc())
    };
    let ops = Actor { user_id: "dev-seed".parse()?, email: None };
    let audit =
        AuditEntry::record(&id, &ops, AuditAction::AccountImported, None, None::<&Account>, Some(&account), now);
    store.import_account(&account, &contract, &audit).await?;
    let (_, admin_email, _) = DEMO_USERS[0];
    let admin = Member::founder(id.clone(), admin_sub.parse()?, admin_email.parse()?, now);
    let audit = AuditEntry::record(
        &id,
        &ops,
        AuditAction::MemberInvited,
        Some(admin.id.to_string()),
        None::<&Member>,
        Some(&admin),
        now,
    );
    store.add_member(&admin, &audit).await?;

    // Two months of usage, and this month's so far (each in the bucket of the bill that charges it).
    let usage = [
        ("bandwidth_gb", 1180, day(go_live, 9)),
        ("power_kwh", 2350, day(go_live, 9)),
        ("bandwidth_gb", 1420, day(last_month, 11)),
        ("power_kwh", 2600, day(last_month, 11)),
        ("bandwidth_gb", 640, today),
        ("power_kwh", 900, today),
    ];
    let mut records = Vec::new();
    for (i, (metric, quantity, date)) in usage.into_iter().enumerate() {
        let metric: Metric = metric.parse()?;
        let bucket = contract.bucket_for(&metric, date).map_err(|e| anyhow::anyhow!(e.message()))?;
        let timestamp = if date == today { now - chrono::Duration::minutes(5) } else { at(date, 10) };
        records.push((
            bucket,
            UsageEvent { account_id: id.clone(), metric, quantity, timestamp, idempotency_key: format!("demo-{i}") },
        ));
    }
    store.store_usage(&contract, &records, now).await?;

    // The bill run as it ran on each bill date, and the checks the customer mailed in between
    // (each before the next bill, so that bill's account summary counts it): the first bill
    // paid in full three weeks in, 500.00 of the second.
    let run = bill_run::BillRun::from_arc(
        store.clone(),
        bill_run::Settings { invoice_prefix: invoice_prefix.to_owned(), ..Default::default() },
    );
    let checks = [(None, "2201", day(go_live, 21)), (Some("500.00"), "2245", day(last_month, 24).min(today))];
    for (n, bill_date) in [go_live, last_month, this_month].into_iter().enumerate() {
        let request = bill_run::RunRequest {
            mode: bill_run::Mode::Finalize,
            date: Some(bill_date),
            accounts: Some(vec![id.clone()]),
            drafts_only: false,
        };
        let report = run.run(&request, at(bill_date, 6), None).await;
        if let Some(f) = report.failures.first() {
            anyhow::bail!("the demo contract account's bill of {bill_date}: {}", f.error);
        }
        let Some(invoice_id) = report.results.into_iter().find_map(|r| r.invoice_id) else { continue };
        let Some(&(part, number, received_on)) = checks.get(n) else { continue };
        let invoice =
            store.contract_invoice(&id, &invoice_id).await?.ok_or_else(|| anyhow::anyhow!("bill {invoice_id}"))?;
        let amount = match part {
            Some(p) => Money::new(p.parse()?, invoice.currency),
            None => invoice.amount_remaining,
        };
        let incoming = Incoming {
            account_id: id.clone(),
            invoice_id,
            amount,
            reference: format!("check:{number}"),
            method: "check",
            check_number: Some(number.to_string()),
            received_on,
            actor: ops.clone(),
            recorded_by: "dev-seed".into(),
            when_closed: WhenClosed::Refuse,
            reason: None,
        };
        receipts::receive(&**store, &incoming, at(received_on, 15).min(now)).await?;
    }
    // The payment reminders the schedule has reached by now.
    run.queue_reminders(today, now).await?;
    Ok(true)
}

fn at(date: NaiveDate, hour: u32) -> chrono::DateTime<Utc> {
    date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("an hour")).and_utc()
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
