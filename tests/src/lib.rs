//! The integration-test harness: a fresh copy of the tables (created from `infra/template.yaml`)
//! on a moto server this process starts, and the portal API driven exactly as API Gateway drives
//! it — an HTTP API event, built from `events/apigw/portal-request.json`, through `lambda_http`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::Client;
use billing_aws::{DynamoStore, S3Documents};
use devstack::apigw::{self, HttpCall};
use devstack::fake_stripe::FakePrice;
use devstack::fake_stripe::FakeStripe;
use devstack::moto::Moto;
use http::StatusCode;
use http_body_util::BodyExt;
use portal_api::state::SeatSettings;
use portal_api::stripe_client::StripeClient;
use portal_api::{AppState, PortalStore, Settings};
use serde_json::Value;

/// A member of the seller's staff, signed in to the staff pool with these groups.
#[derive(Debug, Clone)]
pub struct StaffUser {
    pub sub: String,
    pub email: String,
    pub groups: Vec<&'static str>,
}

impl StaffUser {
    pub fn new(sub: &str, groups: &[&'static str]) -> Self {
        Self { sub: sub.into(), email: format!("{sub}@seller.example"), groups: groups.to_vec() }
    }
}

/// The approval limit the staff console's ops API runs with in these tests (as `make dev`).
pub const STAFF_APPROVAL_LIMIT: &str = "500";

/// A signed-in user as the JWT authorizer describes them.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
}

impl User {
    /// A user with a verified `<sub>@example.com`.
    pub fn new(sub: &str) -> Self {
        Self { sub: sub.into(), email: format!("{sub}@example.com"), email_verified: true }
    }

    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }

    pub fn with_email(mut self, email: &str) -> Self {
        self.email = email.into();
        self
    }

    /// The sample event's Cognito claims with this user's identity.
    fn claims(&self, template: &Value) -> BTreeMap<String, String> {
        let mut claims: BTreeMap<String, String> =
            serde_json::from_value(template["requestContext"]["authorizer"]["jwt"]["claims"].clone())
                .expect("sample claims are strings");
        claims.insert("sub".into(), self.sub.clone());
        claims.insert("cognito:username".into(), self.sub.clone());
        claims.insert("email".into(), self.email.clone());
        claims.insert("email_verified".into(), self.email_verified.to_string());
        claims
    }
}

