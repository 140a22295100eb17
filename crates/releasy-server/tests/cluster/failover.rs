//! Instances that die or restart under load. Through nginx, no request the proxy could
//! send again fails (every read, every request that never reached an instance), and no
//! acknowledged write is lost; a create whose instance died under it is answered by the
//! client's retry with the same Idempotency-Key, exactly once. An instance taken out of
//! the proxy's rotation and then stopped with SIGTERM cuts off nothing and answers the
//! request it was receiving.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::deployment::{ADMIN_KEY, Deployment};
use crate::process::customers_named;

/// What the load saw.
#[derive(Default)]
struct Tally {
    reads: AtomicUsize,
    downloads: AtomicUsize,
    /// Creates that reached an instance which died before answering (nginx's 502),
    /// sent again by the client.
    creates_retried: AtomicUsize,
    /// Idempotency key -> the customer id its answer named.
    acknowledged: Mutex<HashMap<String, String>>,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }
}

/// Reads through the proxy until `stop`: the customer's release list, and the download
/// link, which must redirect to the bucket; every tenth redirect is followed and its
/// bytes compared.
async fn read_until(
    proxy: String,
    api_key: String,
    download_url: String,
    bytes: Arc<Vec<u8>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut round = 0_usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        match client
            .get(format!("{proxy}/v1/releases"))
            .header("x-releasy-api-key", &api_key)
            .send()
            .await
        {
            Ok(response) if response.status() == 200 => {
                tally.reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok(response) => tally.fail(format!("GET /v1/releases: {}", response.status())),
            Err(error) => tally.fail(format!("GET /v1/releases: {error}")),
        }
        let location = match client.get(&download_url).send().await {
            Ok(response) if response.status() == StatusCode::FOUND => response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned),
            Ok(response) => {
                tally.fail(format!("GET download link: {}", response.status()));
                None
            }
            Err(error) => {
                tally.fail(format!("GET download link: {error}"));
                None
            }
        };
        if let Some(location) = location
            && round.is_multiple_of(10)
        {
            match client.get(&location).send().await {
                Ok(response) if response.status() == 200 => {
                    let body = response.bytes().await.unwrap();
                    if body.as_ref() == bytes.as_slice() {
                        tally.downloads.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tally.fail(format!("download of {} bytes differs", body.len()));
                    }
                }
                Ok(response) => tally.fail(format!("GET {location}: {}", response.status())),
                Err(error) => tally.fail(format!("GET {location}: {error}")),
            }
        }
    }
}

