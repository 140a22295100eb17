//! `releasy-server verify-artifacts`: reads, after the fact, the stored bytes of the
//! artifacts registered before the server checked bytes (`unverified`), or with `--all`
//! of every artifact not pending, and sets each `verified` or `failed`. One line per
//! artifact on the output, and a summary. It works on the database as it is
//! ([`crate::existing_database`]).

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use releasy_domain::ArtifactId;
use releasy_domain::artifact::{
    Artifact, ArtifactService, Verification, VerificationReport, VerifyError, VerifyOutcome,
};
use releasy_domain::ports::{Clock, ErrorChain, SystemClock};
use releasy_store_diesel::Database;

use crate::existing_database::{self, ExistingDatabaseError};
use crate::settings::Settings;
use crate::storage::{ArtifactStorage, StorageError};

/// Artifacts read from the database at a time.
const PAGE: u32 = 100;

/// What the command found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifySummary {
    /// Artifacts whose bytes matched.
    pub verified: usize,
    /// Artifacts whose bytes did not match (or were gone): downloads now refuse them.
    pub failed: usize,
    /// Artifacts that could not be read (the store failed), or were given another
    /// verdict while they were read; they keep the state they have.
    pub errors: usize,
}

impl VerifySummary {
    /// Whether every artifact checked was verified.
    pub const fn all_verified(self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Why the command could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyCommandError {
    /// The database could not be opened as it is (the command never migrates it).
    #[error(transparent)]
    Database(#[from] ExistingDatabaseError),
    /// The artifact store could not be set up.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The database failed while listing artifacts or reporting the verdicts.
    #[error("the database failed")]
    Repo(#[source] releasy_domain::ports::RepoError),
    /// The output could not be written.
    #[error("writing the report failed")]
    Output(#[source] std::io::Error),
}

/// Which artifacts to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Those registered before bytes were checked.
    Unverified,
    /// Those, and every verified one (their bytes may have changed in the store since),
    /// and the failed ones (their bytes may have been put right).
    All,
}

impl Scope {
    fn states(self) -> &'static [Verification] {
        match self {
            Self::Unverified => &[Verification::Unverified],
            Self::All => &[
                Verification::Unverified,
                Verification::Verified,
                Verification::Failed,
            ],
        }
    }
}

/// Runs the command against the configured database and store, writing one line per
/// artifact to `out`.
///
/// # Errors
/// [`VerifyCommandError`] when it could not run at all; a store failure on one artifact
/// is reported on its line and counted in [`VerifySummary::errors`].
pub async fn run(
    settings: &Settings,
    scope: Scope,
    out: &mut dyn Write,
) -> Result<VerifySummary, VerifyCommandError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let database = existing_database::open(settings).await?;
    let storage = ArtifactStorage::existing_from_settings(settings, clock.clone())?;
    let repositories = database.repositories();
    let artifacts = ArtifactService::new(
        repositories.releases,
        repositories.artifacts,
        storage.store.clone(),
        clock,
        settings.presign_expires_seconds,
    );
    let mut summary = VerifySummary::default();
    // An artifact one walk moves into another state is not checked twice.
    let mut checked = HashSet::new();
    for state in scope.states() {
        check_all_in(
            &artifacts,
            &database,
            *state,
            &mut checked,
            out,
            &mut summary,
        )
        .await?;
    }
    writeln!(
        out,
        "checked {} artifacts: {} verified, {} failed, {} left as they were (store errors, other verdicts first)",
        summary.verified + summary.failed + summary.errors,
        summary.verified,
        summary.failed,
        summary.errors
    )
    .map_err(VerifyCommandError::Output)?;
    Ok(summary)
}

/// Checks every artifact in `state`, a page at a time by id (each check moves it out of
/// the state, so the walk goes on from the last id rather than from the start).
async fn check_all_in(
    artifacts: &ArtifactService,
    database: &Database,
    state: Verification,
    checked: &mut HashSet<ArtifactId>,
    out: &mut dyn Write,
    summary: &mut VerifySummary,
) -> Result<(), VerifyCommandError> {
    let mut after: Option<ArtifactId> = None;
    loop {
        let page = artifacts
            .list_by_verification(state, after, PAGE)
            .await
            .map_err(VerifyCommandError::Repo)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.id);
        for artifact in page.iter().filter(|a| checked.insert(a.id)) {
            let result = artifacts.recheck(artifact).await;
            if matches!(&result, Ok(report) if report.decided) {
                // A server running on this database drops the answers it cached, so a
                // failed artifact stops resolving there within a second, whatever ends
                // this command next (an interrupt, a closed pipe).
                database
                    .note_external_write()
                    .await
                    .map_err(VerifyCommandError::Repo)?;
            }
            let line = tally(artifact, result, summary);
            writeln!(out, "{line}").map_err(VerifyCommandError::Output)?;
        }
    }
}

/// Counts what one check found in `summary`; the line that reports it.
fn tally(
    artifact: &Artifact,
    result: Result<VerificationReport, VerifyError>,
    summary: &mut VerifySummary,
) -> String {
    match result {
        // Another verdict (a download that found the bytes changed, the background
        // verifier) came first: this one was not recorded.
        Ok(report) if !report.decided => {
            summary.errors += 1;
            format!(
                "error     {}  its verification changed while it was read; this check was not recorded (run the command again)",
                line_start(artifact)
            )
        }
        Ok(report) => {
            if report.outcome == VerifyOutcome::Matches {
                summary.verified += 1;
            } else {
                summary.failed += 1;
            }
            describe(&report)
        }
        Err(err) => {
            summary.errors += 1;
            format!("error     {}  {}", line_start(artifact), ErrorChain(&err))
        }
    }
}

fn line_start(artifact: &Artifact) -> String {
    format!("{}  {}", artifact.id, artifact.object_key.as_str())
}

fn describe(report: &VerificationReport) -> String {
    let artifact = &report.artifact;
    let start = line_start(artifact);
    match report.outcome {
        VerifyOutcome::Matches => format!("verified  {start}"),
        VerifyOutcome::Missing => format!("FAILED    {start}  no object is stored"),
        VerifyOutcome::WrongSize { stored } => format!(
            "FAILED    {start}  {stored} bytes stored, {} registered",
            artifact.size.bytes()
        ),
        VerifyOutcome::WrongChecksum => {
            format!("FAILED    {start}  the stored bytes' sha256 is not the registered one")
        }
        VerifyOutcome::Replaced => {
            format!("FAILED    {start}  the object was replaced while it was read")
        }
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::Timestamp;
    use releasy_domain::memory::sample_artifact;
    use releasy_domain::release::{Product, Release, Version};

    use super::*;

    fn artifact() -> Artifact {
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let release = Release::draft(
            Product::parse("agent").unwrap(),
            Version::parse("1.0.0").unwrap(),
            None,
            now,
        );
        sample_artifact(&release, "linux", now)
    }

    /// A verdict another check recorded first is not this command's: counted as not
    /// done (the command exits 1), not as verified, and said so.
    #[test]
    fn a_check_whose_verdict_was_not_recorded_is_no_verification() {
        let artifact = artifact();
        let mut summary = VerifySummary::default();
        let report = |decided| VerificationReport {
            artifact: artifact.clone(),
            outcome: VerifyOutcome::Matches,
            decided,
        };
        let line = tally(&artifact, Ok(report(false)), &mut summary);
        assert!(
            line.starts_with("error     ") && line.contains("changed while it was read"),
            "{line}"
        );
        assert_eq!(
            summary,
            VerifySummary {
                verified: 0,
                failed: 0,
                errors: 1
            }
        );
        assert!(!summary.all_verified());
        let line = tally(&artifact, Ok(report(true)), &mut summary);
        assert!(line.starts_with("verified  "), "{line}");
        assert_eq!(summary.verified, 1);
    }
}
