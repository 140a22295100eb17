//! A credential that never shows up in `Debug` output or logs.

use std::fmt;

/// An admin key, operator token or customer API key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value; `None` for an empty or blank one, which counts as unset.
    pub fn new(value: String) -> Option<Self> {
        let trimmed = value.trim();
        (!trimmed.is_empty()).then(|| Self(trimmed.to_owned()))
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_and_blank_is_unset() {
        let secret = Secret::new(" releasy_abc ".into()).unwrap();
        assert_eq!(secret.expose(), "releasy_abc");
        assert_eq!(format!("{secret:?}"), "Secret(..)");
        assert!(Secret::new("  ".into()).is_none());
    }
}
