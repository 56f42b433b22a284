//! What to do, with its arguments checked: one typed settings value per command, made from clap's
//! values here so that no command module sees [`crate::args`]. Targets are parsed once, here, and
//! carried as [`Target`]s. Global options (URL, directory, tables) are [`crate::settings`]'.

use crate::args::{self, Command, DialectArg};
use crate::error::Fail;
use crate::settings::{DbUrl, run_options};
use crate::{out, range, time};
use kiln_core::{Dialect, MigrationDir, Target};
use kiln_runtime::{Direction, Options};
use std::path::Path;

/// A command with its arguments checked.
#[derive(Debug)]
pub enum Action {
    Init(InitSettings),
    Revision(RevisionSettings),
    Merge(MergeSettings),
    Move(MoveSettings),
    Current(CurrentSettings),
    History(HistorySettings),
    Heads(ListSettings),
    Branches(ListSettings),
    Show(ShowSettings),
    Edit(EditSettings),
    Stamp(StampSettings),
    Check(CheckSettings),
    Lock(LockSettings),
    Graph(GraphFormat),
    Audit(AuditSettings),
    Config(ConfigSettings),
    /// `lint`: its arguments are declared with the command, in `cmd/lint.rs`.
    Lint(crate::cmd::lint::LintArgs),
    /// `schema`: its arguments are declared with the command, in `cmd/schema.rs`.
    Schema(crate::cmd::schema::SchemaArgs),
    /// `upgrade`, `downgrade`, `current` or `check` with `--each*`: a fleet of databases.
    Fleet(crate::cmd::fleet::FleetSettings),
}

/// `config`.
#[derive(Debug)]
pub struct ConfigSettings {
    pub json: bool,
}

/// `init`.
#[derive(Debug)]
pub struct InitSettings {
    pub dir: MigrationDir,
    pub write_build_rs: bool,
}

/// `revision`.
#[derive(Debug)]
pub struct RevisionSettings {
    pub message: String,
    pub rev_id: Option<String>,
    /// `--head`: `base` for a new base, else the revision to build on.
    pub head: Option<Target>,
    pub branch_labels: Vec<String>,
    /// As given: ids, prefixes or labels (a label is kept, an id resolved).
    pub depends_on: Vec<String>,
    pub splice: bool,
    pub empty: bool,
    pub lock: bool,
    /// `--autogenerate` and its options.
    pub autogenerate: Option<crate::cmd::autogen::AutogenSettings>,
}

/// `merge`.
#[derive(Debug)]
pub struct MergeSettings {
    pub message: String,
    /// As given: ids, prefixes, labels, `LABEL@head` or `heads` (a merge resolves them against
    /// a directory that may not validate, so not through the target grammar).
    pub revisions: Vec<String>,
    pub rev_id: Option<String>,
    pub branch_labels: Vec<String>,
    pub lock: bool,
}

/// `upgrade` and `downgrade`.
#[derive(Debug)]
pub struct MoveSettings {
    /// [`Direction::Upgrade`] or [`Direction::Downgrade`].
    pub direction: Direction,
    pub mode: MoveMode,
    /// Options for this run (global ones plus the run flags).
    pub options: Options,
}

#[derive(Debug)]
pub enum MoveMode {
    /// Run against the database (or only list with `dry_run`).
    Run {
        target: Target,
        dry_run: bool,
        json: bool,
    },
    /// Print the SQL of `from` → `to`.
    Sql {
        dialect: Dialect,
        from: Option<Target>,
        to: Target,
    },
}

/// `current`.
#[derive(Debug)]
pub struct CurrentSettings {
    pub verbose: bool,
    pub json: bool,
}

/// `history`.
#[derive(Debug)]
pub struct HistorySettings {
    pub range: range::Range,
    pub verbose: bool,
    pub indicate_current: bool,
    pub graph: bool,
    pub json: bool,
}

/// `heads` and `branches`.
#[derive(Debug)]
pub struct ListSettings {
    pub verbose: bool,
    pub json: bool,
}

/// `show`.
#[derive(Debug)]
pub struct ShowSettings {
    pub revision: Target,
    pub json: bool,
}

/// `edit`.
#[derive(Debug)]
pub struct EditSettings {
    pub revision: Target,
}

/// `stamp`.
#[derive(Debug)]
pub struct StampSettings {
    pub revisions: Vec<Target>,
    pub purge: bool,
    pub options: Options,
}

/// `check`.
#[derive(Debug)]
pub struct CheckSettings {
    pub locked: bool,
    pub offline: bool,
    pub allow_unknown: bool,
    pub json: bool,
    /// `--schema-file [FILE]` (an empty string for the default file), its dialect and dev server.
    pub schema: Option<(
        Option<String>,
        Option<DialectArg>,
        crate::cmd::schema::DevArgs,
    )>,
}

/// `lock`.
#[derive(Debug)]
pub struct LockSettings {
    /// Revisions (ids or prefixes) to re-lock or drop deliberately.
    pub accept: Vec<String>,
}

