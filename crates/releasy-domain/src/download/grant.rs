//! The rule that decides whether a download token still resolves.

use std::net::IpAddr;

use crate::api_key::address_allowed;
use crate::artifact::{ArtifactSize, Platform};
use crate::artifact::{ObjectKey, Verification};
use crate::download::DownloadToken;
use crate::entitlement::ReleaseFacts;
use crate::release::{Channel, Product, ReleaseStatus, Version};
use crate::{ReleaseId, Timestamp};

/// A stored token with everything resolving it depends on, read in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadGrant {
    /// The token.
    pub token: DownloadToken,
    /// Where the artifact's bytes are.
    pub object_key: ObjectKey,
    /// The artifact's release.
    pub release_id: ReleaseId,
    /// The artifact's platform.
    pub platform: Platform,
    /// The artifact's size.
    pub artifact_size: ArtifactSize,
    /// The product of the artifact's release.
    pub product: Product,
    /// The release's version.
    pub release_version: Version,
    /// The release's channel.
    pub release_channel: Channel,
    /// When the release was first published (`None` if it never was): what the
    /// perpetual fallback judges by.
    pub release_published_at: Option<Timestamp>,
    /// The release's status now.
    pub release_status: ReleaseStatus,
    /// Whether the release is yanked with its downloads blocked.
    pub release_downloads_blocked: bool,
    /// When the token's customer was suspended, if they are.
    pub customer_suspended_at: Option<Timestamp>,
    /// Whether the artifact's bytes were checked.
    pub verification: Verification,
    /// The object's entity tag at registration, where the store gives one.
    pub object_etag: Option<String>,
    /// The object's version at registration, where the store keeps versions.
    pub object_version: Option<String>,
}

/// Why a token does not resolve, with the contract's messages (404, but 403 for an
/// artifact whose bytes are not verified and for a release yanked with its downloads
/// blocked, and 429 for a spent quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolveRefusal {
    /// Unknown token, or its customer is suspended (indistinguishable on purpose).
    #[error("download token not found")]
    NotFound,
    /// The token's lifetime is over.
    #[error("download token expired")]
    Expired,
    /// The release was unpublished, or the customer's entitlements no longer allow it.
    #[error("release not available")]
    NotAvailable,
    /// The release was yanked with `block_downloads`.
    #[error("release yanked")]
    Yanked,
    /// The artifact's bytes are still being checked, or did not match.
    #[error("artifact not verified")]
    NotVerified,
    /// The client's address is outside the `allowed_cidrs` of the key that asked for
    /// the token.
    #[error("address not allowed")]
    AddressNotAllowed,
    /// The token was resolved as many times as its `max_uses` allows.
    #[error("download token used up")]
    UsedUp,
    /// Every download quota that could count this download is spent until its period
    /// resets.
    #[error("quota exceeded")]
    QuotaExceeded {
        /// Seconds until the soonest of those quotas resets.
        retry_after_seconds: u64,
    },
}

impl ResolveRefusal {
    /// Whether the refusal is the client's doing (a token it should not be asking
    /// with: unknown, a suspended customer's, expired, used up, from an address its key
    /// does not allow), and so a failed attempt of its address. The others are the
    /// vendor's or the server's doing (unpublished, yanked, bytes not verified, a quota
    /// spent, with its own `429`): a fleet of updaters asking must keep the answer that
    /// says so, not be throttled for it.
    ///
    /// ```
    /// use releasy_domain::download::ResolveRefusal;
    ///
    /// assert!(ResolveRefusal::UsedUp.is_failed_attempt());
    /// assert!(!ResolveRefusal::Yanked.is_failed_attempt());
    /// ```
    pub fn is_failed_attempt(self) -> bool {
        match self {
            Self::NotFound | Self::Expired | Self::AddressNotAllowed | Self::UsedUp => true,
            Self::NotAvailable | Self::Yanked | Self::NotVerified | Self::QuotaExceeded { .. } => {
                false
            }
        }
    }
}

