//! Customer API keys: `POST /v1/auth/introspect`, the per-request checks (revoked,
//! expired, suspended, scope), the legacy SHA-256 format and its upgrade, and the
//! `api_key.auth` audit event every attempt leaves.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_store_diesel::schema::{api_keys, customers};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::database::{Db, with_conn};
use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;

const INTROSPECT: &str = "/v1/auth/introspect";

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn now() -> i64 {
    (now_millis() / 1000) as i64
}

/// Sleeps until the wall clock has reached the second `at` (keys expire at their
/// `expires_at` second).
async fn sleep_until_second(at: i64) {
    let target = u128::try_from(at).unwrap() * 1000 + 50;
    let current = now_millis();
    if target > current {
        let wait = u64::try_from(target - current).unwrap();
        assert!(wait <= 3_000, "waits at most 3 s ({wait} ms)");
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

async fn introspect(app: &TestApp, api_key: &str) -> reqwest::Response {
    app.customer(Method::POST, INTROSPECT, api_key)
        .send()
        .await
        .unwrap()
}

async fn assert_accepted(app: &TestApp, api_key: &str) -> Value {
    let response = introspect(app, api_key).await;
    assert_eq!(response.status(), 200, "key is accepted");
    response.json().await.unwrap()
}

async fn assert_rejected(app: &TestApp, api_key: &str) {
    assert_error(introspect(app, api_key).await, 401, "unauthorized").await;
}

/// A key with the raw secret of this server's shape that was never issued.
fn unknown_key() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("releasy_{}", &format!("{hex}{hex}")[..43])
}

/// A key row as the tests look at it.
#[derive(Debug)]
struct KeyRow {
    key_hash: String,
    key_lookup: Option<String>,
    scopes: String,
    last_used_at: Option<i64>,
}

impl Db {
    async fn key(&mut self, api_key_id: &str) -> KeyRow {
        let query = api_keys::table.find(api_key_id.to_owned()).select((
            api_keys::key_hash,
            api_keys::key_lookup,
            api_keys::scopes,
            api_keys::last_used_at,
        ));
        let (key_hash, key_lookup, scopes, last_used_at) = with_conn!(self, conn => query
                .first::<(String, Option<String>, String, Option<i64>)>(conn)
                .await
                .unwrap());
        KeyRow {
            key_hash,
            key_lookup,
            scopes,
            last_used_at,
        }
    }

    /// Stores the key the way older servers did: an unsalted SHA-256 hex digest of the
    /// key's bytes followed by the pepper's (none unless a test configures one), and no
    /// lookup value.
    async fn make_legacy(&mut self, api_key_id: &str, api_key: &str, pepper: &str) {
        let digest: String = Sha256::digest(format!("{api_key}{pepper}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let query = diesel::update(api_keys::table.find(api_key_id.to_owned())).set((
            api_keys::key_hash.eq(digest),
            api_keys::key_lookup.eq(None::<String>),
        ));
        let updated = with_conn!(self, conn => query.execute(conn).await.unwrap());
        assert_eq!(updated, 1);
    }

    /// Stores the key as the reference server did: Argon2id with the `argon2` crate's
    /// default parameters over the key's bytes followed by the pepper's, as a PHC
    /// string, and no lookup value.
    async fn make_reference(&mut self, api_key_id: &str, api_key: &str, pepper: &str) {
        use argon2::PasswordHasher as _;
        let salt_bytes = *uuid::Uuid::new_v4().as_bytes();
        let salt = argon2::password_hash::SaltString::encode_b64(&salt_bytes).unwrap();
        let phc = argon2::Argon2::default()
            .hash_password(format!("{api_key}{pepper}").as_bytes(), &salt)
            .unwrap()
            .to_string();
        let query = diesel::update(api_keys::table.find(api_key_id.to_owned())).set((
            api_keys::key_hash.eq(phc),
            api_keys::key_lookup.eq(None::<String>),
        ));
        let updated = with_conn!(self, conn => query.execute(conn).await.unwrap());
        assert_eq!(updated, 1);
    }

    async fn set_expiry(&mut self, api_key_id: &str, expires_at: i64) {
        let query = diesel::update(api_keys::table.find(api_key_id.to_owned()))
            .set(api_keys::expires_at.eq(Some(expires_at)));
        let updated = with_conn!(self, conn => query.execute(conn).await.unwrap());
        assert_eq!(updated, 1);
    }

    async fn set_scopes(&mut self, api_key_id: &str, scopes: &str) {
        let query = diesel::update(api_keys::table.find(api_key_id.to_owned()))
            .set(api_keys::scopes.eq(scopes.to_owned()));
        let updated = with_conn!(self, conn => query.execute(conn).await.unwrap());
        assert_eq!(updated, 1);
    }

    async fn set_key_type(&mut self, api_key_id: &str, key_type: &str) {
        let query = diesel::update(api_keys::table.find(api_key_id.to_owned()))
            .set(api_keys::key_type.eq(key_type.to_owned()));
        let updated = with_conn!(self, conn => query.execute(conn).await.unwrap());
        assert_eq!(updated, 1);
    }
}

impl Db {
    /// Stores names and plans no request could set, as the reference server stored
    /// whatever it was sent.
    async fn set_unchecked_names(&mut self, customer_id: &str, api_key_id: &str, name: &str) {
        let key = diesel::update(api_keys::table.find(api_key_id.to_owned()))
            .set(api_keys::name.eq(Some(name.to_owned())));
        let customer = diesel::update(customers::table.find(customer_id.to_owned())).set((
            customers::name.eq(name.to_owned()),
            customers::plan.eq(Some(format!(" {name}\t"))),
        ));
        let updated = with_conn!(self, conn => key.execute(conn).await.unwrap()
            + customer.execute(conn).await.unwrap());
        assert_eq!(updated, 2);
    }
}

/// The `api_key.auth` events matching `query` (appended to the event filter).
async fn auth_events(app: &TestApp, query: &str) -> Vec<Value> {
    app.audit_events(&format!("event=api_key.auth&limit=200&{query}"))
        .await
}

/// `(outcome, reason, api_key_id)` of an auth event's payload, checking it has exactly
/// those fields and the address the test client connects from.
fn payload(event: &Value) -> (String, String, Value) {
    let payload = event["payload"].as_object().unwrap();
    let mut fields: Vec<&str> = payload.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["api_key_id", "client_address", "outcome", "reason"],
        "{event}"
    );
    assert_eq!(payload["client_address"], "127.0.0.1", "{event}");
    (
        payload["outcome"].as_str().unwrap().to_owned(),
        payload["reason"].as_str().unwrap().to_owned(),
        payload["api_key_id"].clone(),
    )
}

