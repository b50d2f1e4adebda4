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
