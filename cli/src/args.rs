//! The command line, as clap sees it. No behaviour lives here: [`crate::settings`] validates these
//! values and [`crate::cmd`] acts on them.

use crate::exit::{self, Code};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum};

/// Database migrations baked into your binary. Alembic's verbs, checked by the compiler.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL: sqlite:, postgres:, postgresql:, mysql: or mariadb: [default: $DATABASE_URL
    /// (or kiln.toml's database_url_env), then ./.env, then kiln.toml's database_url]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Migration directory, relative to the working directory [default: $KILN_DIR, then
    /// kiln.toml's dir (relative to kiln.toml), then `migrations`]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<String>,
    /// Name of the version table [default: $KILN_VERSION_TABLE, kiln.toml, kiln_version]
    #[arg(long, global = true, value_name = "NAME")]
    pub version_table: Option<String>,
    /// Name of the audit table [default: $KILN_AUDIT_TABLE, kiln.toml, kiln_audit]
    #[arg(long, global = true, value_name = "NAME")]
    pub audit_table: Option<String>,
    /// Schema (PostgreSQL) or database (MySQL) of kiln's tables [default: $KILN_SCHEMA,
    /// kiln.toml, the connection's]
    #[arg(long, global = true, value_name = "NAME")]
    pub schema: Option<String>,
    /// Seconds without a reply from PostgreSQL/MySQL before kiln checks, over a second
    /// connection, whether the server is still working; a lost connection then ends the run.
    /// 0 waits forever [default: 30]
    #[arg(long, global = true, value_name = "SECS")]
    pub io_timeout: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the migration directory and an empty kiln.lock, and show the build.rs line
    Init(InitArgs),
    /// Write a new revision file whose parent is the current head
    Revision(RevisionArgs),
    /// Write a merge revision joining two or more heads
    Merge(MergeArgs),
    /// Apply revisions up to TARGET (or print their SQL with --sql)
    Upgrade(MoveArgs),
    /// Revert revisions down to TARGET (or print their SQL with --sql)
    Downgrade(MoveArgs),
    /// Show the database's current revision(s)
    Current(CurrentArgs),
    /// List revisions, newest first; draws the graph on a terminal
    History(HistoryArgs),
    /// List the heads of the migration graph
    Heads(ListArgs),
    /// List branch points and labelled branches
    Branches(ListArgs),
    /// Show one revision: its place in the graph, its file and its SQL
    Show(ShowArgs),
    /// Open a revision's file in $VISUAL or $EDITOR
    Edit(EditArgs),
    /// Record revisions as applied without running SQL (audited)
    Stamp(StampArgs),
    /// Validate the directory and lock; with a database, also pending revisions and drift
    Check(CheckArgs),
    /// Record new revisions in kiln.lock; --accept re-locks a deliberately edited revision
    Lock(LockArgs),
    /// Print the revision graph as Graphviz dot or Mermaid
    Graph(GraphArgs),
    /// Show the database's audit trail
    Audit(AuditArgs),
    /// Show the effective settings and where each came from (flag, env, .env, kiln.toml, default)
    Config(ConfigArgs),
    /// Find statements that lock, rewrite or break a busy database (default: draft revisions)
    Lint(crate::cmd::lint::LintArgs),
    /// The schema the migrations build: `kiln schema dump` prints it as canonical DDL
    Schema(crate::cmd::schema::SchemaArgs),
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create [default: --dir, $KILN_DIR, then `migrations`]
    pub path: Option<String>,
    /// Also write build.rs (in the working directory) so cargo notices new migration files
    #[arg(long)]
    pub write_build_rs: bool,
}

