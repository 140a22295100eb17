//! The JSON of release listings, each release rendered once and reused while it is
//! unchanged.
//!
//! Rendering a page of 50 releases with their artifacts was mostly serde_json escaping
//! strings (a quarter of the server's CPU on the admin listing). Between two requests
//! a page's releases rarely change, so each release's rendered object is kept with
//! the listing it was rendered from, and reused only when the listing just read is
//! equal to that one. Comparing the same strings is far cheaper than rendering them,
//! and a reused rendering is always that of the current listing: there is nothing to
//! invalidate and nothing stale to serve.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use releasy_domain::ReleaseId;
use releasy_domain::release::ReleaseListing;

use crate::dto::ReleaseResponse;

/// Rendered bytes kept by default: a release with three artifacts renders to about
/// 900 bytes, so this holds several thousand.
const DEFAULT_BUDGET_BYTES: u64 = 8 * 1024 * 1024;

/// A release's listing and its rendered JSON object.
#[derive(Debug)]
struct Rendered {
    listing: ReleaseListing,
    json: Box<[u8]>,
}

/// Weighs an entry by its rendered size, twice (the listing it keeps is about as
/// large), so the budget bounds memory whatever the number of artifacts.
#[derive(Debug, Clone, Copy)]
struct BySize;

impl Weighter<(ReleaseId, bool), Arc<Rendered>> for BySize {
    fn weight(&self, _key: &(ReleaseId, bool), entry: &Arc<Rendered>) -> u64 {
        2 * entry.json.len() as u64
    }
}

/// Rendered release objects, keyed by release and by whether artifacts were listed.
pub struct ReleaseJson {
    rendered: Cache<(ReleaseId, bool), Arc<Rendered>, BySize>,
}

impl std::fmt::Debug for ReleaseJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseJson")
            .field("entries", &self.rendered.len())
            .field("bytes", &self.rendered.weight())
            .finish()
    }
}

impl Default for ReleaseJson {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET_BYTES)
    }
}

impl ReleaseJson {
    /// A memo holding about `bytes` of rendered JSON.
    pub fn with_budget(bytes: u64) -> Self {
        // quick_cache sizes its tables from an estimate of the entry count.
        let estimated_entries = (bytes / 2048).max(16) as usize;
        Self {
            rendered: Cache::with_weighter(estimated_entries, bytes.max(1), BySize),
        }
    }

    /// The body of a `GET /v1/releases` answer: byte for byte what serde_json makes of
    /// a [`ReleaseListResponse`](crate::dto::ReleaseListResponse) with these fields.
    ///
    /// # Errors
    /// Only if serde_json fails to render a release, which plain strings and numbers
    /// never make it do.
    pub fn page(
        &self,
        listings: Vec<ReleaseListing>,
        limit: i64,
        offset: i64,
    ) -> serde_json::Result<Vec<u8>> {
        let mut body = Vec::with_capacity(64 + listings.len() * 1024);
        body.extend_from_slice(b"{\"releases\":[");
        for (i, listing) in listings.into_iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&self.render(listing)?.json);
        }
        body.extend_from_slice(format!("],\"limit\":{limit},\"offset\":{offset}}}").as_bytes());
        Ok(body)
    }

    /// One release object, as it appears in a listing.
    ///
    /// # Errors
    /// As [`Self::page`].
    pub fn one(&self, listing: ReleaseListing) -> serde_json::Result<Vec<u8>> {
        Ok(self.render(listing)?.json.to_vec())
    }

    fn render(&self, listing: ReleaseListing) -> serde_json::Result<Arc<Rendered>> {
        let key = (listing.release.id, listing.artifacts.is_some());
        if let Some(kept) = self
            .rendered
            .get(&key)
            .filter(|kept| kept.listing == listing)
        {
            return Ok(kept);
        }
        let json = serde_json::to_vec(&ReleaseResponse::from(listing.clone()))?;
        let rendered = Arc::new(Rendered {
            listing,
            json: json.into_boxed_slice(),
        });
        self.rendered.insert(key, rendered.clone());
        Ok(rendered)
    }
}

#[cfg(test)]
mod tests {
    use releasy_domain::artifact::{
        Artifact, ArtifactSize, Checksum, ObjectKey, Platform, Verification,
    };
    use releasy_domain::release::{Product, Release, ReleaseStatus, Version};
    use releasy_domain::{ArtifactId, Timestamp};

    use super::*;
    use crate::dto::ReleaseListResponse;

