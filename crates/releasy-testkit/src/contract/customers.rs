//! Checks of [`CustomerRepository`]: storage round trip, the newest-first listing with
//! its filters, offset and cursor paging, and column-level updates.

use std::collections::HashSet;
use std::sync::Arc;

use releasy_domain::customer::{Customer, CustomerFilter, CustomerName, CustomerUpdate, Plan};
use releasy_domain::pagination::{Cursor, CursorPage, Offset, PageLimit, PageStart};
use releasy_domain::ports::CustomerRepository;
use releasy_domain::{CustomerId, Timestamp};

use super::change_event;
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token};

/// Runs every customer check.
pub async fn run_all(customers: Arc<dyn CustomerRepository>) {
    let c = customers;
    run_check!(insert_get_round_trip(c.clone()));
    run_check!(get_unknown_is_none(c.clone()));
    run_check!(list_is_newest_first(c.clone()));
    run_check!(list_filters_by_customer_id(c.clone()));
    run_check!(list_filters_by_name_ignoring_case(c.clone()));
    run_check!(list_name_filter_matches_wildcards_literally(c.clone()));
    run_check!(list_filters_by_plan_ignoring_case_exactly(c.clone()));
    run_check!(list_pages_by_offset(c.clone()));
    run_check!(list_cursor_walk_returns_each_customer_once(c.clone()));
    run_check!(list_cursor_walk_is_stable_under_inserts(c.clone()));
    run_check!(update_applies_only_given_columns(c.clone()));
    run_check!(empty_update_returns_the_row_unchanged(c.clone()));
    run_check!(update_unknown_is_none(c));
}

fn limit(n: i64) -> PageLimit {
    PageLimit::parse(Some(n)).expect("a valid page limit")
}

fn offset(n: i64) -> PageStart {
    PageStart::Offset(Offset::parse(Some(n)).expect("a valid offset"))
}

fn name_filter(text: &str) -> CustomerFilter {
    CustomerFilter {
        name_contains: Some(text.to_owned()),
        ..CustomerFilter::default()
    }
}

/// The listing order the contract promises: `(created_at, id)` descending.
fn newest_first(mut customers: Vec<Customer>) -> Vec<Customer> {
    customers.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id.to_string())));
    customers
}

fn ids(customers: &[Customer]) -> Vec<CustomerId> {
    customers.iter().map(|c| c.id).collect()
}

async fn list(
    repo: &Arc<dyn CustomerRepository>,
    filter: &CustomerFilter,
    page_size: i64,
    start: &PageStart,
) -> CursorPage<Customer> {
    ok(
        repo.list(filter, limit(page_size), start).await,
        "CustomerRepository::list",
    )
}

/// Stores customers named `<tag> <i>` with these creation times; returns them.
async fn store_named(
    repo: &Arc<dyn CustomerRepository>,
    tag: &str,
    created_at: &[i64],
) -> Vec<Customer> {
    let mut stored = Vec::new();
    for (i, t) in created_at.iter().enumerate() {
        let customer = new_customer(&format!("{tag} {i}"), None, *t);
        store_customer(repo, &customer).await;
        stored.push(customer);
    }
    stored
}

/// Walks a listing page by page with cursors (sent through their opaque form, as a
/// client would), checking `next_cursor` on every page; returns the pages.
async fn walk(
    repo: &Arc<dyn CustomerRepository>,
    filter: &CustomerFilter,
    page_size: i64,
) -> Vec<Vec<Customer>> {
    let mut pages = Vec::new();
    let mut start = offset(0);
    loop {
        assert!(pages.len() < 1000, "the cursor walk does not end");
        let page = list(repo, filter, page_size, &start).await;
        assert!(
            page.items.len() <= page_size as usize,
            "a page holds {} customers, more than the limit {page_size}",
            page.items.len()
        );
        let next = page.next_cursor.clone();
        pages.push(page.items.clone());
        let Some(cursor) = next else { break };
        let last = page
            .items
            .last()
            .expect("a page with a next_cursor is not empty");
        same(
            &cursor,
            &Cursor {
                created_at: last.created_at,
                id: last.id.to_string(),
            },
            "next_cursor names the last customer of its page",
        );
        let decoded = Cursor::decode(&cursor.encode()).expect("the cursor round-trips");
        start = PageStart::After(decoded);
    }
    pages
}

