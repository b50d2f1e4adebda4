//! HS256 JWTs for tests: tokens with the claims of a Cognito ID token (`sub`, `email`,
//! `email_verified`, `iss`, `aud`, `exp`) that the gateway's `Authorizer::Secret` checks, so a
//! test can be any user without a user pool. `make dev` uses the stand-in's Cognito pool and its
//! RS256 tokens instead (see `cognito`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

pub const ISSUER: &str = "https://billing.local.invalid/dev-issuer";
pub const AUDIENCE: &str = "billing-portal-local";

/// A signed ID token for `sub`.
pub fn mint(secret: &[u8], sub: &str, email: &str, email_verified: bool, ttl: Duration) -> Result<String> {
    sign(secret, sub, email, email_verified, None, ttl)
}

/// A signed ID token of a staff member in `groups` (their `cognito:groups`, the roles).
pub fn mint_staff(secret: &[u8], sub: &str, email: &str, groups: &[&str], ttl: Duration) -> Result<String> {
    sign(secret, sub, email, true, Some(groups), ttl)
}

fn sign(
    secret: &[u8],
    sub: &str,
    email: &str,
    email_verified: bool,
    groups: Option<&[&str]>,
    ttl: Duration,
) -> Result<String> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": sub,
        "email": email,
        "email_verified": email_verified,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + ttl.as_secs() as i64,
    });
    if let Some(groups) = groups {
        claims["cognito:groups"] = json!(groups);
    }
    Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))?)
}

/// Verifies signature, issuer, audience and expiry, and returns the claims the way API Gateway's
/// JWT authorizer hands them to the function: every value a string.
pub fn verify(secret: &[u8], token: &str) -> Result<BTreeMap<String, String>> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &DecodingKey::from_secret(secret), &validation)?;
    Ok(claims_as_strings(data.claims))
}

/// Claims the way API Gateway's JWT authorizer hands them to the function: every value a string.
pub fn claims_as_strings(claims: Map<String, Value>) -> BTreeMap<String, String> {
    claims.into_iter().map(|(k, v)| (k, claim_string(&v))).collect()
}

/// API Gateway's rendering of a claim: strings as they are, lists as `[a b]`, the rest as JSON.
fn claim_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_string).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_gives_string_claims() {
        let t = mint(b"s3cret", "u-1", "ann@example.com", true, Duration::from_secs(60)).unwrap();
        let claims = verify(b"s3cret", &t).unwrap();
        assert_eq!(claims["sub"], "u-1");
        assert_eq!(claims["email_verified"], "true");
        assert!(claims["exp"].parse::<i64>().is_ok());
    }

    #[test]
    fn wrong_secret_tampering_and_expiry_are_rejected() {
        let t = mint(b"s3cret", "u-1", "ann@example.com", true, Duration::from_secs(60)).unwrap();
        assert!(verify(b"other", &t).is_err());
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(verify(b"s3cret", &parts.join(".")).is_err());
        let now = chrono::Utc::now().timestamp();
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "u", "iss": ISSUER, "aud": AUDIENCE, "exp": now - 3600}),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        assert!(verify(b"s3cret", &expired).is_err());
        let foreign = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "u", "iss": "https://evil.example", "aud": AUDIENCE, "exp": now + 3600}),
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap();
        assert!(verify(b"s3cret", &foreign).is_err());
    }
}
