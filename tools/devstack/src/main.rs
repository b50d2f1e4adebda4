//! `dev`: the local stack's command line (`make dev` runs `dev up`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use billing_aws::{DynamoStore, S3Documents};
use billing_domain::{Address, AddressInput};
use clap::{Parser, Subcommand};
use std::sync::Arc;

use devstack::cognito::LocalPool;
use devstack::fake_stripe::FakePrice;
use devstack::fake_stripe::FakeStripe;
use devstack::streams::Consumer;
use devstack::{gateway, moto::Moto, seed, tables};
use invoice_mailer::render::Brand;
use invoice_mailer::send::Ses;
use invoice_mailer::{MailSettings, Mailer};
use portal_api::state::SeatSettings;
use portal_api::stripe_client::StripeClient;
use portal_api::{AppState, RemitTo, Settings};
use seat_provisioner::Provisioner;
use stripe_webhook::stripe_api::StripeApi;

#[derive(Parser)]
#[command(name = "dev", about = "The billing backend's local stack")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the running `make dev`'s AWS stand-in is (the helper commands talk to it).
#[derive(clap::Args)]
struct StandIn {
    #[arg(long, env = "DEV_AWS_PORT", default_value_t = 4566)]
    aws_port: u16,
    #[arg(long, env = "DEV_AWS_ENDPOINT")]
    aws_endpoint: Option<String>,
}

