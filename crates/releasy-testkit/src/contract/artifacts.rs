//! Checks of [`ArtifactRepository`]: storage round trip with the release as stored
//! now, the oldest-first listing of exactly the asked releases, and unique ids and
//! object keys.

use std::sync::Arc;

use releasy_domain::artifact::Artifact;
use releasy_domain::ports::{ArtifactRepository, ReleaseRepository, RepoError};
use releasy_domain::release::{Release, ReleaseStatus};
use releasy_domain::{ArtifactId, ReleaseId};

use super::change_event;
use super::releases::{fresh_product, new_release, store_release};
use super::{T0, at, ok, run_check, same};

/// Runs every artifact check; `artifacts` must be over the store of `releases`.
pub async fn run_all(releases: Arc<dyn ReleaseRepository>, artifacts: Arc<dyn ArtifactRepository>) {
    let (r, a) = (releases, artifacts);
    run_check!(get_with_release_round_trip(r.clone(), a.clone()));
    run_check!(get_unknown_is_none(a.clone()));
    run_check!(list_is_oldest_first_for_the_asked_releases(
        r.clone(),
        a.clone()
    ));
    run_check!(duplicate_id_is_a_conflict(r.clone(), a.clone()));
    run_check!(duplicate_object_key_is_a_conflict(r, a));
}

/// An artifact value (not stored) of `release` with a fresh id, keyed by the naming
/// rule.
pub fn new_artifact(release: &Release, platform: &str, created_at: i64) -> Artifact {
    releasy_domain::memory::sample_artifact(release, platform, at(created_at))
}

/// Stores `artifact`.
pub(crate) async fn store_artifact(artifacts: &Arc<dyn ArtifactRepository>, artifact: &Artifact) {
    ok(
        artifacts.insert(artifact, &change_event()).await,
        "ArtifactRepository::insert",
    );
}

/// The artifact order the contract promises: `(created_at, id)` ascending.
fn oldest_first<'a>(artifacts: impl IntoIterator<Item = &'a Artifact>) -> Vec<Artifact> {
    let mut artifacts: Vec<Artifact> = artifacts.into_iter().cloned().collect();
    artifacts.sort_by_key(|a| (a.created_at, a.id.to_string()));
    artifacts
}

/// An artifact round-trips, and comes with its release as stored now.
pub async fn get_with_release_round_trip(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = new_release(&fresh_product(), "4.2.0", T0);
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "Linux x86_64", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let get = || async {
        ok(
            artifacts.get_with_release(artifact.id).await,
            "ArtifactRepository::get_with_release",
        )
    };
    same(
        &get().await,
        &Some((artifact.clone(), release.clone())),
        "get_with_release returns the artifact and its release",
    );
    let live = ok(
        releases
            .transition(
                release.id,
                ReleaseStatus::Draft,
                ReleaseStatus::Published,
                Some(at(T0 + 2)),
                &change_event(),
            )
            .await,
        "ReleaseRepository::transition",
    )
    .expect("publishing a draft applies");
    same(
        &get().await,
        &Some((artifact.clone(), live)),
        "get_with_release returns the release's current status",
    );
}

/// `get_with_release` of an id never stored is `None`.
pub async fn get_unknown_is_none(artifacts: Arc<dyn ArtifactRepository>) {
    same(
        &ok(
            artifacts.get_with_release(ArtifactId::generate()).await,
            "ArtifactRepository::get_with_release",
        ),
        &None,
        "get_with_release of an unknown artifact id",
    );
}

/// `list_for_releases` returns the artifacts of exactly the asked releases, oldest first
/// (by `created_at`, then id); no release, or unknown ones, give nothing.
pub async fn list_is_oldest_first_for_the_asked_releases(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let product = fresh_product();
    let stored_releases = [
        new_release(&product, "1", T0),
        new_release(&product, "2", T0),
        new_release(&product, "3", T0),
    ];
    for release in &stored_releases {
        store_release(&releases, release).await;
    }
    let [one, two, three] = &stored_releases;
    let stored = vec![
        new_artifact(one, "linux", T0 + 5),
        new_artifact(one, "macos", T0 + 1),
        new_artifact(one, "windows", T0 + 1),
        new_artifact(two, "linux", T0 + 3),
        new_artifact(two, "macos", T0 + 1),
        new_artifact(three, "linux", T0 + 2),
    ];
    for artifact in &stored {
        store_artifact(&artifacts, artifact).await;
    }
    let list = |ids: Vec<ReleaseId>| {
        let artifacts = artifacts.clone();
        async move {
            ok(
                artifacts.list_for_releases(&ids).await,
                "ArtifactRepository::list_for_releases",
            )
        }
    };
    same(
        &list(vec![one.id, two.id]).await,
        &oldest_first(&stored[..5]),
        "artifacts of two releases, oldest first by (created_at, id)",
    );
    same(
        &list(vec![three.id]).await,
        &oldest_first(&stored[5..]),
        "artifacts of one release",
    );
    same(
        &list(vec![three.id, ReleaseId::generate()]).await,
        &oldest_first(&stored[5..]),
        "an unknown release adds nothing",
    );
    same(&list(vec![]).await, &vec![], "artifacts of no release");
}

/// A second artifact with an existing id is [`RepoError::Conflict`]; the first is kept.
pub async fn duplicate_id_is_a_conflict(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = new_release(&fresh_product(), "1", T0);
    store_release(&releases, &release).await;
    let first = new_artifact(&release, "linux", T0);
    store_artifact(&artifacts, &first).await;
    let duplicate = Artifact {
        id: first.id,
        ..new_artifact(&release, "macos", T0 + 1)
    };
    match artifacts.insert(&duplicate, &change_event()).await {
        Err(RepoError::Conflict) => {}
        other => panic!("inserting a duplicate artifact id: expected Err(Conflict), got {other:?}"),
    }
    same(
        &ok(
            artifacts.get_with_release(first.id).await,
            "ArtifactRepository::get_with_release",
        ),
        &Some((first.clone(), release.clone())),
        "the first artifact survives a duplicate id",
    );
}

/// A second artifact with an existing object key is [`RepoError::Conflict`] and is not
/// stored.
pub async fn duplicate_object_key_is_a_conflict(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = new_release(&fresh_product(), "1", T0);
    store_release(&releases, &release).await;
    let first = new_artifact(&release, "linux", T0);
    store_artifact(&artifacts, &first).await;
    let duplicate = Artifact {
        object_key: first.object_key.clone(),
        ..new_artifact(&release, "linux", T0 + 1)
    };
    match artifacts.insert(&duplicate, &change_event()).await {
        Err(RepoError::Conflict) => {}
        other => {
            panic!("inserting a duplicate object key: expected Err(Conflict), got {other:?}")
        }
    }
    same(
        &ok(
            artifacts.get_with_release(duplicate.id).await,
            "ArtifactRepository::get_with_release",
        ),
        &None,
        "the artifact with a duplicate object key is not stored",
    );
    same(
        &ok(
            artifacts.list_for_releases(&[release.id]).await,
            "ArtifactRepository::list_for_releases",
        ),
        &vec![first],
        "only the first artifact is listed",
    );
}
