//! The stored key and the request to issue one.

use std::net::IpAddr;

use crate::api_key::{AllowedNetworks, KeyLookup, KeyType, ScopeSet, StoredKeyHash, StoredSetting};
use crate::text::bounded_text_type;
use crate::{ApiKeyId, CustomerId, Timestamp};

bounded_text_type!(
    /// A human-readable label for a key: trimmed, 1 to 200 characters.
    KeyName,
    field = "name",
    max = 200
);

impl KeyName {
    /// A key's label from a client's text, where a blank one means no label (the
    /// reference server stores it, and shows nothing either).
    ///
    /// # Errors
    /// [`crate::ValidationError`] as [`KeyName::parse`], for a text that is not blank.
    ///
    /// ```
    /// use releasy_domain::api_key::KeyName;
    ///
    /// assert_eq!(KeyName::parse_or_none("").unwrap(), None);
    /// assert_eq!(KeyName::parse_or_none(" ci ").unwrap().unwrap().as_str(), "ci");
    /// ```
    pub fn parse_or_none(text: &str) -> Result<Option<Self>, crate::ValidationError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        Self::parse(text).map(Some)
    }
}

/// A customer API key as stored (never the raw key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The customer it acts for.
    pub customer_id: CustomerId,
    /// Its label.
    pub name: Option<KeyName>,
    /// Who holds it (unreadable only in a key another server stored).
    pub key_type: StoredSetting<KeyType>,
    /// What it may do (unreadable only in a key another server stored: such a key
    /// never authenticates).
    pub scopes: StoredSetting<ScopeSet>,
    /// The hash that verifies it.
    pub hash: StoredKeyHash,
    /// The index value that finds it.
    pub lookup: KeyLookup,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When it last authenticated a request (recorded at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// The client address of the use recorded in `last_used_at`.
    pub last_used_address: Option<IpAddr>,
    /// Where it may be used from; `None`: anywhere.
    pub allowed_networks: Option<AllowedNetworks>,
}

impl ApiKey {
    /// Whether the key is revoked at `now`. A rotation schedules the old key's
    /// revocation at the end of its overlap, so `revoked_at` may lie in the future.
    pub fn is_revoked_at(&self, now: Timestamp) -> bool {
        is_revoked_at(self.revoked_at, now)
    }

    /// Whether the key has expired at `now` (it works strictly before `expires_at`).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|expires| expires <= now)
    }
}

/// Whether a key with this `revoked_at` is revoked at `now`: from its revocation
/// second on.
pub(crate) fn is_revoked_at(revoked_at: Option<Timestamp>, now: Timestamp) -> bool {
    revoked_at.is_some_and(|revoked| revoked <= now)
}

/// A validated request to issue a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKeyRequest {
    /// The customer the key acts for.
    pub customer_id: CustomerId,
    /// Its label.
    pub name: Option<KeyName>,
    /// Who will hold it.
    pub key_type: KeyType,
    /// What it may do.
    pub scopes: ScopeSet,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// Where it may be used from; `None`: anywhere.
    pub allowed_networks: Option<AllowedNetworks>,
}

/// What an operator may change of an issued key (`PATCH /v1/admin/keys/{id}`): each
/// field `None` to keep it, `Some(None)` to clear it, `Some(Some(_))` to set it. What
/// the key may do (type, scopes) and when it ends are fixed at issue (a rotation
/// copies them too): issue a new key and revoke the old one to change those.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyChanges {
    /// Its label.
    pub name: Option<Option<KeyName>>,
    /// Where it may be used from.
    pub allowed_networks: Option<Option<AllowedNetworks>>,
}

impl KeyChanges {
    /// Whether the changes name no field.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.allowed_networks.is_none()
    }

    /// `key` with the changes applied.
    pub fn apply_to(&self, key: &ApiKey) -> ApiKey {
        let mut changed = key.clone();
        if let Some(name) = &self.name {
            changed.name.clone_from(name);
        }
        if let Some(networks) = &self.allowed_networks {
            changed.allowed_networks.clone_from(networks);
        }
        changed
    }
}

/// A stored key that might match a presented secret, with what authentication needs to
/// decide: the owner's suspension and the scopes and type exactly as stored (they are
/// checked again on every request, so a bad stored value rejects instead of crashing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCandidate {
    /// The key's id.
    pub id: ApiKeyId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// Its stored hash.
    pub hash: StoredKeyHash,
    /// Its scopes as stored.
    pub scopes: String,
    /// Its type as stored.
    pub key_type: String,
    /// When it expires, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When its customer was suspended, if they are.
    pub customer_suspended_at: Option<Timestamp>,
    /// When it last authenticated a request (recorded at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// Where it may be used from, as stored (checked on every request, like scopes).
    pub allowed_cidrs: Option<String>,
}
