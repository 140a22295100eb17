//! Checks of the verification half of [`ArtifactRepository`]: every state round-trips,
//! exactly one of several verifiers claims a pending check and holds it until its claim
//! lapses, a verdict moves only from the state it was judged on (recording the object
//! it was reached on, when given), and the walk over one state goes by id.
//!
//! Other checks (and another copy of the suite) store artifacts in the same database, so
//! each check looks only at its own artifacts among what the queries return.

use std::sync::Arc;

use releasy_domain::ArtifactId;
use releasy_domain::artifact::{Artifact, Verification};
use releasy_domain::ports::{ArtifactRepository, ObjectMeta, ReleaseRepository};
use releasy_domain::release::Release;

use super::artifacts::{new_artifact, store_artifact};
use super::releases::{fresh_product, new_release, store_release};
use super::{T0, at, ok, run_check, same};

/// More rows than the suites running at once store in one state.
const ALL: u32 = 10_000;

/// Runs every verification check; `artifacts` must be over the store of `releases`.
pub async fn run_all(releases: Arc<dyn ReleaseRepository>, artifacts: Arc<dyn ArtifactRepository>) {
    let (r, a) = (releases, artifacts);
    run_check!(every_verification_round_trips(r.clone(), a.clone()));
    run_check!(one_verifier_claims_a_pending_check(r.clone(), a.clone()));
    run_check!(only_pending_artifacts_are_claimed(r.clone(), a.clone()));
    run_check!(a_verdict_moves_only_from_the_state_it_was_judged_on(
        r.clone(),
        a.clone()
    ));
    run_check!(a_verdict_records_the_object_it_was_reached_on(
        r.clone(),
        a.clone()
    ));
    run_check!(the_walk_over_a_state_goes_by_id(r, a));
}

async fn fresh_release(releases: &Arc<dyn ReleaseRepository>) -> Release {
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(releases, &release).await;
    release
}

/// A stored artifact of `release` on `platform` in state `verification`.
async fn stored(
    artifacts: &Arc<dyn ArtifactRepository>,
    release: &Release,
    platform: &str,
    verification: Verification,
) -> Artifact {
    let artifact = Artifact {
        verification,
        ..new_artifact(release, platform, T0)
    };
    store_artifact(artifacts, &artifact).await;
    artifact
}

async fn verification_of(artifacts: &Arc<dyn ArtifactRepository>, id: ArtifactId) -> Verification {
    ok(artifacts.get_with_release(id).await, "get_with_release")
        .expect("the artifact is stored")
        .0
        .verification
}

async fn is_unclaimed(artifacts: &Arc<dyn ArtifactRepository>, id: ArtifactId, now: i64) -> bool {
    ok(
        artifacts.unclaimed_pending(at(now), ALL).await,
        "unclaimed_pending",
    )
    .iter()
    .any(|a| a.id == id)
}

/// An artifact of each state reads back in that state, and its object's tag and
/// version with it.
pub async fn every_verification_round_trips(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    for (platform, verification) in [
        ("a", Verification::Verified),
        ("b", Verification::Pending),
        ("c", Verification::Failed),
        ("d", Verification::Unverified),
    ] {
        let artifact = stored(&artifacts, &release, platform, verification).await;
        same(
            &ok(
                artifacts.get_with_release(artifact.id).await,
                "get_with_release",
            ),
            &Some((artifact, release.clone())),
            "an artifact round-trips with its verification",
        );
    }
    let tagged = Artifact {
        object_etag: Some("\"9b2cf535f27731c974343645a3985328\"".to_owned()),
        object_version: Some("v-1".to_owned()),
        ..new_artifact(&release, "e", T0)
    };
    store_artifact(&artifacts, &tagged).await;
    same(
        &ok(
            artifacts.list_for_releases(&[release.id]).await,
            "list_for_releases",
        )
        .into_iter()
        .find(|a| a.id == tagged.id),
        &Some(tagged.clone()),
        "an artifact round-trips with its object's tag and version",
    );
}

