//! Checks of [`EntitlementRepository`]: storage round trip (metadata included), reads,
//! compare-and-set replacements and deletes scoped to the customer, the newest-first
//! listing with its product filter and paging, the customer's access (every
//! entitlement with its scope) and the products it shows at the window's boundaries;
//! and, through `EntitlementService` over the store, that concurrent changes
//! never invert a window nor lose one another's fields.

use std::sync::Arc;

use releasy_domain::audit::Origin;
use releasy_domain::entitlement::{
    DownloadQuota, Entitlement, EntitlementChanges, EntitlementError, EntitlementScope,
    EntitlementService, EntitlementWindow, Metadata, ProductGrant, QuotaPeriod,
};
use releasy_domain::memory::{FixedClock, InMemoryReleases};
use releasy_domain::ports::{CustomerRepository, EntitlementRepository, RepoError};
use releasy_domain::release::{Channel, Product, VersionRequirement};
use releasy_domain::{CustomerId, EntitlementId};
use serde_json::json;

use super::change_event;
use super::releases::{fresh_product, page};
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token};

/// Runs every entitlement check; `customers` must be the store entitlements refer to.
pub async fn run_all(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (e, c) = (entitlements, customers);
    run_check!(insert_get_round_trip(e.clone(), c.clone()));
    run_check!(get_is_scoped_to_the_customer(e.clone(), c.clone()));
    run_check!(duplicate_id_is_a_conflict(e.clone(), c.clone()));
    run_check!(list_is_newest_first_and_filters_by_product(
        e.clone(),
        c.clone()
    ));
    run_check!(list_pages_by_offset_and_limit(e.clone(), c.clone()));
    run_check!(replace_writes_the_whole_entitlement_at_the_next_revision(
        e.clone(),
        c.clone()
    ));
    run_check!(replace_of_a_stale_revision_writes_nothing(
        e.clone(),
        c.clone()
    ));
    run_check!(replace_of_unknown_or_foreign_is_none(e.clone(), c.clone()));
    run_check!(concurrent_changes_never_invert_the_window_nor_lose_a_field(
        e.clone(),
        c.clone()
    ));
    run_check!(delete_removes_only_that_entitlement(e.clone(), c.clone()));
    run_check!(scopes_round_trip_through_every_read(e.clone(), c.clone()));
    run_check!(visible_products_follow_the_window(e, c));
}

/// Stores a fresh customer and returns its id.
async fn customer(customers: &Arc<dyn CustomerRepository>) -> CustomerId {
    let customer = new_customer(&format!("Entitled {}", token()), Some("core"), T0);
    store_customer(customers, &customer).await;
    customer.id
}

/// An entitlement value (not stored) with a fresh id and no metadata.
fn new_entitlement(
    customer: CustomerId,
    product: &str,
    starts_at: i64,
    ends_at: Option<i64>,
    created_at: i64,
) -> Entitlement {
    Entitlement {
        id: EntitlementId::generate(),
        customer_id: customer,
        product: Product::parse(product).expect("a valid product"),
        window: EntitlementWindow::new(at(starts_at), ends_at.map(at))
            .expect("a valid entitlement window"),
        scope: EntitlementScope::default(),
        metadata: None,
        download_quota: None,
        created_at: at(created_at),
        revision: 0,
    }
}

fn quota(downloads: Option<u64>, bytes: Option<u64>, period: QuotaPeriod) -> DownloadQuota {
    DownloadQuota::new(downloads, bytes, period).expect("a valid quota")
}

fn metadata(value: serde_json::Value) -> Option<Metadata> {
    Some(Metadata::parse(value).expect("a JSON object"))
}

async fn store(entitlements: &Arc<dyn EntitlementRepository>, entitlement: &Entitlement) {
    ok(
        entitlements.insert(entitlement, &change_event()).await,
        "EntitlementRepository::insert",
    );
}

async fn replace(
    entitlements: &Arc<dyn EntitlementRepository>,
    current: &Entitlement,
    updated: &Entitlement,
) -> Option<Entitlement> {
    ok(
        entitlements
            .replace(current, updated, &change_event())
            .await,
        "EntitlementRepository::replace",
    )
}

async fn get(
    entitlements: &Arc<dyn EntitlementRepository>,
    customer: CustomerId,
    id: EntitlementId,
) -> Option<Entitlement> {
    ok(
        entitlements.get(customer, id).await,
        "EntitlementRepository::get",
    )
}

