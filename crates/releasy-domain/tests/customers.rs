//! Customer use cases: create, get, update (rename, plan, suspension) and listing with
//! filters, offsets and keyset cursors.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashSet;

use common::{Harness, T0, limit_of, offset_of};
use releasy_domain::audit::Origin;
use releasy_domain::customer::{
    Customer, CustomerChanges, CustomerError, CustomerFilter, CustomerName, Plan,
};
use releasy_domain::pagination::{Cursor, CursorPage, PageStart};
use releasy_domain::{CustomerId, Timestamp};

fn name(raw: &str) -> CustomerName {
    CustomerName::parse(raw).expect("valid customer name")
}

fn plan(raw: &str) -> Plan {
    Plan::parse(raw).expect("valid plan")
}

fn changes(
    name: Option<CustomerName>,
    plan: Option<Option<Plan>>,
    suspended: Option<bool>,
) -> CustomerChanges {
    CustomerChanges::new(name, plan, suspended).expect("at least one change")
}

fn ids(customers: &[Customer]) -> Vec<CustomerId> {
    customers.iter().map(|c| c.id).collect()
}

/// Every customer as the contract orders them: newest first, ties by id descending.
fn newest_first(mut customers: Vec<Customer>) -> Vec<CustomerId> {
    customers.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id.to_string())));
    ids(&customers)
}

impl Harness {
    async fn list(
        &self,
        filter: &CustomerFilter,
        limit: i64,
        start: &PageStart,
    ) -> CursorPage<Customer> {
        self.services
            .customers
            .list(filter, limit_of(limit), start)
            .await
            .expect("customers are listed")
    }

    async fn list_all(&self, filter: &CustomerFilter) -> Vec<CustomerId> {
        let page = self.list(filter, 200, &first_page()).await;
        assert_eq!(page.next_cursor, None, "everything fits on one page");
        ids(&page.items)
    }

    /// Creates customers named `prefix-0`, `prefix-1`, ... at the given seconds after
    /// [`T0`], leaving the clock at the last of them.
    async fn customers_at(&self, prefix: &str, offsets: &[i64]) -> Vec<Customer> {
        let mut created = Vec::new();
        for (i, offset) in offsets.iter().enumerate() {
            self.clock.set(T0.plus_seconds(*offset));
            created.push(self.customer(&format!("{prefix}-{i}")).await);
        }
        created
    }
}

fn first_page() -> PageStart {
    PageStart::Offset(offset_of(0))
}

/// The cursor as a client would send it back: through its opaque text form.
fn resume_after(cursor: &Cursor) -> PageStart {
    PageStart::parse(None, Some(&cursor.encode())).expect("the server's own cursor decodes")
}

#[tokio::test]
async fn create_trims_the_name_keeps_the_plan_and_stamps_now() {
    let h = Harness::new();
    let created = h
        .services
        .customers
        .create(
            &Origin::admin_key(),
            name("  Acme Corp \t"),
            Some(plan(" enterprise ")),
        )
        .await
        .expect("customer is stored");

    assert_eq!(created.name.as_str(), "Acme Corp");
    assert_eq!(created.plan.as_ref().map(Plan::as_str), Some("enterprise"));
    assert_eq!(created.created_at, T0);
    assert_eq!(created.suspended_at, None);
    assert!(!created.is_suspended());

    let stored = h.services.customers.get(created.id).await.expect("found");
    assert_eq!(stored, created);
}

#[tokio::test]
async fn create_without_a_plan_and_each_customer_gets_its_own_id() {
    let h = Harness::new();
    let first = h.customer("Initech").await;
    let second = h.customer("Initech").await;

    assert_eq!(first.plan, None);
    assert_ne!(first.id, second.id, "same name, distinct customers");
    assert_eq!(
        h.services.customers.get(second.id).await.expect("found"),
        second
    );
}

#[tokio::test]
async fn get_unknown_customer_is_not_found() {
    let h = Harness::new();
    h.customer("Someone else").await;

    let err = h
        .services
        .customers
        .get(CustomerId::generate())
        .await
        .expect_err("unknown id");
    assert!(matches!(err, CustomerError::NotFound), "got {err:?}");
}