impl DownloadGrant {
    /// The release, as the entitlement rule reads it.
    pub fn release_facts(&self) -> ReleaseFacts<'_> {
        ReleaseFacts {
            version: &self.release_version,
            channel: self.release_channel,
            published_at: self.release_published_at,
        }
    }

    /// Checks, in order: customer not suspended, token not expired, `client` inside the
    /// address rule the token inherited from its key, release published, entitlements
    /// allow it (`entitled`, evaluated at `now` by the caller), release not yanked with
    /// its downloads blocked, artifact downloadable ([`Verification::allows_download`]).
    /// The contract's two 404s come first, so a holder elsewhere learns nothing new of
    /// a token that no longer works, and a refused address can only be reported while
    /// the token lives.
    ///
    /// # Errors
    /// The [`ResolveRefusal`] of the first check that fails.
    pub fn check(
        &self,
        now: Timestamp,
        entitled: bool,
        client: Option<IpAddr>,
    ) -> Result<(), ResolveRefusal> {
        if self.customer_suspended_at.is_some() {
            return Err(ResolveRefusal::NotFound);
        }
        if self.token.is_expired_at(now) {
            return Err(ResolveRefusal::Expired);
        }
        if !address_allowed(self.token.allowed_networks.as_ref(), client) {
            return Err(ResolveRefusal::AddressNotAllowed);
        }
        if self.release_status != ReleaseStatus::Published || !entitled {
            return Err(ResolveRefusal::NotAvailable);
        }
        if self.release_downloads_blocked {
            return Err(ResolveRefusal::Yanked);
        }
        if !self.verification.allows_download() {
            return Err(ResolveRefusal::NotVerified);
        }
        Ok(())
    }

    /// Whether the object must be looked at before a link is handed out: it carries an
    /// entity tag from registration but no version to pin the link to, so only a look
    /// at the stored object tells whether it was replaced since.
    pub fn needs_unchanged_check(&self) -> bool {
        self.object_etag.is_some() && self.object_version.is_none()
    }

    /// How many seconds the presigned link handed out for this grant at `now` may
    /// live: until the token expires, and never longer than `longest_seconds`. So a
    /// link dies with its token, and a customer suspended (or a release withdrawn)
    /// after a resolve keeps a working link for at most `longest_seconds`. At least 1
    /// for a grant that passed [`Self::check`] at `now`; 0 once the token has expired.
    pub fn link_lifetime_seconds(&self, now: Timestamp, longest_seconds: i64) -> i64 {
        let token_left = self.token.expires_at.unix_seconds() - now.unix_seconds();
        token_left.min(longest_seconds).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ArtifactId, CustomerId, DownloadTokenId};

    const NOW: Timestamp = Timestamp::from_unix_seconds(1_000);

    fn grant() -> DownloadGrant {
        DownloadGrant {
            token: DownloadToken {
                api_key_id: None,
                allowed_networks: None,
                max_uses: None,
                id: DownloadTokenId::generate(),
                token_hash: "h".into(),
                artifact_id: ArtifactId::generate(),
                customer_id: CustomerId::generate(),
                purpose: None,
                created_at: NOW,
                expires_at: NOW.plus_seconds(60),
            },
            object_key: ObjectKey::from_stored("releases/a/1/l/x/f".into()),
            release_id: crate::ReleaseId::generate(),
            platform: Platform::parse("linux").unwrap(),
            artifact_size: ArtifactSize::parse(1).unwrap(),
            product: Product::parse("a").unwrap(),
            release_version: Version::parse("1.0.0").unwrap(),
            release_channel: Channel::Stable,
            release_published_at: Some(NOW),
            release_status: ReleaseStatus::Published,
            release_downloads_blocked: false,
            customer_suspended_at: None,
            verification: Verification::Verified,
            object_etag: None,
            object_version: None,
        }
    }

    #[test]
    fn a_live_grant_resolves() {
        assert_eq!(grant().check(NOW, true, None), Ok(()));
    }

    #[test]
    fn the_address_rule_is_checked_after_the_two_404s() {
        let mut fenced = grant();
        fenced.token.allowed_networks =
            Some(crate::api_key::AllowedNetworks::parse(&["203.0.113.0/24"]).unwrap());
        let (inside, outside) = (
            Some("203.0.113.9".parse().unwrap()),
            Some("198.51.100.1".parse().unwrap()),
        );
        assert_eq!(fenced.check(NOW, true, inside), Ok(()));
        for client in [outside, None] {
            assert_eq!(
                fenced.check(NOW, true, client),
                Err(ResolveRefusal::AddressNotAllowed)
            );
        }
        assert_eq!(
            fenced.check(NOW.plus_seconds(60), true, outside),
            Err(ResolveRefusal::Expired)
        );
        let suspended = DownloadGrant {
            customer_suspended_at: Some(NOW),
            ..fenced.clone()
        };
        assert_eq!(
            suspended.check(NOW, true, outside),
            Err(ResolveRefusal::NotFound)
        );
        // Outside the rule, a withdrawn release is not revealed.
        assert_eq!(
            fenced.check(NOW, false, outside),
            Err(ResolveRefusal::AddressNotAllowed)
        );
    }

    #[test]
    fn a_link_never_outlives_its_token_nor_the_longest_lifetime() {
        // The token has 60 s left.
        assert_eq!(grant().link_lifetime_seconds(NOW, 300), 60);
        assert_eq!(grant().link_lifetime_seconds(NOW, 30), 30);
        assert_eq!(grant().link_lifetime_seconds(NOW.plus_seconds(59), 300), 1);
        assert_eq!(grant().link_lifetime_seconds(NOW.plus_seconds(60), 300), 0);
        assert_eq!(grant().link_lifetime_seconds(NOW.plus_seconds(600), 300), 0);
    }

    #[test]
    fn refusals_come_in_the_contract_order_with_its_messages() {
        let suspended = DownloadGrant {
            customer_suspended_at: Some(NOW),
            ..grant()
        };
        assert_eq!(
            suspended
                .check(NOW.plus_seconds(120), false, None)
                .unwrap_err()
                .to_string(),
            "download token not found"
        );
        assert_eq!(
            grant()
                .check(NOW.plus_seconds(60), false, None)
                .unwrap_err()
                .to_string(),
            "download token expired"
        );
        let draft = DownloadGrant {
            release_status: ReleaseStatus::Draft,
            ..grant()
        };
        assert_eq!(
            draft.check(NOW, true, None).unwrap_err().to_string(),
            "release not available"
        );
        assert_eq!(
            grant().check(NOW, false, None),
            Err(ResolveRefusal::NotAvailable)
        );
        let pending = DownloadGrant {
            verification: Verification::Pending,
            ..grant()
        };
        assert_eq!(
            pending.check(NOW, true, None).unwrap_err().to_string(),
            "artifact not verified"
        );
        // An unavailable release is reported before the bytes' state.
        assert_eq!(
            pending.check(NOW, false, None),
            Err(ResolveRefusal::NotAvailable)
        );
        let blocked = DownloadGrant {
            release_downloads_blocked: true,
            ..pending
        };
        assert_eq!(
            blocked.check(NOW, true, None).unwrap_err().to_string(),
            "release yanked"
        );
        assert_eq!(
            blocked.check(NOW, false, None),
            Err(ResolveRefusal::NotAvailable)
        );
    }

    #[test]
    fn only_a_tagged_unversioned_object_is_looked_at() {
        let with = |etag: Option<&str>, version: Option<&str>| DownloadGrant {
            object_etag: etag.map(str::to_owned),
            object_version: version.map(str::to_owned),
            ..grant()
        };
        assert!(with(Some("\"e\""), None).needs_unchanged_check());
        assert!(
            !with(Some("\"e\""), Some("v1")).needs_unchanged_check(),
            "pinned"
        );
        assert!(
            !with(None, None).needs_unchanged_check(),
            "the embedded store"
        );
    }

    #[test]
    fn failed_artifacts_never_resolve_and_older_ones_still_do() {
        let with = |verification| DownloadGrant {
            verification,
            ..grant()
        };
        assert_eq!(
            with(Verification::Failed).check(NOW, true, None),
            Err(ResolveRefusal::NotVerified)
        );
        assert_eq!(
            with(Verification::Unverified).check(NOW, true, None),
            Ok(())
        );
    }
}
