//! Checks of the release model on [`ReleaseRepository`]: channel, notes, metadata and
//! yank survive storage; the version order (semver precedence, non-semver after, ties
//! newest first) with the channel, yank and order-key filters; the yank
//! compare-and-set; and the download grant seeing a yank that blocks downloads.

use std::sync::Arc;

use releasy_domain::artifact::{Artifact, ArtifactTarget, TargetLabel, Verification};
use releasy_domain::download::DownloadGrant;
use releasy_domain::ports::{
    ArtifactRepository, CustomerRepository, DownloadTokenRepository, ReleaseRepository,
};
use releasy_domain::release::{
    Channel, OrderKeyBound, Release, ReleaseChanges, ReleaseFilter, ReleaseMetadata, ReleaseNotes,
    ReleaseOrder, ReleasePosition, ReleaseStatus, SEMVER_KEYS_FROM, Version, Yank, YankReason,
};

use super::artifacts::{new_artifact, store_artifact};
use super::change_event;
use super::releases::{fresh_product, new_release, new_token, page, store_release};
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token};

/// Runs every release-model check; `artifacts`, `download_tokens` and `customers` must
/// be over the store of `releases`.
pub async fn run_all(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    download_tokens: Arc<dyn DownloadTokenRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    run_check!(model_fields_round_trip(releases.clone()));
    run_check!(version_order_is_semver_precedence_then_newest(
        releases.clone()
    ));
    run_check!(newest_order_goes_on_after_a_position(releases.clone()));
    run_check!(channel_yank_and_order_key_filters_combine(releases.clone()));
    run_check!(downloadable_on_narrows_to_a_platform(
        releases.clone(),
        artifacts.clone()
    ));
    run_check!(yank_is_a_compare_and_set(releases.clone()));
    run_check!(update_draft_writes_only_named_fields_of_drafts(
        releases.clone()
    ));
    run_check!(artifact_target_round_trips(
        releases.clone(),
        artifacts.clone()
    ));
    run_check!(grant_sees_a_yank_that_blocks_downloads(
        releases,
        artifacts,
        download_tokens,
        customers
    ));
}

fn yank(reason: &str, blocks_downloads: bool, at_seconds: i64) -> Yank {
    Yank {
        at: at(at_seconds),
        reason: YankReason::parse(reason).expect("a valid reason"),
        blocks_downloads,
    }
}

async fn list(releases: &Arc<dyn ReleaseRepository>, filter: &ReleaseFilter) -> Vec<String> {
    ok(
        releases.list(filter, page(0, 200)).await,
        "ReleaseRepository::list",
    )
    .into_iter()
    .map(|r| r.version.into_string())
    .collect()
}

fn by_version(product: &str) -> ReleaseFilter {
    ReleaseFilter {
        product: Some(product.to_owned()),
        order: ReleaseOrder::Version,
        ..ReleaseFilter::default()
    }
}

/// Channel, notes, metadata and a yank are stored and read back as they were.
pub async fn model_fields_round_trip(releases: Arc<dyn ReleaseRepository>) {
    let release = Release {
        channel: Channel::Beta,
        notes: Some(ReleaseNotes::parse("# 3.0\n\n* \"quoted\" \\ notes\n").expect("notes")),
        metadata: Some(
            ReleaseMetadata::parse(&serde_json::json!({"min_os": "13", "n": [1, 2]}))
                .expect("metadata"),
        ),
        yank: Some(yank("CVE-2026-0001", true, T0 + 5)),
        ..new_release(&fresh_product(), "3.0.0", T0)
    };
    store_release(&releases, &release).await;
    same(
        &ok(releases.get(release.id).await, "ReleaseRepository::get"),
        &Some(release),
        "a release with every field of the model round-trips",
    );
}

