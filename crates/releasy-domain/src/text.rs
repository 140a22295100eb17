//! The one rule every short, human-entered text shares: trimmed, not empty, bounded,
//! without control characters.

use crate::ValidationError;

/// Trims `raw` and checks it is non-empty, at most `max_chars` characters and free of
/// control characters.
pub(crate) fn bounded_text(
    field: &'static str,
    raw: &str,
    max_chars: usize,
) -> Result<String, ValidationError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Declares a newtype over `String` that can only be built through [`bounded_text`].
macro_rules! bounded_text_type {
    ($(#[$doc:meta])* $name:ident, field = $field:literal, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Checks and wraps a value.
            ///
            /// # Errors
            /// [`ValidationError`](crate::ValidationError) when the value is empty after
            /// trimming, too long, or contains control characters.
            pub fn parse(raw: &str) -> Result<Self, crate::ValidationError> {
                crate::text::bounded_text($field, raw, $max).map(Self)
            }

            /// The checked value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The checked value, without copying it.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use bounded_text_type;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_accepts_ordinary_text() {
        assert_eq!(bounded_text("name", "  Acme  ", 10).unwrap(), "Acme");
    }

    #[test]
    fn rejects_empty_long_and_control_text() {
        assert_eq!(
            bounded_text("name", "   ", 10).unwrap_err().to_string(),
            "name must not be empty"
        );
        assert_eq!(
            bounded_text("name", "abcdef", 5).unwrap_err().to_string(),
            "name must be at most 5 characters"
        );
        assert!(bounded_text("name", "a\u{0}b", 5).is_err());
    }
}
