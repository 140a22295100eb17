//! The record of an upload that was presigned and not yet registered: what the sweeper
//! cleans when it is abandoned, and what registration checks a multipart upload against.

use crate::artifact::{
    ArtifactSize, Checksum, CompletedPart, ObjectKey, PartNumber, UploadId, UploadedPart,
};
use crate::{ArtifactId, ReleaseId, Timestamp};

/// An upload in parts, as the store opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The store's id for it.
    pub upload_id: UploadId,
    /// Bytes per part (the last one may be shorter).
    pub part_size: u64,
    /// How many parts make the whole.
    pub part_count: u32,
}

impl MultipartUpload {
    /// The size part `part` must have in an upload of `total` bytes: the part size, the
    /// rest for the last part; `None` past the last part.
    pub fn planned_size(&self, total: u64, part: PartNumber) -> Option<u64> {
        let index = u64::from(part.get().checked_sub(1)?);
        let start = index.checked_mul(self.part_size)?;
        (start < total).then(|| (total - start).min(self.part_size))
    }

    /// The first of the `named` parts that the store holds (`held`, as it lists them)
    /// with another size than planned for an upload of `total` bytes, and the size it
    /// must have. A part the store does not list is left to the store's completion.
    ///
    /// ```
    /// use releasy_domain::artifact::{CompletedPart, MultipartUpload, PartNumber, UploadId, UploadedPart};
    ///
    /// let upload = MultipartUpload { upload_id: UploadId::parse("u").unwrap(), part_size: 10, part_count: 2 };
    /// let n = |n| PartNumber::parse(n).unwrap();
    /// let held = [
    ///     UploadedPart { part_number: n(1), size: 4, etag: None },
    ///     UploadedPart { part_number: n(2), size: 5, etag: None },
    /// ];
    /// let named: Vec<CompletedPart> = (1..=2)
    ///     .map(|i| CompletedPart { part_number: n(i), etag: "\"e\"".into() })
    ///     .collect();
    /// // Part 1 was sent short: 4 bytes where 10 belong.
    /// assert_eq!(upload.wrongly_sized(15, &held, &named), Some((n(1), 10)));
    /// ```
    pub fn wrongly_sized(
        &self,
        total: u64,
        held: &[UploadedPart],
        named: &[CompletedPart],
    ) -> Option<(PartNumber, u64)> {
        named.iter().find_map(|part| {
            let stored = held.iter().find(|h| h.part_number == part.part_number)?;
            let planned = self.planned_size(total, part.part_number).unwrap_or(0);
            (stored.size != planned).then_some((part.part_number, planned))
        })
    }
}

/// A presigned, unregistered upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The id the artifact will be registered under.
    pub artifact_id: ArtifactId,
    /// The release it was presigned for.
    pub release_id: ReleaseId,
    /// Where its bytes go.
    pub object_key: ObjectKey,
    /// The size declared at presign, if any.
    pub size: Option<ArtifactSize>,
    /// The SHA-256 declared at presign, if any.
    pub checksum: Option<Checksum>,
    /// The upload in parts, when the size called for one.
    pub multipart: Option<MultipartUpload>,
    /// When it was presigned.
    pub created_at: Timestamp,
    /// When an abort ended it: an ended upload is neither resumed, aborted again nor
    /// registered (409), and the sweeper frees its bytes once more when its TTL is over
    /// (a URL handed out before the abort may have stored them meanwhile), then removes
    /// the record.
    pub ended_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload() -> MultipartUpload {
        MultipartUpload {
            upload_id: UploadId::parse("u").unwrap(),
            part_size: 10,
            part_count: 3,
        }
    }

    fn n(number: i64) -> PartNumber {
        PartNumber::parse(number).unwrap()
    }

    fn held(number: i64, size: u64) -> UploadedPart {
        UploadedPart {
            part_number: n(number),
            size,
            etag: None,
        }
    }

    fn named(numbers: std::ops::RangeInclusive<i64>) -> Vec<CompletedPart> {
        numbers
            .map(|i| CompletedPart {
                part_number: n(i),
                etag: "\"e\"".into(),
            })
            .collect()
    }

    #[test]
    fn the_last_part_holds_the_rest() {
        assert_eq!(upload().planned_size(25, n(1)), Some(10));
        assert_eq!(upload().planned_size(25, n(3)), Some(5));
        assert_eq!(upload().planned_size(25, n(4)), None);
    }

    #[test]
    fn a_part_of_another_size_than_planned_is_named() {
        let whole = [held(1, 10), held(2, 10), held(3, 5)];
        assert_eq!(upload().wrongly_sized(25, &whole, &named(1..=3)), None);
        let short_middle = [held(1, 10), held(2, 9), held(3, 5)];
        assert_eq!(
            upload().wrongly_sized(25, &short_middle, &named(1..=3)),
            Some((n(2), 10))
        );
        let long_last = [held(1, 10), held(2, 10), held(3, 6)];
        assert_eq!(
            upload().wrongly_sized(25, &long_last, &named(1..=3)),
            Some((n(3), 5))
        );
        // What the store does not list is the store's to refuse.
        assert_eq!(
            upload().wrongly_sized(25, &[held(1, 10)], &named(1..=3)),
            None
        );
    }
}