/// `ReleaseOrder::Version` lists by semver precedence (pre-releases below their
/// release, build metadata ignored), every non-semver version after the semver ones,
/// and equal versions newest first; `after` a release, it goes on with the next one.
pub async fn version_order_is_semver_precedence_then_newest(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    // Created in an order unrelated to their versions.
    let created = [
        "1.10.0",
        "nightly-b",
        "1.2.0",
        "2.0.0-rc.1",
        "1.0.0+build.1",
        "2.0.0",
        "nightly-a",
        "2.0.0-beta.11",
        "2.0.0-beta.2",
        "1.0.0+build.2",
    ];
    for (i, version) in created.iter().enumerate() {
        store_release(&releases, &new_release(&product, version, T0 + i as i64)).await;
    }
    same(
        &list(&releases, &by_version(&product)).await,
        &[
            "2.0.0",
            "2.0.0-rc.1",
            "2.0.0-beta.11",
            "2.0.0-beta.2",
            "1.10.0",
            "1.2.0",
            "1.0.0+build.2", // equal precedence: newest first
            "1.0.0+build.1",
            "nightly-a", // not semver: after the semver ones, newest first
            "nightly-b",
        ]
        .map(str::to_owned)
        .to_vec(),
        "the version order",
    );
    // Read on after any release, the listing goes on with the one after it: across
    // equal precedence (builds) and among the versions that are not semver.
    let all = ok(
        releases.list(&by_version(&product), page(0, 200)).await,
        "ReleaseRepository::list",
    );
    for (i, release) in all.iter().enumerate() {
        if let Some(next) = all.get(i + 1) {
            same(
                &ReleasePosition::of(release).precedes(ReleaseOrder::Version, next),
                &true,
                "each release precedes the next in Rust's order too",
            );
        }
        let after = ReleaseFilter {
            after: Some(ReleasePosition::of(release)),
            ..by_version(&product)
        };
        let expected: Vec<String> = all[i + 1..]
            .iter()
            .map(|r| r.version.as_str().to_owned())
            .collect();
        same(
            &list(&releases, &after).await,
            &expected,
            &format!("the listing after {}", release.version.as_str()),
        );
    }
}

/// In the default order (newest first), `after` a release the listing goes on with
/// the one after it, across releases created in the same second (ordered by id).
pub async fn newest_order_goes_on_after_a_position(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    for (i, version) in ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"]
        .iter()
        .enumerate()
    {
        // Two releases a second: ties on the creation time.
        store_release(
            &releases,
            &new_release(&product, version, T0 + i as i64 / 2),
        )
        .await;
    }
    let newest = ReleaseFilter {
        product: Some(product.clone()),
        ..ReleaseFilter::default()
    };
    let all = ok(
        releases.list(&newest, page(0, 200)).await,
        "ReleaseRepository::list",
    );
    same(&all.len(), &5, "every release");
    for (i, release) in all.iter().enumerate() {
        // The store's order is the one `precedes` describes (the service relies on it).
        if let Some(next) = all.get(i + 1) {
            same(
                &ReleasePosition::of(release).precedes(ReleaseOrder::Newest, next),
                &true,
                "each release precedes the next in Rust's order too",
            );
        }
        let after = ReleaseFilter {
            after: Some(ReleasePosition::of(release)),
            ..newest.clone()
        };
        let expected: Vec<String> = all[i + 1..]
            .iter()
            .map(|r| r.version.as_str().to_owned())
            .collect();
        same(
            &list(&releases, &after).await,
            &expected,
            &format!(
                "the newest-first listing after {}",
                release.version.as_str()
            ),
        );
    }
}

