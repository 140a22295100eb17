//! The routes the store's URLs name: `PUT /v1/storage/{key}` receives an upload (once:
//! a stored object is never replaced), and `GET` or `HEAD /v1/storage/{key}` serves a
//! download (with `Range` support). Every request must carry a valid, unexpired
//! signature for its method and key.

use std::path::PathBuf;
use std::sync::Arc;

use actix_files::NamedFile;
use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, ContentDisposition, ContentEncoding, DispositionParam, DispositionType, HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::error::FsStoreError;
use crate::multipart::{self, Locked};
use crate::object_path::{self, file_name};
use crate::signing::Grant;
use crate::store::{FsObjectStore, blocking, is_absent};
use crate::upload::{self, UploadError};
use crate::{part_upload, responses};

/// The path before the object key in the store's URLs.
pub(crate) const STORAGE_PREFIX: &str = "/v1/storage/";

/// The route pattern the storage routes are mounted at.
pub const STORAGE_ROUTE: &str = "/v1/storage/{key:.*}";

/// Mounts the storage routes for `store` into an application or scope:
/// `App::new().configure(releasy_storage_fs::configure(Arc::clone(&store)))`.
///
/// The store is attached to the routes themselves, so the application needs no
/// `app_data` for it. The upload route reads the body as a stream, so the
/// application's `PayloadConfig` limit does not apply to it (see
/// [`FsObjectStore::with_max_object_size`] for a limit of its own).
pub fn configure(store: Arc<FsObjectStore>) -> impl FnOnce(&mut web::ServiceConfig) + 'static {
    move |cfg| {
        cfg.service(
            web::resource(STORAGE_ROUTE)
                .app_data(web::Data::from(store))
                .route(web::put().to(put_object))
                .route(web::get().to(get_object))
                .route(web::head().to(get_object))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// The signature parameters of a store URL, for a part's URL its upload and part, and
/// for an upload of a declared size that size.
#[derive(Debug, Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
    size: Option<u64>,
    #[serde(rename = "uploadId")]
    upload_id: Option<String>,
    #[serde(rename = "partNumber")]
    part_number: Option<u32>,
}

impl Signed {
    /// What a `PUT` through this URL may store: the whole object (of at most the size
    /// it names), or the part it names.
    fn put_grant(&self) -> Result<Grant<'_>, Denied> {
        match (&self.upload_id, self.part_number, self.size) {
            (None, None, size) => Ok(Grant::Put { size }),
            (Some(upload), Some(part), None) => Ok(Grant::Part { upload, part }),
            _ => Err(Denied),
        }
    }

    /// A download URL names nothing but its expiry.
    fn get_grant(&self) -> Result<Grant<'static>, Denied> {
        match (&self.upload_id, self.part_number, self.size) {
            (None, None, None) => Ok(Grant::Get),
            _ => Err(Denied),
        }
    }
}

/// The request's URL does not grant what it asks: answered `403`, whatever the reason.
#[derive(Debug)]
struct Denied;

/// The signature parameters of `req`'s URL.
fn signed(req: &HttpRequest) -> Result<Signed, Denied> {
    Ok(web::Query::<Signed>::from_query(req.query_string())
        .map_err(|_| Denied)?
        .into_inner())
}

/// The key and file `req` may access, when its URL's signature grants `grant` and
/// has not expired.
///
/// # Errors
/// [`Denied`] when the key is refused, the signature is wrong, or the URL has expired.
fn authorize(
    store: &FsObjectStore,
    req: &HttpRequest,
    grant: Grant<'_>,
    signed: &Signed,
) -> Result<(String, PathBuf), Denied> {
    let key = req.match_info().get("key").unwrap_or_default();
    // A key the store would refuse was never signed; say no more than for a bad signature.
    let path = object_path::object_path(store.root(), key).map_err(|_| Denied)?;
    let genuine = store
        .signing_key()
        .verify(grant, key, signed.expires, &signed.signature);
    if !genuine || store.now().unix_seconds() >= signed.expires {
        return Err(Denied);
    }
    Ok((key.to_owned(), path))
}

/// `PUT /v1/storage/{key}`: stores the body, answering `200` with an empty body, or
/// `409` when an object is stored under the key already (checked before the body is
/// read, and again, atomically, when it is placed).
async fn put_object(
    req: HttpRequest,
    store: web::Data<FsObjectStore>,
    payload: web::Payload,
) -> HttpResponse {
    let Ok(signed) = signed(&req) else {
        return responses::forbidden();
    };
    let Ok(grant) = signed.put_grant() else {
        return responses::forbidden();
    };
    let Ok((key, path)) = authorize(&store, &req, grant, &signed) else {
        return responses::forbidden();
    };
    let declared_size = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let signed_size = match grant {
        Grant::Part { upload, part } => {
            return put_part(&store, &key, upload, part, declared_size, payload).await;
        }
        Grant::Put { size } => size,
        // Never a `PUT` URL's grant.
        Grant::Get => return responses::forbidden(),
    };
    let Ok(digest_path) = object_path::digest_path(store.root(), &key) else {
        return responses::forbidden();
    };
    let probe = path.clone();
    match blocking(move || Ok(std::fs::symlink_metadata(&probe).is_ok())).await {
        Ok(true) => return responses::already_stored(),
        Ok(false) => {}
        Err(err) => return responses::store_failed(&err),
    }
    // The URL's declared size, signed in, bounds what it stores, as the store's own
    // limit does.
    let limit = match (store.max_object_size(), signed_size) {
        (Some(store_limit), Some(size)) => Some(store_limit.min(size)),
        (store_limit, size) => store_limit.or(size),
    };
    match upload::receive(&store, path, digest_path, declared_size, limit, payload).await {
        Ok(_) => HttpResponse::Ok().finish(),
        Err(err) => upload_refused(err),
    }
}

