//! The test's identity provider: a JWKS served on a loopback port, whose key set,
//! availability and speed the test controls, counting every request.

use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::Value;

struct Control {
    document: Mutex<Value>,
    failing: AtomicBool,
    delay_ms: AtomicU64,
    requests: AtomicUsize,
}

/// A JWKS endpoint at [`JwksServer::url`].
pub struct JwksServer {
    pub url: String,
    control: web::Data<Control>,
    handle: ServerHandle,
}

async fn serve(control: web::Data<Control>) -> HttpResponse {
    control.requests.fetch_add(1, Ordering::SeqCst);
    let delay = control.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if control.failing.load(Ordering::SeqCst) {
        return HttpResponse::InternalServerError().body("identity provider trouble");
    }
    let document = control.document.lock().unwrap().clone();
    HttpResponse::Ok().json(document)
}

impl JwksServer {
    /// Starts serving `document` at `/protocol/openid-connect/certs`.
    pub async fn start(document: Value) -> Self {
        let control = web::Data::new(Control {
            document: Mutex::new(document),
            failing: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/protocol/openid-connect/certs",
            listener.local_addr().unwrap()
        );
        let shared = control.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .route("/protocol/openid-connect/certs", web::get().to(serve))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            control,
            handle,
        }
    }

    /// Publishes `document` from now on (a key rotation).
    pub fn publish(&self, document: Value) {
        *self.control.document.lock().unwrap() = document;
    }

    /// Answers 500 from now on (`true`) or serves again (`false`).
    pub fn fail(&self, failing: bool) {
        self.control.failing.store(failing, Ordering::SeqCst);
    }

    /// Makes every answer take `delay`.
    pub fn slow_down(&self, delay: Duration) {
        self.control
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many requests it has received.
    pub fn requests(&self) -> usize {
        self.control.requests.load(Ordering::SeqCst)
    }

    /// Stops listening: connections are refused from now on.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(handle.stop(false));
        })
        .join()
        .unwrap();
    }
}

/// A JWKS URL nothing listens on (the identity provider is down).
pub fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/protocol/openid-connect/certs")
}