/// `channels_in`, `exclude_yanked` and the order-key bounds narrow a version-ordered
/// listing together; an empty channel list matches nothing.
pub async fn channel_yank_and_order_key_filters_combine(releases: Arc<dyn ReleaseRepository>) {
    let product = fresh_product();
    let stored = [
        ("1.0.0", None),
        ("1.1.0", Some(Channel::Rc)), // an explicit channel wins over the version's
        ("1.2.0-beta.1", None),
        ("1.2.0-rc.1", None),
        ("1.3.0-nightly", None),
    ];
    for (i, (version, channel)) in stored.iter().enumerate() {
        let release = Release {
            channel: channel
                .unwrap_or_else(|| Channel::of_version(&Version::parse(version).expect("v"))),
            ..new_release(&product, version, T0 + i as i64)
        };
        store_release(&releases, &release).await;
    }
    let yanked = new_release(&product, "1.2.1", T0 + 9);
    store_release(&releases, &yanked).await;
    ok(
        releases
            .set_yank(yanked.id, Some(&yank("broken", false, T0 + 10)), &|_| {
                change_event()
            })
            .await,
        "ReleaseRepository::set_yank",
    );
    let filter = |channel: Channel, exclude_yanked: bool, above: Option<&str>| ReleaseFilter {
        channels_in: Some(channel.admitted().collect()),
        exclude_yanked,
        order_key_min: above.map(|v| bound(v, false)),
        ..by_version(&product)
    };
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    same(
        &list(&releases, &filter(Channel::Stable, false, None)).await,
        &names(&["1.2.1", "1.0.0"]),
        "stable only, yanked included",
    );
    same(
        &list(&releases, &filter(Channel::Stable, true, None)).await,
        &names(&["1.0.0"]),
        "stable only, yanked left out",
    );
    same(
        &list(&releases, &filter(Channel::Rc, true, None)).await,
        &names(&["1.2.0-rc.1", "1.1.0", "1.0.0"]),
        "rc admits stable",
    );
    same(
        &list(&releases, &filter(Channel::Dev, true, Some("1.1.0"))).await,
        &names(&["1.3.0-nightly", "1.2.0-rc.1", "1.2.0-beta.1"]),
        "only versions above 1.1.0",
    );
    same(
        &list(
            &releases,
            &ReleaseFilter {
                channels_in: Some(Vec::new()),
                ..by_version(&product)
            },
        )
        .await,
        &Vec::new(),
        "no channel allowed: nothing",
    );
    // Both bounds, each inclusive or not.
    let range = |min: Option<(&str, bool)>, max: Option<(&str, bool)>| ReleaseFilter {
        order_key_min: min.map(|(v, inclusive)| bound(v, inclusive)),
        order_key_max: max.map(|(v, inclusive)| bound(v, inclusive)),
        ..by_version(&product)
    };
    same(
        &list(
            &releases,
            &range(Some(("1.1.0", true)), Some(("1.2.0-rc.1", true))),
        )
        .await,
        &names(&["1.2.0-rc.1", "1.2.0-beta.1", "1.1.0"]),
        "from 1.1.0 to 1.2.0-rc.1, both within",
    );
    same(
        &list(
            &releases,
            &range(Some(("1.1.0", false)), Some(("1.2.0-rc.1", false))),
        )
        .await,
        &names(&["1.2.0-beta.1"]),
        "between 1.1.0 and 1.2.0-rc.1, neither within",
    );
    same(
        &list(&releases, &range(None, Some(("1.2.0", false)))).await,
        &names(&["1.2.0-rc.1", "1.2.0-beta.1", "1.1.0", "1.0.0"]),
        "below 1.2.0: its pre-releases too",
    );
    let not_semver = new_release(&product, "2026.12", T0 + 20);
    store_release(&releases, &not_semver).await;
    same(
        &list(
            &releases,
            &ReleaseFilter {
                order_key_min: Some(OrderKeyBound {
                    key: SEMVER_KEYS_FROM.to_owned(),
                    inclusive: true,
                }),
                ..range(None, Some(("1.1.0", true)))
            },
        )
        .await,
        &names(&["1.1.0", "1.0.0"]),
        "semver versions only: the version that is not semver sorts below them",
    );
    same(
        &list(&releases, &range(None, Some(("1.1.0", true)))).await,
        &names(&["1.1.0", "1.0.0", "2026.12"]),
        "without the semver bound it is read, last",
    );
}

/// The bound at `version`'s order key.
fn bound(version: &str, inclusive: bool) -> OrderKeyBound {
    OrderKeyBound {
        key: Version::parse(version).expect("v").order_key(),
        inclusive,
    }
}