impl StandIn {
    fn endpoint(self) -> String {
        self.aws_endpoint.unwrap_or_else(|| format!("http://127.0.0.1:{}", self.aws_port))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Start the AWS stand-in, create the tables from infra/template.yaml, seed the demo account
    /// and serve the portal API on loopback until Ctrl-C.
    Up {
        /// Port of the portal API (the local API Gateway).
        #[arg(long, env = "DEV_API_PORT", default_value_t = 3000)]
        api_port: u16,
        /// Port of the AWS stand-in (moto).
        #[arg(long, env = "DEV_AWS_PORT", default_value_t = 4566)]
        aws_port: u16,
        /// Where the stand-in's log (and later the mail outbox) go.
        #[arg(long, env = "DEV_DATA_DIR", default_value = ".dev")]
        data_dir: PathBuf,
        /// Use an AWS stand-in that is already running at this URL instead of starting one.
        #[arg(long, env = "DEV_AWS_ENDPOINT")]
        aws_endpoint: Option<String>,
        /// Name of the billing table (BillingTable in the template).
        #[arg(long, env = "DEV_TABLE_NAME", default_value = "billing-local")]
        table: String,
        /// Port of the fake Stripe API (not started when STRIPE_SECRET_KEY is set).
        #[arg(long, env = "DEV_STRIPE_PORT", default_value_t = 12111)]
        stripe_port: u16,
    },
    /// Print the Stripe-Signature header for a file's exact bytes, signed now with the local
    /// webhook secret (what `make stripe-event` sends).
    SignEvent {
        file: PathBuf,
        #[arg(long, env = "STRIPE_WEBHOOK_SECRETS", default_value = devstack::LOCAL_WEBHOOK_SECRET)]
        secret: String,
    },
    /// Print an account's billing state as the webhook projected it: subscriptions, follow-up
    /// work items, and the ledger of Stripe events about it.
    Billing {
        #[arg(long, default_value = "acct_demo")]
        account: String,
        /// Every stored item as it is, instead of the summary.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        stand_in: StandIn,
        #[arg(long, env = "DEV_TABLE_NAME", default_value = "billing-local")]
        table: String,
    },
    /// Run the scheduled bill run against the running `make dev` with its clock set to `--clock`
    /// (a date, at 09:00 UTC): the cohort notices and payment reminders due then, and the bills
    /// due by `--date`. Locally only: in AWS the run's clock is the real one.
    BillRun {
        /// The run's clock, e.g. 2027-01-15 (default: now).
        #[arg(long)]
        clock: Option<chrono::NaiveDate>,
        /// Bill what is due on or before this date (default: today, whatever the clock says).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Fan out as in AWS: hand the due accounts out through the stand-in's SQS (the
        /// template's job queue and its dead letters) to this many workers, until the queue drains.
        #[arg(long)]
        workers: Option<usize>,
        #[command(flatten)]
        stand_in: StandIn,
        #[arg(long, env = "DEV_TABLE_NAME", default_value = "billing-local")]
        table: String,
    },
    /// Drop a lockbox file into the running `make dev`'s lockbox bucket, as the bank does: it is
    /// imported within two seconds (see the Lockbox page of the back office).
    Lockbox {
        file: PathBuf,
        #[command(flatten)]
        stand_in: StandIn,
        #[arg(long, env = "LOCKBOX_BUCKET", default_value = "billing-lockbox-local")]
        bucket: String,
    },
    /// Sign a demo user in to the running `make dev`'s Cognito and print the ID token (what the
    /// web app sends; the local gateway verifies it as API Gateway does).
    Token {
        #[arg(long, default_value = "admin@demo.example")]
        email: String,
        /// Defaults to the demo user's documented password.
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        stand_in: StandIn,
        #[arg(long, env = "DEV_DATA_DIR", default_value = ".dev")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Token { email, password, stand_in, data_dir } => {
            // A staff member signs in to the staff pool (the back office's), a customer to theirs.
            let staff = seed::STAFF_USERS.iter().find(|(e, _, _)| *e == email);
            let file = if staff.is_some() { STAFF_COGNITO_FILE } else { COGNITO_FILE };
            let pool = LocalPool::read(&data_dir.join(file))
                .context("is `make dev` running? It creates the local Cognito pools")?;
            let known = seed::DEMO_PASSWORDS.iter().find(|(e, _)| *e == email).map(|(_, p)| *p);
            let password = match password {
                Some(p) => p,
                None => known
                    .or(staff.map(|(_, p, _)| *p))
                    .map(str::to_owned)
                    .with_context(|| format!("{email} is not a demo or staff user; pass --password"))?,
            };
            let endpoint = stand_in.endpoint();
            println!("{}", pool.sign_in(&endpoint, &email, &password)?);
            Ok(())
        }
        Command::SignEvent { file, secret } => {
            let body = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            // The first secret signs, as Stripe signs with the newest one.
            let secret = stripe_webhook::secrets_from(&secret).into_iter().next().context("no secret")?;
            println!("{}", stripe_events::Webhook::generate_test_header(&body, &secret, None));
            Ok(())
        }
        Command::BillRun { clock, date, workers, stand_in, table } => {
            let endpoint = stand_in.endpoint();
            let aws = devstack::aws::local_config(&endpoint).await;
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &table);
            let now = match clock {
                Some(day) => day.and_hms_opt(9, 0, 0).context("a time of day")?.and_utc(),
                None => chrono::Utc::now(),
            };
            let run = bill_run::BillRun::new(store.clone(), bill_run::Settings::default());
            let date = Some(date.unwrap_or_else(|| chrono::Utc::now().date_naive()));
            let request = bill_run::RunRequest { date, ..Default::default() };
            match workers {
                None => {
                    let report = run.run(&request, now, None).await;
                    println!("{}", serde_json::to_string_pretty(&report)?);
                }
                Some(workers) => println!(
                    "{}",
                    serde_json::to_string_pretty(&fan_out(&aws, &store, &run, &request, now, workers, &table).await?)?
                ),
            }
            Ok(())
        }
        Command::Lockbox { file, stand_in, bucket } => {
            let aws = devstack::aws::local_config(&stand_in.endpoint()).await;
            let body = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("lockbox.txt");
            let key = format!("incoming/{}-{name}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
            billing_aws::documents::client(&aws)
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .body(body.into())
                .send()
                .await
                .with_context(|| format!("putting {key} into {bucket}"))?;
            println!("s3://{bucket}/{key}");
            Ok(())
        }
        Command::Billing { account, full, stand_in, table } => {
            let endpoint = stand_in.endpoint();
            let aws = devstack::aws::local_config(&endpoint).await;
            let client = aws_sdk_dynamodb::Client::new(&aws);
            let report = devstack::inspect::billing(&client, &table, &account).await?;
            let report = if full { report } else { devstack::inspect::summary(&report) };
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Up { api_port, aws_port, data_dir, aws_endpoint, table, stripe_port } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .init();
            up(api_port, aws_port, data_dir, aws_endpoint, table, stripe_port).await
        }
    }
}

