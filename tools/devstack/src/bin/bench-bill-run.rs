//! The bill run over many accounts against the local stand-in, reported against a baseline
//! measured in the same run on the same stand-in: one conditional `PutItem` per account (the
//! least any bill run must write).
//!
//! `cargo run --release -p devstack --bin bench-bill-run -- --accounts 10000 --workers 0,1,4,8`
//! (bench/run.sh runs it and adds the figures to docs/performance.md). `0` is the run in place
//! (one process billing every account); `N > 0` is the fan-out: the scheduled run hands the
//! accounts out through the stand-in's SQS (the template's queue) and N workers poll it, as
//! Lambda's event source mapping would, each billing its batch of ten side by side. Each
//! configuration gets a fresh table, seeded the same way.
//!
//! Each account has two racks and a bandwidth allowance, three usage records in the period, and
//! one bill due: the bill run closes its usage bucket, reads the usage, rates, and finalizes the
//! numbered invoice with its mail work item.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use bill_run::{BillRun, Mode, RunRequest, Settings};
use billing_aws::{DynamoStore, SqsBillJobs};
use billing_domain::audit::{Actor, AuditAction, AuditEntry};
use billing_domain::contract::{UsageEvent, parse_import};
use billing_domain::ledger::Cohort;
use billing_domain::ports::{ContractAdmin, UsageWrite, UsageWriter};
use billing_domain::rating::BilledSegment;
use billing_domain::{Account, BillingMode};
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use clap::Parser;
use futures::StreamExt;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Accounts billed at once by one bill run (the in-place run's, and each worker's).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Configurations to measure: 0 is the run in place, N the fan-out to N workers.
    #[arg(long, value_delimiter = ',', default_value = "0,1,4,8")]
    workers: Vec<usize>,
}

struct Measured {
    workers: usize,
    seeded: Duration,
    baseline: Duration,
    dispatch: Duration,
    billed: Duration,
    again: Duration,
    finalized: usize,
    numbers_lost: u64,
}
#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let moto = tokio::task::spawn_blocking(|| devstack::moto::Moto::start(0, None)).await??;
    let aws = devstack::aws::local_config(&moto.endpoint).await;
    let n = args.accounts as f64;
    println!(
        "| bill run, {} accounts (each bill run {} at once) | wall time | accounts/s | per account | baseline: one conditional put each | ÷ baseline | numbers taken again | the same run again |",
        args.accounts, args.concurrency
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &workers in &args.workers {
        eprintln!("{} accounts, {}…", args.accounts, label(workers));
        let m = measure(&aws, &args, workers).await?;
        let wall = m.dispatch + m.billed;
        // Each row as it is measured (a long benchmark stopped early keeps what it measured).
        println!(
            "| {} | {:.1} s (handing out {:.1} s) | {:.0} | {:.2} ms | {:.1} s | {:.2}× | {} | {:.2} s |",
            label(m.workers),
            wall.as_secs_f64(),
            m.dispatch.as_secs_f64(),
            n / wall.as_secs_f64(),
            wall.as_secs_f64() * 1000.0 / n,
            m.baseline.as_secs_f64(),
            wall.as_secs_f64() / m.baseline.as_secs_f64(),
            m.numbers_lost,
            m.again.as_secs_f64(),
        );
        rows.push(m);
    }
    println!();
    for m in &rows {
        println!(
            "{}: {} invoices finalized, numbers 1 to {} each taken once; seeding took {:.1} s",
            label(m.workers),
            m.finalized,
            m.finalized,
            m.seeded.as_secs_f64()
        );
    }
    Ok(())
}

fn label(workers: usize) -> String {
    match workers {
        0 => "in place (one process)".into(),
        1 => "fanned out, 1 worker".into(),
        n => format!("fanned out, {n} workers"),
    }
}