async fn introspect_describes_the_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let customer_id = customer["id"].as_str().unwrap();
    let expires_at = now() + 3600;
    let key = app
        .create_key(
            customer_id,
            json!({"key_type": "integration", "scopes": ["keys:read", "downloads:read"], "expires_at": expires_at}),
        )
        .await;
    let described = assert_accepted(&app, key["api_key"].as_str().unwrap()).await;
    assert_eq!(
        described,
        json!({
            "active": true,
            "api_key_id": key["api_key_id"],
            "customer_id": customer_id,
            "key_type": "integration",
            "scopes": ["downloads:read", "keys:read"],
            "expires_at": expires_at,
        })
    );

    let (customer_id, api_key, api_key_id) = app.customer_with_key().await;
    assert_eq!(
        assert_accepted(&app, &api_key).await,
        json!({
            "active": true,
            "api_key_id": api_key_id,
            "customer_id": customer_id,
            "key_type": "human",
            "scopes": ["releases:read", "downloads:read", "downloads:token", "keys:read", "keys:write", "audit:read"],
            "expires_at": null,
        })
    );
}

async fn missing_empty_and_unknown_keys_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;

    let none = app.client.post(app.url(INTROSPECT)).send().await.unwrap();
    assert_error(none, 401, "unauthorized").await;
    assert_rejected(&app, "").await;
    assert_rejected(&app, "   ").await;
    assert_rejected(&app, &unknown_key()).await;
    // A key differing from a real one in its last character.
    let mut altered = api_key.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    assert_rejected(&app, &altered).await;
    // An admin credential is no customer key.
    let admin = app.admin(Method::POST, INTROSPECT).send().await.unwrap();
    assert_error(admin, 401, "unauthorized").await;
    // The real key still works.
    assert_accepted(&app, &api_key).await;
}

