//! Checks of [`DownloadTokenRepository`]: a stored token is found by its hash with
//! everything resolving it depends on (its artifact's object key and verification, its
//! release's product and current status, its customer's suspension), a batch is stored all or none, an
//! unknown hash finds nothing, and a limited token's uses are counted up to its limit.
//! That deleting a release makes its tokens unfindable is checked with the releases.

use std::sync::Arc;

use releasy_domain::ArtifactId;
use releasy_domain::api_key::AllowedNetworks;
use releasy_domain::artifact::{Artifact, Verification};
use releasy_domain::customer::CustomerUpdate;
use releasy_domain::download::{DownloadGrant, DownloadToken, MaxUses};
use releasy_domain::ports::{
    ArtifactRepository, CustomerRepository, DownloadTokenRepository, ReleaseRepository, RepoError,
};
use releasy_domain::release::ReleaseStatus;

use super::artifacts::{new_artifact, store_artifact};
use super::releases::{fresh_product, new_release, new_token, store_release};
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token};
use super::{change_event, with_events};

/// Runs every download-token check. `download_tokens` must join to the stores of
/// `releases`, `artifacts` and `customers`.
pub async fn run_all(
    download_tokens: Arc<dyn DownloadTokenRepository>,
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let d = download_tokens;
    run_check!(insert_then_find_grant(
        d.clone(),
        releases.clone(),
        artifacts.clone(),
        customers.clone()
    ));
    run_check!(grant_follows_release_status_and_suspension(
        d.clone(),
        releases.clone(),
        artifacts.clone(),
        customers.clone()
    ));
    run_check!(consume_use_counts_up_to_the_limit(
        d.clone(),
        releases.clone(),
        artifacts.clone(),
        customers.clone()
    ));
    run_check!(insert_many_is_all_or_none(
        d.clone(),
        releases,
        artifacts,
        customers
    ));
    run_check!(find_grant_of_unknown_hash_is_none(d));
}

async fn find_grant(
    download_tokens: &Arc<dyn DownloadTokenRepository>,
    token_hash: &str,
) -> Option<DownloadGrant> {
    ok(
        download_tokens.find_grant(token_hash).await,
        "DownloadTokenRepository::find_grant",
    )
}

async fn store_token(download_tokens: &Arc<dyn DownloadTokenRepository>, token: &DownloadToken) {
    ok(
        download_tokens.insert(token, &change_event()).await,
        "DownloadTokenRepository::insert",
    );
}

/// A purge deletes tokens that expired before the cutoff, up to its limit a call, and
/// keeps the others. Its tokens expired in 1970, long before any other check's; its
/// counts are exact only with no other suite on the database ([`super::run_all`]).
pub async fn purge_removes_only_tokens_expired_before_the_cutoff(
    download_tokens: Arc<dyn DownloadTokenRepository>,
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Purge {}", token()), None, T0);
    store_customer(&customers, &customer).await;
    let release = new_release(&fresh_product(), "4.0.0", T0);
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let expiring = |expires_at: i64| DownloadToken {
        created_at: at(expires_at - 60),
        expires_at: at(expires_at),
        ..new_token(artifact.id, customer.id)
    };
    let expired: Vec<DownloadToken> = (0..3).map(|i| expiring(1_000 + i)).collect();
    let kept = expiring(3_000);
    for t in expired.iter().chain([&kept]) {
        store_token(&download_tokens, t).await;
    }
    let first = ok(
        download_tokens.purge_expired_before(at(2_000), 2).await,
        "DownloadTokenRepository::purge_expired_before",
    );
    same(&first, &2, "tokens purged by a call limited to two");
    let rest = ok(
        download_tokens.purge_expired_before(at(2_000), 100).await,
        "DownloadTokenRepository::purge_expired_before",
    );
    same(&rest, &1, "tokens purged by the next call");
    for t in &expired {
        same(
            &find_grant(&download_tokens, &t.token_hash).await,
            &None,
            "the grant of a purged token",
        );
    }
    same(
        &find_grant(&download_tokens, &kept.token_hash)
            .await
            .map(|g| g.token.id),
        &Some(kept.id),
        "the grant of a token that expired after the cutoff",
    );
}