async fn list(
    entitlements: &Arc<dyn EntitlementRepository>,
    customer: CustomerId,
    product: Option<&str>,
    offset: i64,
    limit: i64,
) -> Vec<Entitlement> {
    ok(
        entitlements
            .list(customer, product, page(offset, limit))
            .await,
        "EntitlementRepository::list",
    )
}

async fn grants(
    entitlements: &Arc<dyn EntitlementRepository>,
    customer: CustomerId,
) -> Vec<ProductGrant> {
    let mut grants = ok(
        entitlements.customer_access(customer).await,
        "EntitlementRepository::customer_access",
    )
    .grants()
    .to_vec();
    grants.sort_by_key(|g| g.id.to_string());
    grants
}

/// The products a customer's listing shows whole at `now`.
async fn active(
    entitlements: &Arc<dyn EntitlementRepository>,
    customer: CustomerId,
    now: i64,
) -> Vec<String> {
    ok(
        entitlements.customer_access(customer).await,
        "EntitlementRepository::customer_access",
    )
    .visible_at(at(now))
    .whole
}

/// The listing order the contract promises: `(created_at, id)` descending.
fn newest_first<'a>(entitlements: impl IntoIterator<Item = &'a Entitlement>) -> Vec<Entitlement> {
    let mut entitlements: Vec<Entitlement> = entitlements.into_iter().cloned().collect();
    entitlements.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
    entitlements
}

/// An entitlement round-trips through insert and get: open-ended or bounded, with
/// nested metadata, an empty object, or none; with a download quota of either limit,
/// both, the largest, or none (and the access read carries the same quotas).
pub async fn insert_get_round_trip(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let full = Entitlement {
        metadata: metadata(json!({
            "seats": 25,
            "ratio": 2.5,
            "tier": "gold",
            "nested": {"list": [1, "two", true, null], "empty": {}},
            "text": "quotes \" and unicode é ✓",
        })),
        download_quota: Some(quota(Some(100), Some(50 << 30), QuotaPeriod::Month)),
        ..new_entitlement(owner, "releasy-server", 0, Some(T0 + 3600), T0)
    };
    let empty_object = Entitlement {
        metadata: metadata(json!({})),
        download_quota: Some(quota(
            None,
            Some(DownloadQuota::MAX_LIMIT),
            QuotaPeriod::Day,
        )),
        ..new_entitlement(owner, "releasy-cli", T0, Some(T0), T0 + 1)
    };
    let bare = Entitlement {
        download_quota: Some(quota(Some(1), None, QuotaPeriod::Day)),
        ..new_entitlement(owner, "releasy-agent", T0, None, T0 + 2)
    };
    let unlimited = new_entitlement(owner, "releasy-agent", T0, None, T0 + 3);
    for entitlement in [&full, &empty_object, &bare, &unlimited] {
        store(&entitlements, entitlement).await;
    }
    let access = ok(entitlements.customer_access(owner).await, "customer_access");
    let quotas: Vec<_> = access.grants().iter().map(|g| (g.id, g.quota)).collect();
    same(
        &quotas,
        &[&full, &empty_object, &bare, &unlimited]
            .iter()
            .map(|e| (e.id, e.download_quota))
            .collect::<Vec<_>>(),
        "the access read carries each entitlement's quota, oldest first",
    );
    for entitlement in [&full, &empty_object, &bare, &unlimited] {
        same(
            &get(&entitlements, owner, entitlement.id).await.as_ref(),
            &Some(entitlement),
            "get returns the stored entitlement",
        );
    }
}

/// `get` is `None` for an unknown id, and for an id of another customer's entitlement.
pub async fn get_is_scoped_to_the_customer(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, stranger) = (customer(&customers).await, customer(&customers).await);
    let entitlement = new_entitlement(owner, &fresh_product(), 0, None, T0);
    store(&entitlements, &entitlement).await;
    same(
        &get(&entitlements, stranger, entitlement.id).await,
        &None,
        "get of another customer's entitlement",
    );
    same(
        &get(&entitlements, owner, EntitlementId::generate()).await,
        &None,
        "get of an unknown entitlement id",
    );
    same(
        &get(&entitlements, owner, entitlement.id).await,
        &Some(entitlement),
        "get by its own customer",
    );
}

