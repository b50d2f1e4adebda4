//! An account's invoice list (`GET /v1/accounts/{id}/invoices?limit=100`, through the portal API as
//! API Gateway invokes it) while the table around it grows from 1,000 to 100,000 items, against the
//! local stand-in. The baseline, measured in the same run on the same stand-in, is the same list at
//! the smallest size: a list that reads only its own account stays at a ratio near 1.
//!
//! `cargo run --release -p devstack --bin bench-invoice-list -- --sizes 1000,10000,100000`
//! (bench/run.sh runs it twice, once with `MOTO_STOCK_INDEX_QUERY=1`, moto's own index Query, for
//! the figures before the stand-in's fix, and adds both to docs/performance.md).
//!
//! The listed account has 69 paid invoices, delivered as signed `invoice.paid` events through the
//! webhook. The other items are other accounts' invoices, each with its own index partition on the
//! same index (`gsi1`), as a busy table would hold.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use billing_aws::DynamoStore;
use billing_aws::dynamo::keys;
use billing_domain::AccountId;
use clap::Parser;
use devstack::apigw::{self, HttpCall};
use devstack::seed::{DEMO_ACCOUNT, DEMO_USERS};
use http_body_util::BodyExt;
use portal_api::state::SeatSettings;
use portal_api::stripe_client::StripeClient;
use portal_api::{AppState, Settings};
use serde_json::Value;

const INVOICES: usize = 69;
const SECRET: &str = "whsec_bench_invoice_list";

#[derive(Parser)]
struct Args {
    /// Items in the table at each measurement, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Lists timed at each size.
    #[arg(long, default_value_t = 30)]
    samples: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.sizes.windows(2).all(|w| w[0] < w[1]), "--sizes must ascend");
    let moto = tokio::task::spawn_blocking(|| devstack::moto::Moto::start(0, None)).await??;
    let aws = devstack::aws::local_config(&moto.endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    devstack::tables::create_from_template(&client, |_| "bench".to_owned()).await?;
    let store = DynamoStore::new(client.clone(), "bench");
    devstack::seed::seed(&store).await?;

    // The listed account's invoices, as Stripe's events project them.
    let webhook = stripe_webhook::router(stripe_webhook::AppState::new(store.clone(), vec![SECRET.to_owned()]));
    let template = apigw::template();
    let sample: Value = serde_json::from_str(include_str!("../../../../events/stripe/invoice.paid.json"))?;
    for n in 0..INVOICES {
        let mut event = sample.clone();
        event["id"] = format!("evt_bench_list_{n:04}").into();
        event["created"] = (1_795_000_004 + 86_400 * n as i64).into();
        let object = &mut event["data"]["object"];
        object["id"] = format!("in_bench{n:04}").into();
        object["number"] = format!("BENCH-{n:04}").into();
        object["created"] = (1_795_000_000 + 86_400 * n as i64).into();
        let body = event.to_string();
        let call = HttpCall {
            method: "POST".into(),
            path_and_query: "/webhooks/stripe".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("stripe-signature".into(), devstack::sign_event(&body, SECRET)),
            ],
            body: body.into_bytes(),
        };
        let reply = apigw::invoke(webhook.clone(), &apigw::event(&template, &call, None)).await?;
        ensure!(reply.status().is_success(), "invoice.paid {n}: {}", reply.status());
    }

    let portal = portal_api::router(AppState::new(
        store.clone(),
        StripeClient::new("sk_test_bench", Some("http://127.0.0.1:9"))?,
        Settings {
            table_name: "bench".into(),
            remit_to: None,
            seats: SeatSettings { monthly_price: "price_m".into(), annual_price: "price_a".into(), max_quantity: 50 },
            portal_url: "https://portal.example".into(),
            sales_contact: None,
            seller_name: "Demo Hosting Inc.".into(),
        },
    ));
    let (sub, email, _) = DEMO_USERS[0];
    let mut claims: BTreeMap<String, String> =
        serde_json::from_value(template["requestContext"]["authorizer"]["jwt"]["claims"].clone())?;
    for (k, v) in [("sub", sub), ("cognito:username", sub), ("email", email), ("email_verified", "true")] {
        claims.insert(k.into(), v.into());
    }
    let list = HttpCall {
        method: "GET".into(),
        path_and_query: format!("/v1/accounts/{DEMO_ACCOUNT}/invoices?limit=100"),
        ..HttpCall::default()
    };
    let list_event = apigw::event(&template, &list, Some(&claims));

    let stock = std::env::var("MOTO_STOCK_INDEX_QUERY").is_ok_and(|v| v == "1");
    println!(
        "invoice list ({INVOICES} invoices, limit=100), {} index Query",
        if stock { "moto's own" } else { "the stand-in's" }
    );
    println!();
    println!("| items in the table | median | p95 | ratio to {} items |", args.sizes[0]);
    println!("|---|---|---|---|");
    let mut written = count(&client).await?;
    let mut baseline = None;
    for &size in &args.sizes {
        fill(&client, &mut written, size).await?;
        let mut times = Vec::with_capacity(args.samples);
        for _ in 0..args.samples {
            let started = Instant::now();
            let reply = apigw::invoke(portal.clone(), &list_event).await?;
            let status = reply.status();
            let body: Value = serde_json::from_slice(&reply.into_body().collect().await?.to_bytes())?;
            times.push(started.elapsed());
            ensure!(status.is_success(), "list: {status} {body}");
            let listed = body["invoices"].as_array().map_or(0, Vec::len);
            ensure!(listed == INVOICES, "listed {listed} of {INVOICES}");
        }
        times.sort();
        let median = times[times.len() / 2];
        let p95 = times[(times.len() * 95).div_ceil(100).saturating_sub(1)];
        let base = *baseline.get_or_insert(median);
        println!("| {size} | {} | {} | {:.2} |", ms(median), ms(p95), median.as_secs_f64() / base.as_secs_f64());
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn count(client: &aws_sdk_dynamodb::Client) -> Result<usize> {
    let mut n = 0;
    let mut pages =
        client.scan().table_name("bench").select(aws_sdk_dynamodb::types::Select::Count).into_paginator().send();
    while let Some(page) = pages.next().await {
        n += page?.count() as usize;
    }
    Ok(n)
}

/// Other accounts' invoices, 25 to a BatchWriteItem, until the table holds `size` items.
async fn fill(client: &aws_sdk_dynamodb::Client, written: &mut usize, size: usize) -> Result<()> {
    let items = (*written..size.max(*written))
        .map(|i| {
            let account: AccountId = format!("acct_fill{}", i / 20).parse()?;
            let invoice = format!("in_fill{i:07}");
            let created = chrono::DateTime::from_timestamp(1_795_000_000 + i as i64, 0).context("time")?;
            Ok(devstack::bench::item([
                ("pk", keys::account_pk(&account)),
                ("sk", keys::invoice_sk(&invoice)),
                ("gsi1pk", keys::invoices_gsi1pk(&account)),
                ("gsi1sk", keys::invoice_gsi1sk(created, &invoice)),
                ("entity", "filler".to_owned()),
            ]))
        })
        .collect::<Result<Vec<_>>>()?;
    devstack::bench::put_all(client, "bench", items).await?;
    *written = (*written).max(size);
    Ok(())
}
