//! The local Cognito: the template's user pool and app client on the stand-in (moto's
//! cognito-idp), the demo users in it, and verification of its RS256 ID tokens against its JWKS
//! (issuer, audience = the app client, expiry), as API Gateway's JWT authorizer verifies Cognito's.
//!
//! The pool is made by `dev/cognito.py` (boto3, installed with moto), which reads the pool's and
//! client's properties from `infra/template.yaml`, their only definition.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What `dev/cognito.py setup` reports (and `make dev` keeps in `.dev/cognito.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalPool {
    pub user_pool_id: String,
    pub client_id: String,
    pub issuer: String,
    pub jwks: JwkSet,
    /// The demo users' ids (`sub`) by e-mail.
    pub users: BTreeMap<String, String>,
}

fn script() -> std::path::PathBuf {
    crate::repo_root().join("dev/cognito.py")
}

impl LocalPool {
    /// Creates the pool, its app client and `users` (`(email, password)`) on the stand-in at
    /// `endpoint`, and writes what it made to `out`.
    pub fn create(endpoint: &str, users: &[(&str, &str)], out: &Path) -> Result<Self> {
        let users: Vec<String> = users.iter().map(|(e, p)| format!("{e}:{p}")).collect();
        Self::create_from(endpoint, "UserPool", "UserPoolClient", "billing-local-users", &users, out)
    }

    /// The back office's pool (the template's `StaffUserPool`, its client and groups) with
    /// `users` (`(email, password, groups)`).
    pub fn create_staff(endpoint: &str, users: &[(&str, &str, &[&str])], out: &Path) -> Result<Self> {
        let users: Vec<String> = users.iter().map(|(e, p, g)| format!("{e}:{p}:{}", g.join("+"))).collect();
        Self::create_from(endpoint, "StaffUserPool", "StaffUserPoolClient", "billing-local-staff", &users, out)
    }

    fn create_from(endpoint: &str, pool: &str, client: &str, name: &str, users: &[String], out: &Path) -> Result<Self> {
        let python = crate::moto::moto_python();
        let status = std::process::Command::new(&python)
            .arg(script())
            .arg("setup")
            .arg(endpoint)
            .arg(crate::template_path())
            .arg(out)
            .args(["--pool", pool, "--client", client, "--name", name])
            .args(users)
            .status()
            .with_context(|| format!("running {} dev/cognito.py", python.display()))?;
        if !status.success() {
            bail!("creating the local Cognito pool failed ({status})");
        }
        Self::read(out)
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The `sub` of a demo user.
    pub fn sub(&self, email: &str) -> Result<&str> {
        self.users.get(email).map(String::as_str).with_context(|| format!("no local user {email}"))
    }

    /// Signs `email` in (the stand-in's `InitiateAuth`) and returns the ID token.
    pub fn sign_in(&self, endpoint: &str, email: &str, password: &str) -> Result<String> {
        let out = std::process::Command::new(crate::moto::moto_python())
            .arg(script())
            .args(["token", endpoint, &self.client_id, email, password])
            .output()
            .context("running dev/cognito.py token")?;
        if !out.status.success() {
            bail!("signing {email} in failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// The verifier the local gateway uses for this pool's ID tokens.
    pub fn verifier(&self) -> Verifier {
        Verifier { issuer: self.issuer.clone(), audience: self.client_id.clone(), jwks: self.jwks.clone() }
    }
}

/// Checks an ID token as API Gateway's JWT authorizer does: RS256 signature by a key of the
/// pool's JWKS (by `kid`), issuer, audience (the app client) and expiry.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub issuer: String,
    pub audience: String,
    pub jwks: JwkSet,
}

impl Verifier {
    /// The claims, every value a string as API Gateway hands them to the function.
    pub fn verify(&self, token: &str) -> Result<BTreeMap<String, String>> {
        let header = jsonwebtoken::decode_header(token)?;
        if header.alg != Algorithm::RS256 {
            bail!("ID tokens are RS256, not {:?}", header.alg);
        }
        let kid = header.kid.context("the token names no key")?;
        let jwk = self.jwks.find(&kid).with_context(|| format!("no key {kid} in the pool's JWKS"))?;
        let key = DecodingKey::from_jwk(jwk)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)?;
        if data.claims.get("token_use").and_then(Value::as_str) != Some("id") {
            bail!("not an ID token");
        }
        Ok(crate::token::claims_as_strings(data.claims))
    }
}