/// `consume_use` answers `true` exactly `max_uses` times for a token, each token
/// counted on its own, and `false` for a token never stored; `return_use` gives one
/// back, never below zero.
pub async fn consume_use_counts_up_to_the_limit(
    download_tokens: Arc<dyn DownloadTokenRepository>,
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Counted {}", token()), None, T0);
    store_customer(&customers, &customer).await;
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let limit = |uses| MaxUses::parse(Some(uses)).expect("valid").expect("a limit");
    let (twice, once) = (
        DownloadToken {
            max_uses: Some(limit(2)),
            ..new_token(artifact.id, customer.id)
        },
        DownloadToken {
            max_uses: Some(limit(1)),
            ..new_token(artifact.id, customer.id)
        },
    );
    store_token(&download_tokens, &twice).await;
    store_token(&download_tokens, &once).await;
    same(
        &find_grant(&download_tokens, &twice.token_hash)
            .await
            .and_then(|g| g.token.max_uses),
        &Some(limit(2)),
        "the limit round-trips in the grant",
    );
    let consume = async |t: &DownloadToken| {
        ok(
            download_tokens
                .consume_use(t.id, t.max_uses.expect("limited"))
                .await,
            "DownloadTokenRepository::consume_use",
        )
    };
    let mut answers = Vec::new();
    for t in [&twice, &once, &twice, &once, &twice] {
        answers.push(consume(t).await);
    }
    same(
        &answers,
        &vec![true, true, true, false, false],
        "uses counted per token up to each limit",
    );
    same(
        &ok(
            download_tokens
                .consume_use(releasy_domain::DownloadTokenId::generate(), limit(5))
                .await,
            "DownloadTokenRepository::consume_use",
        ),
        &false,
        "an unknown token has no use to spend",
    );

    // A use given back can be spent once more, and only once; giving back more than
    // was counted never makes room beyond the limit.
    let give_back = async |t: &DownloadToken| {
        ok(
            download_tokens.return_use(t.id).await,
            "DownloadTokenRepository::return_use",
        );
    };
    give_back(&once).await;
    let again = [consume(&once).await, consume(&once).await];
    same(&again, &[true, false], "a returned use is spent once");
    let fresh = DownloadToken {
        max_uses: Some(limit(1)),
        ..new_token(artifact.id, customer.id)
    };
    store_token(&download_tokens, &fresh).await;
    give_back(&fresh).await;
    give_back(&fresh).await;
    let after = [consume(&fresh).await, consume(&fresh).await];
    same(&after, &[true, false], "uses never go below zero");
    ok(
        download_tokens
            .return_use(releasy_domain::DownloadTokenId::generate())
            .await,
        "DownloadTokenRepository::return_use of an unknown token",
    );
}

/// Tokens round-trip (with and without a purpose and an address rule) inside their grant, which carries the
/// artifact's object key, the release's product and status, and no suspension for an
/// active customer; each hash finds its own token.
pub async fn insert_then_find_grant(
    download_tokens: Arc<dyn DownloadTokenRepository>,
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Downloader {}", token()), None, T0);
    store_customer(&customers, &customer).await;
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(&releases, &release).await;
    let (linux, mac) = (
        new_artifact(&release, "linux", T0 + 1),
        Artifact {
            verification: Verification::Pending,
            object_etag: Some("\"5d41402abc4b2a76b9719d911017c592-2\"".to_owned()),
            object_version: Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY".to_owned()),
            ..new_artifact(&release, "macos", T0 + 2)
        },
    );
    store_artifact(&artifacts, &linux).await;
    store_artifact(&artifacts, &mac).await;
    let with_purpose = DownloadToken {
        purpose: Some("nightly mirror ✓".to_owned()),
        allowed_networks: Some(
            AllowedNetworks::parse(&["203.0.113.0/24", "2001:db8::/32"]).expect("valid ranges"),
        ),
        created_at: at(T0 + 10),
        expires_at: at(T0 + 70),
        ..new_token(linux.id, customer.id)
    };
    let bare = DownloadToken {
        purpose: None,
        api_key_id: None,
        ..new_token(mac.id, customer.id)
    };
    store_token(&download_tokens, &with_purpose).await;
    store_token(&download_tokens, &bare).await;
    for (token, artifact) in [(&with_purpose, &linux), (&bare, &mac)] {
        same(
            &find_grant(&download_tokens, &token.token_hash).await,
            &Some(DownloadGrant {
                token: token.clone(),
                object_key: artifact.object_key.clone(),
                release_id: release.id,
                platform: artifact.platform.clone(),
                artifact_size: artifact.size,
                product: release.product.clone(),
                release_version: release.version.clone(),
                release_channel: release.channel,
                release_published_at: None,
                release_status: ReleaseStatus::Draft,
                release_downloads_blocked: false,
                customer_suspended_at: None,
                verification: artifact.verification,
                object_etag: artifact.object_etag.clone(),
                object_version: artifact.object_version.clone(),
            }),
            "find_grant returns the token joined to its artifact, release and customer",
        );
    }
}

