//! One row of the download ledger: a token issued, or a resolve and how it ended.

use std::net::IpAddr;

use crate::artifact::Platform;
use crate::download::{DownloadGrant, DownloadToken, ResolveRefusal};
use crate::release::{Product, Version};
use crate::{
    ApiKeyId, ArtifactId, CustomerId, DownloadRecordId, DownloadTokenId, ReleaseId, Timestamp,
};

/// How a ledger row ended: a token issued, a link handed out (a `302`), or a resolve
/// refused, with the reason (which can be more precise than the client's answer: a
/// suspended customer's token is `404 download token not found` to its holder and
/// `suspended` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DownloadOutcome {
    /// `POST /v1/downloads/token` issued a token.
    Issued,
    /// A resolve handed out a link to the bytes: the one outcome statistics count as a
    /// download.
    Redirected,
    /// Refused: the token's customer is suspended.
    Suspended,
    /// Refused: the token expired.
    Expired,
    /// Refused: the client is outside the token's address rule.
    AddressNotAllowed,
    /// Refused: the release is no longer published, or no entitlement allows it.
    NotAvailable,
    /// Refused: the release was yanked with its downloads blocked.
    Yanked,
    /// Refused: the artifact's bytes are not verified (or were replaced in the store).
    NotVerified,
    /// Refused: every use of a `max_uses` token was spent.
    UsedUp,
    /// Refused: every download quota that could count it is spent for its period.
    QuotaExceeded,
}

impl DownloadOutcome {
    /// Every outcome, in the order of the docs.
    pub const ALL: [Self; 10] = [
        Self::Issued,
        Self::Redirected,
        Self::Suspended,
        Self::Expired,
        Self::AddressNotAllowed,
        Self::NotAvailable,
        Self::Yanked,
        Self::NotVerified,
        Self::UsedUp,
        Self::QuotaExceeded,
    ];

    /// The outcome's name in the API, the CSV export and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Redirected => "redirected",
            Self::Suspended => "suspended",
            Self::Expired => "expired",
            Self::AddressNotAllowed => "address_not_allowed",
            Self::NotAvailable => "not_available",
            Self::Yanked => "yanked",
            Self::NotVerified => "not_verified",
            Self::UsedUp => "used_up",
            Self::QuotaExceeded => "quota_exceeded",
        }
    }

    /// The outcome named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == name)
    }

    /// Whether the resolve was refused.
    pub const fn is_refusal(self) -> bool {
        !matches!(self, Self::Issued | Self::Redirected)
    }

    /// The ledger's outcome for a refusal of a token whose grant was found (a
    /// `NotFound` there can only be its customer's suspension).
    pub const fn of_refusal(refusal: ResolveRefusal) -> Self {
        match refusal {
            ResolveRefusal::NotFound => Self::Suspended,
            ResolveRefusal::Expired => Self::Expired,
            ResolveRefusal::NotAvailable => Self::NotAvailable,
            ResolveRefusal::Yanked => Self::Yanked,
            ResolveRefusal::NotVerified => Self::NotVerified,
            ResolveRefusal::AddressNotAllowed => Self::AddressNotAllowed,
            ResolveRefusal::UsedUp => Self::UsedUp,
            ResolveRefusal::QuotaExceeded { .. } => Self::QuotaExceeded,
        }
    }
}

/// A client's `User-Agent`, as the ledger keeps it: at most [`Self::MAX_CHARS`]
/// characters, control characters (NUL included) replaced by spaces, trimmed; an empty
/// one is none.
///
/// ```
/// use releasy_domain::delivery::UserAgent;
///
/// assert_eq!(UserAgent::keep("curl/8.5.0").unwrap().as_str(), "curl/8.5.0");
/// assert_eq!(UserAgent::keep("  \t ").map(|ua| ua.as_str().to_owned()), None);
/// assert_eq!(UserAgent::keep(&"x".repeat(1_000)).unwrap().as_str().len(), UserAgent::MAX_CHARS);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserAgent(String);

impl UserAgent {
    /// The most characters kept: enough for any real client's, little for a flood.
    pub const MAX_CHARS: usize = 256;

    /// What the ledger keeps of `raw`; never refuses (a client's header is evidence,
    /// not input to validate).
    pub fn keep(raw: &str) -> Option<Self> {
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(Self::MAX_CHARS)
            .collect();
        let trimmed = cleaned.trim();
        (!trimmed.is_empty()).then(|| Self(trimmed.to_owned()))
    }

    /// The kept text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who is asking, as far as the request tells: the client's address (the peer, or the
/// first `X-Forwarded-For` address behind a trusted proxy) and its `User-Agent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    /// The client's address, when known.
    pub address: Option<IpAddr>,
    /// The client's `User-Agent`, as kept.
    pub user_agent: Option<UserAgent>,
}

