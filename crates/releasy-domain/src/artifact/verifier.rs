//! Checking registered artifacts' bytes after registration: the artifacts left
//! `pending` because reading them would have held the request too long, and, on an
//! operator's demand, those registered before bytes were checked (`unverified`) or any
//! whose bytes may have changed since.

use crate::ArtifactId;
use crate::artifact::{
    Artifact, ArtifactService, FAILED_CHECK_RETRY_SECONDS, Verification, verification_lease_seconds,
};
use crate::audit::AuditEvent;
use crate::ports::{ObjectMeta, RepoError, StoreError};

/// What reading an artifact's stored bytes showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// The declared size and SHA-256.
    Matches,
    /// Nothing is stored under the artifact's key.
    Missing,
    /// An object of another size.
    WrongSize {
        /// Its size.
        stored: u64,
    },
    /// An object of the declared size with another SHA-256.
    WrongChecksum,
    /// Another object than the one registered (another version or entity tag, stored
    /// through an upload URL still valid), or one replaced while it was read.
    Replaced,
}

impl VerifyOutcome {
    /// Its name in audit events: `matches`, `missing`, `wrong_size`, `wrong_checksum`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Matches => "matches",
            Self::Missing => "missing",
            Self::WrongSize { .. } => "wrong_size",
            Self::WrongChecksum => "wrong_checksum",
            Self::Replaced => "replaced",
        }
    }

    /// The verification an artifact gets for this outcome.
    pub const fn verification(self) -> Verification {
        match self {
            Self::Matches => Verification::Verified,
            Self::Missing | Self::WrongSize { .. } | Self::WrongChecksum | Self::Replaced => {
                Verification::Failed
            }
        }
    }
}

/// One artifact checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationReport {
    /// The artifact, as it was before the check.
    pub artifact: Artifact,
    /// What its bytes showed.
    pub outcome: VerifyOutcome,
    /// Whether this check set the artifact's verification; `false` when another
    /// verifier decided first (the artifact is then as that one left it).
    pub decided: bool,
}

/// Why a check did not finish.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The object store failed; the artifact keeps its verification.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The repository failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// How many unclaimed pending artifacts one look at the queue considers.
const PENDING_BATCH: u32 = 16;

impl ArtifactService {
    /// Reads `artifact`'s stored object and compares it with its declared size and
    /// SHA-256 (reading as long as the object takes). With `registered_only`, the
    /// object must be the one registered (its recorded version or entity tag); in any
    /// case it must stay the same object through the read. Also answers the object
    /// read, when it did.
    async fn read_stored_bytes(
        &self,
        artifact: &Artifact,
        registered_only: bool,
    ) -> Result<(VerifyOutcome, Option<ObjectMeta>), StoreError> {
        let key = &artifact.object_key;
        let Some(before) = self.objects.head(key).await? else {
            return Ok((VerifyOutcome::Missing, None));
        };
        if registered_only && !artifact.is_registered_object(&before) {
            return Ok((VerifyOutcome::Replaced, None));
        }
        if before.size != artifact.size.bytes() {
            return Ok((
                VerifyOutcome::WrongSize {
                    stored: before.size,
                },
                None,
            ));
        }
        let Some(digest) = self.objects.sha256(key).await? else {
            return Ok((VerifyOutcome::Missing, None));
        };
        // Two looks at the object around the read: the bytes read are this object's
        // only when both name the same one.
        let Some(after) = self.objects.head(key).await? else {
            return Ok((VerifyOutcome::Missing, None));
        };
        if after != before {
            return Ok((VerifyOutcome::Replaced, None));
        }
        let outcome = if digest == artifact.checksum {
            VerifyOutcome::Matches
        } else {
            VerifyOutcome::WrongChecksum
        };
        Ok((outcome, Some(after)))
    }

