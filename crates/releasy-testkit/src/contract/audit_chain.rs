//! Checks of the audit events changes write and of the chain linking every event: a
//! change is stored with its events in one transaction (a change refused or not applied
//! stores none), an update's events see the row before and after it, the linker links
//! every committed event once, and concurrent writers (changes and batches of events)
//! beside a running linker keep one verifiable chain.

use std::sync::{Arc, Mutex};

use releasy_domain::audit::{Actor, AuditEvent, AuditFilter, AuditService, Origin};
use releasy_domain::customer::{Customer, CustomerName, CustomerUpdate};
use releasy_domain::download::DownloadToken;
use releasy_domain::pagination::{Offset, PageLimit, PageRequest};
use releasy_domain::ports::{RepoError, Repositories};
use releasy_domain::release::{Product, Release, Version};
use releasy_domain::{ApiKeyId, CustomerId};

use super::artifacts::{new_artifact, store_artifact};
use super::releases::{fresh_product, new_release, new_token, store_release};
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token, with_events};

/// Runs every check.
pub async fn run_all(repos: Repositories) {
    run_check!(a_change_is_stored_with_its_event(repos.clone()));
    run_check!(a_refused_change_stores_no_event(repos.clone()));
    run_check!(an_update_records_the_row_before_and_after(repos.clone()));
    run_check!(a_revocation_is_recorded_once(repos.clone()));
    run_check!(the_linker_links_every_committed_event_once(repos.clone()));
    run_check!(a_batch_written_again_appends_only_what_is_new(
        repos.clone()
    ));
    run_check!(concurrent_writers_keep_one_verifiable_chain(repos));
}

/// A linker running beside a check's writers, as the server's does (more often).
struct Linker(tokio::task::JoinHandle<RepoError>);

