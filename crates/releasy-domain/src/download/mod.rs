//! Download tokens: short-lived bearer links to one artifact for one customer.

mod token;

pub use token::{DownloadToken, DownloadTokenSecret, TokenTtl};
