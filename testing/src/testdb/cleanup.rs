//! Removing what tests leave on the servers on purpose or by accident: templates of older sets,
//! and databases of test processes that were killed before they could drop them.

use super::templates::{
    io, pg_template_state, sqlite_template_dir, template_lock_key, template_name,
};
use super::{
    PLAUSIBLE_SECS, TEMPLATE_PREFIX, TEST_PREFIX, db_error, drop_server_database, server_url,
    unix_secs,
};
use kiln_core::Dialect;
use kiln_runtime::{Db, Error, Migrator, RawConnection, Result, quote_ident, quote_literal};
use std::time::Duration;

/// Removes `migrator`'s template database (PostgreSQL) or file (SQLite); `true` if there
/// was one. Tests cloning it at the same moment wait for the drop and then build it again.
pub async fn drop_template(migrator: &Migrator, dialect: Dialect) -> Result<bool> {
    let name = template_name(migrator);
    match dialect {
        Dialect::Postgres => {
            let Some((_, admin_url)) = server_url(dialect) else {
                return Ok(false);
            };
            let admin = Db::connect(&admin_url).await?;
            let r = async {
                let mut conn = RawConnection::acquire(&admin).await?;
                let exists = pg_template_state(&mut conn, &name).await?.is_some();
                drop(conn);
                if exists {
                    pg_drop_template(&admin, &name).await?;
                }
                Ok(exists)
            }
            .await;
            admin.close().await;
            r
        }
        Dialect::Sqlite => {
            let dir = sqlite_template_dir();
            let _ = std::fs::remove_file(dir.join(format!("{name}.lock")));
            let file = dir.join(format!("{name}.db"));
            match std::fs::remove_file(&file) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io("remove", &file)(e)),
            }
        }
        _ => Ok(false),
    }
}

/// Removes kiln's template databases (PostgreSQL) or files (SQLite) except `keep`'s, and
/// returns their names. Templates are kept between runs on purpose (building one costs a full
/// migration); each is named after its set's digest, so templates of older sets pile up as
/// migrations change. Call this from a cleanup step (or a test run last) to remove them.
///
/// MySQL/MariaDB has no templates: nothing to do.
pub async fn drop_templates(dialect: Dialect, keep: Option<&Migrator>) -> Result<Vec<String>> {
    let keep = keep.map(template_name);
    let mut dropped = Vec::new();
    match dialect {
        Dialect::Postgres => {
            let Some((_, admin_url)) = server_url(dialect) else {
                return Ok(dropped);
            };
            let admin = Db::connect(&admin_url).await?;
            let r = async {
                for name in list_databases(&admin, dialect, TEMPLATE_PREFIX).await? {
                    if Some(&name) != keep.as_ref() {
                        pg_drop_template(&admin, &name).await?;
                        dropped.push(name);
                    }
                }
                Ok::<_, Error>(())
            }
            .await;
            admin.close().await;
            r?;
        }
        Dialect::Sqlite => {
            let dir = sqlite_template_dir();
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return Ok(dropped);
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let stem = file.split('.').next().unwrap_or("").to_owned();
                if !file.starts_with(TEMPLATE_PREFIX) || Some(&stem) == keep.as_ref() {
                    continue;
                }
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => dropped.push(file),
                    // Removed meanwhile by a concurrent cleanup: the goal is reached.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", &entry.path())(e)),
                }
            }
        }
        _ => {}
    }
    Ok(dropped)
}

/// Drops one template under its lock, so it never disappears in the middle of being built.
async fn pg_drop_template(admin: &Db, name: &str) -> Result<()> {
    let mut conn = RawConnection::acquire(admin).await?;
    conn.close_on_drop();
    let key = template_lock_key(name);
    conn.exec("SELECT pg_advisory_lock($1)", &[key])
        .await
        .map_err(Error::db("locking a template database"))?;
    let q = quote_ident(Dialect::Postgres, name);
    // Two round trips: DROP DATABASE refuses to run in the implicit transaction of a
    // multi-statement query. A template that is already gone is not an error.
    let mut r = Ok(());
    for sql in [
        format!("ALTER DATABASE {q} IS_TEMPLATE false"),
        format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"),
    ] {
        match conn.script(sql).await {
            Ok(()) => {}
            Err(e) if db_error(&e).as_deref() == Some("3D000") => break,
            Err(e) => {
                r = Err(Error::db(format!("dropping template database {name}"))(e));
                break;
            }
        }
    }
    let _ = conn.exec("SELECT pg_advisory_unlock($1)", &[key]).await;
    r
}

/// Drops throwaway databases left on the server of `dialect` by test processes that were
/// killed before they could clean up (SIGKILL, a power cut), if they were created more than
/// `older_than` ago, and returns their names. Pick an age longer than any test run, so
/// databases of tests still running are left alone. Templates are not touched (see
/// [`drop_templates`]). SQLite's temporary files live in the system temporary directory and
/// are not tracked: nothing to do.
pub async fn drop_orphans(dialect: Dialect, older_than: Duration) -> Result<Vec<String>> {
    let Some((_, admin_url)) = server_url(dialect) else {
        return Ok(Vec::new());
    };
    let admin = Db::connect(&admin_url).await?;
    let cutoff = unix_secs().saturating_sub(older_than.as_secs());
    let r = async {
        let mut dropped = Vec::new();
        for name in list_databases(&admin, dialect, TEST_PREFIX).await? {
            let created = name
                .strip_prefix(TEST_PREFIX)
                .and_then(|rest| rest.split('_').next())
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            // Names from before timestamps were added (`kiln_t_<pid>_...`) parse as tiny
            // numbers; leave them alone rather than drop a database a running test owns.
            if created.is_some_and(|c| c > PLAUSIBLE_SECS && c < cutoff) {
                drop_server_database(&admin, dialect, &name).await?;
                dropped.push(name);
            }
        }
        Ok(dropped)
    }
    .await;
    admin.close().await;
    r
}

async fn list_databases(admin: &Db, dialect: Dialect, prefix: &str) -> Result<Vec<String>> {
    let pattern = quote_literal(dialect, &format!("{}%", prefix.replace('_', "\\_")));
    let sql = match dialect {
        Dialect::MySql => format!(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE {pattern}"
        ),
        _ => format!("SELECT datname::text FROM pg_database WHERE datname LIKE {pattern}"),
    };
    let mut conn = RawConnection::acquire(admin).await?;
    let rows = conn
        .rows(&sql, &[])
        .await
        .map_err(Error::db("listing databases"))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}
