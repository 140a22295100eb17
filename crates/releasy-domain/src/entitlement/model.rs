//! The entitlement record, its validity window and the activity rule.

use crate::entitlement::{DownloadQuota, EntitlementScope};
use crate::release::{Channel, Product, VersionRequirement};
use crate::{CustomerId, EntitlementId, Timestamp, ValidationError};

/// Free-form JSON object attached to an entitlement.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata(serde_json::Map<String, serde_json::Value>);

impl Metadata {
    /// Checks the value is a JSON object without NUL characters.
    ///
    /// # Errors
    /// [`ValidationError`] on `metadata` for any other JSON value, or with U+0000 in a
    /// key or a string.
    pub fn parse(value: serde_json::Value) -> Result<Self, ValidationError> {
        crate::text::refuse_nul_in_json("metadata", &value)?;
        match value {
            serde_json::Value::Object(map) => Ok(Self(map)),
            _ => Err(ValidationError::new("metadata", "must be a JSON object")),
        }
    }

    /// The object as a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

/// When an entitlement applies: from `starts_at` (>= 0) until `ends_at` (exclusive,
/// `None` for open-ended), with `ends_at >= starts_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntitlementWindow {
    starts_at: Timestamp,
    ends_at: Option<Timestamp>,
}

impl EntitlementWindow {
    /// Checks a window.
    ///
    /// # Errors
    /// [`ValidationError`] when `starts_at` is negative or `ends_at` precedes it.
    pub fn new(starts_at: Timestamp, ends_at: Option<Timestamp>) -> Result<Self, ValidationError> {
        if starts_at.unix_seconds() < 0 {
            return Err(ValidationError::new("starts_at", "must be >= 0"));
        }
        if ends_at.is_some_and(|end| end < starts_at) {
            return Err(ValidationError::new("ends_at", "must be >= starts_at"));
        }
        Ok(Self { starts_at, ends_at })
    }

    /// The start.
    pub const fn starts_at(self) -> Timestamp {
        self.starts_at
    }

    /// The end, if any.
    pub const fn ends_at(self) -> Option<Timestamp> {
        self.ends_at
    }

    /// The activity rule: `starts_at <= now` and (`ends_at` is none or `ends_at > now`).
    pub fn is_active_at(self, now: Timestamp) -> bool {
        self.starts_at <= now && self.ends_at.is_none_or(|end| end > now)
    }
}

/// An entitlement as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Entitlement {
    /// Its id.
    pub id: EntitlementId,
    /// The entitled customer.
    pub customer_id: CustomerId,
    /// The product.
    pub product: Product,
    /// When it applies.
    pub window: EntitlementWindow,
    /// What it grants within the product.
    pub scope: EntitlementScope,
    /// Free-form details.
    pub metadata: Option<Metadata>,
    /// How much it allows downloading per period (`None`: no limit).
    pub download_quota: Option<DownloadQuota>,
    /// When it was granted (orders listings, newest first).
    pub created_at: Timestamp,
    /// How many times it has been changed (0 when granted): what a change compares
    /// against, so that it applies only to the entitlement it was judged on.
    pub revision: u64,
}

/// A partial change; `Some(None)` clears `ends_at`, `channels`, `versions` or
/// `metadata`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntitlementChanges {
    /// New product.
    pub product: Option<Product>,
    /// New start.
    pub starts_at: Option<Timestamp>,
    /// New end; `Some(None)` clears it.
    pub ends_at: Option<Option<Timestamp>>,
    /// New channels; `Some(None)` grants every channel again.
    pub channels: Option<Option<Vec<Channel>>>,
    /// New version requirement; `Some(None)` grants every version again.
    pub versions: Option<Option<VersionRequirement>>,
    /// New perpetual fallback.
    pub perpetual_fallback: Option<bool>,
    /// New metadata; `Some(None)` clears it.
    pub metadata: Option<Option<Metadata>>,
    /// New download quota; `Some(None)` removes the limit.
    pub download_quota: Option<Option<DownloadQuota>>,
}

impl Entitlement {
    /// Whether it applies at `now`.
    pub fn is_active_at(&self, now: Timestamp) -> bool {
        self.window.is_active_at(now)
    }

