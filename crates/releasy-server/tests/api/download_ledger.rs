//! The download ledger: every token issued and every resolve of a known token is a
//! row (`GET /v1/admin/downloads`, a CSV export, `GET /v1/downloads` for customers),
//! refusals carry their reason and are audited, and statistics equal the counts the
//! rows give.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::flow::{Published, artifact_bytes, follow_link, publish_one_artifact};
use crate::helpers::{Backend, Storage, TestApp, assert_error};
use crate::on_both_backends;

/// The test client reaches the server from 127.0.0.1; trusted as a proxy, it names
/// any client address in `X-Forwarded-For`.
const TRUST_LOOPBACK: [(&str, &str); 1] = [("RELEASY_TRUSTED_PROXIES", "127.0.0.1")];

async fn issue(app: &TestApp, p: &Published, body: Value) -> Value {
    let response = app
        .customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every ledger row `GET /v1/admin/downloads?{query}` gives, walking its cursor a page
/// of `limit` at a time.
async fn ledger(app: &TestApp, query: &str, limit: u32) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/admin/downloads?{query}&limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(cursor)));
        }
        let page = app.admin_get_json(&path).await;
        assert_eq!(page["limit"], limit);
        rows.extend(page["downloads"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

fn outcomes(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|row| row["outcome"].as_str().unwrap())
        .collect()
}

async fn api_key_id(app: &TestApp, customer_id: &str) -> String {
    let response = app
        .admin(
            Method::GET,
            &format!("/v1/admin/customers/{customer_id}/keys"),
        )
        .send()
        .await
        .unwrap();
    let keys: Value = response.json().await.unwrap();
    keys["keys"][0]["api_key_id"].as_str().unwrap().to_owned()
}

async fn every_field_is_recorded_for_an_issue_and_a_resolve(backend: Backend) {
    let app = TestApp::spawn_with(backend, &TRUST_LOOPBACK).await;
    let p = publish_one_artifact(&app, "agent", artifact_bytes(1_500)).await;
    let token: Value = app
        .customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .header("x-forwarded-for", "203.0.113.7")
        // Latin-1, not UTF-8: recorded with the byte replaced, not dropped.
        .header(
            "user-agent",
            reqwest::header::HeaderValue::from_bytes(b"acme-ci/3.1 (caf\xe9)").unwrap(),
        )
        .json(&json!({"artifact_id": p.artifact_id, "purpose": "nightly mirror"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = token["download_url"].as_str().unwrap();
    let path = url.split_once("/v1/").unwrap().1;
    let resolved = app
        .client
        .get(app.url(&format!("/v1/{path}")))
        .header("x-forwarded-for", "2001:db8::42, 127.0.0.1")
        .header("user-agent", "agent-updater/2.0\t(linux)")
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), 302);

    let rows = ledger(&app, &format!("customer_id={}", p.customer_id), 50).await;
    let mut by_outcome: BTreeMap<&str, &Value> = BTreeMap::new();
    for row in &rows {
        by_outcome.insert(row["outcome"].as_str().unwrap(), row);
    }
    assert_eq!(
        by_outcome.keys().copied().collect::<Vec<_>>(),
        ["issued", "redirected"]
    );
    let key_id = api_key_id(&app, &p.customer_id).await;
    for (outcome, address, agent) in [
        ("issued", "203.0.113.7", "acme-ci/3.1 (caf\u{fffd})"),
        ("redirected", "2001:db8::42", "agent-updater/2.0 (linux)"),
    ] {
        let row = by_outcome[outcome];
        let fields: BTreeSet<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 15, "{row}");
        assert_eq!(row["customer_id"], p.customer_id.as_str());
        assert_eq!(row["api_key_id"], key_id.as_str());
        assert_eq!(row["artifact_id"], p.artifact_id.as_str());
        assert_eq!(row["release_id"], p.release_id.as_str());
        assert_eq!(row["product"], "agent");
        assert_eq!(row["version"], "1.2.3");
        assert_eq!(row["platform"], "linux-x86_64");
        assert_eq!(row["bytes"], 1_500);
        assert_eq!(row["purpose"], "nightly mirror");
        assert_eq!(row["client_address"], address, "{outcome}");
        assert_eq!(row["user_agent"], agent, "{outcome}");
        assert!(row["at"].as_i64().unwrap() > 1_700_000_000);
        assert_eq!(row["token_id"], rows[0]["token_id"], "one token");
    }
    assert!(rows[0]["id"] != rows[1]["id"]);
}

async fn refusals_carry_their_reason_and_are_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let p = publish_one_artifact(&app, "agent", artifact_bytes(100)).await;
    let single = issue(
        &app,
        &p,
        json!({"artifact_id": p.artifact_id, "max_uses": 1}),
    )
    .await;
    let single = single["download_url"].as_str().unwrap();
    assert_eq!(follow_link(&app, single).await.status(), 302);
    assert_error(follow_link(&app, single).await, 404, "not_found").await;
    let open = issue(&app, &p, json!({"artifact_id": p.artifact_id})).await;
    app.patch_customer(&p.customer_id, json!({"suspended": true}))
        .await;
    let message = assert_error(
        follow_link(&app, open["download_url"].as_str().unwrap()).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        message, "download token not found",
        "the holder learns nothing"
    );
    // An unknown token names no customer or artifact: nothing to record.
    assert_error(
        follow_link(&app, "http://x/v1/downloads/releasy_dl_nosuchtoken").await,
        404,
        "not_found",
    )
    .await;

    let rows = ledger(&app, &format!("customer_id={}", p.customer_id), 2).await;
    assert_eq!(
        outcomes(&rows),
        ["suspended", "issued", "used_up", "redirected", "issued"],
        "newest first"
    );
    let refused = ledger(
        &app,
        &format!("customer_id={}&outcome=used_up", p.customer_id),
        50,
    )
    .await;
    assert_eq!(outcomes(&refused), ["used_up"]);
    let audited = app.audit_events("event=download.refused").await;
    let reasons: Vec<&str> = audited
        .iter()
        .map(|event| event["payload"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["suspended", "used_up"]);
}

async fn bad_parameters_are_400_naming_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (query, field) in [
        ("outcome=downloaded", "outcome"),
        ("from=20&to=10", "from"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("format=xml", "format"),
        ("customer_id=42", "customer_id"),
        ("artifact_id=x", "artifact_id"),
        ("from=soon", "from"),
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains(field), "{query}: {message}");
    }
    for (query, field) in [
        ("", "group_by"),
        ("group_by=week", "group_by"),
        ("group_by=day&from=9&to=1", "from"),
        ("group_by=customer&customer_id=nope", "customer_id"),
        // The listing's filters that statistics cannot apply are refused, not ignored.
        ("group_by=day&artifact_id=x", "artifact_id"),
        ("group_by=product&version=1.0.0", "version"),
        ("group_by=day&outcome=issued", "outcome"),
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/admin/downloads/stats?{query}"))
            .send()
            .await
            .unwrap();
        let message = assert_error(response, 400, "bad_request").await;
        assert!(message.contains(field), "{query}: {message}");
    }
    // Empty values are ignored, as every filter's; `redirected` is what stats count.
    app.admin_get_json(
        "/v1/admin/downloads/stats?group_by=day&version=&artifact_id=&outcome=redirected",
    )
    .await;
    // Customers page by cursor only.
    let (_, api_key, _) = app.customer_with_key().await;
    let response = app
        .customer(Method::GET, "/v1/downloads?limit=500", &api_key)
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "bad_request").await;
}