async fn measure(aws: &aws_config::SdkConfig, args: &Args, workers: usize) -> Result<Measured> {
    let client = aws_sdk_dynamodb::Client::new(aws);
    let table = format!("bench-w{workers}");
    devstack::tables::create_from_template(&client, |_| table.clone()).await?;
    let store = DynamoStore::new(client.clone(), &table);
    let today = Utc::now().date_naive();
    let m0 = today.with_day(1).context("day")?;
    let m1 = m0.checked_sub_months(Months::new(1)).context("month")?;
    let seeding = Instant::now();
    seed(&store, args.accounts, m0, m1).await?;
    let seeded = seeding.elapsed();

    // Baseline: one conditional PutItem per account, same concurrency, same stand-in.
    let baseline = Instant::now();
    let puts: Vec<Result<()>> = futures::stream::iter(0..args.accounts)
        .map(|i| {
            let (client, table) = (client.clone(), table.clone());
            async move {
                client
                    .put_item()
                    .table_name(table)
                    .item("pk", AttributeValue::S(format!("BASELINE#{i}")))
                    .item("sk", AttributeValue::S("X".into()))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await
                    .context("baseline put")?;
                Ok(())
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    puts.into_iter().collect::<Result<Vec<()>>>()?;
    let baseline = baseline.elapsed();

    let settings = Settings { concurrency: args.concurrency, ..Settings::default() };
    let request = RunRequest { mode: Mode::Finalize, date: Some(m0), accounts: None, drafts_only: false };
    let run = BillRun::new(store.clone(), settings.clone());
    let (dispatch, billed, finalized, numbers_lost) = if workers == 0 {
        let started = Instant::now();
        let report = run.run(&request, Utc::now(), None).await;
        anyhow::ensure!(report.failures.is_empty(), "failures: {:?}", &report.failures[..report.failures.len().min(5)]);
        let finalized = report.results.iter().filter(|r| r.outcome == bill_run::Outcome::Finalized).count();
        (Duration::ZERO, started.elapsed(), finalized, run.numbers_lost())
    } else {
        let sqs = aws_sdk_sqs::Client::new(aws);
        let queues = devstack::jobs::create_from_template(&sqs, &table, Duration::from_secs(120)).await?;
        let queue = SqsBillJobs::new(sqs.clone(), &queues.jobs_url);
        let started = Instant::now();
        let report = run.dispatch(&queue, &request, Utc::now(), None).await;
        anyhow::ensure!(report.failures.is_empty(), "dispatch failures: {:?}", report.failures);
        anyhow::ensure!(report.dispatched == args.accounts, "handed out {} of {}", report.dispatched, args.accounts);
        let dispatch = started.elapsed();
        let started = Instant::now();
        // One bill run per worker (as one Lambda instance each), all on the one sequence item.
        let runs: Vec<Arc<BillRun<DynamoStore>>> =
            (0..workers).map(|_| Arc::new(BillRun::new(store.clone(), settings.clone()))).collect();
        let (handler, tally) = devstack::jobs::round_robin(runs.clone(), args.concurrency);
        devstack::jobs::work(sqs.clone(), queues.clone(), workers, Arc::new(AtomicBool::new(true)), handler).await?;
        let parked = devstack::jobs::backlog(&sqs, &queues.dead_letters_url).await?;
        anyhow::ensure!(parked == 0, "{parked} jobs in the dead letters");
        let lost = runs.iter().map(|r| r.numbers_lost()).sum();
        (dispatch, started.elapsed(), tally.finalized.load(std::sync::atomic::Ordering::Relaxed), lost)
    };
    anyhow::ensure!(finalized == args.accounts, "finalized {finalized} of {}", args.accounts);
    check_numbers(&store, args.accounts).await?;

    let again = Instant::now();
    let second = run.run(&request, Utc::now(), None).await;
    let again = again.elapsed();
    anyhow::ensure!(second.results.is_empty(), "a second run billed again");
    client.delete_table().table_name(&table).send().await?;
    Ok(Measured { workers, seeded, baseline, dispatch, billed, again, finalized, numbers_lost })
}

/// The sequence stands at `n`: every number from 1 to n was taken once (each finalize takes the
/// next conditionally, and `n` invoices were finalized).
async fn check_numbers(store: &DynamoStore, n: usize) -> Result<()> {
    use billing_domain::ports::{Sequence, SequenceReader};
    let at = store.sequence(Sequence::Invoice).await?;
    anyhow::ensure!(at == n as u64, "the sequence stands at {at} after {n} bills");
    Ok(())
}

async fn seed(store: &DynamoStore, accounts: usize, m0: NaiveDate, m1: NaiveDate) -> Result<()> {
    let prices = [
        r#"{"id":"rack","name":"Rack space","currency":"USD","charge":{"type":"recurring","interval":"monthly"},"model":"per_unit","unit_amount":"500"}"#,
        r#"{"id":"bw","name":"Bandwidth","currency":"USD","unit":"GB","charge":{"type":"usage","metric":"bandwidth_gb"},"model":"overage","included":1000,"unit_amount":"0.05"}"#,
    ];
    for p in prices {
        store.put_price(&serde_json::from_str::<billing_domain::catalog::Price>(p)?.parse()?, None).await?;
    }
    let cohort = Cohort::parse("bench", "Bench cohort", m1)?;
    store.put_cohort(&cohort, None).await?;
    let catalog = store.prices().await?;
    let actor = Actor { user_id: "bench".parse()?, email: None };
    let seeded: Vec<Result<()>> = futures::stream::iter(0..accounts)
        .map(|i| {
            let (store, catalog, cohort, actor) = (store.clone(), catalog.clone(), cohort.clone(), actor.clone());
            async move {
                let line = format!(
                    r#"{{"account_id":"acct_bench{i}","name":"Bench {i}","currency":"USD","contact":{{"name":"AP","email":"ap{i}@bench.example"}},"address":{{"line1":"1 Main St","city":"Springfield","country":"US"}},"billing_mode":"invoice","bill_day":1,"subscriptions":[{{"id":"rack","price_id":"rack","group":"DC1","start":"2025-01-01","quantity":2}},{{"id":"bw","price_id":"bw","group":"DC1","start":"2025-01-01"}}]}}"#
                );
                let parsed = parse_import(&line).remove(0).1.map_err(anyhow::Error::msg)?;
                let mut imported = parsed.parse(&cohort, &catalog)?;
                // One bill due: this month's, with last month's usage.
                let c = &mut imported.contract;
                c.next_bill_date = m0;
                c.usage_bucket = m0;
                c.contract.items[0].billed = vec![BilledSegment { start: c.contract.items[0].start, end: m0, quantity: 2 }];
                let now = Utc::now();
                let mut account = Account::open(c.account_id.clone(), imported.account, now);
                account.billing_mode = BillingMode::Invoice;
                let audit = AuditEntry::record(&account.id, &actor, AuditAction::AccountImported, None, None::<&()>, None::<&()>, now);
                store.import_account(&account, c, &audit).await?;
                let events: Vec<_> = (0..3_u64)
                    .map(|n| {
                        let at = m1 + Days::new(3 + 9 * n);
                        (m0, UsageEvent {
                            account_id: c.account_id.clone(),
                            metric: "bandwidth_gb".parse().expect("metric"),
                            quantity: 400 + 10 * i as u64 % 300,
                            timestamp: at.and_hms_opt(12, 0, 0).expect("time").and_utc(),
                            idempotency_key: format!("u{n}"),
                        })
                    })
                    .collect();
                match store.store_usage(c, &events, now).await? {
                    UsageWrite::Stored { .. } => Ok(()),
                    UsageWrite::BucketMoved => anyhow::bail!("bucket moved while seeding"),
                }
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    seeded.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(())
}
