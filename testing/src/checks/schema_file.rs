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
pub async fn matches_schema_file(
    migrator: &Migrator,
    dialect: Dialect,
    path: impl AsRef<Path>,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let path = path.as_ref();
    let ctx = Ctx {
        check: "matches_schema_file",
        dialect: Some(dialect),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ctx.setup_msg(format!("cannot read {}: {e}", path.display())))?;
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