#[derive(Debug, Args)]
pub struct RevisionArgs {
    /// The revision's message (also used for the file name)
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// Use this revision id instead of a random one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Base the revision on REV instead of the current head: a head, `LABEL@head`, `base` for a
    /// new labelled base, or (with --splice) any revision
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Branch label(s) for the new revision (comma-separated or repeated)
    #[arg(long, value_name = "LABEL", value_delimiter = ',')]
    pub branch_label: Vec<String>,
    /// Revisions or branch labels that must be applied first (comma-separated or repeated)
    #[arg(long, value_name = "REV", value_delimiter = ',')]
    pub depends_on: Vec<String>,
    /// Allow --head to name a revision that is not a head, starting a new branch from it
    #[arg(long)]
    pub splice: bool,
    /// Write bare section markers without the explanatory template comments
    #[arg(long)]
    pub empty: bool,
    /// Record the new file in kiln.lock right away
    #[arg(long)]
    pub lock: bool,
    /// Write the SQL that turns head into the declared schema file, proven on dev databases
    /// (docs/autogenerate.md)
    #[arg(long, conflicts_with = "empty")]
    pub autogenerate: bool,
    /// With --autogenerate: the declared schema [default: schema/<dialect>.sql, then schema.sql,
    /// beside the migration directory]
    #[arg(long, value_name = "FILE", requires = "autogenerate")]
    pub schema_file: Option<String>,
    /// With --autogenerate: SQL dialect [default: from the database URL's scheme]
    #[arg(long, value_enum, requires = "autogenerate")]
    pub dialect: Option<DialectArg>,
    /// With --autogenerate: render a rename instead of a drop and an add: `OLD=NEW` (a table) or
    /// `TABLE.OLD=NEW` (a column). Repeatable
    #[arg(long = "rename", value_name = "OLD=NEW", requires = "autogenerate")]
    pub renames: Vec<String>,
    #[command(flatten)]
    pub dev: crate::cmd::schema::DevArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merge revision's message
    #[arg(short, long, value_name = "MSG")]
    pub message: String,
    /// The revisions to join (at least two), or `heads` for every head
    #[arg(required = true, value_name = "REV")]
    pub revisions: Vec<String>,
    /// Use this revision id instead of a random one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Branch label(s) for the merge revision
    #[arg(long, value_name = "LABEL", value_delimiter = ',')]
    pub branch_label: Vec<String>,
    /// Record the new file in kiln.lock right away
    #[arg(long)]
    pub lock: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransactionArg {
    /// One transaction per revision (the default)
    PerRevision,
    /// One transaction for the whole run (PostgreSQL and SQLite)
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockModeArg {
    /// A session lock on a direct connection, the transaction lock behind a pooler
    Auto,
    /// PostgreSQL's advisory lock, MySQL's GET_LOCK, SQLite's lock file, for the whole run
    Session,
    /// pg_advisory_xact_lock in every writing transaction (PostgreSQL; works behind PgBouncer)
    Transaction,
    /// A lease in a lock table, renewed while the run lives (engines without advisory locks)
    Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("json_needs").multiple(true).args(["dry_run", "each", "each_sqlite", "each_schema", "each_query"])))]
pub struct MoveArgs {
    /// Where to go: head, heads, base, REV (or unique prefix), +N, -N, REV+N, LABEL@head,
    /// LABEL@base, LABEL@+N; with --sql also FROM:TO
    #[arg(allow_hyphen_values = true, value_name = "TARGET")]
    pub target: String,
    /// Print the SQL instead of running it (no database needed)
    #[arg(long)]
    pub sql: bool,
    /// SQL dialect for --sql [default: from the database URL's scheme]
    #[arg(long, value_enum, requires = "sql")]
    pub dialect: Option<DialectArg>,
    /// List the revisions that would run, without running them
    #[arg(long, conflicts_with = "sql")]
    pub dry_run: bool,
    /// Transaction grouping
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "sql")]
    pub transaction: Option<TransactionArg>,
    /// With --dry-run: print JSON; with --each: one JSON object per database
    #[arg(long, requires = "json_needs")]
    pub json: bool,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub each: crate::cmd::fleet::EachArgs,
}

/// Options of the commands that change the database.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Tolerate applied revisions this directory does not know (rolling deploys)
    #[arg(long)]
    pub allow_unknown: bool,
    /// Do not take the migration lock (for engines or proxies that cannot provide it)
    #[arg(long)]
    pub no_lock: bool,
    /// Seconds to wait for the migration lock [default: 60]
    #[arg(long, value_name = "SECS")]
    pub lock_timeout: Option<u64>,
    /// Which migration lock: auto, session, transaction (behind a pooler), table (a lease)
    /// [default: auto]
    #[arg(long, value_enum, value_name = "MODE")]
    pub lock_mode: Option<LockModeArg>,
    /// Application version recorded in the audit trail
    #[arg(long, value_name = "VERSION")]
    pub app_version: Option<String>,
    /// How long each statement of a revision may wait for a lock, e.g. 5s or 200ms; 0 for no
    /// limit [default: none]
    #[arg(long, value_name = "DURATION", value_parser = timeout_arg)]
    pub ddl_lock_timeout: Option<std::time::Duration>,
    /// How long each statement of a revision may run, e.g. 10min; 0 for no limit [default: none]
    #[arg(long, value_name = "DURATION", value_parser = timeout_arg)]
    pub ddl_statement_timeout: Option<std::time::Duration>,
    /// How many times a revision that gave up waiting for a lock is tried again [default: 0]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(kiln_core::config::MAX_RETRIES)))]
    pub ddl_retries: Option<u32>,
}