/// A key header that is not visible ASCII was presented: it is an unknown key, not a
/// missing one.
async fn a_key_that_is_not_visible_ascii_is_unknown_not_missing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, _) = app.customer_with_key().await;
    for value in [
        format!("{api_key}\u{e9}").into_bytes(),
        vec![0xff, 0xfe, b'k', b'e', b'y'],
    ] {
        let response = app
            .client
            .post(app.url(INTROSPECT))
            .header(
                "x-releasy-api-key",
                reqwest::header::HeaderValue::from_bytes(&value).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "unauthorized").await;
    }
    let reasons: Vec<String> = auth_events(&app, "")
        .await
        .iter()
        .map(|event| payload(event).1)
        .collect();
    assert_eq!(reasons, ["not_found", "not_found"], "newest first");
}

async fn revoked_key_stops_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, api_key, api_key_id) = app.customer_with_key().await;
    assert_accepted(&app, &api_key).await;
    app.revoke_key(&api_key_id).await;
    assert_rejected(&app, &api_key).await;
    assert_rejected(&app, &api_key).await;
}

async fn expired_key_is_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let expires_at = now() + 2;
    let key = app
        .create_key(
            customer["id"].as_str().unwrap(),
            json!({ "expires_at": expires_at }),
        )
        .await;
    let api_key = key["api_key"].as_str().unwrap();
    assert_accepted(&app, api_key).await;
    sleep_until_second(expires_at).await;
    assert_rejected(&app, api_key).await;
}

async fn suspended_customer_keys_stop_until_unsuspended(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (customer_id, api_key, _) = app.customer_with_key().await;
    assert_accepted(&app, &api_key).await;
    app.patch_customer(&customer_id, json!({"suspended": true}))
        .await;
    assert_rejected(&app, &api_key).await;
    app.patch_customer(&customer_id, json!({"suspended": false}))
        .await;
    assert_accepted(&app, &api_key).await;
}

async fn key_without_scope_is_403(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer("Acme", None).await;
    let key = app
        .create_key(
            customer["id"].as_str().unwrap(),
            json!({"scopes": ["releases:read", "keys:write"]}),
        )
        .await;
    let response = introspect(&app, key["api_key"].as_str().unwrap()).await;
    assert_eq!(
        assert_error(response, 403, "forbidden").await,
        "missing scope"
    );
}

/// A server for tests that rewrite key rows by hand while it runs, to reach states the
/// API cannot make (hashes written by older servers, scopes that no longer parse). Its
/// read cache is off: on SQLite it does not see edits made outside the server (see
/// docs/configuration.md), and on PostgreSQL it sees them a moment later, when the
/// change notification arrives (tests/api/instances.rs covers that).
async fn spawn_for_hand_edits(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("RELEASY_CACHE_ROWS", "0")];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(backend, &settings).await
}

