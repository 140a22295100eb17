//! A TCP proxy on loopback that disturbs transfers as a real network does: it breaks
//! one answer midway, carries requests slowly, fails one download with a `503`, or
//! holds one request until the test has done what it must do first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the bytes it carries.
#[derive(Debug, Clone)]
pub enum Disturbance {
    /// The first connection whose answers pass this many bytes is closed right there,
    /// as a flaky network would; every other byte goes through untouched.
    CutAnswerAfter(usize),
    /// Requests go to the server at about this many bytes a second, each connection.
    RequestsAt(usize),
    /// The first connection that opens with a download link's resolve
    /// (`GET /v1/downloads/…`) is answered `503` and closed, as a server restarting
    /// behind its proxy would; every other byte goes through untouched.
    FailFirstResolve,
    /// The first download token request (`POST /v1/downloads/token`) is answered `503`
    /// and closed, as a server restarting behind its proxy would.
    FailFirstTokenRequest,
    /// The first upload of a part to the embedded store (`PUT /v1/storage/…` with a
    /// `partNumber`) is answered `503` and closed while its body is on the way.
    FailFirstPartUpload,
    /// The first artifact registration (`POST /v1/releases/{id}/artifacts`, after its
    /// bytes were stored) is answered `503` and closed: a run cut off between storing
    /// a file and registering it.
    FailFirstRegistration,
    /// The first request of this kind (of all connections) reaches the server, and its
    /// answer is lost: the connection closes as the answer starts.
    LoseFirstAnswerTo(Request),
    /// The first request of this kind (of all connections) waits in the proxy until
    /// the test notifies the gate: what the test does meanwhile comes before it,
    /// however fast the client would otherwise have gone on.
    HoldFirstUntil(Request, Arc<tokio::sync::Notify>),
}

/// A request a [`Disturbance`] picks by its request line.
#[derive(Debug, Clone, Copy)]
pub enum Request {
    /// `POST /v1/admin/keys/{id}/rotate`.
    KeyRotation,
    /// `POST /v1/downloads/token`.
    DownloadToken,
    /// `POST /v1/releases/{id}/artifacts/presign`.
    ArtifactPresign,
}

impl Request {
    fn is_in(self, chunk: &[u8]) -> bool {
        let line = chunk.split(|b| *b == b'\r').next().unwrap_or_default();
        match self {
            Self::KeyRotation => {
                line.starts_with(b"POST /v1/admin/keys/") && line.ends_with(b"/rotate HTTP/1.1")
            }
            Self::DownloadToken => line == b"POST /v1/downloads/token HTTP/1.1",
            Self::ArtifactPresign => {
                line.starts_with(b"POST /v1/releases/")
                    && line.ends_with(b"/artifacts/presign HTTP/1.1")
            }
        }
    }
}

/// A running proxy; it stops with the test's runtime.
pub struct LoopbackProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl LoopbackProxy {
    /// Listens on a loopback port, forwarding to `upstream`.
    pub async fn start(
        listener: std::net::TcpListener,
        upstream: SocketAddr,
        disturbance: Disturbance,
    ) -> Self {
        listener.set_nonblocking(true).expect("non-blocking");
        let listener = TcpListener::from_std(listener).expect("listener");
        let address = listener.local_addr().expect("address");
        let cut = Arc::new(AtomicBool::new(false));
        let has_cut = Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let has_cut = Arc::clone(&has_cut);
                let disturbance = disturbance.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        forward(client, server, disturbance, has_cut).await;
                    }
                });
            }
        });
        Self { address, cut }
    }

    /// Whether a transfer was broken.
    pub fn has_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// The answer a failed resolve gets.
const UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// The client's side of a connection: the response copy writes to it, and so does a
/// request answered by the proxy itself (HTTP/1.1 answers one request at a time, so
/// the two never interleave).
type ClientWrite = Arc<tokio::sync::Mutex<tokio::net::tcp::OwnedWriteHalf>>;

