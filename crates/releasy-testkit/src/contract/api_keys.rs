//! Checks of [`ApiKeyRepository`]: storage round trip, finding authentication
//! candidates by lookup and by legacy digest, hash upgrades, use tracking, listing by
//! customer, revocation (scheduled and at once), rotation and duplicate ids.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use releasy_domain::api_key::{
    AllowedNetworks, ApiKey, AuthCandidate, KeyChanges, KeyLookup, KeyName, KeyType, Rotation,
    RotationOverlap, ScopeSet, StoredKeyHash,
};
use releasy_domain::ports::{ApiKeyRepository, CustomerRepository, RepoError};
use releasy_domain::{ApiKeyId, CustomerId};

use super::change_event;
use super::{T0, at, new_customer, ok, run_check, same, store_customer, token};

/// Runs every API-key check; `customers` must be the store `api_keys` joins to.
pub async fn run_all(api_keys: Arc<dyn ApiKeyRepository>, customers: Arc<dyn CustomerRepository>) {
    let (k, c) = (api_keys, customers);
    run_check!(insert_get_round_trip(k.clone(), c.clone()));
    run_check!(get_unknown_is_none(k.clone()));
    run_check!(candidates_are_found_by_lookup(k.clone(), c.clone()));
    run_check!(candidates_are_found_by_legacy_digest(k.clone(), c.clone()));
    run_check!(candidates_of_unknown_secret_are_empty(k.clone(), c.clone()));
    run_check!(upgrade_hash_replaces_hash_and_lookup(k.clone(), c.clone()));
    run_check!(touch_last_used_records_the_time(k.clone(), c.clone()));
    run_check!(list_for_customer_is_newest_first(k.clone(), c.clone()));
    run_check!(update_changes_the_name_and_address_rule(
        k.clone(),
        c.clone()
    ));
    run_check!(revoke_keeps_the_first_time(k.clone(), c.clone()));
    run_check!(revoke_brings_a_scheduled_revocation_forward(
        k.clone(),
        c.clone()
    ));
    run_check!(revoke_unknown_is_false(k.clone()));
    run_check!(rotate_schedules_the_revocation_and_stores_the_successor(
        k.clone(),
        c.clone()
    ));
    run_check!(rotate_of_a_revoked_or_rotating_key_writes_nothing(
        k.clone(),
        c.clone()
    ));
    run_check!(duplicate_id_is_a_conflict(k, c));
}

/// A fresh lookup value: 16 hex digits, like the real ones.
fn fresh_lookup() -> KeyLookup {
    KeyLookup::from_stored(token()[..16].to_owned())
}

/// A fresh Argon2id-shaped hash.
fn fresh_argon2() -> StoredKeyHash {
    StoredKeyHash::Argon2id(format!(
        "$argon2id$v=19$m=19456,t=2,p=1${}${}",
        &token()[..22],
        token()
    ))
}

/// A fresh legacy hash: 64 lowercase hex digits.
fn fresh_legacy_hex() -> String {
    format!("{}{}", token(), token())
}

/// A key of `owner` with every optional column empty.
pub(crate) fn new_key(owner: CustomerId) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        customer_id: owner,
        name: None,
        key_type: KeyType::Human.into(),
        scopes: ScopeSet::all().into(),
        hash: fresh_argon2(),
        lookup: fresh_lookup(),
        created_at: at(T0),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        last_used_address: None,
        allowed_networks: None,
    }
}

/// Stores a fresh customer (suspended at `suspended_at`, if given) and returns its id.
async fn owner(customers: &Arc<dyn CustomerRepository>, suspended_at: Option<i64>) -> CustomerId {
    let mut customer = new_customer(&format!("Key owner {}", token()), None, T0);
    customer.suspended_at = suspended_at.map(at);
    store_customer(customers, &customer).await;
    customer.id
}

