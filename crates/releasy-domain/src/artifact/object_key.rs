//! The object-key naming rule:
//! `releases/{product}/{version}/{platform}/{artifact_id}/{filename}`, every segment
//! lower-cased with each character outside `[a-z0-9._-]` replaced by `_`.

use crate::artifact::{Filename, Platform};
use crate::release::{Product, Version};
use crate::{ArtifactId, ValidationError};

/// Where an artifact's bytes are stored. Built only by the naming rule (or checked
/// against it), so no key can escape its release's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The key the naming rule gives an artifact.
    ///
    /// # Errors
    /// [`ValidationError`] when a segment normalises to `.` or `..`, which would make
    /// the key a path outside its release.
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
        }
        let joined: Vec<&str> = segments.iter().map(|(_, s)| s.as_str()).collect();
        Ok(Self(format!("releases/{}", joined.join("/"))))
    }

    /// Wraps a key read back from storage (written by [`Self::for_artifact`]).
    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
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
    fn dot_segments_are_refused() {
        assert_eq!(key("..", "1", "linux", "a").unwrap_err().field, "product");
        assert_eq!(key("app", "1", "linux", ".").unwrap_err().field, "filename");
    }
}
