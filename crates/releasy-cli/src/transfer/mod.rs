//! Moving bytes: hashing files, streamed uploads to presigned URLs, resumable
//! downloads, and the progress shown meanwhile. Files are always streamed in chunks,
//! never read whole into memory.

mod download;
mod hash;
mod no_follow;
mod progress;
mod upload;

pub use download::{Fetch, Fetched, fetch};
pub use hash::{CHUNK, hash_file, hex};
pub use no_follow::no_follow;
pub use progress::{Progress, ProgressMode};
pub use upload::{put_file, put_part};
