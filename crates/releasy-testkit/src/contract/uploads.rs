//! Checks of the upload records of [`ArtifactRepository`]: round trip (with and without
//! parts), exactly one claimant, the oldest-first listing below a cutoff, and
//! registration that completes the record in one step or not at all.

use std::sync::Arc;

use releasy_domain::artifact::{ArtifactSize, Checksum, MultipartUpload, PendingUpload, UploadId};
use releasy_domain::ports::{ArtifactRepository, ReleaseRepository, RepoError};
use releasy_domain::release::Release;

use super::artifacts::new_artifact;
use super::change_event;
use super::releases::{fresh_product, new_release, store_release};
use super::{T0, at, ok, run_check, same, token};

/// Runs every upload-record check; `artifacts` must be over the store of `releases`.
pub async fn run_all(releases: Arc<dyn ReleaseRepository>, artifacts: Arc<dyn ArtifactRepository>) {
    let (r, a) = (releases, artifacts);
    run_check!(upload_round_trip(r.clone(), a.clone()));
    run_check!(one_caller_claims_an_upload(r.clone(), a.clone()));
    run_check!(uploads_before_a_cutoff_come_oldest_first(
        r.clone(),
        a.clone()
    ));
    run_check!(registration_completes_the_upload_or_nothing(
        r.clone(),
        a.clone()
    ));
    run_check!(an_ended_upload_is_kept_and_never_completed(r, a));
}

/// The record of an upload (of a fresh artifact of `release`) presigned at `created_at`.
pub(crate) fn new_upload(release: &Release, created_at: i64, multipart: bool) -> PendingUpload {
    let artifact = new_artifact(release, "linux", created_at);
    PendingUpload {
        artifact_id: artifact.id,
        release_id: release.id,
        object_key: artifact.object_key,
        size: Some(ArtifactSize::parse(3 * 5_242_880 + 1).expect("a valid size")),
        checksum: Some(Checksum::parse(&format!("{}{}", token(), token())).expect("a checksum")),
        multipart: multipart.then(|| MultipartUpload {
            upload_id: UploadId::parse(format!("upload-{}", token())).expect("an upload id"),
            part_size: 5_242_880,
            part_count: 4,
        }),
        created_at: at(created_at),
        ended_at: None,
    }
}

async fn fresh_release(releases: &Arc<dyn ReleaseRepository>) -> Release {
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(releases, &release).await;
    release
}

/// A record round-trips, with its parts or without; a second record for the same
/// artifact is [`RepoError::Conflict`].
pub async fn upload_round_trip(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    for multipart in [true, false] {
        let mut upload = new_upload(&release, T0, multipart);
        if !multipart {
            upload.size = None;
            upload.checksum = None;
        }
        ok(artifacts.insert_upload(&upload).await, "insert_upload");
        same(
            &ok(artifacts.get_upload(upload.artifact_id).await, "get_upload"),
            &Some(upload.clone()),
            "get_upload returns the record as inserted",
        );
        match artifacts.insert_upload(&upload).await {
            Err(RepoError::Conflict) => {}
            other => panic!("a second record for one artifact: expected Conflict, got {other:?}"),
        }
    }
}

/// `delete_upload` is `true` for exactly one of several concurrent callers.
pub async fn one_caller_claims_an_upload(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let upload = new_upload(&release, T0, true);
    ok(artifacts.insert_upload(&upload).await, "insert_upload");
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let artifacts = artifacts.clone();
            let id = upload.artifact_id;
            tokio::spawn(async move { artifacts.delete_upload(id).await })
        })
        .collect();
    let mut won = 0;
    for claim in claims {
        if ok(claim.await.expect("the claim task ran"), "delete_upload") {
            won += 1;
        }
    }
    same(&won, &1, "exactly one claimant removes the record");
    same(
        &ok(artifacts.get_upload(upload.artifact_id).await, "get_upload"),
        &None,
        "a claimed record is gone",
    );
}

