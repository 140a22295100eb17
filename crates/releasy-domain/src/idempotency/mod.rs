//! Idempotent creation: a client retrying with the same `Idempotency-Key` gets the
//! first response back instead of a second record.

mod model;
mod service;

pub use model::{IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse};
pub use service::{
    ABANDONED_AFTER_SECONDS, Begin, IdempotencyError, IdempotencyService, RETENTION_SECONDS,
};
