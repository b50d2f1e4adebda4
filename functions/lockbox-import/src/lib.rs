//! The lockbox bucket's import: each file the bank drops in is imported as an upload in the back
//! office is (`ops_api::lockbox::import_file`): every check applied to its payer's bills or
//! queued for staff with why, once. A file that does not add up is recorded as refused, with the
//! line and why, so staff see it on the Lockbox page; nothing of it is applied. A dependency that
//! fails fails the invocation, and Lambda retries it (then its dead-letter queue, alarmed): the
//! import goes on where it stopped, never doubling a check.

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use billing_domain::lockbox::{FileFormat, LockboxImport};
use billing_domain::ports::LockboxFiles;
use billing_domain::{Error as DomainError, Money};
use ops_api::extract::OpsCaller;
use ops_api::{OpsError, OpsState, OpsStore};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("lockbox file {key}: {source}")]
    Failed { key: String, source: OpsError },
}

/// What became of one object of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported {
        key: String,
        applied: u32,
        exceptions: u32,
    },
    Duplicate {
        key: String,
    },
    Refused {
        key: String,
        why: String,
    },
    /// Gone before it was read (deleted meanwhile): nothing to import.
    Missing {
        key: String,
    },
}

pub struct Importer<S, F> {
    state: OpsState<S>,
    files: Arc<F>,
}

impl<S, F> Clone for Importer<S, F> {
    fn clone(&self) -> Self {
        Self { state: self.state.clone(), files: self.files.clone() }
    }
}

/// An S3 event's object key, as S3 sends it (URL-encoded, `+` for a space).
pub fn object_key(raw: &str) -> String {
    percent_encoding::percent_decode_str(&raw.replace('+', " ")).decode_utf8_lossy().into_owned()
}

impl<S: OpsStore, F: LockboxFiles> Importer<S, F> {
    pub fn new(state: OpsState<S>, files: F) -> Self {
        Self { state, files: Arc::new(files) }
    }

    /// Imports every object of `event`, in order; the first that cannot be read or applied for a
    /// dependency's failure fails the whole invocation (those before it are done and will be
    /// recognised on the retry).
    pub async fn handle(&self, event: S3Event) -> Result<Vec<Outcome>, ImportError> {
        let mut done = Vec::new();
        for record in event.records {
            let Some(raw) = record.s3.object.key.as_deref() else { continue };
            let key = object_key(raw);
            done.push(self.import(&key).await.map_err(|source| ImportError::Failed { key: key.clone(), source })?);
        }
        Ok(done)
    }

    pub async fn import(&self, key: &str) -> Result<Outcome, OpsError> {
        let Some(bytes) = self.files.lockbox_file(key).await? else {
            tracing::warn!(key, "lockbox file gone before it was read");
            return Ok(Outcome::Missing { key: key.to_owned() });
        };
        let caller = OpsCaller::service("lockbox-import");
        let name = key.rsplit('/').next().unwrap_or(key);
        let hash = ops_api::lockbox::file_hash(&bytes);
        let why = match std::str::from_utf8(&bytes) {
            Err(_) => "the file is not text (a BAI lockbox file is ASCII)".to_owned(),
            Ok(text) => match ops_api::lockbox::import_file(&self.state, &caller, None, Some(name), text).await {
                Ok(view) if view.status == "duplicate" => return Ok(Outcome::Duplicate { key: key.to_owned() }),
                Ok(view) => {
                    let (applied, exceptions) = (view.import.applied, view.import.exceptions);
                    tracing::info!(key, applied, exceptions, "lockbox file imported");
                    return Ok(Outcome::Imported { key: key.to_owned(), applied, exceptions });
                }
                Err(OpsError::FileRefused(e)) => e.to_string(),
                Err(e) => return Err(e),
            },
        };
        tracing::error!(key, why, "lockbox file refused");
        let format = match std::str::from_utf8(&bytes) {
            Ok(text) if billing_domain::bai2::is_bai2(text) => FileFormat::Bai2,
            _ => FileFormat::Lockbox,
        };
        self.refuse(key, name, &hash, &why, format).await?;
        Ok(Outcome::Refused { key: key.to_owned(), why })
    }

    /// Keeps a refused file on the list, with why (once: the same file again changes nothing).
    async fn refuse(&self, key: &str, name: &str, hash: &str, why: &str, format: FileFormat) -> Result<(), OpsError> {
        let mut record = LockboxImport::started(
            hash.to_owned(),
            name.chars().take(200).collect(),
            format!("lockbox bucket: {key}").chars().take(300).collect(),
            format,
            0,
            Money::zero("USD".parse().expect("a currency")),
        );
        record.done = true;
        record.refused = Some(why.to_owned());
        match self.state.store.save_lockbox_import(&record, true).await {
            Ok(()) | Err(DomainError::Conflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
