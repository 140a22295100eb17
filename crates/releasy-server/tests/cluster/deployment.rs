//! A deployment as docs/deployment.md describes it: three `releasy-server` processes
//! on one PostgreSQL database and one S3 bucket (s3s-fs, in this process), behind nginx.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};

use releasy_storage_s3::testing::{RunningS3, S3Implementation};
use releasy_testkit::TestPostgres;
use reqwest::Method;
use serde_json::{Value, json};

use crate::nginx::Nginx;
use crate::process::{free_port, server_command, signal, wait_until_live};

/// The admin key of every instance.
pub const ADMIN_KEY: &str = "cluster-admin-key-of-at-least-32-chars";

/// How many instances a deployment runs.
pub const INSTANCES: usize = 3;

/// One `releasy-server` process; its output goes to a file in the deployment's folder.
struct Instance {
    port: u16,
    child: Child,
    /// How many times it has been started, which names its log file.
    starts: usize,
}

pub struct Deployment {
    pub database: TestPostgres,
    #[allow(
        dead_code,
        reason = "held so that the bucket lives as long as the deployment"
    )]
    s3: RunningS3,
    pub proxy: Nginx,
    /// Requests through the proxy follow no redirects, so a download's 302 shows.
    pub client: reqwest::Client,
    folder: tempfile::TempDir,
    vars: Vec<(&'static str, String)>,
    instances: Vec<Instance>,
}

impl Deployment {
    /// Starts the instances all at once on a fresh, empty database (each migrates it at
    /// startup, as `serve` does), then nginx in front of them; returns when all are live.
    pub async fn start() -> Self {
        let database = TestPostgres::create().await;
        let s3 = RunningS3::start(S3Implementation::S3s).await;
        let folder = tempfile::tempdir().unwrap();
        let proxy_port = free_port();
        let s3_config = s3.config();
        let vars = vec![
            ("RELEASY_DATABASE_URL", database.url().to_owned()),
            ("RELEASY_ADMIN_API_KEY", ADMIN_KEY.to_owned()),
            ("RELEASY_LOG_FORMAT", "json".to_owned()),
            (
                "RELEASY_PUBLIC_BASE_URL",
                format!("http://127.0.0.1:{proxy_port}"),
            ),
            // Addresses as the proxy forwards them.
            ("RELEASY_TRUSTED_PROXIES", "127.0.0.1/32".to_owned()),
            ("RELEASY_ARTIFACT_BUCKET", s3_config.bucket),
            ("RELEASY_ARTIFACT_REGION", s3_config.region),
            (
                "RELEASY_ARTIFACT_ENDPOINT",
                s3_config.endpoint.expect("the test server's endpoint"),
            ),
            ("RELEASY_ARTIFACT_ACCESS_KEY", s3_config.access_key),
            ("RELEASY_ARTIFACT_SECRET_KEY", s3_config.secret_key),
            ("RELEASY_ARTIFACT_PATH_STYLE", "true".to_owned()),
        ];
        let mut instances = Vec::new();
        for _ in 0..INSTANCES {
            let port = free_port();
            let child = spawn_instance(folder.path(), &vars, port, 1);
            instances.push(Instance {
                port,
                child,
                starts: 1,
            });
        }
        let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
        let mut deployment = Self {
            proxy: Nginx::start(&folder.path().join("nginx"), proxy_port, &ports).await,
            database,
            s3,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            folder,
            vars,
            instances,
        };
        for n in 0..INSTANCES {
            deployment.wait_until_live(n).await;
        }
        deployment
    }

    fn log_path(&self, port: u16, starts: usize) -> PathBuf {
        log_path(self.folder.path(), port, starts)
    }

    async fn wait_until_live(&mut self, n: usize) {
        let base = self.instance_url(n);
        let instance = &mut self.instances[n];
        wait_until_live(&base, &mut instance.child).await;
    }