/// Creates customers through the proxy until `stop`, each with its own Idempotency-Key,
/// retried as a careful client does until answered.
async fn create_until(proxy: String, worker: usize, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let client = fresh_connections();
    let mut i = 0_usize;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("load-{worker}-{i}");
        let started = Instant::now();
        loop {
            let sent = client
                .post(format!("{proxy}/v1/admin/customers"))
                .header("x-releasy-admin-key", ADMIN_KEY)
                .header("Idempotency-Key", &key)
                .json(&json!({"name": format!("Load {key}")}))
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    tally.fail(format!("POST {key}: {error}"));
                    break;
                }
            };
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            match status {
                StatusCode::OK => {
                    let id = body["id"].as_str().unwrap().to_owned();
                    tally.acknowledged.lock().unwrap().insert(key.clone(), id);
                    break;
                }
                // The instance died with the create in flight: nginx does not send a
                // POST twice, the client does, with its key.
                StatusCode::BAD_GATEWAY => {
                    tally.creates_retried.fetch_add(1, Ordering::Relaxed);
                }
                // Its first attempt's claim, left by a killed instance, holds the key
                // for at most 10 s (docs/security.md).
                StatusCode::CONFLICT if body["error"]["code"] == "idempotency_in_progress" => {}
                other => {
                    tally.fail(format!("POST {key}: {other} {body}"));
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                tally.fail(format!("POST {key}: not answered within 20 s"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A client that opens a connection per request: nginx's reload closes the idle
/// connections its old workers hold, and a request sent on one as it closes would fail
/// on the client's side of the proxy, which is not what these tests measure.
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// A customer create sent straight to one instance, written in two halves: the head
/// (answered `100 Continue` once the instance handles the request) and then the body.
struct CreateInFlight {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl CreateInFlight {
    async fn begin(base: &str, name: &str) -> Self {
        let host = base.trim_start_matches("http://");
        let body = json!({"name": name}).to_string().into_bytes();
        let mut stream = TcpStream::connect(host).await.unwrap();
        let head = format!(
            "POST /v1/admin/customers HTTP/1.1\r\nhost: {host}\r\n\
             x-releasy-admin-key: {ADMIN_KEY}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut interim = [0_u8; 25];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut interim))
            .await
            .expect("100 Continue within 5 s")
            .unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        Self { stream, rest: body }
    }

    /// Sends the body; the status and the JSON of the answer.
    async fn finish(mut self) -> (u16, Value) {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            self.stream.read_to_end(&mut answer),
        )
        .await
        .expect("an answer within 10 s")
        .unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let status = answer
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// Returns once `base` refuses connections: the instance has closed its listener.
async fn wait_until_refused(base: &str) {
    let host = base.trim_start_matches("http://");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(host).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{base} still accepts after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_a_restarted_instance_fail_no_retryable_request_and_lose_no_write() {
    let mut deployment = Deployment::start().await;
    let bytes: Vec<u8> = (0..64 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    let artifact_id = deployment.publish("agent", &bytes).await;
    let (_, api_key, _) = deployment.entitled_customer("agent").await;
    let token = deployment
        .client
        .post(format!("{}/v1/downloads/token", deployment.proxy.base_url))
        .header("x-releasy-api-key", &api_key)
        .json(&json!({"artifact_id": artifact_id, "expires_in_seconds": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token: Value = token.json().await.unwrap();
    let download_url = token["download_url"].as_str().unwrap().to_owned();
    assert!(download_url.starts_with(&deployment.proxy.base_url));

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let bytes = Arc::new(bytes);
    let mut load = Vec::new();
    for _ in 0..4 {
        load.push(tokio::spawn(read_until(
            deployment.proxy.base_url.clone(),
            api_key.clone(),
            download_url.clone(),
            bytes.clone(),
            stop.clone(),
            tally.clone(),
        )));
    }
    for worker in 0..4 {
        load.push(tokio::spawn(create_until(
            deployment.proxy.base_url.clone(),
            worker,
            stop.clone(),
            tally.clone(),
        )));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kill = tally.acknowledged.lock().unwrap().len();
    deployment.kill(0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cut_off_by_the_kill = tally.creates_retried.load(Ordering::Relaxed);

    // A graceful stop as docs/deployment.md says to make one: out of the proxy's
    // rotation, then SIGTERM. The request the instance is receiving when the signal
    // comes is finished and answered.
    deployment.route_around(1).await;
    let in_flight = CreateInFlight::begin(&deployment.instance_url(1), "Drain 1").await;
    deployment.terminate(1);
    wait_until_refused(&deployment.instance_url(1)).await;
    // The body comes well into the drain, after the first check of a server that would
    // give requests no grace (actix-web checks once a second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, drained) = in_flight.finish().await;
    assert_eq!(status, 200, "the request in flight is answered: {drained}");
    let exit = deployment.wait_for_exit(1);
    assert!(
        exit.success(),
        "a graceful stop exits 0: {}",
        deployment.log_of(1)
    );
    deployment.restart(1).await;
    deployment.proxy.route_to_all().await;
    assert_eq!(
        tally.creates_retried.load(Ordering::Relaxed),
        cut_off_by_the_kill,
        "an instance taken out of rotation and stopped cuts off no request"
    );
    deployment.restart(0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} requests failed, first: {:?}\nnginx: {}",
        failures.len(),
        &failures[..failures.len().min(10)],
        deployment.proxy.error_log()
    );
    let acknowledged = tally.acknowledged.lock().unwrap().clone();
    let reads = tally.reads.load(Ordering::Relaxed);
    assert!(before_kill > 0, "the load was under way before the kill");
    assert!(reads > 100, "the load read: {reads}");
    assert!(tally.downloads.load(Ordering::Relaxed) > 0);

    // Every acknowledged create is stored, once; nothing unacknowledged was added.
    let stored = customers_named(
        &deployment.client,
        &deployment.proxy.base_url,
        ADMIN_KEY,
        "Load",
    )
    .await;
    let stored_ids: HashSet<String> = stored
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let acknowledged_ids: HashSet<String> = acknowledged.values().cloned().collect();
    assert_eq!(stored.len(), stored_ids.len());
    assert_eq!(stored_ids, acknowledged_ids, "each key's one customer");
    for customer in &stored {
        let key = customer["name"]
            .as_str()
            .unwrap()
            .trim_start_matches("Load ");
        assert_eq!(
            acknowledged.get(key).map(String::as_str),
            customer["id"].as_str()
        );
    }
    let drained_stored = customers_named(
        &deployment.client,
        &deployment.proxy.base_url,
        ADMIN_KEY,
        "Drain",
    )
    .await;
    assert_eq!(drained_stored.len(), 1);
    assert_eq!(drained_stored[0]["id"], drained["id"]);
    // The figures docs/deployment.md quotes (shown with --nocapture).
    eprintln!(
        "failover under load: {reads} reads, {} downloads followed, {} creates \
         acknowledged, {cut_off_by_the_kill} sent again after nginx answered 502",
        tally.downloads.load(Ordering::Relaxed),
        acknowledged.len(),
    );
}
