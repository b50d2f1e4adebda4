//! A storm of signed Stripe events for many accounts while DynamoDB fails a share of its calls
//! (throttling, 500s, timeouts, responses lost after the write), delivered as Stripe delivers:
//! shuffled, each event one to three times, several at once, and again after every non-2xx
//! answer, while each account's admin sets its bill recipients and invites two people through the
//! portal over the same failing store. Afterwards nothing is lost or applied twice, and every
//! figure adds up. Then the
//! invoice mailer sends the mail those events call for while SES and its mail ledger fail a share
//! of their calls: every mail arrives, and a second copy only ever follows an SES answer lost
//! after SES took the mail.
//!
//! `make test` runs a bounded storm; a bigger one: `STORM_ACCOUNTS=100 STORM_FAULT_PERCENT=20
//! cargo test -p integration-tests --test integration storm -- --nocapture` (figures in
//! `docs/reliability.md`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use billing_aws::DynamoStore;
use billing_domain::billing::EventOutcome;
use billing_domain::ports::{AccountReader, AccountWriter, MemberReader, ProcessorEvents};
use billing_domain::{Account, AccountId, Actor, Address, AddressInput, AuditAction, AuditEntry, BillingContact};
use billing_domain::{Currency, Member, NewAccount};
use futures::StreamExt;
use integration_tests::storm::{Faults, Rng, faulty_config};
use integration_tests::stripe::{sample, strip_account_hints};
use integration_tests::{Stack, User};
use invoice_mailer::Mailer;
use invoice_mailer::send::Ses;
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_storm";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One account's story, as Stripe would tell it: checkout (the link), three subscription
/// changes, two bills (the first paid), a card. Every object names its customer only, so events
/// that arrive before the checkout are parked.
struct Story {
    account: AccountId,
    events: Vec<Value>,
    seats: u64,
    open_minor: i64,
}

fn story(i: usize, rng: &mut Rng) -> Story {
    let account: AccountId = format!("acct_storm{i:05}").parse().unwrap();
    let customer = format!("cus_Storm{i:08}");
    let sub = format!("sub_Storm{i:08}");
    let base = 1_795_000_000 + (i as i64) * 100;
    let mut events = Vec::new();
    let mut push = |name: &str, n: usize, edit: &dyn Fn(&mut Value)| {
        let mut ev = sample(name);
        ev["id"] = json!(format!("evt_storm{i:05}_{n:02}"));
        ev["created"] = json!(base + n as i64);
        ev["data"]["object"]["customer"] = json!(customer);
        strip_account_hints(&mut ev["data"]);
        edit(&mut ev["data"]["object"]);
        events.push(ev);
    };
    push("checkout.session.completed.json", 0, &|o| {
        o["client_reference_id"] = json!(account.as_str());
        o["subscription"] = json!(sub);
    });
    let quantities = [1 + rng.below(5), 1 + rng.below(20), 1 + rng.below(50)];
    for (n, q) in quantities.iter().enumerate() {
        let name = if n == 0 { "customer.subscription.created.json" } else { "customer.subscription.updated.json" };
        push(name, 1 + n, &|o| {
            o["id"] = json!(sub);
            o["items"]["data"][0]["quantity"] = json!(q);
        });
    }
    let first = 100 * (1 + rng.below(500) as i64);
    let second = 100 * (1 + rng.below(500) as i64);
    let invoice = |o: &mut Value, id: String, amount: i64, paid: bool| {
        o["id"] = json!(id);
        o["amount_due"] = json!(amount);
        o["amount_remaining"] = json!(if paid { 0 } else { amount });
        o["amount_paid"] = json!(if paid { amount } else { 0 });
        o["total"] = json!(amount);
        o["subtotal"] = json!(amount);
        o["total_excluding_tax"] = json!(amount);
        o["subtotal_excluding_tax"] = json!(amount);
        o["lines"]["data"][0]["amount"] = json!(amount);
    };
    push("invoice.finalized.json", 4, &|o| invoice(o, format!("in_Storm{i:06}a"), first, false));
    push("invoice.paid.json", 5, &|o| invoice(o, format!("in_Storm{i:06}a"), first, true));
    push("invoice.finalized.json", 6, &|o| invoice(o, format!("in_Storm{i:06}b"), second, false));
    push("payment_method.attached.json", 7, &|o| o["id"] = json!(format!("pm_Storm{i:08}")));
    Story { account, events, seats: quantities[2], open_minor: second }
}

/// Each storm account's billing contact: its own address, so its mail is counted apart.
fn contact(id: &AccountId) -> String {
    format!("ap.{id}@storm.example")
}

const ADMIN: &str = "storm-admin";

