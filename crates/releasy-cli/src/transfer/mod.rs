//! Moving bytes: hashing files, streamed uploads to presigned URLs, resumable
//! downloads, and the progress shown meanwhile. Files are always streamed in chunks,
//! never read whole into memory.

mod download;
mod hash;
mod progress;
mod upload;

pub use download::{Fetch, fetch};
pub use hash::{CHUNK, hash_file, hex};
pub use progress::{Progress, ProgressMode};
pub use upload::{put_file, put_part};
