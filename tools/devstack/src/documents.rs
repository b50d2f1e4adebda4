//! The buckets on the stand-in's S3 (the template's `BillDocumentsBucket` and `LockboxBucket`,
//! made by CloudFormation in AWS): made here for `make dev` and for each test stack; and the
//! lockbox bucket's notifications, which the stand-in does not send, played by polling it.

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

/// Plays S3's notification of the lockbox bucket: lists it every `every` and hands each object not
/// seen before (by key and ETag) to the import function's handler, as S3 would invoke it. An
/// import that fails is tried again on the next round (as Lambda retries).
pub async fn watch_lockbox<S, F>(
    aws: aws_config::SdkConfig,
    bucket: String,
    importer: lockbox_import::Importer<S, F>,
    every: std::time::Duration,
) where
    S: ops_api::OpsStore,
    F: billing_domain::ports::LockboxFiles,
{
    let s3 = billing_aws::documents::client(&aws);
    let mut seen = std::collections::HashSet::<(String, String)>::new();
    loop {
        match s3.list_objects_v2().bucket(&bucket).send().await {
            Ok(page) => {
                for object in page.contents() {
                    let (Some(key), Some(etag)) = (object.key(), object.e_tag()) else { continue };
                    if !seen.insert((key.to_owned(), etag.to_owned())) {
                        continue;
                    }
                    match importer.import(key).await {
                        Ok(outcome) => tracing::info!(?outcome, "lockbox file from the bucket"),
                        Err(e) => {
                            tracing::warn!(key, error = %e, "lockbox import failed; trying again");
                            seen.remove(&(key.to_owned(), etag.to_owned()));
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "listing the lockbox bucket"),
        }
        tokio::time::sleep(every).await;
    }
}
