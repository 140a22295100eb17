//! Points in time as the contract speaks of them: whole Unix seconds.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A point in time in whole seconds since the Unix epoch (the contract's timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The last second a client may name: the end of year 9999, as far as RFC 3339 and
    /// the databases' date types reach.
    pub const MAX_CLIENT: Timestamp = Timestamp(253_402_300_799);

    /// A time a client sent (a filter bound, say): whole seconds from 0 (1970) to
    /// [`Timestamp::MAX_CLIENT`].
    ///
    /// ```
    /// use releasy_domain::Timestamp;
    ///
    /// assert!(Timestamp::from_client("created_from", 1_700_000_000).is_ok());
    /// let err = Timestamp::from_client("created_from", -1).unwrap_err();
    /// assert_eq!(err.field, "created_from");
    /// ```
    ///
    /// # Errors
    /// [`ValidationError`] on `field` outside that range.
    pub fn from_client(field: &'static str, seconds: i64) -> Result<Self, ValidationError> {
        if (0..=Self::MAX_CLIENT.0).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::new(
                field,
                format!(
                    "must be Unix seconds from 0 to {} (year 9999)",
                    Self::MAX_CLIENT.0
                ),
            ))
        }
    }

    /// Wraps a number of seconds since the Unix epoch.
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// This instant moved forward by `seconds` (saturating, never wrapping).
    #[must_use]
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_times_run_from_1970_to_the_end_of_9999() {
        assert_eq!(
            Timestamp::from_client("t", 0).unwrap(),
            Timestamp::from_unix_seconds(0)
        );
        assert!(Timestamp::from_client("t", 253_402_300_799).is_ok());
        for bad in [-1, 253_402_300_800, i64::MAX, i64::MIN] {
            let err = Timestamp::from_client("created_to", bad).unwrap_err();
            assert_eq!(err.field, "created_to", "{bad}");
        }
    }
}
