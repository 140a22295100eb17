//! The test harness: a real `releasy-server` on a random loopback port, against a fresh
//! SQLite file or a fresh PostgreSQL database, and typed helpers to talk to it.

use std::collections::HashMap;
use std::sync::Arc;

use releasy_domain::ports::Clock;
use releasy_server::server;
use releasy_server::settings::Settings;
use releasy_storage_s3::testing::{RunningS3, S3Implementation};
use releasy_testkit::{OutageProxy, TestPostgres, TestSqlite};
use serde_json::{Value, json};

/// The admin key every test server is configured with.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// Which database a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test server keeps artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The embedded filesystem store in the data directory.
    Embedded,
    /// A real S3-compatible server (s3s-fs) on a loopback port.
    S3,
    /// A second, independent S3 implementation: moto's server, as a child process.
    Moto,
}

/// Keeps a test database alive for as long as its servers run.
#[allow(dead_code, reason = "the SQLite guard is held only for its Drop")]
enum DatabaseGuard {
    Sqlite(TestSqlite),
    Postgres(TestPostgres),
}

/// Where a test server's database comes from.
enum DatabaseChoice {
    /// A fresh one on this backend.
    Fresh(Backend),
    /// The one another test server runs on (its guard and URL), and its data directory.
    SharedWith(Arc<DatabaseGuard>, String, Arc<tempfile::TempDir>),
}

/// A running server and a client for it.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    database_url: String,
    /// The `RELEASY_*` variables the server was configured with.
    env: HashMap<String, String>,
    handle: actix_web::dev::ServerHandle,
    /// `RunningServer::run`, which finishes once a stop has drained the server.
    running: Option<tokio::task::JoinHandle<Result<(), server::StopError>>>,
    data_dir: Arc<tempfile::TempDir>,
    s3: Option<RunningS3>,
    database: Arc<DatabaseGuard>,
    /// The proxies the server reaches PostgreSQL and S3 through, when asked for.
    outages: Outages,
}

/// Proxies in front of a test server's dependencies, which a test cuts to take the
/// dependency away (see [`OutageProxy`]).
#[derive(Default)]
pub struct Outages {
    pub database: Option<OutageProxy>,
    pub storage: Option<OutageProxy>,
}

