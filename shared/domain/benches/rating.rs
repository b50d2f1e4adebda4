//! Rating 1,000,000 usage records of one account into invoice lines, against a baseline measured
//! in the same run: summing the same records' quantities (the least any rating must do).
//!
//! `cargo bench -p billing-domain --bench rating`

use std::collections::BTreeMap;
use std::hint::black_box;

use billing_domain::billing::PlanInterval;
use billing_domain::catalog::{ChargeModel, ChargeType, Metric, Price, Tier};
use billing_domain::rating::{BillDay, Contract, ContractItem, QuantityChange, UsageRecord, rate};
use chrono::{Days, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};

const RECORDS: usize = 1_000_000;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn contract() -> Contract {
    let usd = "USD".parse().unwrap();
    let price = |id: &str, charge, pricing| Price {
        id: id.parse().unwrap(),
        name: id.into(),
        currency: usd,
        charge,
        pricing,
        unit: Some("GB".into()),
        tax_codes: vec![],
    };
    let item = |id: &str, price: Price, q: Option<u64>| ContractItem {
        id: id.into(),
        price,
        group: "DC1".into(),
        description: None,
        start: d("2025-01-01"),
        end: None,
        quantities: q.map(|q| vec![QuantityChange { from: d("2025-01-01"), quantity: q }]).unwrap_or_default(),
        billed: vec![],
        usage_billed: BTreeMap::new(),
    };
    let metric = |m: &str| ChargeType::Usage { metric: m.parse::<Metric>().unwrap() };
    let tiers = vec![
        Tier { up_to: Some(1_000_000), unit_amount: "0.0010".parse().unwrap(), flat_amount: Default::default() },
        Tier { up_to: Some(10_000_000), unit_amount: "0.0008".parse().unwrap(), flat_amount: Default::default() },
        Tier { up_to: None, unit_amount: "0.0005".parse().unwrap(), flat_amount: Default::default() },
    ];
    Contract {
        bill_day: BillDay::try_from(1).unwrap(),
        currency: usd,
        items: vec![
            item(
                "rack",
                price(
                    "rack",
                    ChargeType::Recurring { interval: PlanInterval::Monthly },
                    ChargeModel::PerUnit { unit_amount: "500".parse().unwrap() },
                ),
                Some(4),
            ),
            item(
                "bw",
                price(
                    "bw",
                    metric("bandwidth_gb"),
                    ChargeModel::Overage { included: 1000, unit_amount: "0.05".parse().unwrap() },
                ),
                None,
            ),
            item("api", price("api", metric("api_calls"), ChargeModel::Graduated { tiers }), None),
        ],
    }
}

/// A month of records over two metrics, with 1% arriving late (for the month before).
fn records() -> Vec<UsageRecord> {
    let bw: Metric = "bandwidth_gb".parse().unwrap();
    let api: Metric = "api_calls".parse().unwrap();
    (0..RECORDS)
        .map(|i| {
            let late = i % 100 == 0;
            let base = if late { d("2026-09-01") } else { d("2026-10-01") };
            UsageRecord {
                metric: if i % 2 == 0 { bw.clone() } else { api.clone() },
                quantity: (i % 17 + 1) as u64,
                date: base + Days::new((i % 30) as u64),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let contract = contract();
    let records = records();
    let mut g = c.benchmark_group("rating");
    g.sample_size(10);
    g.bench_function("baseline: sum 1,000,000 quantities", |b| {
        b.iter(|| black_box(&records).iter().map(|r| r.quantity).sum::<u64>())
    });
    g.bench_function("rate 1,000,000 usage records into lines", |b| {
        b.iter(|| {
            let rated = rate(black_box(&contract), black_box(&records), d("2026-11-01"));
            assert!(rated.lines.len() >= 4);
            rated
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
