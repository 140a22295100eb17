//! The whole release flow through the published `releasy-client` 0.1.1, unchanged, on
//! both databases and both artifact stores: entitlement, release, presigned upload of a
//! file, registration, publication, the customer's listing, a download token, the
//! redirect, and the clean-up endpoints.

use std::io::Write;

use releasy_client::{
    AdminCreateCustomerRequest, AdminCreateKeyRequest, ArtifactPresignRequest,
    ArtifactRegisterRequest, Auth, Client, DownloadTokenRequest, EntitlementCreateRequest,
    EntitlementListQuery, EntitlementUpdateRequest, ReleaseCreateRequest, ReleaseListQuery,
};
use serde_json::json;

use crate::flow::{artifact_bytes, sha256_hex};
use crate::helpers::{ADMIN_KEY, Backend, Storage, TestApp};

const PRODUCT: &str = "releasy-agent";
const FILE_SIZE: usize = 1024 * 1024 + 17;

/// What the first half of the flow hands to the async part of the test.
struct Issued {
    customer_id: String,
    api_key: String,
    entitlement_id: String,
    release_id: String,
    token: String,
    location: String,
    checksum: String,
}

/// A client whose agent does not follow redirects, so `resolve_download_token` sees
/// the 302 and returns its `Location`.
fn no_redirect_client(base_url: &str, auth: Auth) -> Client {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    Client::builder(base_url, auth)
        .unwrap()
        .agent(agent)
        .build()
        .unwrap()
}