/// Runs an API Gateway event through `lambda_http` into `router`, as Lambda does, and reads the
/// answer (a body that is not JSON is kept as text, so a failing assertion shows it).
async fn invoke(router: &axum::Router, event: &Value) -> Reply {
    let response = apigw::invoke(router.clone(), event).await.expect("invoke");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply { status: parts.status, headers: parts.headers, body }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The stable error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct Stack {
    pub aws: aws_config::SdkConfig,
    pub endpoint: String,
    pub client: Client,
    pub table: String,
    pub router: axum::Router,
    /// This stack's own fake Stripe (the portal's processor, and what the webhook re-reads).
    pub fake: FakeStripe,
    pub stripe_url: String,
    template: Value,
}

/// The seat prices the test portal sells (12.00 and 120.00 USD a seat) and its limits.
pub const MONTHLY_PRICE: &str = "price_seat_monthly";
pub const ANNUAL_PRICE: &str = "price_seat_annual";
pub const MAX_SEATS: u32 = 50;
pub const PORTAL_URL: &str = "https://portal.example";
pub const SALES: &str = "sales@seller.example";
/// The signing secret of the webhook [`Stack::flush`] delivers to.
pub const FLUSH_SECRET: &str = "whsec_test_fake_stripe_flow";

static TABLES: AtomicU32 = AtomicU32::new(0);

/// Each test stack's bill documents bucket, named after its table.
fn documents_bucket(table: &str) -> String {
    format!("bills-{table}")
}

impl Stack {
    /// A fresh, empty billing table on the shared stand-in, and the portal API over it.
    pub async fn new() -> Self {
        let endpoint = tokio::task::spawn_blocking(Moto::shared).await.expect("moto");
        let aws = devstack::aws::local_config(endpoint).await;
        let client = Client::new(&aws);
        let table = format!("t{}-{}", std::process::id(), TABLES.fetch_add(1, Ordering::SeqCst));
        devstack::tables::create_from_template(&client, |_| table.clone()).await.expect("tables from the template");
        devstack::documents::ensure_bucket(&aws, &documents_bucket(&table)).await.expect("the documents bucket");
        let store = DynamoStore::new(client.clone(), &table);
        let fake = FakeStripe::default();
        for (id, interval, unit_amount) in [(MONTHLY_PRICE, "month", 1200), (ANNUAL_PRICE, "year", 12000)] {
            fake.add_price(FakePrice { id: id.into(), interval: interval.into(), unit_amount, currency: "usd".into() });
        }
        let stripe_url = fake.serve(0).await.expect("fake Stripe");
        Self::assemble(aws, endpoint.to_owned(), client, table, store, fake, stripe_url)
    }

    fn assemble(
        aws: aws_config::SdkConfig,
        endpoint: String,
        client: Client,
        table: String,
        store: impl PortalStore + 'static,
        fake: FakeStripe,
        stripe_url: String,
    ) -> Self {
        let settings = Settings {
            table_name: table.clone(),
            remit_to: None,
            seats: SeatSettings {
                monthly_price: MONTHLY_PRICE.into(),
                annual_price: ANNUAL_PRICE.into(),
                max_quantity: MAX_SEATS,
            },
            portal_url: PORTAL_URL.into(),
            sales_contact: Some(SALES.parse().expect("e-mail")),
            seller_name: "Demo Hosting Inc.".into(),
        };
        let stripe = StripeClient::new("sk_test_portal", Some(&stripe_url)).expect("Stripe client");
        let documents = S3Documents::from_config(&aws, documents_bucket(&table));
        let router = portal_api::router(AppState::new(store, stripe, settings).with_documents(documents));
        Self { aws, endpoint, client, table, router, fake, stripe_url, template: apigw::template() }
    }

    /// This stack's bill documents (its own bucket on the stand-in's S3).
    pub fn documents(&self) -> S3Documents {
        S3Documents::from_config(&self.aws, documents_bucket(&self.table))
    }

    pub fn documents_bucket(&self) -> String {
        documents_bucket(&self.table)
    }

    /// The portal API over another store (e.g. one that fails), keeping this stack's table and
    /// fake Stripe.
    pub fn with_store(&self, store: impl PortalStore + 'static) -> Self {
        Self::assemble(
            self.aws.clone(),
            self.endpoint.clone(),
            self.client.clone(),
            self.table.clone(),
            store,
            self.fake.clone(),
            self.stripe_url.clone(),
        )
    }

    /// The webhook as deployed: accepting [`FLUSH_SECRET`], re-reading from this stack's fake.
    pub fn live_webhook(&self) -> axum::Router {
        let api =
            stripe_webhook::stripe_api::StripeApi::new("sk_test_webhook", Some(&self.stripe_url)).expect("client");
        self.webhook_with(&[FLUSH_SECRET], Some(api))
    }

    /// Delivers every event the fake Stripe emitted since the last flush, in order, as Stripe
    /// would; returns each event's type and the webhook's result.
    pub async fn flush(&self, webhook: &axum::Router) -> Vec<(String, Value)> {
        let mut results = Vec::new();
        let mut retry: Vec<Value> = Vec::new();
        // Applying one event may make Stripe emit more (settling an invoice), and a 503 (an
        // event that arrived before the checkout that links its customer) is retried after the
        // others, as Stripe retries: until quiet.
        loop {
            let mut batch = std::mem::take(&mut retry);
            batch.extend(self.fake.take_emitted());
            if batch.is_empty() {
                return results;
            }
            let mut progressed = false;
            for event in batch {
                let body = event.to_string();
                let sig = devstack::sign_event(&body, FLUSH_SECRET);
                let r = self.deliver(webhook, &body, Some(&sig)).await;
                if r.status == StatusCode::SERVICE_UNAVAILABLE {
                    retry.push(event);
                    continue;
                }
                assert_eq!(r.status, StatusCode::OK, "{}: {:?}", event["type"], r.body);
                progressed = true;
                results.push((event["type"].as_str().unwrap_or_default().to_owned(), r.body["result"].clone()));
            }
            assert!(progressed, "events the webhook keeps refusing: {retry:?}");
        }
    }

    /// The Stripe webhook function over this stack's table, accepting `secrets`.
    pub fn webhook(&self, secrets: &[&str]) -> axum::Router {
        self.webhook_over(self.store(), secrets)
    }

    /// The webhook with a Stripe API client (re-reads objects when events cannot be ordered).
    pub fn webhook_with(
        &self,
        secrets: &[&str],
        stripe: Option<stripe_webhook::stripe_api::StripeApi>,
    ) -> axum::Router {
        let secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
        let mut state = stripe_webhook::AppState::new(self.store(), secrets).with_ledger(self.store());
        if let Some(api) = stripe {
            state = state.with_stripe(api);
        }
        stripe_webhook::router(state)
    }

    pub fn webhook_over(
        &self,
        store: impl billing_domain::ports::ProcessorEvents + 'static,
        secrets: &[&str],
    ) -> axum::Router {
        let secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
        stripe_webhook::router(stripe_webhook::AppState::new(store, secrets))
    }

    /// Delivers `body` to the webhook route as API Gateway does (no authorizer on that route).
    pub async fn deliver(&self, webhook: &axum::Router, body: &str, signature: Option<&str>) -> Reply {
        self.deliver_encoded(webhook, body, signature, false).await
    }

    /// Like [`deliver`](Self::deliver); with `base64`, API Gateway hands the body base64-encoded
    /// (`isBase64Encoded: true`), as it does for payloads it treats as binary.
    pub async fn deliver_encoded(
        &self,
        webhook: &axum::Router,
        body: &str,
        signature: Option<&str>,
        base64: bool,
    ) -> Reply {
        let mut headers = vec![("content-type".to_owned(), "application/json; charset=utf-8".to_owned())];
        if let Some(sig) = signature {
            headers.push(("stripe-signature".into(), sig.into()));
        }
        let call = HttpCall {
            method: "POST".into(),
            path_and_query: "/webhooks/stripe".into(),
            headers,
            body: body.as_bytes().to_vec(),
        };
        let mut event = apigw::event(&self.template, &call, None);
        if base64 {
            use base64::Engine;
            event["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(body.as_bytes()));
            event["isBase64Encoded"] = Value::Bool(true);
        }
        invoke(webhook, &event).await
    }

    /// Runs the seat provisioner for the account's running subscription (what its stream
    /// consumer does when the webhook leaves a `seats_changed` work item).
    pub async fn provision(&self, account: &str) -> seat_provisioner::Reconciled {
        use billing_domain::ports::BillingReader;
        let id: billing_domain::AccountId = account.parse().expect("account id");
        let sub = self.store().live_subscription(&id).await.expect("store").expect("a subscription");
        seat_provisioner::Provisioner::new(self.store())
            .reconcile(&id, &sub.id, "evt_test_provision")
            .await
            .expect("provisioned")
    }

    /// The table's items of one entity kind as a DynamoDB stream batch of INSERTs, shaped
    /// exactly as Lambda delivers it (through `aws_lambda_events`).
    pub async fn stream_of(&self, entity: &str) -> aws_lambda_events::event::dynamodb::Event {
        let records: Vec<Value> = self
            .raw_items_of(entity)
            .await
            .into_iter()
            .enumerate()
            .map(|(n, item)| {
                let image = serde_json::to_value(serde_dynamo::Item::from(item)).expect("item");
                serde_json::json!({
                    "eventID": format!("evt-{n}"), "eventName": "INSERT", "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                    "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{}/stream/x", self.table),
                    "dynamodb": {
                        "ApproximateCreationDateTime": 1_795_000_000, "Keys": {"pk": image["pk"], "sk": image["sk"]},
                        "NewImage": image, "SequenceNumber": format!("{:021}", n + 1), "SizeBytes": 100,
                        "StreamViewType": "NEW_AND_OLD_IMAGES"
                    }
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).expect("Lambda's stream event")
    }

    /// Every item of one entity kind (`work_item`, `stripe_event`, …), as JSON.
    pub async fn items_of(&self, entity: &str) -> Vec<Value> {
        self.raw_items_of(entity).await.into_iter().map(|i| serde_dynamo::from_item(i).expect("item")).collect()
    }

    async fn raw_items_of(
        &self,
        entity: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        // Every page: a scan answers at most 1 MB at a time.
        let pages: Vec<_> = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("entity = :e")
            .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S(entity.into()))
            .consistent_read(true)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("scan");
        pages.into_iter().flat_map(|p| p.items.unwrap_or_default()).collect()
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(self.client.clone(), &self.table)
    }

    /// This stack's table through a proxy that records every call the store makes
    /// (`devstack::calls`): the log, and the store that talks through it.
    pub async fn counted_store(&self) -> (devstack::calls::CallLog, DynamoStore) {
        let log = devstack::calls::CallLog::start(&self.endpoint).await.expect("call-recording proxy");
        let aws = devstack::aws::local_config(&log.url).await;
        let store = DynamoStore::new(Client::new(&aws), &self.table);
        (log, store)
    }

    /// Calls the API as `user` (None: a request with no authorizer context).
    pub async fn call_with(
        &self,
        user: Option<&User>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut all_headers: Vec<(String, String)> =
            headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            all_headers.push(("content-type".into(), "application/json".into()));
        }
        let call = HttpCall {
            method: method.into(),
            path_and_query: path.into(),
            headers: all_headers,
            body: body.map(<[u8]>::to_vec).unwrap_or_default(),
        };
        let claims = user.map(|u| u.claims(&self.template));
        let event = apigw::event(&self.template, &call, claims.as_ref());
        invoke(&self.router, &event).await
    }

    /// The ops API (usage ingestion, ops routes) over this stack's table.
    pub fn ops_router(&self) -> axum::Router {
        ops_api::router(ops_api::OpsState::new(self.store(), bill_run::Settings::default()))
    }

    /// Calls the ops API as the IAM principal `ops-tester`, as API Gateway's IAM authorization
    /// passes it; `body` is sent as JSON unless `content_type` says otherwise.
    pub async fn ops_call(&self, method: &str, path: &str, body: Option<&[u8]>, content_type: &str) -> Reply {
        let headers: &[(&str, &str)] = if body.is_some() { &[("content-type", content_type)] } else { &[] };
        self.ops_with(method, path, headers, body).await
    }

    /// An ops call with its own headers.
    pub async fn ops_with(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
        self.ops_through(&self.ops_router(), method, path, headers, body).await
    }

    /// A JSON ops call to `router` (the ops API over another store, e.g. one that fails).
    pub async fn ops_over(&self, router: &axum::Router, method: &str, path: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let headers: &[(&str, &str)] = if bytes.is_some() { &[("content-type", "application/json")] } else { &[] };
        self.ops_through(router, method, path, headers, bytes.as_deref()).await
    }

    async fn ops_through(
        &self,
        router: &axum::Router,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let call = HttpCall {
            method: method.into(),
            path_and_query: path.into(),
            headers,
            body: body.map(<[u8]>::to_vec).unwrap_or_default(),
        };
        let event =
            apigw::event_iam(&self.template, &call, "arn:aws:iam::123456789012:user/ops-tester", "AKIAOPSTESTER");
        invoke(router, &event).await
    }

    /// Calls the staff routes (`/v1/staff/…`) as `staff`, as the staff pool's JWT authorizer
    /// passes them (groups as API Gateway flattens them: `[clerk approver]`), with a reason when
    /// given (`Reason-Code`, `Reason-Text`). Credit notes above [`STAFF_APPROVAL_LIMIT`] wait
    /// for approval.
    pub async fn staff(
        &self,
        staff: &StaffUser,
        method: &str,
        path: &str,
        body: Option<Value>,
        reason: Option<(&str, &str)>,
    ) -> Reply {
        let mut headers: Vec<(String, String)> = Vec::new();
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        if let Some((code, text)) = reason {
            headers.push(("reason-code".into(), code.into()));
            headers.push(("reason-text".into(), text.replace(' ', "%20")));
        }
        let call = HttpCall {
            method: method.into(),
            path_and_query: path.into(),
            headers,
            body: body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default(),
        };
        let mut claims: BTreeMap<String, String> =
            serde_json::from_value(self.template["requestContext"]["authorizer"]["jwt"]["claims"].clone())
                .expect("sample claims are strings");
        claims.insert("sub".into(), staff.sub.clone());
        claims.insert("email".into(), staff.email.clone());
        claims.insert("cognito:groups".into(), format!("[{}]", staff.groups.join(" ")));
        let event = apigw::event(&self.template, &call, Some(&claims));
        let router = ops_api::router(
            ops_api::OpsState::new(self.store(), bill_run::Settings::default())
                .with_approval_limit(Some(STAFF_APPROVAL_LIMIT.parse().expect("a decimal"))),
        );
        invoke(&router, &event).await
    }

    pub async fn ops(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        self.ops_call(method, path, bytes.as_deref(), "application/json").await
    }

    pub async fn call(&self, user: &User, method: &str, path: &str, body: Option<Value>) -> Reply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        self.call_with(Some(user), method, path, &[], bytes.as_deref()).await
    }

    pub async fn get(&self, user: &User, path: &str) -> Reply {
        self.call(user, "GET", path, None).await
    }

    /// Creates an account as `admin` and returns its id.
    pub async fn account_of(&self, admin: &User, name: &str) -> String {
        let r = self.call(admin, "POST", "/v1/accounts", Some(new_account(name))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/accounts/{account}/members` as `admin`.
    pub async fn invite(&self, admin: &User, account: &str, email: &str, role: &str) -> Reply {
        let body = serde_json::json!({"email": email, "role": role});
        self.call(admin, "POST", &format!("/v1/accounts/{account}/members"), Some(body)).await
    }

    /// Invites `who` with `role` as `admin`, and lets `who` accept by calling `/v1/me`.
    pub async fn add_member(&self, admin: &User, account: &str, who: &User, role: &str) -> String {
        let r = self.invite(admin, account, &who.email, role).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let me = self.get(who, "/v1/me").await;
        assert_eq!(me.status, StatusCode::OK);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Every item in the table: what a request wrote, whatever it answered.
    pub async fn item_count(&self) -> usize {
        let mut n = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .expect("scan");
            n += out.items().len();
            start = out.last_evaluated_key;
            if start.is_none() {
                return n;
            }
        }
    }

    /// The account's audit entries, newest first, as its admin sees them.
    pub async fn audit(&self, admin: &User, account: &str) -> Vec<Value> {
        let r = self.get(admin, &format!("/v1/accounts/{account}/audit?limit=100")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["entries"].as_array().unwrap().clone()
    }
}

/// A valid account-creation body.
pub fn new_account(name: &str) -> Value {
    serde_json::json!({
        "name": name,
        "billing_contact": {"name": "Ann Lee", "email": "ap@example.com", "phone": "+1 555 123 4567"},
        "billing_address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "62701", "country": "US"}
    })
}

pub mod faults {
    //! A store whose writes fail on demand, as when DynamoDB is unavailable or throttling.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use billing_aws::DynamoStore;
    use billing_domain::ports::*;
    use billing_domain::*;

    #[derive(Clone)]
    pub struct FailingWrites {
        pub inner: DynamoStore,
        pub failing: Arc<AtomicBool>,
    }

    impl FailingWrites {
        fn check(&self) -> Result<()> {
            if self.failing.load(Ordering::SeqCst) {
                Err(Error::unavailable(std::io::Error::other("injected: the store is unavailable")))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait]
    impl AccountReader for FailingWrites {
        async fn account(&self, id: &AccountId) -> Result<Option<Account>> {
            self.inner.account(id).await
        }
    }

    #[async_trait]
    impl AccountWriter for FailingWrites {
        async fn create_account(
            &self,
            a: &Account,
            f: &Member,
            au: &AuditEntry,
            i: Option<&IdempotencyRecord>,
        ) -> Result<Creation> {
            self.check()?;
            self.inner.create_account(a, f, au, i).await
        }
        async fn save_account(&self, a: &Account, au: &AuditEntry) -> Result<()> {
            self.check()?;
            self.inner.save_account(a, au).await
        }
    }

    #[async_trait]
    impl IdempotencyReader for FailingWrites {
        async fn idempotency_record(&self, scope: &str) -> Result<Option<IdempotencyRecord>> {
            self.inner.idempotency_record(scope).await
        }
    }

    #[async_trait]
    impl MemberReader for FailingWrites {
        async fn membership(&self, a: &AccountId, u: &UserId) -> Result<Option<Member>> {
            self.inner.membership(a, u).await
        }
        async fn member(&self, a: &AccountId, id: &MemberId) -> Result<Option<Member>> {
            self.inner.member(a, id).await
        }
        async fn member_by_email(&self, a: &AccountId, e: &Email) -> Result<Option<Member>> {
            self.inner.member_by_email(a, e).await
        }
        async fn members(&self, a: &AccountId) -> Result<Vec<Member>> {
            self.inner.members(a).await
        }
        async fn memberships_of(&self, u: &UserId) -> Result<Vec<Member>> {
            self.inner.memberships_of(u).await
        }
        async fn invitations_for(&self, e: &Email) -> Result<Vec<Member>> {
            self.inner.invitations_for(e).await
        }
    }

    #[async_trait]
    impl MemberWriter for FailingWrites {
        async fn add_member(&self, m: &Member, au: &AuditEntry) -> Result<()> {
            self.check()?;
            self.inner.add_member(m, au).await
        }
        async fn update_member(&self, b: &Member, a: &Member, au: &AuditEntry) -> Result<()> {
            self.check()?;
            self.inner.update_member(b, a, au).await
        }
        async fn remove_member(&self, m: &Member, au: &AuditEntry) -> Result<()> {
            self.check()?;
            self.inner.remove_member(m, au).await
        }
    }

    #[async_trait]
    impl ParkedReader for FailingWrites {
        async fn parked_events(
            &self,
            before: chrono::DateTime<chrono::Utc>,
            l: u16,
            after: Option<&billing::ParkedEvent>,
        ) -> Result<Vec<billing::ParkedEvent>> {
            self.inner.parked_events(before, l, after).await
        }
    }

    #[async_trait]
    impl ProcessorEvents for FailingWrites {
        async fn event_record(&self, id: &str) -> Result<Option<billing::EventRecord>> {
            self.inner.event_record(id).await
        }
        async fn park(&self, r: &billing::EventRecord, p: &billing::ParkedEvent) -> Result<Recorded> {
            self.check()?;
            self.inner.park(r, p).await
        }
        async fn parked_for(&self, c: &str) -> Result<Vec<billing::ParkedEvent>> {
            self.inner.parked_for(c).await
        }
        async fn unpark(&self, p: &billing::ParkedEvent) -> Result<()> {
            self.check()?;
            self.inner.unpark(p).await
        }
        async fn customer_account(&self, c: &str) -> Result<Option<AccountId>> {
            self.inner.customer_account(c).await
        }
        async fn subscription(&self, a: &AccountId, id: &str) -> Result<Option<billing::Subscription>> {
            self.inner.subscription(a, id).await
        }
        async fn record_event(&self, r: &billing::EventRecord) -> Result<Recorded> {
            self.check()?;
            self.inner.record_event(r).await
        }
        async fn link_customer(&self, r: &billing::EventRecord, l: &billing::CustomerLink) -> Result<Recorded> {
            self.check()?;
            self.inner.link_customer(r, l).await
        }
        async fn save_subscription(
            &self,
            r: &billing::EventRecord,
            b: Option<&billing::Subscription>,
            a: &billing::Subscription,
            w: Option<&billing::WorkItem>,
        ) -> Result<Recorded> {
            self.check()?;
            self.inner.save_subscription(r, b, a, w).await
        }
        async fn products(&self, ids: &[&str]) -> Result<Vec<billing::Product>> {
            self.inner.products(ids).await
        }
        async fn save_product(
            &self,
            r: Option<&billing::EventRecord>,
            p: Option<&billing::Stamp>,
            a: &billing::Product,
        ) -> Result<Recorded> {
            self.check()?;
            self.inner.save_product(r, p, a).await
        }
        async fn save_subscription_over(
            &self,
            r: &billing::EventRecord,
            p: Option<&billing::SubscriptionPrior>,
            a: &billing::Subscription,
            w: Option<&billing::WorkItem>,
        ) -> Result<Recorded> {
            self.check()?;
            self.inner.save_subscription_over(r, p, a, w).await
        }
        async fn projection(&self, k: &billing::ProjectionKey) -> Result<Option<billing::Projection>> {
            self.inner.projection(k).await
        }
        async fn save_projection(
            &self,
            r: &billing::EventRecord,
            p: Option<&billing::Stamp>,
            a: &billing::Projection,
            au: Option<&AuditEntry>,
        ) -> Result<Recorded> {
            self.check()?;
            self.inner.save_projection(r, p, a, au).await
        }
        async fn save_projection_over(&self, r: &billing::EventRecord, a: &billing::Projection) -> Result<Recorded> {
            self.check()?;
            self.inner.save_projection_over(r, a).await
        }
        async fn invoice(&self, a: &AccountId, id: &str) -> Result<Option<invoice::Invoice>> {
            self.inner.invoice(a, id).await
        }
        async fn save_invoice(
            &self,
            r: &billing::EventRecord,
            b: Option<&invoice::Invoice>,
            a: Option<&invoice::Invoice>,
            w: Option<&billing::WorkItem>,
        ) -> Result<Recorded> {
            self.check()?;
            self.inner.save_invoice(r, b, a, w).await
        }
    }

    #[async_trait]
    impl AuditReader for FailingWrites {
        async fn audit(&self, a: &AccountId, l: u16, b: Option<&AuditId>) -> Result<AuditPage> {
            self.inner.audit(a, l, b).await
        }
    }

    #[async_trait]
    impl AuditWriter for FailingWrites {
        async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
            self.check()?;
            self.inner.append_audit(e).await
        }
    }

    #[async_trait]
    impl SeatStore for FailingWrites {
        async fn seat_book(&self, a: &AccountId) -> Result<seats::SeatBook> {
            self.inner.seat_book(a).await
        }
        async fn change_seats(
            &self,
            a: &AccountId,
            v: u64,
            c: &[seats::SeatChange],
            w: Option<&billing::WorkItem>,
            au: Option<&AuditEntry>,
        ) -> Result<()> {
            self.check()?;
            self.inner.change_seats(a, v, c, w, au).await
        }
    }

    #[async_trait]
    impl BillingReader for FailingWrites {
        async fn customer_of(&self, a: &AccountId) -> Result<Option<String>> {
            self.inner.customer_of(a).await
        }
        async fn live_subscription(&self, a: &AccountId) -> Result<Option<billing::Subscription>> {
            self.inner.live_subscription(a).await
        }
        async fn invoices(
            &self,
            a: &AccountId,
            s: Option<invoice::InvoiceStatus>,
            l: u16,
            c: Option<&str>,
        ) -> Result<InvoicePage> {
            self.inner.invoices(a, s, l, c).await
        }
        async fn account_invoice(&self, a: &AccountId, id: &str) -> Result<Option<invoice::Invoice>> {
            self.inner.account_invoice(a, id).await
        }
        async fn payment_methods(&self, a: &AccountId) -> Result<Vec<billing::PaymentMethodSummary>> {
            self.inner.payment_methods(a).await
        }
        async fn default_payment_method(&self, a: &AccountId) -> Result<Option<String>> {
            self.inner.default_payment_method(a).await
        }
    }

    #[async_trait]
    impl ContractReader for FailingWrites {
        async fn contract_account(&self, a: &AccountId) -> Result<Option<contract::ContractAccount>> {
            self.inner.contract_account(a).await
        }
    }

    #[async_trait]
    impl ContractBills for FailingWrites {
        async fn bucket_usage(&self, a: &AccountId, bucket: chrono::NaiveDate) -> Result<Vec<rating::UsageRecord>> {
            self.inner.bucket_usage(a, bucket).await
        }
        async fn bill(&self, a: &AccountId, id: &str) -> Result<Option<invoice::Invoice>> {
            self.inner.bill(a, id).await
        }
    }

    #[async_trait]
    impl TaxSetupReader for FailingWrites {
        async fn tax_setup(&self) -> Result<billing_domain::tax::TaxSetup> {
            self.inner.tax_setup().await
        }
    }

    #[async_trait]
    impl billing_domain::ports::StatementReader for FailingWrites {
        async fn ledger_items(&self, account: &AccountId) -> Result<billing_domain::statement::LedgerItems> {
            self.inner.ledger_items(account).await
        }
    }
}

pub mod stripe {
    //! Stripe webhook deliveries as Stripe makes them: the sample events in `events/stripe/`,
    //! signed by Stripe's own Python library.

    use std::io::Write;
    use std::process::{Command, Stdio};

    use serde_json::Value;

    /// Takes every `metadata.account_id` out of `v` (an event's `data`): its account can then
    /// only come from its customer's link.
    pub fn strip_account_hints(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Object(m)) = map.get_mut("metadata") {
                    m.remove("account_id");
                }
                map.values_mut().for_each(strip_account_hints);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_account_hints),
            _ => {}
        }
    }

    /// A sample event from `events/stripe/`.
    pub fn sample(name: &str) -> Value {
        let path = devstack::repo_root().join("events/stripe").join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event")).expect("JSON")
    }

    /// The `Stripe-Signature` header stripe-python computes for `payload` (`timestamp`: now if None).
    pub fn sign(payload: &str, secret: &str, timestamp: Option<i64>) -> String {
        let ts = timestamp.map(|t| t.to_string()).unwrap_or_else(|| "None".into());
        let script = format!(
            "import stripe, sys; sys.stdout.write(stripe.WebhookSignature.generate_signature_header(sys.stdin.read(), sys.argv[1], {ts}))"
        );
        let mut child = Command::new(devstack::moto::moto_python())
            .args(["-c", &script, secret])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python with stripe (make test installs it)");
        child.stdin.take().unwrap().write_all(payload.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "stripe-python failed to sign");
        String::from_utf8(out.stdout).unwrap()
    }
}

pub mod storm {
    //! Faults under the AWS SDK: an HTTP connector that, for a seeded random share of calls,
    //! answers as DynamoDB does when it throttles (400 `ThrottlingException`) or fails (500), times
    //! out, or makes the call and then loses the response (the write happened; the caller cannot
    //! know). The SDK's own retries see them as they would see DynamoDB's, and what they cannot
    //! absorb reaches the functions.

    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;

    pub use devstack::rng::Rng;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        Throttled,
        ServerError,
        TimedOut,
        /// Made, then its response lost.
        LostResponse,
    }

    /// What the layer did, for the figures.
    #[derive(Debug, Default)]
    pub struct Counts {
        pub calls: AtomicU64,
        pub throttled: AtomicU64,
        pub server_errors: AtomicU64,
        pub timed_out: AtomicU64,
        pub lost_responses: AtomicU64,
    }

    impl Counts {
        pub fn faults(&self) -> u64 {
            [&self.throttled, &self.server_errors, &self.timed_out, &self.lost_responses]
                .iter()
                .map(|c| c.load(Ordering::SeqCst))
                .sum()
        }
    }

    /// The faults' settings and what they did; `on` switches them (off to check the result).
    #[derive(Debug)]
    pub struct Faults {
        pub percent: u64,
        pub on: AtomicBool,
        rng: Mutex<Rng>,
        pub counts: Counts,
    }

    impl Faults {
        pub fn new(percent: u64, seed: u64) -> Arc<Self> {
            Arc::new(Self {
                percent,
                on: AtomicBool::new(true),
                rng: Mutex::new(Rng::new(seed)),
                counts: Counts::default(),
            })
        }

        fn pick(&self) -> Option<Fault> {
            self.counts.calls.fetch_add(1, Ordering::SeqCst);
            if !self.on.load(Ordering::SeqCst) {
                return None;
            }
            let mut rng = self.rng.lock().expect("rng");
            if rng.below(100) >= self.percent {
                return None;
            }
            Some(match rng.below(4) {
                0 => Fault::Throttled,
                1 => Fault::ServerError,
                2 => Fault::TimedOut,
                _ => Fault::LostResponse,
            })
        }
    }

    fn dynamo_error(status: u16, kind: &str) -> HttpResponse {
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by the storm suite"}}"#
        );
        let mut r = HttpResponse::new(status.try_into().expect("status"), SdkBody::from(body));
        r.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        r.headers_mut().insert("x-amzn-requestid", "storm");
        r
    }

    #[derive(Debug)]
    struct Faulty {
        inner: SharedHttpConnector,
        faults: Arc<Faults>,
    }

    impl HttpConnector for Faulty {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let c = &self.faults.counts;
            match self.faults.pick() {
                None => self.inner.call(request),
                Some(Fault::Throttled) => {
                    c.throttled.fetch_add(1, Ordering::SeqCst);
                    HttpConnectorFuture::ready(Ok(dynamo_error(400, "ThrottlingException")))
                }
                Some(Fault::ServerError) => {
                    c.server_errors.fetch_add(1, Ordering::SeqCst);
                    HttpConnectorFuture::ready(Ok(dynamo_error(500, "InternalServerError")))
                }
                Some(Fault::TimedOut) => {
                    c.timed_out.fetch_add(1, Ordering::SeqCst);
                    HttpConnectorFuture::ready(Err(ConnectorError::timeout("injected: timed out".into())))
                }
                Some(Fault::LostResponse) => {
                    c.lost_responses.fetch_add(1, Ordering::SeqCst);
                    let made = self.inner.call(request);
                    HttpConnectorFuture::new(async move {
                        let _ = made.await;
                        Err(ConnectorError::io("injected: connection dropped after the request was sent".into()))
                    })
                }
            }
        }
    }

    /// `aws` (the local stand-in's config) with `faults` in front of every call its clients make.
    pub fn faulty_config(aws: &aws_config::SdkConfig, faults: &Arc<Faults>) -> aws_config::SdkConfig {
        aws.to_builder().http_client(faulty_client(faults.clone())).build()
    }

    /// A plain-HTTP client for the local stand-in with `faults` in front of it.
    fn faulty_client(faults: Arc<Faults>) -> SharedHttpClient {
        let inner = aws_smithy_http_client::Builder::new().build_http();
        http_client_fn(move |settings, components| {
            use aws_smithy_runtime_api::client::http::HttpClient;
            SharedHttpConnector::new(Faulty {
                inner: inner.http_connector(settings, components),
                faults: faults.clone(),
            })
        })
    }
}
