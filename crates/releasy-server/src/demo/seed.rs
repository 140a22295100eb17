//! The demo's data, created through the API as a vendor's CI and an operator would.

use releasy_domain::artifact::Checksum;
use serde_json::{Value, json};

use super::PRODUCT;

/// The releases seeded: version, channel, notes.
const RELEASES: [(&str, &str, &str); 3] = [
    ("1.0.0", "stable", "First stable release."),
    (
        "1.1.0",
        "stable",
        "Faster start-up; fixes the proxy settings.",
    ),
    (
        "2.0.0-beta.1",
        "beta",
        "The 2.0 preview: a new configuration format.",
    ),
];

/// The platform every seeded file is for.
pub const PLATFORM: &str = "linux-x86_64";

/// What the demo holds, and the secrets to use it.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The admin key (generated into the data directory).
    pub admin_key: String,
    /// The customer's id.
    pub customer_id: String,
    /// The customer's read-only key: `releases:read` and `downloads:token`.
    pub api_key: String,
    /// The releases, oldest first.
    pub releases: Vec<SeededRelease>,
}

/// One seeded release.
#[derive(Debug, Clone)]
pub struct SeededRelease {
    /// Its version.
    pub version: String,
    /// Its channel.
    pub channel: String,
    /// Its file's artifact id.
    pub artifact_id: String,
    /// Its file's name.
    pub filename: String,
}

/// A seeding request failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// No answer.
    #[error("{what}")]
    Request {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An answer other than success, or without the field expected.
    #[error("{what}: answered {status}: {body}")]
    Refused {
        /// The step.
        what: String,
        /// The status.
        status: reqwest::StatusCode,
        /// The answer's body.
        body: String,
    },
}

/// The bytes of a seeded file: a script that prints its version, so a download can be
/// run as well as checked.
fn file_bytes(version: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho \"{PRODUCT} {version}\"\n").into_bytes()
}

struct Api {
    http: reqwest::Client,
    url: String,
    admin_key: String,
}

impl Api {
    /// Sends `request` and reads its JSON answer (`Value::Null` for an empty one).
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Value, SeedError> {
        let failed = |source| SeedError::Request {
            what: what.to_owned(),
            source,
        };
        let answer = request.send().await.map_err(failed)?;
        let status = answer.status();
        let body = answer.text().await.map_err(failed)?;
        if !status.is_success() {
            return Err(SeedError::Refused {
                what: what.to_owned(),
                status,
                body,
            });
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    async fn admin_post(&self, what: &str, path: &str, body: Value) -> Result<Value, SeedError> {
        let request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("x-releasy-admin-key", &self.admin_key)
            .json(&body);
        self.send(what, request).await
    }

    /// `answer[field]` as a string.
    fn text(what: &str, answer: &Value, field: &str) -> Result<String, SeedError> {
        answer[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SeedError::Refused {
                what: what.to_owned(),
                status: reqwest::StatusCode::OK,
                body: format!("no `{field}` in {answer}"),
            })
    }

    async fn release(
        &self,
        version: &str,
        channel: &str,
        notes: &str,
    ) -> Result<SeededRelease, SeedError> {
        let what = format!("release {version}");
        let release = self
            .admin_post(
                &what,
                "/v1/releases",
                json!({"product": PRODUCT, "version": version, "channel": channel, "notes": notes}),
            )
            .await?;
        let release_id = Self::text(&what, &release, "id")?;
        let filename = format!("{PRODUCT}-{version}-{PLATFORM}.sh");
        let bytes = file_bytes(version);
        let checksum = Checksum::of_bytes(&bytes);
        let presign = self
            .admin_post(
                &what,
                &format!("/v1/releases/{release_id}/artifacts/presign"),
                json!({"filename": filename, "platform": PLATFORM, "size": bytes.len(),
                       "checksum": checksum.as_str()}),
            )
            .await?;
        let mut upload = self.http.put(Self::text(&what, &presign, "upload_url")?);
        if let Some(headers) = presign["upload_headers"].as_object() {
            for (name, value) in headers {
                upload = upload.header(name, value.as_str().unwrap_or_default());
            }
        }
        self.send(&what, upload.body(bytes.clone())).await?;
        let artifact_id = Self::text(&what, &presign, "artifact_id")?;
        self.admin_post(
            &what,
            &format!("/v1/releases/{release_id}/artifacts"),
            json!({"artifact_id": artifact_id, "object_key": Self::text(&what, &presign, "object_key")?,
                   "checksum": checksum.as_str(), "size": bytes.len(), "platform": PLATFORM}),
        )
        .await?;
        self.admin_post(
            &what,
            &format!("/v1/releases/{release_id}/publish"),
            Value::Null,
        )
        .await?;
        Ok(SeededRelease {
            version: version.to_owned(),
            channel: channel.to_owned(),
            artifact_id,
            filename,
        })
    }
}

/// Seeds the server at `url` with `admin_key`.
///
/// # Errors
/// [`SeedError`] when a request gets no answer or is refused.
pub async fn seed(url: &str, admin_key: &str) -> Result<Seeded, SeedError> {
    // The server is on loopback: a proxy from the environment must not get the requests.
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|source| SeedError::Request {
            what: "building the HTTP client".to_owned(),
            source,
        })?;
    let api = Api {
        http,
        url: url.to_owned(),
        admin_key: admin_key.to_owned(),
    };
    let mut releases = Vec::new();
    for (version, channel, notes) in RELEASES {
        releases.push(api.release(version, channel, notes).await?);
    }
    let what = "customer";
    let customer = api
        .admin_post(
            what,
            "/v1/admin/customers",
            json!({"name": "Acme Corp", "plan": "enterprise"}),
        )
        .await?;
    let customer_id = Api::text(what, &customer, "id")?;
    api.admin_post(
        "entitlement",
        &format!("/v1/admin/customers/{customer_id}/entitlements"),
        json!({"product": PRODUCT, "starts_at": 0}),
    )
    .await?;
    let key = api
        .admin_post(
            "key",
            "/v1/admin/keys",
            json!({"customer_id": customer_id, "scopes": ["releases:read", "downloads:token"]}),
        )
        .await?;
    Ok(Seeded {
        admin_key: admin_key.to_owned(),
        customer_id,
        api_key: Api::text("key", &key, "api_key")?,
        releases,
    })
}
