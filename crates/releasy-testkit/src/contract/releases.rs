//! Checks of [`ReleaseRepository`]: storage round trip, unique product and version,
//! the newest-first listing with its filters and paging, the status compare-and-set
//! (also under concurrency), and the delete that takes artifacts and tokens with it.

use std::sync::Arc;

use releasy_domain::artifact::ObjectKey;
use releasy_domain::download::DownloadToken;
use releasy_domain::pagination::{Offset, PageLimit, PageRequest};
use releasy_domain::ports::{
    ArtifactRepository, CustomerRepository, DownloadTokenRepository, ReleaseRepository, RepoError,
};
use releasy_domain::release::{Product, Release, ReleaseFilter, ReleaseStatus, Version};
use releasy_domain::{ApiKeyId, ArtifactId, CustomerId, DownloadTokenId, ReleaseId};

use super::artifacts::{new_artifact, store_artifact};
use super::change_event;
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token};

/// How many tasks race to publish one release in
/// [`concurrent_transitions_have_one_winner`].
pub const CONCURRENT_TRANSITIONS: usize = 8;

/// Runs every release check. `artifacts` and `download_tokens` must be over
/// the store of `releases` (deleting a release removes them), and `customers` the store
/// download tokens join to. Spawns tasks: call it on a multi-thread runtime.
pub async fn run_all(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    download_tokens: Arc<dyn DownloadTokenRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (r, a) = (releases, artifacts);
    run_check!(insert_get_round_trip(r.clone()));
    run_check!(get_unknown_is_none(r.clone()));
    run_check!(duplicate_product_and_version_is_a_conflict(r.clone()));
    run_check!(list_is_newest_first(r.clone()));
    run_check!(list_filters_combine(r.clone()));
    run_check!(list_with_no_allowed_product_is_empty(r.clone()));
    run_check!(list_pages_by_offset_and_limit(r.clone()));
    run_check!(transition_applies_from_the_expected_status(r.clone()));
    run_check!(transition_from_another_status_changes_nothing(r.clone()));
    run_check!(transition_unknown_is_none(r.clone()));
    run_check!(concurrent_transitions_have_one_winner(r.clone()));
    run_check!(delete_takes_artifacts_and_tokens(
        r.clone(),
        a,
        download_tokens,
        customers
    ));
    run_check!(delete_unknown_is_none(r));
}

pub(crate) fn page(offset: i64, limit: i64) -> PageRequest {
    PageRequest {
        limit: PageLimit::parse(Some(limit)).expect("a valid page limit"),
        offset: Offset::parse(Some(offset)).expect("a valid offset"),
    }
}

/// A fresh product name.
pub(crate) fn fresh_product() -> String {
    format!("product-{}", token())
}

/// A draft release value (not stored) with a fresh id.
pub fn new_release(product: &str, version: &str, created_at: i64) -> Release {
    Release::draft(
        Product::parse(product).expect("a valid product"),
        Version::parse(version).expect("a valid version"),
        None,
        at(created_at),
    )
}

/// A published release value (not stored) with a fresh id.
fn published(product: &str, version: &str, created_at: i64) -> Release {
    Release {
        status: ReleaseStatus::Published,
        published_at: Some(at(created_at + 1)),
        ..new_release(product, version, created_at)
    }
}

/// Stores `release`.
pub async fn store_release(releases: &Arc<dyn ReleaseRepository>, release: &Release) {
    ok(
        releases.insert(release, &change_event()).await,
        "ReleaseRepository::insert",
    );
}

/// A download token value (not stored) of `customer` for `artifact`, with a fresh hash.
pub(crate) fn new_token(artifact: ArtifactId, customer: CustomerId) -> DownloadToken {
    DownloadToken {
        api_key_id: Some(ApiKeyId::generate()),
        max_uses: None,
        id: DownloadTokenId::generate(),
        token_hash: format!("{}{}", token(), token()),
        artifact_id: artifact,
        customer_id: customer,
        purpose: Some("contract check".to_owned()),
        created_at: at(T0),
        expires_at: at(T0 + 600),
        allowed_networks: None,
    }
}

