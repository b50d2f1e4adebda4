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

/// Moves every file in `outbox` (an earlier run's mail) into a new folder under `earlier`, named
/// by the time, so that `outbox` holds this run's mail only; returns that folder, if anything
/// was moved.
pub fn set_aside(outbox: &std::path::Path, earlier: &std::path::Path) -> anyhow::Result<Option<std::path::PathBuf>> {
    let Ok(entries) = std::fs::read_dir(outbox) else { return Ok(None) };
    let files: Vec<std::path::PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    if files.is_empty() {
        return Ok(None);
    }
    let to = earlier.join(chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string());
    std::fs::create_dir_all(&to)?;
    for file in files {
        if let Some(name) = file.file_name() {
            std::fs::rename(&file, to.join(name))?;
        }
    }
    Ok(Some(to))
}

#[cfg(test)]
mod set_aside_tests {
    #[test]
    fn an_earlier_runs_mail_moves_out_of_the_outbox() {
        let dir = std::env::temp_dir().join(format!("outbox-set-aside-{}", std::process::id()));
        let (outbox, earlier) = (dir.join("outbox"), dir.join("outbox-earlier"));
        std::fs::create_dir_all(&outbox).unwrap();
        assert_eq!(super::set_aside(&outbox, &earlier).unwrap(), None, "nothing to move");
        std::fs::write(outbox.join("a.eml"), "mail").unwrap();
        let moved = super::set_aside(&outbox, &earlier).unwrap().expect("moved");
        assert_eq!(std::fs::read_to_string(moved.join("a.eml")).unwrap(), "mail");
        assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
