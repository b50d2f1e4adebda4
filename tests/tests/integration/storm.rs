//! A storm of signed Stripe events for many accounts while DynamoDB fails a share of its calls
//! (throttling, 500s, timeouts, responses lost after the write) and so does Stripe's API, which
//! the webhook reads from (500s, 429s with Retry-After, answers held past the client's timeout):
//! delivered as Stripe delivers, shuffled, each event one to three times, many at once, and
//! again after every non-2xx answer. Meanwhile each account's admin sets its bill recipients and
//! invites two people through the portal, and the contract accounts' usage for the month arrives
//! through the ops API, all over the same failing store. Then the bill run, fanned out through
//! the stand-in's SQS to workers, bills the contract accounts under the same faults while this
//! month's usage keeps arriving. Afterwards nothing is lost or applied twice, and every figure
//! adds up. Then the invoice mailer, sharded as a stream is, sends the mail those events and
//! bills call for while SES and its mail ledger fail a share of their calls: every mail arrives,
//! and a second copy only ever follows an SES answer lost after SES took the mail.
//!
//! `make test` runs a bounded storm; the 10,000-event one (figures in `docs/reliability.md`):
//! `STORM_ACCOUNTS=1250 STORM_FAULT_PERCENT=20 STORM_SEED=2026 STORM_CONCURRENCY=32
//! STORM_CONTRACT_ACCOUNTS=125 STORM_WORKERS=4 STORM_MAIL_SHARDS=16 cargo test -p
//! integration-tests --test integration storm -- --nocapture`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use bill_run::{BillRun, Mode, RunRequest, Settings};
use billing_aws::{DynamoStore, SqsBillJobs};
use billing_domain::billing::EventOutcome;
use billing_domain::ports::{AccountReader, AccountWriter, MemberReader, ProcessorEvents};
use billing_domain::{Account, AccountId, Actor, Address, AddressInput, AuditAction, AuditEntry, BillingContact};
use billing_domain::{Currency, Member, NewAccount};
use chrono::NaiveDate;
use devstack::fake_stripe::StripeFaults;
use futures::StreamExt;
use integration_tests::storm::{Faults, Rng, faulty_config};
use integration_tests::stripe::{sample, strip_account_hints};
use integration_tests::{Stack, User};
use invoice_mailer::Mailer;
use invoice_mailer::send::Ses;
use serde_json::{Value, json};
use stripe_webhook::stripe_api::StripeApi;

use crate::contract_billing::{catalog, cohort, line, months};

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
    /// What Stripe holds now: the subscription as its last change left it, and each bill's
    /// lines (the events carry only the first page).
    subscription: Value,
    lines: Vec<(String, Vec<Value>)>,
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
        // The two seat updates happen in the same second: their payloads cannot be ordered, so
        // whichever is applied second re-reads the subscription from Stripe.
        ev["created"] = json!(base + if n == 3 { 2 } else { n as i64 });
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
    // Each bill has two lines; its events carry the first (`has_more`), the webhook reads the
    // rest from Stripe, and the product's name too.
    let lines_of = |id: &str, amount: i64| -> Vec<Value> {
        let first = sample("invoice.finalized.json")["data"]["object"]["lines"]["data"][0].clone();
        [(1, amount / 2), (2, amount - amount / 2)]
            .into_iter()
            .map(|(n, a)| {
                let mut l = first.clone();
                l["id"] = json!(format!("il_{id}_{n}"));
                l["invoice"] = json!(id);
                l["amount"] = json!(a);
                l["subtotal"] = json!(a);
                l
            })
            .collect()
    };
    let invoice = |o: &mut Value, id: String, amount: i64, paid: bool| {
        o["id"] = json!(id);
        o["amount_due"] = json!(amount);
        o["amount_remaining"] = json!(if paid { 0 } else { amount });
        o["amount_paid"] = json!(if paid { amount } else { 0 });
        o["total"] = json!(amount);
        o["subtotal"] = json!(amount);
        o["total_excluding_tax"] = json!(amount);
        o["subtotal_excluding_tax"] = json!(amount);
        o["lines"]["data"] = json!([lines_of(&id, amount)[0]]);
        o["lines"]["has_more"] = json!(true);
        o["lines"]["url"] = json!(format!("/v1/invoices/{id}/lines"));
    };
    push("invoice.finalized.json", 4, &|o| invoice(o, format!("in_Storm{i:06}a"), first, false));
    push("invoice.paid.json", 5, &|o| invoice(o, format!("in_Storm{i:06}a"), first, true));
    push("invoice.finalized.json", 6, &|o| invoice(o, format!("in_Storm{i:06}b"), second, false));
    push("payment_method.attached.json", 7, &|o| o["id"] = json!(format!("pm_Storm{i:08}")));
    let subscription = events[3]["data"]["object"].clone();
    let lines = vec![
        (format!("in_Storm{i:06}a"), lines_of(&format!("in_Storm{i:06}a"), first)),
        (format!("in_Storm{i:06}b"), lines_of(&format!("in_Storm{i:06}b"), second)),
    ];
    Story { account, events, seats: quantities[2], open_minor: second, subscription, lines }
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

