#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! TLS to PostgreSQL, as to a managed database that takes nothing else: every store
//! connection (the pool's, the change feed's, the migrations') goes through a TLS-only
//! front of the real server, with certificates made up for the test, and each `sslmode`
//! checks what libpq's does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use releasy_domain::CustomerId;
use releasy_domain::Timestamp;
use releasy_domain::audit::{AuditEvent, Origin};
use releasy_domain::customer::{Customer, CustomerName};
use releasy_store_diesel::{ChangeEvent, Database, DatabaseUrl, PgStore, SetupError};
use releasy_testkit::{TestCa, TestPostgres, TlsPostgres};
use tempfile::TempDir;
use tokio::sync::mpsc;

/// A database behind a TLS-only front showing a certificate for `localhost` from
/// `ca`, and the test's files (root certificates, client certificates).
struct Setup {
    postgres: TestPostgres,
    front: TlsPostgres,
    files: TempDir,
}

impl Setup {
    async fn new() -> Setup {
        Self::requiring_client_certificates(None).await
    }

    async fn requiring_client_certificates(client_ca: Option<&TestCa>) -> Setup {
        let postgres = TestPostgres::create().await;
        let ca = TestCa::new("Releasy test database CA");
        let front = TlsPostgres::start(
            postgres.server_addr().await,
            &ca.server(&["localhost"]),
            client_ca,
        )
        .await;
        let files = tempfile::tempdir().unwrap();
        std::fs::write(files.path().join("ca.pem"), ca.pem()).unwrap();
        Setup {
            postgres,
            front,
            files,
        }
    }

    /// The database's URL through the front, with host `host` and `parameters`.
    fn url(&self, host: &str, parameters: &str) -> String {
        through(&self.postgres, &self.front, host, parameters)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.files.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn ca_file(&self) -> PathBuf {
        self.files.path().join("ca.pem")
    }
}

/// `postgres`'s URL through `front`, with host `host` and `parameters`.
fn through(postgres: &TestPostgres, front: &TlsPostgres, host: &str, parameters: &str) -> String {
    postgres.url_through_as(front.addr(), host, parameters)
}

fn open(url: &str) -> Result<Database, SetupError> {
    Database::open(
        &DatabaseUrl::parse(url).expect("a URL of a supported form"),
        4,
    )
}

/// Migrates (a connection of its own), then writes and reads a customer (the pool's).
async fn use_database(url: &str) -> Result<(), String> {
    let db = open(url).map_err(|err| causes(&err))?;
    db.migrate().await.map_err(|err| causes(&err))?;
    let repos = db.repositories();
    let customer = Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse("Encrypted").unwrap(),
        plan: None,
        created_at: Timestamp::from_unix_seconds(1_735_312_000),
        suspended_at: None,
    };
    repos
        .customers
        .insert(
            &customer,
            &AuditEvent::customer_created(&Origin::admin_key(), &customer),
        )
        .await
        .map_err(|err| causes(&err))?;
    let read = repos
        .customers
        .get(customer.id)
        .await
        .map_err(|err| causes(&err))?;
    assert_eq!(read, Some(customer));
    Ok(())
}

fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        text = format!("{text}: {err}");
        cause = err.source();
    }
    text
}

