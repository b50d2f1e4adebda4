//! `lambda-bench`: runs each function's release binary under our Lambda Runtime API emulator,
//! against the local stack, beside two baselines built with the same profile, and writes the
//! figures to `docs/performance.md` (see `bench/README.md`). With `--check`, exits non-zero when a
//! target is missed.

mod emulator;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use devstack::apigw::{self, HttpCall};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use devstack::calls::{CallLog, Tally};
use emulator::Seen;

#[derive(Parser)]
struct Args {
    /// Warm invocations per function (one process each).
    #[arg(long, default_value_t = 1000)]
    events: usize,
    /// Cold starts per function, interleaved A B A B … across functions.
    #[arg(long, default_value_t = 7)]
    cold: usize,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where to write the report.
    #[arg(long, default_value = "docs/performance.md")]
    out: PathBuf,
    /// Exit non-zero when a target is missed.
    #[arg(long)]
    check: bool,
}

const SECRET: &str = "whsec_bench_local_secret";
const FROM: &str = "billing@bench.example";

/// One function (or baseline) under test, and the Nth event it gets.
struct Target {
    name: &'static str,
    binary: &'static str,
    event: fn(usize) -> Value,
    baseline: bool,
    /// Set for this one beside the stack's.
    env: &'static [(&'static str, &'static str)],
}

fn apigw_event(call: HttpCall, claims: Option<&BTreeMap<String, String>>) -> Value {
    apigw::event(&apigw::template(), &call, claims)
}

/// The account the webhook's seat changes are for.
const WEBHOOK_ACCOUNT: &str = "acct_benchhook";

/// The seats the last subscription event sent to the webhook left (the stack's subscription
/// starts with the sample's 5).
static SEATS: AtomicU64 = AtomicU64::new(5);

/// A seat change as Stripe would send it, in order: a new id, a later time, and the quantity the
/// last one left as its previous quantity (8 and 9 in turn), signed now.
fn webhook_event(n: usize) -> Value {
    let before = SEATS.load(AtomicOrdering::SeqCst);
    let after = if before == 8 { 9 } else { 8 };
    SEATS.store(after, AtomicOrdering::SeqCst);
    subscription_event(n, Some((before, after)))
}

/// The sample subscription event with a new id and time (the floor's input: it only verifies
/// and records it).
fn floor_event(n: usize) -> Value {
    subscription_event(n, None)
}

fn subscription_event(n: usize, seats: Option<(u64, u64)>) -> Value {
    let path = devstack::repo_root().join("events/stripe/customer.subscription.updated.json");
    let mut ev: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("JSON");
    ev["id"] = json!(format!("evt_bench_{n:08}"));
    ev["created"] = json!(1_795_000_000 + n as i64);
    if let Some((before, after)) = seats {
        ev["data"]["object"]["items"]["data"][0]["quantity"] = json!(after);
        ev["data"]["object"]["metadata"]["account_id"] = json!(WEBHOOK_ACCOUNT);
        ev["data"]["previous_attributes"] = json!({"quantity": before});
    }
    let body = ev.to_string();
    let signature = devstack::sign_event(&body, SECRET);
    apigw_event(
        HttpCall {
            method: "POST".into(),
            path_and_query: "/webhooks/stripe".into(),
            headers: vec![("content-type".into(), "application/json".into()), ("stripe-signature".into(), signature)],
            body: body.into_bytes(),
        },
        None,
    )
}

