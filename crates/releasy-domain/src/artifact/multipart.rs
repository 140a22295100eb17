//! Uploads in parts: how a declared size is cut into parts, and the values that name an
//! upload and its parts. S3's limits are the rules, so an upload planned here works on
//! every store: at most 10 000 parts, every part but the last at least 5 MiB, at most
//! 5 TiB in all.

use crate::ValidationError;
use crate::artifact::ArtifactSize;

/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The largest part S3 accepts; also the largest single `PUT`.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// The most parts one upload may have.
pub const MAX_PARTS: u32 = 10_000;

/// The largest object S3 stores.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// A part's position in its upload: 1 to 10 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartNumber(u32);

impl PartNumber {
    /// Checks a part number.
    ///
    /// # Errors
    /// [`ValidationError`] on `part_number` unless it is 1 to 10 000.
    pub fn parse(raw: i64) -> Result<Self, ValidationError> {
        match u32::try_from(raw) {
            Ok(n) if (1..=MAX_PARTS).contains(&n) => Ok(Self(n)),
            _ => Err(ValidationError::new(
                "part_number",
                "must be between 1 and 10000",
            )),
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// The id an object store gave an upload in parts. Opaque; at most 1024 visible ASCII
/// characters, so it can travel in a URL query and a database column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    /// Checks an upload id.
    ///
    /// # Errors
    /// [`ValidationError`] on `upload_id` when it is empty, longer than 1024 bytes, or
    /// holds anything but visible ASCII.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > 1024 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationError::new(
                "upload_id",
                "must be 1 to 1024 visible ASCII characters",
            ));
        }
        Ok(Self(raw))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an upload of a declared size travels: one `PUT`, or parts of `part_size` bytes
/// (the last one shorter or equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPlan {
    /// One `PUT` of the whole object.
    Single,
    /// `part_count` parts; each but the last holds `part_size` bytes.
    Multipart {
        /// Bytes per part.
        part_size: u64,
        /// How many parts.
        part_count: u32,
    },
}

impl UploadPlan {
    /// The plan for `size` bytes when parts are `part_size` bytes: a single `PUT` up to
    /// `part_size`, parts above it. When `part_size` would need more than 10 000 parts
    /// the parts grow, in whole MiB, to the least size that fits.
    ///
    /// ```
    /// use releasy_domain::artifact::{ArtifactSize, UploadPlan};
    ///
    /// let mib = 1024 * 1024;
    /// let size = ArtifactSize::parse(150 * mib).unwrap();
    /// assert_eq!(UploadPlan::for_size(size, 64 * mib as u64).unwrap(),
    ///     UploadPlan::Multipart { part_size: 64 * mib as u64, part_count: 3 });
    /// assert_eq!(UploadPlan::for_size(size, 200 * mib as u64).unwrap(), UploadPlan::Single);
    /// ```
    ///
    /// # Errors
    /// [`ValidationError`] on `size` above 5 TiB.
    pub fn for_size(size: ArtifactSize, part_size: u64) -> Result<Self, ValidationError> {
        let size = size.bytes();
        if size > MAX_OBJECT_SIZE {
            return Err(ValidationError::new("size", "must be at most 5 TiB"));
        }
        let part_size = part_size.clamp(MIN_PART_SIZE, MAX_PART_SIZE);
        if size <= part_size {
            return Ok(Self::Single);
        }
        const MIB: u64 = 1024 * 1024;
        let least_for_max_parts = size.div_ceil(u64::from(MAX_PARTS)).div_ceil(MIB) * MIB;
        let part_size = part_size.max(least_for_max_parts);
        let part_count = u32::try_from(size.div_ceil(part_size))
            .unwrap_or_else(|_| unreachable!("at most {MAX_PARTS} parts by construction"));
        Ok(Self::Multipart {
            part_size,
            part_count,
        })
    }
}

/// A part the store holds, as it reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// Its position.
    pub part_number: PartNumber,
    /// Its size in bytes.
    pub size: u64,
    /// Its entity tag, as the store reported it (quotes included). Some S3-compatible
    /// servers do not report it when listing parts.
    pub etag: Option<String>,
}

/// A part named by a client completing an upload: the number and the entity tag the
/// store answered its `PUT` with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// Its position.
    pub part_number: PartNumber,
    /// The `ETag` header of the part's upload.
    pub etag: String,
}