    fn listing(version: &str, artifacts: usize) -> ReleaseListing {
        let release = Release {
            id: ReleaseId::generate(),
            product: Product::parse("agent \"quoted\" \\ name").unwrap(),
            version: Version::parse(version).unwrap(),
            status: ReleaseStatus::Published,
            created_at: Timestamp::from_unix_seconds(1_700_000_000),
            published_at: Some(Timestamp::from_unix_seconds(1_700_000_100)),
            ..Release::draft(
                Product::parse("agent").unwrap(),
                Version::parse(version).unwrap(),
                None,
                Timestamp::from_unix_seconds(1_700_000_000),
            )
        };
        let artifacts = (0..artifacts)
            .map(|i| {
                let id = ArtifactId::generate();
                Artifact {
                    id,
                    release_id: release.id,
                    object_key: ObjectKey::from_stored(format!(
                        "releases/agent/{version}/p{i}/{id}/f"
                    )),
                    checksum: Checksum::parse(&"ab".repeat(32)).unwrap(),
                    size: ArtifactSize::parse(10 + i as i64).unwrap(),
                    platform: Platform::parse(&format!("linux-\u{e9}-{i}")).unwrap(),
                    target: releasy_domain::artifact::ArtifactTarget::default(),
                    created_at: Timestamp::from_unix_seconds(1_700_000_050),
                    verification: Verification::Verified,
                    object_etag: None,
                    object_version: None,
                }
            })
            .collect();
        ReleaseListing {
            release,
            artifacts: Some(artifacts),
        }
    }

    /// What serde_json makes of the whole page.
    fn expected(listings: &[ReleaseListing], limit: i64, offset: i64) -> Vec<u8> {
        serde_json::to_vec(&ReleaseListResponse {
            releases: listings.iter().cloned().map(Into::into).collect(),
            limit,
            offset,
        })
        .unwrap()
    }

    #[test]
    fn a_page_is_what_serde_json_renders_first_time_and_again() {
        let memo = ReleaseJson::default();
        let mut listings = vec![
            listing("1.0.0", 3),
            listing("1.1.0", 0),
            listing("2.0.0", 1),
        ];
        listings[1].artifacts = None;
        let want = expected(&listings, 50, 0);
        assert_eq!(memo.page(listings.clone(), 50, 0).unwrap(), want);
        assert_eq!(memo.rendered.len(), 3);
        assert_eq!(memo.page(listings.clone(), 50, 0).unwrap(), want, "reused");
        assert_eq!(memo.page(vec![], 10, 20).unwrap(), expected(&[], 10, 20));
    }

    #[test]
    fn an_equal_listing_reuses_the_rendering_and_a_changed_one_does_not() {
        let memo = ReleaseJson::default();
        let original = listing("1.0.0", 2);
        let first = memo.render(original.clone()).unwrap();
        assert!(Arc::ptr_eq(&first, &memo.render(original.clone()).unwrap()));
        let mut changed = original;
        changed.artifacts.as_mut().unwrap().pop();
        assert!(!Arc::ptr_eq(&first, &memo.render(changed).unwrap()));
    }

    #[test]
    fn a_changed_release_is_rendered_anew() {
        let memo = ReleaseJson::default();
        let mut listings = vec![listing("1.0.0", 2), listing("1.1.0", 1)];
        memo.page(listings.clone(), 50, 0).unwrap();

        listings[0].release.status = ReleaseStatus::Draft;
        listings[0].release.published_at = None;
        let extra = listing("9.9.9", 1).artifacts.unwrap().remove(0);
        listings[1].artifacts.as_mut().unwrap().push(extra);
        assert_eq!(
            memo.page(listings.clone(), 50, 0).unwrap(),
            expected(&listings, 50, 0)
        );

        listings[1].artifacts.as_mut().unwrap().clear();
        assert_eq!(
            memo.page(listings.clone(), 50, 0).unwrap(),
            expected(&listings, 50, 0)
        );
    }

    #[test]
    fn with_and_without_artifacts_are_kept_apart() {
        let memo = ReleaseJson::default();
        let with = listing("1.0.0", 2);
        let without = ReleaseListing {
            release: with.release.clone(),
            artifacts: None,
        };
        for _ in 0..2 {
            assert_eq!(
                memo.page(vec![with.clone()], 50, 0).unwrap(),
                expected(std::slice::from_ref(&with), 50, 0)
            );
            assert_eq!(
                memo.page(vec![without.clone()], 50, 0).unwrap(),
                expected(std::slice::from_ref(&without), 50, 0)
            );
        }
        assert_eq!(memo.rendered.len(), 2);
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let memo = ReleaseJson::with_budget(16 * 1024);
        let listings: Vec<_> = (0..200).map(|i| listing(&format!("1.{i}.0"), 3)).collect();
        assert_eq!(
            memo.page(listings.clone(), 200, 0).unwrap(),
            expected(&listings, 200, 0)
        );
        assert!(memo.rendered.weight() <= 16 * 1024, "{memo:?}");
        assert!(memo.rendered.len() < 200, "{memo:?}");
    }
}
