//! Template databases (PostgreSQL) and files (SQLite): a migrated database built once per set
//! and cloned for every test that asks for one, so [`TestDb::migrated`] costs a copy rather
//! than a migration.

// Each engine's half uses its own part of the imports; a build with one engine uses fewer.
#![cfg_attr(
    not(all(feature = "sqlite", feature = "postgres")),
    allow(unused_imports)
)]

use super::{Cleanup, TEMPLATE_PREFIX, TestDb, context, db_error};
use crate::with_database;
use kiln_core::Dialect;
use kiln_runtime::{Db, Error, Migrator, RawConnection, Result, quote_ident, quote_literal};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The name of `migrator`'s template database (PostgreSQL) or file (SQLite):
/// `kiln_tpl_<first 16 hex digits of the set's digest>_<8 hex digits of the settings>`.
///
/// The digest changes whenever a revision is added, removed or edited, so a stale template is
/// never used: a changed set simply gets a new one. The settings part covers what else ends up
/// in the template: kiln's table names and schema, and kiln's own version (the bookkeeping
/// format may change between versions).
pub fn template_name(migrator: &Migrator) -> String {
    use sha2::{Digest, Sha256};
    let o = migrator.options();
    let settings = format!(
        "{}\0{}\0{}\0{}",
        o.version_table,
        o.audit_table,
        o.schema.as_deref().unwrap_or(""),
        env!("CARGO_PKG_VERSION")
    );
    let h = Sha256::digest(settings.as_bytes());
    let digest: String = migrator.set().digest().chars().take(16).collect();
    format!(
        "{TEMPLATE_PREFIX}{digest}_{}",
        kiln_core::checksum::hex(&h[..4])
    )
}

/// Where SQLite template files are kept: `kiln-test-templates` in the system temporary
/// directory.
pub fn sqlite_template_dir() -> PathBuf {
    std::env::temp_dir().join("kiln-test-templates")
}

pub(super) fn io(what: &str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
    let what = format!("{what} {}", path.display());
    move |e| Error::Config(format!("cannot {what}: {e}"))
}

#[cfg(feature = "sqlite")]
pub(super) async fn sqlite_from_template(m: &Migrator) -> Result<TestDb> {
    let dir = sqlite_template_dir();
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let template = dir.join(format!("{}.db", template_name(m)));
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::Config(format!("cannot create a temporary directory: {e}")))?;
    let file = tmp.path().join("test.db");
    let mut attempt = 0;
    loop {
        attempt += 1;
        if !template.exists() {
            // One builder at a time, across processes too, so a template is built once; the
            // others wait and then find it.
            let lock = dir.join(format!("{}.lock", template_name(m)));
            let _held = lock_file(&lock).await?;
            if !template.exists() {
                sqlite_build_template(m, &dir, &template).await?;
            }
        }
        match std::fs::copy(&template, &file) {
            Ok(_) => break,
            // Removed by a concurrent cleanup between the check and the copy: build it again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => {}
            Err(e) => return Err(io("copy", &template)(e)),
        }
    }
    let url = format!("sqlite://{}", file.display());
    let db = Db::connect(&url).await?;
    Ok(TestDb {
        db,
        url,
        cleanup: Some(Cleanup::File(tmp)),
    })
}

/// Waits for an exclusive lock on `path` (created if missing); released when the file is
/// dropped, or when the process dies.
#[cfg(feature = "sqlite")]
async fn lock_file(path: &std::path::Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("open", path))?;
    let mut pause = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", path)(e)),
        }
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite_build_template(
    m: &Migrator,
    dir: &std::path::Path,
    template: &std::path::Path,
) -> Result<()> {
    // Built under a name of its own and renamed into place, so a concurrent test never copies
    // a half-migrated file and the loser of a race just replaces an identical file.
    static N: AtomicU64 = AtomicU64::new(0);
    let building = dir.join(format!(
        "{}.{}.{}.building",
        template_name(m),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let db = Db::connect(&format!("sqlite://{}", building.display())).await?;
    let r = m.run(&db).await;
    db.close().await;
    let mut lock = building.clone().into_os_string();
    lock.push(".kiln-lock");
    let _ = std::fs::remove_file(&lock);
    if let Err(e) = r {
        let _ = std::fs::remove_file(&building);
        return Err(context(e, "building the SQLite template"));
    }
    std::fs::rename(&building, template).map_err(io("rename into place", template))
}

/// The advisory lock key serializing work on one template: any process building, or dropping,
/// the same template waits for the one that holds it.
pub(super) fn template_lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("kiln-template:{name}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) >> 1) as i64
}

/// `Some(true)` for a finished template, `Some(false)` for one a crashed process left
/// half-built, `None` when there is none.
pub(super) async fn pg_template_state(
    conn: &mut RawConnection,
    name: &str,
) -> Result<Option<bool>> {
    let rows = conn
        .rows(
            &format!(
                "SELECT datistemplate::text FROM pg_database WHERE datname = {}",
                quote_literal(Dialect::Postgres, name)
            ),
            &[],
        )
        .await
        .map_err(Error::db("looking up a template database"))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| r.into_iter().next().flatten().as_deref() == Some("true")))
}