async fn forward(
    client: TcpStream,
    server: TcpStream,
    disturbance: Disturbance,
    has_cut: Arc<AtomicBool>,
) {
    // Set once this connection carried the request whose answer is lost: HTTP/1.1 sends
    // the next request only once the answer before it was read, so every byte the
    // server sends from then on belongs to that answer.
    let lose_answers = Arc::new(AtomicBool::new(false));
    let losing = Arc::clone(&lose_answers);
    let (client_read, client_write) = client.into_split();
    let client_write: ClientWrite = Arc::new(tokio::sync::Mutex::new(client_write));
    let (server_read, mut server_write) = server.into_split();
    let answers = Arc::clone(&client_write);
    let failed = Arc::clone(&has_cut);
    let cut_after = match disturbance {
        Disturbance::CutAnswerAfter(cut_after) => cut_after,
        Disturbance::RequestsAt(_)
        | Disturbance::FailFirstResolve
        | Disturbance::FailFirstTokenRequest
        | Disturbance::FailFirstPartUpload
        | Disturbance::FailFirstRegistration
        | Disturbance::LoseFirstAnswerTo(_)
        | Disturbance::HoldFirstUntil(..) => usize::MAX,
    };
    let requests = tokio::spawn(async move {
        match disturbance {
            Disturbance::RequestsAt(bytes_per_second) => {
                copy_slowly(client_read, &mut server_write, bytes_per_second).await;
            }
            Disturbance::FailFirstResolve => {
                let resolve = |chunk: &[u8]| chunk.starts_with(b"GET /v1/downloads/");
                let fail = Picked::AnswerUnavailable(&answers);
                copy_picking_first(client_read, &mut server_write, &failed, fail, resolve).await;
            }
            Disturbance::FailFirstTokenRequest => {
                let token_request = |chunk: &[u8]| chunk.starts_with(b"POST /v1/downloads/token ");
                let fail = Picked::AnswerUnavailable(&answers);
                copy_picking_first(client_read, &mut server_write, &failed, fail, token_request)
                    .await;
            }
            Disturbance::FailFirstPartUpload => {
                let part_upload = |chunk: &[u8]| {
                    let line = chunk.split(|b| *b == b'\r').next().unwrap_or_default();
                    line.starts_with(b"PUT /v1/storage/")
                        && line.windows(11).any(|w| w == b"partNumber=")
                };
                let fail = Picked::AnswerUnavailable(&answers);
                copy_picking_first(client_read, &mut server_write, &failed, fail, part_upload)
                    .await;
            }
            Disturbance::FailFirstRegistration => {
                let registration = |chunk: &[u8]| {
                    let line = chunk.split(|b| *b == b'\r').next().unwrap_or_default();
                    line.starts_with(b"POST /v1/releases/")
                        && line.ends_with(b"/artifacts HTTP/1.1")
                };
                let fail = Picked::AnswerUnavailable(&answers);
                copy_picking_first(client_read, &mut server_write, &failed, fail, registration)
                    .await;
            }
            Disturbance::LoseFirstAnswerTo(request) => {
                let lose = Picked::LoseItsAnswer(&losing);
                copy_picking_first(client_read, &mut server_write, &failed, lose, |chunk| {
                    request.is_in(chunk)
                })
                .await;
            }
            Disturbance::HoldFirstUntil(request, gate) => {
                let hold = Picked::WaitFor(&gate);
                copy_picking_first(client_read, &mut server_write, &failed, hold, |chunk| {
                    request.is_in(chunk)
                })
                .await;
            }
            Disturbance::CutAnswerAfter(_) => {
                let mut client_read = client_read;
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            }
        }
        let _ = server_write.shutdown().await;
    });
    copy_answers(
        server_read,
        client_write,
        cut_after,
        &has_cut,
        &lose_answers,
    )
    .await;
    requests.abort();
}

/// What becomes of the first request (of all connections) a disturbance picks.
enum Picked<'a> {
    /// Answered `503` here, its connection closed: it never reaches the server.
    AnswerUnavailable(&'a ClientWrite),
    /// Forwarded, and this connection's flag set: its answer is lost.
    LoseItsAnswer(&'a AtomicBool),
    /// Forwarded once the gate is notified.
    WaitFor(&'a tokio::sync::Notify),
}

/// Copies requests; the first one (of all connections, `first_taken` telling) that
/// `is_picked` picks by its first bytes becomes what `picked` says.
async fn copy_picking_first(
    mut from: tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    first_taken: &AtomicBool,
    picked: Picked<'_>,
    is_picked: impl Fn(&[u8]) -> bool,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let chunk = &buffer[..read];
        if is_picked(chunk) && !first_taken.swap(true, Ordering::SeqCst) {
            match picked {
                Picked::AnswerUnavailable(answers) => {
                    let mut client = answers.lock().await;
                    let _ = client.write_all(UNAVAILABLE).await;
                    let _ = client.shutdown().await;
                    break;
                }
                Picked::LoseItsAnswer(marked) => marked.store(true, Ordering::SeqCst),
                Picked::WaitFor(gate) => gate.notified().await,
            }
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
    }
}

/// Copies in slices of a tenth of `bytes_per_second`, one slice every 100 ms.
async fn copy_slowly(
    mut from: tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes_per_second: usize,
) {
    let mut buffer = vec![0_u8; (bytes_per_second / 10).max(1)];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn copy_answers(
    mut server_read: tokio::net::tcp::OwnedReadHalf,
    client_write: ClientWrite,
    cut_after: usize,
    has_cut: &AtomicBool,
    lose_answers: &AtomicBool,
) {
    let mut sent = 0usize;
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if lose_answers.load(Ordering::SeqCst) {
            break; // the answer is lost: the connection closes without a byte of it
        }
        let mut client = client_write.lock().await;
        if sent.saturating_add(read) > cut_after && !has_cut.swap(true, Ordering::SeqCst) {
            // This connection is the one that breaks: send up to the cut, then drop it.
            let _ = client.write_all(&buffer[..cut_after - sent]).await;
            break;
        }
        if client.write_all(&buffer[..read]).await.is_err() {
            break;
        }
        sent = sent.saturating_add(read);
    }
}
