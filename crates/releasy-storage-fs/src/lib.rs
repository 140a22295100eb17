//! # releasy-storage-fs
//!
//! The embedded object store: what the server uses when no S3 storage is configured.
//! Artifacts live on local disk, and clients reach them exactly as they would reach S3:
//! through short-lived presigned URLs, which here point at the Releasy server itself.
//!
//! - [`FsObjectStore`] implements the domain's
//!   [`ObjectStore`](releasy_domain::ports::ObjectStore) port. An object with key
//!   `releases/app/1.0.0/linux/<id>/app.tgz` is the file `<root>/releases/app/1.0.0/linux/<id>/app.tgz`;
//!   uploads in progress are written to `<root>/.uploads/` and linked into place only
//!   once complete and flushed to disk, so a partial object never appears; the
//!   temporary file of an upload whose process died is removed at start and by
//!   [`FsObjectStore::remove_abandoned_uploads`].
//! - [`configure`] mounts the two routes those URLs name into an actix application:
//!   `PUT /v1/storage/{key}` receives an upload, `GET` (and `HEAD`)
//!   `/v1/storage/{key}` serves a download, with `Range` support.
//! - [`SigningKey`] signs the URLs. Instances sharing a data directory share the key
//!   through [`SigningKey::load_or_generate`], so any of them honours a URL any of
//!   them made.
//!
//! ## URLs
//!
//! `{public_base_url}/v1/storage/{key}?expires={unix seconds}{grant}&signature={sig}`
//! where `sig` is the unpadded base64url HMAC-SHA256, under the signing key, of what
//! the URL grants, one field per line: `"GET\n{key}\n{expires}"` or
//! `"PUT\n{key}\n{expires}"`; `"PUT-SIZED\n{key}\n{expires}\n{size}"` for an upload
//! of a declared size (`{grant}` is `&size=…`); `"PUT-PART\n{key}\n{expires}\n{upload
//! id}\n{part number}"` for a part of an upload in parts (`&uploadId=…&partNumber=…`).
//! The method and the grant are signed, so a download URL cannot be used to upload, an
//! upload URL cannot be used to read, and a part's URL is no other part's or a whole
//! object's. A URL is refused from its `expires` second on. Signatures are compared in
//! constant time.
//!
//! ## Keys
//!
//! Keys come from the domain's naming rule and are already sanitised; the store checks
//! them again before touching the disk and refuses an empty key, a leading `/`, a
//! backslash, an empty, `.` or `..` segment, any character outside
//! `[A-Za-z0-9._~-]` (besides the `/` separators), a first segment `.uploads` or
//! `.sha256` (where uploads arrive and digests are kept), and keys longer than 1024
//! bytes.
//!
//! ## Wiring
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use actix_web::{App, HttpServer};
//! use releasy_storage_fs::{FsObjectStore, SigningKey};
//!
//! let data_dir = std::path::PathBuf::from("releasy-data");
//! let key = SigningKey::load_or_generate(data_dir.join("storage-signing-key"))?;
//! let store = Arc::new(FsObjectStore::new(
//!     data_dir.join("objects"),
//!     "http://127.0.0.1:8080".to_owned(),
//!     key,
//! )?);
//! // `store` is also the `Arc<dyn ObjectStore>` the domain's services get.
//! let _server = HttpServer::new(move || {
//!     App::new().configure(releasy_storage_fs::configure(Arc::clone(&store)))
//! });
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod abandoned;
mod digest_record;
mod error;
mod multipart;
mod object_path;
mod part_upload;
mod responses;
mod routes;
mod signing;
mod store;
mod upload;
mod write_and_hash;

pub use abandoned::AbandonedUploads;
pub use error::{FsStoreError, InvalidKey};
pub use routes::{STORAGE_ROUTE, configure};
pub use signing::{SigningKey, SigningKeyError};
pub use store::FsObjectStore;