async fn legacy_sha256_key_is_accepted_and_upgraded(backend: Backend) {
    let app = spawn_for_hand_edits(backend, &[]).await;
    let (_, api_key, api_key_id) = app.customer_with_key().await;
    let mut db = Db::connect(&app).await;

    let fresh = db.key(&api_key_id).await;
    assert!(fresh.key_hash.starts_with("$argon2id$"), "{fresh:?}");
    assert!(fresh.key_lookup.is_some());
    assert_eq!(fresh.last_used_at, None, "never used yet");

    db.make_legacy(&api_key_id, &api_key, "").await;
    let legacy = db.key(&api_key_id).await;
    assert_eq!(legacy.key_hash.len(), 64);
    assert_eq!(legacy.key_lookup, None);

    let before = now();
    assert_accepted(&app, &api_key).await;
    let upgraded = db.key(&api_key_id).await;
    assert!(upgraded.key_hash.starts_with("$argon2id$"), "{upgraded:?}");
    assert!(
        !upgraded.key_hash.contains(&api_key[8..]),
        "the hash does not contain the key"
    );
    assert!(upgraded.key_lookup.is_some(), "{upgraded:?}");
    let used = upgraded.last_used_at.expect("last_used_at is set");
    assert!(used >= before && used <= now(), "{used}");

    // The upgraded hash keeps working; a wrong key still fails against it.
    assert_accepted(&app, &api_key).await;
    assert_rejected(&app, &unknown_key()).await;
    let after = db.key(&api_key_id).await;
    assert_eq!(after.key_hash, upgraded.key_hash, "upgraded only once");

    // Events in the same second have no defined order among themselves.
    let mut reasons: Vec<(String, String)> = auth_events(&app, "")
        .await
        .iter()
        .map(payload)
        .map(|(outcome, reason, _)| (outcome, reason))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("accept".to_owned(), "ok".to_owned()),
            ("accept".to_owned(), "ok".to_owned()),
            ("reject".to_owned(), "not_found".to_owned()),
        ]
    );
}

/// A key carried over from the reference server (Argon2id, no lookup value) is found on
/// its first use, given its lookup value, and found by index from then on.
async fn a_key_carried_over_from_the_reference_is_accepted(backend: Backend) {
    let pepper = "pepper-0123456789";
    let app = spawn_for_hand_edits(backend, &[("RELEASY_API_KEY_PEPPER", pepper)]).await;
    let (_, api_key, api_key_id) = app.customer_with_key().await;
    let mut db = Db::connect(&app).await;
    db.make_reference(&api_key_id, &api_key, pepper).await;
    let carried = db.key(&api_key_id).await;
    assert_eq!(carried.key_lookup, None);

    assert_rejected(&app, &unknown_key()).await;
    assert_accepted(&app, &api_key).await;
    let found = db.key(&api_key_id).await;
    assert!(found.key_lookup.is_some(), "{found:?}");
    assert!(found.key_hash.starts_with("$argon2id$"), "{found:?}");
    assert_accepted(&app, &api_key).await;
    assert_rejected(&app, &unknown_key()).await;
}

