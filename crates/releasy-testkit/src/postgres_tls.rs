//! [`TlsPostgres`]: a loopback front for a real PostgreSQL server that speaks only TLS,
//! as a server whose `pg_hba.conf` has `hostssl` lines only (or, for the tests of
//! `sslmode=prefer`, one that refuses encrypted sessions or is starting up). It answers the protocol's
//! `SSLRequest` (and a direct TLS handshake, `sslnegotiation=direct`), terminates TLS
//! with a certificate of the test's choosing, and forwards the plain protocol to the
//! server. Tests of TLS to PostgreSQL need no TLS configuration of the server itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::certificates::{Issued, TestCa};

/// The protocol's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// The first byte of a TLS handshake record: a client negotiating directly.
const TLS_HANDSHAKE: u8 = 0x16;
/// The ALPN protocol a direct TLS connection must name (PostgreSQL 17).
const ALPN: &[u8] = b"postgresql";

/// What the front saw, by kind of connection.
#[derive(Debug, Default)]
pub struct TlsPostgresCounts {
    negotiated: AtomicU64,
    direct: AtomicU64,
    plaintext_refused: AtomicU64,
    plaintext_forwarded: AtomicU64,
    handshakes_failed: AtomicU64,
    refused_after_handshake: AtomicU64,
    over_tls12: AtomicU64,
    /// The server name each session's client sent (SNI), `None` for none.
    server_names: Mutex<Vec<Option<String>>>,
}

impl TlsPostgresCounts {
    /// TLS sessions begun by an `SSLRequest` and forwarded.
    pub fn negotiated(&self) -> u64 {
        self.negotiated.load(Ordering::SeqCst)
    }

    /// TLS sessions begun by a direct handshake (ALPN `postgresql`) and forwarded.
    pub fn direct(&self) -> u64 {
        self.direct.load(Ordering::SeqCst)
    }

    /// Connections that started the protocol without TLS, closed at once.
    pub fn plaintext_refused(&self) -> u64 {
        self.plaintext_refused.load(Ordering::SeqCst)
    }

