//! The object-store contract suite: what every implementation of the
//! [`ObjectStore`] port (the embedded store, the S3 store on any S3-compatible server)
//! must do, checked through real presigned requests sent with an HTTP client.
//!
//! Each check makes its own keys, so all can share one store. A server known to be
//! lenient where S3 is strict is described by [`Leniency`]; the checks of that
//! strictness then run only where it holds, and the server's test says why.

use std::sync::Arc;

use releasy_domain::Timestamp;
use releasy_domain::artifact::{
    Checksum, CompletedPart, MIN_PART_SIZE, ObjectKey, PartNumber, UploadId,
};
use releasy_domain::ports::{CompleteMultipartError, DeclaredObject, ObjectStore, PresignedPut};

/// Where a server under test is more lenient than S3.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leniency {
    /// Completes an upload whatever entity tags the parts are named with (and forgets
    /// the upload when a completion fails): s3s-fs.
    pub ignores_part_etags: bool,
    /// Lists the parts of an upload it does not know (completed, aborted) as none,
    /// where S3 answers `404 NoSuchUpload`: s3s-fs.
    pub lists_unknown_uploads_as_empty: bool,
    /// Answers another error when asked to complete (s3s-fs, moto) or abort (s3s-fs)
    /// an upload it does not know, where S3 answers `404 NoSuchUpload`: s3s-fs answers
    /// 403 `AccessDenied`, moto 500.
    pub misreports_unknown_uploads: bool,
    /// Stores a body sent with a signed `x-amz-checksum-sha256` that does not match it,
    /// where S3 answers 400 `BadDigest`: moto.
    pub accepts_wrong_checksums: bool,
    /// Answers 400 `BadDigest` to a body whose signed `x-amz-checksum-sha256` does not
    /// match it, yet stores the body, where S3 stores nothing: s3s-fs.
    pub keeps_refused_bodies: bool,
}

/// The store under test and the clock its URLs are checked against.
#[derive(Debug, Clone)]
pub struct StoreUnderTest {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The time its URLs are made at.
    pub now: Timestamp,
    /// Where it is lenient.
    pub leniency: Leniency,
}

/// Runs every check; panics on the first broken promise.
pub async fn run_all(subject: StoreUnderTest) {
    let client = reqwest::Client::new();
    let checks = Checks { subject, client };
    eprintln!("object store check: single_upload_round_trip");
    checks.single_upload_round_trip().await;
    eprintln!("object store check: parts_are_listed_and_joined_in_order");
    checks.parts_are_listed_and_joined_in_order().await;
    eprintln!("object store check: a_part_sent_again_replaces_the_first");
    checks.a_part_sent_again_replaces_the_first().await;
    eprintln!("object store check: an_aborted_upload_is_gone");
    checks.an_aborted_upload_is_gone().await;
    eprintln!("object store check: a_recorded_digest_is_always_the_bytes_digest");
    checks.a_recorded_digest_is_always_the_bytes_digest().await;
    if !checks.subject.leniency.ignores_part_etags {
        eprintln!("object store check: a_wrong_etag_is_refused_and_the_upload_stays_open");
        checks
            .a_wrong_etag_is_refused_and_the_upload_stays_open()
            .await;
    }
}

struct Checks {
    subject: StoreUnderTest,
    client: reqwest::Client,
}

/// A fresh key following the naming rule's shape.
fn fresh_key(name: &str) -> ObjectKey {
    ObjectKey::from_stored(format!(
        "releases/contract/1.0.0/linux/{}/{name}",
        uuid::Uuid::new_v4()
    ))
}

/// Deterministic bytes that differ from part to part.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

impl Checks {
    fn store(&self) -> &dyn ObjectStore {
        self.subject.store.as_ref()
    }

