//! A recorded SHA-256 and the object it was computed for. The digest file names the
//! object's inode, size and last write beside the digest, and is read only for that
//! object: a digest a delete failed to remove, or one recorded just after a concurrent
//! delete, never vouches for other bytes stored under the key later (even in a file
//! given the freed inode, unless of the same size and written within the same tick of
//! the file system's clock), whose digest is then read through, not trusted.

use std::fs::Metadata;

use releasy_domain::artifact::Checksum;

/// Which file an object is, as far as a recorded digest is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectIdentity {
    inode: u64,
    size: u64,
    modified_nanos: i128,
}

impl ObjectIdentity {
    /// The identity of the file `metadata` describes (the object, or the file about to
    /// be linked as the object: a link keeps the inode, size and last write).
    pub(crate) fn of(metadata: &Metadata) -> Self {
        #[cfg(unix)]
        let (inode, modified_nanos) = {
            use std::os::unix::fs::MetadataExt as _;
            (
                metadata.ino(),
                i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec()),
            )
        };
        #[cfg(not(unix))]
        let (inode, modified_nanos) = (
            0,
            metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128),
        );
        Self {
            inode,
            size: metadata.len(),
            modified_nanos,
        }
    }

    /// The digest file's text for `digest` of this object.
    pub(crate) fn record(self, digest: &Checksum) -> String {
        format!(
            "{} {} {} {}\n",
            digest.as_str(),
            self.inode,
            self.size,
            self.modified_nanos
        )
    }

    /// The digest `text` records for this object; `None` when it records one for
    /// another file, or is not a record (a digest file of an earlier version, which
    /// held the digest alone, is read through once more).
    pub(crate) fn recorded_in(self, text: &str) -> Option<Checksum> {
        let mut fields = text.split_ascii_whitespace();
        let digest = Checksum::parse(fields.next()?).ok()?;
        let inode = fields.next()?.parse::<u64>().ok()?;
        let size = fields.next()?.parse::<u64>().ok()?;
        let modified_nanos = fields.next()?.parse::<i128>().ok()?;
        let recorded = Self {
            inode,
            size,
            modified_nanos,
        };
        (fields.next().is_none() && recorded == self).then_some(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(inode: u64, size: u64, modified_nanos: i128) -> ObjectIdentity {
        ObjectIdentity {
            inode,
            size,
            modified_nanos,
        }
    }

    #[test]
    fn a_digest_is_read_for_the_object_it_was_recorded_for_only() {
        let digest = Checksum::of_bytes(b"the bytes");
        let object = identity(42, 9, 1_765_000_000_123_456_789);
        let text = object.record(&digest);
        assert_eq!(object.recorded_in(&text), Some(digest));
        for other in [
            identity(43, 9, 1_765_000_000_123_456_789),
            identity(42, 10, 1_765_000_000_123_456_789),
            identity(42, 9, 1_765_000_000_123_456_790),
        ] {
            assert_eq!(other.recorded_in(&text), None, "{other:?}");
        }
        // The digest alone (as recorded before the identity was) is read through.
        assert_eq!(object.recorded_in(digest.as_str()), None);
        assert_eq!(object.recorded_in(&format!("{} extra", text.trim())), None);
        assert_eq!(object.recorded_in("garbage 42 9 1"), None);
    }

    #[test]
    fn a_file_reads_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        std::fs::write(&path, b"bytes").unwrap();
        let before = ObjectIdentity::of(&std::fs::metadata(&path).unwrap());
        let linked = dir.path().join("linked");
        std::fs::hard_link(&path, &linked).unwrap();
        assert_eq!(
            ObjectIdentity::of(&std::fs::metadata(&linked).unwrap()),
            before
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"other bytes").unwrap();
        assert_ne!(
            ObjectIdentity::of(&std::fs::metadata(&path).unwrap()),
            before
        );
    }
}
