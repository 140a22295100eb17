//! A streamed `GET` of a download link into a `.part` file: follows the redirect to
//! the storage URL by hand, asks for the missing bytes only (`Range`) when part of the
//! file is already there, and hashes everything written.

use std::io::SeekFrom;
use std::path::Path;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, LOCATION, RANGE};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::{CHUNK, Progress, hex, no_follow};
use crate::api::ApiError;
use crate::error::CliError;

/// At most this many redirects are followed.
const MAX_REDIRECTS: usize = 5;

/// A finished transfer into the `.part` file.
#[derive(Debug)]
pub struct Fetched {
    /// Bytes that were already there and were not fetched again.
    pub resumed_from: u64,
    /// The whole file's length.
    pub bytes: u64,
    /// The whole file's sha256.
    pub sha256: String,
}

/// How a transfer ended.
#[derive(Debug)]
pub enum Fetch {
    /// The file is complete (its hash still has to be checked).
    Complete(Fetched),
    /// The storage cannot serve the missing bytes as asked (`416`, or a `206` that
    /// starts elsewhere or is of another length): start again from nothing.
    RangeRefused,
    /// The storage refused the link (`403`: it expired before it was used); nothing
    /// was written, and `hasher` is handed back as it came.
    LinkRefused {
        /// The hash of the `.part` file's first `offset` bytes.
        hasher: Sha256,
    },
    /// The link or the storage failed on its side (`5xx`: S3's `503 SlowDown`, a
    /// server restarting behind its proxy); nothing was written, and `hasher` is handed
    /// back as it came.
    ServerError {
        /// The hash of the `.part` file's first `offset` bytes.
        hasher: Sha256,
        /// The status it answered.
        status: u16,
    },
    /// The transfer broke, before its answer or midway; the `.part` file holds `bytes`
    /// bytes, all fed into `hasher`, so a fresh link can continue from there.
    Interrupted {
        /// Everything written so far, hashed.
        hasher: Sha256,
        /// How much is in the `.part` file.
        bytes: u64,
        /// What broke.
        cause: Break,
    },
}

/// What broke a transfer.
#[derive(Debug)]
pub enum Break {
    /// The network: no answer, or an answer cut off (the error holds no URL: links
    /// are secrets).
    Network(reqwest::Error),
    /// The answer ended, cleanly, before the file did (a proxy's cap, a store that
    /// lost the connection's end).
    EndedEarly {
        /// The bytes the file has.
        expected: u64,
        /// The bytes received up to the end.
        got: u64,
    },
}

impl Break {
    /// The error a download that gave up on this ends with.
    pub fn into_error(self) -> ApiError {
        match self {
            Self::Network(source) => ApiError::network_host("the storage", source),
            Self::EndedEarly { .. } => ApiError::Network {
                host: "the storage".to_owned(),
                detail: self.to_string(),
            },
        }
    }
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(source) => write!(f, "{source}"),
            Self::EndedEarly { expected, got } => {
                write!(f, "the answer ended after {got} of {expected} bytes")
            }
        }
    }
}

/// Who answered a download link's `GET`.
enum Answer {
    /// The link itself: it did not redirect to the file (a refusal, or the server
    /// failing).
    Link(reqwest::Response),
    /// The storage URL it redirected to.
    Storage(reqwest::Response),
    /// No one: a connection failed before an answer came.
    Unreachable(reqwest::Error),
}