async fn get(releases: &Arc<dyn ReleaseRepository>, id: ReleaseId) -> Option<Release> {
    ok(releases.get(id).await, "ReleaseRepository::get")
}

async fn list(
    releases: &Arc<dyn ReleaseRepository>,
    filter: &ReleaseFilter,
    page: PageRequest,
) -> Vec<Release> {
    ok(releases.list(filter, page).await, "ReleaseRepository::list")
}

async fn transition(
    releases: &Arc<dyn ReleaseRepository>,
    id: ReleaseId,
    expected: ReleaseStatus,
    status: ReleaseStatus,
    published_at: Option<i64>,
) -> Option<Release> {
    ok(
        releases
            .transition(id, expected, status, published_at.map(at), &change_event())
            .await,
        "ReleaseRepository::transition",
    )
}

fn of_product(product: &str) -> ReleaseFilter {
    ReleaseFilter {
        product: Some(product.to_owned()),
        ..ReleaseFilter::default()
    }
}

/// The listing order the contract promises: `(created_at, id)` descending.
fn newest_first<'a>(releases: impl IntoIterator<Item = &'a Release>) -> Vec<Release> {
    let mut releases: Vec<Release> = releases.into_iter().cloned().collect();
    releases.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id.to_string())));
    releases
}

fn sorted_keys(keys: Option<Vec<ObjectKey>>) -> Option<Vec<String>> {
    keys.map(|keys| {
        let mut keys: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
        keys.sort();
        keys
    })
}

/// A release round-trips through insert and get, draft and published.
pub async fn insert_get_round_trip(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    let draft = new_release(&product, "1.0.0", T0);
    let live = published(&product, "1.0.1+build.7", T0 + 5);
    for release in [&draft, &live] {
        store_release(&releases, release).await;
    }
    for release in [&draft, &live] {
        same(
            &get(&releases, release.id).await.as_ref(),
            &Some(release),
            "get returns the stored release",
        );
    }
}

/// `get` of an id never stored is `None`.
pub async fn get_unknown_is_none(releases: Arc<dyn ReleaseRepository>) {
    same(
        &get(&releases, ReleaseId::generate()).await,
        &None,
        "get of an unknown release id",
    );
}

/// A second release with an existing product and version is [`RepoError::Conflict`]
/// and is not stored; the same version of another product, and another version of the
/// same product, are fine.
pub async fn duplicate_product_and_version_is_a_conflict(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    let first = new_release(&product, "2.0.0", T0);
    store_release(&releases, &first).await;
    let duplicate = published(&product, "2.0.0", T0 + 10);
    match releases.insert(&duplicate, &change_event()).await {
        Err(RepoError::Conflict) => {}
        other => {
            panic!(
                "inserting a duplicate product and version: expected Err(Conflict), got {other:?}"
            )
        }
    }
    same(
        &get(&releases, duplicate.id).await,
        &None,
        "the duplicate release is not stored",
    );
    same(
        &get(&releases, first.id).await,
        &Some(first.clone()),
        "the first release survives a duplicate insert",
    );
    store_release(&releases, &new_release(&fresh_product(), "2.0.0", T0)).await;
    store_release(&releases, &new_release(&product, "2.0.1", T0)).await;
}

/// Listings are ordered by `created_at`, then id, both descending.
pub async fn list_is_newest_first(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    let stored: Vec<Release> = [T0 + 10, T0 + 30, T0 + 20, T0 + 30, T0 - 5, T0 + 30]
        .iter()
        .enumerate()
        .map(|(i, t)| new_release(&product, &format!("0.{i}.0"), *t))
        .collect();
    for release in &stored {
        store_release(&releases, release).await;
    }
    same(
        &list(&releases, &of_product(&product), page(0, 200)).await,
        &newest_first(&stored),
        "releases are listed newest first by (created_at desc, id desc)",
    );
}

