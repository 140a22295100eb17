//! The error every checking constructor returns.

/// Input that breaks a rule of the contract. `field` names what was wrong, so an adapter
/// can tell the caller exactly which field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct ValidationError {
    /// The field (or parameter) that failed the check, as the contract names it.
    pub field: &'static str,
    /// What is wrong with it, phrased to follow the field name.
    pub reason: String,
}

impl ValidationError {
    /// A validation error for `field`; `reason` reads after the field name
    /// ("name" + "must not be empty").
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