    /// Connections without TLS forwarded (by a front that refuses TLS or is starting
    /// up).
    pub fn plaintext_forwarded(&self) -> u64 {
        self.plaintext_forwarded.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed (the client refused the certificate, or sent none
    /// where one is required).
    pub fn handshakes_failed(&self) -> u64 {
        self.handshakes_failed.load(Ordering::SeqCst)
    }

    /// Encrypted sessions refused once their handshake was done (by a front that
    /// refuses TLS, or answers as a server starting up).
    pub fn refused_after_handshake(&self) -> u64 {
        self.refused_after_handshake.load(Ordering::SeqCst)
    }

    /// Forwarded sessions that use TLS 1.2 (the others use 1.3).
    pub fn over_tls12(&self) -> u64 {
        self.over_tls12.load(Ordering::SeqCst)
    }

    /// The server name (SNI) each forwarded session's client sent.
    ///
    /// # Panics
    /// When a connection's task panicked holding the list.
    pub fn server_names(&self) -> Vec<Option<String>> {
        self.server_names.lock().expect("server names").clone()
    }
}

/// How the front answers.
#[derive(Clone)]
enum Front {
    /// TLS only, as a server with `hostssl` lines only.
    TlsOnly(TlsAcceptor),
    /// A server that takes connections without TLS and refuses encrypted sessions
    /// once their handshake is done, as one whose `pg_hba.conf` has `hostnossl` lines
    /// only does.
    RefusesTls(TlsAcceptor),
    /// A server starting up: every session, once encrypted, is answered `57P03 the
    /// database system is starting up`; connections without TLS are forwarded (so a
    /// client that went on without TLS would be seen doing it).
    StartingUp(TlsAcceptor),
}

/// The front. Dropping it stops accepting.
#[derive(Debug)]
pub struct TlsPostgres {
    addr: SocketAddr,
    counts: Arc<TlsPostgresCounts>,
    acceptor: JoinHandle<()>,
}

impl TlsPostgres {
    /// Listens on a free loopback port, shows `identity` and forwards to `target`. With
    /// `client_roots`, a client must show a certificate that chains to it.
    ///
    /// # Panics
    /// When no loopback port can be bound or rustls refuses the identity.
    pub async fn start(
        target: SocketAddr,
        identity: &Issued,
        client_roots: Option<&TestCa>,
    ) -> Self {
        Self::listen(target, Front::TlsOnly(acceptor(identity, client_roots))).await
    }

    /// Listens on a free loopback port as a server that forwards connections without
    /// TLS to `target` and refuses encrypted sessions (showing `identity`) once their
    /// handshake is done.
    ///
    /// # Panics
    /// When no loopback port can be bound or rustls refuses the identity.
    pub async fn start_refusing_tls(target: SocketAddr, identity: &Issued) -> Self {
        Self::listen(target, Front::RefusesTls(acceptor(identity, None))).await
    }

    /// Listens on a free loopback port as a server starting up: encrypted sessions
    /// (showing `identity`) are answered `57P03`, connections without TLS forwarded to
    /// `target`.
    ///
    /// # Panics
    /// When no loopback port can be bound or rustls refuses the identity.
    pub async fn start_starting_up(target: SocketAddr, identity: &Issued) -> Self {
        Self::listen(target, Front::StartingUp(acceptor(identity, None))).await
    }

    async fn listen(target: SocketAddr, front: Front) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let counts = Arc::new(TlsPostgresCounts::default());
        let acceptor = tokio::spawn({
            let counts = Arc::clone(&counts);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(serve(client, target, front.clone(), Arc::clone(&counts)));
                }
            }
        });
        Self {
            addr,
            counts,
            acceptor,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it saw so far.
    pub fn counts(&self) -> &TlsPostgresCounts {
        &self.counts
    }
}

/// The TLS side of a front: `identity`, and client certificates chaining to
/// `client_roots` required when given.
fn acceptor(identity: &Issued, client_roots: Option<&TestCa>) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = match client_roots {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.der()).expect("a usable root");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("a client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(vec![identity.certificate()], identity.key())
        .expect("a usable server certificate");
    config.alpn_protocols = vec![ALPN.to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn serve(
    mut client: TcpStream,
    target: SocketAddr,
    front: Front,
    counts: Arc<TlsPostgresCounts>,
) {
    let mut first = [0_u8; 1];
    if client.peek(&mut first).await.unwrap_or(0) == 0 {
        return;
    }
    let direct = first[0] == TLS_HANDSHAKE;
    if !direct {
        let Some(mut request) = peek_request(&client).await else {
            return;
        };
        if request != SSL_REQUEST {
            match front {
                Front::TlsOnly(_) => {
                    counts.plaintext_refused.fetch_add(1, Ordering::SeqCst);
                }
                Front::RefusesTls(_) | Front::StartingUp(_) => {
                    counts.plaintext_forwarded.fetch_add(1, Ordering::SeqCst);
                    forward(&mut client, target).await;
                }
            }
            return;
        }
        if client.read_exact(&mut request).await.is_err() || client.write_all(b"S").await.is_err() {
            return;
        }
    }
    let (tls, refuses, starting_up) = match front {
        Front::TlsOnly(tls) => (tls, false, false),
        Front::RefusesTls(tls) => (tls, true, false),
        Front::StartingUp(tls) => (tls, false, true),
    };
    let mut session = match tls.accept(client).await {
        Ok(session) => session,
        Err(_) => {
            counts.handshakes_failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    if refuses || starting_up {
        counts
            .refused_after_handshake
            .fetch_add(1, Ordering::SeqCst);
        if starting_up {
            answer_starting_up(&mut session).await;
        }
        return;
    }
    let connection = session.get_ref().1;
    if direct && connection.alpn_protocol() != Some(ALPN) {
        counts.handshakes_failed.fetch_add(1, Ordering::SeqCst);
        return;
    }
    if connection.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_2) {
        counts.over_tls12.fetch_add(1, Ordering::SeqCst);
    }
    counts
        .server_names
        .lock()
        .expect("server names")
        .push(connection.server_name().map(str::to_owned));
    let kind = if direct {
        &counts.direct
    } else {
        &counts.negotiated
    };
    kind.fetch_add(1, Ordering::SeqCst);
    forward(&mut session, target).await;
}

/// Reads the startup message and answers it as a server starting up does: a FATAL
/// `ErrorResponse` with SQLSTATE `57P03`.
async fn answer_starting_up(
    session: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
) {
    let mut length = [0_u8; 4];
    if session.read_exact(&mut length).await.is_err() {
        return;
    }
    let rest = u32::from_be_bytes(length).saturating_sub(4).min(64 * 1024) as usize;
    let mut startup = vec![0_u8; rest];
    if session.read_exact(&mut startup).await.is_err() {
        return;
    }
    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "57P03"),
        (b'M', "the database system is starting up"),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut answer = vec![b'E'];
    answer.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    answer.extend_from_slice(&fields);
    let _ = session.write_all(&answer).await;
    let _ = session.flush().await;
}

/// The connection's first 8 bytes, without taking them: `None` when it ends first.
async fn peek_request(client: &TcpStream) -> Option<[u8; 8]> {
    let mut request = [0_u8; 8];
    // A request split across segments: peek again until all of it is there.
    for _ in 0..1000 {
        match client.peek(&mut request).await {
            Ok(0) | Err(_) => return None,
            Ok(peeked) if peeked == request.len() => return Some(request),
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
        }
    }
    None
}

/// Copies both ways between `client` and a new connection to `target`.
async fn forward(
    client: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    target: SocketAddr,
) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(client, &mut server).await;
}