/// `downloadable_on` keeps the releases with an artifact for the platform, whatever
/// its ASCII case (and only that: other letters are compared as they are, as the
/// domain compares platforms), that can be downloaded: not one whose only such
/// artifact is pending or failed, nor one with artifacts for other platforms only.
pub async fn downloadable_on_narrows_to_a_platform(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let product = fresh_product();
    let with = |version: &str, i: i64, platforms: &[(&str, Verification)]| {
        let release = new_release(&product, version, T0 + i);
        let artifacts: Vec<Artifact> = platforms
            .iter()
            .map(|(platform, verification)| Artifact {
                verification: *verification,
                ..new_artifact(&release, platform, T0 + i)
            })
            .collect();
        (release, artifacts)
    };
    let stored = [
        with("1.0.0", 0, &[("linux-x86_64", Verification::Unverified)]),
        with("1.1.0", 1, &[("Linux-X86_64", Verification::Verified)]),
        with("1.2.0", 2, &[("linux-x86_64", Verification::Pending)]),
        with(
            "1.3.0",
            3,
            &[
                ("linux-x86_64", Verification::Failed),
                ("darwin-arm64", Verification::Verified),
            ],
        ),
        with("1.4.0", 4, &[("Ünix-arm64", Verification::Verified)]),
        with(
            "1.5.0",
            5,
            &[
                ("windows-x86_64", Verification::Verified),
                ("LINUX-x86_64", Verification::Pending),
                ("linux-X86_64", Verification::Verified),
            ],
        ),
    ];
    for (release, files) in &stored {
        store_release(&releases, release).await;
        for file in files {
            store_artifact(&artifacts, file).await;
        }
    }
    let on = |platform: &str| ReleaseFilter {
        downloadable_on: Some(platform.to_owned()),
        ..by_version(&product)
    };
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    same(
        &list(&releases, &on("linux-x86_64")).await,
        &names(&["1.5.0", "1.1.0", "1.0.0"]),
        "downloadable for linux-x86_64",
    );
    same(
        &list(&releases, &on("LINUX-X86_64")).await,
        &names(&["1.5.0", "1.1.0", "1.0.0"]),
        "the platform asked for in other letters",
    );
    same(
        &list(&releases, &on("darwin-arm64")).await,
        &names(&["1.3.0"]),
        "downloadable for darwin-arm64",
    );
    same(
        &list(&releases, &on("linux")).await,
        &Vec::new(),
        "a platform is matched whole, not as a prefix",
    );
    same(
        &list(&releases, &on("ÜNIX-ARM64")).await,
        &names(&["1.4.0"]),
        "ASCII letters in other case",
    );
    same(
        &list(&releases, &on("ünix-arm64")).await,
        &Vec::new(),
        "only ASCII letters are matched without regard to case, whatever the database's locale",
    );
}

/// A yank applies only to a release that is not yanked, an unyank only to a yanked
/// one; each returns the release as stored, and an unknown id is `None`.
pub async fn yank_is_a_compare_and_set(releases: Arc<dyn ReleaseRepository>) {
    let release = new_release(&fresh_product(), "4.0.0", T0);
    store_release(&releases, &release).await;
    let mark = yank("bad build", true, T0 + 1);
    let yanked = ok(
        releases
            .set_yank(release.id, Some(&mark), &|_| change_event())
            .await,
        "ReleaseRepository::set_yank",
    );
    same(
        &yanked,
        &Some(Release {
            yank: Some(mark.clone()),
            ..release.clone()
        }),
        "a yank returns the yanked release",
    );
    same(
        &ok(
            releases
                .set_yank(release.id, Some(&yank("again", false, T0 + 2)), &|_| {
                    change_event()
                })
                .await,
            "ReleaseRepository::set_yank",
        ),
        &None,
        "yanking a yanked release changes nothing",
    );
    same(
        &ok(releases.get(release.id).await, "ReleaseRepository::get").and_then(|r| r.yank),
        &Some(mark),
        "the first yank stays",
    );
    same(
        &ok(
            releases
                .set_yank(release.id, None, &|_| change_event())
                .await,
            "ReleaseRepository::set_yank",
        ),
        &Some(release.clone()),
        "an unyank clears every yank field",
    );
    same(
        &ok(
            releases
                .set_yank(release.id, None, &|_| change_event())
                .await,
            "ReleaseRepository::set_yank",
        ),
        &None,
        "unyanking a release that is not yanked changes nothing",
    );
    same(
        &ok(
            releases
                .set_yank(
                    new_release(&fresh_product(), "1.0.0", T0).id,
                    Some(&yank("x", false, T0)),
                    &|_| change_event(),
                )
                .await,
            "ReleaseRepository::set_yank",
        ),
        &None,
        "an unknown release is None",
    );
}