/// Inserting a second entitlement with an existing id is [`RepoError::Conflict`]; the
/// first is kept.
pub async fn duplicate_id_is_a_conflict(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let first = new_entitlement(owner, &fresh_product(), 0, None, T0);
    store(&entitlements, &first).await;
    let duplicate = Entitlement {
        id: first.id,
        ..new_entitlement(owner, &fresh_product(), 5, None, T0 + 1)
    };
    match entitlements.insert(&duplicate, &change_event()).await {
        Err(RepoError::Conflict) => {}
        other => {
            panic!("inserting a duplicate entitlement id: expected Err(Conflict), got {other:?}")
        }
    }
    same(
        &get(&entitlements, owner, first.id).await,
        &Some(first),
        "the first entitlement survives a duplicate insert",
    );
}

/// A customer's entitlements list newest first (by `created_at`, then id, descending),
/// optionally of one product (exact match); other customers' never show.
pub async fn list_is_newest_first_and_filters_by_product(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, other) = (customer(&customers).await, customer(&customers).await);
    let (a, b) = (fresh_product(), fresh_product());
    let stored = vec![
        new_entitlement(owner, &a, 0, None, T0 + 10),
        new_entitlement(owner, &b, 0, None, T0 + 30),
        new_entitlement(owner, &a, 0, Some(T0), T0 + 20),
        new_entitlement(owner, &a, 0, None, T0 + 30),
        new_entitlement(owner, &b, 0, None, T0 - 5),
        new_entitlement(owner, &a, 0, None, T0 + 30),
    ];
    for entitlement in &stored {
        store(&entitlements, entitlement).await;
    }
    store(&entitlements, &new_entitlement(other, &a, 0, None, T0 + 40)).await;
    same(
        &list(&entitlements, owner, None, 0, 200).await,
        &newest_first(&stored),
        "a customer's entitlements, newest first by (created_at desc, id desc)",
    );
    let of_a: Vec<&Entitlement> = stored.iter().filter(|e| e.product.as_str() == a).collect();
    same(
        &list(&entitlements, owner, Some(&a), 0, 200).await,
        &newest_first(of_a),
        "a customer's entitlements of one product",
    );
    same(
        &list(&entitlements, owner, Some(&a[..a.len() - 1]), 0, 200).await,
        &vec![],
        "the product filter is exact, not a prefix",
    );
    same(
        &list(&entitlements, customer(&customers).await, None, 0, 200).await,
        &vec![],
        "a customer without entitlements",
    );
}

/// `offset` skips entitlements and `limit` caps the page, in the listing order, with and
/// without the product filter.
pub async fn list_pages_by_offset_and_limit(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let product = fresh_product();
    let stored: Vec<Entitlement> = [T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3]
        .iter()
        .map(|t| new_entitlement(owner, &product, 0, None, *t))
        .collect();
    for entitlement in &stored {
        store(&entitlements, entitlement).await;
    }
    store(
        &entitlements,
        &new_entitlement(owner, &fresh_product(), 0, None, T0 + 2),
    )
    .await;
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
            &list(&entitlements, owner, Some(&product), offset, limit).await,
            &expected[range].to_vec(),
            &format!("entitlement page at offset {offset}, limit {limit}"),
        );
    }
    same(
        &list(&entitlements, owner, None, 1, 2).await.len(),
        &2,
        "a page without the product filter",
    );
}

/// `replace` writes the whole entitlement it is given (setting a quota, and clearing
/// `ends_at`, `metadata` and the quota too) at the next revision and returns what is stored; other entitlements
/// are left alone.
pub async fn replace_writes_the_whole_entitlement_at_the_next_revision(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let original = Entitlement {
        metadata: metadata(json!({"seats": 5})),
        ..new_entitlement(owner, &fresh_product(), 0, Some(T0 + 100), T0)
    };
    let bystander = new_entitlement(owner, &fresh_product(), 0, None, T0);
    store(&entitlements, &original).await;
    store(&entitlements, &bystander).await;
    let changed = Entitlement {
        product: Product::parse(&fresh_product()).expect("a valid product"),
        window: EntitlementWindow::new(at(T0 + 10), Some(at(T0 + 20)))
            .expect("a valid entitlement window"),
        metadata: metadata(json!({"seats": 50, "note": "upgraded"})),
        download_quota: Some(quota(Some(10), None, QuotaPeriod::Month)),
        ..original.clone()
    };
    let stored_changed = Entitlement {
        revision: 1,
        ..changed.clone()
    };
    same(
        &replace(&entitlements, &original, &changed).await,
        &Some(stored_changed.clone()),
        "replace of the stored revision",
    );
    same(
        &get(&entitlements, owner, original.id).await,
        &Some(stored_changed.clone()),
        "the entitlement after the replace",
    );
    let cleared = Entitlement {
        window: EntitlementWindow::new(at(T0 + 10), None).expect("a valid entitlement window"),
        metadata: None,
        download_quota: None,
        ..stored_changed.clone()
    };
    let stored_cleared = Entitlement {
        revision: 2,
        ..cleared.clone()
    };
    same(
        &replace(&entitlements, &stored_changed, &cleared).await,
        &Some(stored_cleared.clone()),
        "replace clearing the end and the metadata",
    );
    same(
        &get(&entitlements, owner, original.id).await,
        &Some(stored_cleared),
        "the entitlement after clearing",
    );
    same(
        &get(&entitlements, owner, bystander.id).await,
        &Some(bystander),
        "replacing one entitlement leaves the others alone",
    );
}