/// Waits for the front to count `at_least` failed handshakes: the client may give up
/// on one before the front has seen its end.
async fn handshakes_failed(front: &TlsPostgres, at_least: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while front.counts().handshakes_failed() < at_least {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            front.counts()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_carries_every_connection_over_tls() {
    let setup = Setup::new().await;
    let url = setup.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", path(&setup.ca_file())),
    );
    use_database(&url).await.unwrap();

    // The change feed listens, and hears a write, over TLS too (the front takes
    // nothing else).
    let store = PgStore::connect(&url, 2).unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let _feed = store.watch_changes(move |event| {
        let _ = tx.send(event);
    });
    assert_eq!(next(&mut events).await, ChangeEvent::Listening);
    use_database(&url).await.unwrap();
    assert_eq!(
        next(&mut events).await,
        ChangeEvent::Changed("customers".into())
    );

    let counts = setup.front.counts();
    assert!(
        counts.negotiated() >= 3,
        "migrations, pool and feed: {counts:?}"
    );
    assert_eq!(counts.plaintext_refused(), 0);
    assert_eq!(counts.handshakes_failed(), 0);
}

async fn next(events: &mut mpsc::UnboundedReceiver<ChangeEvent>) -> ChangeEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("a change event within 10 s")
        .expect("the feed's callback is alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_certificate_of_another_authority() {
    let setup = Setup::new().await;
    let other = setup.file("other.pem", &TestCa::new("Someone else").pem());
    let url = setup.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", path(&other)),
    );
    let err = use_database(&url).await.unwrap_err();
    assert!(
        err.contains("invalid peer certificate: UnknownIssuer"),
        "{err}"
    );
    assert_eq!(setup.front.counts().negotiated(), 0);
    handshakes_failed(&setup.front, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let setup = Setup::new().await;
    let roots = format!("sslrootcert={}", path(&setup.ca_file()));
    // The certificate names `localhost`, not the address.
    let err = use_database(&setup.url("127.0.0.1", &format!("sslmode=verify-full&{roots}")))
        .await
        .unwrap_err();
    assert!(err.contains("certificate not valid for name"), "{err}");
    use_database(&setup.url("127.0.0.1", &format!("sslmode=verify-ca&{roots}")))
        .await
        .unwrap();
    // libpq: `require` with a root certificate verifies the chain as `verify-ca` does.
    use_database(&setup.url("127.0.0.1", &format!("sslmode=require&{roots}")))
        .await
        .unwrap();
    let other = setup.file("other.pem", &TestCa::new("Someone else").pem());
    let err = use_database(&setup.url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={}", path(&other)),
    ))
    .await
    .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_and_prefer_encrypt_without_checking_the_certificate() {
    let setup = Setup::new().await;
    use_database(&setup.url("127.0.0.1", "sslmode=require"))
        .await
        .unwrap();
    let after_require = setup.front.counts().negotiated();
    assert!(after_require >= 2, "{:?}", setup.front.counts());
    use_database(&setup.url("127.0.0.1", "sslmode=prefer"))
        .await
        .unwrap();
    assert!(setup.front.counts().negotiated() > after_require);
    assert_eq!(setup.front.counts().plaintext_refused(), 0);
}

/// A URL without `sslmode` connects as it did before TLS was supported: without it
/// (libpq's default would be `prefer`). The TLS-only front refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sslmode_or_with_disable_no_tls_is_used() {
    let setup = Setup::new().await;
    let err = use_database(&setup.url("127.0.0.1", "application_name=plain"))
        .await
        .unwrap_err();
    assert!(err.contains("database migration failed"), "{err}");
    use_database(&setup.url("127.0.0.1", "sslmode=disable"))
        .await
        .unwrap_err();
    assert!(setup.front.counts().plaintext_refused() >= 2);
    assert_eq!(setup.front.counts().negotiated(), 0);
}

/// `prefer`, as libpq: TLS that fails (here a server that refuses the session once
/// encrypted, as `hostnossl` lines do) is no reason not to connect; the modes that
/// require TLS do not go on without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_goes_on_without_tls_when_tls_fails_and_require_does_not() {
    let postgres = TestPostgres::create().await;
    let ca = TestCa::new("Releasy test database CA");
    let refusing =
        TlsPostgres::start_refusing_tls(postgres.server_addr().await, &ca.server(&["localhost"]))
            .await;
    use_database(&through(
        &postgres,
        &refusing,
        "127.0.0.1",
        "sslmode=prefer",
    ))
    .await
    .unwrap();
    let counts = refusing.counts();
    assert!(counts.refused_after_handshake() >= 2, "{counts:?}");
    assert!(counts.plaintext_forwarded() >= 2, "{counts:?}");

    let forwarded = counts.plaintext_forwarded();
    let err = use_database(&through(
        &postgres,
        &refusing,
        "127.0.0.1",
        "sslmode=require",
    ))
    .await
    .unwrap_err();
    assert!(err.starts_with("database migration failed: "), "{err}");
    assert_eq!(counts.plaintext_forwarded(), forwarded);

    // TLS refused and no server behind: both failures are told, no secret.
    let dead_end =
        TlsPostgres::start_refusing_tls("127.0.0.1:1".parse().unwrap(), &ca.server(&["localhost"]))
            .await;
    let url = format!(
        "postgres://postgres:s3cret@{}/releasy?sslmode=prefer",
        dead_end.addr()
    );
    let err = use_database(&url).await.unwrap_err();
    assert!(err.contains("; with TLS first: "), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(
        dead_end.counts().plaintext_forwarded(),
        dead_end.counts().refused_after_handshake()
    );

    // A server starting up: TLS is not why, and it would take a connection without
    // TLS no better.
    let starting =
        TlsPostgres::start_starting_up(postgres.server_addr().await, &ca.server(&["localhost"]))
            .await;
    let err = use_database(&through(
        &postgres,
        &starting,
        "127.0.0.1",
        "sslmode=prefer",
    ))
    .await
    .unwrap_err();
    assert!(err.contains("the database system is starting up"), "{err}");
    assert!(starting.counts().refused_after_handshake() >= 1);
    assert_eq!(
        starting.counts().plaintext_forwarded(),
        0,
        "never without TLS"
    );

    // No server reached at all: TLS is not why, so nothing is tried without it (a
    // server restarting would otherwise get connections without TLS).
    let nowhere = "postgres://postgres@127.0.0.1:1/releasy?sslmode=prefer";
    let err = use_database(nowhere).await.unwrap_err();
    assert!(err.contains("error connecting to server"), "{err}");
    assert!(!err.contains("with TLS first"), "{err}");
}