async fn store_key(api_keys: &Arc<dyn ApiKeyRepository>, key: &ApiKey) {
    ok(
        api_keys.insert(key, &change_event()).await,
        "ApiKeyRepository::insert",
    );
}

async fn get_key(api_keys: &Arc<dyn ApiKeyRepository>, id: ApiKeyId) -> Option<ApiKey> {
    ok(api_keys.get(id).await, "ApiKeyRepository::get")
}

async fn candidates(
    api_keys: &Arc<dyn ApiKeyRepository>,
    lookup: &KeyLookup,
    legacy_digest: &str,
) -> Vec<AuthCandidate> {
    let mut found = ok(
        api_keys.find_auth_candidates(lookup, legacy_digest).await,
        "ApiKeyRepository::find_auth_candidates",
    );
    found.sort_by_key(|c| c.id);
    found
}

/// The candidate `key` must yield, its owner suspended at `suspended_at`.
fn candidate_of(key: &ApiKey, suspended_at: Option<i64>) -> AuthCandidate {
    AuthCandidate {
        id: key.id,
        customer_id: key.customer_id,
        hash: key.hash.clone(),
        scopes: key.scopes.to_stored(),
        key_type: key.key_type.as_str().to_owned(),
        expires_at: key.expires_at,
        revoked_at: key.revoked_at,
        customer_suspended_at: suspended_at.map(at),
        last_used_at: key.last_used_at,
        allowed_cidrs: key
            .allowed_networks
            .as_ref()
            .map(AllowedNetworks::to_stored),
    }
}

/// A key round-trips through insert and get, with and without optional columns.
pub async fn insert_get_round_trip(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let full = ApiKey {
        name: Some(KeyName::parse("deploy pipeline").expect("a valid key name")),
        key_type: KeyType::Ci.into(),
        scopes: ScopeSet::parse(&["releases:read", "downloads:token"])
            .expect("valid scopes")
            .into(),
        expires_at: Some(at(T0 + 3600)),
        revoked_at: Some(at(T0 + 60)),
        last_used_at: Some(at(T0 + 30)),
        last_used_address: Some("2001:db8::1".parse().expect("address")),
        allowed_networks: Some(
            AllowedNetworks::parse(&["10.0.0.0/8", "2001:db8::/32"]).expect("valid ranges"),
        ),
        ..new_key(customer)
    };
    let legacy = ApiKey {
        key_type: KeyType::Integration.into(),
        hash: StoredKeyHash::LegacySha256(fresh_legacy_hex()),
        ..new_key(customer)
    };
    let bare = new_key(customer);
    for key in [&full, &legacy, &bare] {
        store_key(&api_keys, key).await;
    }
    for key in [&full, &legacy, &bare] {
        let got = get_key(&api_keys, key.id).await;
        same(&got.as_ref(), &Some(key), "get returns the stored key");
    }
}

/// `get` of an id never stored is `None`.
pub async fn get_unknown_is_none(api_keys: Arc<dyn ApiKeyRepository>) {
    same(
        &get_key(&api_keys, ApiKeyId::generate()).await,
        &None,
        "get of an unknown key id",
    );
}

/// Every key whose lookup matches is a candidate (revoked and expired ones too: the
/// authenticator decides), with its owner's suspension time.
pub async fn candidates_are_found_by_lookup(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let suspended_at = T0 + 99;
    let active = owner(&customers, None).await;
    let suspended = owner(&customers, Some(suspended_at)).await;
    let shared = fresh_lookup();
    let first = ApiKey {
        lookup: shared.clone(),
        key_type: KeyType::Ci.into(),
        scopes: ScopeSet::parse(&["audit:read"])
            .expect("valid scopes")
            .into(),
        expires_at: Some(at(T0 + 10)),
        ..new_key(active)
    };
    // Lookups are 64 bits: a collision must still list both keys.
    let colliding = ApiKey {
        lookup: shared.clone(),
        revoked_at: Some(at(T0 + 20)),
        ..new_key(suspended)
    };
    let unrelated = new_key(active);
    for key in [&first, &colliding, &unrelated] {
        store_key(&api_keys, key).await;
    }
    let mut expected = vec![
        candidate_of(&first, None),
        candidate_of(&colliding, Some(suspended_at)),
    ];
    expected.sort_by_key(|c| c.id);
    same(
        &candidates(&api_keys, &shared, &fresh_legacy_hex()).await,
        &expected,
        "candidates by lookup, with the owners' suspension",
    );
    same(
        &candidates(&api_keys, &unrelated.lookup, &fresh_legacy_hex()).await,
        &vec![candidate_of(&unrelated, None)],
        "candidates by another lookup",
    );
}