/// The contract (invoice-billed) accounts of the storm: imported and billed once on go-live
/// before it; their usage arrives during it; the bill run bills them after it, fanned out.
fn contract_id(i: usize) -> String {
    format!("acct_stormc{i:05}")
}

fn contract_contact(id: &str) -> String {
    format!("ap@{}.example", id.replace('_', "-"))
}

/// `each` usage records per contract account for the month billed (seeded GB), and the GB each
/// account used.
fn usage_records(ids: &[String], each: u64, month: NaiveDate, rng: &mut Rng) -> (Vec<Value>, BTreeMap<String, u64>) {
    let mut records = Vec::new();
    let mut used = BTreeMap::new();
    for id in ids {
        for k in 0..each {
            let gb = 1 + rng.below(400);
            *used.entry(id.clone()).or_default() += gb;
            let at = month + chrono::Days::new(k % 27);
            records.push(json!({"account_id": id, "metric": "bandwidth_gb", "quantity": gb,
                "timestamp": format!("{at}T06:00:00Z"), "idempotency_key": format!("storm-{id}-{k}")}));
        }
    }
    rng.shuffle(&mut records);
    (records, used)
}

/// Usage for the current month (after the bill date): it must not reach the bill being run.
fn current_usage(ids: &[String], at: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    ids.iter()
        .map(|id| {
            json!({"account_id": id, "metric": "bandwidth_gb", "quantity": 5000,
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "idempotency_key": format!("storm-now-{id}")})
        })
        .collect()
}

