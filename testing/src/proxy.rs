//! [`Proxy`]: a real TCP proxy on 127.0.0.1 that tests freeze, cut and resume, to put a database
//! connection through the network faults production sees (a partition, a dead NAT entry, a reset).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What a [`Trigger`] does when the client sends its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Hold the chunk that contains the bytes: the server never sees it, and nothing more flows
    /// in either direction. Sockets stay open, as in a network partition.
    FreezeBefore,
    /// Forward the chunk, then stop forwarding: the server runs the statement, its reply never
    /// arrives.
    FreezeAfter,
    /// Reset both sides instead of forwarding the chunk.
    CutBefore,
    /// Forward the chunk, then reset both sides.
    CutAfter,
}

/// Which connections a triggered fault affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Only the connection that sent the bytes (a dead NAT entry): new connections work, so the
    /// client can reconnect and look.
    Connection,
    /// Every connection, present and future (the network is gone).
    All,
}

/// A fault to inject when the client sends `needle` (searched across chunk boundaries), e.g. a
/// marker comment in a revision's SQL or `COMMIT`: the first time with [`Proxy::arm`], the `n`th
/// time with [`Proxy::arm_nth`].
#[derive(Debug, Clone)]
pub struct FaultTrigger {
    /// The bytes to look for in client-to-server traffic.
    pub needle: Vec<u8>,
    /// What to do.
    pub fault: Fault,
    /// Which connections it affects.
    pub scope: Scope,
}

/// The state every connection's forwarding loop watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Frozen,
    /// Reset every connection open now; later ones forward again.
    Cut(u64),
}

#[derive(Debug)]
struct Shared {
    mode: watch::Sender<Mode>,
    /// The armed trigger and how many more occurrences of its needle fire it (1: the next).
    trigger: Mutex<Option<(FaultTrigger, u32)>>,
    fired: AtomicU64,
    cuts: AtomicU64,
    upstream_bytes: AtomicU64,
    accepted: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A TCP proxy on an ephemeral port of 127.0.0.1 in front of a real server.
///
/// Every accepted connection opens its own connection to the server and forwards bytes both
/// ways until told otherwise: [`Proxy::freeze`] stops forwarding and keeps every socket open
/// (bytes stay in kernel buffers, nobody sees an error, as with a partition or a dead middlebox),
/// [`Proxy::cut`] resets every open connection, [`Proxy::resume`] forwards again, and
/// [`Proxy::arm`] injects a fault when the client sends chosen bytes. Dropping the proxy stops
/// its tasks and closes every socket, so a frozen test cannot outlive its proxy.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode: watch::channel(Mode::Forward).0,
            trigger: Mutex::new(None),
            fired: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            upstream_bytes: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        });
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let (s, t, up) = (shared.clone(), Arc::downgrade(&tasks), upstream.to_owned());
        lock(&tasks).spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                s.accepted.fetch_add(1, Ordering::SeqCst);
                let Some(tasks) = t.upgrade() else { return };
                lock(&tasks).spawn(relay(client, up.clone(), s.clone()));
            }
        });
        Ok(Proxy {
            addr,
            shared,
            tasks,
        })
    }

    /// Starts a proxy in front of the server a database URL names and returns it with the same
    /// URL pointing at the proxy instead.
    pub async fn for_url(url: &str) -> std::io::Result<(Proxy, String)> {
        let Some((host, port)) = kiln_runtime::url::tcp_address(url) else {
            return Err(std::io::Error::other(format!(
                "{} names no single TCP server (host:port) to proxy",
                kiln_runtime::url::redact_url(url)
            )));
        };
        let upstream = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let proxy = Proxy::start(&upstream).await?;
        let proxied = kiln_runtime::url::with_address(url, &proxy.addr().to_string());
        Ok((proxy, proxied))
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops forwarding on every connection, present and future; sockets stay open.
    pub fn freeze(&self) {
        self.shared.mode.send_replace(Mode::Frozen);
    }

    /// Resets every open connection (both sides see a TCP RST); later connections forward.
    pub fn cut(&self) {
        let n = self.shared.cuts.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.mode.send_replace(Mode::Cut(n));
    }

    /// Forwards again on every connection still open.
    pub fn resume(&self) {
        self.shared.mode.send_replace(Mode::Forward);
    }

    /// Injects `trigger`'s fault the first time a client sends its bytes (replacing an armed
    /// trigger that has not fired).
    pub fn arm(&self, trigger: FaultTrigger) {
        self.arm_nth(trigger, 1);
    }

    /// Injects `trigger`'s fault the `n`th time (1-based, counted over every connection) a
    /// client sends its bytes, e.g. the `COMMIT` of the second revision rather than the first.
    /// `n = 0` counts as 1.
    pub fn arm_nth(&self, trigger: FaultTrigger, n: u32) {
        *lock(&self.shared.trigger) = Some((trigger, n.max(1)));
    }

    /// How many armed triggers have fired.
    pub fn fired(&self) -> u64 {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from clients to the server so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream_bytes.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        lock(&self.tasks).abort_all();
    }
}

