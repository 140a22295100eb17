//! What a customer key may do. "All scopes" is an explicit value, never an empty list.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::ValidationError;

/// One permission a customer key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// List releases and their artifacts.
    ReleasesRead,
    /// Read download information.
    DownloadsRead,
    /// Issue download tokens.
    DownloadsToken,
    /// Introspect the key itself.
    KeysRead,
    /// Manage keys.
    KeysWrite,
    /// Read audit events.
    AuditRead,
}

impl Scope {
    /// Every scope, in the contract's order.
    pub const ALL: [Scope; 6] = [
        Scope::ReleasesRead,
        Scope::DownloadsRead,
        Scope::DownloadsToken,
        Scope::KeysRead,
        Scope::KeysWrite,
        Scope::AuditRead,
    ];

    /// The contract's name, such as `releases:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::ReleasesRead => "releases:read",
            Scope::DownloadsRead => "downloads:read",
            Scope::DownloadsToken => "downloads:token",
            Scope::KeysRead => "keys:read",
            Scope::KeysWrite => "keys:write",
            Scope::AuditRead => "audit:read",
        }
    }

    /// The scope with this contract name (surrounding spaces do not count).
    ///
    /// # Errors
    /// [`ValidationError`] on `scopes` for an unknown name.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        let trimmed = name.trim();
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == trimmed)
            .ok_or_else(|| {
                ValidationError::new("scopes", format!("contains unknown scope `{name}`"))
            })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Every scope: what a new key gets when the request names none.
    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    /// Parses the scope names of a request, as the reference server reads them:
    /// surrounding spaces do not count, blank names are left out, duplicates collapse.
    ///
    /// # Errors
    /// [`ValidationError`] on `scopes` when no name is left or one is unknown.
    ///
    /// ```
    /// use releasy_domain::api_key::{Scope, ScopeSet};
    ///
    /// let set = ScopeSet::parse(&[" releases:read", "", "releases:read"]).unwrap();
    /// assert!(set.contains(Scope::ReleasesRead));
    /// assert!(ScopeSet::parse(&[" "]).is_err());
    /// ```
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, ValidationError> {
        let names: Vec<&str> = names
            .iter()
            .map(|name| name.as_ref().trim())
            .filter(|name| !name.is_empty())
            .collect();
        if names.is_empty() {
            return Err(ValidationError::new(
                "scopes",
                "must not be empty (omit the field to grant every scope)",
            ));
        }
        names
            .iter()
            .map(|name| Scope::parse(name))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Reads scopes as stored: names separated by spaces or commas (this server's
    /// form), or a JSON array of names (the reference server's, which keys carried over
    /// from it keep).
    ///
    /// # Errors
    /// [`ValidationError`] when the stored text names no scope, names an unknown one,
    /// or starts with `[` but is not a JSON array of strings.
    ///
    /// ```
    /// use releasy_domain::api_key::ScopeSet;
    ///
    /// let ours = ScopeSet::from_stored("releases:read keys:read").unwrap();
    /// let reference = ScopeSet::from_stored(r#"["releases:read","keys:read"]"#).unwrap();
    /// assert_eq!(ours, reference);
    /// assert!(ScopeSet::from_stored("[]").is_err());
    /// ```
    pub fn from_stored(text: &str) -> Result<Self, ValidationError> {
        let names = Self::stored_names(text).ok_or_else(|| {
            ValidationError::new("scopes", "stored as a JSON array that is not one of names")
        })?;
        Self::parse(&names)
    }

    /// The names in stored scopes, as [`Self::from_stored`] reads them, known or not;
    /// `None` for a text that starts with `[` but is not a JSON array of strings.
    /// This server's form is read without copying: it is read on every authentication.
    pub(crate) fn stored_names(text: &str) -> Option<Vec<Cow<'_, str>>> {
        let text = text.trim();
        if text.starts_with('[') {
            let names: Vec<String> = serde_json::from_str(text).ok()?;
            return Some(names.into_iter().map(Cow::Owned).collect());
        }
        Some(
            text.split([' ', ','])
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(Cow::Borrowed)
                .collect(),
        )
    }

    /// The stored form: names in contract order, separated by single spaces.
    pub fn to_stored(&self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// The scope names, in contract order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|scope| scope.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()).unwrap(), scope);
        }
    }

    #[test]
    fn unknown_and_empty_scope_lists_are_rejected() {
        assert!(ScopeSet::parse(&["releases:read", "root"]).is_err());
        assert!(ScopeSet::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn all_contains_every_scope_and_round_trips_through_storage() {
        let all = ScopeSet::all();
        assert!(Scope::ALL.iter().all(|s| all.contains(*s)));
        assert_eq!(ScopeSet::from_stored(&all.to_stored()).unwrap(), all);
        assert_eq!(
            ScopeSet::from_stored("keys:read,releases:read")
                .unwrap()
                .to_stored(),
            "releases:read keys:read"
        );
        assert!(ScopeSet::from_stored("").is_err());
    }

    #[test]
    fn the_reference_servers_json_arrays_are_read_and_bad_ones_refused() {
        let read = ScopeSet::from_stored(r#" [ "downloads:token", " keys:read" ] "#).unwrap();
        let names: Vec<&str> = read.names().collect();
        assert_eq!(names, ["downloads:token", "keys:read"]);
        for refused in [r#"["keys:read", "root"]"#, r#"["keys:read""#, "[1]", "[]"] {
            assert!(ScopeSet::from_stored(refused).is_err(), "{refused}");
        }
    }
}