impl TestApp {
    /// Starts a server on `backend` with the default test settings.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Starts a server on `backend`; `extra` adds or overrides `RELEASY_*` variables.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        Self::start(
            DatabaseChoice::Fresh(backend),
            Storage::Embedded,
            extra,
            false,
            None,
        )
        .await
    }

    /// Starts a server on `backend` whose now is `clock`'s (tests of calendar rules).
    pub async fn spawn_with_clock(backend: Backend, clock: Arc<dyn Clock>) -> Self {
        Self::start(
            DatabaseChoice::Fresh(backend),
            Storage::Embedded,
            &[],
            false,
            Some(clock),
        )
        .await
    }

    /// Starts a second server on this one's database and data directory, as a second
    /// instance of one deployment.
    pub async fn spawn_beside(&self) -> Self {
        self.spawn_beside_with(&[]).await
    }

    /// [`Self::spawn_beside`], with `extra` `RELEASY_*` variables: an instance of the
    /// deployment restarted with other settings.
    pub async fn spawn_beside_with(&self, extra: &[(&str, &str)]) -> Self {
        let shared = DatabaseChoice::SharedWith(
            self.database.clone(),
            self.database_url.clone(),
            self.data_dir.clone(),
        );
        Self::start(shared, Storage::Embedded, extra, false, None).await
    }

    /// Starts a server on `backend` that keeps artifacts in `storage`.
    pub async fn spawn_with_storage(backend: Backend, storage: Storage) -> Self {
        Self::start(DatabaseChoice::Fresh(backend), storage, &[], false, None).await
    }

    /// Starts a server on `backend` and `storage` that reaches PostgreSQL and S3 (when
    /// it uses them) through proxies a test cuts with [`Self::outages`].
    pub async fn spawn_through_proxies(backend: Backend, storage: Storage) -> Self {
        Self::spawn_through_proxies_with(backend, storage, &[]).await
    }

    /// [`Self::spawn_through_proxies`], with `extra` `RELEASY_*` variables.
    pub async fn spawn_through_proxies_with(
        backend: Backend,
        storage: Storage,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start(DatabaseChoice::Fresh(backend), storage, extra, true, None).await
    }

    /// Starts a server on `backend` that keeps artifacts in `storage`; `extra` adds or
    /// overrides `RELEASY_*` variables.
    pub async fn spawn_with_storage_and(
        backend: Backend,
        storage: Storage,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start(DatabaseChoice::Fresh(backend), storage, extra, false, None).await
    }

    async fn start(
        database: DatabaseChoice,
        storage: Storage,
        extra: &[(&str, &str)],
        proxied: bool,
        clock: Option<Arc<dyn Clock>>,
    ) -> Self {
        let mut outages = Outages::default();
        let data_dir = match &database {
            DatabaseChoice::SharedWith(_, _, dir) => dir.clone(),
            DatabaseChoice::Fresh(_) => Arc::new(tempfile::tempdir().expect("temp dir")),
        };
        let (database_url, database) = match database {
            DatabaseChoice::Fresh(Backend::Sqlite) => {
                let db = TestSqlite::create();
                (
                    format!("sqlite://{}", db.path().display()),
                    Arc::new(DatabaseGuard::Sqlite(db)),
                )
            }
            DatabaseChoice::Fresh(Backend::Postgres) => {
                let db = TestPostgres::create().await;
                let url = if proxied {
                    let proxy = OutageProxy::start(db.server_addr().await).await;
                    let url = db.url_through(proxy.addr());
                    outages.database = Some(proxy);
                    url
                } else {
                    db.url().to_owned()
                };
                (url, Arc::new(DatabaseGuard::Postgres(db)))
            }
            DatabaseChoice::SharedWith(guard, url, _) => (url, guard),
        };
        // Bound first, so the public URL (which the embedded store's links use) is known.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let mut env: HashMap<String, String> = HashMap::from([
            ("RELEASY_DATABASE_URL".into(), database_url.clone()),
            ("RELEASY_ADMIN_API_KEY".into(), ADMIN_KEY.into()),
            (
                "RELEASY_DATA_DIR".into(),
                data_dir.path().display().to_string(),
            ),
            ("RELEASY_PUBLIC_BASE_URL".into(), base_url.clone()),
        ]);
        let s3 = match storage {
            Storage::Embedded => None,
            Storage::S3 => Some(RunningS3::start(S3Implementation::S3s).await),
            Storage::Moto => Some(RunningS3::start(S3Implementation::Moto).await),
        };
        if let Some(server) = &s3 {
            let config = server.config();
            env.insert("RELEASY_ARTIFACT_BUCKET".into(), config.bucket);
            env.insert("RELEASY_ARTIFACT_REGION".into(), config.region);
            let mut endpoint = config.endpoint.expect("test S3 servers have an endpoint");
            if proxied {
                let address = endpoint.trim_start_matches("http://");
                let proxy = OutageProxy::start(address.parse().expect("a loopback address")).await;
                endpoint = format!("http://{}", proxy.addr());
                outages.storage = Some(proxy);
            }
            env.insert("RELEASY_ARTIFACT_ENDPOINT".into(), endpoint);
            env.insert("RELEASY_ARTIFACT_ACCESS_KEY".into(), config.access_key);
            env.insert("RELEASY_ARTIFACT_SECRET_KEY".into(), config.secret_key);
            env.insert("RELEASY_ARTIFACT_PATH_STYLE".into(), "true".into());
        }
        for (key, value) in extra {
            env.insert((*key).to_owned(), (*value).to_owned());
        }
        let settings = Settings::load(None, Some(env.clone())).expect("test settings");
        let running = match clock {
            Some(clock) => server::start_on_with_clock(settings, listener, clock).await,
            None => server::start_on(settings, listener).await,
        }
        .expect("server starts");
        let handle = running.handle.clone();
        // `run` keeps the audit queue and the cache's change feed for the server's life.
        let running = Some(tokio::spawn(running.run()));
        Self {
            base_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            database_url,
            env,
            handle,
            running,
            data_dir,
            s3,
            database,
            outages,
        }
    }

    /// The proxies of [`Self::spawn_through_proxies`].
    pub fn outages(&self) -> &Outages {
        &self.outages
    }

    /// Where the embedded store keeps the object `key`, or `None` on S3.
    pub fn embedded_object_path(&self, key: &str) -> Option<std::path::PathBuf> {
        self.s3
            .is_none()
            .then(|| self.data_dir.path().join("objects").join(key))
    }

    /// Whether the store (embedded or S3) holds an object under `key`.
    pub async fn holds_object(&self, key: &str) -> bool {
        use releasy_domain::ports::ObjectStore as _;
        match &self.s3 {
            None => self.data_dir.path().join("objects").join(key).exists(),
            Some(s3) => releasy_storage_s3::S3ObjectStore::new(s3.config())
                .expect("a store on the test server")
                .head(&releasy_domain::artifact::ObjectKey::from_stored(
                    key.to_owned(),
                ))
                .await
                .expect("HEAD")
                .is_some(),
        }
    }

    /// Whether the object at `key` is gone within 10 s: the background verifier deletes
    /// the bytes it failed just after it stores its verdict, so a test that has seen the
    /// verdict may still find them for a moment.
    pub async fn object_gone_soon(&self, key: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.holds_object(key).await {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        true
    }

    /// The `RELEASY_*` variables the server runs with, to run the `releasy-server`
    /// binary's commands against the same database and store.
    pub fn server_env(&self) -> &HashMap<String, String> {
        &self.env
    }

    /// The URL of the server's database, for tests that inspect or edit rows directly.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Takes the PostgreSQL database away under the running server.
    pub async fn lose_postgres_database(&self) {
        match &*self.database {
            DatabaseGuard::Postgres(db) => db.drop_now().await,
            DatabaseGuard::Sqlite(_) => panic!("only a PostgreSQL database can be taken away"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request with the admin key.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("x-releasy-admin-key", ADMIN_KEY)
    }

    /// A request with a customer API key.
    pub fn customer(
        &self,
        method: reqwest::Method,
        path: &str,
        api_key: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("x-releasy-api-key", api_key)
    }

    /// Creates a customer and returns its JSON.
    pub async fn create_customer(&self, name: &str, plan: Option<&str>) -> Value {
        let mut body = json!({ "name": name });
        if let Some(plan) = plan {
            body["plan"] = json!(plan);
        }
        let response = self
            .admin(reqwest::Method::POST, "/v1/admin/customers")
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "create customer");
        response.json().await.expect("json")
    }

    /// Creates a key for `customer_id` with `body` merged in, returning the response JSON.
    pub async fn create_key(&self, customer_id: &str, extra: Value) -> Value {
        let mut body = json!({ "customer_id": customer_id });
        if let (Some(target), Some(source)) = (body.as_object_mut(), extra.as_object()) {
            target.extend(source.clone());
        }
        let response = self
            .admin(reqwest::Method::POST, "/v1/admin/keys")
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "create key");
        response.json().await.expect("json")
    }

    /// Applies `body` to the customer (`PATCH`), which must succeed.
    pub async fn patch_customer(&self, customer_id: &str, body: Value) {
        let response = self
            .admin(
                reqwest::Method::PATCH,
                &format!("/v1/admin/customers/{customer_id}"),
            )
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "patch customer");
    }

    /// The body an admin `GET` of `path` answers, which must be 200.
    pub async fn admin_get_json(&self, path: &str) -> Value {
        let response = self
            .admin(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    /// Artifact `artifact_id` of release `release_id` as the admin release listing
    /// shows it.
    pub async fn listed_artifact(&self, release_id: &str, artifact_id: &str) -> Value {
        let listing = self
            .admin_get_json("/v1/releases?include_artifacts=true")
            .await;
        let release = listing["releases"]
            .as_array()
            .expect("releases")
            .iter()
            .find(|r| r["id"] == release_id)
            .unwrap_or_else(|| panic!("the release is listed: {listing}"));
        release["artifacts"]
            .as_array()
            .unwrap_or_else(|| panic!("the release lists its artifacts: {release}"))
            .iter()
            .find(|a| a["id"] == artifact_id)
            .cloned()
            .unwrap_or_else(|| panic!("{artifact_id} is listed: {release}"))
    }

    /// Waits (up to 30 s) until the artifact's verification is no longer `pending`;
    /// what it became.
    pub async fn settled_verification(&self, release_id: &str, artifact_id: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let listed = self.listed_artifact(release_id, artifact_id).await;
            let state = listed["verification"].as_str().expect("verification");
            if state != "pending" {
                return state.to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "verification still pending after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// The audit events `GET /v1/admin/audit-events?{query}` answers, newest first; the
    /// listing must succeed.
    pub async fn audit_events(&self, query: &str) -> Vec<Value> {
        let mut page = self
            .admin_get_json(&format!("/v1/admin/audit-events?{query}"))
            .await;
        match page["events"].take() {
            Value::Array(events) => events,
            other => panic!("events is not a list: {other}"),
        }
    }

    /// Revokes the key, which must succeed.
    pub async fn revoke_key(&self, api_key_id: &str) {
        let response = self
            .admin(reqwest::Method::POST, "/v1/admin/keys/revoke")
            .json(&json!({ "api_key_id": api_key_id }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "revoke");
    }

    /// Stops the server gracefully, as SIGTERM does, and waits until its shutdown work
    /// (writing out queued audit events and reports) is done.
    pub async fn stop_gracefully(&mut self) {
        self.stop_gracefully_reporting()
            .await
            .expect("server ran and stopped");
    }

    /// [`Self::stop_gracefully`], answering what the server's run ended with.
    pub async fn stop_gracefully_reporting(&mut self) -> Result<(), server::StopError> {
        self.handle.stop(true).await;
        match self.running.take() {
            Some(running) => running.await.expect("server task"),
            None => Ok(()),
        }
    }

    /// A customer with a key holding every scope: `(customer_id, api_key, api_key_id)`.
    pub async fn customer_with_key(&self) -> (String, String, String) {
        let customer = self.create_customer("Acme", Some("core")).await;
        let id = customer["id"].as_str().expect("id").to_owned();
        let key = self.create_key(&id, json!({})).await;
        (
            id,
            key["api_key"].as_str().expect("api_key").to_owned(),
            key["api_key_id"].as_str().expect("api_key_id").to_owned(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and close connections before the database guard drops.
        let handle = self.handle.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(handle.stop(false));
        })
        .join()
        .expect("server stopped");
    }
}

/// Asserts a response is an error in the contract's shape with `status` and `code`, and
/// returns its message.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> String {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "status; body: {body}");
    assert_eq!(body["error"]["code"], code, "code; body: {body}");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

/// Runs each named `async fn name(backend: Backend)` as one test per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Runs each listed `async fn test(Backend, Storage)` on both databases and on both
/// stores (the embedded one and s3s-fs), as `test::sqlite_embedded` and so on.
macro_rules! on_every_backend_and_store {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_embedded() {
                    super::$test(Backend::Sqlite, Storage::Embedded).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite_s3() {
                    super::$test(Backend::Sqlite, Storage::S3).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_embedded() {
                    super::$test(Backend::Postgres, Storage::Embedded).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_s3() {
                    super::$test(Backend::Postgres, Storage::S3).await;
                }
            }
        )+
    };
}
pub(crate) use on_every_backend_and_store;
