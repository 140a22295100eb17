//! What an updater asks: the newest release it may have, and whether there is one
//! above the version it runs.

use std::cmp::Ordering;

use crate::ValidationError;
use crate::artifact::Platform;
use crate::pagination::{Offset, PageLimit, PageRequest};
use crate::release::requirement::tighter;
use crate::release::version_order::SEMVER_KEYS_FROM;
use crate::release::{
    Channel, ListReleasesError, OrderKeyBound, Product, Release, ReleaseFilter, ReleaseListing,
    ReleaseOrder, ReleasePosition, ReleaseService, ReleaseStatus, ReleaseViewer, Version,
    VersionRequirement,
};

/// How many candidates one database read brings: the first is nearly always the
/// answer, the rest spare a second read when the constraint passes over a few within
/// its range (or a release has nothing downloadable).
const CANDIDATES_PER_READ: u32 = 16;

/// What an updater asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestQuery {
    /// The product.
    pub product: Product,
    /// The channel followed: releases on it and on every more stable one.
    pub channel: Channel,
    /// Only releases with an artifact for this platform; their artifacts are narrowed to
    /// it.
    pub platform: Option<Platform>,
    /// Only versions above this one (an upgrade check's current version, see
    /// [`NewestQuery::parse_current`]).
    pub above: Option<semver::Version>,
    /// Only versions satisfying this requirement.
    pub constraint: Option<VersionRequirement>,
}

impl NewestQuery {
    /// The newest stable release of `product`, on any platform.
    pub fn stable(product: Product) -> Self {
        Self {
            product,
            channel: Channel::Stable,
            platform: None,
            above: None,
            constraint: None,
        }
    }

    /// The longest `current` or `platform` an updater's query may name: more than a
    /// version (128) or a platform (64) may have now, since rows an earlier server
    /// stored (it checked no lengths) may be longer, and far less than a request line
    /// may carry, since each distinct query is an entry of the read cache.
    pub const MAX_QUERY_CHARS: usize = 2 * Version::MAX_CHARS;

    /// The version an updater says it runs (an upgrade check's `current`): a semver
    /// version of at most [`Self::MAX_QUERY_CHARS`] characters.
    ///
    /// ```
    /// use releasy_domain::release::NewestQuery;
    ///
    /// assert_eq!(NewestQuery::parse_current(" 1.4.0-rc.1 ").unwrap().to_string(), "1.4.0-rc.1");
    /// assert!(NewestQuery::parse_current("v1.4").is_err());
    /// assert!(NewestQuery::parse_current(&format!("1.0.0-{}", "a".repeat(300))).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ValidationError`] on `current` when it is empty, longer than
    /// [`Self::MAX_QUERY_CHARS`], or not a semver version.
    pub fn parse_current(text: &str) -> Result<semver::Version, ValidationError> {
        let text = query_text("current", text)?;
        semver::Version::parse(text).map_err(|err| {
            ValidationError::new("current", format!("is not a semver version: {err}"))
        })
    }

    /// The platform an updater asks for: one an artifact may have, or one an earlier
    /// server stored (such rows are read as they are, see
    /// [`Platform::read_stored`]), of at most [`Self::MAX_QUERY_CHARS`] characters.
    ///
    /// ```
    /// use releasy_domain::release::NewestQuery;
    ///
    /// assert_eq!(NewestQuery::parse_platform(" linux-x86_64 ").unwrap().as_str(), "linux-x86_64");
    /// assert!(NewestQuery::parse_platform(&"p".repeat(100)).is_ok());
    /// assert!(NewestQuery::parse_platform(&"p".repeat(300)).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ValidationError`] on `platform` when it is empty or longer than
    /// [`Self::MAX_QUERY_CHARS`].
    pub fn parse_platform(text: &str) -> Result<Platform, ValidationError> {
        query_text("platform", text).map(Platform::read_stored)
    }

    /// The order keys the answer can have: above `above`, and within the
    /// constraint's precedence range (semver versions only: a constraint admits no
    /// other). The database reads only these, so a constraint or a current version
    /// that little of a long history satisfies costs no walk through the rest.
    fn order_key_range(&self) -> (Option<OrderKeyBound>, Option<OrderKeyBound>) {
        let (lowest, highest) = self
            .constraint
            .as_ref()
            .map(VersionRequirement::precedence_range)
            .unwrap_or_default();
        let above = self.above.as_ref().map(|above| (above.clone(), false));
        let lowest = match (lowest, above) {
            (Some(lowest), Some(above)) => Some(tighter(lowest, above, Ordering::Greater)),
            (lowest, above) => lowest.or(above),
        };
        let semver_only = self.constraint.is_some().then(|| OrderKeyBound {
            key: SEMVER_KEYS_FROM.to_owned(),
            inclusive: true,
        });
        (
            lowest
                .map(|(version, inclusive)| OrderKeyBound::at(&version, inclusive))
                .or(semver_only),
            highest.map(|(version, inclusive)| OrderKeyBound::at(&version, inclusive)),
        )
    }

    /// Whether `release` passes the checks the database cannot make.
    fn admits(&self, release: &Release) -> bool {
        self.constraint
            .as_ref()
            .is_none_or(|req| req.admits(&release.version))
    }

