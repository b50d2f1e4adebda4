//! The bill documents bucket on the stand-in's S3 (the template's `BillDocumentsBucket`, made by
//! CloudFormation in AWS): made here for `make dev` and for each test stack.

use anyhow::{Context, Result};

/// Makes `name` unless it exists (a stand-in that outlived an earlier run), versioned as the
/// template's bucket is.
pub async fn ensure_bucket(aws: &aws_config::SdkConfig, name: &str) -> Result<()> {
    let s3 = billing_aws::documents::client(aws);
    if s3.head_bucket().bucket(name).send().await.is_ok() {
        return Ok(());
    }
    s3.create_bucket().bucket(name).send().await.with_context(|| format!("creating the bucket {name}"))?;
    let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(versioning)
        .send()
        .await
        .with_context(|| format!("versioning the bucket {name}"))?;
    Ok(())
}
