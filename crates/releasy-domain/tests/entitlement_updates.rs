//! `EntitlementService::update` when another change lands between its read and its
//! write: a field the other change wrote is kept, a change that no longer fits is
//! refused naming its field, a deleted entitlement is not found, and an entitlement that
//! never holds still long enough gives up instead of looping.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Harness, T0};
use releasy_domain::audit::{AuditEvent, Origin};
use releasy_domain::entitlement::{
    CustomerAccess, Entitlement, EntitlementChanges, EntitlementError, EntitlementScope,
    EntitlementService, EntitlementWindow, Metadata, NewEntitlement,
};
use releasy_domain::memory::InMemoryEntitlements;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ChangeEvent, EntitlementRepository, RepoError};
use releasy_domain::release::Product;
use releasy_domain::{CustomerId, EntitlementId, Timestamp};
use serde_json::json;

/// What another operator does between the service's read and its write.
#[derive(Debug, Clone)]
enum Meanwhile {
    Change(Box<EntitlementChanges>),
    Delete,
    /// Before every write, not just the next: each write finds the entitlement changed
    /// since it was read and applies nothing.
    ChangeEveryTime,
}

/// In-memory entitlements where `meanwhile` happens just before the next `update`.
#[derive(Debug, Default)]
struct Raced {
    inner: InMemoryEntitlements,
    meanwhile: Mutex<Option<Meanwhile>>,
    updates: AtomicUsize,
}

#[async_trait]
impl EntitlementRepository for Raced {
    async fn insert(&self, entitlement: &Entitlement, event: &AuditEvent) -> Result<(), RepoError> {
        self.inner.insert(entitlement, event).await
    }

    async fn get(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<Option<Entitlement>, RepoError> {
        self.inner.get(customer, id).await
    }

    async fn list(
        &self,
        customer: CustomerId,
        product: Option<&str>,
        page: PageRequest,
    ) -> Result<Vec<Entitlement>, RepoError> {
        self.inner.list(customer, product, page).await
    }

    async fn replace(
        &self,
        current: &Entitlement,
        updated: &Entitlement,
        event: &AuditEvent,
    ) -> Result<Option<Entitlement>, RepoError> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        let meanwhile = {
            let mut meanwhile = self.meanwhile.lock().unwrap();
            match *meanwhile {
                Some(Meanwhile::ChangeEveryTime) => meanwhile.clone(),
                _ => meanwhile.take(),
            }
        };
        let (customer, id) = (current.customer_id, current.id);
        match meanwhile {
            Some(Meanwhile::ChangeEveryTime) => return Ok(None),
            Some(Meanwhile::Change(other)) => {
                // Another operator's whole update: read, merge, compare-and-set.
                let stored = self.inner.get(customer, id).await?.unwrap();
                let changed = stored.with_changes(*other).unwrap();
                let other_event = AuditEvent::entitlement_updated(
                    &Origin::admin_key(),
                    &stored,
                    &changed,
                    stored.created_at,
                );
                self.inner
                    .replace(&stored, &changed, &other_event)
                    .await?
                    .unwrap();
            }
            Some(Meanwhile::Delete) => {
                let deleted = |gone: &Entitlement| {
                    AuditEvent::entitlement_deleted(&Origin::admin_key(), gone, gone.created_at)
                };
                assert!(self.inner.delete(customer, id, &deleted).await?);
            }
            None => {}
        }
        self.inner.replace(current, updated, event).await
    }

    async fn delete(
        &self,
        customer: CustomerId,
        id: EntitlementId,
        event: ChangeEvent<'_, Entitlement>,
    ) -> Result<bool, RepoError> {
        self.inner.delete(customer, id, event).await
    }

    async fn customer_access(&self, customer: CustomerId) -> Result<CustomerAccess, RepoError> {
        self.inner.customer_access(customer).await
    }
}

struct World {
    service: EntitlementService,
    repo: Arc<Raced>,
    customer: CustomerId,
    entitlement: Entitlement,
}