/// A customer round-trips through insert and get, with and without optional columns.
pub async fn insert_get_round_trip(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let full = Customer {
        suspended_at: Some(at(T0 + 5)),
        ..new_customer(&format!("Round Trip {t} Ltd."), Some("Enterprise"), T0)
    };
    let bare = new_customer(&format!("Bare {t}"), None, T0 + 1);
    store_customer(&customers, &full).await;
    store_customer(&customers, &bare).await;
    for customer in [&full, &bare] {
        let got = ok(customers.get(customer.id).await, "CustomerRepository::get");
        same(
            &got.as_ref(),
            &Some(customer),
            "get returns the stored customer",
        );
    }
}

/// `get` of an id never stored is `None`.
pub async fn get_unknown_is_none(customers: Arc<dyn CustomerRepository>) {
    let got = ok(
        customers.get(CustomerId::generate()).await,
        "CustomerRepository::get",
    );
    same(&got, &None, "get of an unknown id");
}

/// Listings are ordered by `created_at`, then id, both descending.
pub async fn list_is_newest_first(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let stored = store_named(
        &customers,
        &format!("Order {t}"),
        &[T0 + 10, T0 + 30, T0 + 20, T0 + 30, T0 + 20, T0 - 5, T0 + 30],
    )
    .await;
    let page = list(&customers, &name_filter(&t), 50, &offset(0)).await;
    same(
        &ids(&page.items),
        &ids(&newest_first(stored)),
        "customers are listed newest first by (created_at desc, id desc)",
    );
    same(&page.next_cursor, &None, "next_cursor when nothing follows");
}

/// `customer_id` selects exactly that customer.
pub async fn list_filters_by_customer_id(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let stored = store_named(&customers, &format!("ById {t}"), &[T0, T0, T0 + 1]).await;
    let target = &stored[1];
    let filter = CustomerFilter {
        customer_id: Some(target.id),
        ..CustomerFilter::default()
    };
    let page = list(&customers, &filter, 50, &offset(0)).await;
    same(&page.items, &vec![target.clone()], "filter by customer_id");
    same(&page.next_cursor, &None, "next_cursor of a one-row listing");

    let unknown = CustomerFilter {
        customer_id: Some(CustomerId::generate()),
        ..CustomerFilter::default()
    };
    let page = list(&customers, &unknown, 50, &offset(0)).await;
    same(&page.items, &vec![], "filter by an unknown customer_id");

    let combined = CustomerFilter {
        customer_id: Some(target.id),
        name_contains: Some(format!("not {t}")),
        plan: None,
    };
    let page = list(&customers, &combined, 50, &offset(0)).await;
    same(&page.items, &vec![], "filters combine with AND");
}