/// Checks that `parts` name every part of a `part_count`-part upload once, in order.
///
/// ```
/// use releasy_domain::artifact::{CompletedPart, PartNumber, check_completed_parts};
///
/// let part = |n| CompletedPart { part_number: PartNumber::parse(n).unwrap(), etag: "\"e\"".into() };
/// assert!(check_completed_parts(&[part(1), part(2)], 2).is_ok());
/// assert!(check_completed_parts(&[part(2), part(1)], 2).is_err());
/// assert!(check_completed_parts(&[part(1)], 2).is_err());
/// ```
///
/// # Errors
/// [`ValidationError`] on `parts` naming what is wrong.
pub fn check_completed_parts(
    parts: &[CompletedPart],
    part_count: u32,
) -> Result<(), ValidationError> {
    if parts.len() != part_count as usize {
        return Err(ValidationError::new(
            "parts",
            format!("must list all {part_count} parts of the upload"),
        ));
    }
    for (expected, part) in (1..=part_count).zip(parts) {
        if part.part_number.get() != expected {
            return Err(ValidationError::new(
                "parts",
                "must list the parts in order, each once, starting at 1",
            ));
        }
        // Printable ASCII, as S3 gives them: anything else only makes the store refuse
        // the completion document, which would read as the server's fault.
        if part.etag.trim().is_empty()
            || part.etag.len() > 1024
            || !part.etag.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ValidationError::new(
                "parts",
                "each part needs the etag its upload was answered with",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn size(bytes: u64) -> ArtifactSize {
        ArtifactSize::parse(i64::try_from(bytes).unwrap()).unwrap()
    }

    #[test]
    fn up_to_the_part_size_is_one_put() {
        assert_eq!(
            UploadPlan::for_size(size(64 * MIB), 64 * MIB).unwrap(),
            UploadPlan::Single
        );
        assert_eq!(
            UploadPlan::for_size(size(64 * MIB + 1), 64 * MIB).unwrap(),
            UploadPlan::Multipart {
                part_size: 64 * MIB,
                part_count: 2
            }
        );
    }

    #[test]
    fn part_size_stays_within_what_s3_accepts() {
        assert_eq!(
            UploadPlan::for_size(size(11 * MIB), MIB).unwrap(),
            UploadPlan::Multipart {
                part_size: 5 * MIB,
                part_count: 3
            }
        );
        assert_eq!(
            UploadPlan::for_size(size(6 * 1024 * MIB), 100 * 1024 * MIB).unwrap(),
            UploadPlan::Multipart {
                part_size: MAX_PART_SIZE,
                part_count: 2
            }
        );
    }

    #[test]
    fn parts_grow_to_fit_ten_thousand() {
        let total = 1024 * 1024 * MIB; // 1 TiB
        let UploadPlan::Multipart {
            part_size,
            part_count,
        } = UploadPlan::for_size(size(total), 64 * MIB).unwrap()
        else {
            panic!("multipart expected");
        };
        assert!(part_count <= MAX_PARTS);
        assert_eq!(part_size % MIB, 0);
        assert!(part_size * u64::from(part_count) >= total);
        assert_eq!(part_size, 105 * MIB);
    }

    #[test]
    fn more_than_five_tib_is_refused() {
        assert!(UploadPlan::for_size(size(MAX_OBJECT_SIZE), 64 * MIB).is_ok());
        assert!(UploadPlan::for_size(size(MAX_OBJECT_SIZE + 1), 64 * MIB).is_err());
    }

    #[test]
    fn part_numbers_and_upload_ids_are_checked() {
        assert!(PartNumber::parse(0).is_err());
        assert!(PartNumber::parse(10_001).is_err());
        assert_eq!(PartNumber::parse(10_000).unwrap().get(), 10_000);
        assert!(UploadId::parse("").is_err());
        assert!(UploadId::parse("a b").is_err());
        assert!(UploadId::parse("x".repeat(1025)).is_err());
        assert_eq!(UploadId::parse("2~abc=").unwrap().as_str(), "2~abc=");
    }

    #[test]
    fn completed_parts_need_etags_as_s3_gives_them() {
        let part = |etag: &str| CompletedPart {
            part_number: PartNumber::parse(1).unwrap(),
            etag: etag.into(),
        };
        for bad in [" ", "\"a\u{7}b\"", "\"ä\"", "\"a\nb\""] {
            assert!(check_completed_parts(&[part(bad)], 1).is_err(), "{bad:?}");
        }
        assert!(check_completed_parts(&[part("\"0123abcd\"")], 1).is_ok());
        assert!(check_completed_parts(&[part("W/\"x y\"")], 1).is_ok());
    }
}
