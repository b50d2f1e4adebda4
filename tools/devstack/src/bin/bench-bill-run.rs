//! The bill run over many accounts against the local stand-in, reported against a baseline
//! measured in the same run on the same stand-in: one conditional `PutItem` per account (the
//! least any bill run must write).
//!
//! `cargo run --release -p devstack --bin bench-bill-run -- --accounts 10000`
//! (bench/run.sh runs it and adds the figures to docs/performance.md).
//!
//! Each account has two racks and a bandwidth allowance, three usage records in the period, and
//! one bill due: the bill run closes its usage bucket, reads the usage, rates, and finalizes the
//! numbered invoice with its mail work item.

use std::time::Instant;

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use bill_run::{BillRun, Mode, RunRequest, Settings};
use billing_aws::DynamoStore;
use billing_domain::audit::{Actor, AuditAction, AuditEntry};
use billing_domain::contract::{UsageEvent, parse_import};
use billing_domain::ledger::Cohort;
use billing_domain::ports::{ContractAdmin, UsageWrite, UsageWriter};
use billing_domain::rating::BilledSegment;
use billing_domain::{Account, BillingMode};
use chrono::{Datelike, Days, Months, Utc};
use clap::Parser;
use futures::StreamExt;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Accounts billed at once (the bill run's setting).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let moto = tokio::task::spawn_blocking(|| devstack::moto::Moto::start(0, None)).await??;
    let aws = devstack::aws::local_config(&moto.endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    devstack::tables::create_from_template(&client, |_| "bench".to_owned()).await?;
    let store = DynamoStore::new(client.clone(), "bench");

    let today = Utc::now().date_naive();
    let m0 = today.with_day(1).context("day")?;
    let m1 = m0.checked_sub_months(Months::new(1)).context("month")?;
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

    eprintln!("seeding {} accounts…", args.accounts);
    let seeding = Instant::now();
    let actor = Actor { user_id: "bench".parse()?, email: None };
    let seeded: Vec<Result<()>> = futures::stream::iter(0..args.accounts)
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
    eprintln!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    // Baseline: one conditional PutItem per account, same concurrency, same stand-in.
    let baseline = Instant::now();
    let puts: Vec<Result<()>> = futures::stream::iter(0..args.accounts)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .put_item()
                    .table_name("bench")
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

    let run = BillRun::new(store.clone(), Settings { concurrency: args.concurrency, ..Settings::default() });
    let request = RunRequest { mode: Mode::Finalize, date: Some(m0), accounts: None, drafts_only: false };
    let started = Instant::now();
    let report = run.run(&request, Utc::now(), None).await;
    let elapsed = started.elapsed();
    let finalized = report.results.iter().filter(|r| r.outcome == bill_run::Outcome::Finalized).count();
    anyhow::ensure!(report.failures.is_empty(), "failures: {:?}", &report.failures[..report.failures.len().min(5)]);
    anyhow::ensure!(finalized == args.accounts, "finalized {finalized} of {}", args.accounts);

    let again = Instant::now();
    let second = run.run(&request, Utc::now(), None).await;
    let again = again.elapsed();
    anyhow::ensure!(second.results.is_empty(), "a second run billed again");

    let n = args.accounts as f64;
    println!("| bill run, {} accounts (concurrency {}) | value |", args.accounts, args.concurrency);
    println!("|---|---|");
    println!("| bill run: wall time | {:.1} s |", elapsed.as_secs_f64());
    println!("| bill run: per account | {:.2} ms |", elapsed.as_secs_f64() * 1000.0 / n);
    println!("| bill run: accounts per second | {:.0} |", n / elapsed.as_secs_f64());
    println!("| baseline: one conditional PutItem per account | {:.1} s |", baseline.as_secs_f64());
    println!("| bill run ÷ baseline | {:.2}× |", elapsed.as_secs_f64() / baseline.as_secs_f64());
    println!("| the same run again (nothing due) | {:.2} s |", again.as_secs_f64());
    println!("| invoices finalized | {finalized} |");
    Ok(())
}
