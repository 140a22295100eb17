//! A tiny service built on the domain alone: a "release desk" that a vendor's own Rust
//! service could embed to ship builds to entitled customers, with Releasy's rules and
//! none of its server.
//!
//! Run it with `cargo run -p releasy-domain --example release_desk`. It wires the
//! domain's services to the in-memory ports (swap in your own adapters for a real
//! store), ships a build, entitles a customer, and walks that customer from its API
//! key to a download link, showing a refusal on the way.

#![allow(clippy::print_stdout, reason = "an example shows its steps")]

use std::error::Error;
use std::sync::Arc;

use releasy_domain::api_key::{KeyType, NewApiKeyRequest, ScopeSet};
use releasy_domain::artifact::{ArtifactSize, Checksum, Filename, Platform, RegisterArtifact};
use releasy_domain::audit::Origin;
use releasy_domain::customer::{Customer, CustomerName};
use releasy_domain::delivery::Requester;
use releasy_domain::download::{IssueTokenError, TokenTtl};
use releasy_domain::entitlement::{EntitlementScope, EntitlementWindow, NewEntitlement};
use releasy_domain::memory::{FixedClock, InMemoryObjects};
use releasy_domain::release::{Product, Version};
use releasy_domain::{ArtifactId, Ports, Services, Timestamp};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The desk: the domain's services, and the object store the uploads land in.
struct ReleaseDesk {
    releasy: Services,
    objects: Arc<InMemoryObjects>,
}

impl ReleaseDesk {
    fn new(now: Timestamp) -> Self {
        let objects = Arc::new(InMemoryObjects::default());
        let clock = Arc::new(FixedClock::at(now));
        let ports = Ports::in_memory_with_objects(clock, objects.clone());
        Self {
            releasy: Services::new(ports),
            objects,
        }
    }

    /// Creates a release of `product` at `version` with one Linux artifact holding
    /// `bytes`, and publishes it.
    async fn ship(&self, product: &str, version: &str, bytes: &[u8]) -> Result<ArtifactId> {
        let release = self
            .releasy
            .releases
            .create(
                &Origin::admin_key(),
                Product::parse(product)?,
                Version::parse(version)?,
            )
            .await?;
        let platform = Platform::parse("linux-x86_64")?;
        let upload = self
            .releasy
            .artifacts
            .presign(release.id, &Filename::parse("agent.tar.gz")?, &platform)
            .await?;
        // A real client PUTs the bytes to `upload.single_url()`.
        self.objects.put(&upload.object_key, bytes.to_vec());
        let artifact = self
            .releasy
            .artifacts
            .register(
                &Origin::admin_key(),
                release.id,
                RegisterArtifact {
                    artifact_id: upload.artifact_id,
                    object_key: upload.object_key.as_str().to_owned(),
                    checksum: Checksum::parse(&hex::encode(Sha256::digest(bytes)))?,
                    size: ArtifactSize::parse(i64::try_from(bytes.len())?)?,
                    platform,
                    target: releasy_domain::artifact::ArtifactTarget::default(),
                    parts: None,
                },
            )
            .await?;
        self.releasy
            .releases
            .publish(&Origin::admin_key(), release.id)
            .await?;
        Ok(artifact.id)
    }

    /// A customer with a key that may list releases and ask for download tokens.
    async fn customer(&self, name: &str) -> Result<(Customer, String)> {
        let customer = self
            .releasy
            .customers
            .create(&Origin::admin_key(), CustomerName::parse(name)?, None)
            .await?;
        let issued = self
            .releasy
            .api_keys
            .create(
                &Origin::admin_key(),
                NewApiKeyRequest {
                    allowed_networks: None,
                    customer_id: customer.id,
                    name: None,
                    key_type: KeyType::Ci,
                    scopes: ScopeSet::parse(&["releases:read", "downloads:token"])?,
                    expires_at: None,
                },
            )
            .await?;
        Ok((customer, issued.secret.expose().to_owned()))
    }

    /// What a customer presenting `api_key` gets for `artifact`: a link, or why not.
    async fn download_link(&self, api_key: &str, artifact: ArtifactId) -> Result<String> {
        let key = self
            .releasy
            .authenticator
            .authenticate(Some(api_key))
            .await?;
        let ttl = TokenTtl::parse(Some(300), 600)?;
        let token = match self
            .releasy
            .downloads
            .issue(&Origin::admin_key(), &key, artifact, None, ttl, None)
            .await
        {
            Ok(token) => token,
            Err(IssueTokenError::EntitlementRequired) => {
                return Ok("refused: no active entitlement".to_owned());
            }
            Err(other) => return Err(other.into()),
        };
        let link = self
            .releasy
            .downloads
            .resolve(token.secret.expose(), &Requester::default())
            .await?;
        Ok(link.url)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let now = Timestamp::from_unix_seconds(1_735_312_000);
    let desk = ReleaseDesk::new(now);

    let artifact = desk.ship("agent", "2.4.0", b"the agent's bytes").await?;
    println!("shipped agent 2.4.0 as artifact {artifact}");

    let (acme, api_key) = desk.customer("Acme").await?;
    println!(
        "before its entitlement, Acme gets: {}",
        desk.download_link(&api_key, artifact).await?
    );

    desk.releasy
        .entitlements
        .create(
            &Origin::admin_key(),
            acme.id,
            NewEntitlement {
                product: Product::parse("agent")?,
                window: EntitlementWindow::new(now, None)?,
                scope: EntitlementScope::default(),
                metadata: None,
                download_quota: None,
            },
        )
        .await?;
    println!(
        "entitled, Acme gets: {}",
        desk.download_link(&api_key, artifact).await?
    );
    Ok(())
}
