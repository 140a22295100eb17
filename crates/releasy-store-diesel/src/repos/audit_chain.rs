//! What both backends share about the audit chain's head row.

use releasy_domain::audit::ChainLink;

use crate::rows::link_of;

/// The stored head (position, hash) as a link; a malformed one is a deserialization
/// error of the transaction reading it.
pub(super) fn head_link(position: i64, hash: &str) -> Result<ChainLink, diesel::result::Error> {
    link_of("audit_chain", position, hash)
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}