/// `PUT` of part `part` of upload `upload_id`: `200` with the part's `ETag`, `404` when
/// the upload is not open (completed, aborted, or never opened), `409` while the same
/// part is being received or the upload completed.
async fn put_part(
    store: &FsObjectStore,
    key: &str,
    upload_id: &str,
    part: u32,
    declared_size: Option<u64>,
    payload: web::Payload,
) -> HttpResponse {
    let uploads = store.uploads_dir().to_path_buf();
    let Ok(object) = object_path::object_path(store.root(), key) else {
        return responses::upload_not_found();
    };
    let (id, wanted) = (upload_id.to_owned(), key.to_owned());
    let open = match blocking(move || multipart::open(&uploads, &id, &wanted, object)).await {
        Ok(Some(open)) => open,
        Ok(None) => return responses::upload_not_found(),
        Err(err) => return responses::store_failed(&err),
    };
    let locked = open.clone();
    let receiving = match blocking(move || multipart::lock_part(&locked, part)).await {
        Ok(Locked::Held(guard)) => guard,
        Ok(Locked::Busy) => return responses::part_busy(),
        Ok(Locked::Gone) => return responses::upload_not_found(),
        Err(err) => return responses::store_failed(&err),
    };
    match part_upload::receive_part(open, part, declared_size, receiving, payload).await {
        Ok(etag) => HttpResponse::Ok()
            .insert_header((header::ETAG, etag))
            .finish(),
        // Aborted (or swept) while the part arrived: its files went with it.
        Err(UploadError::Store(FsStoreError::Io { source, .. })) if is_absent(&source) => {
            responses::upload_not_found()
        }
        Err(err) => upload_refused(err),
    }
}

/// The answer to an upload (or part) that was not stored.
fn upload_refused(err: UploadError) -> HttpResponse {
    match err {
        UploadError::AlreadyStored => responses::already_stored(),
        UploadError::TooLarge(limit) => responses::too_large(limit),
        UploadError::Interrupted(actix_web::error::PayloadError::Io(err))
            if err.kind() == std::io::ErrorKind::TimedOut =>
        {
            // The server's body idle limit cut the upload off.
            tracing::info!(error = %err, "upload stalled; nothing stored");
            responses::upload_stalled()
        }
        UploadError::Interrupted(err) => {
            tracing::info!(error = %err, "upload interrupted; nothing stored");
            responses::upload_interrupted()
        }
        UploadError::Store(err) => responses::store_failed(&err),
    }
}

/// `GET` and `HEAD /v1/storage/{key}`: the object, streamed from disk, honouring
/// `Range`, offered as an attachment named after the key's last segment.
async fn get_object(req: HttpRequest, store: web::Data<FsObjectStore>) -> HttpResponse {
    let authorized =
        signed(&req).and_then(|signed| authorize(&store, &req, signed.get_grant()?, &signed));
    let Ok((key, path)) = authorized else {
        return responses::forbidden();
    };
    match blocking(move || open_object(path)).await {
        Ok(Some(file)) => {
            let disposition = ContentDisposition {
                disposition: DispositionType::Attachment,
                parameters: vec![DispositionParam::Filename(file_name(&key).to_owned())],
            };
            let mut response = file
                .set_content_disposition(disposition)
                // Marks the bytes as final, so a compression middleware leaves them
                // (and their ranges) alone.
                .set_content_encoding(ContentEncoding::Identity)
                .into_response(&req);
            // A link dies with its token: no shared cache (a CDN caches installers
            // by their extension) may go on serving it, nor a browser keep it.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private, no-store"),
            );
            response
        }
        Ok(None) => responses::object_not_found(),
        Err(err) => responses::store_failed(&err),
    }
}

/// Opens the object's file, or `None` when nothing (or a directory) is there.
fn open_object(path: PathBuf) -> Result<Option<NamedFile>, FsStoreError> {
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(err) if is_absent(&err) => return Ok(None),
        Err(err) => return Err(FsStoreError::io("opening", path, err)),
    };
    let is_file = file
        .metadata()
        .map_err(|e| FsStoreError::io("reading metadata of", &path, e))?
        .is_file();
    if !is_file {
        return Ok(None);
    }
    NamedFile::from_file(file, &path)
        .map(Some)
        .map_err(|e| FsStoreError::io("opening", path, e))
}

/// Any other method on a storage URL.
async fn method_not_allowed() -> HttpResponse {
    let mut response = responses::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "storage URLs accept GET, HEAD and PUT",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, PUT"));
    response
}
