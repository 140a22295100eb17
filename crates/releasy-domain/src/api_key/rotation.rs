//! The rules of a key rotation: how long the old key overlaps the new one, which keys
//! may be rotated, and what the successor inherits.

use crate::api_key::ApiKey;
use crate::{ApiKeyId, Timestamp, ValidationError};

/// How long the old key keeps working after a rotation: 0 (it stops at once) up to 30
/// days; 24 hours when not given.
///
/// ```
/// use releasy_domain::api_key::RotationOverlap;
///
/// assert_eq!(RotationOverlap::parse(None).unwrap().seconds(), 86_400);
/// assert_eq!(RotationOverlap::parse(Some(0)).unwrap().seconds(), 0);
/// assert!(RotationOverlap::parse(Some(30 * 86_400 + 1)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationOverlap(i64);

impl RotationOverlap {
    /// The overlap when none is asked for: a day, so every holder of the old key can
    /// switch within a working day wherever they are.
    pub const DEFAULT_SECONDS: i64 = 86_400;
    /// The longest overlap: 30 days. A longer one would be a second key, not a rotation.
    pub const MAX_SECONDS: i64 = 30 * 86_400;

    /// Checks a requested overlap; `None` gives [`Self::DEFAULT_SECONDS`].
    ///
    /// # Errors
    /// [`ValidationError`] on `overlap_seconds` outside `0..=MAX_SECONDS`.
    pub fn parse(requested: Option<i64>) -> Result<Self, ValidationError> {
        match requested {
            None => Ok(Self(Self::DEFAULT_SECONDS)),
            Some(seconds) if (0..=Self::MAX_SECONDS).contains(&seconds) => Ok(Self(seconds)),
            Some(_) => Err(ValidationError::new(
                "overlap_seconds",
                format!("must be between 0 and {}", Self::MAX_SECONDS),
            )),
        }
    }

    /// Seconds.
    pub const fn seconds(self) -> i64 {
        self.0
    }
}

/// Why a key cannot be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RotationRefusal {
    /// It is revoked: there is nothing to hand over.
    #[error("api key is revoked")]
    Revoked,
    /// Its revocation is already scheduled by an earlier rotation, whose successor
    /// exists; rotating again would leave a second live successor nobody asked for.
    #[error("api key is already being rotated")]
    AlreadyRotating,
    /// It has expired (its successor would inherit the past expiry).
    #[error("api key has expired")]
    Expired,
    /// Its stored type or scopes are unreadable (a key another server stored): the
    /// successor would copy them and could not authenticate either.
    #[error("api key's stored type or scopes cannot be read: issue a new key")]
    Unreadable,
    /// Its settings kept changing while the rotation was tried (a concurrent `PATCH`).
    #[error("api key changed during the rotation; try again")]
    Contended,
}

/// Whether `key` may be rotated at `now`.
///
/// # Errors
/// The [`RotationRefusal`] that applies, checked in this order: revoked, being
/// rotated, expired, unreadable.
pub fn check_rotatable(key: &ApiKey, now: Timestamp) -> Result<(), RotationRefusal> {
    match key.revoked_at {
        Some(_) if key.is_revoked_at(now) => Err(RotationRefusal::Revoked),
        Some(_) => Err(RotationRefusal::AlreadyRotating),
        None if key.is_expired_at(now) => Err(RotationRefusal::Expired),
        None if key.key_type.value().is_none() || key.scopes.value().is_none() => {
            Err(RotationRefusal::Unreadable)
        }
        None => Ok(()),
    }
}

/// The plan of a rotation: the successor `old` hands over to, and the old key as it
/// stands after the rotation (revoked at the end of the overlap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The old key with its revocation scheduled.
    pub retiring: ApiKey,
    /// The new key: same customer, name, type, scopes, expiry and address rule; a new
    /// secret.
    pub successor: ApiKey,
    /// When the old key stops working: the end of the overlap.
    pub retires_at: Timestamp,
}

impl Rotation {
    /// Plans the rotation of `old` at `now`: `successor` is a fresh key (id, hash and
    /// lookup of the new secret) whose settings are copied from `old`.
    pub fn plan(old: &ApiKey, fresh: ApiKey, overlap: RotationOverlap, now: Timestamp) -> Self {
        let successor = ApiKey {
            customer_id: old.customer_id,
            name: old.name.clone(),
            key_type: old.key_type.clone(),
            scopes: old.scopes.clone(),
            expires_at: old.expires_at,
            allowed_networks: old.allowed_networks.clone(),
            created_at: now,
            revoked_at: None,
            last_used_at: None,
            last_used_address: None,
            ..fresh
        };
        let retires_at = now.plus_seconds(overlap.seconds());
        let retiring = ApiKey {
            revoked_at: Some(retires_at),
            ..old.clone()
        };
        Self {
            retiring,
            successor,
            retires_at,
        }
    }

    /// Whether the plan still applies to the key as it is stored now (`current`, read
    /// under the write's lock): it has no revocation yet, and the settings the
    /// successor copied are still its settings. An adapter writes the rotation only
    /// then, so a concurrent revocation, rotation or `PATCH` is never overwritten.
    pub fn applies_to(&self, current: &ApiKey) -> bool {
        let planned = &self.retiring;
        current.id == planned.id
            && current.revoked_at.is_none()
            && current.customer_id == planned.customer_id
            && current.name == planned.name
            && current.key_type == planned.key_type
            && current.scopes == planned.scopes
            && current.expires_at == planned.expires_at
            && current.allowed_networks == planned.allowed_networks
    }