/// A replacement judged on a revision that is no longer stored writes nothing and
/// returns `None`: of two changes made from the same read, the second never overwrites
/// the first (it must be read, merged and judged again). Of concurrent replacements
/// from one revision exactly one applies.
pub async fn replace_of_a_stale_revision_writes_nothing(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let read = new_entitlement(owner, &fresh_product(), T0 + 10, Some(T0 + 20), T0);
    store(&entitlements, &read).await;
    let moved_start = Entitlement {
        window: EntitlementWindow::new(at(T0 + 20), Some(at(T0 + 20)))
            .expect("a valid entitlement window"),
        ..read.clone()
    };
    let annotated = Entitlement {
        metadata: metadata(json!({"lost": true})),
        ..read.clone()
    };
    assert!(
        replace(&entitlements, &read, &moved_start).await.is_some(),
        "the first replace of the read revision applies"
    );
    same(
        &replace(&entitlements, &read, &annotated).await,
        &None,
        "a replace judged on the revision the first one replaced",
    );
    same(
        &get(&entitlements, owner, read.id).await,
        &Some(Entitlement {
            revision: 1,
            ..moved_start
        }),
        "only the first replacement is stored",
    );

    let raced = new_entitlement(owner, &fresh_product(), T0, None, T0);
    store(&entitlements, &raced).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let entitlements = entitlements.clone();
            let raced = raced.clone();
            tokio::spawn(async move {
                let updated = Entitlement {
                    metadata: metadata(json!({"writer": i})),
                    ..raced.clone()
                };
                entitlements
                    .replace(&raced, &updated, &change_event())
                    .await
            })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        let outcome = ok(task.await.expect("the task ran"), "concurrent replace");
        applied += usize::from(outcome.is_some());
    }
    same(
        &applied,
        &1,
        "concurrent replacements from one revision that apply",
    );
    same(
        &get(&entitlements, owner, raced.id)
            .await
            .map(|e| e.revision),
        &Some(1),
        "the revision after one applied replacement",
    );
}

/// `replace` is `None` for an unknown id, and for an entitlement named with another
/// customer (which stays as it was).
pub async fn replace_of_unknown_or_foreign_is_none(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, stranger) = (customer(&customers).await, customer(&customers).await);
    let entitlement = new_entitlement(owner, &fresh_product(), 0, None, T0);
    store(&entitlements, &entitlement).await;
    let foreign = Entitlement {
        customer_id: stranger,
        ..entitlement.clone()
    };
    let ended = Entitlement {
        window: EntitlementWindow::new(at(0), Some(at(T0))).expect("a valid entitlement window"),
        ..foreign.clone()
    };
    same(
        &replace(&entitlements, &foreign, &ended).await,
        &None,
        "replace of another customer's entitlement",
    );
    let unknown = Entitlement {
        id: EntitlementId::generate(),
        ..entitlement.clone()
    };
    same(
        &replace(&entitlements, &unknown, &unknown).await,
        &None,
        "replace of an unknown entitlement id",
    );
    same(
        &get(&entitlements, owner, entitlement.id).await,
        &Some(entitlement.clone()),
        "another customer's replace changes nothing",
    );
    same(
        &get(&entitlements, stranger, entitlement.id).await,
        &None,
        "another customer's replace does not move the entitlement",
    );
}