/// The scheduled run fanned out on the stand-in: hands the due accounts out through the
/// template's job queue, bills them with `workers` workers (each its own bill run, as Lambda
/// instances are) until the queue drains, and reports what was handed out, billed and parked.
async fn fan_out(
    aws: &aws_config::SdkConfig,
    store: &DynamoStore,
    run: &bill_run::BillRun<DynamoStore>,
    request: &bill_run::RunRequest,
    now: chrono::DateTime<chrono::Utc>,
    workers: usize,
    table: &str,
) -> Result<serde_json::Value> {
    use std::sync::atomic::Ordering;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let queues =
        devstack::jobs::create_from_template(&sqs, &format!("{table}-bill-run"), Duration::from_secs(10)).await?;
    let queue = billing_aws::SqsBillJobs::new(sqs.clone(), &queues.jobs_url);
    let dispatched = run.dispatch(&queue, request, now, None).await;
    let runs: Vec<Arc<bill_run::BillRun<DynamoStore>>> = (0..workers.max(1))
        .map(|_| Arc::new(bill_run::BillRun::new(store.clone(), bill_run::Settings::default())))
        .collect();
    let (handler, tally) = devstack::jobs::round_robin(runs.clone(), 8);
    devstack::jobs::work(
        sqs.clone(),
        queues.clone(),
        workers,
        Arc::new(std::sync::atomic::AtomicBool::new(true)),
        handler,
    )
    .await?;
    Ok(serde_json::json!({
        "dispatch": dispatched,
        "workers": workers,
        "finalized": tally.finalized.load(Ordering::Relaxed),
        "failed_attempts": tally.failed.load(Ordering::Relaxed),
        "numbers_taken_again": runs.iter().map(|r| r.numbers_lost()).sum::<u64>(),
        "dead_letters": devstack::jobs::backlog(&sqs, &queues.dead_letters_url).await?,
        "dead_letter_queue": queues.dead_letters_url,
    }))
}

/// Where `make dev` keeps what it made of the local Cognito pool (in its data directory).
const COGNITO_FILE: &str = "cognito.json";
const STAFF_COGNITO_FILE: &str = "cognito-staff.json";

/// The seller's REMIT-TO: from `REMIT_TO_*` if set, else a demo address so bills show one.
fn remit_to() -> Result<RemitTo> {
    if let Some(r) = Settings::remit_to_from_env()? {
        return Ok(r);
    }
    Ok(RemitTo {
        name: "Demo Hosting Inc. - Accounts Receivable".into(),
        address: Address::parse(AddressInput {
            line1: "PO Box 1234",
            line2: Some("Lockbox 5678"),
            city: "Chicago",
            region: Some("IL"),
            postal_code: Some("60601"),
            country: "US",
        })?,
    })
}

async fn up(
    api_port: u16,
    aws_port: u16,
    data_dir: PathBuf,
    aws_endpoint: Option<String>,
    table: String,
    stripe_port: u16,
) -> Result<()> {
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&data_dir)?;
    let log = data_dir.join("moto.log");
    let outbox = data_dir.join("outbox");
    // Each run's mail apart: what an earlier run left moves to `outbox-earlier/<when>/`.
    if let Some(moved) = devstack::outbox::set_aside(&outbox, &data_dir.join("outbox-earlier"))? {
        tracing::info!(to = %moved.display(), "the earlier runs' mail was set aside");
    }
    let (mut moto, endpoint) = match aws_endpoint {
        Some(url) => (None, url),
        None => {
            tracing::info!(port = aws_port, log = %log.display(), "starting the AWS stand-in (moto)");
            let m = tokio::task::spawn_blocking(move || Moto::start_with_outbox(aws_port, Some(&log), Some(&outbox)))
                .await??;
            let url = m.endpoint.clone();
            (Some(m), url)
        }
    };
    let result = serve(api_port, &endpoint, moto.is_none(), &table, stripe_port, &data_dir).await;
    if let Some(m) = moto.as_mut() {
        tracing::info!("stopping the AWS stand-in");
        m.stop();
    }
    result
}

