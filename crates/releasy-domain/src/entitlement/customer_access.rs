//! A customer's entitlements as the access rule reads them, read once per request:
//! what a customer's listing, `latest`, `upgrade`, token issue and resolve ask.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::entitlement::access::judge;
use crate::entitlement::{
    AccessDecision, Allowance, DownloadQuota, Entitlement, EntitlementScope, EntitlementWindow,
    Grant, MeteredGrant, ReleaseFacts, decide,
};
use crate::{EntitlementId, Timestamp};

/// One entitlement, reduced to what the access rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductGrant {
    /// Its id.
    pub id: EntitlementId,
    /// The product it is for.
    pub product: String,
    /// When it applies.
    pub window: EntitlementWindow,
    /// What it grants.
    pub scope: EntitlementScope,
    /// How much it allows downloading per period (`None`: no limit).
    pub quota: Option<DownloadQuota>,
}

impl From<&Entitlement> for ProductGrant {
    fn from(e: &Entitlement) -> Self {
        Self {
            id: e.id,
            product: e.product.as_str().to_owned(),
            window: e.window,
            scope: e.scope.clone(),
            quota: e.download_quota,
        }
    }
}

impl ProductGrant {
    fn as_grant(&self) -> Grant<'_> {
        Grant {
            id: self.id,
            window: self.window,
            scope: &self.scope,
        }
    }

    /// Whether it can allow any release at `now`: it has started, and it runs or keeps
    /// its releases by the perpetual fallback.
    fn may_allow_at(&self, now: Timestamp) -> bool {
        self.window.is_active_at(now)
            || (self.scope.perpetual_fallback && self.window.starts_at() <= now)
    }
}

/// Which products a customer's listing shows at one instant, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductVisibility {
    /// Products shown whole: an entitlement to each runs and narrows nothing.
    pub whole: Vec<String>,
    /// Products of which only some releases are shown: each release is put to
    /// [`CustomerAccess::allows`].
    pub narrowed: Vec<String>,
}

impl ProductVisibility {
    /// Every product with a release to show, whole or narrowed, sorted.
    pub fn products(&self) -> Vec<String> {
        let mut all: Vec<String> = self.whole.iter().chain(&self.narrowed).cloned().collect();
        all.sort_unstable();
        all
    }

    /// Whether every release of every product shown is shown: the database's product
    /// filter is then the whole rule.
    pub fn is_whole(&self) -> bool {
        self.narrowed.is_empty()
    }
}

/// A customer's entitlements (every one, ended ones too: a perpetual fallback keeps
/// granting after the end). Cloning it is cheap: caches hand out copies.
///
/// ```
/// use releasy_domain::entitlement::{CustomerAccess, EntitlementScope, EntitlementWindow, ProductGrant, ReleaseFacts};
/// use releasy_domain::release::{Channel, Version, VersionRequirement};
/// use releasy_domain::{EntitlementId, Timestamp};
///
/// let at = Timestamp::from_unix_seconds;
/// let access = CustomerAccess::new(vec![ProductGrant {
///     id: EntitlementId::generate(),
///     product: "agent".into(),
///     window: EntitlementWindow::new(at(0), Some(at(100))).unwrap(),
///     scope: EntitlementScope {
///         versions: Some(VersionRequirement::parse("versions", "^2").unwrap()),
///         perpetual_fallback: true,
///         ..EntitlementScope::default()
///     },
///     quota: None,
/// }]);
/// let v = Version::parse("2.1.0").unwrap();
/// let published_at = |t| ReleaseFacts { version: &v, channel: Channel::Stable, published_at: Some(at(t)) };
/// assert!(access.allows("agent", published_at(50), at(500)), "published before the end");
/// assert!(!access.allows("agent", published_at(150), at(500)), "published after it");
/// assert_eq!(access.visible_at(at(500)).narrowed, ["agent"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerAccess {
    grants: Arc<[ProductGrant]>,
}

impl CustomerAccess {
    /// Access made of these grants.
    pub fn new(grants: Vec<ProductGrant>) -> Self {
        Self {
            grants: grants.into(),
        }
    }

