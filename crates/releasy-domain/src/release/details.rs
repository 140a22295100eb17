//! What a release says about itself besides its version: notes, metadata, and why it
//! was yanked.

use crate::release::Channel;
use crate::text::bounded_text_type;
use crate::{Timestamp, ValidationError};

/// Release notes: markdown, at most 64 KiB of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseNotes(String);

impl ReleaseNotes {
    /// The largest accepted notes, in bytes.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Checks the size, and that no NUL character is in it.
    ///
    /// # Errors
    /// [`ValidationError`] on `notes` above [`Self::MAX_BYTES`] or holding U+0000.
    pub fn parse(markdown: &str) -> Result<Self, ValidationError> {
        if markdown.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "notes",
                format!("must be at most {} bytes", Self::MAX_BYTES),
            ));
        }
        crate::text::refuse_nul("notes", markdown)?;
        Ok(Self(markdown.to_owned()))
    }

    /// The markdown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form details about a release: a JSON object of at most 16 KiB, kept as its
/// compact JSON text (what is stored and sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseMetadata(String);

impl ReleaseMetadata {
    /// The largest accepted metadata, in bytes of compact JSON.
    pub const MAX_BYTES: usize = 16 * 1024;

    /// Checks the value is a JSON object, small enough, without NUL characters.
    ///
    /// # Errors
    /// [`ValidationError`] on `metadata` for another JSON value, above
    /// [`Self::MAX_BYTES`], or with U+0000 in a key or a string.
    ///
    /// ```
    /// use releasy_domain::release::ReleaseMetadata;
    ///
    /// let m = ReleaseMetadata::parse(&serde_json::json!({"min_os": "13.0"})).unwrap();
    /// assert_eq!(m.as_json(), r#"{"min_os":"13.0"}"#);
    /// assert!(ReleaseMetadata::parse(&serde_json::json!("13.0")).is_err());
    /// ```
    pub fn parse(value: &serde_json::Value) -> Result<Self, ValidationError> {
        if !value.is_object() {
            return Err(ValidationError::new("metadata", "must be a JSON object"));
        }
        let json = value.to_string();
        if json.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "metadata",
                format!("must be at most {} bytes of JSON", Self::MAX_BYTES),
            ));
        }
        crate::text::refuse_nul_in_json("metadata", value)?;
        Ok(Self(json))
    }

    /// Metadata as stored: JSON text this type wrote.
    ///
    /// # Errors
    /// [`ValidationError`] when the text is not a JSON object.
    pub fn from_stored(json: &str) -> Result<Self, ValidationError> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|err| ValidationError::new("metadata", format!("is not JSON: {err}")))?;
        Self::parse(&value)
    }

    /// The compact JSON text of the object.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

bounded_text_type!(
    /// Why a release was yanked: trimmed, 1 to 1024 characters.
    YankReason,
    field = "reason",
    max = 1024
);

/// A yanked release's mark: it stays listed for operators and fetchable for customers
/// who pin it, unless `blocks_downloads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yank {
    /// When it was yanked.
    pub at: Timestamp,
    /// Why.
    pub reason: YankReason,
    /// Whether its artifacts are refused download tokens (403 `release yanked`).
    pub blocks_downloads: bool,
}

/// A change to a draft's details; `None` leaves a field as it is, `Some(None)` clears
/// the notes or the metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseChanges {
    /// New channel.
    pub channel: Option<Channel>,
    /// New notes; `Some(None)` clears them.
    pub notes: Option<Option<ReleaseNotes>>,
    /// New metadata; `Some(None)` clears it.
    pub metadata: Option<Option<ReleaseMetadata>>,
}

impl ReleaseChanges {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.channel.is_none() && self.notes.is_none() && self.metadata.is_none()
    }

    /// `release` with the changes applied (what the repository stores).
    pub fn apply_to(&self, release: &mut crate::release::Release) {
        if let Some(channel) = self.channel {
            release.channel = channel;
        }
        if let Some(notes) = &self.notes {
            release.notes.clone_from(notes);
        }
        if let Some(metadata) = &self.metadata {
            release.metadata.clone_from(metadata);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_bounded_in_bytes() {
        assert!(ReleaseNotes::parse(&"a".repeat(ReleaseNotes::MAX_BYTES)).is_ok());
        let err = ReleaseNotes::parse(&"a".repeat(ReleaseNotes::MAX_BYTES + 1)).unwrap_err();
        assert_eq!(err.field, "notes");
        // Two bytes per character: half as many characters fit.
        assert!(ReleaseNotes::parse(&"é".repeat(ReleaseNotes::MAX_BYTES / 2 + 1)).is_err());
        assert_eq!(
            ReleaseNotes::parse("# 2.0\n\n- faster").unwrap().as_str(),
            "# 2.0\n\n- faster"
        );
    }

    #[test]
    fn metadata_is_a_bounded_object_that_round_trips() {
        let m = ReleaseMetadata::parse(&serde_json::json!({"a": [1, 2], "b": null})).unwrap();
        assert_eq!(ReleaseMetadata::from_stored(m.as_json()).unwrap(), m);
        for bad in [serde_json::json!([1]), serde_json::json!(null)] {
            assert_eq!(ReleaseMetadata::parse(&bad).unwrap_err().field, "metadata");
        }
        let big = serde_json::json!({"k": "x".repeat(ReleaseMetadata::MAX_BYTES)});
        assert!(ReleaseMetadata::parse(&big).is_err());
        assert!(ReleaseMetadata::from_stored("not json").is_err());
    }

    #[test]
    fn changes_apply_only_what_they_name() {
        use crate::release::{Product, Release, Version};
        let mut release = Release::draft(
            Product::parse("p").unwrap(),
            Version::parse("1.0.0").unwrap(),
            None,
            Timestamp::from_unix_seconds(0),
        );
        release.notes = Some(ReleaseNotes::parse("old").unwrap());
        let keep = ReleaseChanges {
            metadata: Some(Some(
                ReleaseMetadata::parse(&serde_json::json!({"a": 1})).unwrap(),
            )),
            ..ReleaseChanges::default()
        };
        assert!(!keep.is_empty());
        keep.apply_to(&mut release);
        assert_eq!(release.notes.as_ref().unwrap().as_str(), "old");
        assert_eq!(release.metadata.as_ref().unwrap().as_json(), r#"{"a":1}"#);
        ReleaseChanges {
            channel: Some(Channel::Beta),
            notes: Some(None),
            ..ReleaseChanges::default()
        }
        .apply_to(&mut release);
        assert_eq!(release.channel, Channel::Beta);
        assert_eq!(release.notes, None);
        assert!(release.metadata.is_some());
        assert!(ReleaseChanges::default().is_empty());
    }

    #[test]
    fn yank_reasons_are_bounded_text() {
        assert_eq!(
            YankReason::parse("  CVE-2026-1 ").unwrap().as_str(),
            "CVE-2026-1"
        );
        assert_eq!(YankReason::parse(" ").unwrap_err().field, "reason");
    }
}