/// `graph --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// `audit`.
#[derive(Debug)]
pub struct AuditSettings {
    pub revision: Option<String>,
    /// Inclusive lower bound, canonical UTC text.
    pub since: Option<String>,
    /// Exclusive upper bound, canonical UTC text.
    pub until: Option<String>,
    pub action: Option<&'static str>,
    pub failed: bool,
    pub limit: Option<usize>,
    pub json: bool,
}

/// `upgrade` or `downgrade`, as the commands print it.
pub fn verb(d: Direction) -> &'static str {
    d.as_str()
}

impl Action {
    /// Checks one command's arguments. `dir`, `database` and `options` are the global settings.
    pub fn from_command(
        command: Command,
        cwd: &Path,
        dir: &MigrationDir,
        database: Option<&DbUrl>,
        options: &Options,
    ) -> anyhow::Result<Action> {
        Ok(match command {
            Command::Upgrade(a) if a.each.is_set() => {
                Action::Fleet(fleet_move(Direction::Upgrade, a, options)?)
            }
            Command::Downgrade(a) if a.each.is_set() => {
                Action::Fleet(fleet_move(Direction::Downgrade, a, options)?)
            }
            Command::Current(a) if a.each.is_set() => {
                Action::Fleet(crate::cmd::fleet::FleetSettings::from_args(
                    crate::cmd::fleet::Verb::Current,
                    a.each,
                    a.json,
                    options.clone(),
                )?)
            }
            Command::Check(a) if a.each.is_set() => {
                if a.offline || a.locked {
                    return Err(Fail::usage(
                        "`check --each` checks databases; --offline and --locked check the directory",
                        "run `kiln check --locked` once for the directory, and `kiln check --each ...` for the databases",
                    ));
                }
                Action::Fleet(crate::cmd::fleet::FleetSettings::from_args(
                    crate::cmd::fleet::Verb::Check,
                    a.each,
                    a.json,
                    options.clone().allow_unknown_applied(a.allow_unknown),
                )?)
            }
            Command::Init(a) => Action::Init(InitSettings {
                dir: match &a.path {
                    Some(p) => kiln_core::resolve_dir(cwd, Some(p)),
                    None => dir.clone(),
                },
                write_build_rs: a.write_build_rs,
            }),
            Command::Revision(a) => Action::Revision(RevisionSettings {
                head: a
                    .head
                    .as_deref()
                    .map(|h| Target::parse(h.trim()))
                    .transpose()?,
                message: a.message,
                rev_id: a.rev_id,
                branch_labels: a.branch_label,
                depends_on: a.depends_on,
                splice: a.splice,
                empty: a.empty,
                lock: a.lock,
                autogenerate: a
                    .autogenerate
                    .then_some(crate::cmd::autogen::AutogenSettings {
                        schema_file: a.schema_file,
                        dialect: a.dialect,
                        dev: a.dev,
                        renames: a.renames,
                    }),
            }),
            Command::Merge(a) => Action::Merge(MergeSettings {
                message: a.message,
                revisions: a.revisions,
                rev_id: a.rev_id,
                branch_labels: a.branch_label,
                lock: a.lock,
            }),
            Command::Upgrade(a) => {
                Action::Move(move_settings(Direction::Upgrade, a, options, database)?)
            }
            Command::Downgrade(a) => {
                Action::Move(move_settings(Direction::Downgrade, a, options, database)?)
            }
            Command::Current(a) => Action::Current(CurrentSettings {
                verbose: a.verbose,
                json: a.json,
            }),
            Command::History(a) => Action::History(HistorySettings {
                range: range::Range::parse(a.range.as_deref().unwrap_or(":"))?,
                verbose: a.verbose,
                indicate_current: a.indicate_current,
                graph: !a.no_graph && (a.graph || out::stdout_is_terminal()),
                json: a.json,
            }),
            Command::Heads(a) => Action::Heads(list(&a)),
            Command::Branches(a) => Action::Branches(list(&a)),
            Command::Show(a) => Action::Show(ShowSettings {
                revision: Target::parse(&a.revision)?,
                json: a.json,
            }),
            Command::Edit(a) => Action::Edit(EditSettings {
                revision: Target::parse(&a.revision)?,
            }),
            Command::Stamp(a) => {
                if a.revisions.is_empty() && !a.purge {
                    return Err(Fail::usage(
                        "stamp needs at least one revision",
                        "name the state to record, e.g. `kiln stamp heads`, `kiln stamp a1b2c3`, or `kiln stamp --purge` to forget every row",
                    ));
                }
                Action::Stamp(StampSettings {
                    revisions: a
                        .revisions
                        .iter()
                        .map(|r| Target::parse(r))
                        .collect::<Result<_, _>>()?,
                    purge: a.purge,
                    options: run_options(options.clone(), &a.run, None),
                })
            }
            Command::Check(a) => Action::Check(CheckSettings {
                locked: a.locked,
                offline: a.offline,
                allow_unknown: a.allow_unknown,
                json: a.json,
                schema: a.schema_file.map(|f| {
                    let file = (!f.trim().is_empty()).then_some(f);
                    (file, a.dialect, a.dev)
                }),
            }),
            Command::Lock(a) => Action::Lock(LockSettings { accept: a.accept }),
            Command::Config(a) => Action::Config(ConfigSettings { json: a.json }),
            Command::Lint(a) => Action::Lint(a),
            Command::Schema(a) => Action::Schema(a),
            Command::Graph(a) => Action::Graph(match a.format {
                args::GraphFormat::Dot => GraphFormat::Dot,
                args::GraphFormat::Mermaid => GraphFormat::Mermaid,
            }),
            Command::Audit(a) => Action::Audit(audit_settings(a)?),
        })
    }
}