    /// The grants.
    pub fn grants(&self) -> &[ProductGrant] {
        &self.grants
    }

    fn for_product<'a>(&'a self, product: &'a str) -> impl Iterator<Item = &'a ProductGrant> {
        self.grants.iter().filter(move |g| g.product == product)
    }

    /// The products a listing at `now` shows, whole or narrowed. A product is whole
    /// when one of its entitlements runs and grants every channel and version; it is
    /// narrowed when it is not whole but an entitlement may still allow some of its
    /// releases (it runs with a narrower scope, or it ended with a perpetual fallback).
    pub fn visible_at(&self, now: Timestamp) -> ProductVisibility {
        let mut whole = BTreeSet::new();
        let mut narrowed = BTreeSet::new();
        for grant in self.grants.iter() {
            if grant.window.is_active_at(now) && grant.scope.grants_whole_product() {
                whole.insert(grant.product.as_str());
            } else if grant.may_allow_at(now) {
                narrowed.insert(grant.product.as_str());
            }
        }
        ProductVisibility {
            narrowed: narrowed
                .difference(&whole)
                .map(|p| (*p).to_owned())
                .collect(),
            whole: whole.into_iter().map(str::to_owned).collect(),
        }
    }

    /// Whether an entitlement to `product` allows `release` at `now` ([`decide`]'s
    /// rule, without collecting its reasons).
    pub fn allows(&self, product: &str, release: ReleaseFacts<'_>, now: Timestamp) -> bool {
        self.for_product(product)
            .any(|g| judge(&g.as_grant(), release, now).allows())
    }

    /// Which entitlements a download of `release` of `product` at `now` counts
    /// against: none when one without a quota allows it (so a quota never takes away
    /// what another entitlement grants without limit), else every one with a quota that
    /// allows it, in the order they were granted.
    ///
    /// ```
    /// use releasy_domain::entitlement::{
    ///     Allowance, CustomerAccess, DownloadQuota, EntitlementScope, EntitlementWindow,
    ///     ProductGrant, QuotaPeriod, ReleaseFacts,
    /// };
    /// use releasy_domain::release::{Channel, Version};
    /// use releasy_domain::{EntitlementId, Timestamp};
    ///
    /// let at = Timestamp::from_unix_seconds;
    /// let metered = ProductGrant {
    ///     id: EntitlementId::generate(),
    ///     product: "agent".into(),
    ///     window: EntitlementWindow::new(at(0), None).unwrap(),
    ///     scope: EntitlementScope::default(),
    ///     quota: Some(DownloadQuota::new(Some(10), None, QuotaPeriod::Day).unwrap()),
    /// };
    /// let v = Version::parse("1.0.0").unwrap();
    /// let release = ReleaseFacts { version: &v, channel: Channel::Stable, published_at: Some(at(1)) };
    /// let access = CustomerAccess::new(vec![metered.clone()]);
    /// assert!(matches!(access.allowance("agent", release, at(5)), Allowance::Metered(m) if m.len() == 1));
    /// assert_eq!(access.allowance("other", release, at(5)), Allowance::Refused);
    /// let unlimited = ProductGrant { id: EntitlementId::generate(), quota: None, ..metered.clone() };
    /// let both = CustomerAccess::new(vec![metered, unlimited]);
    /// assert_eq!(both.allowance("agent", release, at(5)), Allowance::Unlimited);
    /// ```
    pub fn allowance(&self, product: &str, release: ReleaseFacts<'_>, now: Timestamp) -> Allowance {
        let mut metered = Vec::new();
        for grant in self.for_product(product) {
            if !judge(&grant.as_grant(), release, now).allows() {
                continue;
            }
            match grant.quota {
                None => return Allowance::Unlimited,
                Some(quota) => metered.push(MeteredGrant {
                    entitlement: grant.id,
                    quota,
                }),
            }
        }
        if metered.is_empty() {
            Allowance::Refused
        } else {
            Allowance::Metered(metered)
        }
    }