/// The seat prices the fake Stripe sells locally (and the portal offers), per seat.
pub const LOCAL_MONTHLY_PRICE: &str = "price_seat_monthly";
pub const LOCAL_ANNUAL_PRICE: &str = "price_seat_annual";

/// Stripe for the local stack: real test mode when `STRIPE_SECRET_KEY` is set, else the fake
/// (holding the newest object of each sample event, selling the local seat prices). Returns the
/// webhook's client, the portal's client, the fake if any, and where Stripe is.
async fn stripe_clients(port: u16) -> Result<(StripeApi, StripeClient, Option<FakeStripe>, String)> {
    if let Ok(key) = std::env::var("STRIPE_SECRET_KEY")
        && !key.trim().is_empty()
    {
        let key = key.trim();
        let place = "api.stripe.com (STRIPE_SECRET_KEY)".to_owned();
        return Ok((StripeApi::new(key, None)?, StripeClient::new(key, None)?, None, place));
    }
    let fake = FakeStripe::default();
    fake.load_events(&devstack::repo_root().join("events/stripe"))?;
    for (id, interval, unit_amount) in [(LOCAL_MONTHLY_PRICE, "month", 1200), (LOCAL_ANNUAL_PRICE, "year", 12000)] {
        fake.add_price(FakePrice { id: id.into(), interval: interval.into(), unit_amount, currency: "usd".into() });
    }
    let url = fake.serve(port).await.with_context(|| format!("binding 127.0.0.1:{port} (set DEV_STRIPE_PORT)"))?;
    let key = "sk_test_local_fake";
    Ok((StripeApi::new(key, Some(&url))?, StripeClient::new(key, Some(&url))?, Some(fake), format!("fake at {url}")))
}

/// Hands an event arriving at the local webhook to [`FakeStripe::follow`] (Stripe changes its
/// object before it sends the event), then to the webhook, which checks its signature. Local only:
/// whoever can reach loopback can already change the fake. The fake's own events are delivered to
/// the webhook directly, not through here.
async fn follow_sent_event(
    axum::extract::State(fake): axum::extract::State<FakeStripe>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return axum::response::IntoResponse::into_response(http::StatusCode::PAYLOAD_TOO_LARGE);
    };
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        fake.follow(&event);
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// Delivers the fake's events to the local webhook, one at a time and in order, signed with the
/// first local secret, through the same API Gateway event path as any other request.
fn deliver_fake_events(fake: &FakeStripe, webhook: axum::Router, secret: String) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let requeue = tx.clone();
    fake.set_sink(std::sync::Arc::new(move |event| {
        let _ = tx.send(event);
    }));
    tokio::spawn(async move {
        let template = devstack::apigw::template();
        while let Some(event) = rx.recv().await {
            let body = event.to_string();
            let signature = devstack::sign_event(&body, &secret);
            let call = devstack::apigw::HttpCall {
                method: "POST".into(),
                path_and_query: "/webhooks/stripe".into(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("stripe-signature".into(), signature),
                ],
                body: body.into_bytes(),
            };
            let kind = event["type"].as_str().unwrap_or_default().to_owned();
            match devstack::apigw::invoke(webhook.clone(), &devstack::apigw::event(&template, &call, None)).await {
                Ok(r) if r.status().is_server_error() => {
                    // As Stripe does: try again later (e.g. the checkout linking its customer
                    // had not arrived yet).
                    tracing::info!(event = %kind, status = r.status().as_u16(), "webhook asked for a retry; retrying in 2 s");
                    let requeue = requeue.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        let _ = requeue.send(event);
                    });
                }
                Ok(r) => {
                    // What the webhook made of it: applied, stale, ignored, parked, duplicate, …
                    let status = r.status().as_u16();
                    let body = axum::body::to_bytes(r.into_body(), 64 * 1024).await.unwrap_or_default();
                    let result = serde_json::from_slice::<serde_json::Value>(&body)
                        .map(|b| b.get("result").or_else(|| b.get("error")).cloned().unwrap_or_default())
                        .unwrap_or_default();
                    tracing::info!(event = %kind, status, %result, "fake Stripe event delivered");
                }
                Err(e) => tracing::error!(event = %kind, error = %e, "fake Stripe event not delivered"),
            }
        }
    });
}

