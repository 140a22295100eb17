//! Checks of [`EntitlementRepository`]: storage round trip (metadata included), reads,
//! updates and deletes scoped to the customer, the newest-first listing with its
//! product filter and paging, and the active products at the window's boundaries.

use std::sync::Arc;

use releasy_domain::entitlement::{Entitlement, EntitlementChanges, EntitlementWindow, Metadata};
use releasy_domain::ports::{CustomerRepository, EntitlementRepository, RepoError};
use releasy_domain::release::Product;
use releasy_domain::{CustomerId, EntitlementId};
use serde_json::json;

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
    run_check!(update_applies_the_changes(e.clone(), c.clone()));
    run_check!(update_keeps_the_fields_it_does_not_name(
        e.clone(),
        c.clone()
    ));
    run_check!(update_never_inverts_the_window(e.clone(), c.clone()));
    run_check!(update_of_unknown_or_foreign_is_none(e.clone(), c.clone()));
    run_check!(delete_removes_only_that_entitlement(e.clone(), c.clone()));
    run_check!(active_products_follow_the_window(e, c));
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
        metadata: None,
        created_at: at(created_at),
    }
}

fn metadata(value: serde_json::Value) -> Option<Metadata> {
    Some(Metadata::parse(value).expect("a JSON object"))
}

async fn store(entitlements: &Arc<dyn EntitlementRepository>, entitlement: &Entitlement) {
    ok(
        entitlements.insert(entitlement).await,
        "EntitlementRepository::insert",
    );
}