/// Of four verifiers claiming one pending check at once, exactly one wins; the check is
/// not offered while the claim holds, and is again (and can be claimed again) from the
/// instant it lapses. A claim is shortened only by the verifier holding it.
pub async fn one_verifier_claims_a_pending_check(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let pending = stored(&artifacts, &release, "linux", Verification::Pending).await;
    same(
        &is_unclaimed(&artifacts, pending.id, T0).await,
        &true,
        "a pending artifact nobody claimed is offered",
    );
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let artifacts = artifacts.clone();
            let id = pending.id;
            tokio::spawn(
                async move { artifacts.claim_verification(id, at(T0), at(T0 + 600)).await },
            )
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        if ok(
            claim.await.expect("the claim task ran"),
            "claim_verification",
        ) {
            won += 1;
        }
    }
    same(&won, &1, "exactly one verifier claims the check");
    same(
        &is_unclaimed(&artifacts, pending.id, T0 + 599).await,
        &false,
        "a claimed check is not offered while the claim holds",
    );
    same(
        &ok(
            artifacts
                .claim_verification(pending.id, at(T0 + 599), at(T0 + 1200))
                .await,
            "claim_verification",
        ),
        &false,
        "nor can it be claimed",
    );
    same(
        &is_unclaimed(&artifacts, pending.id, T0 + 600).await,
        &true,
        "a lapsed claim is offered again",
    );
    same(
        &ok(
            artifacts
                .claim_verification(pending.id, at(T0 + 600), at(T0 + 1200))
                .await,
            "claim_verification",
        ),
        &true,
        "and can be claimed again",
    );
    same(
        &verification_of(&artifacts, pending.id).await,
        &Verification::Pending,
        "a claim does not change the verification",
    );
    // A failed check shortens its own claim, and no other.
    same(
        &ok(
            artifacts
                .shorten_verification_claim(pending.id, at(T0 + 600), at(T0 + 660))
                .await,
            "shorten_verification_claim",
        ),
        &false,
        "a claim that is not held any more is not shortened",
    );
    same(
        &is_unclaimed(&artifacts, pending.id, T0 + 1199).await,
        &false,
        "the claim held is untouched",
    );
    same(
        &ok(
            artifacts
                .shorten_verification_claim(pending.id, at(T0 + 1200), at(T0 + 660))
                .await,
            "shorten_verification_claim",
        ),
        &true,
        "the claim held is shortened",
    );
    same(
        &is_unclaimed(&artifacts, pending.id, T0 + 659).await,
        &false,
        "a shortened claim holds until its new end",
    );
    same(
        &is_unclaimed(&artifacts, pending.id, T0 + 660).await,
        &true,
        "and is offered again from then",
    );
}

/// Artifacts in any other state are never offered nor claimed.
pub async fn only_pending_artifacts_are_claimed(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    for (platform, verification) in [
        ("a", Verification::Verified),
        ("b", Verification::Failed),
        ("c", Verification::Unverified),
    ] {
        let artifact = stored(&artifacts, &release, platform, verification).await;
        same(
            &is_unclaimed(&artifacts, artifact.id, T0).await,
            &false,
            "only pending artifacts are offered",
        );
        same(
            &ok(
                artifacts
                    .claim_verification(artifact.id, at(T0), at(T0 + 60))
                    .await,
                "claim_verification",
            ),
            &false,
            "only pending artifacts are claimed",
        );
    }
    same(
        &ok(
            artifacts
                .claim_verification(ArtifactId::generate(), at(T0), at(T0 + 60))
                .await,
            "claim_verification",
        ),
        &false,
        "an unknown artifact is not claimed",
    );
}

/// `set_verification` moves an artifact only from the state named, once: a second
/// verdict judged on the same state is refused. It ends the claim.
pub async fn a_verdict_moves_only_from_the_state_it_was_judged_on(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let pending = stored(&artifacts, &release, "linux", Verification::Pending).await;
    ok(
        artifacts
            .claim_verification(pending.id, at(T0), at(T0 + 600))
            .await,
        "claim_verification",
    );
    let event = super::change_event();
    let set = |from, to| artifacts.set_verification(pending.id, from, to, None, &event);
    same(
        &ok(
            set(Verification::Unverified, Verification::Verified).await,
            "set_verification",
        ),
        &false,
        "a verdict judged on another state is refused",
    );
    same(
        &ok(
            set(Verification::Pending, Verification::Verified).await,
            "set_verification",
        ),
        &true,
        "the first verdict is stored",
    );
    same(
        &ok(
            set(Verification::Pending, Verification::Failed).await,
            "set_verification",
        ),
        &false,
        "a second verdict is refused",
    );
    same(
        &verification_of(&artifacts, pending.id).await,
        &Verification::Verified,
        "the first verdict stands",
    );
    same(
        &ok(
            artifacts
                .set_verification(
                    ArtifactId::generate(),
                    Verification::Pending,
                    Verification::Verified,
                    None,
                    &super::change_event(),
                )
                .await,
            "set_verification",
        ),
        &false,
        "an unknown artifact gets no verdict",
    );
}

