//! Artifacts: the files of a release, stored under a key derived from the release.

mod model;
mod object_key;
mod service;

pub use model::{Artifact, ArtifactSize, Checksum, Filename, Platform};
pub use object_key::{ObjectKey, normalize_segment};
pub use service::{
    ArtifactService, PresignError, PresignedUpload, RegisterArtifact, RegisterArtifactError,
};