fn portal_event(_: usize) -> Value {
    let claims: BTreeMap<String, String> = [
        ("sub", "demo-admin"),
        ("email", "admin@demo.example"),
        ("email_verified", "true"),
        ("iss", "https://billing.local.invalid/dev-issuer"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let call = HttpCall {
        method: "GET".into(),
        path_and_query: "/v1/accounts/acct_demo".into(),
        headers: vec![],
        body: vec![],
    };
    apigw_event(call, Some(&claims))
}

/// A stream batch of one new work item, as Lambda delivers it.
fn stream_event(item: Value, n: usize) -> Value {
    let image =
        serde_json::to_value(serde_dynamo::to_item::<_, serde_dynamo::Item>(item).expect("item")).expect("JSON");
    json!({"Records": [{
        "eventID": format!("bench-{n}"), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/x",
        "dynamodb": {"ApproximateCreationDateTime": 1_795_000_000, "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image, "SequenceNumber": format!("{:021}", n + 1), "SizeBytes": 200, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    }]})
}

/// A receipt to mail (a new event each time, so each is a real send).
fn mailer_event(n: usize) -> Value {
    stream_event(
        json!({"pk": "ACCOUNT#acct_demo", "sk": format!("WORK#evt_bench_{n}#payment_received"), "entity": "work_item",
            "kind": "payment_received", "account_id": "acct_demo", "invoice_id": "in_DemoFirst0000001",
            "amount_paid": {"amount": "60.00", "currency": "USD"}, "event_id": format!("evt_bench_{n}")}),
        n,
    )
}

fn provisioner_event(n: usize) -> Value {
    stream_event(
        json!({"pk": "ACCOUNT#acct_demo", "sk": format!("WORK#evt_bench_{n}#seats_changed"), "entity": "work_item",
            "kind": "seats_changed", "account_id": "acct_demo", "subscription_id": "sub_DemoSeats00000001",
            "to": 8, "status": "active", "event_id": format!("evt_bench_{n}")}),
        n,
    )
}

fn empty_event(_: usize) -> Value {
    json!({})
}

const TARGETS: &[Target] = &[
    Target {
        name: "baseline: hello (lambda_runtime)",
        binary: "baseline-hello",
        event: empty_event,
        baseline: true,
        env: &[],
    },
    Target {
        name: "baseline: floor (verify + put)",
        binary: "baseline-floor",
        event: floor_event,
        baseline: true,
        env: &[],
    },
    Target {
        name: FLOOR_TRANSACTION,
        binary: "baseline-floor",
        event: floor_event,
        baseline: true,
        env: &[("FLOOR_WRITE", "transaction")],
    },
    Target { name: "stripe-webhook", binary: "stripe-webhook", event: webhook_event, baseline: false, env: &[] },
    Target { name: "portal-api", binary: "portal-api", event: portal_event, baseline: false, env: &[] },
    Target { name: "invoice-mailer", binary: "invoice-mailer", event: mailer_event, baseline: false, env: &[] },
    Target {
        name: "seat-provisioner",
        binary: "seat-provisioner",
        event: provisioner_event,
        baseline: false,
        env: &[],
    },
];

/// The floor whose one write has the webhook's shape (see `bench/baselines/floor`).
const FLOOR_TRANSACTION: &str = "baseline: floor, the webhook's write (verify + 3-item transaction)";

/// The stack's environment and the target's own.
fn env_of(t: &Target, env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter().cloned().chain(t.env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).collect()
}

/// The local stack every function runs against: moto with the table, the demo account and its
/// first invoice, the secrets, a verified sender.
async fn stack() -> Result<(devstack::moto::Moto, Vec<(String, String)>)> {
    let port = devstack::moto::free_port()?;
    let moto = tokio::task::spawn_blocking(move || devstack::moto::Moto::start(port, None)).await??;
    let endpoint = moto.endpoint.clone();
    let aws = devstack::aws::local_config(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    // The template's table as deployed, stream included (dev/moto_serve.py keeps moto's
    // transactions from copying the table and its stream on every call).
    let yaml = std::fs::read_to_string(devstack::template_path())?;
    for spec in devstack::tables::parse_template(&yaml)? {
        devstack::tables::create(&client, &spec, "bench").await?;
    }
    let store = billing_aws::DynamoStore::new(client, "bench");
    devstack::seed::seed(&store).await?;
    // The demo account's first bill, through the webhook's own path.
    let webhook = stripe_webhook::router(stripe_webhook::AppState::new(store.clone(), vec![SECRET.to_owned()]));
    // The webhook's own seat subscription (under an account of its own, so that the work items
    // its 1,000 seat changes leave do not crowd the demo account the other functions read).
    let mut webhook_subscription: Value = serde_json::from_str(&std::fs::read_to_string(
        devstack::repo_root().join("events/stripe/customer.subscription.created.json"),
    )?)?;
    webhook_subscription["id"] = json!("evt_bench_subscription");
    webhook_subscription["data"]["object"]["metadata"]["account_id"] = json!(WEBHOOK_ACCOUNT);
    let setup = [
        ("checkout.session.completed.json", None),
        ("customer.subscription.created.json", None),
        ("invoice.finalized.json", None),
        ("the webhook's subscription", Some(webhook_subscription.to_string())),
    ];
    for (name, given) in setup {
        let body = match given {
            Some(body) => body,
            None => std::fs::read_to_string(devstack::repo_root().join("events/stripe").join(name))?,
        };
        let call = HttpCall {
            method: "POST".into(),
            path_and_query: "/webhooks/stripe".into(),
            headers: vec![("stripe-signature".into(), devstack::sign_event(&body, SECRET))],
            body: body.into_bytes(),
        };
        let r = apigw::invoke(webhook.clone(), &apigw_event(call, None)).await?;
        if !r.status().is_success() {
            bail!("setting up {name}: {}", r.status());
        }
    }
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let mut arns = Vec::new();
    for (name, value) in [("webhook", SECRET), ("api-key", "sk_test_bench")] {
        let out = secrets.create_secret().name(format!("bench/{name}")).secret_string(value).send().await?;
        arns.push(out.arn.context("secret ARN")?);
    }
    devstack::outbox::verify_sender(&aws, FROM).await?;
    // Where contract bills' PDFs are kept (the portal links them, the mailer attaches them).
    devstack::documents::ensure_bucket(&aws, "bench-bills").await?;
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("TABLE_NAME", "bench"),
        ("BILL_DOCUMENTS_BUCKET", "bench-bills"),
        ("RUST_LOG", "warn"),
        ("STRIPE_WEBHOOK_SECRETS_ARN", &arns[0]),
        ("STRIPE_API_KEY_ARN", &arns[1]),
        ("SEAT_PRICE_MONTHLY", "price_seat_monthly"),
        ("SEAT_PRICE_ANNUAL", "price_seat_annual"),
        ("PORTAL_URL", "https://portal.example"),
        ("SELLER_NAME", "Bench Hosting"),
        ("MAIL_FROM", FROM),
        ("REMIT_TO_NAME", "Bench Hosting AR"),
        ("REMIT_TO_LINE1", "PO Box 1"),
        ("REMIT_TO_CITY", "Chicago"),
        ("REMIT_TO_COUNTRY", "US"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Ok((moto, env))
}

/// Starts the function; its logs go to `target/bench-logs/<binary>.log` (a pipe nobody reads
/// would fill and stall it).
fn spawn(bin: &Path, api: &str, env: &[(String, String)]) -> Result<Child> {
    std::fs::create_dir_all("target/bench-logs")?;
    let name = bin.file_name().and_then(|n| n.to_str()).unwrap_or("function");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(format!("target/bench-logs/{name}.log"))?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    cmd.spawn().with_context(|| format!("starting {}", bin.display()))
}

/// The process's own accounting of its peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

struct Cold {
    init: Duration,
    first_response: Duration,
    /// CPU time the process (all its threads) had used by its first response.
    cpu: Duration,
}

/// CPU time on all of the process's threads so far (`/proc/<pid>/task/*/schedstat`, ns).
fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                total += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(total)
}

async fn wait_response(seen: &mut tokio::sync::mpsc::UnboundedReceiver<Seen>, id: &str) -> Result<Instant> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), seen.recv()).await.context("no answer within 30 s")? {
            Some(Seen::Response { id: got, at, body }) if got == id => {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if let Some(status) = v["statusCode"].as_u64().filter(|s| *s >= 400) {
                    bail!("invocation {id} answered HTTP {status}: {v}");
                }
                if v["batchItemFailures"].as_array().is_some_and(|f| !f.is_empty()) {
                    bail!("invocation {id} reported failed records: {v}");
                }
                return Ok(at);
            }
            Some(Seen::Error { id: got, body, .. }) if got == id => {
                bail!("invocation {id} failed: {}", String::from_utf8_lossy(&body))
            }
            Some(Seen::InitError(body)) => bail!("init failed: {}", String::from_utf8_lossy(&body)),
            Some(_) => continue,
            None => bail!("the emulator stopped"),
        }
    }
}

async fn cold_start(t: &Target, bin: &Path, env: &[(String, String)], n: usize) -> Result<Cold> {
    let mut emu = emulator::start().await?;
    let started = Instant::now();
    let mut child = spawn(bin, &emu.addr, env)?;
    let first_next = loop {
        match tokio::time::timeout(Duration::from_secs(30), emu.seen.recv()).await.context("no first `next` in 30 s")? {
            Some(Seen::Next(at)) => break at,
            Some(Seen::InitError(body)) => bail!("{}: init failed: {}", t.name, String::from_utf8_lossy(&body)),
            Some(_) => continue,
            None => bail!("emulator stopped"),
        }
    };
    let id = format!("cold-{n}");
    emu.events.send((id.clone(), (t.event)(n))).await?;
    let answered = wait_response(&mut emu.seen, &id).await.with_context(|| t.name.to_owned())?;
    let cpu = child.id().map(cpu_time).unwrap_or_default();
    let _ = child.kill().await;
    Ok(Cold { init: first_next - started, first_response: answered - started, cpu })
}

struct Warm {
    p50: Duration,
    p99: Duration,
    peak_rss_kib: u64,
}

async fn warm(t: &Target, bin: &Path, env: &[(String, String)], events: usize, offset: usize) -> Result<Warm> {
    let mut emu = emulator::start().await?;
    let mut child = spawn(bin, &emu.addr, env)?;
    let pid = child.id().context("pid")?;
    let mut latencies = Vec::with_capacity(events);
    for i in 0..events {
        let id = format!("warm-{i}");
        let event = (t.event)(offset + i);
        let handed = Instant::now();
        emu.events.send((id.clone(), event)).await?;
        let answered = wait_response(&mut emu.seen, &id).await.with_context(|| t.name.to_owned())?;
        latencies.push(answered - handed);
    }
    let peak = peak_rss_kib(pid).unwrap_or(0);
    let _ = child.kill().await;
    latencies.sort();
    let at =
        |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1).min(latencies.len() - 1)];
    Ok(Warm { p50: at(0.50), p99: at(0.99), peak_rss_kib: peak })
}

/// What a function asks of the stand-in: at init, on its first event and on a warm one (the
/// fifth), counted by a proxy in front of the stand-in (a separate pass: the timed runs go to
/// the stand-in directly).
struct Counted {
    init: Tally,
    first: Tally,
    warm: Tally,
    /// The median over the warm events (2nd to 5th) of the time spent in store calls.
    store_time: Duration,
}

async fn count_calls(
    t: &Target,
    bin: &Path,
    env: &[(String, String)],
    proxy: &CallLog,
    offset: usize,
) -> Result<Counted> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.clone(), if k == "AWS_ENDPOINT_URL" { proxy.url.clone() } else { v.clone() }))
        .collect();
    proxy.take();
    let mut emu = emulator::start().await?;
    let mut child = spawn(bin, &emu.addr, &env)?;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), emu.seen.recv()).await.context("no first `next` in 30 s")? {
            Some(Seen::Next(_)) => break,
            Some(Seen::InitError(body)) => bail!("{}: init failed: {}", t.name, String::from_utf8_lossy(&body)),
            Some(_) => continue,
            None => bail!("emulator stopped"),
        }
    }
    let init = proxy.tally();
    let mut events = Vec::new();
    for i in 0..5 {
        let id = format!("count-{i}");
        emu.events.send((id.clone(), (t.event)(offset + i))).await?;
        wait_response(&mut emu.seen, &id).await.with_context(|| t.name.to_owned())?;
        events.push(proxy.tally());
    }
    let _ = child.kill().await;
    let store_time = median(events.iter().skip(1).map(|e| e.store_time).collect());
    let warm = events.pop().unwrap_or_default();
    Ok(Counted { init, first: events.into_iter().next().unwrap_or_default(), warm, store_time })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn zip_size(name: &str) -> Option<u64> {
    std::fs::metadata(format!("target/lambda/{name}/bootstrap.zip")).ok().map(|m| m.len())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cores} × {cpu}, {}", std::env::consts::ARCH)
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    std::env::set_current_dir(devstack::repo_root())?;
    for t in TARGETS {
        let bin = args.bin_dir.join(t.binary);
        if !bin.exists() {
            bail!("{} is missing: build the release binaries first (bench/run.sh does)", bin.display());
        }
    }
    eprintln!("lambda-bench: starting the local stack");
    let (mut moto, env) = stack().await?;

    // Cold starts, interleaved: A B C … A B C …
    let mut cold: Vec<Vec<Cold>> = TARGETS.iter().map(|_| Vec::new()).collect();
    for round in 0..args.cold {
        for (i, t) in TARGETS.iter().enumerate() {
            let c = cold_start(t, &args.bin_dir.join(t.binary), &env_of(t, &env), 1_000_000 + round * 100 + i).await?;
            cold[i].push(c);
        }
        eprintln!("lambda-bench: cold round {}/{} done", round + 1, args.cold);
    }
    let mut warm_runs = Vec::new();
    for (i, t) in TARGETS.iter().enumerate() {
        warm_runs
            .push(warm(t, &args.bin_dir.join(t.binary), &env_of(t, &env), args.events, 2_000_000 + i * 100_000).await?);
        eprintln!("lambda-bench: {} warm run done", t.name);
    }
    let proxy = CallLog::start(&moto.endpoint).await?;
    let mut counted = Vec::new();
    for (i, t) in TARGETS.iter().enumerate() {
        counted.push(
            count_calls(t, &args.bin_dir.join(t.binary), &env_of(t, &env), &proxy, 3_000_000 + i * 100_000).await?,
        );
    }
    eprintln!("lambda-bench: calls counted");
    moto.stop();

    struct Row {
        name: &'static str,
        baseline: bool,
        init: Duration,
        first: Duration,
        cpu: Duration,
        warm: Warm,
        zip: Option<u64>,
    }
    let rows: Vec<Row> = TARGETS
        .iter()
        .zip(cold)
        .zip(warm_runs)
        .map(|((t, c), w)| Row {
            name: t.name,
            baseline: t.baseline,
            init: median(c.iter().map(|c| c.init).collect()),
            first: median(c.iter().map(|c| c.first_response).collect()),
            cpu: median(c.iter().map(|c| c.cpu).collect()),
            warm: w,
            zip: if t.baseline { None } else { zip_size(t.binary) },
        })
        .collect();
    let hello = &rows[0];
    let floor = &rows[1];
    let ratio = |a: Duration, b: Duration| format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64().max(1e-9));

    let mut table = String::from(
        "| function | init (exec → first `next`), ms | exec → first response, ms | ÷ floor | its CPU by then, ms | warm p50, ms | warm p99, ms | p99 − hello p99, ms | peak RSS, MB (÷ hello) | zip, MB |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut misses = Vec::new();
    for r in &rows {
        let rss_mb = r.warm.peak_rss_kib as f64 / 1024.0;
        let overhead = r.warm.p99.saturating_sub(hello.warm.p99);
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} ({:.2}×) | {} |\n",
            r.name,
            ms(r.init),
            ms(r.first),
            ratio(r.first, floor.first),
            ms(r.cpu),
            ms(r.warm.p50),
            ms(r.warm.p99),
            ms(overhead),
            rss_mb,
            r.warm.peak_rss_kib as f64 / hello.warm.peak_rss_kib.max(1) as f64,
            r.zip.map(|z| format!("{:.2}", z as f64 / 1_000_000.0)).unwrap_or_else(|| if r.baseline {
                "–".into()
            } else {
                "not built".into()
            }),
        ));
        if r.baseline {
            continue;
        }
        let limit = match r.name {
            "stripe-webhook" => 1.2,
            "portal-api" => 1.5,
            _ => 2.0,
        };
        if r.first.as_secs_f64() > limit * floor.first.as_secs_f64() {
            misses.push(format!(
                "{}: exec → first response {} ms > {limit}× the floor ({} ms)",
                r.name,
                ms(r.first),
                ms(floor.first)
            ));
        }
        if rss_mb > 16.0 {
            misses.push(format!("{}: peak RSS {rss_mb:.1} MB > 16 MB", r.name));
        }
        match r.zip {
            Some(z) if z > 6_000_000 => misses.push(format!("{}: zip {:.2} MB > 6 MB", r.name, z as f64 / 1e6)),
            None => misses.push(format!("{}: zip not built (make build-lambda)", r.name)),
            _ => {}
        }
    }
    if let Some(webhook) = rows.iter().find(|r| r.name == "stripe-webhook")
        && webhook.warm.p50.as_secs_f64() > 1.2 * floor.warm.p50.as_secs_f64()
    {
        misses.push(format!(
            "stripe-webhook: warm p50 {} ms > 1.2× the floor's ({} ms)",
            ms(webhook.warm.p50),
            ms(floor.warm.p50)
        ));
    }
    let mut calls = String::from(
        "| function | at init | first event: store calls (serial) | warm event: store calls (serial) | SES | round trips in a row | warm event's critical path | time in store calls, ms |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (t, c) in TARGETS.iter().zip(&counted) {
        calls.push_str(&format!(
            "| {} | {} | {} ({}) | {} ({}) | {} | {} | {} | {} |\n",
            t.name,
            c.init.path(),
            c.first.store,
            c.first.store_serial,
            c.warm.store,
            c.warm.store_serial,
            c.warm.ses,
            c.warm.serial(),
            c.warm.path(),
            ms(c.store_time),
        ));
        if t.name == "stripe-webhook" && c.warm.store_serial > 1 {
            misses.push(format!(
                "stripe-webhook: {} store round trips in a row on an in-order event > 1",
                c.warm.store_serial
            ));
        }
    }
    if hello.warm.p99 > Duration::from_millis(1) {
        misses.push(format!("runtime overhead (hello p99) {} ms > 1 ms", ms(hello.warm.p99)));
    }
    // What the webhook costs beyond a floor that makes the same one write: its own work.
    let beside_its_write = match (
        rows.iter().find(|r| r.name == FLOOR_TRANSACTION),
        rows.iter().find(|r| r.name == "stripe-webhook"),
    ) {
        (Some(tx), Some(webhook)) => format!(
            "The webhook beside the floor that makes its one write (the three-item transaction): exec → first response {} ({} ms against {} ms), warm p50 {} ({} ms against {} ms). That floor beside the plain one: {} and {}, the store's price of writing the claim, the state and the follow-up atomically.\n\n",
            ratio(webhook.first, tx.first),
            ms(webhook.first),
            ms(tx.first),
            ratio(webhook.warm.p50, tx.warm.p50),
            ms(webhook.warm.p50),
            ms(tx.warm.p50),
            ratio(tx.first, floor.first),
            ratio(tx.warm.p50, floor.warm.p50),
        ),
        _ => String::new(),
    };
    let verdict = if misses.is_empty() {
        "All targets met.".to_owned()
    } else {
        format!("Targets missed:\n\n{}", misses.iter().map(|m| format!("- {m}\n")).collect::<String>())
    };
    let report = format!(
        "# Performance\n\nWritten by `bench/run.sh` (the `lambda-bench` harness); do not edit by hand.\n\n\
         - Machine: {machine}; release profile (opt-level \"s\", thin LTO, 1 codegen unit, panic = abort), host build.\n\
         - Date: {date}; commit `{commit}`.\n\
         - Cold: median of {cold} starts per function, interleaved across functions; warm: {events} sequential events in one process.\n\
         - Each function runs under our Lambda Runtime API emulator against the local stack (moto, served one request at a time by `dev/moto_serve.py`; the table as the template defines it, stream included), with the sample events in `events/`. Figures that involve the store are moto's: relative, not absolute.\n\
         - Baselines: `hello` (an empty `lambda_runtime` function) and `floor` (reads its signing secret from Secrets Manager, verifies a Stripe signature, one conditional DynamoDB put; same SDK and TLS); the same floor once more with the webhook's one write instead of the put (`FLOOR_WRITE=transaction`: a `TransactWriteItems` of the claim, the state conditioned on its stored stamp, a work item). Targets are against the plain floor.\n\
         - \"Its CPU by then\": CPU time on all the process's threads at its first response (`/proc/<pid>/task/*/schedstat`); the rest of the wall time is waiting, mostly on the stand-in.\n\
         - `p99 − hello p99` is what a function's own work adds to the runtime's round trip; the runtime's own warm overhead is hello's p99.\n\
         - Zip: `target/lambda/<fn>/bootstrap.zip` from `make build-lambda` (arm64).\n\n{table}\n\
         ## Calls per event (counted)\n\n\
         Each function run once more with its AWS endpoint pointed at a proxy in front of the stand-in (`devstack::calls`), which records every call it forwards and when it started and ended; calls that overlapped count as one round trip. \"At init\": before the first `next`; the first and a warm (fifth) event of the same inputs as above; the time in store calls is the median over the warm events (second to fifth), as the proxy saw it (one more loopback hop than the timed runs). Stripe calls are not on these events' paths (the bench has no network to Stripe).\n\n{calls}\n{beside_its_write}{verdict}\n",
        machine = machine(),
        date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        commit = commit(),
        cold = args.cold,
        events = args.events,
    );
    std::fs::write(&args.out, &report)?;
    println!("{report}");
    if args.check && !misses.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