/// `name_contains` matches a substring anywhere in the name, ignoring case (of every
/// letter, not only ASCII).
pub async fn list_filters_by_name_ignoring_case(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let upper = t.to_uppercase();
    let widgets = new_customer(&format!("Acme {upper} Widgets"), None, T0);
    let gadgets = new_customer(&format!("acme {t} gadgets"), None, T0 + 1);
    let other = new_customer(&format!("Other {t} Things"), None, T0 + 2);
    let öbb = new_customer(&format!("ÖBB {t} Århus"), None, T0 + 3);
    // Every `Σ` folds to `σ` on every backend (Rust's `to_lowercase` makes a word's
    // last one `ς`, PostgreSQL's `lower` does not), in the name and in the filter.
    let odysseas = new_customer(&format!("{t} ΟΔΥΣΣΕΑΣ"), None, T0 + 4);
    for c in [&widgets, &gadgets, &other, &öbb, &odysseas] {
        store_customer(&customers, c).await;
    }
    let cases = [
        (format!("ACME {t}"), vec![gadgets.clone(), widgets.clone()]),
        (format!("{t} wIdGeTs"), vec![widgets.clone()]),
        (format!("ME {upper} GAD"), vec![gadgets.clone()]),
        (
            t.clone(),
            vec![
                odysseas.clone(),
                öbb.clone(),
                other.clone(),
                gadgets.clone(),
                widgets.clone(),
            ],
        ),
        (format!("{t} nothing"), vec![]),
        // Every letter folds, not only ASCII (SQLite's own `lower` folds ASCII only).
        (format!("ÖBB {t}"), vec![öbb.clone()]),
        (format!("öbb {upper} ÅRHUS"), vec![öbb.clone()]),
        (format!("{t} ΟΔΥΣΣΕΑΣ"), vec![odysseas.clone()]),
        // A filter ending in `Σ` finds the longer name it is part of.
        (format!("{t} ΟΔΥΣ"), vec![odysseas.clone()]),
    ];
    for (filter, expected) in cases {
        let page = list(&customers, &name_filter(&filter), 50, &offset(0)).await;
        same(
            &ids(&page.items),
            &ids(&expected),
            &format!("name_contains {filter:?}"),
        );
    }
}

/// `%`, `_` and `\` in `name_contains` are ordinary characters, not patterns.
pub async fn list_name_filter_matches_wildcards_literally(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let percent_underscore = new_customer(&format!("{t} 50%_off"), None, T0);
    let letters = new_customer(&format!("{t} 50xyoff"), None, T0);
    let percent = new_customer(&format!("{t} 50%off"), None, T0);
    let backslash = new_customer(&format!("{t} back\\slash"), None, T0);
    let no_backslash = new_customer(&format!("{t} backxslash"), None, T0);
    for c in [
        &percent_underscore,
        &letters,
        &percent,
        &backslash,
        &no_backslash,
    ] {
        store_customer(&customers, c).await;
    }
    let cases = [
        (format!("{t} 50%_o"), vec![percent_underscore.clone()]),
        (format!("{t} 50%o"), vec![percent.clone()]),
        (format!("{t} 5_"), vec![]),
        (format!("{t} 50_"), vec![]),
        (format!("{t} %"), vec![]),
        (format!("{t} back\\s"), vec![backslash.clone()]),
        (format!("{t} back\\slash"), vec![backslash.clone()]),
        (format!("{t} backx"), vec![no_backslash.clone()]),
        (
            format!("{t} 50"),
            vec![percent_underscore.clone(), letters.clone(), percent.clone()],
        ),
        (
            format!("{t} 50%"),
            vec![percent_underscore.clone(), percent.clone()],
        ),
    ];
    for (filter, expected) in cases {
        let page = list(&customers, &name_filter(&filter), 200, &offset(0)).await;
        let got: HashSet<CustomerId> = ids(&page.items).into_iter().collect();
        let want: HashSet<CustomerId> = ids(&expected).into_iter().collect();
        same(
            &got,
            &want,
            &format!("name_contains {filter:?} matches literally"),
        );
    }
}