#[cfg(feature = "postgres")]
pub(super) async fn pg_from_template(admin: &Db, admin_url: &str, m: &Migrator) -> Result<TestDb> {
    let tpl = template_name(m);
    let mut attempt = 0;
    loop {
        attempt += 1;
        pg_ensure_template(admin, admin_url, &tpl, m).await?;
        match TestDb::create_with(admin, admin_url, Dialect::Postgres, Some(&tpl)).await {
            Ok(t) => return Ok(t),
            // The template was dropped by a concurrent cleanup (3D000), or a session was still
            // leaving it (55006): build or wait, and try again.
            Err(Error::Database { source, .. })
                if attempt < 4
                    && matches!(db_error(&source).as_deref(), Some("3D000") | Some("55006")) =>
            {
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(feature = "postgres")]
async fn pg_ensure_template(admin: &Db, admin_url: &str, tpl: &str, m: &Migrator) -> Result<()> {
    let mut conn = RawConnection::acquire(admin).await?;
    if pg_template_state(&mut conn, tpl).await? == Some(true) {
        return Ok(());
    }
    // A session lock must not go back to the pool if this future is dropped half-way.
    conn.close_on_drop();
    let key = template_lock_key(tpl);
    conn.exec("SELECT pg_advisory_lock($1)", &[key])
        .await
        .map_err(Error::db("locking the template database"))?;
    let built = pg_build_template(&mut conn, admin_url, tpl, m).await;
    let unlocked = conn
        .exec("SELECT pg_advisory_unlock($1)", &[key])
        .await
        .map_err(Error::db("unlocking the template database"));
    built?;
    unlocked.map(|_| ())
}

#[cfg(feature = "postgres")]
async fn pg_build_template(
    conn: &mut RawConnection,
    admin_url: &str,
    tpl: &str,
    m: &Migrator,
) -> Result<()> {
    let q = quote_ident(Dialect::Postgres, tpl);
    match pg_template_state(conn, tpl).await? {
        // Another process finished it while this one waited for the lock.
        Some(true) => return Ok(()),
        Some(false) => conn
            .script(format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"))
            .await
            .map_err(Error::db("dropping a half-built template database"))?,
        None => {}
    }
    conn.script(format!("CREATE DATABASE {q}"))
        .await
        .map_err(Error::db("creating a template database"))?;
    let db = Db::connect(&with_database(admin_url, tpl)).await;
    let migrated = match db {
        Ok(db) => {
            let r = m.run(&db).await;
            db.close().await;
            r
        }
        Err(e) => Err(e),
    };
    if let Err(e) = migrated {
        let _ = conn
            .script(format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"))
            .await;
        return Err(context(e, "building the template database"));
    }
    // No connections from now on, so `CREATE DATABASE ... TEMPLATE` never finds the template in
    // use; marking it a template last is what tells other processes it is finished.
    for sql in [
        format!("ALTER DATABASE {q} WITH ALLOW_CONNECTIONS false"),
        format!("ALTER DATABASE {q} IS_TEMPLATE true"),
    ] {
        conn.script(sql)
            .await
            .map_err(Error::db("marking the template database finished"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_follow_the_set_and_the_settings() {
        let m = Migrator::EMPTY;
        let a = template_name(&m);
        assert!(a.starts_with("kiln_tpl_0000000000000000_"), "{a}");
        assert!(a.len() <= 63);
        let other = m
            .clone()
            .with_options(kiln_runtime::Options::default().version_table("v2"));
        assert_ne!(template_name(&other), a);
        assert_eq!(template_name(&m), a);
    }
}