/// The host name is sent (SNI) unless `sslsni=0`; the TLS versions follow
/// `ssl_min_protocol_version` and `ssl_max_protocol_version`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_and_versions_follow_the_url() {
    let setup = Setup::new().await;
    let roots = format!("sslmode=verify-full&sslrootcert={}", path(&setup.ca_file()));
    use_database(&setup.url("localhost", &roots)).await.unwrap();
    let names = setup.front.counts().server_names();
    assert!(!names.is_empty());
    assert!(
        names
            .iter()
            .all(|name| name.as_deref() == Some("localhost")),
        "{names:?}"
    );
    assert_eq!(
        setup.front.counts().over_tls12(),
        0,
        "TLS 1.3 where both can"
    );

    use_database(&setup.url(
        "localhost",
        &format!("{roots}&sslsni=0&ssl_max_protocol_version=TLSv1.2"),
    ))
    .await
    .unwrap();
    let names = setup.front.counts().server_names();
    assert!(names[names.len() - 1].is_none(), "{names:?}");
    assert!(setup.front.counts().over_tls12() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_negotiation_starts_with_the_handshake() {
    let setup = Setup::new().await;
    let url = setup.url(
        "localhost",
        &format!(
            "sslmode=verify-full&sslnegotiation=direct&sslrootcert={}",
            path(&setup.ca_file())
        ),
    );
    use_database(&url).await.unwrap();
    assert!(
        setup.front.counts().direct() >= 2,
        "{:?}",
        setup.front.counts()
    );
    assert_eq!(setup.front.counts().negotiated(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_shown_where_the_server_requires_one() {
    let clients = TestCa::new("Releasy test client CA");
    let setup = Setup::requiring_client_certificates(Some(&clients)).await;
    let roots = format!("sslmode=verify-full&sslrootcert={}", path(&setup.ca_file()));

    let err = use_database(&setup.url("localhost", &roots))
        .await
        .unwrap_err();
    assert!(err.contains("database migration failed"), "{err}");
    handshakes_failed(&setup.front, 1).await;
    assert_eq!(setup.front.counts().negotiated(), 0);

    let client = clients.client("postgres");
    let chain = setup.file("client.pem", &client.certificate_pem());
    let key = setup.file("client.key", &client.key_pem());
    let with_certificate = format!("{roots}&sslcert={}&sslkey={}", path(&chain), path(&key));
    use_database(&setup.url("localhost", &with_certificate))
        .await
        .unwrap();
    assert!(setup.front.counts().negotiated() >= 2);

    // A certificate of another CA is refused by the server.
    let stranger = TestCa::new("Someone else").client("postgres");
    let chain = setup.file("stranger.pem", &stranger.certificate_pem());
    let key = setup.file("stranger.key", &stranger.key_pem());
    let failed_before = setup.front.counts().handshakes_failed();
    let with_stranger = format!("{roots}&sslcert={}&sslkey={}", path(&chain), path(&key));
    use_database(&setup.url("localhost", &with_stranger))
        .await
        .unwrap_err();
    handshakes_failed(&setup.front, failed_before + 1).await;
}

/// The files a URL names are read when the database is opened, and a missing or
/// unusable one is named then, not at the first connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificate_files_are_named_when_the_database_is_opened() {
    let setup = Setup::new().await;
    let missing = setup.files.path().join("missing.pem");
    let empty = setup.file("empty.pem", "");
    for roots in [&missing, &empty] {
        let url = setup.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", path(roots)),
        );
        let err = open(&url).unwrap_err();
        assert!(matches!(err, SetupError::PostgresTls(_)), "{err:?}");
        let text = causes(&err);
        assert!(
            text.contains(&format!(
                "cannot read root certificates from {}",
                path(roots)
            )),
            "{text}"
        );
    }

    // A key that is not the certificate's.
    let clients = TestCa::new("Releasy test client CA");
    let chain = setup.file("client.pem", &clients.client("postgres").certificate_pem());
    let key = setup.file("other.key", &clients.client("postgres").key_pem());
    let url = setup.url(
        "localhost",
        &format!(
            "sslmode=require&sslcert={}&sslkey={}",
            path(&chain),
            path(&key)
        ),
    );
    let err = open(&url).unwrap_err();
    assert!(matches!(err, SetupError::PostgresTls(_)), "{err:?}");
    // A key file holding a certificate only.
    let url = setup.url(
        "localhost",
        &format!(
            "sslmode=require&sslcert={}&sslkey={}",
            path(&chain),
            path(&chain)
        ),
    );
    let text = causes(&open(&url).unwrap_err());
    assert!(
        text.contains(&format!("cannot read a private key from {}", path(&chain))),
        "{text}"
    );
    assert_eq!(
        setup.front.counts().negotiated() + setup.front.counts().plaintext_refused(),
        0
    );
}
