//! Whether an artifact's stored bytes were checked against its declared size and
//! SHA-256, and the rules that decide when and how long a check may take.

use crate::ValidationError;
use crate::artifact::ArtifactSize;

/// Where an artifact stands with the check of its stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The stored bytes have the declared size and SHA-256.
    Verified,
    /// Registered; the background verifier has not checked the bytes yet.
    Pending,
    /// The stored bytes are not what was declared (or are gone).
    Failed,
    /// Registered before the server checked bytes; `releasy-server verify-artifacts`
    /// checks it.
    Unverified,
}

impl Verification {
    /// Every state in which customers may download ([`Self::allows_download`]), for
    /// stores that select downloadable artifacts themselves.
    pub const DOWNLOADABLE: [Self; 2] = [Self::Verified, Self::Unverified];

    /// The name in the API and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Unverified => "unverified",
        }
    }

    /// Reads a stored name.
    ///
    /// # Errors
    /// [`ValidationError`] on `verification` for any other name.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "verified" => Ok(Self::Verified),
            "pending" => Ok(Self::Pending),
            "failed" => Ok(Self::Failed),
            "unverified" => Ok(Self::Unverified),
            _ => Err(ValidationError::new(
                "verification",
                "must be one of verified, pending, failed, unverified",
            )),
        }
    }

    /// Whether customers may download the artifact: not while its check is pending,
    /// never once it failed. Artifacts that predate checking stay downloadable, as they
    /// were before.
    pub const fn allows_download(self) -> bool {
        matches!(self, Self::Verified | Self::Unverified)
    }
}

/// When registration checks an artifact's bytes itself and when it leaves them to the
/// background verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationPolicy {
    /// The largest object registration reads through SHA-256 while the client waits.
    pub inline_max_bytes: u64,
}

impl VerificationPolicy {
    /// The default inline limit: 1 GiB, a few seconds of reading on S3 in the same
    /// region, well inside the minute proxies give a request.
    pub const DEFAULT_INLINE_MAX_BYTES: u64 = 1024 * 1024 * 1024;

    /// Whether registration reads an object of `size` through SHA-256 itself. A store
    /// that recorded the digest as it received the bytes is never read: its record is
    /// compared at once, whatever the size.
    pub const fn reads_inline(self, size: ArtifactSize) -> bool {
        size.bytes() <= self.inline_max_bytes
    }
}

impl Default for VerificationPolicy {
    fn default() -> Self {
        Self {
            inline_max_bytes: Self::DEFAULT_INLINE_MAX_BYTES,
        }
    }
}

/// Seconds after a check the object store could not answer (unreachable, a read cut off,
/// a server error) before any verifier tries it again: soon, but not in a loop against a
/// store that is down.
pub const FAILED_CHECK_RETRY_SECONDS: i64 = 60;

/// How long a verifier holds its claim on an artifact before another instance may take
/// the check over: ten minutes plus the time to read `size` at 8 MiB/s, a slow
/// object store's pace. A verifier that dies leaves the artifact pending until then; one
/// that is merely slow must not have its artifact checked twice.
pub const fn verification_lease_seconds(size: ArtifactSize) -> i64 {
    const BASE_SECONDS: u64 = 600;
    const SLOW_READ_BYTES_PER_SECOND: u64 = 8 * 1024 * 1024;
    let seconds = BASE_SECONDS + size.bytes() / SLOW_READ_BYTES_PER_SECOND;
    if seconds > i64::MAX as u64 {
        i64::MAX
    } else {
        seconds as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(bytes: i64) -> ArtifactSize {
        ArtifactSize::parse(bytes).unwrap()
    }

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for v in [
            Verification::Verified,
            Verification::Pending,
            Verification::Failed,
            Verification::Unverified,
        ] {
            assert_eq!(Verification::parse(v.as_str()).unwrap(), v);
        }
        assert!(Verification::parse("Verified").is_err());
        assert!(Verification::parse("").is_err());
    }

    #[test]
    fn only_checked_or_older_artifacts_are_downloadable() {
        assert!(Verification::Verified.allows_download());
        assert!(Verification::Unverified.allows_download());
        assert!(!Verification::Pending.allows_download());
        assert!(!Verification::Failed.allows_download());
        let all = [
            Verification::Verified,
            Verification::Pending,
            Verification::Failed,
            Verification::Unverified,
        ];
        for v in all {
            assert_eq!(Verification::DOWNLOADABLE.contains(&v), v.allows_download());
        }
    }

    #[test]
    fn objects_up_to_the_limit_are_read_inline() {
        let policy = VerificationPolicy {
            inline_max_bytes: 100,
        };
        assert!(policy.reads_inline(size(1)));
        assert!(policy.reads_inline(size(100)));
        assert!(!policy.reads_inline(size(101)));
        let never = VerificationPolicy {
            inline_max_bytes: 0,
        };
        assert!(!never.reads_inline(size(1)));
        assert!(VerificationPolicy::default().reads_inline(size(1 << 30)));
        assert!(!VerificationPolicy::default().reads_inline(size((1 << 30) + 1)));
    }

    #[test]
    fn a_lease_covers_a_slow_read_of_the_whole_object() {
        assert_eq!(verification_lease_seconds(size(1)), 600);
        // 100 GiB at 8 MiB/s is 12 800 s.
        assert_eq!(verification_lease_seconds(size(100 << 30)), 600 + 12_800);
        assert_eq!(
            verification_lease_seconds(size(i64::MAX)),
            600 + (i64::MAX as u64 / (8 << 20)) as i64
        );
    }
}