/// The grant reads the release's status, the customer's suspension and the artifact's
/// verification as they are now.
pub async fn grant_follows_release_status_and_suspension(
    download_tokens: Arc<dyn DownloadTokenRepository>,
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Suspendable {}", token()), Some("core"), T0);
    store_customer(&customers, &customer).await;
    let release = new_release(&fresh_product(), "2.0.0", T0);
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let token = new_token(artifact.id, customer.id);
    store_token(&download_tokens, &token).await;
    let expected_as = |status: ReleaseStatus, suspended_at: Option<i64>, verification| {
        Some(DownloadGrant {
            token: token.clone(),
            object_key: artifact.object_key.clone(),
            release_id: release.id,
            platform: artifact.platform.clone(),
            artifact_size: artifact.size,
            product: release.product.clone(),
            release_version: release.version.clone(),
            release_channel: release.channel,
            // First published at T0 + 5 below (before any grant is read): back to a
            // draft, it keeps its first publication, which the fallback judges by.
            release_published_at: Some(at(T0 + 5)),
            release_status: status,
            release_downloads_blocked: false,
            customer_suspended_at: suspended_at.map(at),
            verification,
            object_etag: artifact.object_etag.clone(),
            object_version: artifact.object_version.clone(),
        })
    };
    let expected = |status, suspended_at| expected_as(status, suspended_at, Verification::Verified);

    ok(
        releases
            .transition(
                release.id,
                ReleaseStatus::Draft,
                ReleaseStatus::Published,
                Some(at(T0 + 5)),
                &change_event(),
            )
            .await,
        "ReleaseRepository::transition",
    );
    same(
        &find_grant(&download_tokens, &token.token_hash).await,
        &expected(ReleaseStatus::Published, None),
        "the grant of a token of a published release",
    );

    let suspend = |suspended_at: Option<i64>| CustomerUpdate {
        name: None,
        plan: None,
        suspended_at: Some(suspended_at.map(at)),
    };
    ok(
        customers
            .update(customer.id, &suspend(Some(T0 + 50)), &|_, _| {
                vec![change_event()]
            })
            .await,
        "CustomerRepository::update",
    );
    same(
        &find_grant(&download_tokens, &token.token_hash).await,
        &expected(ReleaseStatus::Published, Some(T0 + 50)),
        "the grant of a suspended customer's token",
    );

    ok(
        customers
            .update(customer.id, &suspend(None), &|_, _| vec![change_event()])
            .await,
        "CustomerRepository::update",
    );
    ok(
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
    );
    same(
        &find_grant(&download_tokens, &token.token_hash).await,
        &expected(ReleaseStatus::Draft, None),
        "the grant after unsuspending the customer and unpublishing the release",
    );

    ok(
        artifacts
            .set_verification(
                artifact.id,
                Verification::Verified,
                Verification::Failed,
                None,
                &super::change_event(),
            )
            .await,
        "ArtifactRepository::set_verification",
    );
    same(
        &find_grant(&download_tokens, &token.token_hash).await,
        &expected_as(ReleaseStatus::Draft, None, Verification::Failed),
        "the grant after the artifact failed its check",
    );
}

/// `insert_many` stores a batch whole, or, when one token is refused (an unknown
/// artifact, a hash already stored), none of it and reports that token's error; an
/// empty batch stores nothing and succeeds.
pub async fn insert_many_is_all_or_none(
    download_tokens: Arc<dyn DownloadTokenRepository>,
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Batch {}", token()), None, T0);
    store_customer(&customers, &customer).await;
    let release = new_release(&fresh_product(), "3.0.0", T0);
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let fresh = || new_token(artifact.id, customer.id);
    let stored_count = async |tokens: &[DownloadToken]| {
        let mut n = 0;
        for t in tokens {
            if find_grant(&download_tokens, &t.token_hash).await.is_some() {
                n += 1;
            }
        }
        n
    };

    ok(
        download_tokens.insert_many(&[]).await,
        "DownloadTokenRepository::insert_many of no tokens",
    );
    let batch = vec![
        fresh(),
        DownloadToken {
            purpose: None,
            ..fresh()
        },
        fresh(),
    ];
    ok(
        download_tokens.insert_many(&with_events(&batch)).await,
        "DownloadTokenRepository::insert_many",
    );
    for t in &batch {
        same(
            &find_grant(&download_tokens, &t.token_hash)
                .await
                .map(|g| g.token),
            &Some(t.clone()),
            "each token of a stored batch is found by its hash",
        );
    }

    let orphan = DownloadToken {
        artifact_id: ArtifactId::generate(),
        ..fresh()
    };
    let spoiled = vec![fresh(), orphan, fresh()];
    match download_tokens.insert_many(&with_events(&spoiled)).await {
        Err(RepoError::MissingReference) => {}
        other => panic!(
            "insert_many of a batch with a token of an unknown artifact: expected \
             Err(MissingReference), got {other:?}"
        ),
    }
    same(
        &stored_count(&spoiled).await,
        &0,
        "tokens stored of a batch refused for an unknown artifact",
    );

    let duplicate = DownloadToken {
        token_hash: batch[0].token_hash.clone(),
        ..fresh()
    };
    let spoiled = vec![fresh(), fresh(), duplicate];
    match download_tokens.insert_many(&with_events(&spoiled)).await {
        Err(RepoError::Conflict) => {}
        other => panic!(
            "insert_many of a batch with a token hash already stored: expected \
             Err(Conflict), got {other:?}"
        ),
    }
    same(
        &stored_count(&spoiled[..2]).await,
        &0,
        "tokens stored of a batch refused for a duplicate hash",
    );
}

/// `find_grant` of a hash never stored is `None`.
pub async fn find_grant_of_unknown_hash_is_none(download_tokens: Arc<dyn DownloadTokenRepository>) {
    same(
        &find_grant(&download_tokens, &format!("{}{}", token(), token())).await,
        &None,
        "find_grant of an unknown token hash",
    );
}