    /// `PUT`s `body` to `url`; returns the response's `ETag`.
    async fn put(&self, url: &str, body: Vec<u8>) -> Option<String> {
        let response = self
            .client
            .put(url)
            .body(body)
            .send()
            .await
            .expect("the store answers a PUT");
        assert!(
            response.status().is_success(),
            "PUT to a presigned URL answered {}: {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
        response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// `PUT`s `body` to a presigned `PUT` with its headers; returns the status.
    async fn put_with_headers(&self, put: &PresignedPut, body: Vec<u8>) -> reqwest::StatusCode {
        let mut request = self.client.put(&put.url.url).body(body);
        for (name, value) in &put.headers {
            request = request.header(name, value);
        }
        request
            .send()
            .await
            .expect("the store answers a PUT")
            .status()
    }

    async fn get(&self, key: &ObjectKey) -> Vec<u8> {
        let url = self
            .store()
            .presign_get(key, self.subject.now, 600)
            .await
            .expect("presign_get");
        let response = self
            .client
            .get(&url.url)
            .send()
            .await
            .expect("a GET answer");
        assert!(
            response.status().is_success(),
            "GET answered {}",
            response.status()
        );
        response.bytes().await.expect("the body").to_vec()
    }

    async fn start(&self, key: &ObjectKey) -> UploadId {
        self.store()
            .start_multipart(key, MIN_PART_SIZE)
            .await
            .expect("start_multipart")
    }

    /// Uploads `body` as part `number`; returns the part as a completion names it.
    async fn put_part(
        &self,
        key: &ObjectKey,
        upload: &UploadId,
        number: i64,
        body: Vec<u8>,
    ) -> CompletedPart {
        let part_number = PartNumber::parse(number).expect("a part number");
        let url = self
            .store()
            .presign_part(key, upload, part_number, self.subject.now, 900)
            .await
            .expect("presign_part");
        let etag = self
            .put(&url.url, body)
            .await
            .expect("a part's PUT answers with its ETag");
        CompletedPart { part_number, etag }
    }

    /// Asserts that the store no longer lists `upload` (see [`Leniency`]).
    async fn assert_closed(&self, key: &ObjectKey, upload: &UploadId, what: &str) {
        let listed = self
            .store()
            .list_parts(key, upload)
            .await
            .expect("list_parts");
        let lenient = self.subject.leniency.lists_unknown_uploads_as_empty
            && listed.as_ref().is_some_and(Vec::is_empty);
        assert!(listed.is_none() || lenient, "{what}: listed {listed:?}");
    }

    /// One presigned `PUT`, then `head`, `sha256`, a presigned `GET` and `delete`.
    async fn single_upload_round_trip(&self) {
        let key = fresh_key("single.bin");
        let body = bytes(1000, 1);
        let url = self
            .store()
            .presign_put(&key, self.subject.now, 900)
            .await
            .expect("presign_put");
        self.put(&url.url, body.clone()).await;
        let meta = self.store().head(&key).await.expect("head");
        assert_eq!(meta.map(|m| m.size), Some(1000), "head reports the size");
        let recorded = self
            .store()
            .recorded_sha256(&key)
            .await
            .expect("recorded_sha256");
        assert!(
            recorded.is_none() || recorded == Some(Checksum::of_bytes(&body)),
            "a digest recorded for a plain PUT is the bytes' digest: {recorded:?}"
        );
        assert_eq!(
            self.store().sha256(&key).await.expect("sha256"),
            Some(Checksum::of_bytes(&body)),
            "sha256 is the digest of what was PUT"
        );
        assert_eq!(self.get(&key).await, body, "GET returns the bytes");
        self.store().delete(&key).await.expect("delete");
        assert_eq!(self.store().head(&key).await.expect("head"), None);
        assert_eq!(self.store().sha256(&key).await.expect("sha256"), None);
        assert_eq!(
            self.store()
                .recorded_sha256(&key)
                .await
                .expect("recorded_sha256"),
            None,
            "a deleted object has no recorded digest"
        );
        self.store()
            .delete(&key)
            .await
            .expect("deleting a missing object succeeds");
    }

    /// A `PUT` presigned for a declared SHA-256: a store that checks bodies (its `PUT`
    /// carries headers) refuses any other body and stores nothing; one that does not
    /// stores it and records its real digest. Either way the declared digest is never
    /// recorded for other bytes, and is recorded for the right ones.
    async fn a_recorded_digest_is_always_the_bytes_digest(&self) {
        let body = bytes(1000, 7);
        let declared = Checksum::of_bytes(&body);
        let other = bytes(1000, 8);

        let key = fresh_key("checked-wrong.bin");
        let put = self
            .store()
            .presign_put_with(
                &key,
                self.subject.now,
                900,
                DeclaredObject {
                    checksum: Some(&declared),
                    size: None,
                },
            )
            .await
            .expect("presign_put_with");
        let status = self.put_with_headers(&put, other.clone()).await;
        let store_checks =
            !put.headers.is_empty() && !self.subject.leniency.accepts_wrong_checksums;
        if store_checks {
            assert_eq!(
                status,
                reqwest::StatusCode::BAD_REQUEST,
                "a wrong body is refused"
            );
            if self.subject.leniency.keeps_refused_bodies {
                let recorded = self
                    .store()
                    .recorded_sha256(&key)
                    .await
                    .expect("recorded_sha256");
                assert_ne!(recorded, Some(declared), "never the declared digest");
                self.store().delete(&key).await.expect("delete");
            } else {
                assert_eq!(
                    self.store().head(&key).await.expect("head"),
                    None,
                    "a refused body is not stored"
                );
            }
        } else {
            assert!(status.is_success(), "PUT answered {status}");
            let recorded = self
                .store()
                .recorded_sha256(&key)
                .await
                .expect("recorded_sha256");
            assert_ne!(recorded, Some(declared), "never the declared digest");
            assert!(
                recorded.is_none() || recorded == Some(Checksum::of_bytes(&other)),
                "a recorded digest is the bytes' own: {recorded:?}"
            );
            self.store().delete(&key).await.expect("delete");
        }

        let key = fresh_key("checked-right.bin");
        let put = self
            .store()
            .presign_put_with(
                &key,
                self.subject.now,
                900,
                DeclaredObject {
                    checksum: Some(&declared),
                    size: None,
                },
            )
            .await
            .expect("presign_put_with");
        let status = self.put_with_headers(&put, body.clone()).await;
        assert!(status.is_success(), "the declared body is stored: {status}");
        let recorded = self
            .store()
            .recorded_sha256(&key)
            .await
            .expect("recorded_sha256");
        if store_checks || put.headers.is_empty() {
            assert_eq!(
                recorded,
                Some(declared),
                "a store that checks or hashes bodies records the digest"
            );
        } else {
            assert!(
                recorded.is_none() || recorded == Some(declared),
                "a recorded digest is the bytes' own: {recorded:?}"
            );
        }
        assert_eq!(self.get(&key).await, body);
        self.store().delete(&key).await.expect("delete");
    }

    /// Parts uploaded out of order are listed by number with their sizes (and their
    /// `PUT`'s ETag where the store reports one) and joined in order; the upload is
    /// then closed.
    async fn parts_are_listed_and_joined_in_order(&self) {
        let key = fresh_key("parts.bin");
        let upload = self.start(&key).await;
        let first = bytes(MIN_PART_SIZE as usize, 2);
        let last = bytes(4321, 3);
        let two = self.put_part(&key, &upload, 2, last.clone()).await;
        let one = self.put_part(&key, &upload, 1, first.clone()).await;
        let listed = self
            .store()
            .list_parts(&key, &upload)
            .await
            .expect("list_parts")
            .expect("the upload is open");
        let summary: Vec<(u32, u64)> = listed
            .iter()
            .map(|p| (p.part_number.get(), p.size))
            .collect();
        assert_eq!(summary, [(1, MIN_PART_SIZE), (2, 4321)], "parts by number");
        for (listed, sent) in listed.iter().zip([&one, &two]) {
            if let Some(etag) = &listed.etag {
                assert_eq!(
                    etag, &sent.etag,
                    "a listed ETag is the one the PUT answered"
                );
            }
        }
        assert_eq!(
            self.store().head(&key).await.expect("head"),
            None,
            "no object before completion"
        );
        self.store()
            .complete_multipart(&key, &upload, &[one, two])
            .await
            .expect("complete_multipart");
        let mut whole = first;
        whole.extend_from_slice(&last);
        assert_eq!(
            self.store().sha256(&key).await.expect("sha256"),
            Some(Checksum::of_bytes(&whole)),
            "the object is the parts in order"
        );
        assert_eq!(self.get(&key).await.len(), whole.len());
        self.assert_closed(&key, &upload, "a completed upload is closed")
            .await;
        self.store().delete(&key).await.expect("delete");
    }

    /// Sending a part again replaces it: the later bytes are the ones joined.
    async fn a_part_sent_again_replaces_the_first(&self) {
        let key = fresh_key("again.bin");
        let upload = self.start(&key).await;
        self.put_part(&key, &upload, 1, bytes(100, 4)).await;
        let again = bytes(200, 5);
        let part = self.put_part(&key, &upload, 1, again.clone()).await;
        let listed = self
            .store()
            .list_parts(&key, &upload)
            .await
            .expect("list_parts")
            .expect("open");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].size, 200);
        self.store()
            .complete_multipart(&key, &upload, &[part])
            .await
            .expect("complete_multipart");
        assert_eq!(
            self.store().sha256(&key).await.expect("sha256"),
            Some(Checksum::of_bytes(&again))
        );
        self.store().delete(&key).await.expect("delete");
    }

