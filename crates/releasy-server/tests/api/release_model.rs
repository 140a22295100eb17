//! The release model on `POST /v1/releases` and `GET /v1/releases`: channels set or
//! derived, notes and metadata with their limits, `sort=version`, `channel=` and the
//! listing's `ETag`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error};
use crate::on_both_backends;
use crate::releases::{create_release, ok_json, publish};

async fn create(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin(Method::POST, "/v1/releases")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The versions an admin listing returns for `query`, in order.
async fn versions(app: &TestApp, query: &str) -> Vec<String> {
    let page = ok_json(
        app.admin(Method::GET, &format!("/v1/releases?{query}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    page["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_owned())
        .collect()
}

async fn channels_are_set_or_derived_from_the_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (version, channel) in [
        ("1.0.0", "stable"),
        ("1.1.0-rc.1", "rc"),
        ("1.1.0-Beta.2", "beta"),
        ("1.1.0-ALPHA", "alpha"),
        ("1.1.0-nightly.20261203", "dev"),
        ("2026.12", "stable"),
        ("1.0.0+build.5", "stable"),
    ] {
        let release = create_release(&app, "derived", version).await;
        assert_eq!(release["channel"], channel, "{version}");
        assert!(release.get("notes").is_none(), "absent notes are left out");
        assert!(release.get("yanked_at").is_none());
    }
    let set = ok_json(
        create(
            &app,
            json!({"product": "set", "version": "3.0.0", "channel": "beta"}),
        )
        .await,
    )
    .await;
    assert_eq!(set["channel"], "beta", "a set channel wins");
}

async fn notes_and_metadata_are_stored_and_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // 64 KiB of notes that JSON escaping makes longer than the usual 64 KiB body.
    let notes = "\"quoted\"\n".repeat(64 * 1024 / 9);
    let release = ok_json(
        create(
            &app,
            json!({
                "product": "noted",
                "version": "1.0.0",
                "notes": notes,
                "metadata": {"min_os": "13.0", "sizes": [1, 2]},
            }),
        )
        .await,
    )
    .await;
    assert_eq!(release["notes"], notes.as_str());
    assert_eq!(
        release["metadata"],
        json!({"min_os": "13.0", "sizes": [1, 2]})
    );
    let listed = ok_json(
        app.admin(Method::GET, "/v1/releases?product=noted")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["releases"][0]["notes"], notes.as_str());
    assert_eq!(listed["releases"][0]["metadata"]["min_os"], "13.0");

    for (body, message) in [
        (
            json!({"product": "bad", "version": "1", "notes": "x".repeat(64 * 1024 + 1)}),
            "notes must be at most 65536 bytes",
        ),
        (
            json!({"product": "bad", "version": "1", "metadata": ["not", "an", "object"]}),
            "metadata must be a JSON object",
        ),
        (
            json!({"product": "bad", "version": "1", "metadata": {"k": "x".repeat(16 * 1024)}}),
            "metadata must be at most 16384 bytes of JSON",
        ),
        (
            json!({"product": "bad", "version": "1", "channel": "nightly"}),
            "channel must be one of stable, rc, beta, alpha, dev (got `nightly`)",
        ),
    ] {
        let message_got = assert_error(create(&app, body).await, 400, "bad_request").await;
        assert_eq!(message_got, message);
    }
    let huge = app
        .admin(Method::POST, "/v1/releases")
        .header("content-type", "application/json")
        .body(format!(
            "{{\"product\":\"big\",\"version\":\"1\",\"notes\":\"{}\"}}",
            "a".repeat(300 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_error(huge, 413, "payload_too_large").await;
    assert!(
        versions(&app, "product=bad").await.is_empty(),
        "nothing was created"
    );
}

async fn sort_version_orders_by_semver_then_the_rest_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for version in [
        "1.2.0",
        "latest-build",
        "1.10.0",
        "2.0.0-rc.1",
        "1.9.9",
        "2.0.0-beta.10",
        "2.0.0-beta.9",
        "old-build",
    ] {
        create_release(&app, "sorted", version).await;
    }
    assert_eq!(
        versions(&app, "product=sorted&sort=version").await,
        [
            "2.0.0-rc.1",
            "2.0.0-beta.10",
            "2.0.0-beta.9",
            "1.10.0",
            "1.9.9",
            "1.2.0",
            "old-build",
            "latest-build"
        ]
    );
    // The default stays newest first; `created` says so explicitly.
    let newest_first = versions(&app, "product=sorted").await;
    assert_eq!(newest_first[0], "old-build");
    assert_eq!(
        versions(&app, "product=sorted&sort=created").await,
        newest_first
    );
    // Paging walks the version order.
    assert_eq!(
        versions(&app, "product=sorted&sort=version&limit=2&offset=2").await,
        ["2.0.0-beta.9", "1.10.0"]
    );
    let bad = app
        .admin(Method::GET, "/v1/releases?sort=semver")
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(bad, 400, "bad_request").await,
        "sort must be created or version"
    );
}

async fn channel_lists_it_and_the_more_stable_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for version in [
        "1.0.0",
        "1.1.0-rc.1",
        "1.1.0-beta.1",
        "1.1.0-alpha.1",
        "1.1.0-dev.1",
    ] {
        create_release(&app, "chan", version).await;
    }
    let of = |channel: &'static str| {
        let app = &app;
        async move { versions(app, &format!("product=chan&sort=version&channel={channel}")).await }
    };
    assert_eq!(of("stable").await, ["1.0.0"]);
    assert_eq!(of("rc").await, ["1.1.0-rc.1", "1.0.0"]);
    assert_eq!(of("beta").await, ["1.1.0-rc.1", "1.1.0-beta.1", "1.0.0"]);
    assert_eq!(of("dev").await.len(), 5);
    let bad = app
        .admin(Method::GET, "/v1/releases?channel=preview")
        .send()
        .await
        .unwrap();
    assert!(
        assert_error(bad, 400, "bad_request")
            .await
            .starts_with("channel must be one of")
    );
}

