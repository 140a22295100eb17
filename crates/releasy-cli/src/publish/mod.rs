//! The vendor's pipeline, shared by `publish`, `artifact upload` and the `release`
//! commands: local files and their digests, idempotency keys, finding or creating the
//! release, uploading and registering artifacts, publishing.
//!
//! Re-running after a failure is safe at every step: an existing release is reused, a
//! file already registered is skipped, presign and register requests carry
//! idempotency keys derived from the release, platform, file name and sha256 (so a
//! retry gets the first answer back), and "already published" counts as success.

mod artifacts;
mod files;
mod keys;
mod part_urls;
mod parts;
mod release;

pub use artifacts::{ArtifactOutcome, UploadResult, upload_all};
pub use files::{LocalFile, parse_file_spec};
pub use release::{
    Published, ensure_release, publish_release, publish_when_verified, release_id, resolve_release,
};
