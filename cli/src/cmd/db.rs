//! Talking to the database: a small async runtime per command, connecting, and the migrator.

use crate::error::{Code, Fail};
use crate::settings::{DbUrl, Settings};
use anyhow::Context as _;
use kiln_core::MigrationSet;
use kiln_runtime::{Db, Migrator, Options};
use std::future::Future;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Runs a future on a small runtime. The command's future runs on this thread; one worker thread
/// runs the Ctrl-C handler, so a stop request is seen even while a statement keeps this thread
/// busy (the runtime runs SQLite statements synchronously).
pub fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

/// Connects; errors keep the runtime's type (for the exit code) and never show the password.
///
/// A server that refuses connections is reported at once: the runtime's pool would retry until
/// its acquire timeout and then only say that it timed out, hiding the cause.
pub async fn connect(url: &DbUrl) -> anyhow::Result<Db> {
    // A URL the driver would read differently (an unencoded `/` in a password) is refused before
    // anything is probed at a host made of part of the password.
    kiln_runtime::url::validate(url.url())?;
    probe(url)?;
    Ok(Db::connect(url.url()).await?)
}

/// Opens (and closes) a TCP connection to the server a PostgreSQL or MySQL URL names.
fn probe(url: &DbUrl) -> anyhow::Result<()> {
    let Some((host, port)) = kiln_runtime::url::tcp_address(url.url()) else {
        return Ok(());
    };
    let unreachable = |why: String| {
        Fail::with(
            Code::Database,
            format!(
                "cannot reach the database server at {host}:{port} ({}): {why}",
                url.shown()
            ),
            "check that the server is running and that the host and port in the URL are right",
        )
    };
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve the host: {e}")))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(unreachable(last.map_or_else(
        || "the host has no address".to_owned(),
        |e| e.to_string(),
    )))
}

/// The loaded set with the given options.
pub fn migrator(set: MigrationSet, options: Options) -> Migrator {
    Migrator::from_set(set).with_options(options)
}

/// Loads the directory for a command that only reads (see [`crate::lenient`]), connects, and
/// hands both to `f`; closes the pool afterwards.
pub fn with_db<T>(
    s: &Settings,
    why: &str,
    options: Options,
    f: impl AsyncFnOnce(&Migrator, &Db) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let set = crate::lenient::load(&s.dir, crate::lenient::Tolerate::READ)?;
    let url = s.require_database(why)?;
    let m = migrator(set, options);
    block_on(async {
        let db = connect(url).await?;
        let r = f(&m, &db).await;
        db.close().await;
        r
    })?
}