async fn listings_answer_if_none_match_with_304(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "tagged", "1.0.0").await;
    let first = app
        .admin(Method::GET, "/v1/releases?product=tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let same = app
        .admin(Method::GET, "/v1/releases?product=tagged")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(same.headers()["etag"].to_str().unwrap(), etag);
    assert!(same.bytes().await.unwrap().is_empty());
    publish(&app, release["id"].as_str().unwrap()).await;
    let changed = app
        .admin(Method::GET, "/v1/releases?product=tagged")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "a change makes another tag");
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

async fn patch(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.admin(Method::PATCH, &format!("/v1/releases/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn a_draft_is_edited_and_a_published_release_is_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = ok_json(
        create(
            &app,
            json!({"product": "edited", "version": "2.0.0-rc.1", "notes": "draft notes"}),
        )
        .await,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let edited = ok_json(
        patch(
            &app,
            id,
            json!({"channel": "beta", "metadata": {"min_os": "12"}}),
        )
        .await,
    )
    .await;
    assert_eq!(edited["channel"], "beta");
    assert_eq!(edited["metadata"], json!({"min_os": "12"}));
    assert_eq!(edited["notes"], "draft notes", "fields not named are kept");
    let cleared = ok_json(patch(&app, id, json!({"notes": null})).await).await;
    assert!(cleared.get("notes").is_none(), "{cleared}");
    assert_eq!(cleared["metadata"], json!({"min_os": "12"}));

    for (body, message) in [
        (
            json!({}),
            "at least one of channel, notes, metadata is required",
        ),
        (json!({"channel": "nightly"}), "channel must be one of"),
        (json!({"metadata": 5}), "metadata must be a JSON object"),
        (
            json!({"notes": "x".repeat(64 * 1024 + 1)}),
            "notes must be at most",
        ),
    ] {
        let got = assert_error(patch(&app, id, body.clone()).await, 400, "bad_request").await;
        assert!(got.starts_with(message), "{body}: {got}");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        assert_error(
            patch(&app, &unknown, json!({"notes": "x"})).await,
            404,
            "not_found"
        )
        .await,
        "release not found"
    );

    publish(&app, id).await;
    assert_eq!(
        assert_error(
            patch(&app, id, json!({"notes": "late"})).await,
            409,
            "conflict"
        )
        .await,
        "release is not a draft"
    );
    let listed = ok_json(
        app.admin(Method::GET, "/v1/releases?product=edited")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        listed["releases"][0].get("notes").is_none(),
        "the published release is unchanged"
    );
}

async fn artifacts_carry_os_arch_and_filetype(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let release = create_release(&app, "targets", "1.0.0").await;
    let id = release["id"].as_str().unwrap();
    let bytes = b"target bytes".to_vec();
    let register = |platform: &'static str, extra: Value| {
        let app = &app;
        let bytes = bytes.clone();
        async move {
            let presigned = ok_json(
                app.admin(
                    Method::POST,
                    &format!("/v1/releases/{id}/artifacts/presign"),
                )
                .json(&json!({"filename": "Agent Setup.tar.gz", "platform": platform}))
                .send()
                .await
                .unwrap(),
            )
            .await;
            let put = app
                .client
                .put(presigned["upload_url"].as_str().unwrap())
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            assert!(put.status().is_success());
            let mut body = json!({
                "artifact_id": presigned["artifact_id"],
                "object_key": presigned["object_key"],
                "checksum": crate::flow::sha256_hex(&bytes),
                "size": bytes.len(),
                "platform": platform,
            });
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            app.admin(Method::POST, &format!("/v1/releases/{id}/artifacts"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let derived = ok_json(register("linux-x86_64", json!({})).await).await;
    assert_eq!(
        (&derived["os"], &derived["arch"], &derived["filetype"]),
        (&json!("linux"), &json!("x86_64"), &json!("tar.gz"))
    );
    let given =
        ok_json(register("darwin-arm64", json!({"arch": "Universal", "os": ""})).await).await;
    assert_eq!(given["os"], "macos", "an empty value is not given: derived");
    assert_eq!(given["arch"], "universal", "given, lower-cased");
    let unknown = ok_json(register("any", json!({})).await).await;
    assert!(
        unknown.get("os").is_none() && unknown.get("arch").is_none(),
        "{unknown}"
    );
    assert_eq!(unknown["filetype"], "tar.gz");
    let bad = register("linux", json!({"os": "linux os"})).await;
    assert!(
        assert_error(bad, 400, "bad_request")
            .await
            .starts_with("os must be 1 to 32 characters")
    );
    let listed = ok_json(
        app.admin(
            Method::GET,
            "/v1/releases?product=targets&include_artifacts=true",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let artifacts = listed["releases"][0]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 3);
    assert_eq!(artifacts[0]["os"], "linux");
    assert_eq!(artifacts[1]["arch"], "universal");
}

on_both_backends!(
    artifacts_carry_os_arch_and_filetype,
    a_draft_is_edited_and_a_published_release_is_not,
    channels_are_set_or_derived_from_the_version,
    notes_and_metadata_are_stored_and_bounded,
    sort_version_orders_by_semver_then_the_rest_newest_first,
    channel_lists_it_and_the_more_stable_ones,
    listings_answer_if_none_match_with_304,
);