/// `upgrade --each ...` and `downgrade --each ...`: runs, never `--sql` or `--dry-run`.
fn fleet_move(
    d: Direction,
    a: args::MoveArgs,
    options: &Options,
) -> anyhow::Result<crate::cmd::fleet::FleetSettings> {
    if a.sql || a.dry_run {
        return Err(Fail::usage(
            format!(
                "`{} --each` runs on every database; --sql and --dry-run are for one",
                verb(d)
            ),
            "drop --sql/--dry-run, or run them against one database with --database-url",
        ));
    }
    let target = Target::parse(a.target.trim())?;
    let verb = match d {
        Direction::Upgrade => crate::cmd::fleet::Verb::Upgrade(target),
        _ => crate::cmd::fleet::Verb::Downgrade(target),
    };
    let options = run_options(options.clone(), &a.run, a.transaction);
    crate::cmd::fleet::FleetSettings::from_args(verb, a.each, a.json, options)
}

fn list(a: &args::ListArgs) -> ListSettings {
    ListSettings {
        verbose: a.verbose,
        json: a.json,
    }
}

fn audit_settings(a: args::AuditArgs) -> anyhow::Result<AuditSettings> {
    let now = time::now_unix_micros();
    let parse = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<String>> {
        v.as_deref()
            .map(|s| {
                time::parse_user_time(s, now).map_err(|reason| {
                    Fail::usage(
                        format!("--{flag} `{s}` is not a time: {reason}"),
                        "write an RFC 3339 time (2026-11-23T21:00:00Z), a date (2026-11-23) or an age (30m, 12h, 7d, 2w)",
                    )
                })
            })
            .transpose()
    };
    Ok(AuditSettings {
        since: parse("since", &a.since)?,
        until: parse("until", &a.until)?,
        revision: a.revision,
        action: a.action.map(|x| match x {
            args::ActionArg::Upgrade => "upgrade",
            args::ActionArg::Downgrade => "downgrade",
            args::ActionArg::Stamp => "stamp",
        }),
        failed: a.failed,
        limit: a.limit,
        json: a.json,
    })
}

fn move_settings(
    direction: Direction,
    a: args::MoveArgs,
    global: &Options,
    database: Option<&DbUrl>,
) -> anyhow::Result<MoveSettings> {
    let options = run_options(global.clone(), &a.run, a.transaction);
    let mode = if a.sql {
        let dialect = match a.dialect {
            Some(DialectArg::Sqlite) => Dialect::Sqlite,
            Some(DialectArg::Postgres) => Dialect::Postgres,
            Some(DialectArg::Mysql) => Dialect::MySql,
            None => match database {
                Some(db) => db.dialect().ok_or_else(|| {
                    Fail::usage(
                        format!(
                            "cannot tell the SQL dialect from the database URL `{}`",
                            db.shown()
                        ),
                        "pass --dialect sqlite|postgres|mysql",
                    )
                })?,
                None => {
                    return Err(Fail::usage(
                        "--sql needs to know the SQL dialect",
                        "pass --dialect sqlite|postgres|mysql, or configure a database URL (it is not connected to)",
                    ));
                }
            },
        };
        let (from, to) = match a.target.split_once(':') {
            Some((f, t)) => {
                let f = f.trim();
                let t = t.trim();
                if t.is_empty() {
                    return Err(Fail::usage(
                        format!("`{}` has no end revision after `:`", a.target),
                        format!("write FROM:TO, e.g. `base:head` or `a1b2:{}`", "heads"),
                    ));
                }
                ((!f.is_empty()).then(|| f.to_owned()), t.to_owned())
            }
            None => (None, a.target.trim().to_owned()),
        };
        MoveMode::Sql {
            dialect,
            from: from.as_deref().map(Target::parse).transpose()?,
            to: Target::parse(&to)?,
        }
    } else {
        if a.target.contains(':') {
            return Err(Fail::usage(
                format!("`{}` is a range; ranges only work with --sql", a.target),
                format!(
                    "run `kiln {} {} --sql`, or name a single target",
                    verb(direction),
                    a.target
                ),
            ));
        }
        MoveMode::Run {
            target: Target::parse(a.target.trim())?,
            dry_run: a.dry_run,
            json: a.json,
        }
    };
    Ok(MoveSettings {
        direction,
        mode,
        options,
    })
}