/// `plan` matches the whole plan, ignoring case (of every letter); customers without a
/// plan never match.
pub async fn list_filters_by_plan_ignoring_case_exactly(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let gold = new_customer(&format!("Plan {t} a"), Some(&format!("gold-{t}")), T0);
    let gold_upper = new_customer(
        &format!("Plan {t} b"),
        Some(&format!("GOLD-{}", t.to_uppercase())),
        T0 + 1,
    );
    let gold_plus = new_customer(
        &format!("Plan {t} c"),
        Some(&format!("gold-{t}-plus")),
        T0 + 2,
    );
    let no_plan = new_customer(&format!("Plan {t} d"), None, T0 + 3);
    let über = new_customer(&format!("Plan {t} e"), Some(&format!("Über-{t}")), T0 + 4);
    for c in [&gold, &gold_upper, &gold_plus, &no_plan, &über] {
        store_customer(&customers, c).await;
    }
    let plan_filter = |plan: String| CustomerFilter {
        plan: Some(plan),
        ..CustomerFilter::default()
    };
    let cases = [
        (
            format!("Gold-{}", t.to_uppercase()),
            vec![gold_upper.clone(), gold.clone()],
        ),
        (format!("gold-{t}-plus"), vec![gold_plus.clone()]),
        (format!("gold-{t}-"), vec![]),
        (format!("gold-{}", &t[..8]), vec![]),
        (format!("über-{}", t.to_uppercase()), vec![über.clone()]),
    ];
    for (plan, expected) in cases {
        let page = list(&customers, &plan_filter(plan.clone()), 50, &offset(0)).await;
        same(
            &ids(&page.items),
            &ids(&expected),
            &format!("plan filter {plan:?}"),
        );
    }
}

/// An offset start skips that many customers; `next_cursor` is set only when more follow.
pub async fn list_pages_by_offset(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let stored = store_named(
        &customers,
        &format!("Offset {t}"),
        &[T0, T0 + 1, T0 + 1, T0 + 2, T0 - 1],
    )
    .await;
    let expected = ids(&newest_first(stored));
    let filter = name_filter(&t);
    // (offset, limit, expected slice, whether more follow)
    let cases: [(i64, i64, std::ops::Range<usize>, bool); 7] = [
        (0, 2, 0..2, true),
        (2, 2, 2..4, true),
        (4, 2, 4..5, false),
        (3, 2, 3..5, false),
        (5, 2, 5..5, false),
        (40, 2, 5..5, false),
        (0, 5, 0..5, false),
    ];
    for (skip, size, range, more) in cases {
        let page = list(&customers, &filter, size, &offset(skip)).await;
        same(
            &ids(&page.items),
            &expected[range].to_vec(),
            &format!("offset {skip}, limit {size}"),
        );
        same(
            &page.next_cursor.is_some(),
            &more,
            &format!("next_cursor is set at offset {skip}, limit {size} only when more follow"),
        );
    }
}

/// Walking with cursors returns every customer exactly once, in order, even when many
/// share a `created_at`, and the last page has no `next_cursor`.
pub async fn list_cursor_walk_returns_each_customer_once(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let same_time = store_named(&customers, &format!("Walk {t} tie"), &[T0 + 100; 7]).await;
    let expected_tie = ids(&newest_first(same_time));
    let tie_filter = name_filter(&format!("Walk {t} tie"));
    for (size, page_sizes) in [
        (3, vec![3, 3, 1]),
        (1, vec![1; 7]),
        (7, vec![7]),
        (10, vec![7]),
    ] {
        let pages = walk(&customers, &tie_filter, size).await;
        same(
            &pages.iter().map(Vec::len).collect::<Vec<_>>(),
            &page_sizes,
            &format!("page sizes of a walk over 7 equal created_at, limit {size}"),
        );
        same(
            &ids(&pages.concat()),
            &expected_tie,
            &format!("a cursor walk with limit {size} yields each customer once, in order"),
        );
    }

    // An exact multiple of the page size: the last full page says nothing follows.
    let six = store_named(&customers, &format!("Walk {t} six"), &[T0 + 50; 6]).await;
    let pages = walk(&customers, &name_filter(&format!("Walk {t} six")), 3).await;
    same(
        &pages.iter().map(Vec::len).collect::<Vec<_>>(),
        &vec![3, 3],
        "a walk over 6 customers with limit 3 has two pages",
    );
    same(
        &ids(&pages.concat()),
        &ids(&newest_first(six)),
        "walk over an exact multiple of the page size",
    );

    // Ties broken across page boundaries on several created_at values.
    let mixed = store_named(
        &customers,
        &format!("Walk {t} mixed"),
        &[T0, T0 + 1, T0 + 2, T0, T0 + 1, T0 + 2, T0, T0 + 1, T0 + 2],
    )
    .await;
    let pages = walk(&customers, &name_filter(&format!("Walk {t} mixed")), 2).await;
    same(
        &ids(&pages.concat()),
        &ids(&newest_first(mixed)),
        "walk over ties on several created_at values",
    );
}