/// Each filter narrows the listing by exact match, and filters combine with AND.
pub async fn list_filters_combine(releases: Arc<dyn ReleaseRepository>) {
    let (a, b, unrelated) = (fresh_product(), fresh_product(), fresh_product());
    let shared = format!("shared-{}", token());
    let stored = vec![
        new_release(&a, "1", T0),
        published(&a, "2", T0 + 1),
        published(&a, &shared, T0 + 2),
        new_release(&b, &shared, T0 + 3),
        published(&b, "1", T0 + 4),
        published(&unrelated, "1", T0 + 5),
    ];
    for release in &stored {
        store_release(&releases, release).await;
    }
    let pick = |indexes: &[usize]| newest_first(indexes.iter().map(|i| &stored[*i]));
    let both = Some(vec![a.clone(), b.clone()]);
    let filter = |product: Option<&str>,
                  version: Option<&str>,
                  status: Option<ReleaseStatus>,
                  products_in: Option<Vec<String>>| ReleaseFilter {
        product: product.map(str::to_owned),
        version: version.map(str::to_owned),
        status,
        products_in,
        ..ReleaseFilter::default()
    };
    let cases: Vec<(&str, ReleaseFilter, Vec<Release>)> = vec![
        (
            "product",
            filter(Some(&a), None, None, None),
            pick(&[0, 1, 2]),
        ),
        (
            "product is exact, not a prefix",
            filter(Some(&a[..a.len() - 1]), None, None, None),
            vec![],
        ),
        (
            "version",
            filter(None, Some(&shared), None, None),
            pick(&[2, 3]),
        ),
        (
            "product and version",
            filter(Some(&b), Some(&shared), None, None),
            pick(&[3]),
        ),
        (
            "status published among two products",
            filter(None, None, Some(ReleaseStatus::Published), both.clone()),
            pick(&[1, 2, 4]),
        ),
        (
            "status draft among two products",
            filter(None, None, Some(ReleaseStatus::Draft), both.clone()),
            pick(&[0, 3]),
        ),
        (
            "products_in of two products",
            filter(None, None, None, both.clone()),
            pick(&[0, 1, 2, 3, 4]),
        ),
        (
            "products_in of one product and an unknown one",
            filter(None, None, None, Some(vec![b.clone(), fresh_product()])),
            pick(&[3, 4]),
        ),
        (
            "product outside products_in",
            filter(Some(&a), None, None, Some(vec![b.clone()])),
            vec![],
        ),
        (
            "every filter at once",
            filter(
                Some(&a),
                Some(&shared),
                Some(ReleaseStatus::Published),
                both.clone(),
            ),
            pick(&[2]),
        ),
        (
            "status that no release of the product has",
            filter(Some(&unrelated), None, Some(ReleaseStatus::Draft), None),
            vec![],
        ),
    ];
    for (what, filter, expected) in cases {
        same(
            &list(&releases, &filter, page(0, 200)).await,
            &expected,
            &format!("release filter: {what}"),
        );
    }
}

/// `products_in = Some(vec![])` matches nothing, alone or with other filters, and is no
/// error.
pub async fn list_with_no_allowed_product_is_empty(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    store_release(&releases, &published(&product, "1", T0)).await;
    let nothing_allowed = ReleaseFilter {
        products_in: Some(vec![]),
        ..ReleaseFilter::default()
    };
    same(
        &list(&releases, &nothing_allowed, page(0, 200)).await,
        &vec![],
        "products_in = Some(vec![]) alone",
    );
    let with_product = ReleaseFilter {
        product: Some(product),
        status: Some(ReleaseStatus::Published),
        ..nothing_allowed
    };
    same(
        &list(&releases, &with_product, page(0, 200)).await,
        &vec![],
        "products_in = Some(vec![]) with a product and status that match",
    );
}

/// `offset` skips releases and `limit` caps the page, in the listing order.
pub async fn list_pages_by_offset_and_limit(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    let stored: Vec<Release> = [T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3]
        .iter()
        .enumerate()
        .map(|(i, t)| new_release(&product, &format!("{i}"), *t))
        .collect();
    for release in &stored {
        store_release(&releases, release).await;
    }
    let expected = newest_first(&stored);
    for (offset, limit, range) in [
        (0, 2, 0..2),
        (2, 2, 2..4),
        (4, 2, 4..5),
        (1, 3, 1..4),
        (5, 2, 5..5),
        (50, 1, 5..5),
        (0, 200, 0..5),
    ] {
        same(
            &list(&releases, &of_product(&product), page(offset, limit)).await,
            &expected[range].to_vec(),
            &format!("release page at offset {offset}, limit {limit}"),
        );
    }
}

