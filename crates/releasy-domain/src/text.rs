//! The one rule every short, human-entered text shares: trimmed, not empty, bounded,
//! without control characters.

use crate::ValidationError;

/// Trims `raw` and checks it is non-empty, at most `max_chars` characters and free of
/// control characters.
pub(crate) fn bounded_text<'a>(
    field: &'static str,
    raw: &'a str,
    max_chars: usize,
) -> Result<&'a str, ValidationError> {
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
    Ok(trimmed)
}

/// Refuses text holding U+0000. No field means anything with it, and PostgreSQL (text
/// and `jsonb` alike) cannot store it: left to the database, it would be a server
/// error instead of the client's 400. Short texts refuse it as a control character;
/// this is for the free-form ones (notes, a purpose, metadata).
pub(crate) fn refuse_nul(field: &'static str, text: &str) -> Result<(), ValidationError> {
    if text.contains('\0') {
        return Err(ValidationError::new(
            field,
            "must not contain NUL characters (U+0000)",
        ));
    }
    Ok(())
}

/// [`refuse_nul`] over every key and string of a JSON value.
pub(crate) fn refuse_nul_in_json(
    field: &'static str,
    value: &serde_json::Value,
) -> Result<(), ValidationError> {
    match value {
        serde_json::Value::String(text) => refuse_nul(field, text),
        serde_json::Value::Array(items) => items
            .iter()
            .try_for_each(|item| refuse_nul_in_json(field, item)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            refuse_nul(field, key)?;
            refuse_nul_in_json(field, item)
        }),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            Ok(())
        }
    }
}

/// Declares a newtype over a shared `str` that can only be built through
/// [`bounded_text`]. Shared, because these values (products, versions, platforms) are
/// cloned with every release and artifact a listing serves from the read cache: a
/// clone is a reference count, and comparing two clones compares pointers first.
macro_rules! bounded_text_type {
    ($(#[$doc:meta])* $name:ident, field = $field:literal, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Checks and wraps a value.
            ///
            /// # Errors
            /// [`ValidationError`](crate::ValidationError) when the value is empty after
            /// trimming, too long, or contains control characters.
            pub fn parse(raw: &str) -> Result<Self, crate::ValidationError> {
                crate::text::bounded_text($field, raw, $max).map(|text| Self(text.into()))
            }

            /// A value as it is stored, taken as it is: the database holds what
            /// [`Self::parse`] let through, or what an earlier server (the reference
            /// server checked no names) stored. What is stored must stay readable, to be
            /// listed, changed and revoked.
            pub fn from_stored(stored: &str) -> Self {
                Self(stored.into())
            }

            /// A value as it is stored, read as [`Self::parse`] reads it (trimmed), or
            /// taken as it is when that refuses it (an earlier server stored it): a
            /// value that names, orders and matches like the parsed one whenever it can.
            pub fn read_stored(stored: &str) -> Self {
                Self::parse(stored).unwrap_or_else(|_| Self::from_stored(stored))
            }

            /// The checked value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The checked value, as an owned string.
            pub fn into_string(self) -> String {
                self.0.to_string()
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

/// Up to `N` (at most 255) ASCII bytes kept inline: a value that is always short (a
/// target label) clones as a plain copy, with no allocation. Listings clone every
/// artifact they serve from the read cache, so this is on the hottest read path.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct InlineAscii<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineAscii<N> {
    /// `text`, when it is ASCII and at most `N` bytes.
    pub(crate) fn new(text: &str) -> Option<Self> {
        const { assert!(N <= u8::MAX as usize, "the length is kept in a u8") };
        if !text.is_ascii() || text.len() > N {
            return None;
        }
        let mut bytes = [0; N];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Self {
            len: text.len() as u8,
            bytes,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        // Built from a `&str` only, so always UTF-8; the fallback is never taken.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Debug for InlineAscii<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_ascii_keeps_short_ascii_only() {
        let kept = InlineAscii::<8>::new("linux").unwrap();
        assert_eq!(kept.as_str(), "linux");
        assert_eq!(format!("{kept:?}"), "\"linux\"");
        assert_eq!(
            InlineAscii::<8>::new("12345678").unwrap().as_str(),
            "12345678"
        );
        assert!(InlineAscii::<8>::new("123456789").is_none(), "too long");
        assert!(InlineAscii::<8>::new("ärm").is_none(), "not ASCII");
        assert_eq!(InlineAscii::<8>::new("").unwrap().as_str(), "");
    }

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

    #[test]
    fn nul_is_refused_anywhere_in_free_text_and_json() {
        assert!(refuse_nul("notes", "line\nother\ttab").is_ok());
        assert_eq!(
            refuse_nul("notes", "a\u{0}b").unwrap_err().to_string(),
            "notes must not contain NUL characters (U+0000)"
        );
        let clean = serde_json::json!({"a": [1, "x", {"b": null}], "c": true});
        assert!(refuse_nul_in_json("metadata", &clean).is_ok());
        for dirty in [
            serde_json::json!({"a": "x\u{0}"}),
            serde_json::json!({"a\u{0}": 1}),
            serde_json::json!({"a": [{"b": ["\u{0}"]}]}),
        ] {
            assert!(refuse_nul_in_json("metadata", &dirty).is_err(), "{dirty}");
        }
    }
}