/// A legacy key is a candidate when its stored SHA-256 hex equals the digest, whatever
/// lookup is presented; both ways combine in one answer.
pub async fn candidates_are_found_by_legacy_digest(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let suspended_at = T0 + 7;
    let customer = owner(&customers, Some(suspended_at)).await;
    let hex = fresh_legacy_hex();
    let legacy = ApiKey {
        hash: StoredKeyHash::LegacySha256(hex.clone()),
        ..new_key(customer)
    };
    let modern = new_key(customer);
    store_key(&api_keys, &legacy).await;
    store_key(&api_keys, &modern).await;
    same(
        &candidates(&api_keys, &fresh_lookup(), &hex).await,
        &vec![candidate_of(&legacy, Some(suspended_at))],
        "candidates by legacy digest",
    );
    let mut both = vec![
        candidate_of(&legacy, Some(suspended_at)),
        candidate_of(&modern, Some(suspended_at)),
    ];
    both.sort_by_key(|c| c.id);
    same(
        &candidates(&api_keys, &modern.lookup, &hex).await,
        &both,
        "candidates by lookup and by legacy digest together",
    );
    let found = candidates(&api_keys, &fresh_lookup(), &hex).await;
    assert!(
        found.iter().all(|c| c.hash.is_legacy()),
        "a legacy candidate keeps its legacy hash format"
    );
}

/// A secret matching no lookup and no legacy digest has no candidates.
pub async fn candidates_of_unknown_secret_are_empty(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    store_key(&api_keys, &new_key(customer)).await;
    same(
        &candidates(&api_keys, &fresh_lookup(), &fresh_legacy_hex()).await,
        &vec![],
        "candidates of an unknown secret",
    );
}

/// `upgrade_hash` replaces the hash and the lookup: the key is found by its new lookup
/// and no longer by its legacy digest.
pub async fn upgrade_hash_replaces_hash_and_lookup(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let hex = fresh_legacy_hex();
    let key = ApiKey {
        hash: StoredKeyHash::LegacySha256(hex.clone()),
        ..new_key(customer)
    };
    store_key(&api_keys, &key).await;
    let (new_hash, new_lookup) = (fresh_argon2(), fresh_lookup());
    ok(
        api_keys.upgrade_hash(key.id, &new_hash, &new_lookup).await,
        "ApiKeyRepository::upgrade_hash",
    );
    let upgraded = ApiKey {
        hash: new_hash,
        lookup: new_lookup.clone(),
        ..key.clone()
    };
    same(
        &get_key(&api_keys, key.id).await,
        &Some(upgraded.clone()),
        "the upgraded key (only hash and lookup changed)",
    );
    same(
        &candidates(&api_keys, &new_lookup, &fresh_legacy_hex()).await,
        &vec![candidate_of(&upgraded, None)],
        "the upgraded key is found by its new lookup",
    );
    same(
        &candidates(&api_keys, &key.lookup, &hex).await,
        &vec![],
        "the upgraded key is no longer found by its old lookup or legacy digest",
    );
}