/// A cursor names a place in the order: customers created while a caller walks neither
/// repeat nor hide others; those sorting after the cursor show up once, those before it
/// never do.
pub async fn list_cursor_walk_is_stable_under_inserts(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let tag = format!("Moving {t}");
    let original = store_named(
        &customers,
        &tag,
        &[T0 + 200, T0 + 210, T0 + 210, T0 + 220, T0 + 230, T0 + 240],
    )
    .await;
    let filter = name_filter(&tag);
    let mut seen: Vec<Customer> = Vec::new();
    let mut must_not_appear: Vec<CustomerId> = Vec::new();
    let mut must_appear: Vec<CustomerId> = Vec::new();
    let mut start = offset(0);
    let mut round = 0;
    loop {
        round += 1;
        assert!(round < 100, "the cursor walk does not end");
        let page = list(&customers, &filter, 2, &start).await;
        seen.extend(page.items.iter().cloned());
        let Some(cursor) = page.next_cursor else {
            break;
        };
        // After each of the first two pages: one customer newer than everything, one on
        // the cursor's created_at on each side of its id, and one older than everything.
        if round <= 2 {
            let newer = new_customer(&format!("{tag} newer {round}"), None, T0 + 10_000);
            let (before, after) = tied_around(&cursor, &format!("{tag} tied {round}"));
            let older = new_customer(&format!("{tag} older {round}"), None, T0 - round);
            for c in [&newer, &before, &after, &older] {
                store_customer(&customers, c).await;
            }
            must_not_appear.extend([newer.id, before.id]);
            must_appear.extend([after.id, older.id]);
        }
        start = PageStart::After(Cursor::decode(&cursor.encode()).expect("the cursor round-trips"));
    }
    let seen_ids = ids(&seen);
    let unique: HashSet<CustomerId> = seen_ids.iter().copied().collect();
    same(
        &unique.len(),
        &seen_ids.len(),
        "no customer repeats during a walk",
    );
    for c in &original {
        assert!(
            unique.contains(&c.id),
            "customer {} created before the walk was skipped",
            c.id
        );
    }
    for id in &must_appear {
        assert!(
            unique.contains(id),
            "customer {id}, created during the walk behind the cursor, was not listed"
        );
    }
    for id in &must_not_appear {
        assert!(
            !unique.contains(id),
            "customer {id}, created during the walk ahead of the cursor, was listed"
        );
    }
    same(
        &seen_ids,
        &ids(&newest_first(seen.clone())),
        "a walk stays in newest-first order",
    );
}

/// Two customers on `cursor.created_at`: one sorting before the cursor (larger id) and
/// one after it (smaller id).
fn tied_around(cursor: &Cursor, name: &str) -> (Customer, Customer) {
    let make = |want_greater: bool| loop {
        let mut c = new_customer(name, None, cursor.created_at.unix_seconds());
        // Random (version 4) ids fall on either side of the cursor's; generated ones
        // are time-ordered and would all sort after it.
        c.id = CustomerId::from_uuid(uuid::Uuid::new_v4());
        if (c.id.to_string() > cursor.id) == want_greater {
            break c;
        }
    };
    (make(true), make(false))
}

