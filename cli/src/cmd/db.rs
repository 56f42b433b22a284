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
    probe(url)?;
    Ok(Db::connect(url.url()).await?)
}

/// Opens (and closes) a TCP connection to the server a PostgreSQL or MySQL URL names.
fn probe(url: &DbUrl) -> anyhow::Result<()> {
    let Some((host, port)) = tcp_address(url.url()) else {
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

/// Host and port of a `postgres://` or `mysql://` URL, when it names a TCP server (not a Unix
/// socket).
fn tcp_address(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        _ => return None,
    };
    if let Some((_, query)) = rest.split_once('?')
        && query
            .split('&')
            .any(|kv| kv.starts_with("host=") || kv.starts_with("socket="))
    {
        return None;
    }
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() || hostport.contains(',') {
        return None;
    }
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_owned(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((hostport.to_owned(), default)),
    }
}

/// The loaded set with the given options.
pub fn migrator(set: MigrationSet, options: Options) -> Migrator {
    Migrator::from_set(set).with_options(options)
}

/// Loads the directory, connects, and hands both to `f`; closes the pool afterwards.
pub fn with_db<T>(
    s: &Settings,
    why: &str,
    options: Options,
    f: impl AsyncFnOnce(&Migrator, &Db) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let set = crate::repo::load(&s.dir)?;
    let url = s.require_database(why)?;
    let m = migrator(set, options);
    block_on(async {
        let db = connect(url).await?;
        let r = f(&m, &db).await;
        db.close().await;
        r
    })?
}

#[cfg(test)]
mod tests {
    use super::tcp_address;

    #[test]
    fn finds_tcp_servers() {
        assert_eq!(
            tcp_address("postgres://u:p@db.example:6543/x"),
            Some(("db.example".into(), 6543))
        );
        assert_eq!(
            tcp_address("mysql://root@127.0.0.1/x"),
            Some(("127.0.0.1".into(), 3306))
        );
        assert_eq!(tcp_address("postgres://[::1]:1/x"), Some(("::1".into(), 1)));
        assert_eq!(tcp_address("postgres:///x?host=/run/postgresql"), None);
        assert_eq!(tcp_address("sqlite://a.db"), None);
    }
}
