//! A TCP proxy on loopback that breaks one transfer midway: the first connection whose
//! answers pass `cut_after` bytes is closed right there, as a flaky network would.
//! Every other byte goes through untouched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy; it stops with the test's runtime.
pub struct CuttingProxy {
    /// Where clients connect.
    pub address: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl CuttingProxy {
    /// Listens on a loopback port, forwarding to `upstream`.
    pub async fn start(
        listener: std::net::TcpListener,
        upstream: SocketAddr,
        cut_after: usize,
    ) -> Self {
        listener.set_nonblocking(true).expect("non-blocking");
        let listener = TcpListener::from_std(listener).expect("listener");
        let address = listener.local_addr().expect("address");
        let cut = Arc::new(AtomicBool::new(false));
        let has_cut = Arc::clone(&cut);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let has_cut = Arc::clone(&has_cut);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        forward(client, server, cut_after, &has_cut).await;
                    }
                });
            }
        });
        Self { address, cut }
    }

    /// Whether a transfer was broken.
    pub fn has_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

async fn forward(client: TcpStream, server: TcpStream, cut_after: usize, has_cut: &AtomicBool) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut sent = 0usize;
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        if sent + read > cut_after && !has_cut.swap(true, Ordering::SeqCst) {
            // This connection is the one that breaks: send up to the cut, then drop it.
            let _ = client_write.write_all(&buffer[..cut_after - sent]).await;
            break;
        }
        if client_write.write_all(&buffer[..read]).await.is_err() {
            break;
        }
        sent += read;
    }
    requests.abort();
}
