//! Process configuration: environment variables, read once at start, and the AWS SDK config,
//! loaded once per process and shared by every client.

pub use secrecy::{ExposeSecret, SecretString};

use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A required environment variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// An optional environment variable; empty counts as unset.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The shared AWS configuration (region, credentials, and `AWS_ENDPOINT_URL*` overrides from the
/// environment). Call once per process.
/// The scan line's check-digit scheme, `LOCKBOX_CHECK_DIGIT` (`mod10_weights21`, the default,
/// `luhn` or `mod11`): what the seller's bank's coupon specification says.
pub fn check_digit_from_env() -> Result<billing_domain::lockbox::CheckDigit, ConfigError> {
    match optional("LOCKBOX_CHECK_DIGIT").as_deref().map(str::trim) {
        None | Some("") => Ok(Default::default()),
        Some(v) => serde_json::from_value(serde_json::Value::String(v.to_owned())).map_err(|_| ConfigError::Invalid {
            name: "LOCKBOX_CHECK_DIGIT",
            reason: format!("must be mod10_weights21, luhn or mod11, not {v:?}"),
        }),
    }
}

/// The seller's lockbox settings: `LOCKBOX_CHECK_DIGIT` (see [`check_digit_from_env`]),
/// `LOCKBOX_LAYOUT` (the bank's field positions as JSON, `docs/lockbox.md`; unset: the common
/// BAI layout) and `RETURNED_CHECK_FEE_PRICE` (a one-time catalog price; unset: no fee).
pub fn lockbox_from_env() -> Result<billing_domain::lockbox::LockboxSettings, ConfigError> {
    let layout = match optional("LOCKBOX_LAYOUT").as_deref().map(str::trim) {
        None | Some("") => billing_domain::lockbox::Layout::bai(),
        Some(v) => serde_json::from_str(v).map_err(|e| ConfigError::Invalid {
            name: "LOCKBOX_LAYOUT",
            reason: format!("must be the bank's layout as JSON (docs/lockbox.md): {e}"),
        })?,
    };
    let fee = optional("RETURNED_CHECK_FEE_PRICE").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(billing_domain::lockbox::LockboxSettings {
        check_digit: check_digit_from_env()?,
        layout,
        returned_check_fee: fee,
    })
}

pub async fn load_aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A secret's string value from Secrets Manager, read once at cold start (never passed through a
/// template parameter or a plain environment value). Held as a [`SecretString`]: it never
/// prints (`Debug` says `[REDACTED]`) and is zeroed when dropped; `expose_secret` where it is used.
pub async fn secret_string(config: &SdkConfig, secret_id: &str) -> Result<SecretString, ConfigError> {
    let out =
        aws_sdk_secretsmanager::Client::new(config).get_secret_value().secret_id(secret_id).send().await.map_err(
            |e| ConfigError::Invalid {
                name: "secret",
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            },
        )?;
    out.secret_string
        .map(SecretString::from)
        .ok_or(ConfigError::Invalid { name: "secret", reason: "the secret has no string value".into() })
}

/// The seller's REMIT-TO address from `REMIT_TO_NAME`, `REMIT_TO_LINE1`, `REMIT_TO_LINE2`,
/// `REMIT_TO_CITY`, `REMIT_TO_REGION`, `REMIT_TO_POSTAL_CODE` and `REMIT_TO_COUNTRY`; `None` when
/// `REMIT_TO_NAME` is unset. One that is set but does not parse stops the start: bills must not
/// go out with a wrong address.
pub fn remit_to_from_env() -> Result<Option<billing_domain::RemitTo>, ConfigError> {
    let Some(name) = optional("REMIT_TO_NAME") else {
        return Ok(None);
    };
    let line1 = required("REMIT_TO_LINE1")?;
    let city = required("REMIT_TO_CITY")?;
    let country = required("REMIT_TO_COUNTRY")?;
    let line2 = optional("REMIT_TO_LINE2");
    let region = optional("REMIT_TO_REGION");
    let postal_code = optional("REMIT_TO_POSTAL_CODE");
    let address = billing_domain::Address::parse(billing_domain::AddressInput {
        line1: &line1,
        line2: line2.as_deref(),
        city: &city,
        region: region.as_deref(),
        postal_code: postal_code.as_deref(),
        country: &country,
    })
    .map_err(|e| ConfigError::Invalid { name: "REMIT_TO_*", reason: e.to_string() })?;
    Ok(Some(billing_domain::RemitTo { name, address }))
}
