//! `ListParts`, which rust-s3 does not offer: a `GET ?uploadId=` presigned by rust-s3
//! (so signed exactly as its other requests), sent with reqwest, its XML read with
//! quick-xml, page after page.

use std::collections::HashMap;

use releasy_domain::artifact::{PartNumber, UploadId, UploadedPart};
use releasy_domain::ports::StoreError;
use s3::Bucket;
use serde::Deserialize;

/// How long the presigned `ListParts` request stays valid: it is sent at once.
const LIST_EXPIRES_SECONDS: u32 = 60;

/// The most pages read: S3 allows 10 000 parts, and each page holds at least one, so
/// a store that asks for more is going round in circles (markers must grow as well).
const MAX_PAGES: usize = 10_000;

/// The highest part number S3 allows.
const MAX_PART_NUMBER: u32 = 10_000;

/// One page of S3's `ListPartsResult`.
#[derive(Debug, Deserialize)]
struct ListPartsResult {
    #[serde(rename = "IsTruncated", default)]
    is_truncated: bool,
    #[serde(rename = "NextPartNumberMarker", default)]
    next_part_number_marker: Option<u32>,
    #[serde(rename = "Part", default)]
    parts: Vec<PartXml>,
}

#[derive(Debug, Deserialize)]
struct PartXml {
    #[serde(rename = "PartNumber")]
    part_number: i64,
    #[serde(rename = "ETag", default)]
    etag: Option<String>,
    #[serde(rename = "Size")]
    size: u64,
}

/// Every part S3 holds for `upload` of `key`, by part number, or `None` when S3 knows
/// no such upload (`404 NoSuchUpload`). A missing bucket, a server error (503
/// `SlowDown` is [`StoreError::Unavailable`], as for every other request) and a page
/// that claims more without saying where it continues are errors.
pub(crate) async fn list_parts(
    bucket: &Bucket,
    client: &reqwest::Client,
    key: &str,
    upload: &UploadId,
) -> Result<Option<Vec<UploadedPart>>, StoreError> {
    let mut parts = Vec::new();
    let mut marker: Option<u32> = None;
    for _ in 0..MAX_PAGES {
        let mut queries = HashMap::from([("uploadId".to_owned(), upload.as_str().to_owned())]);
        if let Some(marker) = marker {
            queries.insert("part-number-marker".to_owned(), marker.to_string());
        }
        let url = bucket
            .presign_get(key, LIST_EXPIRES_SECONDS, Some(queries))
            .await
            .map_err(crate::store::store_error)?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(crate::store::transport_error)?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(crate::store::transport_error)?;
        if status == reqwest::StatusCode::NOT_FOUND && !body.contains("NoSuchBucket") {
            return Ok(None);
        }
        if !status.is_success() {
            let failure = format!("ListParts answered {status}: {}", snippet(&body)).into();
            // A missing bucket is a 503 here as at a HEAD: the store is not there.
            return Err(
                if crate::store::is_transient_status(status.as_u16())
                    || body.contains("NoSuchBucket")
                {
                    StoreError::Unavailable(failure)
                } else {
                    StoreError::Internal(failure)
                },
            );
        }
        let page: ListPartsResult =
            quick_xml::de::from_str(&body).map_err(|e| StoreError::Internal(Box::new(e)))?;
        let on_page = page.parts.len();
        for part in page.parts {
            let part_number = PartNumber::parse(part.part_number)
                .map_err(|e| StoreError::Internal(Box::new(e)))?;
            parts.push(UploadedPart {
                part_number,
                size: part.size,
                etag: part.etag.filter(|etag| !etag.is_empty()),
            });
        }
        match next_marker(
            page.is_truncated,
            on_page,
            page.next_part_number_marker,
            marker,
        )? {
            Some(next) => marker = Some(next),
            None => {
                parts.sort_by_key(|p| p.part_number);
                parts.dedup_by_key(|p| p.part_number);
                return Ok(Some(parts));
            }
        }
    }
    Err(StoreError::Internal(
        format!("ListParts did not end within {MAX_PAGES} pages").into(),
    ))
}

/// Where the next page starts (`None`: this was the last), after a page holding
/// `on_page` parts. Part numbers only grow from page to page, up to S3's 10 000, and a
/// page that says more follow holds some; a store that pages otherwise is going round
/// in circles, and a partial list taken for the whole would hide parts from the size
/// checks.
fn next_marker(
    truncated: bool,
    on_page: usize,
    next: Option<u32>,
    previous: Option<u32>,
) -> Result<Option<u32>, StoreError> {
    let refuse = |why: &str| Err(StoreError::Internal(format!("ListParts {why}").into()));
    match (truncated, next) {
        (false, _) => Ok(None),
        (true, None) => refuse("said more parts follow but not after which"),
        (true, Some(_)) if on_page == 0 => refuse("said more parts follow after an empty page"),
        (true, Some(next)) if next > MAX_PART_NUMBER => refuse("named a part number past 10 000"),
        (true, Some(next)) if previous.is_some_and(|previous| next <= previous) => {
            refuse("continued from a part number it had passed")
        }
        (true, Some(next)) => Ok(Some(next)),
    }
}

/// The start of an error body, for the log.
fn snippet(body: &str) -> &str {
    let end = body
        .char_indices()
        .nth(300)
        .map_or(body.len(), |(index, _)| index);
    &body[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_s3_list_parts_results() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>
  <PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>
  <MaxParts>1000</MaxParts><IsTruncated>true</IsTruncated>
  <Part><PartNumber>1</PartNumber><LastModified>2026-12-03T00:00:00.000Z</LastModified>
    <ETag>"a1"</ETag><Size>5242880</Size></Part>
  <Part><PartNumber>2</PartNumber><ETag>"b2"</ETag><Size>7</Size></Part>
</ListPartsResult>"#;
        let page: ListPartsResult = quick_xml::de::from_str(xml).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_part_number_marker, Some(2));
        assert_eq!(page.parts.len(), 2);
        assert_eq!(page.parts[0].etag.as_deref(), Some("\"a1\""));
        assert_eq!(page.parts[1].size, 7);
        let empty: ListPartsResult = quick_xml::de::from_str(
            "<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>",
        )
        .unwrap();
        assert!(empty.parts.is_empty());
    }

    #[test]
    fn pages_must_move_forward() {
        assert!(matches!(next_marker(false, 0, Some(3), Some(9)), Ok(None)));
        assert!(matches!(
            next_marker(true, 1000, Some(1000), None),
            Ok(Some(1000))
        ));
        assert!(matches!(
            next_marker(true, 1000, Some(2000), Some(1000)),
            Ok(Some(2000))
        ));
        for (on_page, next, previous) in [
            (1000, Some(1000), Some(1000)),
            (1000, Some(5), Some(1000)),
            (1000, None, None),
            (0, Some(1001), Some(1000)),
            (1, Some(10_001), Some(10_000)),
        ] {
            assert!(
                next_marker(true, on_page, next, previous).is_err(),
                "{next:?} after {previous:?} with {on_page} parts"
            );
        }
    }
}