/// Through `EntitlementService` over this store: four changes of one entitlement at
/// once (a later start, an end before that start, new metadata, a new product). Each
/// is merged and judged against what is stored when it writes, so the start and the
/// end never both apply (the later one is refused naming its field), and the metadata
/// and product changes both land whatever the order.
pub async fn concurrent_changes_never_invert_the_window_nor_lose_a_field(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let stored = new_entitlement(owner, &fresh_product(), T0, Some(T0 + 100), T0);
    store(&entitlements, &stored).await;
    let service = EntitlementService::new(
        entitlements.clone(),
        customers,
        Arc::new(InMemoryReleases::new(Arc::default())),
        Arc::new(FixedClock::at(at(T0))),
    );
    let product = Product::parse(&fresh_product()).expect("a valid product");
    let changes = [
        EntitlementChanges {
            starts_at: Some(at(T0 + 50)),
            ..EntitlementChanges::default()
        },
        EntitlementChanges {
            ends_at: Some(Some(at(T0 + 40))),
            ..EntitlementChanges::default()
        },
        EntitlementChanges {
            metadata: Some(metadata(json!({"seats": 9}))),
            ..EntitlementChanges::default()
        },
        EntitlementChanges {
            product: Some(product.clone()),
            ..EntitlementChanges::default()
        },
    ];
    let tasks: Vec<_> = changes
        .into_iter()
        .map(|change| {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .update(&Origin::admin_key(), owner, stored.id, change)
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("the task ran"));
    }
    let [start, end, seats, renamed] = <[_; 4]>::try_from(outcomes).expect("four outcomes");
    assert!(
        seats.is_ok() && renamed.is_ok(),
        "changes of other fields apply: {seats:?}, {renamed:?}"
    );
    let refused = |outcome: &Result<Entitlement, EntitlementError>, field: &str| matches!(outcome, Err(EntitlementError::Invalid(invalid)) if invalid.field == field);
    let after = get(&entitlements, owner, stored.id)
        .await
        .expect("the entitlement is still there");
    match (start.is_ok(), end.is_ok()) {
        (true, false) => {
            assert!(refused(&end, "ends_at"), "the end was refused: {end:?}");
            same(
                &after.window,
                &EntitlementWindow::new(at(T0 + 50), Some(at(T0 + 100))).expect("a window"),
                "the window after the later start",
            );
        }
        (false, true) => {
            assert!(
                refused(&start, "ends_at"),
                "the start was refused: {start:?}"
            );
            same(
                &after.window,
                &EntitlementWindow::new(at(T0), Some(at(T0 + 40))).expect("a window"),
                "the window after the earlier end",
            );
        }
        both => panic!("exactly one bound change applies, not {both:?}: {start:?}, {end:?}"),
    }
    same(
        &after.metadata,
        &metadata(json!({"seats": 9})),
        "the metadata change is kept",
    );
    same(&after.product, &product, "the product change is kept");
    same(&after.revision, &3, "three changes were stored");
}

/// `delete` removes the customer's entitlement and returns `true`; an unknown id, an id
/// of another customer's entitlement, or a second delete return `false`.
pub async fn delete_removes_only_that_entitlement(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, stranger) = (customer(&customers).await, customer(&customers).await);
    let doomed = new_entitlement(owner, &fresh_product(), 0, None, T0);
    let kept = new_entitlement(owner, &fresh_product(), 0, None, T0);
    store(&entitlements, &doomed).await;
    store(&entitlements, &kept).await;
    let delete = |customer: CustomerId, id: EntitlementId| {
        let entitlements = entitlements.clone();
        async move {
            ok(
                entitlements.delete(customer, id, &|_| change_event()).await,
                "EntitlementRepository::delete",
            )
        }
    };
    same(
        &delete(stranger, doomed.id).await,
        &false,
        "delete of another customer's entitlement",
    );
    same(
        &get(&entitlements, owner, doomed.id).await,
        &Some(doomed.clone()),
        "another customer's delete removes nothing",
    );
    same(
        &delete(owner, EntitlementId::generate()).await,
        &false,
        "delete of an unknown entitlement id",
    );
    same(
        &delete(owner, doomed.id).await,
        &true,
        "delete of a stored entitlement",
    );
    same(
        &get(&entitlements, owner, doomed.id).await,
        &None,
        "the deleted entitlement",
    );
    same(
        &delete(owner, doomed.id).await,
        &false,
        "deleting the entitlement again",
    );
    same(
        &list(&entitlements, owner, None, 0, 200).await,
        &vec![kept],
        "the other entitlement is kept",
    );
}

