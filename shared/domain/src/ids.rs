//! Identifiers and e-mail addresses: parsed once at the edge, trusted everywhere after.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new random, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                let rest = s.strip_prefix($prefix).ok_or_else(|| {
                    FieldError::new("", concat!("must start with `", $prefix, "`"))
                })?;
                if rest.is_empty()
                    || rest.len() > 64
                    || !rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                {
                    return Err(FieldError::new(
                        "",
                        concat!("must be `", $prefix, "` followed by 1 to 64 lowercase letters or digits"),
                    ));
                }
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A customer account (the party that is billed), e.g. `acct_0193…`.
    AccountId,
    "acct_"
);
prefixed_id!(
    /// One person's membership of one account, e.g. `mem_0193…`.
    MemberId,
    "mem_"
);
prefixed_id!(
    /// One seat (the entitlement for one user) of an account, e.g. `seat_0193…`.
    SeatId,
    "seat_"
);
prefixed_id!(
    /// One append-only audit entry; time-ordered, so sorting ids sorts by time.
    AuditId,
    "aud_"
);

/// The identity provider's subject (`sub` claim): who is calling, across accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String))]
pub struct UserId(String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserId {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        if s.is_empty() || s.len() > 128 {
            return Err(FieldError::new("sub", "must be 1 to 128 characters"));
        }
        // `#` separates parts of storage keys; a subject never contains one (Cognito's are UUIDs).
        if s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '#') {
            return Err(FieldError::new("sub", "contains a character that is not allowed"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for UserId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> String {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address that can receive mail: RFC 5321/5322 syntax, no display name, a domain with a
/// dot, at most 254 characters. Stored lower-cased so that the same mailbox compares equal however
/// it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, format = Email, max_length = 254))]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = FieldError;
    fn from_str(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new("", "is required"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(FieldError::new("", format!("must be at most {} characters", Self::MAX_LEN)));
        }
        let invalid = || FieldError::new("", "is not a valid e-mail address");
        let opts = email_address::Options::default().without_display_text().without_domain_literal();
        let parsed = email_address::EmailAddress::parse_with_options(s, opts).map_err(|_| invalid())?;
        if !parsed.domain().contains('.') || parsed.domain().ends_with('.') {
            return Err(invalid());
        }
        Ok(Self(parsed.as_str().to_lowercase()))
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        s.parse()
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_time() {
        let a = AccountId::generate();
        let b = AccountId::generate();
        assert_eq!(a.as_str().parse::<AccountId>().unwrap(), a);
        assert!(a < b, "v7 ids are time ordered");
        assert!(a.as_str().starts_with("acct_"));
    }

    #[test]
    fn ids_reject_foreign_shapes() {
        for bad in ["", "acct_", "mem_abc", "acct_ABC", "acct_a#b", "acct_a b", &format!("acct_{}", "a".repeat(65))] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad:?} must not parse");
        }
        assert!("acct_demo".parse::<AccountId>().is_ok());
        assert!("mem_1".parse::<MemberId>().is_ok());
    }

    #[test]
    fn user_ids_never_contain_key_separators() {
        assert!("0f1e2d3c-aaaa-bbbb-cccc-123456789012".parse::<UserId>().is_ok());
        assert!("a#b".parse::<UserId>().is_err());
        assert!("".parse::<UserId>().is_err());
        assert!("a b".parse::<UserId>().is_err());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(" Ann.Lee@Example.COM ".parse::<Email>().unwrap().as_str(), "ann.lee@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "Ann <ann@example.com>",
            "ann@[127.0.0.1]",
            "ann@example.",
        ] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?} must not parse");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(long.parse::<Email>().is_err());
    }

    #[test]
    fn serde_goes_through_the_parser() {
        let e: Result<Email, _> = serde_json::from_str("\"not-an-email\"");
        assert!(e.is_err());
        let id: AccountId = serde_json::from_str("\"acct_x1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"acct_x1\"");
    }
}