/// `update_draft` writes the fields it names (clearing with `Some(None)`), keeps the
/// others, and applies only to a draft; an unknown or published release is `None`.
pub async fn update_draft_writes_only_named_fields_of_drafts(releases: Arc<dyn ReleaseRepository>) {
    let notes = ReleaseNotes::parse("first notes").expect("notes");
    let release = Release {
        notes: Some(notes.clone()),
        ..new_release(&fresh_product(), "6.0.0", T0)
    };
    store_release(&releases, &release).await;
    let metadata = ReleaseMetadata::parse(&serde_json::json!({"k": "v"})).expect("metadata");
    let update = |changes: ReleaseChanges, id| {
        let releases = releases.clone();
        async move {
            ok(
                releases
                    .update_draft(id, &changes, &|_, _| vec![change_event()])
                    .await,
                "ReleaseRepository::update_draft",
            )
        }
    };
    same(
        &update(
            ReleaseChanges {
                channel: Some(Channel::Alpha),
                metadata: Some(Some(metadata.clone())),
                ..ReleaseChanges::default()
            },
            release.id,
        )
        .await,
        &Some(Release {
            channel: Channel::Alpha,
            metadata: Some(metadata.clone()),
            ..release.clone()
        }),
        "channel and metadata written, notes kept",
    );
    same(
        &update(
            ReleaseChanges {
                notes: Some(None),
                ..ReleaseChanges::default()
            },
            release.id,
        )
        .await
        .map(|r| (r.notes, r.metadata)),
        &Some((None, Some(metadata))),
        "notes cleared, metadata kept",
    );
    ok(
        releases
            .transition(
                release.id,
                ReleaseStatus::Draft,
                ReleaseStatus::Published,
                Some(at(T0 + 1)),
                &change_event(),
            )
            .await,
        "ReleaseRepository::transition",
    );
    let change = || ReleaseChanges {
        notes: Some(Some(notes.clone())),
        ..ReleaseChanges::default()
    };
    same(
        &update(change(), release.id).await,
        &None,
        "a published release is not edited",
    );
    same(
        &ok(releases.get(release.id).await, "ReleaseRepository::get").and_then(|r| r.notes),
        &None,
        "and stays as it was",
    );
    same(
        &update(change(), new_release(&fresh_product(), "1.0.0", T0).id).await,
        &None,
        "an unknown release is None",
    );
}

/// An artifact's os, arch and file type are stored and read back; unknown ones stay
/// unknown.
pub async fn artifact_target_round_trips(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
) {
    let release = new_release(&fresh_product(), "7.0.0", T0);
    store_release(&releases, &release).await;
    let label = |field, v| TargetLabel::parse(field, v).expect("a valid label");
    let full = Artifact {
        target: ArtifactTarget {
            os: Some(label("os", "linux")),
            arch: Some(label("arch", "aarch64")),
            filetype: Some(label("filetype", "tar.gz")),
        },
        ..new_artifact(&release, "linux-arm64", T0 + 1)
    };
    let partial = Artifact {
        target: ArtifactTarget {
            filetype: Some(label("filetype", "dmg")),
            ..ArtifactTarget::default()
        },
        ..new_artifact(&release, "any", T0 + 2)
    };
    store_artifact(&artifacts, &full).await;
    store_artifact(&artifacts, &partial).await;
    same(
        &ok(
            artifacts.list_for_releases(&[release.id]).await,
            "ArtifactRepository::list_for_releases",
        ),
        &vec![full, partial],
        "os, arch and filetype round-trip",
    );
}

/// The download grant reports a yank that blocks downloads, and only that one.
pub async fn grant_sees_a_yank_that_blocks_downloads(
    releases: Arc<dyn ReleaseRepository>,
    artifacts: Arc<dyn ArtifactRepository>,
    download_tokens: Arc<dyn DownloadTokenRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = new_customer(&format!("Yank watcher {}", token()), None, T0);
    store_customer(&customers, &customer).await;
    let release = Release {
        status: ReleaseStatus::Published,
        published_at: Some(at(T0)),
        ..new_release(&fresh_product(), "5.0.0", T0)
    };
    store_release(&releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0 + 1);
    store_artifact(&artifacts, &artifact).await;
    let download = new_token(artifact.id, customer.id);
    ok(
        download_tokens.insert(&download, &change_event()).await,
        "DownloadTokenRepository::insert",
    );
    let blocked = || async {
        ok(
            download_tokens.find_grant(&download.token_hash).await,
            "DownloadTokenRepository::find_grant",
        )
        .map(|grant: DownloadGrant| grant.release_downloads_blocked)
    };
    same(&blocked().await, &Some(false), "not yanked");
    let set = |mark: Option<Yank>| {
        let releases = releases.clone();
        async move {
            ok(
                releases
                    .set_yank(release.id, mark.as_ref(), &|_| change_event())
                    .await,
                "ReleaseRepository::set_yank",
            )
        }
    };
    set(Some(yank("pinned users may stay", false, T0 + 2))).await;
    same(&blocked().await, &Some(false), "yanked, downloads allowed");
    set(None).await;
    set(Some(yank("malware", true, T0 + 3))).await;
    same(
        &blocked().await,
        &Some(true),
        "yanked with downloads blocked",
    );
    set(None).await;
    same(&blocked().await, &Some(false), "unyanked");
}
