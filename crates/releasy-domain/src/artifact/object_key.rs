//! The object-key naming rule:
//! `releases/{product}/{version}/{platform}/{artifact_id}/{filename}`, every segment
//! lower-cased with each character outside `[a-z0-9._-]` replaced by `_`.

use std::sync::Arc;

use crate::artifact::{Filename, Platform};
use crate::release::{Product, Version};
use crate::{ArtifactId, ValidationError};

/// The longest segment a key may have: a file name on the embedded store's file
/// systems (`NAME_MAX`). Normalising can lengthen a name (`İ` becomes `i` and a
/// combining dot, two characters), so the bounds of the texts alone do not ensure it.
/// With it, no key is longer than S3's 1024 bytes (the platform's 64 characters
/// normalise to at most 128 bytes).
pub(crate) const MAX_SEGMENT_BYTES: usize = 255;

/// Where an artifact's bytes are stored. Built only by the naming rule (or checked
/// against it), so no key can escape its release's prefix. Shared, not copied, when
/// cloned: listings clone every artifact they serve from the read cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(Arc<str>);

impl ObjectKey {
    /// The key the naming rule gives an artifact.
    ///
    /// # Errors
    /// [`ValidationError`] when a segment normalises to `.` or `..`, which would make
    /// the key a path outside its release, or to more than 255 bytes (a file name's
    /// limit on common file systems).
    pub fn for_artifact(
        product: &Product,
        version: &Version,
        platform: &Platform,
        artifact_id: ArtifactId,
        filename: &Filename,
    ) -> Result<Self, ValidationError> {
        let segments = [
            ("product", normalize_segment(product.as_str())),
            ("version", normalize_segment(version.as_str())),
            ("platform", normalize_segment(platform.as_str())),
            ("artifact_id", artifact_id.to_string()),
            ("filename", normalize_segment(filename.as_str())),
        ];
        for (field, segment) in &segments {
            if segment == "." || segment == ".." {
                return Err(ValidationError::new(field, "must not be `.` or `..`"));
            }
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "is longer than {MAX_SEGMENT_BYTES} bytes once made an object key segment"
                    ),
                ));
            }
        }
        let joined: Vec<&str> = segments.iter().map(|(_, s)| s.as_str()).collect();
        Ok(Self(format!("releases/{}", joined.join("/")).into()))
    }

    /// Checks that `raw` is a key the naming rule gives an artifact `artifact_id` of
    /// this release and platform: the rule's prefix, then one file name segment that is
    /// already normalised. Registration uses this: the file name is not sent again.
    ///
    /// # Errors
    /// [`ValidationError`] on `object_key` (`object_key does not match release or
    /// platform`) otherwise.
    pub fn parse_for_artifact(
        raw: &str,
        product: &Product,
        version: &Version,
        platform: &Platform,
        artifact_id: ArtifactId,
    ) -> Result<Self, ValidationError> {
        let mismatch = || ValidationError::new("object_key", "does not match release or platform");
        let prefix = format!(
            "releases/{}/{}/{}/{artifact_id}/",
            normalize_segment(product.as_str()),
            normalize_segment(version.as_str()),
            normalize_segment(platform.as_str()),
        );
        let filename = raw.strip_prefix(&prefix).ok_or_else(mismatch)?;
        let is_normalised_segment = !filename.is_empty()
            && filename != "."
            && filename != ".."
            && normalize_segment(filename) == filename;
        if is_normalised_segment {
            Ok(Self(raw.into()))
        } else {
            Err(mismatch())
        }
    }

    /// The file name: the key's last segment.
    pub fn filename(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Wraps a key read back from storage (written by [`Self::for_artifact`]).
    pub fn from_stored(key: String) -> Self {
        Self(key.into())
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key, as an owned string.
    pub fn into_string(self) -> String {
        self.0.to_string()
    }
}

/// Lower-cases `segment` and replaces every character outside `[a-z0-9._-]` by `_`.
pub fn normalize_segment(segment: &str) -> String {
    segment
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(
        product: &str,
        version: &str,
        platform: &str,
        filename: &str,
    ) -> Result<ObjectKey, ValidationError> {
        ObjectKey::for_artifact(
            &Product::parse(product).unwrap(),
            &Version::parse(version).unwrap(),
            &Platform::parse(platform).unwrap(),
            ArtifactId::from_uuid(uuid::Uuid::nil()),
            &Filename::parse(filename).unwrap(),
        )
    }

    #[test]
    fn segments_are_lower_cased_and_sanitised() {
        assert_eq!(
            key(
                "My App",
                "1.0.0+Build/7",
                "Linux x86_64",
                "App Setup (1).TGZ"
            )
            .unwrap()
            .as_str(),
            "releases/my_app/1.0.0_build_7/linux_x86_64/00000000-0000-0000-0000-000000000000/app_setup__1_.tgz"
        );
    }

    #[test]
    fn non_ascii_is_replaced_per_character() {
        assert_eq!(normalize_segment("Ünï"), "_n_");
    }

    #[test]
    fn registered_keys_must_follow_the_rule() {
        let product = Product::parse("My App").unwrap();
        let version = Version::parse("1.0").unwrap();
        let platform = Platform::parse("linux").unwrap();
        let id = ArtifactId::from_uuid(uuid::Uuid::nil());
        let parse =
            |raw: &str| ObjectKey::parse_for_artifact(raw, &product, &version, &platform, id);
        let good = format!("releases/my_app/1.0/linux/{id}/app.tgz");
        assert_eq!(parse(&good).unwrap().as_str(), good);
        assert_eq!(parse(&good).unwrap().filename(), "app.tgz");
        for bad in [
            format!("releases/my_app/1.0/windows/{id}/app.tgz"),
            format!("releases/other/1.0/linux/{id}/app.tgz"),
            format!("releases/my_app/1.0/linux/{}/app.tgz", uuid::Uuid::new_v4()),
            format!("releases/my_app/1.0/linux/{id}/"),
            format!("releases/my_app/1.0/linux/{id}/App.tgz"),
            format!("releases/my_app/1.0/linux/{id}/a/b"),
            format!("releases/my_app/1.0/linux/{id}/.."),
        ] {
            let err = parse(&bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                "object_key does not match release or platform",
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_every_store_can_hold_are_the_only_keys() {
        // 255 characters, each lower-cased to two.
        let dotted_i = "\u{130}".repeat(255);
        let err = key("app", "1", "linux", &dotted_i).unwrap_err();
        assert_eq!(err.field, "filename");
        assert!(err.to_string().contains("255 bytes"), "{err}");
        assert!(key("app", "1", "linux", &"a".repeat(255)).is_ok());
        // The longest key the bounds allow stays within S3's 1024 bytes.
        let (i, longest_filename) = ("\u{130}", "a".repeat(255));
        let longest = key(
            &i.repeat(127),
            &i.repeat(127),
            &i.repeat(64),
            &longest_filename,
        )
        .unwrap();
        assert!(longest.as_str().len() <= 1024, "{}", longest.as_str().len());
    }

    #[test]
    fn dot_segments_are_refused() {
        assert_eq!(key("..", "1", "linux", "a").unwrap_err().field, "product");
        assert_eq!(key("app", "1", "linux", ".").unwrap_err().field, "filename");
    }
}