impl Requester {
    /// A request from `address`, without a `User-Agent`.
    pub fn at(address: Option<IpAddr>) -> Self {
        Self {
            address,
            user_agent: None,
        }
    }
}

/// The release and artifact a ledger row is about, as of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSubject {
    /// The artifact.
    pub artifact_id: ArtifactId,
    /// Its release.
    pub release_id: ReleaseId,
    /// The release's product.
    pub product: Product,
    /// The release's version.
    pub version: Version,
    /// The artifact's platform.
    pub platform: Platform,
    /// The artifact's size: the bytes a successful download counts.
    pub bytes: u64,
}

impl DownloadSubject {
    /// The subject of a grant being resolved.
    pub fn of_grant(grant: &DownloadGrant) -> Self {
        Self {
            artifact_id: grant.token.artifact_id,
            release_id: grant.release_id,
            product: grant.product.clone(),
            version: grant.release_version.clone(),
            platform: grant.platform.clone(),
            bytes: grant.artifact_size.bytes(),
        }
    }
}

/// One row of the download ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRecord {
    /// The row (time-ordered).
    pub id: DownloadRecordId,
    /// When it happened.
    pub at: Timestamp,
    /// The token's customer.
    pub customer_id: CustomerId,
    /// The key that asked for the token (`None` for tokens issued before the ledger).
    pub api_key_id: Option<ApiKeyId>,
    /// What was asked for.
    pub subject: DownloadSubject,
    /// The token.
    pub token_id: DownloadTokenId,
    /// The token's `purpose`.
    pub purpose: Option<String>,
    /// Who asked.
    pub requester: Requester,
    /// How it ended.
    pub outcome: DownloadOutcome,
}

impl DownloadRecord {
    /// The row of `token`, just issued for `subject` at `requester`'s request.
    pub fn issued(token: &DownloadToken, subject: DownloadSubject, requester: Requester) -> Self {
        Self {
            id: DownloadRecordId::generate(),
            at: token.created_at,
            customer_id: token.customer_id,
            api_key_id: token.api_key_id,
            subject,
            token_id: token.id,
            purpose: token.purpose.clone(),
            requester,
            outcome: DownloadOutcome::Issued,
        }
    }

    /// The row of a resolve of `grant` at `at`, ending in `outcome`.
    pub fn resolved(
        grant: &DownloadGrant,
        requester: Requester,
        outcome: DownloadOutcome,
        at: Timestamp,
    ) -> Self {
        Self {
            id: DownloadRecordId::generate(),
            at,
            customer_id: grant.token.customer_id,
            api_key_id: grant.token.api_key_id,
            subject: DownloadSubject::of_grant(grant),
            token_id: grant.token.id,
            purpose: grant.token.purpose.clone(),
            requester,
            outcome,
        }
    }

    /// The bytes this row adds to the statistics: the artifact's size for a link
    /// handed out, nothing otherwise.
    pub const fn counted_bytes(&self) -> u64 {
        match self.outcome {
            DownloadOutcome::Redirected => self.subject.bytes,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_round_trips_through_its_name() {
        for outcome in DownloadOutcome::ALL {
            assert_eq!(DownloadOutcome::from_name(outcome.as_str()), Some(outcome));
        }
        assert_eq!(DownloadOutcome::from_name("downloaded"), None);
    }

    #[test]
    fn only_issue_and_redirect_are_not_refusals() {
        let refusals: Vec<_> = DownloadOutcome::ALL
            .into_iter()
            .filter(|outcome| !outcome.is_refusal())
            .collect();
        assert_eq!(
            refusals,
            [DownloadOutcome::Issued, DownloadOutcome::Redirected]
        );
    }

    #[test]
    fn a_found_token_refused_as_not_found_is_a_suspension() {
        assert_eq!(
            DownloadOutcome::of_refusal(ResolveRefusal::NotFound),
            DownloadOutcome::Suspended
        );
        assert_eq!(
            DownloadOutcome::of_refusal(ResolveRefusal::UsedUp).as_str(),
            "used_up"
        );
    }

    #[test]
    fn user_agents_lose_control_characters_and_excess() {
        assert_eq!(
            UserAgent::keep("evil\0agent\r\nX-Injected: 1")
                .unwrap()
                .as_str(),
            "evil agent  X-Injected: 1"
        );
        let long = "é".repeat(300);
        let kept = UserAgent::keep(&long).unwrap();
        assert_eq!(kept.as_str().chars().count(), UserAgent::MAX_CHARS);
        assert_eq!(UserAgent::keep(""), None);
        assert_eq!(UserAgent::keep("\0\0"), None);
    }
}
