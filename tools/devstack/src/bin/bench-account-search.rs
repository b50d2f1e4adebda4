//! The back office's account search (`GET /v1/staff/accounts?q=`, through the ops API as API
//! Gateway invokes it with a staff token) while the table fills with 1,000 to 100,000 accounts,
//! against the local stand-in. The baseline, measured in the same run on the same stand-in, is one
//! `GetItem` of an account: a search that reads an index partition stays a small multiple of it
//! however many accounts there are; a scan would grow with them.
//!
//! `cargo run --release -p devstack --bin bench-account-search -- --sizes 1000,10000,100000`
//!
//! The accounts are named `<word> <n> Hosting` over 40 words, so a two-letter name partition holds
//! about 1/40 of them; one account is `Zyxel Networks`, alone in its partition. Two queries: a
//! name prefix in a crowded partition (`acme 1`, matches capped at the route's default limit of
//! 20) and one in a partition of one (`zyxel`). The stand-in (moto) reads an index partition
//! whole, so the first grows with its partition; DynamoDB reads about `limit` items. Neither grows
//! with the table: the second stays flat while the table grows a hundredfold.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use aws_sdk_dynamodb::types::AttributeValue;
use billing_aws::DynamoStore;
use billing_aws::dynamo::keys;
use billing_domain::AccountId;
use clap::Parser;
use devstack::apigw::{self, HttpCall};
use http_body_util::BodyExt;
use serde_json::Value;

const WORDS: [&str; 40] = [
    "acme", "apex", "atlas", "beacon", "birch", "cobalt", "cedar", "delta", "ember", "falcon", "garnet", "harbor",
    "iris", "juniper", "kestrel", "lumen", "maple", "nimbus", "onyx", "pine", "quartz", "raven", "sable", "tundra",
    "umber", "vector", "willow", "xenon", "yarrow", "zephyr", "aurora", "basalt", "canyon", "dune", "echo", "fjord",
    "glacier", "helix", "indigo", "jade",
];

#[derive(Parser)]
struct Args {
    /// Accounts in the table at each measurement, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Searches (and GetItems) timed at each size.
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
    let ops = ops_api::router(ops_api::OpsState::new(store, bill_run::Settings::default()));
    let template = apigw::template();
    let mut claims: std::collections::BTreeMap<String, String> =
        serde_json::from_value(template["requestContext"]["authorizer"]["jwt"]["claims"].clone())?;
    for (k, v) in [("sub", "bench-clerk"), ("email", "clerk@seller.example"), ("cognito:groups", "[clerk]")] {
        claims.insert(k.into(), v.into());
    }
    let event = |q: &str| {
        let call = HttpCall {
            method: "GET".into(),
            path_and_query: format!("/v1/staff/accounts?q={q}"),
            ..HttpCall::default()
        };
        apigw::event(&template, &call, Some(&claims))
    };
    let (crowded, alone) = (event("acme%201"), event("zyxel"));

    println!("account search (`GET /v1/staff/accounts?q=`) against one GetItem of an account, same stand-in");
    println!();
    println!(
        "| accounts | `acme 1` p50 (crowded partition) | `zyxel` p50 (partition of one) | GetItem p50 | `zyxel` / GetItem |"
    );
    println!("|---|---|---|---|---|");
    let mut written = 0;
    for &size in &args.sizes {
        fill(&client, &mut written, size).await?;
        let (mut searches, mut singles, mut gets) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..args.samples {
            for (event, times) in [(&crowded, &mut searches), (&alone, &mut singles)] {
                let started = Instant::now();
                let reply = apigw::invoke(ops.clone(), event).await?;
                let status = reply.status();
                let body: Value = serde_json::from_slice(&reply.into_body().collect().await?.to_bytes())?;
                times.push(started.elapsed());
                ensure!(status.is_success(), "search: {status} {body}");
                let found = body["accounts"].as_array().map_or(0, Vec::len);
                ensure!(found > 0, "the search found nothing at {size}");
            }
            let id = account((i * 7919) % size);
            let started = Instant::now();
            let got = client
                .get_item()
                .table_name("bench")
                .key("pk", AttributeValue::S(keys::account_pk(&id)))
                .key("sk", AttributeValue::S("ACCOUNT".into()))
                .consistent_read(true)
                .send()
                .await?;
            gets.push(started.elapsed());
            ensure!(got.item.is_some(), "no account {id}");
        }
        searches.sort();
        singles.sort();
        gets.sort();
        let p50 = |v: &[Duration]| v[v.len().div_ceil(2).saturating_sub(1)];
        let (crowd, single, get) = (p50(&searches), p50(&singles), p50(&gets));
        println!(
            "| {size} | {} | {} | {} | {:.2} |",
            ms(crowd),
            ms(single),
            ms(get),
            single.as_secs_f64() / get.as_secs_f64()
        );
    }
    Ok(())
}

fn account(i: usize) -> AccountId {
    format!("acct_bench{i:07}").parse().expect("an account id")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Accounts (as the adapter writes them, with their search keys), 25 to a BatchWriteItem, until
/// the table holds `size`.
async fn fill(client: &aws_sdk_dynamodb::Client, written: &mut usize, size: usize) -> Result<()> {
    let items = (*written..size.max(*written))
        .map(|i| {
            let id = account(i);
            let name =
                if i == 0 { "Zyxel Networks".to_owned() } else { format!("{} {i} Hosting", WORDS[i % WORDS.len()]) };
            let normalized = keys::search_text(&name);
            devstack::bench::item([
                ("pk", keys::account_pk(&id)),
                ("sk", "ACCOUNT".to_owned()),
                ("entity", "account".to_owned()),
                ("id", id.to_string()),
                ("name", name.clone()),
                ("gsi3pk", keys::name_search_gsi3pk(&normalized)),
                ("gsi3sk", keys::name_search_gsi3sk(&normalized, &id)),
            ])
        })
        .collect();
    devstack::bench::put_all(client, "bench", items).await?;
    *written = (*written).max(size);
    Ok(())
}