/// The invoice mailer and the seat provisioner on the table's stream, as Lambda would run them;
/// mails go to the stand-in's SES and, as `.eml`, to `outbox`.
async fn stream_consumers(
    aws: &aws_config::SdkConfig,
    table: &str,
    store: &DynamoStore,
    documents: S3Documents,
    brand: Brand,
    outbox: PathBuf,
) -> Result<()> {
    let env_or =
        |name: &str, default: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or(default.into());
    let from = env_or("MAIL_FROM", "billing@demo-hosting.example");
    devstack::outbox::verify_sender(aws, &from).await.context("verifying the sender with the stand-in's SES")?;
    let sender = devstack::outbox::Outbox::new(Ses::new(aws, None), outbox.clone())
        .with_context(|| format!("creating the outbox {}", outbox.display()))?;
    let settings = MailSettings {
        from_name: brand.seller.clone(),
        from_address: from,
        brand,
        send_lease_secs: invoice_mailer::SEND_LEASE_SECS,
    };
    let mailer = Mailer::new(store.clone(), sender, settings).with_documents(documents);
    let provisioner = Provisioner::new(store.clone());
    let consumers = vec![
        Consumer {
            name: "invoice-mailer",
            kinds: devstack::streams::filtered_kinds("InvoiceMailerFunction")?,
            handler: Arc::new(move |event| {
                let mailer = mailer.clone();
                Box::pin(async move { mailer.handle(event).await })
            }),
        },
        Consumer {
            name: "seat-provisioner",
            kinds: devstack::streams::filtered_kinds("SeatProvisionerFunction")?,
            handler: Arc::new(move |event| {
                let provisioner = provisioner.clone();
                Box::pin(async move { provisioner.handle(event).await })
            }),
        },
    ];
    let aws = aws.clone();
    let table = table.to_owned();
    tokio::spawn(async move {
        if let Err(e) = devstack::streams::run(&aws, &table, consumers).await {
            tracing::error!(error = %e, "the stream poller stopped");
        }
    });
    Ok(())
}