/// `touch_last_used` records the time and address of use and nothing else; a use
/// without a known address records the address as unknown.
pub async fn touch_last_used_records_the_time(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let key = new_key(customer);
    store_key(&api_keys, &key).await;
    let v4: IpAddr = "203.0.113.9".parse().expect("address");
    let v6: IpAddr = "2001:db8::7".parse().expect("address");
    for (seconds, client, shown) in [
        (T0 + 5, Some(v4), Some(v4)),
        (T0 + 50, Some(v6), Some(v6)),
        (T0 + 90, None, None),
    ] {
        ok(
            api_keys.touch_last_used(key.id, at(seconds), client).await,
            "ApiKeyRepository::touch_last_used",
        );
        let expected = ApiKey {
            last_used_at: Some(at(seconds)),
            last_used_address: shown,
            ..key.clone()
        };
        same(
            &get_key(&api_keys, key.id).await,
            &Some(expected),
            "the key after touch_last_used",
        );
    }
}

/// `update` changes the name and the address rule (set, then cleared), passes the key
/// before and after to `events`, and leaves other keys alone; an unknown id is `None`.
pub async fn update_changes_the_name_and_address_rule(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let key = new_key(customer);
    let bystander = new_key(customer);
    store_key(&api_keys, &key).await;
    store_key(&api_keys, &bystander).await;
    let office = AllowedNetworks::parse(&["198.51.100.0/24"]).expect("valid ranges");
    let set = KeyChanges {
        name: Some(Some(KeyName::parse("office").expect("valid name"))),
        allowed_networks: Some(Some(office)),
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |before: &ApiKey, after: &ApiKey| {
        seen.lock()
            .expect("not poisoned")
            .push((before.clone(), after.clone()));
        vec![change_event()]
    };
    let updated = ok(
        api_keys.update(key.id, &set, &record).await,
        "ApiKeyRepository::update",
    );
    let expected = set.apply_to(&key);
    same(
        &updated,
        &Some(expected.clone()),
        "update returns the changed key",
    );
    same(
        &get_key(&api_keys, key.id).await,
        &Some(expected.clone()),
        "the key after update",
    );
    same(
        &*seen.lock().expect("not poisoned"),
        &vec![(key.clone(), expected.clone())],
        "events see the key before and after",
    );
    let clear = KeyChanges {
        name: None,
        allowed_networks: Some(None),
    };
    let cleared = ok(
        api_keys.update(key.id, &clear, &record).await,
        "ApiKeyRepository::update",
    );
    same(
        &cleared.and_then(|k| k.allowed_networks),
        &None,
        "clearing the rule",
    );
    same(
        &get_key(&api_keys, key.id).await.and_then(|k| k.name),
        &expected.name,
        "a change that does not name the name keeps it",
    );
    same(
        &get_key(&api_keys, bystander.id).await,
        &Some(bystander.clone()),
        "updating one key leaves the others alone",
    );
    same(
        &ok(
            api_keys.update(ApiKeyId::generate(), &set, &record).await,
            "ApiKeyRepository::update",
        ),
        &None,
        "update of an unknown key id",
    );
}

/// `list_for_customer` returns the customer's keys and no other's, newest first (the
/// id breaks ties, descending), revoked ones included.
pub async fn list_for_customer_is_newest_first(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let other = owner(&customers, None).await;
    let oldest = ApiKey {
        revoked_at: Some(at(T0 + 3)),
        ..new_key(customer)
    };
    let newest = ApiKey {
        created_at: at(T0 + 10),
        ..new_key(customer)
    };
    let (tie_a, tie_b) = (
        ApiKey {
            created_at: at(T0 + 5),
            ..new_key(customer)
        },
        ApiKey {
            created_at: at(T0 + 5),
            ..new_key(customer)
        },
    );
    for key in [&oldest, &newest, &tie_a, &tie_b, &new_key(other)] {
        store_key(&api_keys, key).await;
    }
    let (tie_high, tie_low) = if tie_a.id > tie_b.id {
        (tie_a, tie_b)
    } else {
        (tie_b, tie_a)
    };
    let list = async |owner, offset, limit| {
        ok(
            api_keys
                .list_for_customer(owner, super::releases::page(offset, limit))
                .await,
            "ApiKeyRepository::list_for_customer",
        )
    };
    same(
        &list(customer, 0, 200).await,
        &vec![newest.clone(), tie_high.clone(), tie_low.clone(), oldest],
        "a customer's keys, newest first",
    );
    same(
        &list(customer, 1, 2).await,
        &vec![tie_high, tie_low],
        "a page of two after the first key",
    );
    same(
        &list(customer, 4, 200).await,
        &vec![],
        "a page past the end",
    );
    same(
        &list(CustomerId::generate(), 0, 200).await,
        &vec![],
        "the keys of an unknown customer",
    );
}

/// `revoke` returns `true` for a stored key and keeps the first revocation time.
pub async fn revoke_keeps_the_first_time(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let key = new_key(customer);
    let bystander = new_key(customer);
    store_key(&api_keys, &key).await;
    store_key(&api_keys, &bystander).await;
    let revoked = ApiKey {
        revoked_at: Some(at(T0 + 100)),
        ..key.clone()
    };
    for (seconds, what) in [(T0 + 100, "first revoke"), (T0 + 200, "second revoke")] {
        let matched = ok(
            api_keys
                .revoke(key.id, at(seconds), &|_, _| vec![change_event()])
                .await,
            "ApiKeyRepository::revoke",
        );
        same(&matched, &true, &format!("{what} of a stored key"));
        same(
            &get_key(&api_keys, key.id).await,
            &Some(revoked.clone()),
            &format!("the key after the {what} keeps the first revocation time"),
        );
    }
    same(
        &get_key(&api_keys, bystander.id).await,
        &Some(bystander.clone()),
        "revoking one key leaves the others alone",
    );
}

/// `revoke` before a revocation a rotation scheduled brings it forward, and sees the
/// scheduled time as `before`.
pub async fn revoke_brings_a_scheduled_revocation_forward(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let key = ApiKey {
        revoked_at: Some(at(T0 + 1_000)),
        ..new_key(customer)
    };
    store_key(&api_keys, &key).await;
    let seen = std::sync::Mutex::new(None);
    let matched = ok(
        api_keys
            .revoke(key.id, at(T0 + 10), &|before, after| {
                *seen.lock().expect("not poisoned") = Some((before.revoked_at, after.revoked_at));
                vec![change_event()]
            })
            .await,
        "ApiKeyRepository::revoke",
    );
    same(&matched, &true, "revoke of a key being rotated");
    same(
        &*seen.lock().expect("not poisoned"),
        &Some((Some(at(T0 + 1_000)), Some(at(T0 + 10)))),
        "the revocation's before and after",
    );
    same(
        &get_key(&api_keys, key.id).await.and_then(|k| k.revoked_at),
        &Some(at(T0 + 10)),
        "the revocation is brought forward",
    );
}

/// `rotate` schedules the old key's revocation, stores the successor, and reports
/// `true`.
pub async fn rotate_schedules_the_revocation_and_stores_the_successor(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let old = new_key(customer);
    store_key(&api_keys, &old).await;
    let rotation = Rotation::plan(
        &old,
        new_key(customer),
        RotationOverlap::parse(Some(600)).expect("valid"),
        at(T0 + 20),
    );
    let rotated = ok(
        api_keys.rotate(&rotation, &[change_event()]).await,
        "ApiKeyRepository::rotate",
    );
    same(&rotated, &true, "rotate of a live key");
    same(
        &get_key(&api_keys, old.id).await,
        &Some(rotation.retiring.clone()),
        "the old key after the rotation",
    );
    same(
        &get_key(&api_keys, rotation.successor.id).await,
        &Some(rotation.successor.clone()),
        "the successor after the rotation",
    );
}

/// `rotate` of a key that is revoked, whose revocation is scheduled, or whose settings
/// changed since the rotation was planned, is `false` and stores no successor.
pub async fn rotate_of_a_revoked_or_rotating_key_writes_nothing(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    for revoked_at in [T0 + 1, T0 + 5_000] {
        let old = ApiKey {
            revoked_at: Some(at(revoked_at)),
            ..new_key(customer)
        };
        store_key(&api_keys, &old).await;
        let rotation = Rotation::plan(
            &old,
            new_key(customer),
            RotationOverlap::parse(Some(60)).expect("valid"),
            at(T0 + 2),
        );
        let rotated = ok(
            api_keys.rotate(&rotation, &[change_event()]).await,
            "ApiKeyRepository::rotate",
        );
        same(&rotated, &false, "rotate of a key with a revocation");
        same(
            &get_key(&api_keys, old.id).await,
            &Some(old.clone()),
            "the old key is unchanged",
        );
        same(
            &get_key(&api_keys, rotation.successor.id).await,
            &None,
            "no successor is stored",
        );
    }
    let renamed = new_key(customer);
    store_key(&api_keys, &renamed).await;
    let stale = Rotation::plan(
        &renamed,
        new_key(customer),
        RotationOverlap::parse(Some(60)).expect("valid"),
        at(T0 + 2),
    );
    let rename = KeyChanges {
        name: Some(Some(
            KeyName::parse("changed meanwhile").expect("valid name"),
        )),
        allowed_networks: None,
    };
    ok(
        api_keys
            .update(renamed.id, &rename, &|_, _| vec![change_event()])
            .await,
        "ApiKeyRepository::update",
    );
    same(
        &ok(
            api_keys.rotate(&stale, &[change_event()]).await,
            "ApiKeyRepository::rotate",
        ),
        &false,
        "rotate planned before a change of the key's settings",
    );
    same(
        &get_key(&api_keys, stale.successor.id).await,
        &None,
        "no successor of a stale plan is stored",
    );
    same(
        &get_key(&api_keys, renamed.id)
            .await
            .and_then(|k| k.revoked_at),
        &None,
        "a stale plan schedules no revocation",
    );
    same(
        &ok(
            api_keys
                .rotate(
                    &Rotation::plan(
                        &new_key(customer),
                        new_key(customer),
                        RotationOverlap::parse(None).expect("valid"),
                        at(T0),
                    ),
                    &[change_event()],
                )
                .await,
            "ApiKeyRepository::rotate",
        ),
        &false,
        "rotate of a key never stored",
    );
}

/// `revoke` of an id never stored is `false`.
pub async fn revoke_unknown_is_false(api_keys: Arc<dyn ApiKeyRepository>) {
    let matched = ok(
        api_keys
            .revoke(ApiKeyId::generate(), at(T0), &|_, _| vec![change_event()])
            .await,
        "ApiKeyRepository::revoke",
    );
    same(&matched, &false, "revoke of an unknown key id");
}

/// Inserting a second key with an existing id is [`RepoError::Conflict`]; the first
/// key is kept.
pub async fn duplicate_id_is_a_conflict(
    api_keys: Arc<dyn ApiKeyRepository>,
    customers: Arc<dyn CustomerRepository>,
) {
    let customer = owner(&customers, None).await;
    let key = new_key(customer);
    store_key(&api_keys, &key).await;
    let duplicate = ApiKey {
        id: key.id,
        ..new_key(customer)
    };
    match api_keys.insert(&duplicate, &change_event()).await {
        Err(RepoError::Conflict) => {}
        other => panic!("inserting a duplicate key id: expected Err(Conflict), got {other:?}"),
    }
    same(
        &get_key(&api_keys, key.id).await,
        &Some(key.clone()),
        "the first key survives a duplicate insert",
    );
    let ids: HashSet<ApiKeyId> = candidates(&api_keys, &duplicate.lookup, &fresh_legacy_hex())
        .await
        .into_iter()
        .map(|c| c.id)
        .collect();
    same(
        &ids,
        &HashSet::new(),
        "the rejected duplicate is not stored",
    );
}