/// From the expected status, `transition` sets the status and `published_at` and
/// returns the release as stored; publishing and unpublishing both work.
pub async fn transition_applies_from_the_expected_status(releases: Arc<dyn ReleaseRepository>) {
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(&releases, &release).await;
    let live = Release {
        status: ReleaseStatus::Published,
        published_at: Some(at(T0 + 60)),
        first_published_at: Some(at(T0 + 60)),
        ..release.clone()
    };
    same(
        &transition(
            &releases,
            release.id,
            ReleaseStatus::Draft,
            ReleaseStatus::Published,
            Some(T0 + 60),
        )
        .await,
        &Some(live.clone()),
        "publishing a draft returns the published release",
    );
    same(
        &get(&releases, release.id).await,
        &Some(live),
        "the published release is stored",
    );
    let draft_again = Release {
        first_published_at: Some(at(T0 + 60)),
        ..release.clone()
    };
    same(
        &transition(
            &releases,
            release.id,
            ReleaseStatus::Published,
            ReleaseStatus::Draft,
            None,
        )
        .await,
        &Some(draft_again.clone()),
        "unpublishing returns the draft, published_at cleared, its first publication kept",
    );
    same(
        &get(&releases, release.id).await,
        &Some(draft_again.clone()),
        "the draft is stored again",
    );
    same(
        &transition(
            &releases,
            release.id,
            ReleaseStatus::Draft,
            ReleaseStatus::Published,
            Some(T0 + 600),
        )
        .await,
        &Some(Release {
            status: ReleaseStatus::Published,
            published_at: Some(at(T0 + 600)),
            ..draft_again
        }),
        "publishing again moves published_at, not the first publication",
    );
}

/// When the stored status is not the expected one, `transition` is `None` and changes
/// nothing.
pub async fn transition_from_another_status_changes_nothing(releases: Arc<dyn ReleaseRepository>) {
    let draft = new_release(&fresh_product(), "1", T0);
    let live = published(&fresh_product(), "1", T0);
    store_release(&releases, &draft).await;
    store_release(&releases, &live).await;
    same(
        &transition(
            &releases,
            draft.id,
            ReleaseStatus::Published,
            ReleaseStatus::Draft,
            None,
        )
        .await,
        &None,
        "unpublishing a draft (expected published)",
    );
    same(
        &get(&releases, draft.id).await,
        &Some(draft),
        "the draft is unchanged",
    );
    same(
        &transition(
            &releases,
            live.id,
            ReleaseStatus::Draft,
            ReleaseStatus::Published,
            Some(T0 + 999),
        )
        .await,
        &None,
        "publishing a published release (expected draft)",
    );
    same(
        &get(&releases, live.id).await,
        &Some(live),
        "the published release keeps its published_at",
    );
}

/// `transition` of an id never stored is `None`.
pub async fn transition_unknown_is_none(releases: Arc<dyn ReleaseRepository>) {
    same(
        &transition(
            &releases,
            ReleaseId::generate(),
            ReleaseStatus::Draft,
            ReleaseStatus::Published,
            Some(T0),
        )
        .await,
        &None,
        "transition of an unknown release id",
    );
}

/// Of [`CONCURRENT_TRANSITIONS`] concurrent publications of one draft, exactly one
/// applies; the stored release is the winner's.
pub async fn concurrent_transitions_have_one_winner(releases: Arc<dyn ReleaseRepository>) {
    let release = new_release(&fresh_product(), "1", T0);
    store_release(&releases, &release).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(CONCURRENT_TRANSITIONS));
    let tasks: Vec<_> = (0..CONCURRENT_TRANSITIONS)
        .map(|n| {
            let repo = releases.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                transition(
                    &repo,
                    release.id,
                    ReleaseStatus::Draft,
                    ReleaseStatus::Published,
                    Some(T0 + 1 + n as i64),
                )
                .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(won) = task.await.expect("a transitioning task panicked") {
            winners.push(won);
        }
    }
    same(
        &winners.len(),
        &1,
        &format!("number of Some among {CONCURRENT_TRANSITIONS} concurrent transitions"),
    );
    same(
        &get(&releases, release.id).await,
        &Some(winners[0].clone()),
        "the winner's transition is stored",
    );
    same(
        &winners[0].status,
        &ReleaseStatus::Published,
        "the winner published",
    );
}

