//! The public API as the harness uses it: seeding the small data set, walking the
//! customer cursor, issuing download tokens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fail::{Context, Result, bail};

/// The product the measured customer is entitled to, with [`SMALL_RELEASES`] published
/// releases.
pub const PRODUCT: &str = "bench-agent";
/// Published releases of [`PRODUCT`] (each with one artifact per platform).
pub const SMALL_RELEASES: usize = 10;
/// Another product, not entitled, whose releases fill the admin's first page (50) in
/// the small set as in the large one.
pub const OTHER_PRODUCT: &str = "bench-tool";
/// Published releases of [`OTHER_PRODUCT`] (each with one artifact per platform).
pub const OTHER_RELEASES: usize = 40;
/// The platforms of every small-set release.
pub const PLATFORMS: [&str; 3] = ["linux-x86_64", "darwin-arm64", "windows-x86_64"];
/// Customers created through the API besides the measured one.
pub const SMALL_EXTRA_CUSTOMERS: usize = 199;

/// Customers on a page of the admin listing scenarios.
pub const CUSTOMER_PAGE: usize = 50;
/// Download tokens issued while seeding.
pub const SMALL_TOKENS: usize = 20;
/// A product with [`DEEP_RELEASES`] published releases (no artifacts), created in an
/// order unrelated to their versions, that the measured customer is entitled to: the
/// updater scenarios compare it with [`PRODUCT`]'s ten.
pub const DEEP_PRODUCT: &str = "bench-deep";
/// Published releases of [`DEEP_PRODUCT`].
pub const DEEP_RELEASES: usize = 10_000;
/// Requests in flight while seeding [`DEEP_PRODUCT`].
const DEEP_SEEDING_CONCURRENCY: usize = 32;

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    admin_key: String,
}

/// What the small set created that the scenarios use.
#[derive(Debug, Clone)]
pub struct SmallSet {
    /// The measured customer.
    pub customer_id: String,
    /// Its API key (all scopes).
    pub api_key: String,
    /// Artifact ids of its releases, newest release first.
    pub artifact_ids: Vec<String>,
    /// Rows the API created, roughly (customers, keys, entitlements, releases,
    /// artifacts, tokens).
    pub rows: u64,
}

impl Api {
    /// A client of the server at `base`, administering with `admin_key`.
    pub fn new(base: &str, admin_key: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .ctx("building an HTTP client")?;
        Ok(Self {
            http,
            base: base.to_owned(),
            admin_key: admin_key.to_owned(),
        })
    }

