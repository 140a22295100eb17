//! Download tokens: short-lived bearer links to one artifact for one customer.

mod grant;
mod service;
mod token;

pub use grant::{DownloadGrant, ResolveRefusal};
pub use service::{
    DownloadPorts, DownloadService, IssueTokenError, IssuedToken, MAX_PURPOSE_CHARS, ResolveError,
};
pub use token::{DownloadToken, DownloadTokenSecret, MaxUses, TokenTtl};