/// Revoked and expired carried-over keys leave the search (which otherwise tries every
/// one of them for each unknown key, and never ends while one is left): refused as no
/// key at all, and never given a lookup value.
async fn revoked_and_expired_carried_over_keys_leave_the_search(backend: Backend) {
    let pepper = "pepper-0123456789";
    let app = spawn_for_hand_edits(backend, &[("RELEASY_API_KEY_PEPPER", pepper)]).await;
    let mut db = Db::connect(&app).await;
    let (_, revoked_key, revoked_id) = app.customer_with_key().await;
    db.make_reference(&revoked_id, &revoked_key, pepper).await;
    let revoked = app
        .admin(Method::POST, "/v1/admin/keys/revoke")
        .json(&json!({ "api_key_id": revoked_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (_, expired_key, expired_id) = app.customer_with_key().await;
    db.make_reference(&expired_id, &expired_key, pepper).await;
    db.set_expiry(&expired_id, now() - 1).await;

    assert_rejected(&app, &revoked_key).await;
    assert_rejected(&app, &expired_key).await;
    let reasons: Vec<String> = auth_events(&app, "")
        .await
        .iter()
        .take(2)
        .map(|event| payload(event).1)
        .collect();
    assert_eq!(reasons, ["not_found", "not_found"], "newest first");
    for id in [&revoked_id, &expired_id] {
        assert_eq!(db.key(id).await.key_lookup, None);
    }
}

/// A missing or bad key is 401 whatever else is wrong with the request: the key is
/// judged before the query or the body (SPEC §2).
async fn a_bad_key_is_401_before_a_bad_query_or_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = unknown_key();
    let requests = [
        (Method::GET, "/v1/downloads?limit=1&limit=2"),
        (Method::GET, "/v1/releases?limit=1&limit=2"),
        (Method::GET, "/v1/releases/latest?channel=nightly"),
        (Method::GET, "/v1/releases/upgrade?product=a&current=x"),
        (Method::POST, "/v1/downloads/token"),
    ];
    for (method, path) in requests {
        let without = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_error(without, 401, "unauthorized").await;
        let with_unknown = app
            .customer(method.clone(), path, &unknown)
            .send()
            .await
            .unwrap();
        assert_error(with_unknown, 401, "unauthorized").await;
    }
    // With a valid key the same query is what is wrong.
    let (_, api_key, _) = app.customer_with_key().await;
    let listed = app
        .customer(Method::GET, "/v1/releases?limit=1&limit=2", &api_key)
        .send()
        .await
        .unwrap();
    assert_error(listed, 400, "bad_request").await;
}

async fn legacy_key_hash_includes_the_pepper(backend: Backend) {
    let pepper = "pepper-0123456789";
    let app = spawn_for_hand_edits(backend, &[("RELEASY_API_KEY_PEPPER", pepper)]).await;
    let (_, api_key, api_key_id) = app.customer_with_key().await;
    assert_accepted(&app, &api_key).await;
    let mut db = Db::connect(&app).await;

    // Without the pepper, the legacy digest matches nothing.
    db.make_legacy(&api_key_id, &api_key, "").await;
    assert_rejected(&app, &api_key).await;

    // With the key's bytes followed by the pepper's, it is accepted and upgraded.
    db.make_legacy(&api_key_id, &api_key, pepper).await;
    assert_accepted(&app, &api_key).await;
    let upgraded = db.key(&api_key_id).await;
    assert!(upgraded.key_hash.starts_with("$argon2id$"), "{upgraded:?}");
    assert!(upgraded.key_lookup.is_some());
    assert_accepted(&app, &api_key).await;
}

async fn stored_scopes_that_do_not_parse_are_rejected(backend: Backend) {
    let app = spawn_for_hand_edits(backend, &[]).await;
    let (customer_id, api_key, api_key_id) = app.customer_with_key().await;
    let mut db = Db::connect(&app).await;
    assert_eq!(
        db.key(&api_key_id).await.scopes,
        "releases:read downloads:read downloads:token keys:read keys:write audit:read"
    );
    db.set_scopes(&api_key_id, "keys:read root").await;
    assert_rejected(&app, &api_key).await;
    let events = auth_events(&app, &format!("customer_id={customer_id}")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        payload(&events[0]),
        (
            "reject".to_owned(),
            "invalid_scopes".to_owned(),
            json!(api_key_id)
        )
    );
}

/// The reference server stores scopes as a JSON array; its keys carried over keep them
/// so, and work with exactly those scopes.
async fn scopes_stored_as_the_reference_server_stores_them_are_read(backend: Backend) {
    let app = spawn_for_hand_edits(backend, &[]).await;
    let (customer_id, api_key, api_key_id) = app.customer_with_key().await;
    let mut db = Db::connect(&app).await;
    db.set_scopes(&api_key_id, r#"["keys:read","downloads:read"]"#)
        .await;
    let introspected = assert_accepted(&app, &api_key).await;
    assert_eq!(
        introspected["scopes"],
        json!(["downloads:read", "keys:read"])
    );
    let releases = app
        .customer(Method::GET, "/v1/releases", &api_key)
        .send()
        .await
        .unwrap();
    assert_error(releases, 403, "forbidden").await;
    let listed = list_keys(&app, &customer_id).await;
    assert_eq!(listed[0]["scopes"], json!(["downloads:read", "keys:read"]));
}

/// A key whose stored type or scopes this server cannot read (carried over, or edited
/// by hand) never authenticates, yet an operator still sees it as stored, changes it
/// and revokes it; only a rotation, whose successor would copy them, is refused.
async fn a_key_whose_type_or_scopes_cannot_be_read_can_still_be_revoked(backend: Backend) {
    let app = spawn_for_hand_edits(backend, &[]).await;
    let mut db = Db::connect(&app).await;
    for (scopes, key_type, listed_scopes) in [
        ("keys:read root", "human", json!(["keys:read", "root"])),
        ("[]", "human", json!([])),
        (r#"["keys:read""#, "human", json!([r#"["keys:read""#])),
        ("keys:read", "robot", json!(["keys:read"])),
    ] {
        let (customer_id, api_key, api_key_id) = app.customer_with_key().await;
        db.set_scopes(&api_key_id, scopes).await;
        db.set_key_type(&api_key_id, key_type).await;
        assert_rejected(&app, &api_key).await;

        let listed = list_keys(&app, &customer_id).await;
        assert_eq!(listed[0]["scopes"], listed_scopes, "{scopes}");
        assert_eq!(listed[0]["key_type"], key_type);
        let patched = app
            .admin(Method::PATCH, &format!("/v1/admin/keys/{api_key_id}"))
            .json(&json!({ "name": "carried over" }))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200, "{scopes} {key_type}");
        let patched: Value = patched.json().await.unwrap();
        assert_eq!(patched["scopes"], listed_scopes);
        let rotated = app
            .admin(Method::POST, &format!("/v1/admin/keys/{api_key_id}/rotate"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_error(rotated, 409, "conflict").await,
            "api key's stored type or scopes cannot be read: issue a new key"
        );
        app.revoke_key(&api_key_id).await;
        let listed = list_keys(&app, &customer_id).await;
        assert_eq!(listed.len(), 1, "no successor was issued");
        assert!(listed[0]["revoked_at"].is_i64(), "{listed:?}");
        assert_eq!(db.key(&api_key_id).await.scopes, scopes, "kept as stored");
    }
}

/// The keys `GET /v1/admin/customers/{customer_id}/keys` lists.
async fn list_keys(app: &TestApp, customer_id: &str) -> Vec<Value> {
    let mut listed = app
        .admin_get_json(&format!("/v1/admin/customers/{customer_id}/keys"))
        .await;
    match listed["keys"].take() {
        Value::Array(keys) => keys,
        other => panic!("keys is not a list: {other}"),
    }
}

/// Keys and customers carried over from the reference server (which checked no name)
/// stay readable: listed, changed and, above all, revoked; a key an operator cannot
/// revoke would keep working.
async fn names_no_request_could_set_do_not_lock_a_key_in(backend: Backend) {
    let app = spawn_for_hand_edits(backend, &[]).await;
    let (customer_id, api_key, api_key_id) = app.customer_with_key().await;
    let mut db = Db::connect(&app).await;
    for name in ["", &"x".repeat(300)] {
        db.set_unchecked_names(&customer_id, &api_key_id, name)
            .await;
        let listed = app
            .admin(
                Method::GET,
                &format!("/v1/admin/customers/{customer_id}/keys"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
        let listed: Value = listed.json().await.unwrap();
        assert_eq!(listed["keys"][0]["name"], name);
        let customer = app
            .admin(Method::GET, &format!("/v1/admin/customers/{customer_id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(customer.status(), 200);
        let customer: Value = customer.json().await.unwrap();
        assert_eq!(customer["name"], name);
        assert_eq!(customer["plan"], format!(" {name}\t"));
    }
    let patched = app
        .admin(Method::PATCH, &format!("/v1/admin/keys/{api_key_id}"))
        .json(&json!({ "allowed_cidrs": ["127.0.0.0/8"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        patched["name"],
        "x".repeat(300),
        "the name it did not change"
    );
    assert_accepted(&app, &api_key).await;
    app.revoke_key(&api_key_id).await;
    assert_rejected(&app, &api_key).await;
}

async fn every_attempt_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_customer("Acme", None).await;
    let acme_id = acme["id"].as_str().unwrap();
    let expires_at = now() + 2;
    let expiring = app
        .create_key(acme_id, json!({ "expires_at": expires_at }))
        .await;
    let good = app.create_key(acme_id, json!({})).await;
    let revoked = app.create_key(acme_id, json!({})).await;
    let (globex_id, globex_key, globex_key_id) = app.customer_with_key().await;
    let unknown = unknown_key();

    // accept / ok
    assert_accepted(&app, good["api_key"].as_str().unwrap()).await;
    // reject / revoked
    app.revoke_key(revoked["api_key_id"].as_str().unwrap())
        .await;
    assert_rejected(&app, revoked["api_key"].as_str().unwrap()).await;
    // reject / suspended
    app.patch_customer(&globex_id, json!({"suspended": true}))
        .await;
    assert_rejected(&app, &globex_key).await;
    // reject / missing_header
    let none = app.client.post(app.url(INTROSPECT)).send().await.unwrap();
    assert_error(none, 401, "unauthorized").await;
    // reject / not_found
    assert_rejected(&app, &unknown).await;
    // reject / expired
    sleep_until_second(expires_at).await;
    assert_rejected(&app, expiring["api_key"].as_str().unwrap()).await;

    for event in auth_events(&app, "").await {
        assert_eq!(event["actor"], "api_key", "{event}");
        assert_eq!(event["event"], "api_key.auth", "{event}");
    }

    let acme_events = auth_events(&app, &format!("customer_id={acme_id}")).await;
    let mut acme_payloads: Vec<(String, String, Value)> = acme_events.iter().map(payload).collect();
    acme_payloads.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        acme_payloads,
        [
            (
                "reject".to_owned(),
                "expired".to_owned(),
                expiring["api_key_id"].clone()
            ),
            (
                "accept".to_owned(),
                "ok".to_owned(),
                good["api_key_id"].clone()
            ),
            (
                "reject".to_owned(),
                "revoked".to_owned(),
                revoked["api_key_id"].clone()
            ),
        ]
    );
    for event in &acme_events {
        assert_eq!(event["customer_id"], acme_id);
    }

    let globex_events = auth_events(&app, &format!("customer_id={globex_id}")).await;
    assert_eq!(globex_events.len(), 1);
    assert_eq!(
        payload(&globex_events[0]),
        (
            "reject".to_owned(),
            "suspended".to_owned(),
            json!(globex_key_id)
        )
    );

    let anonymous: Vec<Value> = auth_events(&app, "")
        .await
        .into_iter()
        .filter(|event| event["customer_id"].is_null())
        .collect();
    let mut anonymous_payloads: Vec<(String, String, Value)> =
        anonymous.iter().map(payload).collect();
    anonymous_payloads.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        anonymous_payloads,
        [
            (
                "reject".to_owned(),
                "missing_header".to_owned(),
                Value::Null
            ),
            ("reject".to_owned(), "not_found".to_owned(), Value::Null),
        ]
    );

    // No event holds a secret: neither the raw keys nor their random part.
    let everything = app
        .admin(Method::GET, "/v1/admin/audit-events?limit=200")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let all: Value = serde_json::from_str(&everything).unwrap();
    let attempts = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "api_key.auth")
        .count();
    assert_eq!(attempts, 6);
    for raw in [
        good["api_key"].as_str().unwrap(),
        revoked["api_key"].as_str().unwrap(),
        expiring["api_key"].as_str().unwrap(),
        globex_key.as_str(),
        unknown.as_str(),
    ] {
        assert!(!everything.contains(raw), "an event contains a raw key");
        assert!(
            !everything.contains(&raw["releasy_".len()..]),
            "an event contains a key's secret part"
        );
    }
}

on_both_backends!(
    introspect_describes_the_key,
    missing_empty_and_unknown_keys_are_401,
    a_key_that_is_not_visible_ascii_is_unknown_not_missing,
    revoked_key_stops_at_once,
    expired_key_is_401,
    suspended_customer_keys_stop_until_unsuspended,
    key_without_scope_is_403,
    legacy_sha256_key_is_accepted_and_upgraded,
    legacy_key_hash_includes_the_pepper,
    a_key_carried_over_from_the_reference_is_accepted,
    revoked_and_expired_carried_over_keys_leave_the_search,
    a_bad_key_is_401_before_a_bad_query_or_body,
    stored_scopes_that_do_not_parse_are_rejected,
    scopes_stored_as_the_reference_server_stores_them_are_read,
    a_key_whose_type_or_scopes_cannot_be_read_can_still_be_revoked,
    names_no_request_could_set_do_not_lock_a_key_in,
    every_attempt_is_audited,
);