    /// The admin key's header.
    pub fn admin_header(&self) -> String {
        format!("x-releasy-admin-key: {}", self.admin_key)
    }

    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Value> {
        let resp = request.send().await.ctx(what)?;
        let status = resp.status();
        let text = resp.text().await.ctx(what)?;
        if !status.is_success() {
            bail!("{what}: {status}: {text}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).ctx(format!("{what}: reading the JSON response"))
    }

    /// `POST` as the admin.
    pub async fn admin_post(&self, path: &str, body: Value) -> Result<Value> {
        let what = format!("POST {path}");
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-releasy-admin-key", &self.admin_key)
            .json(&body);
        self.send(&what, req).await
    }

    /// `GET` as the admin.
    pub async fn admin_get(&self, path: &str) -> Result<Value> {
        let what = format!("GET {}", path.split('?').next().unwrap_or(path));
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("x-releasy-admin-key", &self.admin_key);
        self.send(&what, req).await
    }

    /// `POST` with a customer key.
    pub async fn key_post(&self, api_key: &str, path: &str, body: Value) -> Result<Value> {
        let what = format!("POST {path} (customer key)");
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-releasy-api-key", api_key)
            .json(&body);
        self.send(&what, req).await
    }

    /// `PUT` bytes to a presigned upload URL.
    pub async fn upload(&self, url: &str, bytes: Vec<u8>) -> Result<()> {
        let resp = self
            .http
            .put(url)
            .body(bytes)
            .send()
            .await
            .ctx("uploading an artifact")?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            bail!("uploading an artifact: {status}: {text}");
        }
        Ok(())
    }

    /// Issues a download token for `artifact_id`; returns the download URL.
    pub async fn download_url(&self, api_key: &str, artifact_id: &str) -> Result<String> {
        self.download_url_limited(api_key, artifact_id, None).await
    }

    /// [`Self::download_url`] of a token that resolves at most `max_uses` times.
    pub async fn download_url_limited(
        &self,
        api_key: &str,
        artifact_id: &str,
        max_uses: Option<u32>,
    ) -> Result<String> {
        let mut body = json!({"artifact_id": artifact_id});
        if let Some(max_uses) = max_uses {
            body["max_uses"] = json!(max_uses);
        }
        let issued = self.key_post(api_key, "/v1/downloads/token", body).await?;
        issued["download_url"]
            .as_str()
            .map(str::to_owned)
            .ctx("the token response has no download_url")
    }

    /// Creates and publishes the [`DEEP_RELEASES`] releases of [`DEEP_PRODUCT`],
    /// versions `3.{i}.0` in a shuffled order. Run it before [`Self::seed_small`], so
    /// the small set's releases stay the newest (the admin listing's first page).
    /// Returns the rows created.
    pub async fn seed_deep_product(&self) -> Result<u64> {
        let mut pending = tokio::task::JoinSet::new();
        for n in 0..DEEP_RELEASES {
            // 7919 is prime and does not divide 10 000: each i once, out of order.
            let i = n * 7919 % DEEP_RELEASES;
            let api = self.clone();
            pending.spawn(async move {
                let release = api
                    .admin_post(
                        "/v1/releases",
                        json!({"product": DEEP_PRODUCT, "version": format!("3.{i}.0")}),
                    )
                    .await?;
                let id = release["id"].as_str().ctx("release without id")?;
                api.admin_post(&format!("/v1/releases/{id}/publish"), json!({}))
                    .await
                    .map(|_| ())
            });
            if pending.len() >= DEEP_SEEDING_CONCURRENCY {
                pending
                    .join_next()
                    .await
                    .ctx("seeding task")?
                    .ctx("seeding task")??;
            }
        }
        while let Some(done) = pending.join_next().await {
            done.ctx("seeding task")??;
        }
        Ok(DEEP_RELEASES as u64)
    }

    /// Entitles `customer_id` to [`DEEP_PRODUCT`].
    pub async fn entitle_to_deep_product(&self, customer_id: &str) -> Result<()> {
        self.admin_post(
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
            json!({"product": DEEP_PRODUCT, "starts_at": 0}),
        )
        .await
        .map(|_| ())
    }

    /// A customer entitled to the upper half of [`DEEP_PRODUCT`]'s versions (`3.5000.0`
    /// and above) on the stable channel; returns its API key. Its listings judge each
    /// release against the entitlement.
    pub async fn narrowed_customer_key(&self) -> Result<String> {
        let customer = self
            .admin_post("/v1/admin/customers", json!({"name": "Bench Narrowed"}))
            .await?;
        let customer_id = customer["id"].as_str().ctx("customer without id")?;
        let key = self
            .admin_post(
                "/v1/admin/keys",
                json!({"customer_id": customer_id, "key_type": "ci", "name": "narrowed"}),
            )
            .await?;
        self.admin_post(
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
            json!({
                "product": DEEP_PRODUCT,
                "starts_at": 0,
                "channels": ["stable"],
                "versions": ">=3.5000",
            }),
        )
        .await?;
        Ok(key["api_key"]
            .as_str()
            .ctx("key without api_key")?
            .to_owned())
    }

    /// The key of a customer entitled to the small set's product under a download
    /// quota too large to be spent: every resolve of its links counts a download.
    pub async fn metered_customer_key(&self) -> Result<String> {
        let customer = self
            .admin_post("/v1/admin/customers", json!({"name": "Bench Metered"}))
            .await?;
        let customer_id = customer["id"].as_str().ctx("customer without id")?;
        let key = self
            .admin_post(
                "/v1/admin/keys",
                json!({"customer_id": customer_id, "key_type": "ci", "name": "metered"}),
            )
            .await?;
        self.admin_post(
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
            json!({
                "product": PRODUCT,
                "starts_at": 0,
                "download_quota": {"downloads": i64::MAX, "period": "month"},
            }),
        )
        .await?;
        Ok(key["api_key"]
            .as_str()
            .ctx("key without api_key")?
            .to_owned())
    }

    /// Another key of `customer_id`, of type `integration`: the one type the bench
    /// server gives a request budget (too large to be spent, so every request is
    /// measured with the budget checked and its `RateLimit` headers written).
    pub async fn budgeted_key(&self, customer_id: &str) -> Result<String> {
        let key = self
            .admin_post(
                "/v1/admin/keys",
                json!({"customer_id": customer_id, "key_type": "integration", "name": "budgeted"}),
            )
            .await?;
        Ok(key["api_key"]
            .as_str()
            .ctx("key without api_key")?
            .to_owned())
    }

    /// The `ETag` of `GET url` with a customer key.
    pub async fn etag(&self, api_key: &str, url: &str) -> Result<String> {
        let resp = self
            .http
            .get(url)
            .header("x-releasy-api-key", api_key)
            .send()
            .await
            .ctx(format!("GET {url}"))?;
        if resp.status() != StatusCode::OK {
            bail!("GET {url}: {}", resp.status());
        }
        resp.headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ctx(format!("GET {url} sent no ETag"))
    }

    /// Streams the CSV export of the whole download ledger, chunk by chunk, holding
    /// none of it: the rows (lines after the header) and bytes received.
    pub async fn export_ledger_csv(&self) -> Result<(u64, u64)> {
        let url = format!("{}/v1/admin/downloads?format=csv", self.base);
        let mut response = self
            .http
            .get(&url)
            .header("x-releasy-admin-key", &self.admin_key)
            .timeout(Duration::from_secs(1_800))
            .send()
            .await
            .ctx(format!("GET {url}"))?;
        if !response.status().is_success() {
            bail!("GET {url}: {}", response.status());
        }
        let (mut lines, mut bytes) = (0_u64, 0_u64);
        while let Some(chunk) = response.chunk().await.ctx(format!("reading {url}"))? {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        }
        Ok((lines.saturating_sub(1), bytes))
    }

    /// The status and `Location` of `GET url` (redirects are not followed).
    pub async fn get_status(&self, url: &str) -> Result<(StatusCode, Option<String>)> {
        let resp = self.http.get(url).send().await.ctx(format!("GET {url}"))?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((resp.status(), location))
    }

    /// Creates a release, uploads one artifact per platform through its presigned URLs,
    /// registers them and publishes the release. Returns the artifact ids.
    pub async fn publish_release(
        &self,
        product: &str,
        version: &str,
        files: &[(&str, Vec<u8>)],
    ) -> Result<Vec<String>> {
        let release = self
            .admin_post(
                "/v1/releases",
                json!({"product": product, "version": version}),
            )
            .await?;
        let release_id = release["id"].as_str().ctx("release without id")?.to_owned();
        let mut ids = Vec::new();
        for (platform, bytes) in files {
            let filename = format!("{product}-{version}-{platform}.tar.gz");
            let presign = self
                .admin_post(
                    &format!("/v1/releases/{release_id}/artifacts/presign"),
                    json!({"filename": filename, "platform": platform}),
                )
                .await?;
            let upload_url = presign["upload_url"].as_str().ctx("presign without URL")?;
            self.upload(upload_url, bytes.clone()).await?;
            let checksum = hex(&Sha256::digest(bytes));
            let registered = self
                .admin_post(
                    &format!("/v1/releases/{release_id}/artifacts"),
                    json!({
                        "artifact_id": presign["artifact_id"],
                        "object_key": presign["object_key"],
                        "checksum": checksum,
                        "size": bytes.len(),
                        "platform": platform,
                    }),
                )
                .await?;
            ids.push(
                registered["id"]
                    .as_str()
                    .ctx("artifact without id")?
                    .to_owned(),
            );
        }
        self.admin_post(&format!("/v1/releases/{release_id}/publish"), json!({}))
            .await?;
        Ok(ids)
    }

    /// Seeds the small set: the measured customer with an all-scopes key and an
    /// entitlement, 199 more customers, 40 published releases of [`OTHER_PRODUCT`] then
    /// 10 of [`PRODUCT`], each with 3 tiny artifacts, and 20 download tokens.
    pub async fn seed_small(&self) -> Result<SmallSet> {
        let customer = self
            .admin_post(
                "/v1/admin/customers",
                json!({"name": "Bench Customer", "plan": "core"}),
            )
            .await?;
        let customer_id = customer["id"]
            .as_str()
            .ctx("customer without id")?
            .to_owned();
        let key = self
            .admin_post(
                "/v1/admin/keys",
                json!({"customer_id": customer_id, "key_type": "ci", "name": "bench"}),
            )
            .await?;
        let api_key = key["api_key"]
            .as_str()
            .ctx("key without api_key")?
            .to_owned();
        self.admin_post(
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
            json!({"product": PRODUCT, "starts_at": 0}),
        )
        .await?;
        for i in 0..SMALL_EXTRA_CUSTOMERS {
            let plan = ["core", "pro", "enterprise"][i % 3];
            self.admin_post(
                "/v1/admin/customers",
                json!({"name": format!("Small Customer {i:03}"), "plan": plan}),
            )
            .await?;
        }
        for r in 0..OTHER_RELEASES {
            let version = format!("1.{r}.0");
            let files: Vec<(&str, Vec<u8>)> = PLATFORMS
                .iter()
                .map(|p| {
                    let text = format!("{OTHER_PRODUCT} {version} for {p}\n");
                    (*p, text.into_bytes())
                })
                .collect();
            self.publish_release(OTHER_PRODUCT, &version, &files)
                .await?;
        }
        let mut artifact_ids = Vec::new();
        for r in 0..SMALL_RELEASES {
            let version = format!("2.{r}.0");
            let files: Vec<(&str, Vec<u8>)> = PLATFORMS
                .iter()
                .map(|p| (*p, format!("{PRODUCT} {version} for {p}\n").into_bytes()))
                .collect();
            let mut ids = self.publish_release(PRODUCT, &version, &files).await?;
            // Newest release first.
            ids.append(&mut artifact_ids);
            artifact_ids = ids;
        }
        for t in 0..SMALL_TOKENS {
            self.download_url(&api_key, &artifact_ids[t % artifact_ids.len()])
                .await?;
        }
        let releases = OTHER_RELEASES + SMALL_RELEASES;
        let rows = (1 + SMALL_EXTRA_CUSTOMERS + 2 + releases * (1 + PLATFORMS.len()) + SMALL_TOKENS)
            as u64;
        Ok(SmallSet {
            customer_id,
            api_key,
            artifact_ids,
            rows,
        })
    }

    /// Walks the admin customer listing by cursor, [`CUSTOMER_PAGE`] a page, up to
    /// `pages` pages past the first; returns the cursor of the deepest full page
    /// reached and its depth (pages before it). Full, so that the deep page serves as
    /// many customers as the first: the small set's last page holds only a few. An
    /// error when no page past the first is full (the scenario would measure the first).
    pub async fn deep_customer_cursor(&self, pages: u32) -> Result<(String, u32)> {
        let mut deepest = None;
        let mut cursor: Option<String> = None;
        for depth in 0..=pages {
            let path = match &cursor {
                None => format!("/v1/admin/customers?limit={CUSTOMER_PAGE}"),
                Some(c) => format!(
                    "/v1/admin/customers?limit={CUSTOMER_PAGE}&cursor={}",
                    url_encode(c)
                ),
            };
            let page = self.admin_get(&path).await?;
            let customers = page["customers"].as_array().map_or(0, Vec::len);
            if customers < CUSTOMER_PAGE {
                break;
            }
            if let Some(cursor) = &cursor {
                deepest = Some((cursor.clone(), depth));
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        deepest.ctx("no full page of customers past the first")
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes everything but unreserved characters (for cursors in a query).
pub fn url_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
