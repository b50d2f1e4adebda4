//! The local outbox: every mail the local mailer sends is also written as an `.eml` file (the
//! exact MIME sent to the stand-in's SES), so a newcomer can open the bill they just generated.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use billing_domain::Email;
use invoice_mailer::MailerError;
use invoice_mailer::send::MailSender;

pub struct Outbox<S> {
    pub inner: S,
    pub dir: PathBuf,
    count: AtomicU32,
}

impl<S> Outbox<S> {
    pub fn new(inner: S, dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { inner, dir, count: AtomicU32::new(0) })
    }
}

#[async_trait]
impl<S: MailSender> MailSender for Outbox<S> {
    async fn send(&self, from: &str, to: &Email, raw: &[u8]) -> Result<String, MailerError> {
        let id = self.inner.send(from, to, raw).await?;
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let name =
            format!("{}-{n:03}-{}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S"), to.as_str().replace('@', "_at_"));
        let path = self.dir.join(name);
        if let Err(e) = std::fs::write(&path, raw) {
            tracing::warn!(error = %e, path = %path.display(), "could not write the outbox copy");
        } else {
            tracing::info!(path = %path.display(), to = %to, "mail sent (copy in the outbox)");
        }
        Ok(id)
    }
}

/// Lets the stand-in's SES send from `address` (moto, like SES, refuses unverified senders).
pub async fn verify_sender(config: &aws_config::SdkConfig, address: &str) -> anyhow::Result<()> {
    aws_sdk_sesv2::Client::new(config).create_email_identity().email_identity(address).send().await?;
    Ok(())
}
