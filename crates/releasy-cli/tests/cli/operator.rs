//! Operator commands: customers, keys, entitlements (and their quotas) and the audit
//! trail, read back through `--json`.

use crate::helpers::{Storage, TestServer};
use crate::proxy::{Disturbance, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_with_json_output() {
    let server = TestServer::start(Storage::Embedded).await;
    let admin = || server.admin();

    // Customers.
    let acme = admin()
        .args([
            "customer",
            "create",
            "--name",
            "Acme Corp",
            "--plan",
            "core",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    let acme_id = acme["id"].as_str().expect("id").to_owned();
    assert_eq!(acme["plan"], "core");
    assert!(acme["suspended_at"].is_null());
    admin()
        .args(["customer", "create", "--name", "Globex", "--json"])
        .run()
        .await
        .ok();

    let list = admin()
        .args(["customer", "list", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(list["customers"].as_array().expect("customers").len(), 2);
    let filtered = admin()
        .args(["customer", "list", "--name", "acme", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(filtered["customers"][0]["id"], acme_id.as_str());
    assert_eq!(
        filtered["customers"].as_array().expect("customers").len(),
        1
    );
    let paged = admin()
        .args(["customer", "list", "--limit", "1", "--all", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(paged["customers"].as_array().expect("customers").len(), 2);
    assert!(paged["next_cursor"].is_null());
    let table = admin().args(["customer", "list"]).run().await.ok();
    assert!(table.stdout.contains("Acme Corp") && table.stdout.contains("Globex"));

    let got = admin()
        .args(["customer", "get", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(got["name"], "Acme Corp");

    // Keys.
    let key = admin()
        .args(["key", "create", "--customer", &acme_id, "--name", "ci"])
        .args(["--scope", "releases:read,downloads:token", "--type", "ci"])
        .args(["--expires-at", "2100-01-01", "--json"])
        .run()
        .await
        .ok()
        .json();
    let api_key = key["api_key"].as_str().expect("api_key").to_owned();
    let key_id = key["api_key_id"].as_str().expect("api_key_id").to_owned();
    assert!(api_key.starts_with("releasy_"));
    assert_eq!(key["key_type"], "ci");
    assert_eq!(key["expires_at"], 4_102_444_800_i64);
    let mut scopes: Vec<&str> = key["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["downloads:token", "releases:read"]);

    // Entitlements.
    let granted = admin()
        .args([
            "entitlement",
            "grant",
            "--customer",
            &acme_id,
            "--product",
            "acme-agent",
        ])
        .args(["--metadata", r#"{"seats": 10}"#, "--json"])
        .run()
        .await
        .ok()
        .json();
    let entitlement_id = granted["id"].as_str().expect("id").to_owned();
    assert_eq!(granted["starts_at"], 0);
    assert!(granted["ends_at"].is_null());
    assert_eq!(granted["metadata"]["seats"], 10);
    let listed = admin()
        .args(["entitlement", "list", "--customer", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(listed["entitlements"][0]["id"], entitlement_id.as_str());
    // A full page says how to ask for the next; a page with room to spare does not.
    let full = admin()
        .args([
            "entitlement",
            "list",
            "--customer",
            &acme_id,
            "--limit",
            "1",
        ])
        .run()
        .await
        .ok();
    assert!(
        full.stdout.trim_end().ends_with("more: --offset 1"),
        "{full:#?}"
    );
    let whole = admin()
        .args(["entitlement", "list", "--customer", &acme_id])
        .run()
        .await
        .ok();
    assert!(!whole.stdout.contains("more:"), "{whole:#?}");
    let updated = admin()
        .args([
            "entitlement",
            "update",
            "--customer",
            &acme_id,
            &entitlement_id,
        ])
        .args(["--ends-at", "2100-01-01", "--clear-metadata", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(updated["ends_at"], 4_102_444_800_i64);
    assert!(updated["metadata"].is_null());
    let reopened = admin()
        .args([
            "entitlement",
            "update",
            "--customer",
            &acme_id,
            &entitlement_id,
        ])
        .args(["--no-end", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(reopened["ends_at"].is_null());

    // The customer uses its key; the audit trail shows it.
    server
        .customer(&api_key)
        .args(["releases", "--json"])
        .run()
        .await
        .ok();
    let audit = admin()
        .args([
            "audit",
            "list",
            "--customer",
            &acme_id,
            "--event",
            "api_key.auth",
        ])
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    let events = audit["events"].as_array().expect("events");
    assert!(!events.is_empty(), "{audit}");
    assert_eq!(events[0]["payload"]["outcome"], "accept");
    assert_eq!(events[0]["payload"]["api_key_id"], key_id.as_str());

    // Suspension stops the key; lifting it restores it.
    let suspended = admin()
        .args(["customer", "suspend", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(suspended["suspended_at"].is_i64());
    server
        .customer(&api_key)
        .args(["releases"])
        .run()
        .await
        .fails_with(3);
    let resumed = admin()
        .args(["customer", "unsuspend", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(resumed["suspended_at"].is_null());
    server
        .customer(&api_key)
        .args(["releases"])
        .run()
        .await
        .ok();

    // Listing keys and rotating one.
    let spare = admin()
        .args([
            "key",
            "create",
            "--customer",
            &acme_id,
            "--name",
            "spare",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    let spare_id = spare["api_key_id"].as_str().expect("api_key_id").to_owned();
    let rotated = admin()
        .args([
            "key",
            "rotate",
            &spare_id,
            "--overlap-seconds",
            "600",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(rotated["replaces_api_key_id"], spare_id.as_str());
    assert!(
        rotated["api_key"]
            .as_str()
            .expect("api_key")
            .starts_with("releasy_")
    );
    let successor_id = rotated["api_key_id"]
        .as_str()
        .expect("api_key_id")
        .to_owned();
    let keys = admin()
        .args(["key", "list", "--customer", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    let keys = keys["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k["allowed_cidrs"].is_null()));
    let listed = |id: &str| {
        keys.iter()
            .find(|k| k["api_key_id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };
    assert_eq!(
        listed(&spare_id)["revoked_at"],
        rotated["replaced_key_revoked_at"]
    );
    assert_eq!(listed(&successor_id)["name"], "spare");
    assert!(
        !serde_json::to_string(keys)
            .expect("json")
            .contains(&api_key)
    );
    let table = admin()
        .args(["key", "list", "--customer", &acme_id])
        .run()
        .await
        .ok();
    assert!(table.stdout.contains("rotating, until"), "{}", table.stdout);
    assert!(table.stdout.contains(&successor_id), "{}", table.stdout);
    let twice = admin()
        .args(["key", "rotate", &spare_id, "--json"])
        .run()
        .await
        .fails_with(5);
    assert_eq!(twice.error_json()["error"]["code"], "conflict");

    // Address rules: a key usable only from elsewhere is refused; lifting the rule
    // lets it in.
    let fenced = admin()
        .args([
            "key",
            "create",
            "--customer",
            &acme_id,
            "--scope",
            "releases:read",
        ])
        .args(["--allowed-cidr", "192.0.2.0/24,2001:db8::/32", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(
        fenced["allowed_cidrs"],
        serde_json::json!(["192.0.2.0/24", "2001:db8::/32"])
    );
    let fenced_key = fenced["api_key"].as_str().expect("api_key").to_owned();
    let fenced_id = fenced["api_key_id"]
        .as_str()
        .expect("api_key_id")
        .to_owned();
    let refused = server
        .customer(&fenced_key)
        .args(["releases", "--json"])
        .run()
        .await
        .fails_with(3);
    assert_eq!(
        refused.error_json()["error"]["message"],
        "address not allowed"
    );
    let nothing = admin()
        .args(["key", "update", &fenced_id])
        .run()
        .await
        .fails_with(2);
    assert!(
        nothing.stderr.contains("--any-address"),
        "{}",
        nothing.stderr
    );
    let opened = admin()
        .args([
            "key",
            "update",
            &fenced_id,
            "--any-address",
            "--name",
            "laptop",
            "--json",
        ])
        .run()
        .await
        .ok()
        .json();
    assert!(opened["allowed_cidrs"].is_null(), "{opened}");
    assert_eq!(opened["name"], "laptop");
    server
        .customer(&fenced_key)
        .args(["releases", "--json"])
        .run()
        .await
        .ok();

    // Revocation.
    let revoked = admin()
        .args(["key", "revoke", &key_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(revoked["api_key_id"], key_id.as_str());
    let rejected = server
        .customer(&api_key)
        .args(["releases", "--json"])
        .run()
        .await
        .fails_with(3);
    assert_eq!(rejected.error_json()["error"]["code"], "unauthorized");
    let audit = admin()
        .args(["audit", "list", "--customer", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(
        audit["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["payload"]["reason"] == "revoked"),
        "{audit}"
    );

    let gone = admin()
        .args([
            "entitlement",
            "revoke",
            "--customer",
            &acme_id,
            &entitlement_id,
        ])
        .arg("--json")
        .run()
        .await
        .ok()
        .json();
    assert_eq!(gone["revoked"], true);
    let listed = admin()
        .args(["entitlement", "list", "--customer", &acme_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(
        listed["entitlements"]
            .as_array()
            .expect("entitlements")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entitlement_quotas_are_set_shown_replaced_and_removed() {
    let server = TestServer::start(Storage::Embedded).await;
    let admin = || server.admin();
    let customer = admin()
        .args(["customer", "create", "--name", "Initech", "--json"])
        .run()
        .await
        .ok()
        .json();
    let customer_id = customer["id"].as_str().expect("id").to_owned();
    let grant = || {
        admin().args([
            "entitlement",
            "grant",
            "--customer",
            &customer_id,
            "--product",
            "initech-tps",
        ])
    };

    let granted = grant()
        .args(["--quota-downloads", "100", "--quota-bytes", "50GiB"])
        .args(["--quota-period", "month", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(
        granted["download_quota"],
        serde_json::json!({"downloads": 100, "bytes": 53_687_091_200_u64, "period": "month"})
    );
    let entitlement_id = granted["id"].as_str().expect("id").to_owned();
    let table = admin()
        .args(["entitlement", "list", "--customer", &customer_id])
        .run()
        .await
        .ok();
    assert!(
        table
            .stdout
            .contains("100 downloads, 53687091200 bytes / month"),
        "{}",
        table.stdout
    );

    let update = || {
        admin().args([
            "entitlement",
            "update",
            "--customer",
            &customer_id,
            &entitlement_id,
        ])
    };
    let replaced = update()
        .args(["--quota-downloads", "5", "--quota-period", "day", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(
        replaced["download_quota"],
        serde_json::json!({"downloads": 5, "period": "day"}),
        "a new quota replaces the old one whole"
    );
    let removed = update()
        .args(["--no-quota", "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(removed.get("download_quota").is_none(), "{removed}");

    // A limit without a period, a size that is not one, a period alone (the server's
    // rule) and a quota beside --no-quota are usage errors; nothing is granted.
    for bad in [
        vec!["--quota-downloads", "5"],
        vec!["--quota-bytes", "12 parsecs", "--quota-period", "day"],
        vec!["--quota-downloads", "0", "--quota-period", "day"],
        vec!["--quota-period", "week", "--quota-downloads", "1"],
        vec!["--quota-period", "day"],
    ] {
        let outcome = grant().args(&bad).run().await.fails_with(2);
        assert!(
            outcome.stderr.contains("quota"),
            "{bad:?}: {}",
            outcome.stderr
        );
    }
    update()
        .args(["--no-quota", "--quota-period", "day"])
        .run()
        .await
        .fails_with(2);
    let listed = admin()
        .args(["entitlement", "list", "--customer", &customer_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(listed["entitlements"].as_array().expect("list").len(), 1);
}

/// A rotation whose answer is lost on the way is asked again under the same
/// `Idempotency-Key`: the CLI prints the successor the server issued, and no second
/// one is issued (a plain retry would be refused: the key is being rotated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_whose_answer_is_lost_is_recovered() {
    let lost = Disturbance::LoseFirstAnswerTo(Request::KeyRotation);
    let server = TestServer::start_behind_proxy(Storage::Embedded, lost, &[]).await;
    let admin = || server.admin();
    let customer = admin()
        .args(["customer", "create", "--name", "Acme", "--json"])
        .run()
        .await
        .ok()
        .json();
    let customer_id = customer["id"].as_str().expect("id").to_owned();
    let key = admin()
        .args(["key", "create", "--customer", &customer_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    let key_id = key["api_key_id"].as_str().expect("api_key_id").to_owned();

    let rotated = admin()
        .args(["key", "rotate", &key_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    assert!(server.proxy_has_cut(), "the first answer was lost");
    assert_eq!(rotated["replaces_api_key_id"], key_id.as_str());
    let keys = admin()
        .args(["key", "list", "--customer", &customer_id, "--json"])
        .run()
        .await
        .ok()
        .json();
    let keys = keys["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2, "one successor: {keys:?}");
    assert!(
        keys.iter()
            .any(|listed| listed["api_key_id"] == rotated["api_key_id"])
    );
    // The secret printed is the successor's (introspection needs `keys:read`).
    let successor_key = rotated["api_key"].as_str().expect("api_key");
    let introspected = reqwest::Client::new()
        .post(format!("{}/v1/auth/introspect", server.base_url))
        .header("x-releasy-api-key", successor_key)
        .send()
        .await
        .expect("introspection");
    // Keys are created with every scope by default, `keys:read` among them.
    assert_eq!(
        introspected.status(),
        200,
        "the printed secret authenticates"
    );
    let introspected: serde_json::Value = introspected.json().await.expect("json");
    assert_eq!(introspected["api_key_id"], rotated["api_key_id"]);
}
