//! Bill documents in S3: the bucket the template defines (private, encrypted, versioned; the
//! functions may put and get, never delete). A document is written once: the put is conditional
//! on no object being there (`If-None-Match: *`), and a put that finds one reads it back, so the
//! bytes mailed are always the bytes kept.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use billing_domain::ports::{BillDocumentLinks, BillDocuments};
use billing_domain::{Error, Result};

/// The S3 client every user of the documents bucket builds: path-style addressing, so the local
/// stand-in serves every bucket under one host.
pub fn client(config: &aws_config::SdkConfig) -> Client {
    Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

#[derive(Clone)]
pub struct S3Documents {
    client: Client,
    bucket: String,
}

impl S3Documents {
    pub fn from_config(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self { client: client(config), bucket: bucket.into() }
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.map_err(Error::unavailable)?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn unavailable<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug + Send + Sync + 'static>(
    e: SdkError<E, R>,
) -> Error {
    tracing::warn!(error = %DisplayErrorContext(&e), "S3 call failed");
    Error::unavailable(e)
}

#[async_trait]
impl billing_domain::ports::LockboxFiles for S3Documents {
    async fn lockbox_file(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(key).await
    }
}

#[async_trait]
impl BillDocuments for S3Documents {
    async fn store_once(&self, key: &str, bytes: &[u8]) -> Result<Vec<u8>> {
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/pdf")
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(bytes.to_vec()),
            // Stored before (a retried delivery, or a concurrent one): that document stands.
            Err(SdkError::ServiceError(e))
                if matches!(e.err().code(), Some("PreconditionFailed" | "ConditionalRequestConflict")) =>
            {
                self.read(key).await?.ok_or_else(|| Error::Conflict)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[async_trait]
impl BillDocumentLinks for S3Documents {
    async fn link(&self, key: &str, ttl: Duration) -> Result<Option<String>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        }
        let config = PresigningConfig::expires_in(ttl).map_err(|e| Error::Corrupt(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type("application/pdf")
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(Some(request.uri().to_owned()))
    }
}
