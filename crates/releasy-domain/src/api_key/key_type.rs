//! What kind of holder a key was issued to.

use crate::ValidationError;

/// The holder of a key: a person, a CI pipeline, or another system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyType {
    /// A person (the default).
    #[default]
    Human,
    /// A CI pipeline.
    Ci,
    /// Another system.
    Integration,
}

impl KeyType {
    /// The contract's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyType::Human => "human",
            KeyType::Ci => "ci",
            KeyType::Integration => "integration",
        }
    }

    /// The key type with this name, read as the reference server reads it: surrounding
    /// spaces and ASCII case do not count (`" CI "` is `ci`).
    ///
    /// # Errors
    /// [`ValidationError`] on `key_type` for an unknown name.
    ///
    /// ```
    /// use releasy_domain::api_key::KeyType;
    ///
    /// assert_eq!(KeyType::parse(" CI ").unwrap(), KeyType::Ci);
    /// assert!(KeyType::parse("robot").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "human" => Ok(KeyType::Human),
            "ci" => Ok(KeyType::Ci),
            "integration" => Ok(KeyType::Integration),
            _ => Err(ValidationError::new(
                "key_type",
                format!("must be one of human, ci, integration (got `{name}`)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_rejected() {
        for t in [KeyType::Human, KeyType::Ci, KeyType::Integration] {
            assert_eq!(KeyType::parse(t.as_str()).unwrap(), t);
        }
        assert_eq!(KeyType::parse("robot").unwrap_err().field, "key_type");
        assert_eq!(KeyType::default(), KeyType::Human);
    }
}