/// A verdict given with the object it was reached on records that object's tag and
/// version as the artifact's, with the verdict; one given without keeps the recorded
/// ones; a refused verdict records nothing.
pub async fn a_verdict_records_the_object_it_was_reached_on(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let artifact = Artifact {
        verification: Verification::Failed,
        object_etag: Some("\"registered\"".to_owned()),
        object_version: None,
        ..new_artifact(&release, "linux", T0)
    };
    store_artifact(&artifacts, &artifact).await;
    let identity = async |id| {
        let (stored, _) = ok(artifacts.get_with_release(id).await, "get_with_release")
            .expect("the artifact is stored");
        (
            stored.verification,
            stored.object_etag,
            stored.object_version,
        )
    };
    let copied = ObjectMeta {
        size: artifact.size.bytes(),
        etag: Some("\"copied-in-place\"".to_owned()),
        version_id: Some("v2".to_owned()),
    };
    let refused = artifacts
        .set_verification(
            artifact.id,
            Verification::Pending,
            Verification::Verified,
            Some(&copied),
            &super::change_event(),
        )
        .await;
    same(
        &ok(refused, "set_verification"),
        &false,
        "a verdict on another state",
    );
    same(
        &identity(artifact.id).await,
        &(
            Verification::Failed,
            Some("\"registered\"".to_owned()),
            None,
        ),
        "a refused verdict records no object",
    );
    let recorded = artifacts
        .set_verification(
            artifact.id,
            Verification::Failed,
            Verification::Verified,
            Some(&copied),
            &super::change_event(),
        )
        .await;
    same(
        &ok(recorded, "set_verification"),
        &true,
        "the verdict is stored",
    );
    same(
        &identity(artifact.id).await,
        &(
            Verification::Verified,
            Some("\"copied-in-place\"".to_owned()),
            Some("v2".to_owned()),
        ),
        "the object the verdict was reached on is recorded with it",
    );
    let kept = artifacts
        .set_verification(
            artifact.id,
            Verification::Verified,
            Verification::Failed,
            None,
            &super::change_event(),
        )
        .await;
    same(
        &ok(kept, "set_verification"),
        &true,
        "the verdict is stored",
    );
    same(
        &identity(artifact.id).await,
        &(
            Verification::Failed,
            Some("\"copied-in-place\"".to_owned()),
            Some("v2".to_owned()),
        ),
        "a verdict without an object keeps the recorded one",
    );
}

/// `list_by_verification` lists one state by id, from after the id given.
pub async fn the_walk_over_a_state_goes_by_id(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let mut mine = Vec::new();
    for platform in ["a", "b", "c"] {
        mine.push(
            stored(&artifacts, &release, platform, Verification::Unverified)
                .await
                .id,
        );
    }
    let verified = stored(&artifacts, &release, "d", Verification::Verified).await;
    mine.sort_by_key(ToString::to_string);
    let (mine_ids, verified_id) = (&mine, verified.id);
    let listed = |after: Option<ArtifactId>| {
        let artifacts = artifacts.clone();
        async move {
            let all = ok(
                artifacts
                    .list_by_verification(Verification::Unverified, after, ALL)
                    .await,
                "list_by_verification",
            );
            let ids: Vec<String> = all.iter().map(|a| a.id.to_string()).collect();
            let mut sorted = ids.clone();
            sorted.sort();
            same(&ids, &sorted, "the walk goes by id");
            assert!(
                all.iter()
                    .all(|a| a.verification == Verification::Unverified),
                "the walk lists only the state asked"
            );
            all.into_iter()
                .map(|a| a.id)
                .filter(|id| mine_ids.contains(id) || *id == verified_id)
                .collect::<Vec<_>>()
        }
    };
    same(
        &listed(None).await,
        &mine,
        "every artifact of the state is listed",
    );
    same(
        &listed(Some(mine[0])).await,
        &mine[1..].to_vec(),
        "the walk resumes after the id given",
    );
    let page = ok(
        artifacts
            .list_by_verification(Verification::Unverified, Some(mine[1]), 1)
            .await,
        "list_by_verification",
    );
    same(&page.len(), &1, "a page holds at most `limit` artifacts");
}
