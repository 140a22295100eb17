//! One decorator per repository port. Each answers its hot reads from [`Entries`]
//! and, after every write it passes on, bumps the generations of the tables the write
//! changed (whether or not the write reported success: a timed-out commit may still
//! have happened).
//!
//! [`Entries`]: crate::read_cache::entries::Entries

mod api_keys;
mod artifacts;
mod customers;
mod download_tokens;
mod entitlements;
mod releases;

pub(crate) use api_keys::CachedApiKeys;
pub(crate) use artifacts::CachedArtifacts;
pub(crate) use customers::CachedCustomers;
pub(crate) use download_tokens::CachedDownloadTokens;
pub(crate) use entitlements::CachedEntitlements;
pub(crate) use releases::CachedReleases;
