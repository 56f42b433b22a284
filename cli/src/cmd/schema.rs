//! `kiln schema dump` and `kiln check --schema-file`, and what they share with `revision
//! --autogenerate` (`autogen.rs`): the dialect, the dev server, the schema at head (every
//! revision replayed on a dev database) and the declared schema (the file applied to another).
//! kiln never changes the target database here; every dev database is dropped afterwards.

use crate::args::DialectArg;
use crate::error::{Code, Fail};
use crate::settings::Settings;
use crate::{lenient, out};
use clap::{Args, Subcommand};
use kiln_core::Dialect;
use kiln_runtime::Migrator;
use kiln_schema::{DevDb, Schema};
use std::path::{Path, PathBuf};

/// `kiln schema ...`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub command: SchemaCommand,
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Replay every head on a throwaway dev database and print its schema as canonical DDL
    /// (kiln's own tables left out)
    Dump(DumpArgs),
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// SQL dialect [default: from the database URL's scheme]
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
    #[command(flatten)]
    pub dev: DevArgs,
    /// Write to FILE instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<String>,
}

/// Where throwaway databases are made.
#[derive(Debug, Args, Clone)]
pub struct DevArgs {
    /// PostgreSQL/MySQL server for throwaway databases (kiln creates and drops `kiln_dev_*`
    /// databases on it) [env: KILN_DEV_URL; default: the database URL's server]. SQLite uses a
    /// temporary file.
    #[arg(long, value_name = "URL", env = "KILN_DEV_URL", hide_env_values = true)]
    pub dev_url: Option<String>,
}

/// The engine: `--dialect`, else the database URL's scheme.
pub fn dialect(s: &Settings, arg: Option<DialectArg>) -> anyhow::Result<Dialect> {
    if let Some(d) = arg {
        return Ok(match d {
            DialectArg::Sqlite => Dialect::Sqlite,
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Mysql => Dialect::MySql,
        });
    }
    s.database.as_ref().and_then(|d| d.dialect()).ok_or_else(|| {
        Fail::usage(
            "cannot tell which engine the schema is for",
            "pass --dialect sqlite|postgres|mysql, or configure a database URL (it is not changed)",
        )
    })
}

/// The server for dev databases: `--dev-url`/`KILN_DEV_URL`, else the database URL (only its
/// server is used) when it is for the same engine.
pub fn server(s: &Settings, dialect: Dialect, dev: &DevArgs) -> Option<String> {
    if let Some(u) = &dev.dev_url {
        out::protect_url(u);
        return Some(u.clone());
    }
    s.database
        .as_ref()
        .filter(|d| d.dialect() == Some(dialect))
        .map(|d| d.url().to_owned())
}

/// The directory's migrator (with the global options, so kiln's tables are named as configured).
pub fn migrator(s: &Settings) -> anyhow::Result<Migrator> {
    let set = lenient::load(&s.dir, lenient::Tolerate::READ)?;
    Ok(crate::cmd::db::migrator(set, s.options.clone()))
}

/// A dev database, or an error that says how to get one.
pub async fn dev_db(dialect: Dialect, server: Option<&str>) -> anyhow::Result<DevDb> {
    if let Some(u) = server {
        kiln_runtime::url::validate(u)?;
    }
    DevDb::create(dialect, server).await.map_err(|e| {
        Fail::with(
            Code::Database,
            format!("cannot create a dev database: {e}"),
            "kiln needs a server where it may create and drop `kiln_dev_*` databases: pass --dev-url URL or set KILN_DEV_URL",
        )
    })
}

/// Runs `f` on a fresh dev database and drops it afterwards, whatever `f` returned.
pub async fn on_dev<T>(
    dialect: Dialect,
    server: Option<&str>,
    f: impl AsyncFnOnce(&DevDb) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dev = dev_db(dialect, server).await?;
    let r = f(&dev).await;
    if let Err(e) = dev.drop_database().await {
        out::note(format!("warning: {e}"));
    }
    r
}

/// The schema at every head: each revision replayed on a dev database.
pub async fn head_schema(
    m: &Migrator,
    dialect: Dialect,
    server: Option<&str>,
) -> anyhow::Result<Schema> {
    on_dev(dialect, server, async |dev| {
        m.run(dev.db()).await?;
        Ok(Schema::capture_with(dev.db(), m.options()).await?)
    })
    .await
}