#[tokio::test]
async fn update_renames_and_removes_the_plan_leaving_the_rest() {
    let h = Harness::new();
    let original = h.customer_with_plan("Acme", Some("core")).await;
    h.clock.advance(30);

    let updated = h
        .services
        .customers
        .update(
            &Origin::admin_key(),
            original.id,
            changes(Some(name(" Acme Ltd ")), Some(None), None),
        )
        .await
        .expect("updated");

    assert_eq!(updated.id, original.id);
    assert_eq!(updated.name.as_str(), "Acme Ltd");
    assert_eq!(updated.plan, None, "`plan: Some(None)` removes the plan");
    assert_eq!(
        updated.created_at, original.created_at,
        "creation time kept"
    );
    assert_eq!(updated.suspended_at, None, "suspension untouched");
    assert_eq!(
        h.services.customers.get(original.id).await.expect("found"),
        updated,
        "the returned customer is the stored one"
    );
}

#[tokio::test]
async fn update_of_plan_alone_keeps_the_name_and_absent_plan_is_left_alone() {
    let h = Harness::new();
    let original = h.customer_with_plan("Globex", Some("core")).await;

    let replanned = h
        .services
        .customers
        .update(
            &Origin::admin_key(),
            original.id,
            changes(None, Some(Some(plan("enterprise"))), None),
        )
        .await
        .expect("updated");
    assert_eq!(replanned.name.as_str(), "Globex");
    assert_eq!(
        replanned.plan.as_ref().map(Plan::as_str),
        Some("enterprise")
    );

    let renamed = h
        .services
        .customers
        .update(
            &Origin::admin_key(),
            original.id,
            changes(Some(name("Globex Inc")), None, None),
        )
        .await
        .expect("updated");
    assert_eq!(renamed.name.as_str(), "Globex Inc");
    assert_eq!(
        renamed.plan.as_ref().map(Plan::as_str),
        Some("enterprise"),
        "`plan: None` means unchanged, not removed"
    );
}

#[tokio::test]
async fn suspend_records_now_and_unsuspend_clears_it() {
    let h = Harness::new();
    let customer = h.customer("Umbrella").await;

    h.clock.advance(120);
    let suspended = h
        .services
        .customers
        .update(
            &Origin::admin_key(),
            customer.id,
            changes(None, None, Some(true)),
        )
        .await
        .expect("suspended");
    assert_eq!(suspended.suspended_at, Some(T0.plus_seconds(120)));
    assert!(suspended.is_suspended());
    assert_eq!(suspended.name, customer.name, "name untouched");
    assert_eq!(
        h.services
            .customers
            .get(customer.id)
            .await
            .expect("found")
            .suspended_at,
        Some(T0.plus_seconds(120))
    );

    h.clock.advance(60);
    let resumed = h
        .services
        .customers
        .update(
            &Origin::admin_key(),
            customer.id,
            changes(None, None, Some(false)),
        )
        .await
        .expect("unsuspended");
    assert_eq!(resumed.suspended_at, None);
    assert!(!resumed.is_suspended());
    assert_eq!(
        h.services
            .customers
            .get(customer.id)
            .await
            .expect("found")
            .suspended_at,
        None
    );
}

#[tokio::test]
async fn update_unknown_customer_is_not_found_and_changes_nothing() {
    let h = Harness::new();
    let existing = h.customer("Existing").await;

    let err = h
        .services
        .customers
        .update(
            &Origin::admin_key(),
            CustomerId::generate(),
            changes(Some(name("Ghost")), None, Some(true)),
        )
        .await
        .expect_err("unknown id");
    assert!(matches!(err, CustomerError::NotFound), "got {err:?}");
    assert_eq!(
        h.services.customers.get(existing.id).await.expect("found"),
        existing
    );
}

#[tokio::test]
async fn listing_is_newest_first_with_same_second_ties_by_id_descending() {
    let h = Harness::new();
    let created = h.customers_at("c", &[0, 10, 10, 10, 20, 5]).await;

    let listed = h.list_all(&CustomerFilter::default()).await;

    assert_eq!(listed.len(), 6);
    assert_eq!(listed, newest_first(created.clone()));
    assert_eq!(listed[0], created[4].id, "the newest (t0+20) comes first");
    assert_eq!(listed[5], created[0].id, "the oldest (t0) comes last");
}

