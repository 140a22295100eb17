//! Checks of sealed releases in [`ReleaseRepository`] and [`ArtifactRepository`]
//! (publication that seals, and a sealed release that takes no artifact, no edit and
//! no delete), and of [`ProductRepository`]: the product list's counts and latest
//! version, and policies.

use std::sync::Arc;

use releasy_domain::artifact::Verification;
use releasy_domain::pagination::PageLimit;
use releasy_domain::ports::{ArtifactRepository, ProductRepository, ReleaseRepository, RepoError};
use releasy_domain::product::{ProductPolicy, ProductSummary};
use releasy_domain::release::{
    Channel, Product, Release, ReleaseChanges, ReleaseNotes, ReleaseStatus, SealBasis, SealOutcome,
    Yank, YankReason,
};

use super::artifacts::{new_artifact, store_artifact};
use super::change_event;
use super::releases::{fresh_product, new_release, page, store_release};
use super::uploads::new_upload;
use super::{T0, at, ok, run_check, same, token};

/// Runs every check of this module.
pub async fn run_all(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    products: Arc<dyn ProductRepository>,
) {
    run_check!(a_sealed_release_takes_no_artifact_edit_or_delete(
        releases.clone(),
        artifacts.clone()
    ));
    run_check!(summaries_count_releases_and_name_the_latest_stable_version(
        releases,
        products.clone()
    ));
    run_check!(policies_are_read_and_replaced(products));
}

/// `publish_sealed` publishes a draft and seals it (compare-and-set on the status), only
/// while its artifacts are the ones judged (else it writes nothing); the seal outlives an unpublish, and a later `publish_sealed` keeps the first one; a sealed release then takes no artifact (`insert` and
/// `insert_completing_upload` answer [`RepoError::MissingReference`] and write
/// nothing), no edit (`update_draft` is `None`) and no delete (`delete` is `None`, the
/// rows stay).
pub async fn a_sealed_release_takes_no_artifact_edit_or_delete(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let late_upload = new_upload(&release, T0 + 2, false);
    ok(
        artifacts.insert_upload(&late_upload).await,
        "ArtifactRepository::insert_upload",
    );

    let judged = SealBasis::of(std::slice::from_ref(&artifact));
    let stale = [
        ("without the artifact registered since", SealBasis::of(&[])),
        (
            "on another verification",
            SealBasis::from_stored([(artifact.id, Verification::Pending)]),
        ),
    ];
    for (judgement, basis) in stale {
        same(
            &ok(
                releases
                    .publish_sealed(release.id, at(T0 + 4), at(T0 + 4), &basis, &change_event())
                    .await,
                "ReleaseRepository::publish_sealed",
            ),
            &SealOutcome::ArtifactsChanged(judged.clone()),
            &format!("publish_sealed judged {judgement}: the stored artifacts come back"),
        );
    }
    same(
        &ok(releases.get(release.id).await, "ReleaseRepository::get"),
        &Some(release.clone()),
        "a stale judgement writes nothing",
    );
    let sealed = ok(
        releases
            .publish_sealed(release.id, at(T0 + 5), at(T0 + 5), &judged, &change_event())
            .await,
        "ReleaseRepository::publish_sealed",
    );
    same(
        &sealed,
        &SealOutcome::Sealed(Release {
            status: ReleaseStatus::Published,
            published_at: Some(at(T0 + 5)),
            first_published_at: Some(at(T0 + 5)),
            sealed_at: Some(at(T0 + 5)),
            ..release.clone()
        }),
        "publish_sealed publishes and seals",
    );
    same(
        &ok(
            releases
                .publish_sealed(release.id, at(T0 + 6), at(T0 + 6), &judged, &change_event())
                .await,
            "ReleaseRepository::publish_sealed",
        ),
        &SealOutcome::NotADraft,
        "publish_sealed of a published release",
    );
    let draft = ok(
        releases
            .transition(
                release.id,
                ReleaseStatus::Published,
                ReleaseStatus::Draft,
                None,
                &change_event(),
            )
            .await,
        "ReleaseRepository::transition",
    )
    .expect("unpublished");
    same(
        &draft.sealed_at,
        &Some(at(T0 + 5)),
        "the seal outlives an unpublish",
    );

    let edit = ReleaseChanges {
        notes: Some(Some(ReleaseNotes::parse("edited").expect("notes"))),
        ..ReleaseChanges::default()
    };
    same(
        &ok(
            releases
                .update_draft(release.id, &edit, &|_, _| vec![change_event()])
                .await,
            "ReleaseRepository::update_draft",
        ),
        &None,
        "update_draft of a sealed draft",
    );
    let another = new_artifact(&release, "macos", T0 + 7);
    assert!(
        matches!(
            artifacts.insert(&another, &change_event()).await,
            Err(RepoError::MissingReference)
        ),
        "insert of an artifact of a sealed release"
    );
    let completing = releasy_domain::artifact::Artifact {
        id: late_upload.artifact_id,
        object_key: late_upload.object_key.clone(),
        ..new_artifact(&release, "linux", T0 + 8)
    };
    assert!(
        matches!(
            artifacts
                .insert_completing_upload(&completing, &change_event())
                .await,
            Err(RepoError::MissingReference)
        ),
        "insert_completing_upload of an artifact of a sealed release"
    );
    same(
        &ok(
            artifacts.get_upload(late_upload.artifact_id).await,
            "ArtifactRepository::get_upload",
        ),
        &Some(late_upload),
        "the refused registration kept the upload record",
    );
    same(
        &ok(
            releases.delete(release.id, &|_| change_event()).await,
            "ReleaseRepository::delete",
        ),
        &None,
        "delete of a sealed release",
    );
    same(
        &ok(
            artifacts.list_for_releases(&[release.id]).await,
            "ArtifactRepository::list_for_releases",
        ),
        &vec![artifact],
        "the sealed release kept its one artifact",
    );
    same(
        &ok(releases.get(release.id).await, "ReleaseRepository::get"),
        &Some(draft),
        "the sealed release is still there",
    );
    let SealOutcome::Sealed(again) = ok(
        releases
            .publish_sealed(
                release.id,
                at(T0 + 20),
                at(T0 + 20),
                &judged,
                &change_event(),
            )
            .await,
        "ReleaseRepository::publish_sealed",
    ) else {
        panic!("publish_sealed of the sealed draft did not publish it again");
    };
    same(
        &(again.published_at, again.sealed_at),
        &(Some(at(T0 + 20)), Some(at(T0 + 5))),
        "publishing again keeps the first seal",
    );
}