/// Downloads `url` into `part`, keeping its first `offset` bytes (already fed into
/// `hasher`) when the server honours the range. Stops after `expected` bytes.
///
/// # Errors
/// [`CliError::Api`] for the link's refusal (the server's own error: `404`, `403`,
/// `429`) or an unexpected answer, [`CliError::Io`] when the file cannot be written.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    part: &Path,
    expected: u64,
    mut hasher: Sha256,
    mut offset: u64,
    progress: impl Fn(u64) -> Progress,
) -> Result<Fetch, CliError> {
    let response = match follow(http, url, offset).await? {
        Answer::Unreachable(cause) => {
            return Ok(Fetch::Interrupted {
                hasher,
                bytes: offset,
                cause: Break::Network(cause),
            });
        }
        Answer::Link(response) if response.status().is_server_error() => {
            let status = response.status().as_u16();
            return Ok(Fetch::ServerError { hasher, status });
        }
        // The server's refusal (a token used up, a yanked release, a quota), in its
        // own words.
        Answer::Link(response) if !response.status().is_success() => {
            return Err(ApiError::from_response(response).await.into());
        }
        Answer::Link(response) | Answer::Storage(response) => response,
    };
    match response.status() {
        StatusCode::PARTIAL_CONTENT if offset > 0 => {
            let continues_here = matches!(
                content_range(&response),
                Some((start, total)) if start == offset && total.is_none_or(|total| total == expected)
            );
            if !continues_here {
                return Ok(Fetch::RangeRefused);
            }
        }
        StatusCode::OK => {
            // The server sent the whole file (it ignored the range, or none was asked).
            hasher = Sha256::new();
            offset = 0;
        }
        StatusCode::RANGE_NOT_SATISFIABLE => return Ok(Fetch::RangeRefused),
        StatusCode::FORBIDDEN => return Ok(Fetch::LinkRefused { hasher }),
        status if status.is_server_error() => {
            return Ok(Fetch::ServerError {
                hasher,
                status: status.as_u16(),
            });
        }
        status if status.is_success() => {
            return Err(ApiError::Unexpected {
                status: status.as_u16(),
                detail: "expected the file".to_owned(),
            }
            .into());
        }
        _ => return Err(ApiError::from_response(response).await.into()),
    }

    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    let file = tokio::fs::OpenOptions::from(no_follow(&mut options).clone())
        .open(part)
        .await
        .map_err(|e| CliError::io(part, e))?;
    file.set_len(offset)
        .await
        .map_err(|e| CliError::io(part, e))?;
    let mut writer = BufWriter::with_capacity(CHUNK, file);
    writer
        .seek(SeekFrom::Start(offset))
        .await
        .map_err(|e| CliError::io(part, e))?;

    // A whole file's answer says how long the stored object is; a range's may be cut
    // short by the store or a proxy, to be continued.
    let stored_size = (response.status() == StatusCode::OK)
        .then(|| response.content_length())
        .flatten();
    let progress = progress(offset);
    let mut bytes = offset;
    let mut body = response.bytes_stream();
    let mut broken = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                broken = Some(Break::Network(e.without_url()));
                break;
            }
        };
        writer
            .write_all(&chunk)
            .await
            .map_err(|e| CliError::io(part, e))?;
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        progress.advance(chunk.len() as u64);
        if bytes > expected {
            // More than the listed size: the hash check will fail; stop reading.
            break;
        }
    }
    writer.flush().await.map_err(|e| CliError::io(part, e))?;
    // The whole stored object arrived and it is shorter than listed: not the file (the
    // hash says so), rather than a transfer to continue from bytes it does not have.
    let all_of_a_short_object = broken.is_none() && stored_size == Some(bytes);
    if bytes < expected && !all_of_a_short_object {
        // Short of the file: continued on a fresh link, not taken for a wrong file.
        progress.abandon();
        let cause = broken.unwrap_or(Break::EndedEarly {
            expected,
            got: bytes,
        });
        return Ok(Fetch::Interrupted {
            hasher,
            bytes,
            cause,
        });
    }
    // Every byte arrived (whatever broke after them): the hash decides.
    writer
        .get_ref()
        .sync_all()
        .await
        .map_err(|e| CliError::io(part, e))?;
    progress.finish();
    Ok(Fetch::Complete(Fetched {
        resumed_from: offset,
        bytes,
        sha256: hex(hasher),
    }))
}

/// Sends the `GET` (with `Range` from `offset`), following redirects without
/// credentials, and says who answered.
async fn follow(http: &reqwest::Client, url: &str, offset: u64) -> Result<Answer, CliError> {
    let mut url = reqwest::Url::parse(url).map_err(|e| ApiError::Unexpected {
        status: 200,
        detail: format!("the download URL is not a URL: {e}"),
    })?;
    for hop in 0..=MAX_REDIRECTS {
        let mut request = http.get(url.clone());
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Ok(Answer::Unreachable(e.without_url())),
        };
        if !response.status().is_redirection() {
            return Ok(if hop == 0 {
                Answer::Link(response)
            } else {
                Answer::Storage(response)
            });
        }
        let next = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok())
            .ok_or_else(|| ApiError::Unexpected {
                status: response.status().as_u16(),
                detail: "a redirect without a usable Location".to_owned(),
            })?;
        url = next;
    }
    Err(ApiError::Unexpected {
        status: 302,
        detail: format!("more than {MAX_REDIRECTS} redirects"),
    }
    .into())
}