async fn update(
    entitlements: &Arc<dyn EntitlementRepository>,
    customer: CustomerId,
    id: EntitlementId,
    changes: &EntitlementChanges,
) -> Option<Entitlement> {
    ok(
        entitlements.update(customer, id, changes).await,
        "EntitlementRepository::update",
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

async fn active(
    entitlements: &Arc<dyn EntitlementRepository>,
    customer: CustomerId,
    now: i64,
) -> Vec<String> {
    let mut products = ok(
        entitlements.active_products(customer, at(now)).await,
        "EntitlementRepository::active_products",
    );
    products.sort();
    products
}

/// The listing order the contract promises: `(created_at, id)` descending.
fn newest_first<'a>(entitlements: impl IntoIterator<Item = &'a Entitlement>) -> Vec<Entitlement> {
    let mut entitlements: Vec<Entitlement> = entitlements.into_iter().cloned().collect();
    entitlements.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
    entitlements
}

/// An entitlement round-trips through insert and get: open-ended or bounded, with
/// nested metadata, an empty object, or none.
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
        ..new_entitlement(owner, "releasy-server", 0, Some(T0 + 3600), T0)
    };
    let empty_object = Entitlement {
        metadata: metadata(json!({})),
        ..new_entitlement(owner, "releasy-cli", T0, Some(T0), T0 + 1)
    };
    let bare = new_entitlement(owner, "releasy-agent", T0, None, T0 + 2);
    for entitlement in [&full, &empty_object, &bare] {
        store(&entitlements, entitlement).await;
    }
    for entitlement in [&full, &empty_object, &bare] {
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
    match entitlements.insert(&duplicate).await {
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

/// `update` writes the changed fields (clearing `ends_at` and `metadata` too) and
/// returns the entitlement afterwards; no change at all returns it as stored; other
/// entitlements are left alone.
pub async fn update_applies_the_changes(
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
    let product = Product::parse(&fresh_product()).expect("a valid product");
    let change = EntitlementChanges {
        product: Some(product.clone()),
        starts_at: Some(at(T0 + 10)),
        ends_at: Some(Some(at(T0 + 20))),
        metadata: Some(metadata(json!({"seats": 50, "note": "upgraded"}))),
    };
    let changed = Entitlement {
        product,
        window: EntitlementWindow::new(at(T0 + 10), Some(at(T0 + 20)))
            .expect("a valid entitlement window"),
        metadata: metadata(json!({"seats": 50, "note": "upgraded"})),
        ..original.clone()
    };
    let clear = EntitlementChanges {
        ends_at: Some(None),
        metadata: Some(None),
        ..EntitlementChanges::default()
    };
    let cleared = Entitlement {
        window: EntitlementWindow::new(at(T0 + 10), None).expect("a valid entitlement window"),
        metadata: None,
        ..changed.clone()
    };
    let steps = [
        ("changed", change, &changed),
        ("cleared", clear, &cleared),
        ("no change", EntitlementChanges::default(), &cleared),
    ];
    for (what, changes, expected) in steps {
        same(
            &update(&entitlements, owner, original.id, &changes)
                .await
                .as_ref(),
            &Some(expected),
            &format!("update ({what}) of a stored entitlement"),
        );
        same(
            &get(&entitlements, owner, original.id).await.as_ref(),
            &Some(expected),
            &format!("the entitlement after the update ({what})"),
        );
    }
    same(
        &get(&entitlements, owner, bystander.id).await,
        &Some(bystander),
        "updating one entitlement leaves the others alone",
    );
}

/// Two updates, each naming one field, both take effect: the second writes only its
/// own field, not the first one's as it was before (two operators' concurrent `PATCH`es
/// of different fields both count).
pub async fn update_keeps_the_fields_it_does_not_name(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let original = new_entitlement(owner, &fresh_product(), T0, None, T0);
    store(&entitlements, &original).await;
    let end = EntitlementChanges {
        ends_at: Some(Some(at(T0 + 60))),
        ..EntitlementChanges::default()
    };
    let annotate = EntitlementChanges {
        metadata: Some(metadata(json!({"reason": "contract ended"}))),
        ..EntitlementChanges::default()
    };
    update(&entitlements, owner, original.id, &end).await;
    let both = Entitlement {
        window: EntitlementWindow::new(at(T0), Some(at(T0 + 60)))
            .expect("a valid entitlement window"),
        metadata: metadata(json!({"reason": "contract ended"})),
        ..original.clone()
    };
    same(
        &update(&entitlements, owner, original.id, &annotate).await,
        &Some(both.clone()),
        "an update of the metadata after another of the end",
    );
    same(
        &get(&entitlements, owner, original.id).await,
        &Some(both),
        "both changes are stored",
    );
}

/// An update that would leave the window ending before it starts, judged against the
/// stored bound it keeps, applies nothing and returns `None`; one that fits applies.
pub async fn update_never_inverts_the_window(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let owner = customer(&customers).await;
    let stored = new_entitlement(owner, &fresh_product(), T0 + 10, Some(T0 + 20), T0);
    store(&entitlements, &stored).await;
    let inverting = [
        (
            "an end before the stored start",
            EntitlementChanges {
                ends_at: Some(Some(at(T0 + 5))),
                metadata: Some(metadata(json!({"lost": true}))),
                ..EntitlementChanges::default()
            },
        ),
        (
            "a start after the stored end",
            EntitlementChanges {
                starts_at: Some(at(T0 + 30)),
                product: Some(Product::parse(&fresh_product()).expect("a valid product")),
                ..EntitlementChanges::default()
            },
        ),
        (
            "both bounds, the end before the start",
            EntitlementChanges {
                starts_at: Some(at(T0 + 30)),
                ends_at: Some(Some(at(T0 + 25))),
                ..EntitlementChanges::default()
            },
        ),
        (
            "a negative start",
            EntitlementChanges {
                starts_at: Some(at(-1)),
                ..EntitlementChanges::default()
            },
        ),
    ];
    for (what, changes) in inverting {
        same(
            &update(&entitlements, owner, stored.id, &changes).await,
            &None,
            &format!("update with {what}"),
        );
        same(
            &get(&entitlements, owner, stored.id).await.as_ref(),
            &Some(&stored),
            &format!("nothing of an update with {what} is stored"),
        );
    }
    // (what, stored end, change, window afterwards); every stored window starts at T0 + 10.
    let fitting = [
        (
            "a start equal to the stored end",
            Some(T0 + 20),
            EntitlementChanges {
                starts_at: Some(at(T0 + 20)),
                ..EntitlementChanges::default()
            },
            (T0 + 20, Some(T0 + 20)),
        ),
        (
            "an end equal to the stored start",
            Some(T0 + 20),
            EntitlementChanges {
                ends_at: Some(Some(at(T0 + 10))),
                ..EntitlementChanges::default()
            },
            (T0 + 10, Some(T0 + 10)),
        ),
        (
            "a later start of an entitlement without an end",
            None,
            EntitlementChanges {
                starts_at: Some(at(T0 + 50)),
                ..EntitlementChanges::default()
            },
            (T0 + 50, None),
        ),
        (
            "a start after the stored end, with a new end",
            Some(T0 + 20),
            EntitlementChanges {
                starts_at: Some(at(T0 + 30)),
                ends_at: Some(Some(at(T0 + 40))),
                ..EntitlementChanges::default()
            },
            (T0 + 30, Some(T0 + 40)),
        ),
        (
            "a start after the stored end, with the end cleared",
            Some(T0 + 20),
            EntitlementChanges {
                starts_at: Some(at(T0 + 30)),
                ends_at: Some(None),
                ..EntitlementChanges::default()
            },
            (T0 + 30, None),
        ),
    ];
    for (what, stored_end, changes, (starts_at, ends_at)) in fitting {
        let fresh = new_entitlement(owner, &fresh_product(), T0 + 10, stored_end, T0);
        store(&entitlements, &fresh).await;
        let expected = Entitlement {
            window: EntitlementWindow::new(at(starts_at), ends_at.map(at))
                .expect("a valid entitlement window"),
            ..fresh.clone()
        };
        same(
            &update(&entitlements, owner, fresh.id, &changes).await,
            &Some(expected.clone()),
            &format!("update with {what}"),
        );
        same(
            &get(&entitlements, owner, fresh.id).await,
            &Some(expected),
            &format!("the entitlement after an update with {what}"),
        );
    }
}

/// `update` is `None` for an unknown id, and for an id of another customer's
/// entitlement (which stays as it was).
pub async fn update_of_unknown_or_foreign_is_none(
    entitlements: Arc<dyn EntitlementRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let (owner, stranger) = (customer(&customers).await, customer(&customers).await);
    let entitlement = new_entitlement(owner, &fresh_product(), 0, None, T0);
    store(&entitlements, &entitlement).await;
    let change = EntitlementChanges {
        ends_at: Some(Some(at(T0))),
        ..EntitlementChanges::default()
    };
    for (what, changes) in [
        ("a change", &change),
        ("no change", &EntitlementChanges::default()),
    ] {
        same(
            &update(&entitlements, stranger, entitlement.id, changes).await,
            &None,
            &format!("update ({what}) of another customer's entitlement"),
        );
        same(
            &update(&entitlements, owner, EntitlementId::generate(), changes).await,
            &None,
            &format!("update ({what}) of an unknown entitlement id"),
        );
    }
    same(
        &get(&entitlements, owner, entitlement.id).await,
        &Some(entitlement.clone()),
        "another customer's update changes nothing",
    );
    same(
        &get(&entitlements, stranger, entitlement.id).await,
        &None,
        "another customer's update does not move the entitlement",
    );
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
                entitlements.delete(customer, id).await,
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

/// `active_products` lists each product once whose entitlement is active at `now`:
/// `starts_at == now` is active, `ends_at == now` is not; other customers' entitlements
/// never count.
pub async fn active_products_follow_the_window(
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
