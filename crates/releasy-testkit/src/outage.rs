//! [`OutageProxy`]: a loopback TCP proxy in front of a service (PostgreSQL, an S3
//! server) whose link a test can cut and restore, to see what Releasy does while a
//! dependency is gone without stopping a server other tests share.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards connections from [`OutageProxy::addr`] to a target. [`OutageProxy::cut`]
/// makes the target look stopped: every open connection is closed and new ones are
/// refused (nothing listens), as when the service shuts down; [`OutageProxy::restore`]
/// listens again on the same address. [`OutageProxy::stall`] makes it a network that
/// silently drops everything instead: connections stay open and carry nothing, so
/// their ends see no close, only silence. Dropping the proxy cuts it.
///
/// ```no_run
/// # async fn demo() {
/// let proxy = releasy_testkit::OutageProxy::start("127.0.0.1:5432".parse().unwrap()).await;
/// // point the server at proxy.addr() ...
/// proxy.cut();
/// // ... requests fail ...
/// proxy.restore().await;
/// # }
/// ```
#[derive(Debug)]
pub struct OutageProxy {
    addr: SocketAddr,
    target: SocketAddr,
    /// Counts the cuts: each connection closes when it moves on.
    cuts: watch::Sender<u64>,
    /// `false` while stalled: connections carry nothing until the link is cut.
    flowing: watch::Sender<bool>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl OutageProxy {
    /// Listens on a free loopback port and forwards to `target`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(target: SocketAddr) -> OutageProxy {
        let listener = listen("127.0.0.1:0".parse().expect("a socket address")).await;
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let proxy = OutageProxy {
            addr,
            target,
            cuts: watch::Sender::new(0),
            flowing: watch::Sender::new(true),
            acceptor: Mutex::new(None),
        };
        proxy.accept_on(listener);
        proxy
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every forwarded connection and stops listening.
    ///
    /// # Panics
    /// When the acceptor's lock was poisoned by a panicking test thread.
    pub fn cut(&self) {
        if let Some(acceptor) = self.acceptor.lock().expect("acceptor lock").take() {
            acceptor.abort();
        }
        self.cuts.send_modify(|cuts| *cuts += 1);
    }

    /// Stops carrying bytes, on open connections and new ones, without closing any:
    /// a partition that neither end is told of. A stalled connection stays silent until
    /// the link is cut; [`OutageProxy::restore`] lets new ones through again.
    pub fn stall(&self) {
        self.flowing.send_replace(false);
    }

    /// Listens on the same address again (closing what a stall left open).
    ///
    /// # Panics
    /// When the address cannot be bound again.
    pub async fn restore(&self) {
        let acceptor = self.acceptor.lock().expect("acceptor lock").take();
        if let Some(acceptor) = acceptor {
            acceptor.abort();
            // Its listener closes when the task is gone; only then is the port free.
            let _ = acceptor.await;
        }
        self.cuts.send_modify(|cuts| *cuts += 1);
        self.flowing.send_replace(true);
        let listener = listen(self.addr).await;
        self.accept_on(listener);
    }

    fn accept_on(&self, listener: TcpListener) {
        let (target, cuts, flowing) = (self.target, self.cuts.clone(), self.flowing.clone());
        // This listener's connections belong to the link as it is now: once it is cut,
        // any it still accepts (the acceptor's abort does not stop a poll under way)
        // close at once.
        let accepted_after = *cuts.borrow();
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(
                    client,
                    target,
                    (cuts.subscribe(), accepted_after),
                    flowing.subscribe(),
                ));
            }
        });
        *self.acceptor.lock().expect("acceptor lock") = Some(acceptor);
    }
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// A listener on `addr` that may take over a port a cut listener just left.
async fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket
        .bind(addr)
        .unwrap_or_else(|err| panic!("cannot listen on {addr}: {err}"));
    socket.listen(1024).expect("listening")
}

/// Copies both ways until either side closes or the link is cut; while stalled, holds
/// both connections open and carries nothing until the link is cut.
async fn forward(
    mut client: TcpStream,
    target: SocketAddr,
    (mut cuts, accepted_after): (watch::Receiver<u64>, u64),
    mut flowing: watch::Receiver<bool>,
) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let stalled = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        _ = cuts.wait_for(|cuts| *cuts != accepted_after) => false,
        _ = flowing.wait_for(|flowing| !flowing) => true,
    };
    if stalled {
        let _ = cuts.wait_for(|cuts| *cuts != accepted_after).await;
    }
    drop((client, server));
}