/// A product's summary counts every release and the published ones, names the highest
/// published, non-yanked stable version, and the newest creation time; a product with
/// only a policy is listed with no release; products come by name. (The names start
/// with `000-`, before every other check's, so the first page holds them while other
/// checks add products.)
pub async fn summaries_count_releases_and_name_the_latest_stable_version(
    releases: Arc<dyn ReleaseRepository>,
    products: Arc<dyn ProductRepository>,
) {
    let prefix = format!("000-{}", token());
    let (with_releases, policy_only) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let publish = |version: &str, created: i64| {
        let release = new_release(&with_releases, version, created);
        Release {
            status: ReleaseStatus::Published,
            published_at: Some(at(created + 1)),
            ..release
        }
    };
    let yank = Yank {
        at: at(T0),
        reason: YankReason::parse("bad").expect("a reason"),
        blocks_downloads: false,
    };
    for release in [
        publish("1.9.0", T0),
        publish("1.10.0", T0 + 1),
        Release {
            channel: Channel::Rc,
            ..publish("2.0.0-rc.1", T0 + 2)
        },
        Release {
            yank: Some(yank),
            ..publish("1.11.0", T0 + 3)
        },
        new_release(&with_releases, "3.0.0", T0 + 4),
    ] {
        store_release(&releases, &release).await;
    }
    let policy = ProductPolicy {
        product: Product::parse(&policy_only).expect("a product"),
        immutable_releases: true,
        updated_at: at(T0),
    };
    ok(
        products.set_policy(&policy, &change_event()).await,
        "ProductRepository::set_policy",
    );

    let all = ok(
        products.summaries(page(0, i64::from(PageLimit::MAX))).await,
        "ProductRepository::summaries",
    );
    let mine: Vec<&ProductSummary> = all
        .iter()
        .filter(|s| s.product.as_str().starts_with(&prefix))
        .collect();
    same(
        &mine,
        &vec![
            &ProductSummary {
                product: Product::parse(&with_releases).expect("a product"),
                releases: 5,
                published: 4,
                latest_version: Some("1.10.0".to_owned()),
                last_release_at: Some(at(T0 + 4)),
                immutable_releases: false,
            },
            &ProductSummary {
                product: policy.product.clone(),
                releases: 0,
                published: 0,
                latest_version: None,
                last_release_at: None,
                immutable_releases: true,
            },
        ],
        "the two products' summaries, by name",
    );
}

/// A policy round-trips; setting it again replaces it; a product never set has none.
pub async fn policies_are_read_and_replaced(products: Arc<dyn ProductRepository>) {
    let product = Product::parse(&fresh_product()).expect("a product");
    same(
        &ok(products.policy(&product).await, "ProductRepository::policy"),
        &None,
        "the policy of a product never set",
    );
    for (immutable_releases, updated_at) in [(true, T0), (false, T0 + 10)] {
        let policy = ProductPolicy {
            product: product.clone(),
            immutable_releases,
            updated_at: at(updated_at),
        };
        ok(
            products.set_policy(&policy, &change_event()).await,
            "ProductRepository::set_policy",
        );
        same(
            &ok(products.policy(&product).await, "ProductRepository::policy"),
            &Some(policy),
            "the policy as last set",
        );
    }
}