/// Forwards one client connection until it closes, is cut, or the proxy is dropped.
async fn relay(client: TcpStream, upstream: String, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(upstream.as_str()).await else {
        return;
    };
    // A zero linger turns a close into a reset, which is what `cut` promises.
    let _ = client.set_zero_linger();
    let _ = server.set_zero_linger();
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let local = watch::channel(false).0;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let cut_at = *shared.mode.borrow();
    tokio::select! {
        _ = pump(cr, sw, &shared, &local, true) => {}
        _ = pump(sr, cw, &shared, &local, false) => {}
        _ = cut_seen(&shared, cut_at) => {}
    }
}

/// Resolves when [`Proxy::cut`] (or a triggered cut of every connection) happens after this
/// connection opened.
async fn cut_seen(shared: &Shared, at_start: Mode) {
    let mut global = shared.mode.subscribe();
    loop {
        let now = *global.borrow_and_update();
        if matches!(now, Mode::Cut(_)) && now != at_start {
            return;
        }
        if global.changed().await.is_err() {
            return;
        }
    }
}

/// Waits while forwarding is frozen for everyone, or for this connection (`local`).
async fn wait_thawed(shared: &Shared, local: &watch::Sender<bool>) {
    let mut global = shared.mode.subscribe();
    let mut mine = local.subscribe();
    loop {
        if *mine.borrow_and_update() {
            // Frozen for this connection alone: until the proxy is dropped or the link is cut.
            std::future::pending::<()>().await;
        }
        if *global.borrow_and_update() != Mode::Frozen {
            return;
        }
        tokio::select! {
            _ = global.changed() => {}
            _ = mine.changed() => {}
        }
    }
}

/// Copies one direction; `upstream` is client to server, where triggers are looked for.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shared: &Shared,
    local: &watch::Sender<bool>,
    upstream: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    // The end of the previous chunk, so a needle split across two reads is still found.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        wait_thawed(shared, local).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let fault = if upstream {
            triggered(shared, &mut tail, chunk)
        } else {
            None
        };
        let apply = |fault: (Fault, Scope)| match fault.1 {
            Scope::All => match fault.0 {
                Fault::FreezeBefore | Fault::FreezeAfter => {
                    shared.mode.send_replace(Mode::Frozen);
                }
                _ => {
                    let n = shared.cuts.fetch_add(1, Ordering::SeqCst) + 1;
                    shared.mode.send_replace(Mode::Cut(n));
                }
            },
            Scope::Connection => {
                local.send_replace(true);
            }
        };
        if let Some(f) = fault
            && matches!(f.0, Fault::FreezeBefore | Fault::CutBefore)
        {
            apply(f);
            if f.0 == Fault::CutBefore {
                return;
            }
            // The held chunk is never written: the fault is "before".
            std::future::pending::<()>().await;
        }
        wait_thawed(shared, local).await;
        if to.write_all(chunk).await.is_err() {
            return;
        }
        if upstream {
            shared.upstream_bytes.fetch_add(n as u64, Ordering::SeqCst);
        }
        if let Some(f) = fault {
            apply(f);
            if f.0 == Fault::CutAfter {
                return;
            }
        }
    }
}

/// The armed trigger's fault, when `chunk` (with the previous chunk's tail) contains its needle.
fn triggered(shared: &Shared, tail: &mut Vec<u8>, chunk: &[u8]) -> Option<(Fault, Scope)> {
    let mut armed = lock(&shared.trigger);
    let (t, left) = armed.as_mut()?;
    let mut hay = std::mem::take(tail);
    hay.extend_from_slice(chunk);
    // The tail is shorter than the needle, so every match counted here is new.
    let hits = if t.needle.is_empty() {
        0
    } else {
        hay.windows(t.needle.len())
            .filter(|w| *w == t.needle)
            .count()
    };
    let keep = t.needle.len().saturating_sub(1).min(hay.len());
    *tail = hay[hay.len() - keep..].to_vec();
    let hits = u32::try_from(hits).unwrap_or(u32::MAX);
    if hits < *left {
        *left -= hits;
        return None;
    }
    let fired = (t.fault, t.scope);
    *armed = None;
    shared.fired.fetch_add(1, Ordering::SeqCst);
    Some(fired)
}
