//! Entitlements narrowed to channels and versions, and the perpetual fallback, as the
//! customer's listing, the updater checks, token issue, resolve and the explanation
//! apply them, over in-memory ports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use common::{Harness, T0, page};
use releasy_domain::api_key::AuthenticatedKey;
use releasy_domain::artifact::{
    ArtifactSize, ArtifactTarget, Checksum, Filename, Platform, RegisterArtifact,
};
use releasy_domain::audit::Origin;
use releasy_domain::customer::CustomerChanges;
use releasy_domain::delivery::Requester;
use releasy_domain::download::{IssueTokenError, ResolveError, ResolveRefusal, TokenTtl};
use releasy_domain::entitlement::{
    AccessReason, EntitlementChanges, EntitlementScope, EntitlementWindow, NewEntitlement,
};
use releasy_domain::memory::{FixedClock, InMemoryObjects};
use releasy_domain::release::{
    Channel, NewestQuery, Product, Release, ReleaseOrder, ReleaseQuery, ReleaseViewer, Version,
    VersionRequirement,
};
use releasy_domain::{ArtifactId, CustomerId, EntitlementId, Ports, Services, Timestamp};

struct World {
    h: Harness,
    objects: Arc<InMemoryObjects>,
    agent: Product,
}

impl World {
    fn new() -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let objects = Arc::new(InMemoryObjects::default());
        let ports = Ports::in_memory_with_objects(clock.clone(), objects.clone());
        Self {
            h: Harness {
                clock,
                services: Services::new(ports.clone()),
                ports,
            },
            objects,
            agent: Product::parse("agent").unwrap(),
        }
    }

    /// A published release of agent `version` with one artifact.
    async fn published(&self, version: &str) -> (Release, ArtifactId) {
        let services = &self.h.services;
        let release = services
            .releases
            .create(
                &Origin::admin_key(),
                self.agent.clone(),
                Version::parse(version).unwrap(),
            )
            .await
            .unwrap();
        let platform = Platform::parse("linux").unwrap();
        let upload = services
            .artifacts
            .presign(
                release.id,
                &Filename::parse("agent.tgz").unwrap(),
                &platform,
            )
            .await
            .unwrap();
        self.objects.put(&upload.object_key, vec![1; 4]);
        let registration = RegisterArtifact {
            artifact_id: upload.artifact_id,
            object_key: upload.object_key.as_str().to_owned(),
            checksum: Checksum::of_bytes(&[1; 4]),
            size: ArtifactSize::parse(4).unwrap(),
            platform,
            target: ArtifactTarget::default(),
            parts: None,
        };
        services
            .artifacts
            .register(&Origin::admin_key(), release.id, registration)
            .await
            .unwrap();
        let release = services
            .releases
            .publish(&Origin::admin_key(), release.id)
            .await
            .unwrap();
        (release, upload.artifact_id)
    }

    async fn entitle(
        &self,
        customer: CustomerId,
        ends_at: Option<Timestamp>,
        scope: EntitlementScope,
    ) -> EntitlementId {
        self.h
            .services
            .entitlements
            .create(
                &Origin::admin_key(),
                customer,
                NewEntitlement {
                    product: self.agent.clone(),
                    window: EntitlementWindow::new(T0, ends_at).unwrap(),
                    scope,
                    metadata: None,
                    download_quota: None,
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn key(&self, customer: CustomerId) -> AuthenticatedKey {
        let issued = self
            .h
            .key(customer, &["releases:read", "downloads:token"])
            .await;
        self.h
            .services
            .authenticator
            .authenticate(Some(issued.secret.expose()))
            .await
            .unwrap()
    }

    async fn versions_seen(
        &self,
        viewer: ReleaseViewer,
        query: &ReleaseQuery,
        limit: i64,
        offset: i64,
    ) -> Vec<String> {
        self.h
            .services
            .releases
            .list(viewer, query, page(limit, offset))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.release.version.into_string())
            .collect()
    }

    async fn newest(&self, customer: CustomerId, channel: Channel) -> Option<String> {
        let query = NewestQuery {
            channel,
            ..NewestQuery::stable(self.agent.clone())
        };
        self.h
            .services
            .releases
            .newest(ReleaseViewer::Customer(customer), &query)
            .await
            .unwrap()
            .map(|l| l.release.version.into_string())
    }
}

fn channels(list: &[Channel]) -> EntitlementScope {
    EntitlementScope {
        channels: Some(list.to_vec()),
        ..EntitlementScope::default()
    }
}

fn versions(requirement: &str) -> EntitlementScope {
    EntitlementScope {
        versions: Some(VersionRequirement::parse("versions", requirement).unwrap()),
        ..EntitlementScope::default()
    }
}

#[tokio::test]
async fn a_channel_scoped_listing_pages_through_judged_releases_like_a_filtered_one() {
    let w = World::new();
    // 230 releases, alternately stable and beta: more than one judged read (200).
    for i in 0..230 {
        let version = if i % 2 == 0 {
            format!("1.{i}.0")
        } else {
            format!("1.{i}.0-beta.1")
        };
        w.published(&version).await;
    }
    let acme = w.h.customer("Acme").await;
    w.entitle(acme.id, None, channels(&[Channel::Stable])).await;

    // What an operator sees on the stable channel is what the customer may see.
    let stable = ReleaseQuery {
        channel: Some(Channel::Stable),
        order: ReleaseOrder::Version,
        ..ReleaseQuery::default()
    };
    let by_version = ReleaseQuery {
        order: ReleaseOrder::Version,
        ..ReleaseQuery::default()
    };
    for (limit, offset) in [(50, 0), (50, 100), (40, 90), (200, 0), (10, 114), (10, 115)] {
        let expected = w
            .versions_seen(ReleaseViewer::Operator, &stable, limit, offset)
            .await;
        let seen = w
            .versions_seen(ReleaseViewer::Customer(acme.id), &by_version, limit, offset)
            .await;
        assert_eq!(seen, expected, "limit {limit}, offset {offset}");
    }
    assert!(
        w.versions_seen(ReleaseViewer::Customer(acme.id), &by_version, 10, 115)
            .await
            .is_empty(),
        "115 stable releases: the page after the last is empty"
    );
    // Newest first (the default order) too: the judged reads go on after a position.
    let stable_newest = ReleaseQuery {
        channel: Some(Channel::Stable),
        ..ReleaseQuery::default()
    };
    for (limit, offset) in [(50, 0), (40, 90), (10, 114)] {
        let expected = w
            .versions_seen(ReleaseViewer::Operator, &stable_newest, limit, offset)
            .await;
        let seen = w
            .versions_seen(
                ReleaseViewer::Customer(acme.id),
                &ReleaseQuery::default(),
                limit,
                offset,
            )
            .await;
        assert_eq!(
            seen, expected,
            "newest first, limit {limit}, offset {offset}"
        );
    }
    // Another product granted whole keeps its one-read listing beside the narrowed one.
    let tool = Product::parse("tool").unwrap();
    let t =
        w.h.services
            .releases
            .create(
                &Origin::admin_key(),
                tool.clone(),
                Version::parse("9.0.0").unwrap(),
            )
            .await
            .unwrap();
    w.h.services
        .releases
        .publish(&Origin::admin_key(), t.id)
        .await
        .unwrap();
    w.h.services
        .entitlements
        .create(
            &Origin::admin_key(),
            acme.id,
            NewEntitlement {
                product: tool.clone(),
                window: EntitlementWindow::new(T0, None).unwrap(),
                scope: EntitlementScope::default(),
                metadata: None,
                download_quota: None,
            },
        )
        .await
        .unwrap();
    let only_tool = ReleaseQuery {
        product: Some(tool),
        ..ReleaseQuery::default()
    };
    assert_eq!(
        w.versions_seen(ReleaseViewer::Customer(acme.id), &only_tool, 10, 0)
            .await,
        ["9.0.0"]
    );
    // Following the beta channel does not reach past the grant.
    assert_eq!(w.newest(acme.id, Channel::Beta).await.unwrap(), "1.228.0");
}

#[tokio::test]
async fn a_version_range_bounds_latest_listing_and_tokens() {
    let w = World::new();
    let mut artifacts = Vec::new();
    for version in ["1.9.0", "2.0.0", "2.5.0", "3.0.0"] {
        artifacts.push(w.published(version).await.1);
    }
    let acme = w.h.customer("Acme").await;
    w.entitle(acme.id, None, versions(">=2.0, <3")).await;
    let key = w.key(acme.id).await;

    assert_eq!(w.newest(acme.id, Channel::Stable).await.unwrap(), "2.5.0");
    assert_eq!(
        w.versions_seen(
            ReleaseViewer::Customer(acme.id),
            &ReleaseQuery::default(),
            50,
            0
        )
        .await,
        ["2.5.0", "2.0.0"]
    );
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let downloads = &w.h.services.downloads;
    assert!(matches!(
        downloads
            .issue(&Origin::admin_key(), &key, artifacts[3], None, ttl, None)
            .await,
        Err(IssueTokenError::EntitlementRequired)
    ));
    assert!(matches!(
        downloads
            .issue(&Origin::admin_key(), &key, artifacts[0], None, ttl, None)
            .await,
        Err(IssueTokenError::EntitlementRequired)
    ));
    downloads
        .issue(&Origin::admin_key(), &key, artifacts[2], None, ttl, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_perpetual_fallback_keeps_what_was_published_before_the_end() {
    let w = World::new();
    let (_, old) = w.published("1.0.0").await;
    w.h.clock.advance(2_000);
    let (_, new) = w.published("1.1.0").await;
    let acme = w.h.customer("Acme").await;
    let ends_at = T0.plus_seconds(1_000);
    let fallback = EntitlementScope {
        perpetual_fallback: true,
        ..EntitlementScope::default()
    };
    w.entitle(acme.id, Some(ends_at), fallback).await;
    let key = w.key(acme.id).await;

    // Now (T0 + 2000) the entitlement has ended: 1.0.0 was published before its end.
    assert_eq!(w.newest(acme.id, Channel::Stable).await.unwrap(), "1.0.0");
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let downloads = &w.h.services.downloads;
    let token = downloads
        .issue(&Origin::admin_key(), &key, old, None, ttl, None)
        .await
        .unwrap();
    downloads
        .resolve(token.secret.expose(), &Requester::default())
        .await
        .unwrap();
    assert!(matches!(
        downloads
            .issue(&Origin::admin_key(), &key, new, None, ttl, None)
            .await,
        Err(IssueTokenError::EntitlementRequired)
    ));

    // Without the fallback, nothing is left.
    let bare = w.h.customer("Bare").await;
    w.entitle(bare.id, Some(ends_at), EntitlementScope::default())
        .await;
    assert_eq!(w.newest(bare.id, Channel::Stable).await, None);
}

#[tokio::test]
async fn narrowing_an_entitlement_stops_tokens_already_issued() {
    let w = World::new();
    let (_, beta) = w.published("2.0.0-beta.1").await;
    let acme = w.h.customer("Acme").await;
    let entitlement = w.entitle(acme.id, None, EntitlementScope::default()).await;
    let key = w.key(acme.id).await;
    let ttl = TokenTtl::parse(Some(60), 600).unwrap();
    let token =
        w.h.services
            .downloads
            .issue(&Origin::admin_key(), &key, beta, None, ttl, None)
            .await
            .unwrap();
    w.h.services
        .entitlements
        .update(
            &Origin::admin_key(),
            acme.id,
            entitlement,
            EntitlementChanges {
                channels: Some(Some(vec![Channel::Stable])),
                ..EntitlementChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        w.h.services
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await,
        Err(ResolveError::Refused(ResolveRefusal::NotAvailable))
    ));
}

#[tokio::test]
async fn the_explanation_names_every_rule_that_refuses() {
    let w = World::new();
    let (release, _) = w.published("3.0.0-rc.1").await;
    let acme = w.h.customer("Acme").await;
    let services = &w.h.services;
    let version = &release.version;

    let none = services
        .entitlements
        .explain(acme.id, &w.agent, version)
        .await
        .unwrap();
    assert!(!none.allowed);
    assert_eq!(none.reasons, [AccessReason::NoEntitlement]);

    let stable = w.entitle(acme.id, None, channels(&[Channel::Stable])).await;
    let v2 = w.entitle(acme.id, None, versions("^2")).await;
    let why = services
        .entitlements
        .explain(acme.id, &w.agent, version)
        .await
        .unwrap();
    assert!(!why.allowed);
    let named: Vec<(&str, Option<EntitlementId>)> = why
        .reasons
        .iter()
        .map(|r| (r.code(), r.entitlement()))
        .collect();
    assert_eq!(named.len(), 2);
    assert!(named.contains(&("channel_not_granted", Some(stable))));
    assert!(named.contains(&("version_not_granted", Some(v2))));

    let rc = w
        .entitle(acme.id, None, channels(&[Channel::Stable, Channel::Rc]))
        .await;
    services
        .releases
        .unpublish(&Origin::admin_key(), release.id)
        .await
        .unwrap();
    let suspend = CustomerChanges::new(None, None, Some(true)).unwrap();
    services
        .customers
        .update(&Origin::admin_key(), acme.id, suspend)
        .await
        .unwrap();
    let why = services
        .entitlements
        .explain(acme.id, &w.agent, version)
        .await
        .unwrap();
    assert!(
        !why.allowed,
        "the rc entitlement allows it, the rest refuses"
    );
    assert_eq!(
        why.reasons[..2],
        [
            AccessReason::CustomerSuspended,
            AccessReason::ReleaseNotPublished
        ]
    );
    assert!(!why.reasons.contains(&AccessReason::ReleaseYanked));
    assert!(
        why.reasons
            .contains(&AccessReason::Allowed { entitlement: rc })
    );

    let unknown = Version::parse("9.9.9").unwrap();
    assert!(matches!(
        services
            .entitlements
            .explain(acme.id, &w.agent, &unknown)
            .await,
        Err(releasy_domain::entitlement::ExplainError::ReleaseNotFound)
    ));
    assert!(matches!(
        services
            .entitlements
            .explain(CustomerId::generate(), &w.agent, version)
            .await,
        Err(releasy_domain::entitlement::ExplainError::CustomerNotFound)
    ));
}

/// A release yanked with its downloads refused is refused here too (a token request is
/// `403 release yanked`); a yank that leaves downloads on refuses nothing.
#[tokio::test]
async fn the_explanation_names_a_yank_that_refuses_downloads() {
    let w = World::new();
    let (release, _) = w.published("2.0.0").await;
    let acme = w.h.customer("Acme").await;
    let entitlement = w.entitle(acme.id, None, EntitlementScope::default()).await;
    let services = &w.h.services;
    let explain = || {
        services
            .entitlements
            .explain(acme.id, &w.agent, &release.version)
    };
    let reason = releasy_domain::release::YankReason::parse("broken").unwrap();
    for blocks_downloads in [false, true] {
        services
            .releases
            .yank(
                &Origin::admin_key(),
                release.id,
                reason.clone(),
                blocks_downloads,
            )
            .await
            .unwrap();
        let why = explain().await.unwrap();
        if blocks_downloads {
            assert!(!why.allowed, "{why:?}");
            assert_eq!(why.reasons[0], AccessReason::ReleaseYanked, "{why:?}");
        } else {
            assert!(why.allowed, "{why:?}");
            assert_eq!(why.reasons, [AccessReason::Allowed { entitlement }]);
        }
        services
            .releases
            .unyank(&Origin::admin_key(), release.id)
            .await
            .unwrap();
    }
}