/// `uploads_created_before` lists the records strictly before the cutoff, oldest first
/// (by `created_at`, then artifact id), at most `limit`, from after the one named.
pub async fn uploads_before_a_cutoff_come_oldest_first(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    // Far in the past, so other checks' records sort after these.
    let base = 1_000 + i64::from(token().as_bytes()[0] % 100);
    let ours: Vec<PendingUpload> = [base + 1, base, base + 2, base]
        .into_iter()
        .map(|t| new_upload(&release, t, t == base))
        .collect();
    for upload in &ours {
        ok(artifacts.insert_upload(upload).await, "insert_upload");
    }
    let listed = ok(
        artifacts
            .uploads_created_before(at(base + 2), None, 1_000)
            .await,
        "uploads_created_before",
    );
    let order: Vec<_> = listed
        .iter()
        .map(|u| (u.created_at, u.artifact_id.to_string()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    same(&order, &sorted, "records are listed oldest first");
    let mut expected: Vec<PendingUpload> = ours[..2].to_vec();
    expected.push(ours[3].clone());
    expected.sort_by_key(|u| (u.created_at, u.artifact_id.to_string()));
    let mine: Vec<PendingUpload> = listed
        .into_iter()
        .filter(|u| ours.iter().any(|o| o.artifact_id == u.artifact_id))
        .collect();
    same(
        &mine,
        &expected,
        "the records before the cutoff, and not the one at it",
    );
    let first = ok(
        artifacts
            .uploads_created_before(at(base + 2), None, 1)
            .await,
        "uploads_created_before",
    );
    same(&first.len(), &1, "at most `limit` records");
    // From after the first of ours, whose `created_at` the next one shares: the order's
    // tie is broken by the artifact id.
    let after = (expected[0].created_at, expected[0].artifact_id);
    let rest: Vec<PendingUpload> = ok(
        artifacts
            .uploads_created_before(at(base + 2), Some(after), 1_000)
            .await,
        "uploads_created_before",
    )
    .into_iter()
    .filter(|u| ours.iter().any(|o| o.artifact_id == u.artifact_id))
    .collect();
    same(
        &rest,
        &expected[1..].to_vec(),
        "the records after the one named",
    );
    for upload in &ours {
        ok(
            artifacts.delete_upload(upload.artifact_id).await,
            "delete_upload",
        );
    }
}

/// `insert_completing_upload` stores the artifact and removes its record in one step;
/// without a record it stores nothing and answers `false`.
pub async fn registration_completes_the_upload_or_nothing(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let upload = new_upload(&release, T0, true);
    ok(artifacts.insert_upload(&upload).await, "insert_upload");
    let artifact = releasy_domain::artifact::Artifact {
        id: upload.artifact_id,
        object_key: upload.object_key.clone(),
        ..new_artifact(&release, "linux", T0 + 1)
    };
    same(
        &ok(
            artifacts
                .insert_completing_upload(&artifact, &change_event())
                .await,
            "insert_completing_upload",
        ),
        &true,
        "a recorded upload is registered",
    );
    same(
        &ok(artifacts.get_upload(upload.artifact_id).await, "get_upload"),
        &None,
        "its record is gone",
    );
    same(
        &ok(
            artifacts.get_with_release(artifact.id).await,
            "get_with_release",
        ),
        &Some((artifact.clone(), release.clone())),
        "the artifact is stored",
    );

    let swept = new_artifact(&release, "macos", T0 + 2);
    same(
        &ok(
            artifacts
                .insert_completing_upload(&swept, &change_event())
                .await,
            "insert_completing_upload",
        ),
        &false,
        "without its record, nothing is registered",
    );
    same(
        &ok(
            artifacts.get_with_release(swept.id).await,
            "get_with_release",
        ),
        &None,
        "the artifact of a swept upload is not stored",
    );

    // A conflicting artifact leaves the record in place: the transaction is undone.
    let again = new_upload(&release, T0, false);
    ok(artifacts.insert_upload(&again).await, "insert_upload");
    let clash = releasy_domain::artifact::Artifact {
        id: again.artifact_id,
        object_key: artifact.object_key.clone(),
        ..new_artifact(&release, "linux", T0 + 3)
    };
    match artifacts
        .insert_completing_upload(&clash, &change_event())
        .await
    {
        Err(RepoError::Conflict) => {}
        other => panic!("a registration whose key is taken: expected Conflict, got {other:?}"),
    }
    same(
        &ok(artifacts.get_upload(again.artifact_id).await, "get_upload"),
        &Some(again),
        "a refused registration keeps the record",
    );
}

/// `end_upload` is `true` for exactly one of several concurrent callers and keeps the
/// record, ended (listed by `uploads_created_before` with its end); an ended upload is
/// never completed into an artifact.
pub async fn an_ended_upload_is_kept_and_never_completed(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = fresh_release(&releases).await;
    let upload = new_upload(&release, T0, true);
    ok(artifacts.insert_upload(&upload).await, "insert_upload");
    let ended_at = at(T0 + 5);
    let ends: Vec<_> = (0..4)
        .map(|_| {
            let artifacts = artifacts.clone();
            let id = upload.artifact_id;
            tokio::spawn(async move { artifacts.end_upload(id, ended_at, None).await })
        })
        .collect();
    let mut won = 0;
    for end in ends {
        if ok(end.await.expect("the end task ran"), "end_upload") {
            won += 1;
        }
    }
    same(&won, &1, "exactly one caller ends the upload");
    let ended = PendingUpload {
        ended_at: Some(ended_at),
        ..upload.clone()
    };
    same(
        &ok(artifacts.get_upload(upload.artifact_id).await, "get_upload"),
        &Some(ended.clone()),
        "the ended record is kept, with its end",
    );
    let artifact = releasy_domain::artifact::Artifact {
        id: upload.artifact_id,
        object_key: upload.object_key.clone(),
        ..new_artifact(&release, "linux", T0 + 6)
    };
    same(
        &ok(
            artifacts
                .insert_completing_upload(&artifact, &change_event())
                .await,
            "insert_completing_upload",
        ),
        &false,
        "an ended upload is not registered",
    );
    same(
        &ok(
            artifacts.get_with_release(artifact.id).await,
            "get_with_release",
        ),
        &None,
        "nothing is stored for it",
    );
    same(
        &ok(artifacts.get_upload(upload.artifact_id).await, "get_upload"),
        &Some(ended),
        "and its record stays for the sweeper",
    );
    same(
        &ok(
            artifacts
                .end_upload(releasy_domain::ArtifactId::generate(), ended_at, None)
                .await,
            "end_upload",
        ),
        &false,
        "no record, nothing to end",
    );
}