    /// An aborted upload is not listed, cannot be completed, and aborting it again
    /// succeeds.
    async fn an_aborted_upload_is_gone(&self) {
        let key = fresh_key("aborted.bin");
        let upload = self.start(&key).await;
        let part = self.put_part(&key, &upload, 1, bytes(10, 6)).await;
        self.store()
            .abort_multipart(&key, &upload)
            .await
            .expect("abort_multipart");
        self.assert_closed(&key, &upload, "an aborted upload is closed")
            .await;
        let completed = self
            .store()
            .complete_multipart(&key, &upload, &[part])
            .await;
        let refused_as_s3_does = matches!(completed, Err(CompleteMultipartError::UploadNotFound));
        let lenient = self.subject.leniency.misreports_unknown_uploads
            && matches!(completed, Err(CompleteMultipartError::Store(_)));
        assert!(
            refused_as_s3_does || lenient,
            "completing an aborted upload: {completed:?}"
        );
        assert_eq!(self.store().head(&key).await.expect("head"), None);
        let again = self.store().abort_multipart(&key, &upload).await;
        assert!(
            again.is_ok() || self.subject.leniency.misreports_unknown_uploads,
            "aborting again succeeds: {again:?}"
        );
    }

    /// A completion naming a part with another ETag is refused, and the upload stays
    /// open for a right one.
    async fn a_wrong_etag_is_refused_and_the_upload_stays_open(&self) {
        let key = fresh_key("etag.bin");
        let upload = self.start(&key).await;
        let part = self.put_part(&key, &upload, 1, bytes(10, 7)).await;
        let wrong = CompletedPart {
            etag: "\"0123456789abcdef0123456789abcdef\"".to_owned(),
            ..part.clone()
        };
        let refused = self
            .store()
            .complete_multipart(&key, &upload, &[wrong])
            .await;
        assert!(
            matches!(refused, Err(CompleteMultipartError::PartsRejected(_))),
            "a wrong ETag: {refused:?}"
        );
        assert!(
            self.store()
                .list_parts(&key, &upload)
                .await
                .expect("list_parts")
                .is_some(),
            "the upload stays open"
        );
        self.store()
            .complete_multipart(&key, &upload, &[part])
            .await
            .expect("the right ETag completes it");
        self.store().delete(&key).await.expect("delete");
    }
}
