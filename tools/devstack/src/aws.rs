//! AWS SDK configuration pointed at the local stand-in.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// SDK configuration for the stand-in at `endpoint`: fixed region and fake credentials, nothing
/// read from the developer's own AWS profile, so the local stack can never touch a real account.
pub async fn local_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "local-stand-in"))
        .load()
        .await
}
