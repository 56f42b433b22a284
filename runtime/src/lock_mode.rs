//! The lock [`LockMode`] picks for one connection: what `auto` asks the server and concludes.

use kiln_core::Dialect;
pub use kiln_core::config::LockMode;

/// The lock a run actually takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chosen {
    Session,
    Transaction,
    Table,
}

/// What `auto` learned about the connection (PostgreSQL only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// The server accepted the connection kiln opened.
    Direct,
    /// Something in between (a pooler or proxy) opened the server's connection.
    Pooled,
    /// The server does not answer as PostgreSQL does (CockroachDB and other PostgreSQL-wire
    /// databases).
    NotPostgres,
}

/// The lock `mode` means on `dialect`; `path` is asked for only by `auto` on PostgreSQL.
/// `non_transactional`: the set has `transaction false` revisions, which run outside any
/// transaction and so outside a transaction lock; `auto` behind a pooler then takes the lease.
/// `Err` names the problem for a mode the engine cannot do.
pub(crate) fn choose(
    mode: LockMode,
    dialect: Dialect,
    non_transactional: bool,
    path: impl FnOnce() -> Path,
) -> Result<Chosen, String> {
    Ok(match (mode, dialect) {
        (LockMode::Table, _) => Chosen::Table,
        (LockMode::Transaction, Dialect::Postgres) => Chosen::Transaction,
        (LockMode::Transaction, Dialect::MySql) => {
            return Err("lock mode `transaction` needs PostgreSQL: MySQL and MariaDB have no transaction-scoped GET_LOCK; use `table` (a lease table) behind a proxy that breaks GET_LOCK".into());
        }
        (LockMode::Auto, Dialect::Postgres) => match path() {
            Path::Direct => Chosen::Session,
            Path::Pooled if non_transactional => Chosen::Table,
            Path::Pooled => Chosen::Transaction,
            Path::NotPostgres => Chosen::Table,
        },
        // SQLite has no pooler: its lock file serves `auto`, `session` and `transaction`.
        _ => Chosen::Session,
    })
}

/// `auto`'s verdict from what the server saw: the port (and, for an IP literal, the address) it
/// accepted the connection on, against what kiln dialled. A pooler or proxy accepts kiln's
/// connection and opens its own to the server, so the two differ; a mismatch caused by port
/// forwarding (Docker, SSH tunnels) only costs the cheaper lock's round trips, never safety.
pub(crate) fn path_of(
    dialled_host: &str,
    dialled_port: u16,
    unix_socket: bool,
    server: Option<(Option<String>, Option<String>)>,
) -> Path {
    let Some((port, addr)) = server else {
        return Path::NotPostgres;
    };
    match port.and_then(|p| p.trim().parse::<u16>().ok()) {
        // The server saw a Unix socket: nothing in between can have opened it but a local
        // pooler, and then kiln dialled a socket too.
        None => {
            if unix_socket {
                Path::Direct
            } else {
                Path::Pooled
            }
        }
        Some(_) if unix_socket => Path::Pooled,
        Some(p) if p != dialled_port => Path::Pooled,
        Some(_) => {
            let dialled: Option<std::net::IpAddr> =
                dialled_host.trim_matches(['[', ']']).parse().ok();
            let seen: Option<std::net::IpAddr> = addr.and_then(|a| a.parse().ok());
            match (dialled, seen) {
                (Some(d), Some(s)) if d != s && !(d.is_loopback() && s.is_loopback()) => {
                    Path::Pooled
                }
                _ => Path::Direct,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for m in ["auto", "session", "transaction", "table"] {
            assert_eq!(LockMode::from_name(m).map(LockMode::name), Some(m));
        }
        assert_eq!(LockMode::from_name("lease"), None);
    }

    #[test]
    fn auto_picks_by_engine_and_path() {
        let pg = Dialect::Postgres;
        let c = |m, d, p| choose(m, d, false, || p).unwrap();
        assert_eq!(c(LockMode::Auto, pg, Path::Direct), Chosen::Session);
        assert_eq!(c(LockMode::Auto, pg, Path::Pooled), Chosen::Transaction);
        assert_eq!(c(LockMode::Auto, pg, Path::NotPostgres), Chosen::Table);
        assert_eq!(
            c(LockMode::Auto, Dialect::MySql, Path::Pooled),
            Chosen::Session
        );
        assert_eq!(
            c(LockMode::Table, Dialect::Sqlite, Path::Direct),
            Chosen::Table
        );
        assert_eq!(
            c(LockMode::Transaction, Dialect::Sqlite, Path::Direct),
            Chosen::Session
        );
        assert_eq!(
            choose(LockMode::Auto, pg, true, || Path::Pooled),
            Ok(Chosen::Table)
        );
        assert_eq!(
            choose(LockMode::Auto, pg, true, || Path::Direct),
            Ok(Chosen::Session)
        );
        let e = choose(LockMode::Transaction, Dialect::MySql, false, || {
            Path::Direct
        })
        .unwrap_err();
        assert!(e.contains("no transaction-scoped GET_LOCK"), "{e}");
    }

    #[test]
    fn a_pooler_shows_as_another_port_or_address() {
        let s = |p: &str, a: &str| Some((Some(p.to_owned()), Some(a.to_owned())));
        assert_eq!(
            path_of("127.0.0.1", 5432, false, s("5432", "127.0.0.1")),
            Path::Direct
        );
        assert_eq!(
            path_of("localhost", 5432, false, s("5432", "::1")),
            Path::Direct
        );
        assert_eq!(
            path_of("127.0.0.1", 6432, false, s("5432", "127.0.0.1")),
            Path::Pooled
        );
        assert_eq!(
            path_of("10.0.0.5", 5432, false, s("5432", "10.0.0.6")),
            Path::Pooled
        );
        assert_eq!(path_of("db", 5432, true, Some((None, None))), Path::Direct);
        assert_eq!(
            path_of("db", 5432, true, s("5432", "10.0.0.6")),
            Path::Pooled
        );
        assert_eq!(path_of("db", 5432, false, Some((None, None))), Path::Pooled);
        assert_eq!(path_of("db", 26257, false, None), Path::NotPostgres);
    }
}