/// An entitlement from `T0` without an end; `meanwhile` happens before the first write.
async fn world(meanwhile: Meanwhile) -> World {
    let h = Harness::new();
    let customer = h.customer("Raced Co").await.id;
    let repo = Arc::new(Raced::default());
    let service = EntitlementService::new(
        repo.clone(),
        h.ports.repositories.customers.clone(),
        h.ports.repositories.releases.clone(),
        h.clock,
    );
    let entitlement = service
        .create(
            &Origin::admin_key(),
            customer,
            NewEntitlement {
                product: Product::parse("agent").unwrap(),
                window: EntitlementWindow::new(T0, None).unwrap(),
                scope: EntitlementScope::default(),
                metadata: None,
                download_quota: None,
            },
        )
        .await
        .unwrap();
    *repo.meanwhile.lock().unwrap() = Some(meanwhile);
    World {
        service,
        repo,
        customer,
        entitlement,
    }
}

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix_seconds(T0.unix_seconds() + offset)
}

fn end_at(offset: i64) -> EntitlementChanges {
    EntitlementChanges {
        ends_at: Some(Some(at(offset))),
        ..EntitlementChanges::default()
    }
}

#[tokio::test]
async fn a_field_changed_between_the_read_and_the_write_is_kept() {
    let w = world(Meanwhile::Change(Box::new(end_at(60)))).await;
    let note = Metadata::parse(json!({"reason": "renewal pending"})).unwrap();
    let annotate = EntitlementChanges {
        metadata: Some(Some(note.clone())),
        ..EntitlementChanges::default()
    };
    let updated = w
        .service
        .update(&Origin::admin_key(), w.customer, w.entitlement.id, annotate)
        .await
        .unwrap();
    let expected = Entitlement {
        window: EntitlementWindow::new(T0, Some(at(60))).unwrap(),
        metadata: Some(note),
        revision: 2,
        ..w.entitlement.clone()
    };
    assert_eq!(updated, expected, "the other operator's end is not undone");
    assert_eq!(
        w.repo.get(w.customer, w.entitlement.id).await.unwrap(),
        Some(expected)
    );
}

#[tokio::test]
async fn a_change_that_no_longer_fits_is_refused_naming_its_field() {
    let moved_start = EntitlementChanges {
        starts_at: Some(at(50)),
        ..EntitlementChanges::default()
    };
    let w = world(Meanwhile::Change(Box::new(moved_start))).await;
    let err = w
        .service
        .update(
            &Origin::admin_key(),
            w.customer,
            w.entitlement.id,
            end_at(30),
        )
        .await
        .unwrap_err();
    let EntitlementError::Invalid(invalid) = err else {
        panic!("expected a validation error, got {err:?}");
    };
    assert_eq!(invalid.field, "ends_at");
    assert_eq!(
        w.repo
            .get(w.customer, w.entitlement.id)
            .await
            .unwrap()
            .map(|e| e.window),
        Some(EntitlementWindow::new(at(50), None).unwrap()),
        "only the other change is stored"
    );
    assert_eq!(w.repo.updates.load(Ordering::SeqCst), 1, "no second write");
}

#[tokio::test]
async fn an_entitlement_deleted_between_the_read_and_the_write_is_not_found() {
    let w = world(Meanwhile::Delete).await;
    let err = w
        .service
        .update(
            &Origin::admin_key(),
            w.customer,
            w.entitlement.id,
            end_at(30),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EntitlementError::NotFound), "{err:?}");
}

/// A change that changes nothing (`PATCH {}`, or every field as it is) writes nothing:
/// no audit event saying an entitlement was updated, no revision for every instance to
/// reload.
#[tokio::test]
async fn a_change_that_changes_nothing_writes_nothing() {
    let w = world(Meanwhile::ChangeEveryTime).await;
    let same_end = EntitlementChanges {
        ends_at: Some(None),
        product: Some(w.entitlement.product.clone()),
        ..EntitlementChanges::default()
    };
    for changes in [EntitlementChanges::default(), same_end] {
        let unchanged = w
            .service
            .update(&Origin::admin_key(), w.customer, w.entitlement.id, changes)
            .await
            .unwrap();
        assert_eq!(unchanged, w.entitlement);
    }
    assert_eq!(w.repo.updates.load(Ordering::SeqCst), 0, "no write");
}

#[tokio::test]
async fn an_entitlement_that_keeps_changing_gives_up_after_a_few_attempts() {
    let w = world(Meanwhile::ChangeEveryTime).await;
    let err = w
        .service
        .update(
            &Origin::admin_key(),
            w.customer,
            w.entitlement.id,
            end_at(30),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EntitlementError::Contended), "{err:?}");
    assert_eq!(
        w.repo.updates.load(Ordering::SeqCst),
        4,
        "the service's UPDATE_ATTEMPTS"
    );
}