    /// Checks one artifact whose verification is pending and that no other verifier
    /// holds, on any instance: it is claimed first (for
    /// [`verification_lease_seconds`], after which another verifier may take over a
    /// check that died with its instance), then set `verified` or `failed`. The bytes of
    /// a failed artifact are deleted, as registration deletes bytes it refuses.
    /// `None` when no artifact waits.
    ///
    /// # Errors
    /// [`VerifyError`]; when the store was unavailable, the claim ends
    /// [`FAILED_CHECK_RETRY_SECONDS`] later and the check is tried again then; after any
    /// other failure, when the claim's lease lapses.
    pub async fn verify_next_pending(&self) -> Result<Option<VerificationReport>, VerifyError> {
        let now = self.clock.now();
        for artifact in self.artifacts.unclaimed_pending(now, PENDING_BATCH).await? {
            let until = now.plus_seconds(verification_lease_seconds(artifact.size));
            if !self
                .artifacts
                .claim_verification(artifact.id, now, until)
                .await?
            {
                continue; // another verifier took it
            }
            // Downloads serve the registered object: that is the one to check.
            let (outcome, _) = match self.read_stored_bytes(&artifact, true).await {
                Ok(read) => read,
                Err(err @ StoreError::Unavailable(_)) => {
                    // A store that may come back: try again soon, not at the end of a
                    // lease sized for a slow read of the whole object. If the claim
                    // cannot be shortened, it lapses as it would have.
                    let retry_at = self
                        .clock
                        .now()
                        .plus_seconds(FAILED_CHECK_RETRY_SECONDS)
                        .min(until);
                    let _ = self
                        .artifacts
                        .shorten_verification_claim(artifact.id, until, retry_at)
                        .await;
                    return Err(err.into());
                }
                // Any other failure (a refusal such as access denied, a feature the store
                // lacks) is not retried every minute: the claim lapses with its lease.
                Err(err) => return Err(err.into()),
            };
            let checked = AuditEvent::artifact_checked(&artifact, outcome, self.clock.now());
            let decided = self
                .artifacts
                .set_verification(
                    artifact.id,
                    Verification::Pending,
                    outcome.verification(),
                    None,
                    &checked,
                )
                .await?;
            // Downloads are refused from the moment the verdict is stored; only then do
            // the bytes go.
            if decided && outcome != VerifyOutcome::Matches {
                self.objects.delete(&artifact.object_key).await?;
            }
            return Ok(Some(VerificationReport {
                artifact,
                outcome,
                decided,
            }));
        }
        Ok(None)
    }

    /// Up to `limit` artifacts in state `verification`, by id after `after`: a walk
    /// over them for [`Self::recheck`].
    ///
    /// # Errors
    /// [`RepoError`] when the repository failed.
    pub async fn list_by_verification(
        &self,
        verification: Verification,
        after: Option<ArtifactId>,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        self.artifacts
            .list_by_verification(verification, after, limit)
            .await
    }

    /// Checks an artifact's bytes again, after the fact: one registered before bytes
    /// were checked (`unverified`), or one `verified` at registration whose bytes may
    /// have changed in the store since. It becomes `verified` or `failed`. A failed one
    /// keeps its bytes (they were served until now, and are what an operator
    /// investigates), but cannot be downloaded any more. The object checked is the one
    /// stored now: when its bytes are the declared ones, its entity tag and version
    /// are recorded in place of the registered ones (a copy in place, to another
    /// storage class or encryption, gives the same bytes a new tag, and downloads
    /// judge the object by the recorded tag). Pending artifacts are the background
    /// verifier's ([`Self::verify_next_pending`]): `decided` is then `false` and
    /// nothing changes.
    ///
    /// # Errors
    /// [`VerifyError`]; the artifact then keeps its verification.
    pub async fn recheck(&self, artifact: &Artifact) -> Result<VerificationReport, VerifyError> {
        let (outcome, object) = self.read_stored_bytes(artifact, false).await?;
        let checked = AuditEvent::artifact_checked(artifact, outcome, self.clock.now());
        let now_stored = object.as_ref().filter(|object| {
            outcome == VerifyOutcome::Matches && !artifact.is_registered_object(object)
        });
        let decided = artifact.verification != Verification::Pending
            && self
                .artifacts
                .set_verification(
                    artifact.id,
                    artifact.verification,
                    outcome.verification(),
                    now_stored,
                    &checked,
                )
                .await?;
        Ok(VerificationReport {
            artifact: artifact.clone(),
            outcome,
            decided,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_matching_bytes_verify() {
        assert_eq!(
            VerifyOutcome::Matches.verification(),
            Verification::Verified
        );
        for failed in [
            VerifyOutcome::Missing,
            VerifyOutcome::WrongSize { stored: 3 },
            VerifyOutcome::WrongChecksum,
            VerifyOutcome::Replaced,
        ] {
            assert_eq!(failed.verification(), Verification::Failed);
        }
    }
}