    /// The decision on `release` of `product` at `now`, with a reason per entitlement
    /// to the product.
    pub fn decide(
        &self,
        product: &str,
        release: ReleaseFacts<'_>,
        now: Timestamp,
    ) -> AccessDecision {
        let grants: Vec<Grant<'_>> = self
            .for_product(product)
            .map(ProductGrant::as_grant)
            .collect();
        decide(&grants, release, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Channel, Version, VersionRequirement};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn grant(product: &str, start: i64, end: Option<i64>, scope: EntitlementScope) -> ProductGrant {
        ProductGrant {
            id: EntitlementId::generate(),
            product: product.into(),
            window: EntitlementWindow::new(at(start), end.map(at)).unwrap(),
            scope,
            quota: None,
        }
    }

    fn stable_only() -> EntitlementScope {
        EntitlementScope {
            channels: Some(vec![Channel::Stable]),
            ..EntitlementScope::default()
        }
    }

    fn fallback() -> EntitlementScope {
        EntitlementScope {
            perpetual_fallback: true,
            ..EntitlementScope::default()
        }
    }

    #[test]
    fn visibility_tells_whole_products_from_narrowed_ones() {
        let access = CustomerAccess::new(vec![
            grant("whole", 0, None, EntitlementScope::default()),
            grant("whole", 0, None, stable_only()),
            grant("narrow", 0, None, stable_only()),
            grant("kept", 0, Some(10), fallback()),
            grant("ended", 0, Some(10), EntitlementScope::default()),
            grant("future", 50, None, EntitlementScope::default()),
        ]);
        let seen = access.visible_at(at(20));
        assert_eq!(seen.whole, ["whole"]);
        assert_eq!(seen.narrowed, ["kept", "narrow"]);
        assert_eq!(seen.products(), ["kept", "narrow", "whole"]);
        assert!(!seen.is_whole());
        // Before its end, the fallback product is whole.
        let early = access.visible_at(at(5));
        assert_eq!(early.whole, ["ended", "kept", "whole"]);
        assert_eq!(early.narrowed, ["narrow"]);
        // A fallback that has not started yet shows nothing.
        let later_fallback = CustomerAccess::new(vec![grant("p", 50, Some(60), fallback())]);
        assert_eq!(
            later_fallback.visible_at(at(20)),
            ProductVisibility::default()
        );
        assert!(CustomerAccess::default().visible_at(at(0)).is_whole());
    }

    #[test]
    fn allows_applies_every_entitlement_to_the_product_and_no_other() {
        let access = CustomerAccess::new(vec![
            grant("agent", 0, None, stable_only()),
            grant(
                "agent",
                0,
                None,
                EntitlementScope {
                    versions: Some(VersionRequirement::parse("versions", ">=3.0.0-0").unwrap()),
                    ..EntitlementScope::default()
                },
            ),
            grant("other", 0, None, EntitlementScope::default()),
        ]);
        let facts = |version: &'static str, channel| (Version::parse(version).unwrap(), channel);
        let allows = |(v, c): (Version, Channel)| {
            access.allows(
                "agent",
                ReleaseFacts {
                    version: &v,
                    channel: c,
                    published_at: Some(at(1)),
                },
                at(10),
            )
        };
        assert!(
            allows(facts("2.0.0", Channel::Stable)),
            "the first grants stable"
        );
        assert!(
            allows(facts("3.0.0-beta.1", Channel::Beta)),
            "the second grants 3.x"
        );
        assert!(!allows(facts("2.1.0-beta.1", Channel::Beta)), "neither");
        let (v, c) = facts("2.0.0", Channel::Stable);
        let release = ReleaseFacts {
            version: &v,
            channel: c,
            published_at: Some(at(1)),
        };
        assert!(!access.allows("third", release, at(10)));
        let decision = access.decide("agent", release, at(10));
        assert!(decision.allowed);
        assert_eq!(
            decision.reasons.len(),
            2,
            "one reason per entitlement to agent"
        );
    }
}