fn publish_and_issue(base_url: &str) -> Issued {
    let admin = Client::new(base_url, Auth::AdminKey(ADMIN_KEY.to_owned())).unwrap();
    let customer = admin
        .admin_create_customer(&AdminCreateCustomerRequest {
            name: "Acme".into(),
            plan: None,
        })
        .unwrap();
    let key = admin
        .admin_create_key(&AdminCreateKeyRequest {
            customer_id: customer.id.clone(),
            expires_at: None,
            key_type: Some("integration".into()),
            name: Some("downloads".into()),
            scopes: Some(vec!["releases:read".into(), "downloads:token".into()]),
        })
        .unwrap();

    let entitlement = admin
        .create_entitlement(
            &customer.id,
            &EntitlementCreateRequest {
                product: PRODUCT.into(),
                starts_at: 0,
                ends_at: None,
                metadata: Some(json!({"seats": 10})),
            },
        )
        .unwrap();
    assert_eq!(entitlement.customer_id, customer.id);
    assert_eq!(entitlement.product, PRODUCT);
    assert_eq!(entitlement.starts_at, 0);
    assert_eq!(entitlement.ends_at, None);
    assert_eq!(entitlement.metadata, Some(json!({"seats": 10})));

    let release = admin
        .create_release(&ReleaseCreateRequest {
            product: PRODUCT.into(),
            version: "2.1.0".into(),
        })
        .unwrap();
    assert_eq!(release.status, "draft");
    assert_eq!(release.published_at, None);
    assert_eq!(release.artifacts, None);

    let presigned = admin
        .presign_release_artifact_upload(
            &release.id,
            &ArtifactPresignRequest {
                filename: "Agent Installer.bin".into(),
                platform: "linux-aarch64".into(),
            },
        )
        .unwrap();
    assert_eq!(
        presigned.object_key,
        format!(
            "releases/{PRODUCT}/2.1.0/linux-aarch64/{}/agent_installer.bin",
            presigned.artifact_id
        )
    );

    let bytes = artifact_bytes(FILE_SIZE);
    let checksum = sha256_hex(&bytes);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&bytes).unwrap();
    file.flush().unwrap();
    admin
        .upload_presigned_artifact(&presigned.upload_url, file.path())
        .unwrap();

    let registered = admin
        .register_release_artifact(
            &release.id,
            &ArtifactRegisterRequest {
                artifact_id: presigned.artifact_id.clone(),
                object_key: presigned.object_key.clone(),
                checksum: checksum.clone(),
                size: FILE_SIZE as i64,
                platform: "linux-aarch64".into(),
            },
        )
        .unwrap();
    assert_eq!(registered.id, presigned.artifact_id);
    assert_eq!(registered.release_id, release.id);
    assert_eq!(registered.size, FILE_SIZE as i64);
    assert_eq!(registered.checksum, checksum);

    // ureq sends a file with its length; an upload of unknown length goes chunked, and
    // the presigned URL takes that too.
    let chunked = admin
        .presign_release_artifact_upload(
            &release.id,
            &ArtifactPresignRequest {
                filename: "agent.tar".into(),
                platform: "linux-x86_64".into(),
            },
        )
        .unwrap();
    let mut reader = std::fs::File::open(file.path()).unwrap();
    let response = ureq::put(&chunked.upload_url)
        .header("content-type", "application/octet-stream")
        .send(ureq::SendBody::from_reader(&mut reader))
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    admin
        .register_release_artifact(
            &release.id,
            &ArtifactRegisterRequest {
                artifact_id: chunked.artifact_id.clone(),
                object_key: chunked.object_key.clone(),
                checksum: checksum.clone(),
                size: FILE_SIZE as i64,
                platform: "linux-x86_64".into(),
            },
        )
        .unwrap();

    let published = admin.publish_release(&release.id).unwrap();
    assert_eq!(published.status, "published");
    assert!(published.published_at.is_some());

    let customer_client = admin.with_auth(Auth::ApiKey(key.api_key.clone()));
    let listed = customer_client
        .list_releases(&ReleaseListQuery {
            product: Some(PRODUCT.into()),
            include_artifacts: Some(true),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((listed.limit, listed.offset), (50, 0));
    assert_eq!(listed.releases.len(), 1);
    let artifacts = listed.releases[0].artifacts.as_ref().unwrap();
    assert_eq!(artifacts.len(), 2);
    let artifact = artifacts
        .iter()
        .find(|a| a.id == presigned.artifact_id)
        .unwrap();
    assert_eq!(artifact.object_key, presigned.object_key);
    assert_eq!(artifact.platform, "linux-aarch64");
    assert_eq!(artifact.checksum, checksum);
    assert_eq!(artifact.size, FILE_SIZE as i64);
    let artifact = artifacts
        .iter()
        .find(|a| a.id == chunked.artifact_id)
        .unwrap();
    assert_eq!(artifact.platform, "linux-x86_64");
    assert_eq!(artifact.size, FILE_SIZE as i64);

    let token = customer_client
        .create_download_token(&DownloadTokenRequest {
            artifact_id: presigned.artifact_id.clone(),
            expires_in_seconds: Some(300),
            purpose: Some("install".into()),
        })
        .unwrap();
    let prefix = format!("{base_url}/v1/downloads/");
    let raw_token = token
        .download_url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{} starts with {prefix}", token.download_url))
        .to_owned();
    assert!(raw_token.starts_with("releasy_dl_"), "{raw_token}");

    // Resolving needs no credentials.
    let resolver = no_redirect_client(base_url, Auth::None);
    let resolution = resolver.resolve_download_token(&raw_token).unwrap();

    Issued {
        customer_id: customer.id,
        api_key: key.api_key,
        entitlement_id: entitlement.id,
        release_id: release.id,
        token: raw_token,
        location: resolution.location,
        checksum,
    }
}

fn change_and_clean_up(base_url: &str, issued: &Issued) {
    let admin = Client::new(base_url, Auth::AdminKey(ADMIN_KEY.to_owned())).unwrap();
    let customer_client = admin.with_auth(Auth::ApiKey(issued.api_key.clone()));

    let entitlements = admin
        .list_entitlements(&issued.customer_id, &EntitlementListQuery::default())
        .unwrap();
    assert_eq!((entitlements.limit, entitlements.offset), (50, 0));
    assert_eq!(entitlements.entitlements.len(), 1);
    assert_eq!(entitlements.entitlements[0].id, issued.entitlement_id);
    let filtered = admin
        .list_entitlements(
            &issued.customer_id,
            &EntitlementListQuery {
                product: Some("other".into()),
                limit: Some(10),
                offset: Some(0),
            },
        )
        .unwrap();
    assert!(filtered.entitlements.is_empty());
    assert_eq!(filtered.limit, 10);

    let updated = admin
        .update_entitlement(
            &issued.customer_id,
            &issued.entitlement_id,
            &EntitlementUpdateRequest {
                product: None,
                starts_at: Some(1),
                ends_at: Some(4_102_444_800),
                metadata: Some(json!({"seats": 20, "note": "renewed"})),
            },
        )
        .unwrap();
    assert_eq!(updated.id, issued.entitlement_id);
    assert_eq!(updated.product, PRODUCT);
    assert_eq!(updated.starts_at, 1);
    assert_eq!(updated.ends_at, Some(4_102_444_800));
    assert_eq!(
        updated.metadata,
        Some(json!({"seats": 20, "note": "renewed"}))
    );
    let invalid = admin
        .update_entitlement(
            &issued.customer_id,
            &issued.entitlement_id,
            &EntitlementUpdateRequest {
                product: None,
                starts_at: Some(4_102_444_801),
                ends_at: None,
                metadata: None,
            },
        )
        .unwrap_err();
    assert_eq!(invalid.status(), Some(400));
    assert_eq!(invalid.api_error().unwrap().error.code, "bad_request");

    let unpublished = admin.unpublish_release(&issued.release_id).unwrap();
    assert_eq!(unpublished.status, "draft");
    assert_eq!(unpublished.published_at, None);
    let again = admin.unpublish_release(&issued.release_id).unwrap_err();
    assert_eq!(again.status(), Some(400));
    assert_eq!(
        again.api_error().unwrap().error.message,
        "release already draft"
    );
    let visible = customer_client
        .list_releases(&ReleaseListQuery::default())
        .unwrap();
    assert!(visible.releases.is_empty(), "drafts are not visible");
    let resolver = no_redirect_client(base_url, Auth::None);
    let refused = resolver.resolve_download_token(&issued.token).unwrap_err();
    assert_eq!(refused.status(), Some(404));
    assert_eq!(
        refused.api_error().unwrap().error.message,
        "release not available"
    );

    admin
        .delete_entitlement(&issued.customer_id, &issued.entitlement_id)
        .unwrap();
    let gone = admin
        .list_entitlements(&issued.customer_id, &EntitlementListQuery::default())
        .unwrap();
    assert!(gone.entitlements.is_empty());
    let twice = admin
        .delete_entitlement(&issued.customer_id, &issued.entitlement_id)
        .unwrap_err();
    assert_eq!(twice.status(), Some(404));
    assert_eq!(
        twice.api_error().unwrap().error.message,
        "entitlement not found"
    );

    admin.delete_release(&issued.release_id).unwrap();
    let releases = admin.list_releases(&ReleaseListQuery::default()).unwrap();
    assert!(releases.releases.is_empty());
    let twice = admin.delete_release(&issued.release_id).unwrap_err();
    assert_eq!(twice.status(), Some(404));
    assert_eq!(
        twice.api_error().unwrap().error.message,
        "release not found"
    );
    let refused = resolver.resolve_download_token(&issued.token).unwrap_err();
    assert_eq!(refused.status(), Some(404));
    assert_eq!(
        refused.api_error().unwrap().error.message,
        "download token not found"
    );
}

async fn releasy_client_drives_the_release_flow(backend: Backend, storage: Storage) {
    let app = TestApp::spawn_with_storage(backend, storage).await;
    let base_url = app.base_url.clone();
    // The client is blocking (ureq): keep it off the async test runtime.
    let issued = tokio::task::spawn_blocking(move || publish_and_issue(&base_url))
        .await
        .unwrap();

    let download = app.client.get(&issued.location).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let body = download.bytes().await.unwrap();
    assert_eq!(body.len(), FILE_SIZE);
    assert_eq!(sha256_hex(&body), issued.checksum);

    let base_url = app.base_url.clone();
    tokio::task::spawn_blocking(move || change_and_clean_up(&base_url, &issued))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_the_embedded_store() {
    releasy_client_drives_the_release_flow(Backend::Sqlite, Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_the_embedded_store() {
    releasy_client_drives_the_release_flow(Backend::Postgres, Storage::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_s3() {
    releasy_client_drives_the_release_flow(Backend::Sqlite, Storage::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_s3() {
    releasy_client_drives_the_release_flow(Backend::Postgres, Storage::S3).await;
}
