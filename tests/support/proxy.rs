//! A TCP proxy of the tests' own on loopback, between Wellhead and a server, that
//! breaks the connections it carries the two ways networks do:
//!
//! - [`FaultProxy::cut`]: every current connection is shut down at both ends (both
//!   peers see the connection end);
//! - [`FaultProxy::stall`]: every current connection stops carrying bytes but stays
//!   open, as a dropped NAT entry or a dead path leaves it: neither peer hears anything.
//!
//! Connections made afterwards flow normally, so the peer can reconnect.
//!
//! ```text
//!  wellhead ──► 127.0.0.1:<port> ──pump──► server        (one pair of pumps per connection)
//!                  cut: shutdown(both) on both sockets · stall: pumps stop reading
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FLOWING: u8 = 0;
const STALLED: u8 = 1;

/// One proxied connection: its two sockets and whether it still carries bytes.
struct Link {
    client: TcpStream,
    server: TcpStream,
    state: Arc<AtomicU8>,
}

/// The proxy; dropping it stops accepting and ends every pump.
pub struct FaultProxy {
    port: u16,
    links: Arc<Mutex<Vec<Link>>>,
    /// Stalled links, kept open until the proxy is dropped.
    stalled: Mutex<Vec<Link>>,
    closed: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream` (host:port).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("nonblocking listener");
        let links = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (accept_links, accept_closed, upstream) = (links.clone(), closed.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            while !accept_closed.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(&upstream) else { continue };
                        let _ = client.set_nonblocking(false);
                        let state = Arc::new(AtomicU8::new(FLOWING));
                        for (from, to) in [(&client, &server), (&server, &client)] {
                            let (from, to) = (from.try_clone().expect("clone"), to.try_clone().expect("clone"));
                            let (state, closed) = (state.clone(), accept_closed.clone());
                            std::thread::spawn(move || pump(from, to, &state, &closed));
                        }
                        let mut links = accept_links.lock().expect("links");
                        links.push(Link { client, server, state });
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FaultProxy { port, links, stalled: Mutex::new(Vec::new()), closed }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Ends every current connection at both ends; returns how many there were.
    pub fn cut(&self) -> usize {
        let links: Vec<Link> = std::mem::take(&mut *self.links.lock().expect("links"));
        for link in &links {
            let _ = link.client.shutdown(Shutdown::Both);
            let _ = link.server.shutdown(Shutdown::Both);
        }
        links.len()
    }

    /// Freezes every current connection: open, silent, for good; returns how many there were.
    pub fn stall(&self) -> usize {
        let links: Vec<Link> = std::mem::take(&mut *self.links.lock().expect("links"));
        for link in &links {
            link.state.store(STALLED, Ordering::SeqCst);
        }
        let count = links.len();
        self.stalled.lock().expect("stalled").extend(links);
        count
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        self.cut();
    }
}

/// Copies `from` to `to` until either side ends, the link is cut, or the proxy closes;
/// a stalled link reads nothing more (its bytes wait in the kernel, unread, until the end).
fn pump(mut from: TcpStream, mut to: TcpStream, state: &AtomicU8, closed: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buffer = vec![0_u8; 64 * 1024];
    while !closed.load(Ordering::SeqCst) {
        if state.load(Ordering::SeqCst) == STALLED {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                if state.load(Ordering::SeqCst) == STALLED {
                    // Stalled between the read and the write: these bytes are lost with the path.
                    continue;
                }
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
