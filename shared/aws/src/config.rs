//! Process configuration: environment variables, read once at start, and the AWS SDK config,
//! loaded once per process and shared by every client.

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
pub async fn load_aws() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A secret's string value from Secrets Manager, read once at cold start (never passed through a
/// template parameter or a plain environment value).
pub async fn secret_string(config: &SdkConfig, secret_id: &str) -> Result<String, ConfigError> {
    let out =
        aws_sdk_secretsmanager::Client::new(config).get_secret_value().secret_id(secret_id).send().await.map_err(
            |e| ConfigError::Invalid {
                name: "secret",
                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            },
        )?;
    out.secret_string.ok_or(ConfigError::Invalid { name: "secret", reason: "the secret has no string value".into() })
}