/// Posts `records` to `POST /v1/usage` of `ops` in batches of 50, each sent again after a 5xx
/// as a client told to retry does; every record must end stored (accepted or, after a failed
/// attempt that stored part of the batch, a duplicate).
async fn post_usage(s: &Stack, ops: &axum::Router, records: &[Value], retried: &AtomicU64) {
    for batch in records.chunks(50) {
        for attempt in 1.. {
            let r = s.ops_over(ops, "POST", "/v1/usage", Some(json!({"records": batch}))).await;
            if r.status.is_success() {
                assert_eq!(r.body["rejected"], 0, "{:?}", r.body);
                break;
            }
            assert!(r.status.is_server_error() || r.code() == "conflict", "{}: {:?}", r.status, r.body);
            assert!(attempt < 50, "a usage batch refused 50 times");
            retried.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The bill run fanned out over `store` (failing): the scheduler hands the due accounts out
/// through the stand-in's SQS (its sends failing too), `workers` workers bill them; run again,
/// as the hourly schedule does, until nothing is due and nothing is queued.
async fn bill_run_under_faults(
    s: &Stack,
    store: &DynamoStore,
    sqs_aws: &aws_config::SdkConfig,
    date: NaiveDate,
    workers: usize,
) -> Value {
    let sqs = aws_sdk_sqs::Client::new(&s.aws);
    let queues = devstack::jobs::create_from_template(&sqs, &format!("{}-storm", s.table), Duration::from_secs(1))
        .await
        .expect("the job queues");
    let queue = SqsBillJobs::new(aws_sdk_sqs::Client::new(sqs_aws), &queues.jobs_url);
    let scheduler = BillRun::new(store.clone(), Settings::default());
    let request = RunRequest { mode: Mode::Finalize, date: Some(date), accounts: None, drafts_only: false };
    let runs: Vec<Arc<BillRun<DynamoStore>>> = (0..workers)
        .map(|_| Arc::new(BillRun::new(store.clone(), Settings { concurrency: 4, ..Settings::default() })))
        .collect();
    let (mut dispatches, mut finalized, mut failed, mut batches) = (Vec::new(), 0, 0, 0);
    for round in 1.. {
        assert!(round <= 30, "the bill run kept finding work: {dispatches:?}");
        let report = scheduler.dispatch(&queue, &request, chrono::Utc::now(), None).await;
        dispatches.push(json!([report.dispatched, report.failures.len()]));
        if report.dispatched == 0 && report.failures.is_empty() && report.backlog == 0 {
            break;
        }
        let (handler, tally) = devstack::jobs::round_robin(runs.clone(), 4);
        devstack::jobs::work(sqs.clone(), queues.clone(), workers, Arc::new(AtomicBool::new(true)), handler)
            .await
            .expect("the workers drain the queue");
        finalized += tally.finalized.load(Ordering::SeqCst);
        failed += tally.failed.load(Ordering::SeqCst);
        batches += tally.batches.load(Ordering::SeqCst);
    }
    json!({
        "workers": workers,
        "dispatches_as_dispatched_and_failed": dispatches,
        "worker_batches": batches,
        "finalized": finalized,
        "jobs_failed_and_received_again": failed,
        "numbers_taken_again": runs.iter().map(|r| r.numbers_lost()).sum::<u64>(),
        "dead_letters": devstack::jobs::backlog(&sqs, &queues.dead_letters_url).await.expect("dead letters"),
    })
}

/// The invoice mailer over the work items' stream as Lambda reads it: records sharded by their
/// key (a key's records stay in order in one shard), `shards` shards at once, batches of 100, a
/// batch that reports failures handed again from its first failed record. Returns the rounds.
async fn mail_all(mailer: &Mailer, batch: aws_lambda_events::event::dynamodb::Event, shards: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut sharded: Vec<Vec<_>> = vec![Vec::new(); shards.max(1)];
    for r in batch.records {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}", r.change.keys).hash(&mut h);
        sharded[(h.finish() % shards.max(1) as u64) as usize].push(r);
    }
    let rounds = AtomicU64::new(0);
    futures::stream::iter(sharded)
        .for_each_concurrent(shards, |records| {
            let rounds = &rounds;
            async move {
                for chunk in records.chunks(100) {
                    let mut batch = aws_lambda_events::event::dynamodb::Event::default();
                    batch.records = chunk.to_vec();
                    for round in 1.. {
                        rounds.fetch_add(1, Ordering::SeqCst);
                        let failed = mailer.handle(batch.clone()).await.batch_item_failures;
                        let first = batch.records.iter().position(|r| {
                            failed.iter().any(|f| f.item_identifier.as_deref() == r.change.sequence_number.as_deref())
                        });
                        let Some(first) = first else { break };
                        assert!(round < 100, "a mail batch kept failing: {:?}", batch.records[first].change.new_image);
                        batch.records.drain(..first);
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        })
        .await;
    rounds.load(Ordering::SeqCst) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_events_under_store_and_stripe_faults_loses_nothing_and_applies_nothing_twice() {
    let (accounts, percent, seed) =
        (setting("STORM_ACCOUNTS", 12) as usize, setting("STORM_FAULT_PERCENT", 15), setting("STORM_SEED", 7));
    let concurrency = setting("STORM_CONCURRENCY", 8) as usize;
    let contracts = setting("STORM_CONTRACT_ACCOUNTS", 6) as usize;
    let usage_each = setting("STORM_USAGE_RECORDS", 8);
    let workers = setting("STORM_WORKERS", 2) as usize;
    let shards = setting("STORM_MAIL_SHARDS", 4) as usize;
    let s = Stack::new().await;
    let clean = s.store();
    let mut rng = Rng::new(seed);
    let stories: Vec<Story> = (0..accounts).map(|i| story(i, &mut rng)).collect();
    let set_up = Instant::now();
    futures::stream::iter(&stories).for_each_concurrent(8, |st| open_account(&clean, &st.account)).await;

    // What Stripe holds: each subscription as its last change left it, each bill's lines, the
    // seat product. Its API fails a share of calls: 500s, 429s with Retry-After, answers held
    // past the client's timeout.
    for st in &stories {
        s.fake.put(st.subscription.clone());
        for (id, lines) in &st.lines {
            s.fake.put_invoice_lines(id, lines.clone());
        }
    }
    s.fake.put(sample("product.updated.json")["data"]["object"].clone());
    let stripe_faults = Arc::new(StripeFaults::new(percent, seed ^ 0x57e, Duration::from_millis(1500)));
    s.fake.inject_faults(stripe_faults.clone());
    let stripe = StripeApi::with_timeout("sk_test_storm", Some(&s.stripe_url), Duration::from_secs(1)).unwrap();

    // The contract accounts: imported, billed on go-live (the month before), through a clean
    // store; their usage for that month comes during the storm.
    let (m1, m0) = months();
    catalog(&s).await;
    cohort(&s, "storm", m1).await;
    let contract_ids: Vec<String> = (0..contracts).map(contract_id).collect();
    for chunk in contract_ids.chunks(500) {
        let lines: Vec<String> = chunk.iter().map(|id| line(id, &id.replace('_', "-"), &[])).collect();
        crate::contract_billing::import(&s, "storm", &lines).await;
    }
    let go_live = BillRun::new(clean.clone(), Settings::default())
        .run(
            &RunRequest { mode: Mode::Finalize, date: Some(m1), accounts: None, drafts_only: false },
            chrono::Utc::now(),
            None,
        )
        .await;
    assert!(go_live.failures.is_empty() && go_live.results.len() == contracts, "{:?}", go_live.failures);
    let (usage, used) = usage_records(&contract_ids, usage_each, m1, &mut rng);
    let set_up_secs = set_up.elapsed().as_secs_f64();

    // The webhook's store goes through the faults.
    let faults = Faults::new(percent, seed);
    let aws = faulty_config(&s.aws, &faults);
    let faulty = DynamoStore::new(Client::new(&aws), clean.table());
    let webhook = stripe_webhook::router(
        stripe_webhook::AppState::new(faulty.clone(), vec![SECRET.to_owned()]).with_stripe(stripe),
    );
    // So does the portal's: each account's admin changes its bill recipients and invites two
    // people while the events land (the recipients race the webhook's balance writes on the
    // account item). And the ops API's, which takes the contract accounts' usage.
    let portal = s.with_store(faulty.clone());
    let ops = ops_api::router(ops_api::OpsState::new(faulty.clone(), Settings::default()));

    let mut deliveries: Vec<String> = Vec::new();
    for ev in stories.iter().flat_map(|st| &st.events) {
        for _ in 0..1 + rng.below(3) {
            deliveries.push(ev.to_string());
        }
    }
    rng.shuffle(&mut deliveries);
    let (answered_5xx, outcomes) = (AtomicU64::new(0), std::sync::Mutex::new(BTreeMap::<String, u64>::new()));
    let started = Instant::now();
    let (portal_retried, usage_retried) = (AtomicU64::new(0), AtomicU64::new(0));
    let portal_traffic = futures::stream::iter(stories.iter())
        .for_each_concurrent(4, |st| portal_requests(&portal, st, &portal_retried));
    let usage_traffic = futures::stream::iter(usage.chunks(500))
        .for_each_concurrent(2, |part| post_usage(&s, &ops, part, &usage_retried));
    let events = futures::stream::iter(deliveries.iter()).for_each_concurrent(concurrency, |body| {
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
    tokio::join!(events, portal_traffic, usage_traffic);
    let storm_secs = started.elapsed().as_secs_f64();

    // The bill run, fanned out, still under the store's faults (and the scheduler's SQS sends
    // failing too), while this month's usage keeps arriving.
    let started = Instant::now();
    let sqs_faults = Faults::new(percent, seed ^ 0x5a5);
    // A minute ago, but never before this month began (the first minute of a month).
    let this_month = m0.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let now_usage = current_usage(&contract_ids, (chrono::Utc::now() - chrono::Duration::minutes(1)).max(this_month));
    let sqs_aws = faulty_config(&s.aws, &sqs_faults);
    let (bill_run, ()) = tokio::join!(
        bill_run_under_faults(&s, &faulty, &sqs_aws, m0, workers),
        post_usage(&s, &ops, &now_usage, &usage_retried),
    );
    let bill_run_secs = started.elapsed().as_secs_f64();

    // The recovery job's sweep, after the storm: what a link's own replay could not finish.
    faults.on.store(false, Ordering::SeqCst);
    stripe_faults.on.store(false, Ordering::SeqCst);
    // As deployed, the sweep reads from Stripe what a parked event's payload lacks.
    let sweeper = StripeApi::with_timeout("sk_test_storm", Some(&s.stripe_url), Duration::from_secs(1)).unwrap();
    let swept = stripe_webhook::apply::sweep_parked(
        &clean,
        Some(&sweeper),
        Some(&clean),
        chrono::Duration::hours(24),
        chrono::Utc::now(),
    )
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
        // Each bill itemized in full (its second line read from Stripe), its lines named after
        // the product (read from Stripe once, then kept).
        for (id, lines) in &st.lines {
            match clean.invoice(&st.account, id).await.unwrap() {
                Some(inv)
                    if inv.lines.len() == lines.len()
                        && inv.lines.iter().map(|l| l.amount.to_minor().unwrap()).sum::<i64>()
                            == inv.total.to_minor().unwrap()
                        && inv.lines.iter().all(|l| l.group == "Team seats") => {}
                other => wrong.push(format!("{}: bill {id} stored as {:?}", st.account, other.map(|i| i.lines))),
            }
        }
        let mine: Vec<Value> = work.iter().filter(|w| w["account_id"] == st.account.as_str()).cloned().collect();
        expect_counts(&mut wrong, &st.account, &mine, "kind", &[("bill_ready", 2), ("payment_received", 1)]);
    }
    let parked_left = s.items_of("parked_event").await.len();

    // The contract accounts: each billed once for the month, its month's usage on it, nothing of
    // this month's; numbers gap-free over both runs; this month's usage stored once.
    let contract_bills: Vec<Value> = s
        .items_of("invoice")
        .await
        .into_iter()
        .filter(|i| i["account_id"].as_str().is_some_and(|a| a.starts_with("acct_stormc")))
        .collect();
    for id in &contract_ids {
        let bills: Vec<&Value> = contract_bills
            .iter()
            .filter(|i| {
                i["account_id"] == id.as_str()
                    && i["period_end"].as_str().is_some_and(|p| p.starts_with(&m0.to_string()))
            })
            .collect();
        let gb = used[id];
        let cents = 100_000 + gb.saturating_sub(1000) * 5;
        let want = format!("{}.{:02}", cents / 100, cents % 100);
        if bills.len() != 1 || bills[0]["total"]["amount"] != want.as_str() {
            wrong.push(format!(
                "{id}: {} bills for {m0}, totals {:?}; {gb} GB used, expected {want}",
                bills.len(),
                bills.iter().map(|b| b["total"].clone()).collect::<Vec<_>>()
            ));
        }
    }
    let mut numbers: Vec<&str> = contract_bills.iter().filter_map(|i| i["number"].as_str()).collect();
    numbers.sort_unstable();
    let expected_numbers: Vec<String> = (1..=2 * contracts).map(|n| format!("INV-{n:06}")).collect();
    if numbers != expected_numbers {
        wrong.push(format!("contract bill numbers: {} of {}, not gap-free", numbers.len(), 2 * contracts));
    }
    let again = s.ops("POST", "/v1/usage", Some(json!({"records": now_usage}))).await;
    if again.body["duplicates"] != contracts {
        wrong.push(format!("this month's usage sent again: {:?}", again.body));
    }

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
    let batch = s.stream_of("work_item").await;
    let work_items = batch.records.len();
    let started = Instant::now();
    let mail_rounds = mail_all(&mailer, batch, shards).await;
    let mail_secs = started.elapsed().as_secs_f64();
    // Each account's contact: one mail per bill and one receipt, whatever failed on the way. A
    // copy is only possible where SES took a mail and its answer was lost (it has no idempotency
    // key): counted apart, and never more than such losses.
    let sent = devstack::moto::sent_raw_messages(&s.endpoint).unwrap();
    let mut per_mail: BTreeMap<(String, String), u64> = BTreeMap::new();
    for m in &sent {
        let to = m["destinations"][0].as_str().unwrap_or_default();
        if !to.ends_with("@storm.example") && !to.starts_with("ap@acct-stormc") {
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
    for id in &contract_ids {
        let to = contract_contact(id);
        let bills = per_mail.keys().filter(|(t, _)| *t == to).count();
        if bills != 2 {
            missing_mail.push(format!("{to}: {bills} bills (go-live and this run)"));
        }
    }
    let copies: u64 = per_mail.values().map(|n| n - 1).sum();
    let (m, l) = (&ses_faults.counts, &ledger_faults.counts);
    let c = &faults.counts;
    let figures = json!({
        "accounts": accounts,
        "events": stories.iter().map(|st| st.events.len()).sum::<usize>(),
        "deliveries": deliveries.len(),
        "concurrency": concurrency,
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
        "stripe_calls": stripe_faults.counts.calls.load(Ordering::SeqCst),
        "stripe_faults_injected": {
            "total": stripe_faults.counts.faults(),
            "server_errors": stripe_faults.counts.server_errors.load(Ordering::SeqCst),
            "rate_limited_429": stripe_faults.counts.rate_limited.load(Ordering::SeqCst),
            "timed_out": stripe_faults.counts.timed_out.load(Ordering::SeqCst),
            "done_then_timed_out": stripe_faults.counts.done_then_timed_out.load(Ordering::SeqCst),
        },
        "contract_accounts": contracts,
        "usage_records": usage.len() + now_usage.len(),
        "usage_batches_retried": usage_retried.load(Ordering::SeqCst),
        "bill_run": bill_run,
        "sqs_faults_injected": faults_of(&sqs_faults.counts),
        "set_up_seconds": (set_up_secs * 10.0).round() / 10.0,
        "storm_seconds": (storm_secs * 10.0).round() / 10.0,
        "bill_run_seconds": (bill_run_secs * 10.0).round() / 10.0,
        "mail": {
            "work_items": work_items,
            "mails": per_mail.len(),
            "shards": shards,
            "batch_rounds": mail_rounds,
            "seconds": (mail_secs * 10.0).round() / 10.0,
            "ses_calls": m.calls.load(Ordering::SeqCst),
            "ses_faults_injected": faults_of(m),
            "mail_ledger_calls": l.calls.load(Ordering::SeqCst),
            "mail_ledger_faults_injected": faults_of(l),
            "missing": missing_mail.len(),
            "copies_after_a_lost_answer": copies,
        },
    });
    println!("storm figures: {}", serde_json::to_string_pretty(&figures).unwrap());
    assert!(c.faults() > 0 && stripe_faults.counts.faults() > 0, "the storm injected faults");
    assert_eq!((lost, parked_left), (0, 0), "every accepted event applied: {figures}");
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(missing_mail.is_empty(), "{missing_mail:#?}");
    assert!(copies <= m.lost_responses.load(Ordering::SeqCst), "a mail sent twice without a lost answer: {figures}");
}