/// The first byte and the whole length of a `Content-Range: bytes START-END/LENGTH`
/// answer (no length when it is `*`).
fn content_range(response: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let (range, length) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let start = range.split('-').next()?.trim().parse().ok()?;
    let length = match length.trim() {
        "*" => None,
        length => Some(length.parse().ok()?),
    };
    Some((start, length))
}

#[cfg(test)]
mod tests {
    //! `fetch` against a loopback server that answers each connection with a scripted
    //! answer, as misbehaving servers and stores do.

    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::transfer::ProgressMode;

    /// The file every test downloads.
    const FILE: &[u8] = b"0123456789abcdefghij";

    /// A scripted answer: the raw bytes written back, then the connection is closed.
    type Script = Vec<u8>;

    /// Serves `scripts` in order, one per connection; returns its address and the
    /// requests it received (head only).
    async fn serve(scripts: Vec<Script>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            for script in scripts {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0_u8; 1];
                while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap() == 1 {
                    head.push(byte[0]);
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                socket.write_all(&script).await.unwrap();
                socket.shutdown().await.ok();
            }
        });
        (address, seen)
    }

    fn answer(status: &str, headers: &[(&str, String)], body: &[u8]) -> Script {
        let mut text = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    fn redirect(to: SocketAddr) -> Script {
        answer(
            "302 Found",
            &[
                ("location", format!("http://{to}/object")),
                ("content-length", "0".into()),
            ],
            b"",
        )
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Runs `fetch` of `FILE` from `link` into a part file holding `kept`.
    async fn fetch_with(link: SocketAddr, kept: &[u8]) -> (Result<Fetch, CliError>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("file.part");
        std::fs::write(&part, kept).unwrap();
        let mut hasher = Sha256::new();
        hasher.update(kept);
        let outcome = fetch(
            &client(),
            &format!("http://{link}/v1/downloads/token"),
            &part,
            FILE.len() as u64,
            hasher,
            kept.len() as u64,
            |from| Progress::start(ProgressMode::Off, "test", FILE.len() as u64, from),
        )
        .await;
        (outcome, std::fs::read(&part).unwrap_or_default())
    }

    /// A link the server refuses is the server's error, in its words: not a storage
    /// link to ask again for (which would issue more tokens and lose the message).
    #[tokio::test]
    async fn the_links_own_refusal_is_the_servers_error() {
        let body = br#"{"error":{"code":"forbidden","message":"release yanked"}}"#;
        let refusal = answer(
            "403 Forbidden",
            &[
                ("content-type", "application/json".into()),
                ("content-length", body.len().to_string()),
            ],
            body,
        );
        let (link, _) = serve(vec![refusal]).await;
        let (outcome, _) = fetch_with(link, b"").await;
        match outcome {
            Err(CliError::Api(ApiError::Status {
                status, message, ..
            })) => {
                assert_eq!(status, 403);
                assert_eq!(message, "release yanked");
            }
            other => panic!("expected the server's refusal, got {other:?}"),
        }
    }

    /// A `403` from the storage (after the redirect) is an expired link: ask again.
    #[tokio::test]
    async fn the_storages_refusal_asks_for_a_fresh_link() {
        let (storage, _) = serve(vec![answer(
            "403 Forbidden",
            &[("content-length", "0".into())],
            b"",
        )])
        .await;
        let (link, _) = serve(vec![redirect(storage)]).await;
        let (outcome, _) = fetch_with(link, b"").await;
        assert!(
            matches!(outcome, Ok(Fetch::LinkRefused { .. })),
            "{outcome:?}"
        );
    }

    /// A `206` that does not start where asked (or is of another file's length) is
    /// not appended: the download starts again from nothing.
    #[tokio::test]
    async fn a_range_answer_from_elsewhere_is_not_appended() {
        for content_range in ["bytes 9-19/20", "bytes 10-19/21", "bytes 10-19"] {
            let misplaced = answer(
                "206 Partial Content",
                &[
                    ("content-range", content_range.to_owned()),
                    ("content-length", "11".into()),
                ],
                &FILE[9..],
            );
            let (storage, seen) = serve(vec![misplaced]).await;
            let (link, _) = serve(vec![redirect(storage)]).await;
            let (outcome, part) = fetch_with(link, &FILE[..10]).await;
            assert!(
                matches!(outcome, Ok(Fetch::RangeRefused)),
                "{content_range}: {outcome:?}"
            );
            assert_eq!(part, &FILE[..10], "{content_range}: nothing appended");
            assert!(seen.lock().unwrap()[0].contains("range: bytes=10-"));
        }
        // The right one is appended, with an unknown length too.
        for content_range in ["bytes 10-19/20", "bytes 10-19/*"] {
            let placed = answer(
                "206 Partial Content",
                &[
                    ("content-range", content_range.to_owned()),
                    ("content-length", "10".into()),
                ],
                &FILE[10..],
            );
            let (storage, _) = serve(vec![placed]).await;
            let (link, _) = serve(vec![redirect(storage)]).await;
            let (outcome, part) = fetch_with(link, &FILE[..10]).await;
            match outcome {
                Ok(Fetch::Complete(fetched)) => {
                    assert_eq!(fetched.resumed_from, 10);
                    assert_eq!(fetched.sha256, format!("{:x}", Sha256::digest(FILE)));
                }
                other => panic!("{content_range}: {other:?}"),
            }
            assert_eq!(part, FILE);
        }
    }

    /// A whole answer that says it is shorter than the file is the stored object, not
    /// a transfer to continue: complete, for the hash to refuse (not an endless round
    /// of links and `416`s).
    #[tokio::test]
    async fn a_stored_object_shorter_than_listed_is_complete_and_wrong() {
        let short = answer("200 OK", &[("content-length", "7".into())], &FILE[..7]);
        let (storage, _) = serve(vec![short]).await;
        let (link, _) = serve(vec![redirect(storage)]).await;
        let (outcome, _) = fetch_with(link, b"").await;
        match outcome {
            Ok(Fetch::Complete(fetched)) => {
                assert_eq!(fetched.bytes, 7);
                assert_ne!(fetched.sha256, format!("{:x}", Sha256::digest(FILE)));
            }
            other => panic!("expected the short object, got {other:?}"),
        }
        // A range cut short (its length the whole file's) is continued.
        let capped = answer(
            "206 Partial Content",
            &[
                ("content-range", "bytes 10-14/20".to_owned()),
                ("content-length", "5".into()),
            ],
            &FILE[10..15],
        );
        let (storage, _) = serve(vec![capped]).await;
        let (link, _) = serve(vec![redirect(storage)]).await;
        let (outcome, part) = fetch_with(link, &FILE[..10]).await;
        assert!(
            matches!(outcome, Ok(Fetch::Interrupted { bytes: 15, .. })),
            "{outcome:?}"
        );
        assert_eq!(part, &FILE[..15]);
    }

    /// An answer that ends cleanly short of the file without saying its length (a
    /// proxy's cap) is continued on a fresh link, not taken for a wrong file.
    #[tokio::test]
    async fn an_answer_that_ends_short_is_an_interruption() {
        let short = answer("200 OK", &[], &FILE[..7]);
        let (storage, _) = serve(vec![short]).await;
        let (link, _) = serve(vec![redirect(storage)]).await;
        let (outcome, part) = fetch_with(link, b"").await;
        match outcome {
            Ok(Fetch::Interrupted { bytes, cause, .. }) => {
                assert_eq!(bytes, 7);
                assert_eq!(cause.to_string(), "the answer ended after 7 of 20 bytes");
            }
            other => panic!("expected an interruption, got {other:?}"),
        }
        assert_eq!(part, &FILE[..7]);
    }

    /// A connection that breaks after the last byte leaves a complete file: the hash
    /// decides, rather than a `Range` for nothing (answered `416`).
    #[tokio::test]
    async fn a_break_after_the_last_byte_completes_the_file() {
        let promised_more = answer("200 OK", &[("content-length", "30".into())], FILE);
        let (storage, _) = serve(vec![promised_more]).await;
        let (link, _) = serve(vec![redirect(storage)]).await;
        let (outcome, part) = fetch_with(link, b"").await;
        assert!(matches!(outcome, Ok(Fetch::Complete(_))), "{outcome:?}");
        assert_eq!(part, FILE);
    }

    /// A storage that cannot be reached is an interruption like any other: the next
    /// link may reach it.
    #[tokio::test]
    async fn an_unreachable_storage_is_an_interruption() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let nowhere = closed.local_addr().unwrap();
        drop(closed);
        let (link, _) = serve(vec![redirect(nowhere)]).await;
        let (outcome, part) = fetch_with(link, &FILE[..4]).await;
        match outcome {
            Ok(Fetch::Interrupted { bytes, cause, .. }) => {
                assert_eq!(bytes, 4);
                assert!(matches!(cause, Break::Network(_)));
                assert!(!cause.to_string().contains("/object"), "{cause}");
            }
            other => panic!("expected an interruption, got {other:?}"),
        }
        assert_eq!(part, &FILE[..4]);
    }
}