impl Linker {
    /// Links pending events of `repos` every few milliseconds until stopped; ends
    /// early only with the error that stopped it.
    fn start(repos: &Repositories) -> Self {
        let audit = AuditService::new(Arc::clone(&repos.audit));
        Self(tokio::spawn(async move {
            loop {
                if let Err(err) = audit.link_pending().await {
                    return err;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }))
    }

    /// Stops it; panics with its error if it failed beside `what`.
    async fn stop(self, what: &str) {
        self.0.abort();
        if let Ok(err) = self.0.await {
            panic!("the linker failed beside {what}: {err}");
        }
    }
}

/// An origin whose operator subject is `subject`: events are found by it.
fn origin(subject: &str) -> Origin {
    Origin::new(Actor::Operator {
        subject: subject.to_owned(),
    })
}

/// The events of the operator `subject`, newest first. Pages by offset, newest first:
/// events another suite writes meanwhile push older ones onto the next page, where
/// they show up twice, so each is kept once.
async fn events_by(repos: &Repositories, subject: &str) -> Vec<AuditEvent> {
    let operators = AuditFilter {
        actor: Some("operator".to_owned()),
        ..AuditFilter::default()
    };
    let mut found: Vec<AuditEvent> = Vec::new();
    for offset in (0..).step_by(200) {
        let page = PageRequest {
            limit: PageLimit::parse(Some(200)).expect("a valid page limit"),
            offset: Offset::parse(Some(offset)).expect("a valid offset"),
        };
        let events = ok(
            repos.audit.list(&operators, page).await,
            "AuditRepository::list",
        );
        let last_page = events.len() < 200;
        for event in events {
            if event.payload["actor_id"] == subject && !found.contains(&event) {
                found.push(event);
            }
        }
        if last_page {
            break;
        }
    }
    found
}

/// A customer and its event are stored together: the event lists with the customer.
pub async fn a_change_is_stored_with_its_event(repos: Repositories) {
    let subject = token();
    let customer = new_customer(&format!("chain {subject}"), None, T0);
    let event = AuditEvent::customer_created(&origin(&subject), &customer);
    ok(
        repos.customers.insert(&customer, &event).await,
        "CustomerRepository::insert",
    );
    same(
        &events_by(&repos, &subject).await,
        &vec![event],
        "the events stored with a new customer",
    );
}

/// A write the store refuses (a duplicate) stores no event, nor does a compare-and-set
/// that does not apply.
pub async fn a_refused_change_stores_no_event(repos: Repositories) {
    let subject = token();
    let actor = origin(&subject);
    let customer = new_customer(&format!("refused {subject}"), None, T0);
    ok(
        repos
            .customers
            .insert(&customer, &AuditEvent::customer_created(&actor, &customer))
            .await,
        "CustomerRepository::insert",
    );
    let again = repos
        .customers
        .insert(&customer, &AuditEvent::customer_created(&actor, &customer))
        .await;
    assert!(
        matches!(again, Err(RepoError::Conflict)),
        "a duplicate customer: expected Err(Conflict), got {again:?}"
    );

    let release = Release::draft(
        Product::parse(&format!("chain-{subject}")).expect("a valid product"),
        Version::parse("1.0.0").expect("a valid version"),
        None,
        at(T0),
    );
    ok(
        repos
            .releases
            .insert(&release, &AuditEvent::release_created(&actor, &release))
            .await,
        "ReleaseRepository::insert",
    );
    let twin = Release::draft(
        release.product.clone(),
        release.version.clone(),
        None,
        at(T0),
    );
    let refused = repos
        .releases
        .insert(&twin, &AuditEvent::release_created(&actor, &twin))
        .await;
    assert!(
        matches!(refused, Err(RepoError::Conflict)),
        "a duplicate product and version: expected Err(Conflict), got {refused:?}"
    );
    let unpublish = AuditEvent::release_status_changed(
        &actor,
        &release,
        releasy_domain::release::ReleaseStatus::Draft,
        at(T0),
    );
    let not_applied = ok(
        repos
            .releases
            .transition(
                release.id,
                releasy_domain::release::ReleaseStatus::Published,
                releasy_domain::release::ReleaseStatus::Draft,
                None,
                &unpublish,
            )
            .await,
        "ReleaseRepository::transition",
    );
    same(
        &not_applied.is_none(),
        &true,
        "a transition from a status the release is not in applies",
    );
    let names: Vec<String> = events_by(&repos, &subject)
        .await
        .into_iter()
        .map(|e| e.event)
        .collect();
    let mut names = names;
    names.sort();
    same(
        &names,
        &vec!["customer.created".to_owned(), "release.created".to_owned()],
        "events stored by two writes that applied and three that did not",
    );
}

/// The events of an update are made from the row as the update found it and left it.
pub async fn an_update_records_the_row_before_and_after(repos: Repositories) {
    let subject = token();
    let actor = origin(&subject);
    let customer = new_customer(&format!("before {subject}"), None, T0);
    ok(
        repos
            .customers
            .insert(&customer, &AuditEvent::customer_created(&actor, &customer))
            .await,
        "CustomerRepository::insert",
    );
    let renamed = CustomerName::parse(&format!("after {subject}")).expect("a valid name");
    let seen: Mutex<Option<(Customer, Customer)>> = Mutex::new(None);
    let update = CustomerUpdate {
        name: Some(renamed.clone()),
        plan: None,
        suspended_at: Some(Some(at(T0 + 5))),
    };
    let stored = ok(
        repos
            .customers
            .update(customer.id, &update, &|before, after| {
                *seen.lock().expect("not poisoned") = Some((before.clone(), after.clone()));
                AuditEvent::customer_changes(&actor, before, after, at(T0 + 5))
            })
            .await,
        "CustomerRepository::update",
    )
    .expect("the customer exists");
    let (before, after) = seen
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("the update made its events");
    same(
        &before,
        &customer,
        "the row an update's events see before it",
    );
    same(&after, &stored, "the row an update's events see after it");
    let mut names: Vec<String> = events_by(&repos, &subject)
        .await
        .into_iter()
        .filter(|e| e.event != "customer.created")
        .map(|e| e.event)
        .collect();
    names.sort();
    same(
        &names,
        &vec![
            "customer.suspended".to_owned(),
            "customer.updated".to_owned(),
        ],
        "the events of a rename and a suspension",
    );

    let untouched = ok(
        repos
            .customers
            .update(CustomerId::generate(), &update, &|_, _| {
                panic!("no events are made for a customer that does not exist")
            })
            .await,
        "CustomerRepository::update of an unknown customer",
    );
    same(&untouched, &None, "the update of an unknown customer");
}

/// A key revoked twice is recorded once: the second revocation changes nothing.
pub async fn a_revocation_is_recorded_once(repos: Repositories) {
    let subject = token();
    let actor = origin(&subject);
    let owner = new_customer(&format!("keys {subject}"), None, T0);
    ok(
        repos
            .customers
            .insert(&owner, &AuditEvent::customer_created(&actor, &owner))
            .await,
        "CustomerRepository::insert",
    );
    let key = super::api_keys::new_key(owner.id);
    ok(
        repos
            .api_keys
            .insert(&key, &AuditEvent::key_created(&actor, &key))
            .await,
        "ApiKeyRepository::insert",
    );
    for seconds in [T0 + 1, T0 + 2] {
        let revoked = ok(
            repos
                .api_keys
                .revoke(key.id, at(seconds), &|before, after| {
                    vec![AuditEvent::key_revoked(&actor, before, after)]
                })
                .await,
            "ApiKeyRepository::revoke",
        );
        same(&revoked, &true, "revoking a stored key");
    }
    let unknown = ok(
        repos
            .api_keys
            .revoke(ApiKeyId::generate(), at(T0), &|_, _| {
                panic!("no event is made for a key that does not exist")
            })
            .await,
        "ApiKeyRepository::revoke of an unknown key",
    );
    same(&unknown, &false, "revoking an unknown key");
    let revocations: Vec<AuditEvent> = events_by(&repos, &subject)
        .await
        .into_iter()
        .filter(|e| e.event == "key.revoked")
        .collect();
    same(
        &revocations.len(),
        &1,
        "key.revoked events of a key revoked twice",
    );
    same(
        &revocations[0].payload["after"]["revoked_at"],
        &serde_json::json!(T0 + 1),
        "the revocation recorded is the first",
    );
}

/// After `AuditService::link_pending`, each event written before it sits in the chain
/// exactly once and none waits for its link.
pub async fn the_linker_links_every_committed_event_once(repos: Repositories) {
    let subject = token();
    let actor = origin(&subject);
    let customer = new_customer(&format!("linked {subject}"), None, T0);
    let mut written = vec![AuditEvent::customer_created(&actor, &customer)];
    ok(
        repos.customers.insert(&customer, &written[0]).await,
        "CustomerRepository::insert",
    );
    let batch: Vec<AuditEvent> = (0..3)
        .map(|_| AuditEvent::customer_created(&actor, &customer))
        .collect();
    ok(
        repos.audit.record_many(&batch).await,
        "AuditRepository::record_many",
    );
    written.extend(batch);

    let audit = AuditService::new(Arc::clone(&repos.audit));
    ok(audit.link_pending().await, "AuditService::link_pending");
    let waiting = ok(
        repos.audit.unchained(10_000).await,
        "AuditRepository::unchained",
    );
    assert!(
        written.iter().all(|event| !waiting.contains(event)),
        "an event written before link_pending still awaits its link"
    );
    same(
        &times_in_chain(&repos, &written).await,
        &vec![1; written.len()],
        "times each event sits in the chain",
    );
}

/// A write-behind queue writes a batch again when its commit went unacknowledged,
/// with newer events beside it: the write succeeds, the new events are appended, and
/// every event sits in the chain once.
pub async fn a_batch_written_again_appends_only_what_is_new(repos: Repositories) {
    let subject = token();
    let actor = origin(&subject);
    let customer = new_customer(&format!("retried {subject}"), None, T0);
    let first: Vec<AuditEvent> = (0..3)
        .map(|_| AuditEvent::customer_created(&actor, &customer))
        .collect();
    ok(
        repos.audit.record_many(&first).await,
        "AuditRepository::record_many",
    );
    let mut again = first.clone();
    again.extend((0..2).map(|_| AuditEvent::customer_created(&actor, &customer)));
    ok(
        repos.audit.record_many(&again).await,
        "AuditRepository::record_many of a batch written already, with new events",
    );
    ok(
        repos.audit.record_many(&again).await,
        "AuditRepository::record_many of a batch written whole already",
    );
    let mut stored = events_by(&repos, &subject).await;
    stored.sort_by_key(|event| event.id);
    let mut expected = again.clone();
    expected.sort_by_key(|event| event.id);
    same(&stored, &expected, "the events of the batches");
    let audit = AuditService::new(Arc::clone(&repos.audit));
    ok(audit.link_pending().await, "AuditService::link_pending");
    same(
        &times_in_chain(&repos, &again).await,
        &vec![1; again.len()],
        "times each event sits in the chain",
    );
}

/// How many times each of `written` sits in the chain, walked from its start.
async fn times_in_chain(repos: &Repositories, written: &[AuditEvent]) -> Vec<u64> {
    let start = ok(
        repos.audit.chain_bounds().await,
        "AuditRepository::chain_bounds",
    )
    .start;
    let mut seen: Vec<u64> = vec![0; written.len()];
    let mut after = start.position;
    loop {
        let page = ok(
            repos.audit.chained_after(after, 1_000).await,
            "AuditRepository::chained_after",
        );
        for chained in &page {
            if let Some(i) = written.iter().position(|e| *e == chained.event) {
                seen[i] += 1;
            }
            after = chained.link.map_or(after, |link| link.position);
        }
        if page.len() < 1_000 {
            break;
        }
    }
    seen
}

/// Changes, single events and batches written at once from many tasks, while a linker
/// runs as the server's does, all land in one chain that verifies.
pub async fn concurrent_writers_keep_one_verifiable_chain(repos: Repositories) {
    let subject = token();
    let linker = Linker::start(&repos);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let repos = repos.clone();
            let actor = origin(&subject);
            tokio::spawn(async move {
                for i in 0..5 {
                    let customer = new_customer(&format!("racer {w} {i}"), None, T0);
                    let event = AuditEvent::customer_created(&actor, &customer);
                    repos.customers.insert(&customer, &event).await?;
                    let single = AuditEvent::customer_created(&actor, &customer);
                    repos.audit.record(&single).await?;
                    let batch: Vec<AuditEvent> = (0..3)
                        .map(|_| AuditEvent::customer_created(&actor, &customer))
                        .collect();
                    repos.audit.record_many(&batch).await?;
                }
                Ok::<(), RepoError>(())
            })
        })
        .collect();
    for writer in writers {
        ok(
            writer.await.expect("the writer did not panic"),
            "concurrent writes",
        );
    }
    same(
        &events_by(&repos, &subject).await.len(),
        &(8 * 5 * 5),
        "events written by eight concurrent writers",
    );
    linker.stop("the writers").await;
    let audit = AuditService::new(Arc::clone(&repos.audit));
    ok(audit.link_pending().await, "AuditService::link_pending");
    let verified = audit.verify().await;
    match verified {
        Ok(chain) => assert!(
            chain.events >= 200,
            "the chain holds at least the 200 events just written: {chain:?}"
        ),
        Err(err) => panic!("the chain after concurrent writers does not verify: {err}"),
    }
}