/// Adds a line to `wrong` unless `items` hold exactly `want` items with each value of `field`.
fn expect_counts(wrong: &mut Vec<String>, account: &AccountId, items: &[Value], field: &str, want: &[(&str, usize)]) {
    let got: Vec<(&str, usize)> =
        want.iter().map(|(value, _)| (*value, items.iter().filter(|i| i[field] == *value).count())).collect();
    if got != want {
        wrong.push(format!("{account}: {field} counts {got:?}, expected {want:?}"));
    }
}

fn invitee(id: &AccountId, role: &str) -> String {
    format!("{role}.{id}@storm.example")
}

fn recipient(id: &AccountId) -> String {
    format!("ar.{id}@storm.example")
}

/// One account's portal traffic during the storm, as its admin's client sends it: the bill
/// recipients set, two people invited. A request answered 5xx (or with a lost condition) is sent
/// again, as a client told to retry does; an invitation answered `member_exists` after such a
/// failure had landed, its answer lost.
async fn portal_requests(portal: &Stack, st: &Story, retried: &AtomicU64) {
    let admin = User::new(ADMIN).with_email(&contact(&st.account));
    let base = format!("/v1/accounts/{}", st.account);
    let requests = [
        ("PUT", format!("{base}/bill-recipients"), json!({"recipients": [recipient(&st.account)]})),
        ("POST", format!("{base}/members"), json!({"email": invitee(&st.account, "billing"), "role": "billing"})),
        ("POST", format!("{base}/members"), json!({"email": invitee(&st.account, "viewer"), "role": "viewer"})),
    ];
    for (method, path, body) in requests {
        let mut failed_before = false;
        for attempt in 1.. {
            let r = portal.call(&admin, method, &path, Some(body.clone())).await;
            if r.status.is_success() || (failed_before && r.code() == "member_exists") {
                break;
            }
            assert!(r.status.is_server_error() || r.code() == "conflict", "{method} {path}: {:?}", r.body);
            assert!(attempt < 50, "{method} {path} refused 50 times");
            failed_before = true;
            retried.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn faults_of(c: &integration_tests::storm::Counts) -> Value {
    json!({
        "total": c.faults(),
        "throttled": c.throttled.load(Ordering::SeqCst),
        "server_errors": c.server_errors.load(Ordering::SeqCst),
        "timed_out": c.timed_out.load(Ordering::SeqCst),
        "responses_lost_after_the_write": c.lost_responses.load(Ordering::SeqCst),
    })
}

pub(crate) async fn open_account(store: &DynamoStore, id: &AccountId) {
    let now = chrono::Utc::now();
    let email = contact(id);
    let new = NewAccount {
        name: format!("Storm {id}"),
        currency: Currency::USD,
        billing_contact: BillingContact::parse("Ann Payable", &email, None).unwrap(),
        billing_address: Address::parse(AddressInput {
            line1: "1 Main St",
            line2: None,
            city: "Springfield",
            region: None,
            postal_code: None,
            country: "US",
        })
        .unwrap(),
    };
    let account = Account::open(id.clone(), new, now);
    let admin = Actor { user_id: ADMIN.parse().unwrap(), email: Some(email.parse().unwrap()) };
    let founder = Member::founder(id.clone(), admin.user_id.clone(), email.parse().unwrap(), now);
    let audit =
        AuditEntry::record(id, &admin, AuditAction::AccountCreated, None, None::<&Account>, Some(&account), now);
    store.create_account(&account, &founder, &audit, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_events_under_store_faults_loses_nothing_and_applies_nothing_twice() {
    let (accounts, percent, seed) =
        (setting("STORM_ACCOUNTS", 12) as usize, setting("STORM_FAULT_PERCENT", 15), setting("STORM_SEED", 7));
    let s = Stack::new().await;
    let clean = s.store();
    let mut rng = Rng::new(seed);
    let stories: Vec<Story> = (0..accounts).map(|i| story(i, &mut rng)).collect();
    for st in &stories {
        open_account(&clean, &st.account).await;
    }

    // The webhook's store goes through the faults.
    let faults = Faults::new(percent, seed);
    let aws = faulty_config(&s.aws, &faults);
    let faulty = DynamoStore::new(Client::new(&aws), clean.table());
    let webhook = s.webhook_over(faulty.clone(), &[SECRET]);
    // So does the portal's: each account's admin changes its bill recipients and invites two
    // people while the events land (the recipients race the webhook's balance writes on the
    // account item).
    let portal = s.with_store(faulty);

    let mut deliveries: Vec<String> = Vec::new();
    for ev in stories.iter().flat_map(|st| &st.events) {
        for _ in 0..1 + rng.below(3) {
            deliveries.push(ev.to_string());
        }
    }
    rng.shuffle(&mut deliveries);
    let (answered_5xx, outcomes) = (AtomicU64::new(0), std::sync::Mutex::new(BTreeMap::<String, u64>::new()));
    let started = Instant::now();
    let portal_retried = AtomicU64::new(0);
    let portal_traffic = futures::stream::iter(stories.iter())
        .for_each_concurrent(4, |st| portal_requests(&portal, st, &portal_retried));
    let events = futures::stream::iter(deliveries.iter()).for_each_concurrent(8, |body| {
        let (s, webhook, answered_5xx, outcomes) = (&s, &webhook, &answered_5xx, &outcomes);
        async move {
            // As Stripe does: again after every non-2xx answer (here without its hours of backoff).
            for attempt in 1.. {
                let r = s.deliver(webhook, body, Some(&devstack::sign_event(body, SECRET))).await;
                if r.status.is_success() {
                    let key = r.body["result"].to_string().replace('"', "");
                    *outcomes.lock().unwrap().entry(key).or_default() += 1;
                    break;
                }
                assert!(r.status.is_server_error(), "{}: {:?}", r.status, r.body);
                assert!(attempt < 50, "an event refused 50 times: {body}");
                answered_5xx.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    tokio::join!(events, portal_traffic);
    let storm_secs = started.elapsed().as_secs_f64();

    // The recovery job's sweep, after the storm: what a link's own replay could not finish.
    faults.on.store(false, Ordering::SeqCst);
    let swept =
        stripe_webhook::apply::sweep_parked(&clean, None, None, chrono::Duration::hours(24), chrono::Utc::now())
            .await
            .unwrap();

    // Nothing lost: every event is recorded as applied (or stale: a newer one got there first).
    let mut lost = 0;
    let mut outcomes_stored: BTreeMap<String, u64> = BTreeMap::new();
    for ev in stories.iter().flat_map(|st| &st.events) {
        match clean.event_record(ev["id"].as_str().unwrap()).await.unwrap() {
            Some(r) if matches!(r.outcome, EventOutcome::Applied | EventOutcome::Stale) => {
                *outcomes_stored.entry(format!("{:?}", r.outcome).to_lowercase()).or_default() += 1;
            }
            other => {
                lost += 1;
                eprintln!("lost: {} {:?}", ev["id"], other.map(|r| r.outcome));
            }
        }
    }
    // Nothing twice, and every figure adds up: each account's seats are the newest quantity,
    // its balance the sum of its open bills, one follow-up per event that asks for one.
    let work = s.items_of("work_item").await;
    let mut wrong = Vec::new();
    for st in &stories {
        let sub =
            clean.subscription(&st.account, st.events[1]["data"]["object"]["id"].as_str().unwrap()).await.unwrap();
        if sub.as_ref().map(|s| u64::from(s.seats.get())) != Some(st.seats) {
            wrong.push(format!("{}: seats {:?}, paid for {}", st.account, sub.map(|s| s.seats.get()), st.seats));
        }
        let account = clean.account(&st.account).await.unwrap().unwrap();
        if account.balance_due.to_minor().unwrap() != st.open_minor {
            wrong.push(format!("{}: balance {} but open bills {}", st.account, account.balance_due, st.open_minor));
        }
        // The portal's writes: each exactly once, with one audit entry each.
        let members = clean.members(&st.account).await.unwrap();
        let mut emails: Vec<String> = members.iter().map(|m| m.email.to_string()).collect();
        emails.sort();
        let mut expected = vec![contact(&st.account), invitee(&st.account, "billing"), invitee(&st.account, "viewer")];
        expected.sort();
        if emails != expected {
            wrong.push(format!("{}: members {emails:?}", st.account));
        }
        if account.bill_recipients.as_slice().iter().map(ToString::to_string).collect::<Vec<_>>()
            != [recipient(&st.account)]
        {
            wrong.push(format!("{}: bill recipients {:?}", st.account, account.bill_recipients));
        }
        let admin = User::new(ADMIN).with_email(&contact(&st.account));
        let audit = s.audit(&admin, st.account.as_str()).await;
        expect_counts(
            &mut wrong,
            &st.account,
            &audit,
            "action",
            &[("member.invited", 2), ("account.bill_recipients_updated", 1)],
        );
        let mine: Vec<Value> = work.iter().filter(|w| w["account_id"] == st.account.as_str()).cloned().collect();
        expect_counts(&mut wrong, &st.account, &mine, "kind", &[("bill_ready", 2), ("payment_received", 1)]);
    }
    let parked_left = s.items_of("parked_event").await.len();

    // The mail: the invoice mailer takes the work items through its own faults (SES and its mail
    // ledger in DynamoDB), retried as Lambda retries a stream batch that reports failures: again
    // from the first failed record.
    let (ses_faults, ledger_faults) = (Faults::new(percent, seed ^ 0x5e5), Faults::new(percent, seed ^ 0x1ed));
    devstack::outbox::verify_sender(&s.aws, crate::mailer::FROM).await.unwrap();
    let mailer = Mailer::new(
        DynamoStore::new(Client::new(&faulty_config(&s.aws, &ledger_faults)), clean.table()),
        Ses::new(&faulty_config(&s.aws, &ses_faults), None),
        // Time compressed: a claim whose sender gave up (its release failed too) is taken over
        // after 2 s instead of 5 minutes.
        invoice_mailer::MailSettings { send_lease_secs: 2, ..crate::mailer::settings() },
    );
    let mut batch = s.stream_of("work_item").await;
    let work_items = batch.records.len();
    let mut mail_rounds = 0;
    loop {
        mail_rounds += 1;
        let failed = mailer.handle(batch.clone()).await.batch_item_failures;
        if mail_rounds >= 100 {
            let stuck: Vec<String> = batch
                .records
                .iter()
                .filter(|r| failed.iter().any(|f| f.item_identifier.as_deref() == r.change.sequence_number.as_deref()))
                .map(|r| format!("{:?}", r.change.new_image))
                .take(3)
                .collect();
            panic!("the mail batch kept failing: {stuck:#?}");
        }
        let Some(first) = batch
            .records
            .iter()
            .position(|r| failed.iter().any(|f| f.item_identifier.as_deref() == r.change.sequence_number.as_deref()))
        else {
            break;
        };
        batch.records.drain(..first);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Each account's contact: one mail per bill and one receipt, whatever failed on the way. A
    // copy is only possible where SES took a mail and its answer was lost (it has no idempotency
    // key): counted apart, and never more than such losses.
    let sent = devstack::moto::sent_raw_messages(&s.endpoint).unwrap();
    let mut per_mail: BTreeMap<(String, String), u64> = BTreeMap::new();
    for m in &sent {
        let to = m["destinations"][0].as_str().unwrap_or_default();
        if !to.ends_with("@storm.example") {
            continue;
        }
        let raw = m["raw_data"].as_str().unwrap_or_default();
        let id = raw.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap_or_default();
        *per_mail.entry((to.to_owned(), id.to_owned())).or_default() += 1;
    }
    let mut missing_mail = Vec::new();
    for st in &stories {
        let to = contact(&st.account);
        let kinds =
            |prefix: &str| per_mail.keys().filter(|(t, id)| *t == to && id.starts_with(&format!("<{prefix}."))).count();
        if (kinds("bill_ready"), kinds("payment_received")) != (2, 1) {
            missing_mail.push(format!("{to}: {} bills, {} receipts", kinds("bill_ready"), kinds("payment_received")));
        }
        for who in [invitee(&st.account, "billing"), invitee(&st.account, "viewer")] {
            let invitations =
                per_mail.keys().filter(|(t, id)| *t == who && id.starts_with("<member_invitation.")).count();
            if invitations != 1 {
                missing_mail.push(format!("{who}: {invitations} invitations"));
            }
        }
    }
    let copies: u64 = per_mail.values().map(|n| n - 1).sum();
    let (m, l) = (&ses_faults.counts, &ledger_faults.counts);
    let c = &faults.counts;
    let figures = json!({
        "accounts": accounts,
        "events": stories.iter().map(|st| st.events.len()).sum::<usize>(),
        "deliveries": deliveries.len(),
        "concurrency": 8,
        "fault_percent": percent,
        "seed": seed,
        "store_calls": c.calls.load(Ordering::SeqCst),
        "faults_injected": faults_of(c),
        "answered_5xx_and_redelivered": answered_5xx.load(Ordering::SeqCst),
        "portal_requests": 3 * accounts,
        "portal_requests_retried": portal_retried.load(Ordering::SeqCst),
        "answers": outcomes.lock().unwrap().clone(),
        "replayed_by_the_sweep": swept.replayed.applied,
        "ledger": outcomes_stored,
        "lost_events": lost,
        "left_parked": parked_left,
        "wrong_figures": wrong.len(),
        "storm_seconds": (storm_secs * 10.0).round() / 10.0,
        "mail": {
            "work_items": work_items,
            "mails": per_mail.len(),
            "batch_rounds": mail_rounds,
            "ses_calls": m.calls.load(Ordering::SeqCst),
            "ses_faults_injected": faults_of(m),
            "mail_ledger_calls": l.calls.load(Ordering::SeqCst),
            "mail_ledger_faults_injected": faults_of(l),
            "missing": missing_mail.len(),
            "copies_after_a_lost_answer": copies,
        },
    });
    println!("storm figures: {}", serde_json::to_string_pretty(&figures).unwrap());
    assert!(c.faults() > 0, "the storm injected faults");
    assert_eq!((lost, parked_left), (0, 0), "every accepted event applied: {figures}");
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(missing_mail.is_empty(), "{missing_mail:#?}");
    assert!(copies <= m.lost_responses.load(Ordering::SeqCst), "a mail sent twice without a lost answer: {figures}");
}