    /// The listing answered for `release`: its artifacts that can be downloaded (none
    /// pending or failed verification), narrowed to the platform; `None` when the
    /// platform was asked for and the release has no such artifact for it, or when it
    /// has artifacts and none can be downloaded: an updater is never pointed at a file
    /// it would be refused. A release without any artifact is answered as it is.
    fn answer(&self, mut listing: ReleaseListing) -> Option<ReleaseListing> {
        let Some(artifacts) = &mut listing.artifacts else {
            return Some(listing);
        };
        if let Some(platform) = &self.platform {
            // Without regard to ASCII case, as object keys (which store it in lower
            // case) and the CLI read a platform.
            artifacts.retain(|a| a.platform.as_str().eq_ignore_ascii_case(platform.as_str()));
        }
        let had_artifacts = !artifacts.is_empty();
        artifacts.retain(|a| a.verification.allows_download());
        if artifacts.is_empty() && (had_artifacts || self.platform.is_some()) {
            return None;
        }
        Some(listing)
    }
}

/// `text` trimmed, when it is not empty and at most [`NewestQuery::MAX_QUERY_CHARS`]
/// characters long.
fn query_text<'a>(field: &'static str, text: &'a str) -> Result<&'a str, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if text.chars().count() > NewestQuery::MAX_QUERY_CHARS {
        return Err(ValidationError::new(
            field,
            format!(
                "must be at most {} characters",
                NewestQuery::MAX_QUERY_CHARS
            ),
        ));
    }
    Ok(text)
}

impl ReleaseService {
    /// The highest version `viewer` may have: published, not yanked, on the query's
    /// channel or a more stable one, within its constraint and above its `above`,
    /// allowed by the customer's entitlements, with its artifacts. `None` when there is
    /// none.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    /// use releasy_domain::memory::FixedClock;
    /// use releasy_domain::release::{Channel, NewestQuery, Product, ReleaseViewer, Version};
    /// use releasy_domain::{Ports, Services, Timestamp};
    /// use releasy_domain::audit::Origin;
    ///
    /// let releasy = Services::new(Ports::in_memory(Arc::new(FixedClock::at(
    ///     Timestamp::from_unix_seconds(1_735_312_000),
    /// ))));
    /// let agent = Product::parse("agent").unwrap();
    /// for version in ["1.9.0", "1.10.0", "2.0.0-rc.1"] {
    ///     let admin = Origin::admin_key();
    ///     let r = releasy.releases.create(&admin, agent.clone(), Version::parse(version).unwrap());
    ///     releasy.releases.publish(&admin, r.await.unwrap().id).await.unwrap();
    /// }
    /// let newest = |channel| {
    ///     let query = NewestQuery { channel, ..NewestQuery::stable(agent.clone()) };
    ///     let releasy = &releasy;
    ///     async move {
    ///         let found = releasy.releases.newest(ReleaseViewer::Operator, &query).await;
    ///         found.unwrap().unwrap().release.version.into_string()
    ///     }
    /// };
    /// assert_eq!(newest(Channel::Stable).await, "1.10.0");
    /// assert_eq!(newest(Channel::Rc).await, "2.0.0-rc.1");
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`ListReleasesError::Repo`] when the repository fails.
    pub async fn newest(
        &self,
        viewer: ReleaseViewer,
        query: &NewestQuery,
    ) -> Result<Option<ReleaseListing>, ListReleasesError> {
        let sight = self.sight(viewer).await?;
        let (order_key_min, order_key_max) = query.order_key_range();
        let filter = ReleaseFilter {
            product: Some(query.product.as_str().to_owned()),
            products_in: sight.products_in(),
            status: Some(ReleaseStatus::Published),
            channels_in: Some(query.channel.admitted().collect()),
            exclude_yanked: true,
            order_key_min,
            order_key_max,
            downloadable_on: query.platform.as_ref().map(|p| p.as_str().to_owned()),
            order: ReleaseOrder::Version,
            ..ReleaseFilter::default()
        };
        let page = PageRequest {
            limit: PageLimit::clamped(CANDIDATES_PER_READ),
            offset: Offset::new(0),
        };
        let mut filter = filter;
        loop {
            let releases = self.releases.list(&filter, page).await?;
            let exhausted = releases.len() < CANDIDATES_PER_READ as usize;
            // The next read goes on after the last release of this one, which must
            // come after the position this read started from. One that does not (a
            // row whose order key an older server left empty, until it is filled in,
            // is stored below where its version puts it) would start the reads over,
            // for ever: the releases of this read are judged, and the walk ends there.
            let stuck = match (&filter.after, releases.last()) {
                (Some(previous), Some(last)) => !previous.precedes(ReleaseOrder::Version, last),
                _ => false,
            };
            filter.after = releases.last().map(ReleasePosition::of);
            let admitted: Vec<Release> = releases
                .into_iter()
                .filter(|r| query.admits(r) && sight.shows(r))
                .collect();
            // Artifacts are read only for releases that could be the answer: without a
            // platform nearly always the first one, so it is read alone, and the rest
            // only when it has nothing to download.
            let (first, rest) = if query.platform.is_some() {
                (admitted, Vec::new())
            } else {
                let mut admitted = admitted;
                let rest = admitted.split_off(admitted.len().min(1));
                (admitted, rest)
            };
            for candidates in [first, rest] {
                if candidates.is_empty() {
                    continue;
                }
                let found = self
                    .with_artifacts(candidates)
                    .await?
                    .into_iter()
                    .find_map(|listing| query.answer(listing));
                if found.is_some() {
                    return Ok(found);
                }
            }
            if exhausted || stuck {
                return Ok(None);
            }
        }
    }
}