/// Batches (tokens with their events, and events alone) written by two stores on one
/// database, as two server instances write them, keep one chain: each batch is stored
/// whole, each event sits in the chain once, and the chain verifies. An instance that
/// expects the head where its last batch left it finds it moved by the other (or by the
/// linker) and still writes its batch, once.
pub async fn batches_of_two_instances_keep_one_chain(a: Repositories, b: Repositories) {
    let customer = new_customer(&format!("two instances {}", token()), None, T0);
    store_customer(&a.customers, &customer).await;
    let release = new_release(&fresh_product(), "1.0.0", T0);
    store_release(&a.releases, &release).await;
    let artifact = new_artifact(&release, "linux", T0);
    store_artifact(&a.artifacts, &artifact).await;
    let batch = |tokens: bool| {
        if tokens {
            Batch::Tokens(with_events(
                &[0, 1, 2].map(|_| new_token(artifact.id, customer.id)),
            ))
        } else {
            Batch::Events(
                (0..4)
                    .map(|_| AuditEvent::customer_created(&Origin::system(), &customer))
                    .collect(),
            )
        }
    };

    // One after the other (a, a, b, a, a, b): a's fourth and b's second batch find the
    // head where the other instance's batch left it, not where their own did.
    let mut written: Vec<Batch> = Vec::new();
    for (writer, tokens) in [
        (&a, true),
        (&a, true),
        (&b, false),
        (&a, true),
        (&a, false),
        (&b, true),
    ] {
        let batch = batch(tokens);
        ok(batch.write(writer).await, batch.method());
        written.push(batch);
    }

    // At once: both instances' batch writers, one instance's changes (whose events the
    // linker links, moving the head under both), and a linker.
    let linker = Linker::start(&a);
    let writers: Vec<_> = [&a, &b, &a, &b]
        .into_iter()
        .enumerate()
        .map(|(w, repos)| {
            let repos = repos.clone();
            let batches: Vec<Batch> = (0..8).map(|i| batch((w + i) % 2 == 0)).collect();
            let changes: Vec<Customer> = (0..4)
                .map(|i| new_customer(&format!("instance change {} {w} {i}", token()), None, T0))
                .collect();
            tokio::spawn(async move {
                for batch in &batches {
                    batch.write(&repos).await?;
                }
                let mut changed: Vec<AuditEvent> = Vec::new();
                for customer in &changes {
                    let event = AuditEvent::customer_created(&Origin::system(), customer);
                    repos.customers.insert(customer, &event).await?;
                    changed.push(event);
                }
                Ok::<_, RepoError>((batches, changed))
            })
        })
        .collect();
    let mut changed: Vec<AuditEvent> = Vec::new();
    for writer in writers {
        let (batches, events) = ok(
            writer.await.expect("the writer did not panic"),
            "batches written by two instances at once",
        );
        written.extend(batches);
        changed.extend(events);
    }
    linker.stop("two instances' batches").await;

    let issued = written.iter().flat_map(|batch| match batch {
        Batch::Tokens(issued) => issued.as_slice(),
        Batch::Events(_) => &[],
    });
    let written: Vec<AuditEvent> = written
        .iter()
        .flat_map(Batch::events)
        .chain(&changed)
        .cloned()
        .collect();
    for (token, _) in issued {
        same(
            &ok(
                b.download_tokens.find_grant(&token.token_hash).await,
                "DownloadTokenRepository::find_grant",
            )
            .map(|grant| grant.token),
            &Some(token.clone()),
            "a token of either instance's batches, found by its hash",
        );
    }
    let audit = AuditService::new(Arc::clone(&b.audit));
    ok(audit.link_pending().await, "AuditService::link_pending");
    same(
        &times_in_chain(&b, &written).await,
        &vec![1; written.len()],
        "times each event of two instances' batches sits in the chain",
    );
    if let Err(err) = audit.verify().await {
        panic!("the chain written by two instances does not verify: {err}");
    }
}

/// One write of [`batches_of_two_instances_keep_one_chain`]: tokens with their events,
/// or events alone.
enum Batch {
    Tokens(Vec<(DownloadToken, AuditEvent)>),
    Events(Vec<AuditEvent>),
}

impl Batch {
    /// Writes it through `repos` (the write-behind's and the token batches' methods).
    async fn write(&self, repos: &Repositories) -> Result<(), RepoError> {
        match self {
            Batch::Tokens(issued) => repos.download_tokens.insert_many(issued).await,
            Batch::Events(events) => repos.audit.record_many(events).await,
        }
    }

    /// The method [`Batch::write`] calls, for a failure's message.
    fn method(&self) -> &'static str {
        match self {
            Batch::Tokens(_) => "DownloadTokenRepository::insert_many",
            Batch::Events(_) => "AuditRepository::record_many",
        }
    }

    /// Its events, in the order written.
    fn events(&self) -> Box<dyn Iterator<Item = &AuditEvent> + '_> {
        match self {
            Batch::Tokens(issued) => Box::new(issued.iter().map(|(_, event)| event)),
            Batch::Events(events) => Box::new(events.iter()),
        }
    }
}