async fn the_csv_export_reads_back_as_the_json_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A product name a spreadsheet would run, like the agent below.
    let p = publish_one_artifact(&app, "@agent", artifact_bytes(10)).await;
    let tricky_agent = "=HYPERLINK(\"x\"), \"quoted\"; comma";
    let token: Value = app
        .customer(Method::POST, "/v1/downloads/token", &p.api_key)
        .header("user-agent", tricky_agent)
        .json(&json!({"artifact_id": p.artifact_id, "purpose": "line one, \"two\""}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for _ in 0..3 {
        let response = follow_link(&app, token["download_url"].as_str().unwrap()).await;
        assert_eq!(response.status(), 302);
    }
    let query = format!("customer_id={}", p.customer_id);
    let json_rows = ledger(&app, &query, 200).await;
    assert_eq!(json_rows.len(), 4);

    for request in [
        app.admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", "text/csv"),
        app.admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", "application/json;q=0.5, text/csv"),
        // As precise a name as any: above the wildcard of the same q-value.
        app.admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", "text/csv, */*"),
        // JSON's q-value is its own range's, not the wildcard's.
        app.admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", "text/csv;q=0.5, application/json;q=0.1, */*"),
        app.admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", "application/json;q=0, */*"),
        // Text only: CSV is the one text form.
        app.admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", "text/*"),
        // Every row: the limit a page would take is neither applied nor checked.
        app.admin(
            Method::GET,
            &format!("/v1/admin/downloads?{query}&format=csv&limit=1000"),
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["vary"], "Accept");
        let body = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let json_fields: Vec<String> = json_rows[0].as_object().unwrap().keys().cloned().collect();
        let mut sorted_header = header.clone();
        sorted_header.sort();
        let mut sorted_fields = json_fields.clone();
        sorted_fields.sort();
        assert_eq!(
            sorted_header, sorted_fields,
            "the CSV columns are the JSON fields"
        );
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), json_rows.len());
        for (record, row) in records.iter().zip(&json_rows) {
            for (column, value) in header.iter().zip(record.iter()) {
                let expected = match &row[column] {
                    Value::Null => String::new(),
                    Value::String(text) if text.starts_with(['=', '@']) => format!("'{text}"),
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                assert_eq!(value, expected, "{column}");
            }
        }
        for neutralised in [format!("'{tricky_agent}"), "'@agent".to_owned()] {
            assert!(records[3].iter().any(|field| field == neutralised));
        }
    }
    // CSV refused (q=0) or not preferred to JSON: a JSON page, not kept by caches.
    for accept in [
        "text/csv;q=0, application/json",
        "application/json, text/csv",
        "text/csv;q=0.5, */*",
        "text/csv;q=0.5, application/*",
        // What browsers and curl send: anything, at a tie.
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "*/*",
    ] {
        let response = app
            .admin(Method::GET, &format!("/v1/admin/downloads?{query}"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{accept}"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["vary"], "Accept");
    }
    // A CSV export of nothing is the header alone.
    let empty = app
        .admin(Method::GET, "/v1/admin/downloads?product=none&format=csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(empty.lines().count(), 1, "{empty}");
}

async fn stats_equal_the_counts_of_the_ledger_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = publish_one_artifact(&app, "agent", artifact_bytes(300)).await;
    let second = publish_one_artifact(&app, "agent-b", artifact_bytes(700)).await;
    for (p, resolves) in [(&first, 3), (&second, 2)] {
        let token = issue(
            &app,
            p,
            json!({"artifact_id": p.artifact_id, "max_uses": 2}),
        )
        .await;
        for _ in 0..resolves {
            follow_link(&app, token["download_url"].as_str().unwrap()).await;
        }
    }
    let rows = ledger(&app, "outcome=redirected", 200).await;
    assert_eq!(
        rows.len(),
        4,
        "two links handed out for each, the third used up"
    );
    for group_by in ["product", "version", "artifact", "customer", "day"] {
        let response = app
            .admin(
                Method::GET,
                &format!("/v1/admin/downloads/stats?group_by={group_by}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let stats: Value = response.json().await.unwrap();
        assert_eq!(stats["group_by"], group_by);
        let groups = stats["groups"].as_array().unwrap();
        let key_of = |row: &Value| -> String {
            match group_by {
                "product" => row["product"].as_str().unwrap().to_owned(),
                "version" => format!("{}@{}", row["product"], row["version"]),
                "artifact" => row["artifact_id"].as_str().unwrap().to_owned(),
                "customer" => row["customer_id"].as_str().unwrap().to_owned(),
                _ => "day".to_owned(),
            }
        };
        let mut expected: BTreeMap<String, (u64, BTreeSet<String>, u64)> = BTreeMap::new();
        for row in &rows {
            let entry = expected.entry(key_of(row)).or_default();
            entry.0 += 1;
            entry
                .1
                .insert(row["customer_id"].as_str().unwrap().to_owned());
            entry.2 += row["bytes"].as_u64().unwrap();
        }
        let actual: BTreeMap<String, (u64, usize, u64)> = groups
            .iter()
            .map(|group| {
                let key = if group_by == "day" {
                    assert_eq!(group["day"].as_str().unwrap().len(), 10, "{group}");
                    "day".to_owned()
                } else {
                    key_of(group)
                };
                (
                    key,
                    (
                        group["downloads"].as_u64().unwrap(),
                        group["customers"].as_u64().unwrap() as usize,
                        group["bytes"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        let expected: BTreeMap<String, (u64, usize, u64)> = expected
            .into_iter()
            .map(|(key, (n, customers, bytes))| (key, (n, customers.len(), bytes)))
            .collect();
        // A run across midnight puts the four downloads on two days.
        if group_by != "day" || groups.len() == 1 {
            assert_eq!(actual, expected, "group_by={group_by}");
        }
    }
    let filtered: Value = app
        .admin(
            Method::GET,
            &format!(
                "/v1/admin/downloads/stats?group_by=product&product=agent&customer_id={}",
                first.customer_id
            ),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        filtered["groups"],
        json!([{"product": "agent", "downloads": 2, "customers": 1, "bytes": 600}])
    );
}

async fn customers_see_only_their_own_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = publish_one_artifact(&app, "agent", artifact_bytes(10)).await;
    let globex = publish_one_artifact(&app, "agent-b", artifact_bytes(10)).await;
    for p in [&acme, &globex] {
        let token = issue(&app, p, json!({"artifact_id": p.artifact_id})).await;
        follow_link(&app, token["download_url"].as_str().unwrap()).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/downloads?limit=1".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(cursor)));
        }
        let response = app
            .customer(Method::GET, &path, &acme.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let page: Value = response.json().await.unwrap();
        seen.extend(page["downloads"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(outcomes(&seen), ["redirected", "issued"]);
    assert!(
        seen.iter()
            .all(|row| row["customer_id"] == acme.customer_id.as_str())
    );

    let narrow = app
        .create_key(&acme.customer_id, json!({"scopes": ["downloads:token"]}))
        .await;
    let response = app
        .customer(
            Method::GET,
            "/v1/downloads",
            narrow["api_key"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "forbidden").await;
    let anonymous = app
        .client
        .get(app.url("/v1/downloads"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn rows_queued_at_a_graceful_shutdown_are_written(backend: Backend) {
    let mut app =
        TestApp::spawn_with(backend, &[("RELEASY_AUDIT_FLUSH_INTERVAL_MS", "60000")]).await;
    let p = publish_one_artifact(&app, "agent", artifact_bytes(10)).await;
    issue(&app, &p, json!({"artifact_id": p.artifact_id})).await;
    let database_url = app.database_url().to_owned();
    app.stop_gracefully().await;
    let after = app.spawn_beside().await;
    let rows = ledger(&after, &format!("customer_id={}", p.customer_id), 50).await;
    assert_eq!(outcomes(&rows), ["issued"], "{database_url}");
}

/// Rows the database refuses at shutdown, even after the retries, are lost: the run
/// says so (the process exits 1), instead of ending as if nothing were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_lost_at_shutdown_end_the_run_with_an_error() {
    // Queued rows wait for the shutdown: nothing writes them before.
    let mut app = TestApp::spawn_through_proxies_with(
        Backend::Postgres,
        Storage::Embedded,
        &[("RELEASY_AUDIT_FLUSH_INTERVAL_MS", "60000")],
    )
    .await;
    let p = publish_one_artifact(&app, "agent", artifact_bytes(10)).await;
    let database = app.outages().database.as_ref().unwrap();
    // A ledger row queued, then the database gone before the queue is written.
    issue(&app, &p, json!({"artifact_id": p.artifact_id})).await;
    database.cut();
    let stopped = app.stop_gracefully_reporting().await;
    assert!(
        matches!(stopped, Err(releasy_server::server::StopError::RowsLost(_))),
        "{stopped:?}"
    );
}

async fn with_the_ledger_off_downloads_work_and_nothing_is_kept(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RELEASY_DOWNLOAD_LOG", "false")]).await;
    let p = publish_one_artifact(&app, "agent", artifact_bytes(10)).await;
    let token = issue(&app, &p, json!({"artifact_id": p.artifact_id})).await;
    let url = token["download_url"].as_str().unwrap();
    assert_eq!(follow_link(&app, url).await.status(), 302);
    assert!(ledger(&app, "", 50).await.is_empty());
    let stats = app
        .admin_get_json("/v1/admin/downloads/stats?group_by=product")
        .await;
    assert_eq!(stats["groups"], json!([]));
}

on_both_backends!(
    with_the_ledger_off_downloads_work_and_nothing_is_kept,
    every_field_is_recorded_for_an_issue_and_a_resolve,
    refusals_carry_their_reason_and_are_audited,
    bad_parameters_are_400_naming_the_parameter,
    the_csv_export_reads_back_as_the_json_rows,
    stats_equal_the_counts_of_the_ledger_rows,
    customers_see_only_their_own_history,
    rows_queued_at_a_graceful_shutdown_are_written,
);