/// `delete` returns the object keys of the release's artifacts and removes the release,
/// its artifacts and their tokens; other releases keep theirs. A release without
/// artifacts gives an empty list.
pub async fn delete_takes_artifacts_and_tokens(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    download_tokens: Arc<dyn DownloadTokenRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Downloader {}", token()), None, T0);
    store_customer(&customers, &customer).await;
    let product = fresh_product();
    let doomed = published(&product, "1", T0);
    let kept = published(&product, "2", T0);
    store_release(&releases, &doomed).await;
    store_release(&releases, &kept).await;
    let linux = new_artifact(&doomed, "linux", T0 + 1);
    let mac = new_artifact(&doomed, "macos", T0 + 2);
    let other = new_artifact(&kept, "linux", T0 + 3);
    for artifact in [&linux, &mac, &other] {
        store_artifact(&artifacts, artifact).await;
    }
    let tokens = [
        new_token(linux.id, customer.id),
        new_token(linux.id, customer.id),
        new_token(mac.id, customer.id),
    ];
    let other_token = new_token(other.id, customer.id);
    for t in tokens.iter().chain([&other_token]) {
        ok(
            download_tokens.insert(t, &change_event()).await,
            "DownloadTokenRepository::insert",
        );
    }

    let deleted = ok(
        releases.delete(doomed.id, &|_| change_event()).await,
        "ReleaseRepository::delete",
    );
    same(
        &sorted_keys(deleted),
        &sorted_keys(Some(vec![linux.object_key.clone(), mac.object_key.clone()])),
        "delete returns the object keys of the release's artifacts",
    );
    same(
        &get(&releases, doomed.id).await,
        &None,
        "the deleted release",
    );
    for artifact in [&linux, &mac] {
        same(
            &ok(
                artifacts.get_with_release(artifact.id).await,
                "ArtifactRepository::get_with_release",
            ),
            &None,
            "an artifact of the deleted release",
        );
    }
    same(
        &ok(
            artifacts.list_for_releases(&[doomed.id]).await,
            "ArtifactRepository::list_for_releases",
        ),
        &vec![],
        "the artifacts of the deleted release",
    );
    for t in &tokens {
        let grant = ok(
            download_tokens.find_grant(&t.token_hash).await,
            "DownloadTokenRepository::find_grant",
        );
        assert!(
            grant.is_none(),
            "a token of a deleted artifact still resolves: {grant:?}"
        );
    }

    same(
        &get(&releases, kept.id).await,
        &Some(kept.clone()),
        "another release survives the delete",
    );
    same(
        &ok(
            artifacts.list_for_releases(&[kept.id]).await,
            "ArtifactRepository::list_for_releases",
        ),
        &vec![other.clone()],
        "another release keeps its artifacts",
    );
    let grant = ok(
        download_tokens.find_grant(&other_token.token_hash).await,
        "DownloadTokenRepository::find_grant",
    );
    same(
        &grant.map(|g| g.token),
        &Some(other_token),
        "another release's token still resolves",
    );

    same(
        &ok(
            releases.delete(doomed.id, &|_| change_event()).await,
            "ReleaseRepository::delete",
        ),
        &None,
        "deleting the release again",
    );
    let empty = new_release(&product, "3", T0);
    store_release(&releases, &empty).await;
    same(
        &ok(
            releases.delete(empty.id, &|_| change_event()).await,
            "ReleaseRepository::delete",
        ),
        &Some(vec![]),
        "deleting a release without artifacts",
    );
    same(
        &get(&releases, empty.id).await,
        &None,
        "the deleted release without artifacts",
    );
}

/// `delete` of an id never stored is `None`.
pub async fn delete_unknown_is_none(releases: Arc<dyn ReleaseRepository>) {
    same(
        &ok(
            releases
                .delete(ReleaseId::generate(), &|_| change_event())
                .await,
            "ReleaseRepository::delete",
        ),
        &None,
        "delete of an unknown release id",
    );
}
