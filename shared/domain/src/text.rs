//! Bounded, trimmed free text (names, address lines).

use crate::error::FieldError;

/// Trims `raw` and checks it is between `min` and `max` characters with no control characters.
pub fn bounded(raw: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let s = raw.trim();
    let len = s.chars().count();
    if len < min {
        return Err(FieldError::new(
            "",
            if min == 1 { "is required".to_owned() } else { format!("must be at least {min} characters") },
        ));
    }
    if len > max {
        return Err(FieldError::new("", format!("must be at most {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new("", "must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// Like [`bounded`] but an empty or missing value is `None`.
pub fn optional(raw: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => bounded(s, 1, max).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(bounded("  Acme  ", 1, 10).unwrap(), "Acme");
        assert!(bounded("   ", 1, 10).is_err());
        assert!(bounded("abcdefghijk", 1, 10).is_err());
        assert!(bounded("a\u{0}b", 1, 10).is_err());
        // Limits count characters, not bytes.
        assert_eq!(bounded("ÄÖÜäöüßéèê", 1, 10).unwrap().chars().count(), 10);
    }

    #[test]
    fn optional_empty_is_none() {
        assert_eq!(optional(None, 5).unwrap(), None);
        assert_eq!(optional(Some("  "), 5).unwrap(), None);
        assert_eq!(optional(Some(" x "), 5).unwrap(), Some("x".into()));
        assert!(optional(Some("toolong"), 5).is_err());
    }
}