    /// The old key's id.
    pub fn old_id(&self) -> ApiKeyId {
        self.retiring.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CustomerId;
    use crate::api_key::{KeyLookup, KeyName, KeyType, ScopeSet, StoredKeyHash, StoredSetting};

    const NOW: Timestamp = Timestamp::from_unix_seconds(10_000);

    fn key() -> ApiKey {
        ApiKey {
            id: ApiKeyId::generate(),
            customer_id: CustomerId::generate(),
            name: Some(KeyName::parse("deploy").unwrap()),
            key_type: KeyType::Ci.into(),
            scopes: ScopeSet::parse(&["downloads:token"]).unwrap().into(),
            hash: StoredKeyHash::Argon2id("$argon2id$old".into()),
            lookup: KeyLookup::from_stored("old".into()),
            created_at: Timestamp::from_unix_seconds(1_000),
            expires_at: Some(NOW.plus_seconds(500)),
            revoked_at: None,
            last_used_at: Some(NOW.plus_seconds(-5)),
            last_used_address: Some("203.0.113.9".parse().unwrap()),
            allowed_networks: Some(
                crate::api_key::AllowedNetworks::parse(&["203.0.113.0/24"]).unwrap(),
            ),
        }
    }

    #[test]
    fn the_overlap_is_bounded_and_defaults_to_a_day() {
        assert_eq!(RotationOverlap::parse(None).unwrap().seconds(), 86_400);
        assert_eq!(
            RotationOverlap::parse(Some(2_592_000)).unwrap().seconds(),
            2_592_000
        );
        let err = RotationOverlap::parse(Some(-1)).unwrap_err();
        assert_eq!(err.field, "overlap_seconds");
        assert!(RotationOverlap::parse(Some(2_592_001)).is_err());
    }

    #[test]
    fn only_a_live_key_is_rotatable() {
        assert_eq!(check_rotatable(&key(), NOW), Ok(()));
        let revoked = ApiKey {
            revoked_at: Some(NOW),
            ..key()
        };
        assert_eq!(
            check_rotatable(&revoked, NOW),
            Err(RotationRefusal::Revoked)
        );
        let rotating = ApiKey {
            revoked_at: Some(NOW.plus_seconds(1)),
            ..key()
        };
        assert_eq!(
            check_rotatable(&rotating, NOW),
            Err(RotationRefusal::AlreadyRotating)
        );
        let expired = ApiKey {
            expires_at: Some(NOW),
            ..key()
        };
        assert_eq!(
            check_rotatable(&expired, NOW),
            Err(RotationRefusal::Expired)
        );
        let unreadable_type = ApiKey {
            key_type: StoredSetting::Unreadable("robot".into()),
            ..key()
        };
        let unreadable_scopes = ApiKey {
            scopes: StoredSetting::Unreadable("keys:read root".into()),
            ..key()
        };
        for unreadable in [unreadable_type, unreadable_scopes] {
            assert_eq!(
                check_rotatable(&unreadable, NOW),
                Err(RotationRefusal::Unreadable)
            );
        }
    }

    #[test]
    fn the_successor_inherits_the_settings_and_not_the_history() {
        let old = key();
        let fresh = ApiKey {
            id: ApiKeyId::generate(),
            hash: StoredKeyHash::Argon2id("$argon2id$new".into()),
            lookup: KeyLookup::from_stored("new".into()),
            ..key()
        };
        let overlap = RotationOverlap::parse(Some(60)).unwrap();
        let rotation = Rotation::plan(&old, fresh.clone(), overlap, NOW);

        let successor = &rotation.successor;
        assert_eq!(successor.id, fresh.id);
        assert_eq!(successor.hash, fresh.hash);
        assert_eq!(successor.lookup, fresh.lookup);
        assert_eq!(successor.customer_id, old.customer_id);
        assert_eq!(successor.name, old.name);
        assert_eq!(successor.key_type, old.key_type);
        assert_eq!(successor.scopes, old.scopes);
        assert_eq!(successor.expires_at, old.expires_at);
        assert_eq!(successor.allowed_networks, old.allowed_networks);
        assert_eq!(successor.created_at, NOW);
        assert_eq!(successor.last_used_at, None);
        assert_eq!(successor.last_used_address, None);

        assert_eq!(rotation.old_id(), old.id);
        assert_eq!(rotation.retires_at, NOW.plus_seconds(60));
        assert_eq!(rotation.retiring.revoked_at, Some(NOW.plus_seconds(60)));
        assert!(!rotation.retiring.is_revoked_at(NOW.plus_seconds(59)));
        assert!(rotation.retiring.is_revoked_at(NOW.plus_seconds(60)));
    }

    #[test]
    fn the_plan_applies_only_to_the_key_it_was_made_from() {
        let old = key();
        let rotation = Rotation::plan(&old, key(), RotationOverlap::parse(None).unwrap(), NOW);
        assert!(rotation.applies_to(&old));
        // Use and hash upgrades do not matter; settings and revocations do.
        let used = ApiKey {
            last_used_at: Some(NOW),
            hash: StoredKeyHash::Argon2id("$argon2id$rehashed".into()),
            ..old.clone()
        };
        assert!(rotation.applies_to(&used));
        let changed = [
            ApiKey {
                revoked_at: Some(NOW.plus_seconds(9)),
                ..old.clone()
            },
            ApiKey {
                allowed_networks: None,
                ..old.clone()
            },
            ApiKey {
                name: None,
                ..old.clone()
            },
            ApiKey {
                id: ApiKeyId::generate(),
                ..old.clone()
            },
        ];
        for current in changed {
            assert!(!rotation.applies_to(&current), "{current:?}");
        }
    }

    #[test]
    fn a_zero_overlap_revokes_at_once() {
        let rotation = Rotation::plan(&key(), key(), RotationOverlap::parse(Some(0)).unwrap(), NOW);
        assert!(rotation.retiring.is_revoked_at(NOW));
    }
}