    /// The URL of instance `n` itself, bypassing the proxy.
    pub fn instance_url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}", self.instances[n].port)
    }

    /// Everything instance `n` printed since its last start.
    pub fn log_of(&self, n: usize) -> String {
        let instance = &self.instances[n];
        std::fs::read_to_string(self.log_path(instance.port, instance.starts)).unwrap()
    }

    /// SIGKILL: the instance dies at once, whatever it was doing.
    pub fn kill(&mut self, n: usize) {
        let child = &mut self.instances[n].child;
        signal(child, "KILL");
        child.wait().unwrap();
    }

    /// SIGTERM: the instance stops accepting connections and drains; see
    /// [`Self::wait_for_exit`].
    pub fn terminate(&self, n: usize) {
        signal(&self.instances[n].child, "TERM");
    }

    /// The exit status once instance `n` has stopped.
    pub fn wait_for_exit(&mut self, n: usize) -> ExitStatus {
        self.instances[n].child.wait().unwrap()
    }

    /// Takes instance `n` out of the proxy's rotation, as docs/deployment.md says to do
    /// before stopping an instance.
    pub async fn route_around(&self, n: usize) {
        self.proxy.route_around(self.instances[n].port).await;
    }

    /// Starts instance `n` again on its port (after [`Self::kill`] or
    /// [`Self::terminate`]) and waits until it is live.
    pub async fn restart(&mut self, n: usize) {
        let port = self.instances[n].port;
        let starts = self.instances[n].starts + 1;
        self.instances[n].child = spawn_instance(self.folder.path(), &self.vars, port, starts);
        self.instances[n].starts = starts;
        self.wait_until_live(n).await;
    }

    /// An admin request to `base` (the proxy or one instance).
    pub fn admin_at(&self, base: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{base}{path}"))
            .header("x-releasy-admin-key", ADMIN_KEY)
    }

    /// An admin request through the proxy.
    pub fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.admin_at(&self.proxy.base_url, method, path)
    }

    /// A customer request to `base` with `api_key`.
    pub fn customer_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        api_key: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{base}{path}"))
            .header("x-releasy-api-key", api_key)
    }

    /// Sends an admin request through the proxy that must answer 200; its JSON.
    pub async fn admin_ok(&self, method: Method, path: &str, body: Value) -> Value {
        let response = self.admin(method, path).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// A customer entitled to `product` and a key of theirs: (customer id, key, key id).
    pub async fn entitled_customer(&self, product: &str) -> (String, String, String) {
        let customer = self
            .admin_ok(Method::POST, "/v1/admin/customers", json!({"name": "Acme"}))
            .await;
        let customer_id = customer["id"].as_str().unwrap().to_owned();
        self.admin_ok(
            Method::POST,
            &format!("/v1/admin/customers/{customer_id}/entitlements"),
            json!({"product": product, "starts_at": 0}),
        )
        .await;
        let key = self
            .admin_ok(
                Method::POST,
                "/v1/admin/keys",
                json!({"customer_id": customer_id}),
            )
            .await;
        (
            customer_id,
            key["api_key"].as_str().unwrap().to_owned(),
            key["api_key_id"].as_str().unwrap().to_owned(),
        )
    }

    /// Publishes `product` 1.0.0 with one artifact of `bytes`, uploaded to S3 through
    /// the presigned URL an instance made; returns the artifact's id.
    pub async fn publish(&self, product: &str, bytes: &[u8]) -> String {
        let release = self
            .admin_ok(
                Method::POST,
                "/v1/releases",
                json!({"product": product, "version": "1.0.0"}),
            )
            .await;
        let release_id = release["id"].as_str().unwrap();
        let presigned = self
            .admin_ok(
                Method::POST,
                &format!("/v1/releases/{release_id}/artifacts/presign"),
                json!({"filename": "agent.tgz", "platform": "linux-x86_64"}),
            )
            .await;
        let upload = self
            .client
            .put(presigned["upload_url"].as_str().unwrap())
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert!(upload.status().is_success(), "upload: {}", upload.status());
        let artifact_id = presigned["artifact_id"].as_str().unwrap().to_owned();
        self.admin_ok(
            Method::POST,
            &format!("/v1/releases/{release_id}/artifacts"),
            json!({
                "artifact_id": artifact_id,
                "object_key": presigned["object_key"],
                "checksum": format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(bytes)),
                "size": bytes.len(),
                "platform": "linux-x86_64",
            }),
        )
        .await;
        self.admin_ok(
            Method::POST,
            &format!("/v1/releases/{release_id}/publish"),
            json!({}),
        )
        .await;
        artifact_id
    }
}

fn log_path(folder: &Path, port: u16, starts: usize) -> PathBuf {
    folder.join(format!("instance-{port}-start-{starts}.log"))
}

/// Starts an instance on `port` with the deployment's `vars`, its output to a file.
fn spawn_instance(folder: &Path, vars: &[(&str, String)], port: u16, starts: usize) -> Child {
    let log = File::create(log_path(folder, port, starts)).unwrap();
    let mut vars = vars.to_vec();
    vars.push(("RELEASY_BIND_ADDR", format!("127.0.0.1:{port}")));
    server_command(folder, &[], &vars)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            let _ = instance.child.kill();
            let _ = instance.child.wait();
        }
    }
}