/// A timeout flag's value, in kiln-core's one spelling of a duration.
fn timeout_arg(s: &str) -> Result<std::time::Duration, String> {
    kiln_core::time::parse_timeout(s)
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// Show details: parents, file, when applied, pending and problems
    #[arg(short, long)]
    pub verbose: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub each: crate::cmd::fleet::EachArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Range START:END, e.g. `base:head`, `current:heads`, `-3:`, `a1b2:`, `base:LABEL@head`
    #[arg(
        short = 'r',
        long = "rev-range",
        value_name = "RANGE",
        allow_hyphen_values = true
    )]
    pub range: Option<String>,
    /// Show every detail of each revision
    #[arg(short, long)]
    pub verbose: bool,
    /// Mark the database's current revision(s) (needs a database)
    #[arg(short, long)]
    pub indicate_current: bool,
    /// Draw the graph even when stdout is not a terminal
    #[arg(long, conflicts_with = "no_graph")]
    pub graph: bool,
    /// Never draw the graph
    #[arg(long)]
    pub no_graph: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show details
    #[arg(short, long)]
    pub verbose: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The revision: id, unique prefix, branch label, head, LABEL@head, REV-N, ...
    #[arg(allow_hyphen_values = true, value_name = "REV")]
    pub revision: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The revision: id, unique prefix, branch label, head, LABEL@head, REV-N, ...
    #[arg(allow_hyphen_values = true, value_name = "REV")]
    pub revision: String,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// The state to record: revisions or targets (with everything they need); none with --purge
    /// forgets every row
    // Not `allow_hyphen_values`: on a list it swallows every later argument, so
    // `stamp r2 --database-url U` would read the URL as a target. Negative numbers stay allowed
    // so `-1` reaches the target parser and its message.
    #[arg(value_name = "REV", allow_negative_numbers = true)]
    pub revisions: Vec<String>,
    /// First forget every recorded revision, including ones this directory does not know
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Fail when revisions are drafts (not yet in kiln.lock)
    #[arg(long)]
    pub locked: bool,
    /// Check only the directory and the lock, even when a database is configured
    #[arg(long)]
    pub offline: bool,
    /// Tolerate applied revisions this directory does not know
    #[arg(long)]
    pub allow_unknown: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Instead: compare the schema the migrations build with the declared schema FILE (on dev
    /// databases) [default FILE: schema/<dialect>.sql, then schema.sql, beside the migration
    /// directory]; exit 10 when they differ
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    pub schema_file: Option<String>,
    /// With --schema-file: SQL dialect [default: from the database URL's scheme]
    #[arg(long, value_enum, requires = "schema_file")]
    pub dialect: Option<DialectArg>,
    #[command(flatten)]
    pub dev: crate::cmd::schema::DevArgs,
    #[command(flatten)]
    pub each: crate::cmd::fleet::EachArgs,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Re-lock a locked revision whose file was deliberately edited (or drop one whose file was
    /// deliberately deleted). Repeatable.
    #[arg(long, value_name = "REV")]
    pub accept: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz: `kiln graph | dot -Tsvg > graph.svg`
    Dot,
    /// Mermaid flowchart, for Markdown
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    Upgrade,
    Downgrade,
    Stamp,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only rows about this revision (id or prefix)
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// Only rows that started at or after TIME: RFC 3339, YYYY-MM-DD, or an age like 30m, 12h, 7d
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only rows that started before TIME (same forms as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only rows of this action
    #[arg(long, value_enum)]
    pub action: Option<ActionArg>,
    /// Only failures
    #[arg(long)]
    pub failed: bool,
    /// Only the last N rows (after filtering)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Parses the command line. Help and version go to stdout (exit 0); usage errors are printed by
/// clap with the `kiln:` prefix and exit 2.
pub fn parse() -> Result<Cli, Code> {
    // Register passwords before clap can echo an argument back in an error message.
    for arg in std::env::args_os() {
        crate::out::protect_url(&arg.to_string_lossy());
    }
    if let Some(url) = std::env::var_os("DATABASE_URL") {
        crate::out::protect_url(&url.to_string_lossy());
    }
    // The closing line comes from the exit-code table. Where each setting comes from is said once,
    // in that option's own help.
    let parsed = Cli::command()
        .after_help(exit::help_line())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    match parsed {
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    Err(
                        if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                            Code::Usage
                        } else {
                            Code::Ok
                        },
                    )
                }
                _ => {
                    if let Some((typed, sentence)) = crate::alembic::hint(&e) {
                        let what = if e.kind() == ErrorKind::InvalidSubcommand {
                            "command"
                        } else {
                            "option here"
                        };
                        crate::out::error_text(&format!(
                            "kiln: `{typed}` is Alembic's, and kiln has no such {what}\n  help: {sentence}"
                        ));
                        return Err(Code::Usage);
                    }
                    let rendered = e.render().to_string();
                    let text = rendered
                        .strip_prefix("error: ")
                        .map_or_else(|| rendered.clone(), |rest| format!("kiln: {rest}"));
                    crate::out::error_text(text.trim_end());
                    Err(Code::Usage)
                }
            }
        }
    }
}
