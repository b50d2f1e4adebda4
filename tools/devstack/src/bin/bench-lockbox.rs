//! A lockbox file of many checks imported and applied against the local stand-in, reported
//! against a baseline measured in the same run on the same stand-in: one conditional `PutItem`
//! per check (the least any import must write to record each check once).
//!
//! `cargo run --release -p devstack --bin bench-lockbox -- --accounts 1000 --checks 10000`
//! (bench/run.sh runs it and adds the figures to docs/performance.md).
//!
//! Each account has one open bill; the file pays each bill in several checks (a partial payment
//! each), every check naming its bill in a remittance record and drawn on the account's own bank
//! account: each is identified, applied (a payment with its receipt work item and audit entry)
//! and recorded once. The file is written here from the documented layout.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use aws_sdk_dynamodb::types::AttributeValue;
use bill_run::{BillRun, Mode, RunRequest, Settings};
use billing_aws::DynamoStore;
use billing_domain::audit::{Actor, AuditAction, AuditEntry};
use billing_domain::contract::parse_import;
use billing_domain::ledger::Cohort;
use billing_domain::ports::{BillingReader, ContractAdmin};
use billing_domain::rating::BilledSegment;
use billing_domain::{Account, BillingMode};
use chrono::{Datelike, Months, Utc};
use clap::Parser;
use futures::StreamExt;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    #[arg(long, default_value_t = 10_000)]
    checks: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.accounts > 0 && args.checks >= args.accounts, "at least one check per account");
    let moto = tokio::task::spawn_blocking(|| devstack::moto::Moto::start(0, None)).await??;
    let aws = devstack::aws::local_config(&moto.endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    devstack::tables::create_from_template(&client, |_| "bench".to_owned()).await?;
    let store = DynamoStore::new(client.clone(), "bench");

    let m0 = Utc::now().date_naive().with_day(1).context("day")?;
    let m1 = m0.checked_sub_months(Months::new(1)).context("month")?;
    let price = r#"{"id":"rack","name":"Rack space","currency":"USD","charge":{"type":"recurring","interval":"monthly"},"model":"per_unit","unit_amount":"500"}"#;
    store.put_price(&serde_json::from_str::<billing_domain::catalog::Price>(price)?.parse()?, None).await?;
    let cohort = Cohort::parse("bench", "Bench cohort", m1)?;
    store.put_cohort(&cohort, None).await?;
    let catalog = store.prices().await?;

    eprintln!("seeding {} accounts with one bill each…", args.accounts);
    let actor = Actor { user_id: "bench".parse()?, email: None };
    let seeded: Vec<Result<()>> = futures::stream::iter(0..args.accounts)
        .map(|i| {
            let (store, catalog, cohort, actor) = (store.clone(), catalog.clone(), cohort.clone(), actor.clone());
            async move {
                let line = format!(
                    r#"{{"account_id":"acct_bench{i}","name":"Bench {i}","currency":"USD","contact":{{"name":"AP","email":"ap{i}@bench.example"}},"address":{{"line1":"1 Main St","city":"Springfield","country":"US"}},"billing_mode":"invoice","bill_day":1,"subscriptions":[{{"id":"rack","price_id":"rack","group":"DC1","start":"2025-01-01","quantity":2}}]}}"#
                );
                let parsed = parse_import(&line).remove(0).1.map_err(anyhow::Error::msg)?;
                let mut imported = parsed.parse(&cohort, &catalog)?;
                let c = &mut imported.contract;
                c.next_bill_date = m0;
                c.usage_bucket = m0;
                c.contract.items[0].billed = vec![BilledSegment { start: c.contract.items[0].start, end: m0, quantity: 2 }];
                let now = Utc::now();
                let mut account = Account::open(c.account_id.clone(), imported.account, now);
                account.billing_mode = BillingMode::Invoice;
                let audit = AuditEntry::record(&account.id, &actor, AuditAction::AccountImported, None, None::<&()>, None::<&()>, now);
                store.import_account(&account, c, &audit).await?;
                Ok(())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    seeded.into_iter().collect::<Result<Vec<()>>>()?;
    let run = BillRun::new(store.clone(), Settings::default());
    let report = run
        .run(&RunRequest { mode: Mode::Finalize, date: Some(m0), accounts: None, drafts_only: false }, Utc::now(), None)
        .await;
    ensure!(report.failures.is_empty(), "bill run failures: {:?}", &report.failures[..report.failures.len().min(3)]);
    let mut numbers = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let id = format!("acct_bench{i}").parse()?;
        let page = store.invoices(&id, None, 5, None).await?;
        numbers.push(page.invoices.first().and_then(|inv| inv.number.clone()).context("a bill")?);
    }

    // The file: `checks` checks of 1.00, round-robin over the accounts, each naming its bill.
    let lockbox = "0002712";
    let mut lines = vec!["100BENCH     01210002482612040630".to_owned(), format!("5001000{lockbox}261204BENCH")];
    // Batches of at most 999 checks (the trailer's count has three digits), five batches to a
    // lockbox trailer (four digits).
    let mut batch = 1usize;
    let (mut in_batch, mut batch_total) = (0usize, 0u64);
    let (mut in_lockbox, mut lockbox_total) = (0usize, 0u64);
    let close = |lines: &mut Vec<String>, batch: usize, n: usize, total: u64| {
        lines.push(format!("7{batch:03}000{lockbox}261204{n:03}{total:010}"));
    };
    for k in 0..args.checks {
        if in_batch == 999 {
            close(&mut lines, batch, in_batch, batch_total);
            if batch.is_multiple_of(5) {
                lines.push(format!("8000000{lockbox}261204{in_lockbox:04}{lockbox_total:010}"));
                (in_lockbox, lockbox_total) = (0, 0);
            }
            batch += 1;
            lines.push(format!("5{batch:03}000{lockbox}261204BENCH"));
            (in_batch, batch_total) = (0, 0);
        }
        in_batch += 1;
        let account = k % args.accounts;
        lines.push(format!(
            "6{batch:03}{in_batch:03}{:010}{:<9}{:<10}{:010}120126{:<30}",
            100,
            "055002707",
            format!("{account:010}"),
            k + 1,
            format!("BENCH {account}")
        ));
        lines.push(format!("4{batch:03}{in_batch:03}4019{:<16}{:010}0000000000", numbers[account], 100));
        batch_total += 100;
        in_lockbox += 1;
        lockbox_total += 100;
    }
    close(&mut lines, batch, in_batch, batch_total);
    lines.push(format!("8000000{lockbox}261204{in_lockbox:04}{lockbox_total:010}"));
    lines.push(format!("9{:06}", lines.len() + 1));
    let body = lines.join("\n") + "\n";

    // Baseline: one conditional PutItem per check, one at a time (as the import goes), same stand-in.
    let baseline = Instant::now();
    for k in 0..args.checks {
        client
            .put_item()
            .table_name("bench")
            .item("pk", AttributeValue::S(format!("BASELINE#{k}")))
            .item("sk", AttributeValue::S("X".into()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .context("baseline put")?;
    }
    let baseline = baseline.elapsed();

    let state = ops_api::OpsState::new(store.clone(), Settings::default());
    let caller = ops_api::extract::OpsCaller::service("bench");
    let started = Instant::now();
    let view = ops_api::lockbox::import_file(&state, &caller, None, Some("bench.txt"), &body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed();
    ensure!(view.import.applied as usize == args.checks, "applied {} of {}", view.import.applied, args.checks);
    let again = Instant::now();
    let second = ops_api::lockbox::import_file(&state, &caller, None, Some("bench.txt"), &body)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let again = again.elapsed();
    ensure!(second.status == "duplicate", "the same file again: {}", second.status);

    let rate = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!(
        "lockbox import of {} checks over {} accounts' bills (each identified by its bill, applied, recorded once), against one conditional PutItem per check, same stand-in, one at a time",
        args.checks, args.accounts
    );
    println!();
    println!("| | time | checks/s | per check vs one PutItem |");
    println!("|---|---|---|---|");
    println!(
        "| baseline: {} conditional PutItems | {:.1} s | {:.0} | 1.0× |",
        args.checks,
        baseline.as_secs_f64(),
        rate(args.checks, baseline)
    );
    println!(
        "| import and apply | {:.1} s | {:.0} | {:.1}× |",
        elapsed.as_secs_f64(),
        rate(args.checks, elapsed),
        elapsed.as_secs_f64() / baseline.as_secs_f64()
    );
    println!("| the same file again (recognised, nothing applied) | {:.2} s | | |", again.as_secs_f64());
    Ok(())
}
