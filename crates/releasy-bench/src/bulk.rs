//! Bulk seeding for benchmarks: large, valid data sets written
//! straight into a database in multi-row batches, far faster than through the API.
//!
//! Every row is built from the domain's own checked values (ids, names, products,
//! versions, platforms, object keys by the naming rule, 64-hex checksums, audit payloads
//! of the `api_key.auth` shape) and converted by the same row types the repositories
//! use, so the server reads the seeded data like any other. The data is deterministic
//! for a given [`BulkPlan::seed`] and `now`.
//!
//! * PostgreSQL: one `AsyncPgConnection`, `synchronous_commit = off`, one multi-row
//!   `INSERT` per batch, then `VACUUM (ANALYZE)` and `CHECKPOINT` (what autovacuum and
//!   the checkpointer would do in the first minutes anyway, not during a measurement).
//! * SQLite: one plain synchronous `SqliteConnection` on a blocking thread, WAL with
//!   `synchronous = OFF` and foreign keys on, one transaction per batch, then a WAL
//!   checkpoint. Run it while no server has the file open.
//!
//! The schema must exist already (`releasy_store_diesel::Database::migrate`).

use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::{Connection, ExpressionMethods, QueryDsl, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use releasy_domain::artifact::{
    Artifact, ArtifactSize, Checksum, Filename, ObjectKey, Platform, Verification,
};
use releasy_domain::audit::{AuditEvent, AuthReason, ChainLink, EncodedEvent};
use releasy_domain::customer::{Customer, CustomerName, Plan};
use releasy_domain::delivery::{
    DownloadOutcome, DownloadRecord, DownloadSubject, Requester, UserAgent,
};
use releasy_domain::download::DownloadToken;
use releasy_domain::entitlement::{Entitlement, EntitlementScope, EntitlementWindow, Metadata};
use releasy_domain::release::{Product, Release, ReleaseStatus, Version};
use releasy_domain::{
    ApiKeyId, ArtifactId, AuditEventId, CustomerId, DownloadRecordId, DownloadTokenId,
    EntitlementId, ReleaseId, Timestamp,
};
use uuid::Uuid;

use releasy_store_diesel::DatabaseUrl;
use releasy_store_diesel::rows::{
    ArtifactRow, AuditEventRow, CustomerRow, DownloadLedgerRow, DownloadTokenRow, EntitlementRow,
    ReleaseRow, position_column,
};
use releasy_store_diesel::schema::{
    artifacts, audit_chain, audit_events, customers, download_ledger, download_tokens,
    entitlements, releases,
};

/// Rows per multi-row `INSERT` (PostgreSQL allows 65 535 bind parameters per statement;
/// the widest row here has 7 columns).
const BATCH_ROWS: usize = 5_000;

/// Ledger rows per `INSERT`: 15 columns a row, 45 000 bind parameters a statement.
const LEDGER_BATCH_ROWS: usize = 3_000;

/// The download ledger's daily summaries, computed from the seeded rows as the writer
/// would have kept them (the statistics read only the summaries).
const SUMMARIZE_LEDGER: &str = "INSERT INTO download_daily \
    (day, artifact_id, customer_id, product, version, platform, downloads, bytes) \
    SELECT at / 86400, artifact_id, customer_id, MIN(product), MIN(version), MIN(platform), \
    COUNT(*), SUM(bytes) FROM download_ledger WHERE outcome = 'redirected' \
    GROUP BY at / 86400, artifact_id, customer_id; \
    INSERT INTO download_product_customers (product, day, customer_id) \
    SELECT DISTINCT product, day, customer_id FROM download_daily; \
    INSERT INTO download_product_daily (product, day, downloads, bytes, customers) \
    SELECT product, day, SUM(downloads), SUM(bytes), COUNT(DISTINCT customer_id) \
    FROM download_daily GROUP BY product, day";

/// The platforms every seeded release ships, one artifact each (in this order).
pub const PLATFORMS: [&str; 3] = ["linux-x86_64", "darwin-arm64", "windows-x86_64"];

/// How much to seed. The products are `bulk-product-000` .. (at most 100, never more
/// than there are releases); release `r` is of product `r % products` and has version
/// `1.{r / products}.0`.
#[derive(Debug, Clone)]
pub struct BulkPlan {
    /// Customers, each with one entitlement (to product `i % products`).
    pub customers: u32,
    /// Releases; every tenth version of a product stays a draft, the rest are published.
    pub releases: u32,
    /// Artifacts per release (1 to 3, the platforms of [`PLATFORMS`]).
    pub artifacts_per_release: u32,
    /// `api_key.auth` audit events, spread over the 30 days before `now`.
    pub audit_events: u32,
    /// Download tokens; half of them still valid at `now` (for a day), half expired.
    pub download_tokens: u32,
    /// Download ledger rows over the 30 days before `now`, each about one of the
    /// seeded tokens: mostly links handed out, a quarter tokens issued, some refusals.
    pub ledger_rows: u32,
    /// "Now", in Unix seconds: every seeded timestamp lies before it.
    pub now: i64,
    /// Seed of the deterministic id generator.
    pub seed: u64,
}

impl BulkPlan {
    /// The "large" data set of the benchmark: 100 000 customers, 10 000 releases with 3
    /// artifacts each, 1 000 000 audit events, 200 000 download tokens and 1 000 000
    /// download ledger rows.
    pub fn large(now: i64) -> Self {
        Self {
            customers: 100_000,
            releases: 10_000,
            artifacts_per_release: 3,
            audit_events: 1_000_000,
            download_tokens: 200_000,
            ledger_rows: 1_000_000,
            now,
            seed: 0x5245_4c45_4153_5921,
        }
    }

    fn products(&self) -> u32 {
        self.releases.clamp(1, 100)
    }
}

/// How a raw download token becomes the stored `token_hash` (the server's rule; the
/// caller supplies it so this crate does not guess it).
pub type TokenHasher = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// What was seeded.
#[derive(Debug, Clone, Default)]
pub struct BulkReport {
    /// Rows written per table, in insertion order.
    pub rows: Vec<(&'static str, u64)>,
    /// A few raw download tokens that resolve at `now` (customer active and entitled,
    /// release published, token unexpired).
    pub resolvable_tokens: Vec<String>,
}

impl BulkReport {
    /// Rows written in total.
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// Seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The plan asks for something the domain refuses.
    #[error("invalid bulk plan: {0}")]
    Plan(String),
    /// A generated value broke a domain rule (a bug in this module).
    #[error("generated value rejected by the domain: {0}")]
    Invalid(#[from] releasy_domain::ValidationError),
    /// The database could not be reached.
    #[error("cannot connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A statement failed.
    #[error("bulk insert failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The blocking SQLite task failed.
    #[error("bulk seeding task failed: {0}")]
    Task(String),
}

/// Seeds `plan` into the (migrated, otherwise unused) database at `url`.
///
/// # Errors
/// [`BulkError`]; `sqlite::memory:` is refused (nothing else could see the data).
pub async fn seed(
    url: &DatabaseUrl,
    plan: &BulkPlan,
    token_hash: TokenHasher,
) -> Result<BulkReport, BulkError> {
    check_plan(plan)?;
    let generator = Generator::new(plan.clone(), token_hash)?;
    match url {
        DatabaseUrl::Postgres(url) => seed_postgres(url, generator).await,
        DatabaseUrl::SqliteFile(path) | DatabaseUrl::SqliteExistingFile(path) => {
            let path = path.to_string_lossy().into_owned();
            tokio::task::spawn_blocking(move || seed_sqlite(&path, generator))
                .await
                .map_err(|e| BulkError::Task(e.to_string()))?
        }
        DatabaseUrl::SqliteMemory => Err(BulkError::Plan(
            "an in-memory SQLite database cannot be seeded from outside".into(),
        )),
    }
}

fn check_plan(plan: &BulkPlan) -> Result<(), BulkError> {
    if !(1..=3).contains(&plan.artifacts_per_release) {
        return Err(BulkError::Plan(
            "artifacts_per_release must be 1 to 3".into(),
        ));
    }
    if plan.ledger_rows > 0 && plan.download_tokens == 0 {
        return Err(BulkError::Plan("ledger rows need download tokens".into()));
    }
    if plan.download_tokens > 0 && (plan.customers == 0 || plan.releases == 0) {
        return Err(BulkError::Plan(
            "download tokens need customers and releases".into(),
        ));
    }
    if plan.now < 40 * 86_400 {
        return Err(BulkError::Plan("now must be a current Unix time".into()));
    }
    Ok(())
}

/// One batch of rows of one table.
enum Batch {
    Customers(Vec<CustomerRow>),
    Entitlements(Vec<EntitlementRow>),
    Releases(Vec<ReleaseRow>),
    Artifacts(Vec<ArtifactRow>),
    AuditEvents(Vec<AuditEventRow>),
    DownloadTokens(Vec<DownloadTokenRow>),
    Ledger(Vec<DownloadLedgerRow>),
}

impl Batch {
    fn table(&self) -> &'static str {
        match self {
            Batch::Customers(_) => "customers",
            Batch::Entitlements(_) => "entitlements",
            Batch::Releases(_) => "releases",
            Batch::Artifacts(_) => "artifacts",
            Batch::AuditEvents(_) => "audit_events",
            Batch::DownloadTokens(_) => "download_tokens",
            Batch::Ledger(_) => "download_ledger",
        }
    }
}

async fn seed_postgres(url: &str, mut generator: Generator) -> Result<BulkReport, BulkError> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute("SET synchronous_commit TO off").await?;
    let mut report = BulkReport::default();
    while let Some(batch) = generator.next_batch()? {
        use diesel_async::RunQueryDsl as _;
        let table = batch.table();
        let written = match batch {
            Batch::Customers(rows) => {
                diesel::insert_into(customers::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
            Batch::Entitlements(rows) => {
                diesel::insert_into(entitlements::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
            Batch::Releases(rows) => {
                diesel::insert_into(releases::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
            Batch::Artifacts(rows) => {
                diesel::insert_into(artifacts::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
            Batch::AuditEvents(rows) => {
                diesel::insert_into(audit_events::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
            Batch::DownloadTokens(rows) => {
                diesel::insert_into(download_tokens::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
            Batch::Ledger(rows) => {
                diesel::insert_into(download_ledger::table)
                    .values(&rows)
                    .execute(&mut conn)
                    .await?
            }
        };
        count(&mut report, table, written);
    }
    conn.batch_execute(SUMMARIZE_LEDGER).await?;
    let head = generator.chain_head;
    diesel_async::RunQueryDsl::execute(
        diesel::update(audit_chain::table.find(1)).set((
            audit_chain::head_position.eq(position_column(head.position)),
            audit_chain::head_hash.eq(head.hash.to_string()),
        )),
        &mut conn,
    )
    .await?;
    // What autovacuum and the checkpointer would otherwise do in the first minutes of
    // use: set the new rows' visibility, gather statistics and write the dirty pages.
    crate::settle::settle_postgres(&mut conn).await?;
    report.resolvable_tokens = generator.resolvable_tokens;
    Ok(report)
}

fn seed_sqlite(path: &str, mut generator: Generator) -> Result<BulkReport, BulkError> {
    use diesel::RunQueryDsl as _;
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    let mut report = BulkReport::default();
    while let Some(batch) = generator.next_batch()? {
        let table = batch.table();
        let written = conn.transaction(|conn| match batch {
            Batch::Customers(rows) => diesel::insert_into(customers::table)
                .values(&rows)
                .execute(conn),
            Batch::Entitlements(rows) => diesel::insert_into(entitlements::table)
                .values(&rows)
                .execute(conn),
            Batch::Releases(rows) => diesel::insert_into(releases::table)
                .values(&rows)
                .execute(conn),
            Batch::Artifacts(rows) => diesel::insert_into(artifacts::table)
                .values(&rows)
                .execute(conn),
            Batch::AuditEvents(rows) => diesel::insert_into(audit_events::table)
                .values(&rows)
                .execute(conn),
            Batch::DownloadTokens(rows) => diesel::insert_into(download_tokens::table)
                .values(&rows)
                .execute(conn),
            Batch::Ledger(rows) => diesel::insert_into(download_ledger::table)
                .values(&rows)
                .execute(conn),
        })?;
        count(&mut report, table, written);
    }
    conn.batch_execute(SUMMARIZE_LEDGER)?;
    let head = generator.chain_head;
    diesel::update(audit_chain::table.find(1))
        .set((
            audit_chain::head_position.eq(position_column(head.position)),
            audit_chain::head_hash.eq(head.hash.to_string()),
        ))
        .execute(&mut conn)?;
    conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
    report.resolvable_tokens = generator.resolvable_tokens;
    Ok(report)
}

fn count(report: &mut BulkReport, table: &'static str, written: usize) {
    let written = written as u64;
    match report.rows.iter_mut().find(|(t, _)| *t == table) {
        Some((_, n)) => *n += written,
        None => report.rows.push((table, written)),
    }
}

/// Table tags mixed into the id generator, so each table has its own id sequence.
#[derive(Clone, Copy)]
enum Tag {
    Customer = 1,
    Entitlement = 2,
    Release = 3,
    Artifact = 4,
    Audit = 5,
    Token = 6,
    ApiKey = 7,
    Checksum = 8,
    Ledger = 9,
}

/// Produces the plan's rows table by table, one batch at a time; each row's values are
/// a pure function of its index, so rows of one table can name rows of another.
struct Generator {
    plan: BulkPlan,
    token_hash: TokenHasher,
    stage: Stage,
    next: u32,
    /// Release products and versions, by index (checked once).
    products: Vec<Product>,
    platforms: Vec<Platform>,
    plans: [Option<Plan>; 4],
    resolvable_tokens: Vec<String>,
    /// The audit chain's link of the last event generated (events are chained as they
    /// are generated, in order, as the server's writer would have chained them).
    chain_head: ChainLink,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Customers,
    Entitlements,
    Releases,
    Artifacts,
    AuditEvents,
    DownloadTokens,
    Ledger,
    Done,
}

impl Generator {
    fn new(plan: BulkPlan, token_hash: TokenHasher) -> Result<Self, BulkError> {
        let products = (0..plan.products())
            .map(|p| Product::parse(&format!("bulk-product-{p:03}")))
            .collect::<Result<Vec<_>, _>>()?;
        let platforms = PLATFORMS
            .iter()
            .map(|p| Platform::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        let plans = [
            Some(Plan::parse("core")?),
            Some(Plan::parse("pro")?),
            Some(Plan::parse("enterprise")?),
            None,
        ];
        Ok(Self {
            plan,
            token_hash,
            stage: Stage::Customers,
            next: 0,
            products,
            platforms,
            plans,
            resolvable_tokens: Vec::new(),
            chain_head: ChainLink::START,
        })
    }

    fn stage_len(&self, stage: Stage) -> u32 {
        let p = &self.plan;
        match stage {
            Stage::Customers | Stage::Entitlements => p.customers,
            Stage::Releases => p.releases,
            Stage::Artifacts => p.releases * p.artifacts_per_release,
            Stage::AuditEvents => p.audit_events,
            Stage::DownloadTokens => p.download_tokens,
            Stage::Ledger => p.ledger_rows,
            Stage::Done => 0,
        }
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, BulkError> {
        loop {
            if self.stage == Stage::Done {
                return Ok(None);
            }
            let len = self.stage_len(self.stage);
            if self.next >= len {
                self.stage = match self.stage {
                    Stage::Customers => Stage::Entitlements,
                    Stage::Entitlements => Stage::Releases,
                    Stage::Releases => Stage::Artifacts,
                    Stage::Artifacts => Stage::AuditEvents,
                    Stage::AuditEvents => Stage::DownloadTokens,
                    Stage::DownloadTokens => Stage::Ledger,
                    Stage::Ledger | Stage::Done => Stage::Done,
                };
                self.next = 0;
                continue;
            }
            let start = self.next;
            let batch_rows = if self.stage == Stage::Ledger {
                LEDGER_BATCH_ROWS
            } else {
                BATCH_ROWS
            };
            let end = len.min(start.saturating_add(batch_rows as u32));
            self.next = end;
            let range = start..end;
            let batch = match self.stage {
                Stage::Customers => Batch::Customers(
                    range
                        .map(|i| self.customer(i).map(|c| CustomerRow::from(&c)))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::Entitlements => Batch::Entitlements(
                    range
                        .map(|i| self.entitlement(i).map(|e| EntitlementRow::from(&e)))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::Releases => Batch::Releases(
                    range
                        .map(|r| self.release(r).map(|r| ReleaseRow::from(&r)))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::Artifacts => Batch::Artifacts(
                    range
                        .map(|a| self.artifact(a).map(|a| ArtifactRow::from(&a)))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::AuditEvents => Batch::AuditEvents(
                    range
                        .map(|e| {
                            let event = EncodedEvent::of(&self.audit_event(e));
                            self.chain_head = self.chain_head.next_encoded(&event);
                            AuditEventRow::of_encoded(event, Some(self.chain_head))
                        })
                        .collect(),
                ),
                Stage::DownloadTokens => {
                    let mut rows = Vec::with_capacity(range.len());
                    for t in range {
                        let (token, raw, resolvable) = self.download_token(t);
                        if resolvable && self.resolvable_tokens.len() < 5 {
                            self.resolvable_tokens.push(raw);
                        }
                        rows.push(DownloadTokenRow::from(&token));
                    }
                    Batch::DownloadTokens(rows)
                }
                Stage::Ledger => Batch::Ledger(
                    range
                        .map(|l| self.ledger_row(l).map(|r| DownloadLedgerRow::from(&r)))
                        .collect::<Result<_, _>>()?,
                ),
                Stage::Done => return Ok(None),
            };
            return Ok(Some(batch));
        }
    }

    fn uuid(&self, tag: Tag, index: u64) -> Uuid {
        let mut state = self.plan.seed ^ ((tag as u64) << 56) ^ index;
        let high = splitmix64(&mut state);
        let low = splitmix64(&mut state);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high.to_be_bytes());
        bytes[8..].copy_from_slice(&low.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn customer_created_at(&self, i: u32) -> i64 {
        // Newest last, two customers per second (ties sort by id), all before a day ago,
        // so customers created through the API during a run are the newest.
        self.plan.now - 86_400 - i64::from((self.plan.customers - 1 - i) / 2)
    }

    fn customer_suspended(i: u32) -> bool {
        i % 100 == 99
    }

    fn entitlement_ended(i: u32) -> bool {
        i % 20 == 19
    }

    fn customer(&self, i: u32) -> Result<Customer, BulkError> {
        let created_at = self.customer_created_at(i);
        Ok(Customer {
            id: CustomerId::from_uuid(self.uuid(Tag::Customer, i.into())),
            name: CustomerName::parse(&format!("Bulk Customer {i:06}"))?,
            plan: self.plans[(i % 4) as usize].clone(),
            created_at: Timestamp::from_unix_seconds(created_at),
            suspended_at: Self::customer_suspended(i)
                .then(|| Timestamp::from_unix_seconds(created_at + 3_600)),
        })
    }

    fn entitlement(&self, i: u32) -> Result<Entitlement, BulkError> {
        let created_at = self.customer_created_at(i);
        let ends_at = Self::entitlement_ended(i).then(|| self.plan.now - 3_600);
        Ok(Entitlement {
            id: EntitlementId::from_uuid(self.uuid(Tag::Entitlement, i.into())),
            customer_id: CustomerId::from_uuid(self.uuid(Tag::Customer, i.into())),
            product: self.products[(i % self.plan.products()) as usize].clone(),
            window: EntitlementWindow::new(
                Timestamp::from_unix_seconds(created_at),
                ends_at.map(Timestamp::from_unix_seconds),
            )?,
            scope: EntitlementScope::default(),
            metadata: i
                .is_multiple_of(10)
                .then(|| Metadata::parse(serde_json::json!({"seats": 5 + i % 50})))
                .transpose()?,
            download_quota: None,
            created_at: Timestamp::from_unix_seconds(created_at),
            revision: 0,
        })
    }

    fn release_published(&self, r: u32) -> bool {
        (r / self.plan.products()) % 10 != 9
    }

    fn release_created_at(&self, r: u32) -> i64 {
        self.plan.now - 86_400 - 60 * i64::from(self.plan.releases - 1 - r)
    }

    fn release_version(&self, r: u32) -> Result<Version, BulkError> {
        Ok(Version::parse(&format!(
            "1.{}.0",
            r / self.plan.products()
        ))?)
    }

    fn release(&self, r: u32) -> Result<Release, BulkError> {
        let created_at = self.release_created_at(r);
        let published = self.release_published(r);
        let draft = Release::draft(
            self.products[(r % self.plan.products()) as usize].clone(),
            self.release_version(r)?,
            None,
            Timestamp::from_unix_seconds(created_at),
        );
        Ok(Release {
            id: ReleaseId::from_uuid(self.uuid(Tag::Release, r.into())),
            status: if published {
                ReleaseStatus::Published
            } else {
                ReleaseStatus::Draft
            },
            published_at: published.then(|| Timestamp::from_unix_seconds(created_at + 30)),
            first_published_at: published.then(|| Timestamp::from_unix_seconds(created_at + 30)),
            ..draft
        })
    }

    fn artifact(&self, a: u32) -> Result<Artifact, BulkError> {
        let r = a / self.plan.artifacts_per_release;
        let platform = &self.platforms[(a % self.plan.artifacts_per_release) as usize];
        let product = &self.products[(r % self.plan.products()) as usize];
        let version = self.release_version(r)?;
        let id = ArtifactId::from_uuid(self.uuid(Tag::Artifact, a.into()));
        let filename = Filename::parse(&format!(
            "{}-{}-{}.tar.gz",
            product.as_str(),
            version.as_str(),
            platform.as_str()
        ))?;
        let checksum: String = [
            self.uuid(Tag::Checksum, a.into()),
            self.uuid(Tag::Checksum, u64::from(a) | (1 << 40)),
        ]
        .iter()
        .map(|u| u.simple().to_string())
        .collect();
        Ok(Artifact {
            id,
            release_id: ReleaseId::from_uuid(self.uuid(Tag::Release, r.into())),
            object_key: ObjectKey::for_artifact(product, &version, platform, id, &filename)?,
            checksum: Checksum::parse(&checksum)?,
            size: ArtifactSize::parse(1_048_576 + i64::from(a % 4_096) * 4_099)?,
            platform: platform.clone(),
            target: releasy_domain::artifact::ArtifactTarget::default(),
            created_at: Timestamp::from_unix_seconds(self.release_created_at(r) + 10),
            verification: Verification::Verified,
            object_etag: None,
            object_version: None,
        })
    }

    fn audit_event(&self, e: u32) -> AuditEvent {
        let span = 30 * 86_400_i64;
        let offset = span * i64::from(e) / i64::from(self.plan.audit_events.max(1));
        let at = Timestamp::from_unix_seconds(self.plan.now - span + offset);
        let mut event = if e % 50 == 49 {
            AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at)
        } else {
            let c = e % self.plan.customers.max(1);
            AuditEvent::api_key_auth(
                AuthReason::Ok,
                Some(ApiKeyId::from_uuid(self.uuid(Tag::ApiKey, c.into()))),
                Some(CustomerId::from_uuid(self.uuid(Tag::Customer, c.into()))),
                at,
            )
        };
        event.id = AuditEventId::from_uuid(self.uuid(Tag::Audit, e.into()));
        event
    }

    /// Token `t`: issued to customer `t % customers` for an artifact of a published
    /// release of that customer's entitled product. Even tokens are valid for a day
    /// after `now`, odd ones expired.
    fn download_token(&self, t: u32) -> (DownloadToken, String, bool) {
        let products = self.plan.products();
        let (c, r, a) = self.token_target(t);
        let product = c % products;
        let id = self.uuid(Tag::Token, t.into());
        let raw = format!("releasy_dl_bulk{}", id.simple());
        let created_at = self.plan.now - 600 - i64::from(t % 3_600);
        let valid = t.is_multiple_of(2);
        let expires_at = if valid {
            self.plan.now + 86_400
        } else {
            created_at + 300
        };
        let token = DownloadToken {
            api_key_id: None,
            max_uses: None,
            id: DownloadTokenId::from_uuid(id),
            token_hash: (self.token_hash)(&raw),
            artifact_id: ArtifactId::from_uuid(self.uuid(Tag::Artifact, a.into())),
            customer_id: CustomerId::from_uuid(self.uuid(Tag::Customer, c.into())),
            purpose: t.is_multiple_of(4).then(|| "ci".to_owned()),
            created_at: Timestamp::from_unix_seconds(created_at),
            expires_at: Timestamp::from_unix_seconds(expires_at),
            allowed_networks: None,
        };
        let resolvable = valid
            && !Self::customer_suspended(c)
            && !Self::entitlement_ended(c)
            && r % products == product
            && self.release_published(r);
        (token, raw, resolvable)
    }
}

impl Generator {
    /// Token `t`'s customer, release and artifact indexes.
    fn token_target(&self, t: u32) -> (u32, u32, u32) {
        let products = self.plan.products();
        let c = t % self.plan.customers;
        let product = c % products;
        let versions = (self.plan.releases / products).max(1);
        let mut k = (t / self.plan.customers + t.wrapping_mul(7)) % versions;
        if k % 10 == 9 {
            k -= 1; // a draft; the version before it is published
        }
        let r = (product + products * k).min(self.plan.releases - 1);
        let a = r * self.plan.artifacts_per_release + t % self.plan.artifacts_per_release;
        (c, r, a)
    }

    /// Ledger row `l`: about token `l % download_tokens`, spread over the 30 days
    /// before `now`; a quarter `issued`, one in fifty `expired`, the rest `redirected`.
    fn ledger_row(&self, l: u32) -> Result<DownloadRecord, BulkError> {
        let t = l % self.plan.download_tokens;
        let (c, r, a) = self.token_target(t);
        let release = self.release(r)?;
        let artifact = self.artifact(a)?;
        let span = 30 * 86_400_i64;
        let offset = span * i64::from(l) / i64::from(self.plan.ledger_rows.max(1));
        let outcome = match l % 50 {
            49 => DownloadOutcome::Expired,
            n if n % 4 == 0 => DownloadOutcome::Issued,
            _ => DownloadOutcome::Redirected,
        };
        Ok(DownloadRecord {
            id: DownloadRecordId::from_uuid(self.uuid(Tag::Ledger, l.into())),
            at: Timestamp::from_unix_seconds(self.plan.now - span + offset),
            customer_id: CustomerId::from_uuid(self.uuid(Tag::Customer, c.into())),
            api_key_id: Some(ApiKeyId::from_uuid(self.uuid(Tag::ApiKey, c.into()))),
            subject: DownloadSubject {
                artifact_id: artifact.id,
                release_id: release.id,
                product: release.product,
                version: release.version,
                platform: artifact.platform,
                bytes: artifact.size.bytes(),
            },
            token_id: DownloadTokenId::from_uuid(self.uuid(Tag::Token, t.into())),
            purpose: None,
            requester: Requester {
                address: Some(std::net::IpAddr::from([10, 0, (c >> 8) as u8, c as u8])),
                user_agent: UserAgent::keep("bulk-agent/1.0"),
            },
            outcome,
        })
    }
}

/// SplitMix64: a tiny, well-mixed deterministic generator for ids.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_plan() -> BulkPlan {
        BulkPlan {
            customers: 200,
            releases: 40,
            artifacts_per_release: 3,
            audit_events: 300,
            download_tokens: 100,
            ledger_rows: 250,
            now: 1_800_000_000,
            seed: 7,
        }
    }

    fn generator() -> Generator {
        let hasher: TokenHasher = Arc::new(|raw: &str| format!("{:064x}", raw.len()));
        Generator::new(small_plan(), hasher).unwrap()
    }

    #[test]
    fn ids_are_distinct_per_table_and_index() {
        let g = generator();
        let a = g.uuid(Tag::Customer, 1);
        assert_ne!(a, g.uuid(Tag::Customer, 2));
        assert_ne!(a, g.uuid(Tag::Release, 1));
        assert_eq!(a, g.uuid(Tag::Customer, 1));
        assert_eq!(a.get_version_num(), 4);
    }

    #[test]
    fn artifacts_follow_the_naming_rule() {
        let g = generator();
        let artifact = g.artifact(5).unwrap();
        let release = g.release(1).unwrap();
        assert_eq!(artifact.release_id, release.id);
        ObjectKey::parse_for_artifact(
            artifact.object_key.as_str(),
            &release.product,
            &release.version,
            &artifact.platform,
            artifact.id,
        )
        .unwrap();
    }

    #[test]
    fn tokens_point_at_published_releases_of_the_entitled_product() {
        let g = generator();
        for t in 0..100 {
            let (token, _, _) = g.download_token(t);
            let a = (0..g.stage_len(Stage::Artifacts))
                .find(|&a| g.uuid(Tag::Artifact, a.into()) == *token.artifact_id.as_uuid())
                .unwrap();
            let r = a / 3;
            let c = t % 200;
            assert!(g.release_published(r), "token {t}");
            assert_eq!(r % g.plan.products(), c % g.plan.products(), "token {t}");
        }
    }

    #[test]
    fn ledger_rows_name_the_artifact_and_release_of_their_token() {
        let g = generator();
        for l in [0, 1, 49, 150, 249] {
            let row = g.ledger_row(l).unwrap();
            let (token, _, _) = g.download_token(l % 100);
            assert_eq!(row.token_id, token.id, "row {l}");
            assert_eq!(row.subject.artifact_id, token.artifact_id, "row {l}");
            assert_eq!(row.customer_id, token.customer_id, "row {l}");
            let artifact = (0..g.stage_len(Stage::Artifacts))
                .map(|a| g.artifact(a).unwrap())
                .find(|a| a.id == token.artifact_id)
                .unwrap();
            assert_eq!(row.subject.release_id, artifact.release_id, "row {l}");
            assert!(row.at.unix_seconds() < g.plan.now);
        }
        assert_eq!(g.ledger_row(49).unwrap().outcome, DownloadOutcome::Expired);
        assert_eq!(g.ledger_row(4).unwrap().outcome, DownloadOutcome::Issued);
        assert_eq!(
            g.ledger_row(5).unwrap().outcome,
            DownloadOutcome::Redirected
        );
    }

    #[test]
    fn the_generator_yields_every_row_once() {
        let mut g = generator();
        let mut report = BulkReport::default();
        while let Some(batch) = g.next_batch().unwrap() {
            let n = match &batch {
                Batch::Customers(r) => r.len(),
                Batch::Entitlements(r) => r.len(),
                Batch::Releases(r) => r.len(),
                Batch::Artifacts(r) => r.len(),
                Batch::AuditEvents(r) => r.len(),
                Batch::DownloadTokens(r) => r.len(),
                Batch::Ledger(r) => r.len(),
            };
            count(&mut report, batch.table(), n);
        }
        assert_eq!(
            report.rows,
            vec![
                ("customers", 200),
                ("entitlements", 200),
                ("releases", 40),
                ("artifacts", 120),
                ("audit_events", 300),
                ("download_tokens", 100),
                ("download_ledger", 250),
            ]
        );
        assert!(!g.resolvable_tokens.is_empty());
    }
}