/// Channels, versions and the perpetual fallback are stored and read back by `get`,
/// `list`, `replace` and `customer_access`, which returns every entitlement of the
/// customer (ended ones too) and no other customer's.
pub async fn scopes_round_trip_through_every_read(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, other) = (customer(&customers).await, customer(&customers).await);
    let narrowed = Entitlement {
        scope: EntitlementScope {
            channels: Some(vec![Channel::Stable, Channel::Rc, Channel::Dev]),
            versions: Some(
                VersionRequirement::parse("versions", ">=2.0, <3").expect("a requirement"),
            ),
            perpetual_fallback: true,
        },
        ..new_entitlement(owner, &fresh_product(), 0, Some(T0), T0)
    };
    let plain = new_entitlement(owner, &fresh_product(), 0, None, T0 + 1);
    // No channel at all: the API refuses it, the library may set it.
    let no_channel = Entitlement {
        scope: EntitlementScope {
            channels: Some(Vec::new()),
            ..EntitlementScope::default()
        },
        ..new_entitlement(other, &fresh_product(), 0, None, T0)
    };
    store(&entitlements, &no_channel).await;
    same(
        &get(&entitlements, other, no_channel.id).await,
        &Some(no_channel),
        "an empty channel list round-trips",
    );
    for entitlement in [&narrowed, &plain] {
        store(&entitlements, entitlement).await;
    }
    store(
        &entitlements,
        &new_entitlement(other, &fresh_product(), 0, None, T0),
    )
    .await;
    same(
        &get(&entitlements, owner, narrowed.id).await,
        &Some(narrowed.clone()),
        "get returns the scope",
    );
    same(
        &list(&entitlements, owner, None, 0, 10).await,
        &vec![plain.clone(), narrowed.clone()],
        "list returns the scopes",
    );
    let mut expected: Vec<ProductGrant> = [&narrowed, &plain]
        .into_iter()
        .map(ProductGrant::from)
        .collect();
    expected.sort_by_key(|g| g.id.to_string());
    same(
        &grants(&entitlements, owner).await,
        &expected,
        "customer_access: every entitlement of the customer, the ended one too",
    );
    let widened = Entitlement {
        scope: EntitlementScope::default(),
        ..narrowed.clone()
    };
    let stored = replace(&entitlements, &narrowed, &widened)
        .await
        .expect("the replacement applies");
    same(
        &stored.scope,
        &EntitlementScope::default(),
        "replace clears channels and versions and the fallback",
    );
    same(
        &get(&entitlements, owner, narrowed.id)
            .await
            .map(|e| e.scope),
        &Some(EntitlementScope::default()),
        "the cleared scope is stored",
    );
}

/// `customer_access` shows each product once whose entitlement is active at `now`:
/// `starts_at == now` is active, `ends_at == now` is not; other customers' entitlements
/// never count.
pub async fn visible_products_follow_the_window(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, other) = (customer(&customers).await, customer(&customers).await);
    let now = T0 + 1_000;
    let t = token();
    let product = |name: &str| format!("{name}-{t}");
    let stored = vec![
        // Starts exactly now: active.
        new_entitlement(owner, &product("starts-now"), now, None, T0),
        // A second, older entitlement of the same product: listed once.
        new_entitlement(owner, &product("starts-now"), 0, Some(now + 5), T0),
        // Ends exactly now: no longer active.
        new_entitlement(owner, &product("ends-now"), now - 10, Some(now), T0),
        // Ends one second later: active.
        new_entitlement(owner, &product("ends-later"), 0, Some(now + 1), T0),
        // Not started yet.
        new_entitlement(owner, &product("future"), now + 1, None, T0),
        // Long over.
        new_entitlement(owner, &product("past"), 0, Some(now - 500), T0),
        // Empty window (starts_at == ends_at): never active.
        new_entitlement(owner, &product("empty"), now, Some(now), T0),
    ];
    for entitlement in &stored {
        store(&entitlements, entitlement).await;
    }
    store(
        &entitlements,
        &new_entitlement(other, &product("someone-else"), 0, None, T0),
    )
    .await;
    let sorted = |names: &[&str]| {
        let mut products: Vec<String> = names.iter().map(|n| product(n)).collect();
        products.sort();
        products
    };
    same(
        &active(&entitlements, owner, now).await,
        &sorted(&["starts-now", "ends-later"]),
        "active products at now (distinct, window boundaries respected)",
    );
    same(
        &active(&entitlements, owner, now - 1).await,
        &sorted(&["starts-now", "ends-now", "ends-later"]),
        "active products one second earlier",
    );
    same(
        &active(&entitlements, owner, now + 5).await,
        &sorted(&["starts-now", "future"]),
        "active products five seconds later",
    );
    same(
        &active(&entitlements, customer(&customers).await, now).await,
        &vec![],
        "active products of a customer without entitlements",
    );
}
