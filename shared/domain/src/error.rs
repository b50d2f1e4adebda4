use std::fmt;

/// One field that did not parse, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same error, reported under a parent field (`email` -> `billing_contact.email`, `[2]`
    /// -> `tax_codes[2]`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.field, self.message) }
    }
}

impl std::error::Error for FieldError {}

/// Everything that can go wrong in the domain and behind its ports.
///
/// Adapters translate their SDK errors into these variants, so callers never see an AWS type.
/// `Unavailable` is the only variant that a retry can fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("the account must keep at least one active admin")]
    LastAdmin,
    #[error("a member with this e-mail already belongs to the account")]
    MemberExists,
    #[error("you are already a member of this account")]
    AlreadyMember,
    #[error("the record changed while it was being updated")]
    Conflict,
    #[error("the idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is still being processed; retry shortly")]
    RequestInProgress,
    #[error("a dependency is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(err))
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Self::Invalid(vec![e])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Collects field errors from several parses so a client sees all of them at once.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    /// Keeps the value, or records the error under `parent` and gives `None`.
    pub fn take<T>(&mut self, parent: &str, r: std::result::Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e.under(parent));
                None
            }
        }
    }

    /// Like [`take`](Self::take) for a parse that reports several errors.
    pub fn take_all<T>(&mut self, parent: &str, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::Invalid(errs)) => {
                self.0.extend(errs.into_iter().map(|e| e.under(parent)));
                None
            }
            Err(other) => {
                self.0.push(FieldError::new(parent, other.to_string()));
                None
            }
        }
    }

    /// Records an error found by a check rather than a parse.
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::Invalid(self.0)) }
    }
}