#[tokio::test]
async fn listing_filters_by_name_substring_ignoring_case() {
    let h = Harness::new();
    let acme = h.customer("ACME Corp").await;
    let big_acme = h.customer("Big acme").await;
    h.customer("Globex").await;

    let listed: HashSet<_> = h
        .list_all(&CustomerFilter {
            name_contains: Some("AcMe".into()),
            ..CustomerFilter::default()
        })
        .await
        .into_iter()
        .collect();
    assert_eq!(listed, HashSet::from([acme.id, big_acme.id]));

    let none = h
        .list_all(&CustomerFilter {
            name_contains: Some("initech".into()),
            ..CustomerFilter::default()
        })
        .await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn listing_filters_by_plan_exactly_ignoring_case() {
    let h = Harness::new();
    let core = h.customer_with_plan("A", Some("core")).await;
    let core_upper = h.customer_with_plan("B", Some("CORE")).await;
    h.customer_with_plan("C", Some("core-plus")).await;
    h.customer_with_plan("D", Some("enterprise")).await;
    h.customer("E").await;

    let listed: HashSet<_> = h
        .list_all(&CustomerFilter {
            plan: Some("Core".into()),
            ..CustomerFilter::default()
        })
        .await
        .into_iter()
        .collect();
    assert_eq!(
        listed,
        HashSet::from([core.id, core_upper.id]),
        "exact match only: `core-plus` and plan-less customers are excluded"
    );
}

#[tokio::test]
async fn listing_filters_by_customer_id_and_combines_filters() {
    let h = Harness::new();
    let acme = h.customer_with_plan("Acme", Some("core")).await;
    let acme_two = h.customer_with_plan("Acme Two", Some("enterprise")).await;

    let by_id = h
        .list_all(&CustomerFilter {
            customer_id: Some(acme_two.id),
            ..CustomerFilter::default()
        })
        .await;
    assert_eq!(by_id, vec![acme_two.id]);

    let unknown = h
        .list_all(&CustomerFilter {
            customer_id: Some(CustomerId::generate()),
            ..CustomerFilter::default()
        })
        .await;
    assert!(unknown.is_empty());

    let name_and_plan = h
        .list_all(&CustomerFilter {
            name_contains: Some("acme".into()),
            plan: Some("core".into()),
            ..CustomerFilter::default()
        })
        .await;
    assert_eq!(name_and_plan, vec![acme.id], "filters are ANDed");

    let id_and_other_plan = h
        .list_all(&CustomerFilter {
            customer_id: Some(acme.id),
            plan: Some("enterprise".into()),
            ..CustomerFilter::default()
        })
        .await;
    assert!(id_and_other_plan.is_empty());
}

#[tokio::test]
async fn offset_paging_walks_the_same_order() {
    let h = Harness::new();
    let created = h.customers_at("o", &[0, 1, 2, 2, 3]).await;
    let expected = newest_first(created);

    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let page = h
            .list(
                &CustomerFilter::default(),
                2,
                &PageStart::Offset(offset_of(offset)),
            )
            .await;
        let more_follow = offset + 2 < 5;
        assert_eq!(
            page.next_cursor.is_some(),
            more_follow,
            "next_cursor only while more follow (offset {offset})"
        );
        seen.extend(ids(&page.items));
    }
    assert_eq!(seen, expected);

    let beyond = h
        .list(
            &CustomerFilter::default(),
            2,
            &PageStart::Offset(offset_of(10)),
        )
        .await;
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.next_cursor, None);
}