/// The declared schema: the file applied to a dev database, then captured.
pub async fn declared_schema(
    m: &Migrator,
    path: &Path,
    shown: &str,
    dialect: Dialect,
    server: Option<&str>,
) -> anyhow::Result<Schema> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Fail::usage(
            format!("cannot read the declared schema {shown}: {e}"),
            "pass --schema-file FILE, or create schema/<dialect>.sql or schema.sql beside the migration directory",
        )
    })?;
    on_dev(dialect, server, async |dev| {
        if let Err(e) = kiln_schema::apply_sql(dev.db(), &text).await {
            return Err(Fail::with(
                Code::Usage,
                format!(
                    "{shown}:{}: the declared schema does not apply: {}",
                    e.line, e.message
                ),
                "fix the statement at that line (it ran on a throwaway dev database, not yours)",
            ));
        }
        Ok(Schema::capture_with(dev.db(), m.options()).await?)
    })
    .await
}

/// The declared schema file: `given`, else `schema/<dialect>.sql`, else `schema.sql`, both
/// beside the migration directory. Returns the path and how to show it.
pub fn schema_file(s: &Settings, dialect: Dialect, given: Option<&str>) -> (PathBuf, String) {
    if let Some(g) = given {
        return (s.cwd.join(g), g.to_owned());
    }
    let base = s
        .dir
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let name = match dialect {
        Dialect::Postgres => "postgres",
        Dialect::MySql => "mysql",
        _ => "sqlite",
    };
    let per_engine = base.join("schema").join(format!("{name}.sql"));
    let chosen = if per_engine.exists() {
        per_engine
    } else {
        base.join("schema.sql")
    };
    let shown = chosen
        .strip_prefix(&s.cwd)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| chosen.display().to_string());
    (chosen, shown)
}

/// Compares two captures; PostgreSQL cannot reorder columns, so there order does not count.
pub fn differences(a: &Schema, b: &Schema, left: &str, right: &str) -> Option<String> {
    if a.dialect == Dialect::Postgres {
        a.without_column_order()
            .diff_labeled(&b.without_column_order(), left, right)
    } else {
        a.diff_labeled(b, left, right)
    }
}

/// Runs an async body, dropping it (and with it every dev database, through their `Drop`) on
/// Ctrl-C.
pub fn block_on_interruptible<T>(
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    crate::cmd::db::block_on(async {
        tokio::select! {
            r = f => r,
            _ = tokio::signal::ctrl_c() => Err(Fail::with(
                Code::Interrupted,
                "stopped by Ctrl-C; the dev databases were dropped",
                "run the command again",
            )),
        }
    })?
}

/// `kiln schema ...`.
pub fn schema(s: &Settings, a: &SchemaArgs) -> anyhow::Result<Code> {
    match &a.command {
        SchemaCommand::Dump(d) => dump(s, d),
    }
}

fn dump(s: &Settings, a: &DumpArgs) -> anyhow::Result<Code> {
    let dialect = dialect(s, a.dialect)?;
    let server = server(s, dialect, &a.dev);
    let m = migrator(s)?;
    let schema = block_on_interruptible(head_schema(&m, dialect, server.as_deref()))?;
    let ddl = schema.to_ddl();
    for line in ddl.lines().filter(|l| l.starts_with("-- NOT RENDERED")) {
        out::note(format!("warning: {}", line.trim_start_matches("-- ")));
    }
    match &a.output {
        Some(path) => {
            std::fs::write(s.cwd.join(path), &ddl).map_err(|e| {
                Fail::with(
                    Code::Failure,
                    format!("cannot write {path}: {e}"),
                    "check the path and its permissions",
                )
            })?;
            out::note(format!("wrote {path}"));
        }
        None => print!("{ddl}"),
    }
    Ok(Code::Ok)
}

/// `kiln check --schema-file [FILE]`: head against the declared schema.
pub fn check_schema(
    s: &Settings,
    file: Option<&str>,
    dialect_arg: Option<DialectArg>,
    dev: &DevArgs,
) -> anyhow::Result<Code> {
    let dialect = dialect(s, dialect_arg)?;
    let server = server(s, dialect, dev);
    let (path, shown) = schema_file(s, dialect, file);
    let m = migrator(s)?;
    let (head, declared) = block_on_interruptible(async {
        let head = head_schema(&m, dialect, server.as_deref()).await?;
        let declared = declared_schema(&m, &path, &shown, dialect, server.as_deref()).await?;
        Ok((head, declared))
    })?;
    match differences(&head, &declared, "head", &shown) {
        None => {
            out::line(format!(
                "schema: head matches {shown} ({} object lines)",
                head.lines().len()
            ));
            Ok(Code::Ok)
        }
        Some(d) => {
            out::line(format!("schema: head differs from {shown}:\n{d}"));
            out::note(
                "next: `kiln revision --autogenerate -m MSG` writes the migration, or fix the file",
            );
            Ok(Code::SchemaDiffers)
        }
    }
}
