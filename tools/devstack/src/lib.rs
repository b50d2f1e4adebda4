//! The local stack: everything `make dev` and the integration tests need to run the functions on
//! this machine exactly as AWS would, with no cloud account and no Docker.
//!
//! - [`moto`] starts the AWS stand-in (moto server) on a loopback port.
//! - [`tables`] creates the DynamoDB tables by reading `infra/template.yaml`.
//! - [`apigw`] turns an HTTP request into the API Gateway (HTTP API, payload 2.0) event Lambda
//!   would receive and runs it through `lambda_http` into the function's router.
//! - [`cognito`] makes the template's user pool on the stand-in and verifies its ID tokens;
//!   [`token`] mints HS256 test tokens; [`gateway`] plays API Gateway with its JWT authorizer in
//!   front of the portal API, and serves the web app on the same origin.
//! - [`seed`] writes the documented demo account.
//! - [`jobs`] makes the bill run's job queue (and its dead letters) from the template and polls
//!   it as Lambda's SQS event source mapping does.
//! - [`calls`] counts the calls a function makes to the stand-in (a forwarding proxy).

pub mod apigw;
pub mod aws;
pub mod bench;
pub mod calls;
pub mod cognito;
pub mod documents;
pub mod fake_stripe;
pub mod gateway;
pub mod inspect;
pub mod jobs;
pub mod moto;
pub mod outbox;
pub mod rng;
pub mod seed;
pub mod streams;
pub mod tables;
pub mod token;

use std::path::PathBuf;

/// The local Stripe webhook signing secret (override with `STRIPE_WEBHOOK_SECRETS`). Real secrets
/// come from the Stripe dashboard or `stripe listen`, never from here.
pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_local_dev_secret_not_for_production";

/// The repository root (this crate lives in `tools/devstack`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `infra/template.yaml`, the one definition of the tables.
pub fn template_path() -> PathBuf {
    repo_root().join("infra/template.yaml")
}

/// The `Stripe-Signature` header Stripe would send with `body`, signed now with `secret`.
pub fn sign_event(body: &str, secret: &str) -> String {
    stripe_events::Webhook::generate_test_header(body, secret, None)
}