/// Walks every page by cursor, returning the pages' ids.
async fn walk(h: &Harness, filter: &CustomerFilter, limit: i64) -> Vec<Vec<CustomerId>> {
    let mut pages = Vec::new();
    let mut start = first_page();
    loop {
        let page = h.list(filter, limit, &start).await;
        assert!(
            page.items.len() <= usize::try_from(limit).expect("small"),
            "a page never exceeds the limit"
        );
        pages.push(ids(&page.items));
        match page.next_cursor {
            Some(cursor) => {
                let last = page.items.last().expect("a page with a cursor has items");
                assert_eq!(cursor.created_at, last.created_at);
                assert_eq!(cursor.id, last.id.to_string());
                start = resume_after(&cursor);
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "the walk terminates");
    }
}

#[tokio::test]
async fn cursor_walk_returns_every_customer_exactly_once() {
    let h = Harness::new();
    // Several customers share a second, so ties must be broken by id.
    let created = h.customers_at("w", &[0, 0, 0, 7, 7, 3, 12]).await;
    let expected = newest_first(created);

    let pages = walk(&h, &CustomerFilter::default(), 2).await;

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 2, 2, 1]);
    let walked: Vec<CustomerId> = pages.into_iter().flatten().collect();
    assert_eq!(walked, expected, "every customer once, newest first");
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 7);
}

#[tokio::test]
async fn cursor_walk_ending_on_a_full_page_has_no_trailing_empty_page() {
    let h = Harness::new();
    let created = h.customers_at("f", &[0, 0, 1, 1, 1, 2]).await;

    let pages = walk(&h, &CustomerFilter::default(), 2).await;

    assert_eq!(
        pages.len(),
        3,
        "the third, full page already says it is last"
    );
    assert!(pages.iter().all(|p| p.len() == 2));
    assert_eq!(
        pages.into_iter().flatten().collect::<Vec<_>>(),
        newest_first(created)
    );
}

#[tokio::test]
async fn cursor_walk_respects_the_filter_on_every_page() {
    let h = Harness::new();
    let mut acmes = Vec::new();
    for i in 0..5 {
        h.clock.set(T0.plus_seconds(i / 2));
        acmes.push(h.customer(&format!("Acme {i}")).await);
        h.customer(&format!("Globex {i}")).await;
    }

    let pages = walk(
        &h,
        &CustomerFilter {
            name_contains: Some("acme".into()),
            ..CustomerFilter::default()
        },
        2,
    )
    .await;

    assert_eq!(
        pages.into_iter().flatten().collect::<Vec<_>>(),
        newest_first(acmes)
    );
}

#[tokio::test]
async fn cursor_walk_while_customers_are_created_sees_each_existing_one_once() {
    let h = Harness::new();
    let existing = h.customers_at("pre", &[0, 0, 0, 4, 4, 9, 9]).await;
    let expected = newest_first(existing.clone());
    let existing_ids: HashSet<CustomerId> = existing.iter().map(|c| c.id).collect();

    let mut walked = Vec::new();
    let mut start = first_page();
    let mut inserted = Vec::new();
    loop {
        let page = h.list(&CustomerFilter::default(), 2, &start).await;
        walked.extend(ids(&page.items));
        let Some(cursor) = page.next_cursor else {
            break;
        };
        // Between pages, newer customers arrive.
        h.clock.advance(1);
        for i in 0..2 {
            inserted.push(h.customer(&format!("new-{}-{i}", inserted.len())).await);
        }
        start = resume_after(&cursor);
    }

    assert!(!inserted.is_empty(), "customers were created mid-walk");
    let pre_existing: Vec<CustomerId> = walked
        .iter()
        .copied()
        .filter(|id| existing_ids.contains(id))
        .collect();
    assert_eq!(
        pre_existing, expected,
        "each pre-existing customer exactly once, in order"
    );
    assert_eq!(
        walked.len(),
        expected.len(),
        "customers newer than the first page do not appear behind the cursor"
    );

    // They are all there for the next walk.
    let total = h.list_all(&CustomerFilter::default()).await;
    assert_eq!(total.len(), existing.len() + inserted.len());
}

#[tokio::test]
async fn a_cursor_for_a_position_past_the_oldest_customer_gives_an_empty_last_page() {
    let h = Harness::new();
    h.customers_at("x", &[5, 6]).await;

    let page = h
        .list(
            &CustomerFilter::default(),
            10,
            &PageStart::After(Cursor {
                created_at: Timestamp::from_unix_seconds(T0.unix_seconds() + 5),
                id: uuid_nil(),
            }),
        )
        .await;
    assert!(page.items.is_empty());
    assert_eq!(page.next_cursor, None);
}

fn uuid_nil() -> String {
    "00000000-0000-0000-0000-000000000000".to_owned()
}
