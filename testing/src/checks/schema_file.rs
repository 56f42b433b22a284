//! `matches_schema_file`: the schema the migrations build against a declared schema file.

use super::{CheckError, CheckReport, Ctx, finish};
use crate::testdb::TestDb;
use kiln_core::Dialect;
use kiln_runtime::Migrator;
use std::path::Path;
use std::time::Instant;

/// The schema the migrations build equals a declared schema file for this engine: the file is
/// applied, statement by statement, to a second throwaway database and the two captures are
/// compared; the diff is the failure message.
///
/// With `KILN_SCHEMA_UPDATE=1` in the environment, a file that differs (or does not exist yet)
/// is rewritten from the migrations instead, as `kiln schema dump` would write it, and the check
/// passes with a note saying so (PostgreSQL and SQLite; on MySQL/MariaDB, or when the schema
/// holds something kiln cannot render, it fails rather than write an incomplete file).
pub async fn matches_schema_file(
    migrator: &Migrator,
    dialect: Dialect,
    path: impl AsRef<Path>,
) -> Result<CheckReport, CheckError> {
    let update = std::env::var("KILN_SCHEMA_UPDATE").is_ok_and(|v| v == "1");
    matches_schema_file_with(migrator, dialect, path.as_ref(), update).await
}

async fn matches_schema_file_with(
    migrator: &Migrator,
    dialect: Dialect,
    path: &Path,
    update: bool,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let ctx = Ctx {
        check: "matches_schema_file",
        dialect: Some(dialect),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) if update => String::new(),
        Err(e) => return Err(ctx.setup_msg(format!("cannot read {}: {e}", path.display()))),
    };
    let Some(migrated) = TestDb::migrated(migrator, dialect)
        .await
        .map_err(|e| ctx.failed_by("migrating a throwaway database to every head", e))?
    else {
        return Ok(ctx.report().skip(dialect));
    };
    let declared = match ctx.fresh(dialect).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            finish(migrated).await;
            return Ok(ctx.report().skip(dialect));
        }
        Err(e) => {
            finish(migrated).await;
            return Err(e);
        }
    };
    let r = async {
        apply_file(ctx, &declared, &text, path).await?;
        let ours = ctx.capture(migrator, &migrated).await?;
        let theirs = ctx.capture(migrator, &declared).await?;
        let file = path.display().to_string();
        if update && ours.diff(&theirs).is_some() {
            return rewrite(ctx, &ours, path).await;
        }
        if let Some(d) = ours.diff_labeled(&theirs, "the migrations", &file) {
            return Err(ctx.failed(format!(
                "the schema the migrations build differs from {file}:\n{d}"
            )));
        }
        let mut rep = ctx.report();
        rep.revisions = migrator.set().len();
        rep.notes.push(format!(
            "{} object line(s) identical to {file}",
            ours.lines().len()
        ));
        Ok(rep)
    }
    .await;
    finish(migrated).await;
    finish(declared).await;
    r.map(|rep| rep.done(started))
}

/// `KILN_SCHEMA_UPDATE=1`: writes the migrations' schema over the file, unless part of it cannot
/// be rendered.
async fn rewrite(
    ctx: Ctx,
    ours: &kiln_schema::Schema,
    path: &Path,
) -> Result<CheckReport, CheckError> {
    let ddl = ours.to_ddl();
    if let Some(line) = ddl.lines().find(|l| l.starts_with("-- NOT RENDERED")) {
        return Err(ctx.failed(format!(
            "KILN_SCHEMA_UPDATE=1 did not rewrite {}: kiln cannot render all of the schema ({}); update the file by hand",
            path.display(),
            line.trim_start_matches("-- ")
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ctx.setup_msg(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, ddl)
        .map_err(|e| ctx.setup_msg(format!("cannot write {}: {e}", path.display())))?;
    let mut rep = ctx.report();
    rep.notes.push(format!(
        "KILN_SCHEMA_UPDATE=1: rewrote {} from the migrations; review and commit it",
        path.display()
    ));
    Ok(rep)
}

/// Applies the file the way `kiln check --schema-file` does (kiln-schema's `apply_sql`: dump
/// tools' output accepted as it comes), so a file that passes one passes the other.
async fn apply_file(ctx: Ctx, t: &TestDb, text: &str, path: &Path) -> Result<(), CheckError> {
    kiln_schema::apply_sql(t.db(), text).await.map_err(|e| {
        ctx.failed(format!(
            "{}:{}: the declared schema does not apply: {}",
            path.display(),
            e.line,
            e.message
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stale file is rewritten from the migrations, and then matches without updating.
    #[tokio::test]
    async fn update_rewrites_a_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("m");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::write(
            migrations.join("a1_users.sql"),
            "-- kiln:revision a1\n-- kiln:message users\n\n-- kiln:upgrade\nCREATE TABLE users (id INTEGER PRIMARY KEY, email text NOT NULL);\n\n-- kiln:downgrade\nDROP TABLE users;\n",
        )
        .unwrap();
        let m = Migrator::load(&kiln_core::MigrationDir::new(&migrations, "m")).unwrap();
        let file = dir.path().join("schema").join("sqlite.sql");
        std::fs::create_dir(dir.path().join("schema")).unwrap();
        std::fs::write(&file, "CREATE TABLE users (id INTEGER PRIMARY KEY);\n").unwrap();
        assert!(
            matches_schema_file_with(&m, Dialect::Sqlite, &file, false)
                .await
                .is_err()
        );
        let rep = matches_schema_file_with(&m, Dialect::Sqlite, &file, true)
            .await
            .unwrap();
        assert!(rep.notes.iter().any(|n| n.contains("rewrote")), "{rep:?}");
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.contains("email text NOT NULL"), "{written}");
        matches_schema_file_with(&m, Dialect::Sqlite, &file, false)
            .await
            .unwrap();
    }
}