    /// The entitlement after `changes`, validated as a whole: the one place where a
    /// change is judged. Its revision is still this one's; storing it advances it.
    ///
    /// # Errors
    /// [`ValidationError`] when the merged window breaks the rules.
    pub fn with_changes(&self, changes: EntitlementChanges) -> Result<Self, ValidationError> {
        let window = EntitlementWindow::new(
            changes.starts_at.unwrap_or(self.window.starts_at),
            changes.ends_at.unwrap_or(self.window.ends_at),
        )?;
        let scope = EntitlementScope {
            channels: changes
                .channels
                .unwrap_or_else(|| self.scope.channels.clone()),
            versions: changes
                .versions
                .unwrap_or_else(|| self.scope.versions.clone()),
            perpetual_fallback: changes
                .perpetual_fallback
                .unwrap_or(self.scope.perpetual_fallback),
        };
        Ok(Self {
            id: self.id,
            customer_id: self.customer_id,
            product: changes.product.unwrap_or_else(|| self.product.clone()),
            window,
            scope,
            metadata: changes.metadata.unwrap_or_else(|| self.metadata.clone()),
            download_quota: changes.download_quota.unwrap_or(self.download_quota),
            created_at: self.created_at,
            revision: self.revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    #[test]
    fn window_is_active_from_start_until_before_end() {
        let w = EntitlementWindow::new(at(10), Some(at(20))).unwrap();
        assert!(!w.is_active_at(at(9)));
        assert!(w.is_active_at(at(10)));
        assert!(w.is_active_at(at(19)));
        assert!(!w.is_active_at(at(20)));
        assert!(
            EntitlementWindow::new(at(0), None)
                .unwrap()
                .is_active_at(at(i64::MAX))
        );
    }

    #[test]
    fn window_rules() {
        assert_eq!(
            EntitlementWindow::new(at(-1), None).unwrap_err().field,
            "starts_at"
        );
        assert_eq!(
            EntitlementWindow::new(at(5), Some(at(4)))
                .unwrap_err()
                .field,
            "ends_at"
        );
        assert!(EntitlementWindow::new(at(5), Some(at(5))).is_ok());
    }

    #[test]
    fn changes_merge_and_are_validated_as_a_whole() {
        let e = Entitlement {
            id: EntitlementId::generate(),
            customer_id: CustomerId::generate(),
            product: Product::parse("app").unwrap(),
            window: EntitlementWindow::new(at(0), Some(at(100))).unwrap(),
            scope: EntitlementScope {
                channels: Some(vec![Channel::Stable]),
                ..EntitlementScope::default()
            },
            metadata: Some(Metadata::parse(serde_json::json!({"seats": 5})).unwrap()),
            download_quota: Some(
                DownloadQuota::new(Some(5), None, crate::entitlement::QuotaPeriod::Day).unwrap(),
            ),
            created_at: at(0),
            revision: 3,
        };
        let cleared = e
            .with_changes(EntitlementChanges {
                ends_at: Some(None),
                metadata: Some(None),
                channels: Some(None),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(cleared.window.ends_at(), None);
        assert_eq!(cleared.metadata, None);
        assert_eq!(
            cleared.download_quota, e.download_quota,
            "kept unless changed"
        );
        assert_eq!(cleared.scope, EntitlementScope::default());
        let narrowed = e
            .with_changes(EntitlementChanges {
                versions: Some(Some(VersionRequirement::parse("versions", "^2").unwrap())),
                perpetual_fallback: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            narrowed.scope.channels,
            Some(vec![Channel::Stable]),
            "fields not changed are kept"
        );
        assert_eq!(narrowed.scope.versions.unwrap().as_str(), "^2");
        assert!(narrowed.scope.perpetual_fallback);
        assert_eq!(
            cleared.revision, 3,
            "storing the change advances the revision"
        );
        let bad = e.with_changes(EntitlementChanges {
            starts_at: Some(at(200)),
            ..Default::default()
        });
        assert_eq!(bad.unwrap_err().field, "ends_at");
        assert!(Metadata::parse(serde_json::json!([1])).is_err());
    }
}
