//! Per-event CPU cost of the webhook with no I/O: signature verification, typed parsing and the
//! domain decision, on the real sample event (`events/stripe/customer.subscription.updated.json`),
//! beside a baseline of the HMAC alone measured in the same run.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use stripe_events::Webhook;
use stripe_webhook::decide::decide;
use stripe_webhook::verify::{DEFAULT_TOLERANCE_SECS, Verified, verify};

const NOW: i64 = 1_795_000_000;

fn intake(c: &mut Criterion) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/stripe/customer.subscription.updated.json");
    let body = std::fs::read_to_string(path).expect("sample event");
    let secrets: Vec<billing_aws::config::SecretString> = vec!["whsec_old".into(), "whsec_bench".into()];
    let header = Webhook::generate_test_header(&body, "whsec_bench", Some(NOW));

    let mut group = c.benchmark_group("webhook");
    group.bench_function("baseline: HMAC-SHA256 of the payload", |b| {
        b.iter(|| Webhook::generate_test_header(black_box(&body), "whsec_bench", Some(NOW)))
    });
    group.bench_function("verify + parse + decide (second of two secrets)", |b| {
        b.iter(|| {
            match verify(black_box(&secrets), black_box(body.as_bytes()), Some(&header), NOW, DEFAULT_TOLERANCE_SECS) {
                Ok(Verified::Event(e)) => decide(&e),
                other => panic!("{other:?}"),
            }
        })
    });
    group.finish();
}

criterion_group!(benches, intake);
criterion_main!(benches);