async fn serve(
    api_port: u16,
    endpoint: &str,
    reuse_pool: bool,
    table: &str,
    stripe_port: u16,
    data_dir: &std::path::Path,
) -> Result<()> {
    let aws = devstack::aws::local_config(endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    if tables::exists(&client, table).await? {
        tracing::info!(table, "table exists; keeping its data");
    } else {
        tables::create_from_template(&client, |_| table.to_owned()).await?;
        tracing::info!(table, "created from infra/template.yaml");
    }
    let store = DynamoStore::new(client, table);
    let mailer_store = store.clone();
    let ops_store = store.clone();
    // The template's user pool on the stand-in, with the demo users (kept while the stand-in
    // runs: an existing pool file is reused only with a stand-in that was already running).
    // The pool a file names, reused only with a stand-in that was already running; else made
    // by `create` (a blocking call to dev/cognito.py) and written to that file.
    let local_pool = async |name: &str, create: fn(&str, &std::path::Path) -> Result<LocalPool>| -> Result<LocalPool> {
        let file = data_dir.join(name);
        match LocalPool::read(&file) {
            Ok(p) if reuse_pool => Ok(p),
            _ => {
                let endpoint = endpoint.to_owned();
                tokio::task::spawn_blocking(move || create(&endpoint, &file)).await?
            }
        }
    };
    let pool = local_pool(COGNITO_FILE, |e, f| LocalPool::create(e, &seed::DEMO_PASSWORDS, f)).await?;
    tracing::info!(user_pool = %pool.user_pool_id, client = %pool.client_id, "local Cognito user pool");
    // The back office's staff pool, with one staff member per role (seed::STAFF_USERS).
    let staff_pool = local_pool(STAFF_COGNITO_FILE, |e, f| LocalPool::create_staff(e, &seed::STAFF_USERS, f)).await?;
    tracing::info!(user_pool = %staff_pool.user_pool_id, client = %staff_pool.client_id, "local staff user pool");
    let [a, b, v] = seed::DEMO_USERS.map(|(_, email, _)| pool.sub(email).map(str::to_owned));
    let subs = [a?, b?, v?];
    if seed::seed_with(&store, &subs).await? {
        tracing::info!(account = seed::DEMO_ACCOUNT, "seeded the demo account");
    }
    let prefix = std::env::var("INVOICE_PREFIX").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "INV".into());
    if seed::seed_contract(&std::sync::Arc::new(store.clone()), &subs[0], &prefix).await? {
        tracing::info!(account = seed::DEMO_CONTRACT_ACCOUNT, "seeded the demo contract account");
    }
    let (stripe, portal_stripe, fake, stripe_where) = stripe_clients(stripe_port).await?;
    tracing::info!(stripe = %stripe_where, "Stripe API");
    let env_or =
        |name: &str, default: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or(default.into());
    let settings = Settings {
        table_name: table.to_owned(),
        remit_to: Some(remit_to()?),
        seats: SeatSettings {
            monthly_price: env_or("SEAT_PRICE_MONTHLY", LOCAL_MONTHLY_PRICE),
            annual_price: env_or("SEAT_PRICE_ANNUAL", LOCAL_ANNUAL_PRICE),
            max_quantity: env_or("SEAT_MAX_QUANTITY", "500").parse().context("SEAT_MAX_QUANTITY")?,
        },
        portal_url: env_or("PORTAL_URL", &format!("http://127.0.0.1:{api_port}")),
        sales_contact: Some(env_or("SALES_CONTACT_EMAIL", "sales@demo-hosting.example").parse()?),
        seller_name: env_or("SELLER_NAME", "Demo Hosting Inc."),
    };
    // The template's BillDocumentsBucket on the stand-in's S3: contract bills' PDFs.
    let bucket = env_or("BILL_DOCUMENTS_BUCKET", "billing-documents-local");
    devstack::documents::ensure_bucket(&aws, &bucket).await?;
    let documents = S3Documents::from_config(&aws, &bucket);
    let portal =
        portal_api::router(AppState::new(store.clone(), portal_stripe, settings).with_documents(documents.clone()));
    let webhook_secrets = stripe_webhook::secrets_from(
        &std::env::var("STRIPE_WEBHOOK_SECRETS").unwrap_or_else(|_| devstack::LOCAL_WEBHOOK_SECRET.to_owned()),
    );
    let first_secret = webhook_secrets.first().cloned().unwrap_or_default();
    let webhook = stripe_webhook::router(
        stripe_webhook::AppState::new(store.clone(), webhook_secrets)
            .with_ledger(store)
            .with_tolerance(stripe_webhook::tolerance_from_env()?)
            .with_stripe(stripe),
    );
    if let Some(fake) = &fake {
        deliver_fake_events(fake, webhook.clone(), first_secret);
    }
    let outbox = data_dir.join("outbox");
    let web_dist =
        std::env::var_os("DEV_WEB_DIR").map(PathBuf::from).unwrap_or_else(|| devstack::repo_root().join("web/dist"));
    let brand = Brand {
        seller: std::env::var("SELLER_NAME").ok().filter(|v| !v.is_empty()).unwrap_or("Demo Hosting Inc.".into()),
        portal_url: std::env::var("PORTAL_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or(format!("http://127.0.0.1:{api_port}")),
        remit_to: Some(remit_to()?),
        scan_check_digit: billing_aws::config::check_digit_from_env()?,
    };
    let seller = brand.seller.clone();
    stream_consumers(&aws, table, &mailer_store, documents, brand, outbox.clone()).await?;
    let approval_limit = env_or("CREDIT_NOTE_APPROVAL_LIMIT", "500");
    let approval_limit = match approval_limit.trim() {
        "" => None,
        v => Some(v.parse::<rust_decimal::Decimal>().context("CREDIT_NOTE_APPROVAL_LIMIT")?),
    };
    let run_settings =
        || bill_run::Settings { invoice_prefix: env_or("INVOICE_PREFIX", "INV"), ..bill_run::Settings::default() };
    // The template's LockboxBucket: a file put there is imported as the bucket's event would.
    let lockbox_bucket = env_or("LOCKBOX_BUCKET", "billing-lockbox-local");
    devstack::documents::ensure_bucket(&aws, &lockbox_bucket).await?;
    let mut lockbox = billing_aws::config::lockbox_from_env()?;
    // Locally a returned check is charged the README's fee price, once the catalog has it.
    if std::env::var_os("RETURNED_CHECK_FEE_PRICE").is_none() {
        lockbox.returned_check_fee = Some("returned-check-fee".into());
    }
    let importer = lockbox_import::Importer::new(
        ops_api::OpsState::new(ops_store.clone(), run_settings()).with_lockbox(lockbox.clone()),
        S3Documents::from_config(&aws, &lockbox_bucket),
    );
    tokio::spawn(devstack::documents::watch_lockbox(
        aws.clone(),
        lockbox_bucket.clone(),
        importer,
        std::time::Duration::from_secs(2),
    ));
    let ops = ops_api::router(
        ops_api::OpsState::new(ops_store, run_settings()).with_approval_limit(approval_limit).with_lockbox(lockbox),
    );
    // Events sent to the webhook from outside (`make stripe-event`) change what the fake holds,
    // as they would have changed Stripe's objects.
    let webhook = match &fake {
        Some(fake) => webhook.layer(axum::middleware::from_fn_with_state(fake.clone(), follow_sent_event)),
        None => webhook,
    };
    let app = gateway::app(gateway::Gateway {
        portal,
        webhook: Some(webhook),
        ops: Some(ops),
        authorizer: gateway::Authorizer::Cognito(pool.verifier()),
        staff_authorizer: Some(gateway::Authorizer::Cognito(staff_pool.verifier())),
        template: devstack::apigw::template(),
        web: Some(gateway::WebApp {
            dist: web_dist.clone(),
            config: serde_json::json!({
                "cognito": {
                    "userPoolId": pool.user_pool_id,
                    "userPoolClientId": pool.client_id,
                    // Same origin: the gateway passes /cognito on to the stand-in.
                    "userPoolEndpoint": "/cognito",
                },
                "staffCognito": {
                    "userPoolId": staff_pool.user_pool_id,
                    "userPoolClientId": staff_pool.client_id,
                    "userPoolEndpoint": "/cognito",
                },
                "sellerName": seller,
                "supportEmail": env_or("SUPPORT_EMAIL", "support@demo-hosting.example"),
            }),
        }),
        cognito_endpoint: Some(endpoint.to_owned()),
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{api_port} (set DEV_API_PORT to use another port)"))?;
    if !web_dist.join("index.html").is_file() {
        tracing::warn!(dir = %web_dist.display(), "the web app is not built: run `make dev` (or `npm ci && npm run build` in web/)");
    }
    let users: Vec<String> =
        seed::DEMO_PASSWORDS.iter().map(|(email, password)| format!("    {email:<22} {password}")).collect();
    println!(
        "\nThe billing portal: open http://127.0.0.1:{api_port}/ and sign in as a demo user\n\
         (accounts {acct}, billed by card, and {contract}, billed by invoice):\n\n{users}\n\n\
         Portal API on http://127.0.0.1:{api_port}/v1 (AWS stand-in: {endpoint}, table: {table})\n  \
         TOKEN=$(make -s token)   # the demo admin's Cognito ID token; ARGS=\"--email viewer@demo.example\" for another\n  \
         curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:{api_port}/v1/accounts/{acct}\n\n\
         Stripe webhook: POST http://127.0.0.1:{api_port}/webhooks/stripe (make stripe-event EVENT=events/stripe/…)\n\
         Ops API (IAM-signed; any key locally): curl --aws-sigv4 aws:amz:us-east-1:execute-api --user ops:x http://127.0.0.1:{api_port}/v1/ops/prices\n\
         Mail outbox (every mail sent, password reset codes too, as .eml): {outbox}\n\
         Ctrl-C stops everything.\n",
        acct = seed::DEMO_ACCOUNT,
        contract = seed::DEMO_CONTRACT_ACCOUNT,
        users = users.join("\n"),
        outbox = outbox.display(),
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
