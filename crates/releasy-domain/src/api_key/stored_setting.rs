//! A key's type or scopes as read back from storage, where another server (or a hand
//! edit) may have left a value this one does not read.

use std::borrow::Cow;

use crate::ValidationError;
use crate::api_key::{KeyType, ScopeSet};

/// A stored setting of a key: a value this server reads, or the text as stored.
///
/// Keys carried over from the reference server, or edited by hand, can hold a type or
/// scopes this server cannot read. Such a key never authenticates (it is refused and
/// audited as `invalid_scopes`, as SPEC has it), but an operator must still be able to
/// list, change and revoke it: reading it must not fail.
///
/// ```
/// use releasy_domain::api_key::{KeyType, StoredSetting};
///
/// let read = StoredSetting::read(" CI ", KeyType::parse);
/// assert_eq!(read, StoredSetting::Read(KeyType::Ci));
/// assert_eq!(read.as_str(), "ci");
/// let unreadable = StoredSetting::read("robot", KeyType::parse);
/// assert_eq!(unreadable.as_str(), "robot");
/// assert!(unreadable.value().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSetting<T> {
    /// A value this server reads.
    Read(T),
    /// The stored text, which this server does not read.
    Unreadable(String),
}

impl<T> StoredSetting<T> {
    /// Reads `stored` with `parse`; what `parse` refuses is kept as stored.
    pub fn read(stored: &str, parse: impl FnOnce(&str) -> Result<T, ValidationError>) -> Self {
        parse(stored).map_or_else(|_| Self::Unreadable(stored.to_owned()), Self::Read)
    }

    /// The value, unless it is unreadable.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Read(value) => Some(value),
            Self::Unreadable(_) => None,
        }
    }
}

impl<T> From<T> for StoredSetting<T> {
    fn from(value: T) -> Self {
        Self::Read(value)
    }
}

impl StoredSetting<KeyType> {
    /// The type's contract name, or the text as stored.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Read(key_type) => key_type.as_str(),
            Self::Unreadable(stored) => stored,
        }
    }
}

impl StoredSetting<ScopeSet> {
    /// The scope names, in contract order; of unreadable scopes the names as stored
    /// (the entries of a JSON array, or the words of the text), or the whole text as
    /// one entry when it starts with `[` but is not a JSON array of strings.
    ///
    /// ```
    /// use releasy_domain::api_key::{ScopeSet, StoredSetting};
    ///
    /// let unreadable = StoredSetting::read("keys:read root", ScopeSet::from_stored);
    /// assert_eq!(unreadable.names(), ["keys:read", "root"]);
    /// ```
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Read(scopes) => scopes.names().map(str::to_owned).collect(),
            Self::Unreadable(stored) => ScopeSet::stored_names(stored).map_or_else(
                || vec![stored.clone()],
                |names| names.into_iter().map(Cow::into_owned).collect(),
            ),
        }
    }

    /// The stored form: [`ScopeSet::to_stored`], or the text as it was stored.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Read(scopes) => scopes.to_stored(),
            Self::Unreadable(stored) => stored.clone(),
        }
    }
}