/// `update` changes only the columns it names, `Some(None)` clears a column, and the
/// returned row is the stored one.
pub async fn update_applies_only_given_columns(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let original = new_customer(&format!("Update {t}"), Some("core"), T0);
    store_customer(&customers, &original).await;
    let name = |n: &str| CustomerName::parse(n).expect("a valid name");
    let plan = |p: &str| Plan::parse(p).expect("a valid plan");
    let none = CustomerUpdate {
        name: None,
        plan: None,
        suspended_at: None,
    };
    let steps: Vec<(&str, CustomerUpdate, Customer)> = {
        let mut expected = original.clone();
        let mut steps = Vec::new();
        expected.name = name(&format!("Renamed {t}"));
        steps.push((
            "name only",
            CustomerUpdate {
                name: Some(expected.name.clone()),
                ..none.clone()
            },
            expected.clone(),
        ));
        expected.plan = Some(plan("enterprise"));
        steps.push((
            "plan only",
            CustomerUpdate {
                plan: Some(Some(plan("enterprise"))),
                ..none.clone()
            },
            expected.clone(),
        ));
        expected.suspended_at = Some(at(T0 + 60));
        steps.push((
            "suspend",
            CustomerUpdate {
                suspended_at: Some(Some(at(T0 + 60))),
                ..none.clone()
            },
            expected.clone(),
        ));
        expected.plan = None;
        steps.push((
            "clear plan (suspension kept)",
            CustomerUpdate {
                plan: Some(None),
                ..none.clone()
            },
            expected.clone(),
        ));
        expected.suspended_at = None;
        steps.push((
            "unsuspend (plan stays cleared)",
            CustomerUpdate {
                suspended_at: Some(None),
                ..none.clone()
            },
            expected.clone(),
        ));
        expected.name = name(&format!("All {t}"));
        expected.plan = Some(plan("core"));
        expected.suspended_at = Some(at(T0 + 120));
        steps.push((
            "every column",
            CustomerUpdate {
                name: Some(expected.name.clone()),
                plan: Some(Some(plan("core"))),
                suspended_at: Some(Some(at(T0 + 120))),
            },
            expected.clone(),
        ));
        steps
    };
    for (what, update, expected) in steps {
        let returned = ok(
            customers
                .update(original.id, &update, &|_, _| vec![change_event()])
                .await,
            "CustomerRepository::update",
        );
        same(
            &returned.as_ref(),
            &Some(&expected),
            &format!("update ({what}) returns the row afterwards"),
        );
        let stored = ok(customers.get(original.id).await, "CustomerRepository::get");
        same(
            &stored.as_ref(),
            &Some(&expected),
            &format!("update ({what}) is stored"),
        );
    }
}

/// An update naming no column changes nothing and still returns the row.
pub async fn empty_update_returns_the_row_unchanged(customers: Arc<dyn CustomerRepository>) {
    let t = token();
    let customer = Customer {
        suspended_at: Some(at(T0 + 1)),
        ..new_customer(&format!("Empty update {t}"), Some("core"), T0)
    };
    store_customer(&customers, &customer).await;
    let update = CustomerUpdate {
        name: None,
        plan: None,
        suspended_at: None,
    };
    let returned = ok(
        customers
            .update(customer.id, &update, &|_, _| vec![change_event()])
            .await,
        "CustomerRepository::update",
    );
    same(
        &returned,
        &Some(customer.clone()),
        "an empty update returns the row",
    );
    let returned = ok(
        customers
            .update(
                CustomerId::generate(),
                &update,
                &|_, _| vec![change_event()],
            )
            .await,
        "CustomerRepository::update",
    );
    same(&returned, &None, "an empty update of an unknown id");
}

/// `update` of an id never stored is `None` and stores nothing.
pub async fn update_unknown_is_none(customers: Arc<dyn CustomerRepository>) {
    let id = CustomerId::generate();
    let update = CustomerUpdate {
        name: Some(CustomerName::parse("Ghost").expect("a valid name")),
        plan: Some(None),
        suspended_at: Some(Some(Timestamp::from_unix_seconds(T0))),
    };
    let returned = ok(
        customers
            .update(id, &update, &|_, _| vec![change_event()])
            .await,
        "CustomerRepository::update",
    );
    same(&returned, &None, "update of an unknown id");
    let stored = ok(customers.get(id).await, "CustomerRepository::get");
    same(&stored, &None, "update of an unknown id stores nothing");
}
