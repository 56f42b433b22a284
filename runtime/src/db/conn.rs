//! One checked-out connection of any engine ([`Conn`]), the values it binds, and the plain
//! statements every other part of the runtime sends through it.

use super::dialect_of_conn;
use crate::sql::trusted;
use kiln_core::Dialect;
use std::borrow::Cow;

fn os_user() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid.to_string()).then(|| name.to_owned())
        });
        Some(name.unwrap_or_else(|| format!("uid {uid}")))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

/// One checked-out connection.
pub(crate) enum Conn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    #[allow(dead_code)]
    Never(std::convert::Infallible),
}

macro_rules! on_conn {
    ($value:expr, $c:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            Conn::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            Conn::MySql($c) => $body,
            Conn::Never(n) => match *n {},
        }
    };
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::OptText(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

/// A row read generically: every column as optional text or integer, in select order.
pub(crate) type TextRow = Vec<Option<String>>;

/// Reads every column of `rows` as optional text, the `int_columns` as integers shown as text.
fn decode_rows<R>(
    rows: Vec<R>,
    int_columns: &[usize],
) -> std::result::Result<Vec<TextRow>, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cols = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            if int_columns.contains(&i) {
                let v: Option<i64> = row.try_get(i)?;
                cols.push(v.map(|v| v.to_string()));
            } else {
                let v: Option<String> = row.try_get(i)?;
                cols.push(v);
            }
        }
        out.push(cols);
    }
    Ok(out)
}

/// `sql` with each `$n` replaced by the literal of `args[n - 1]`, for PostgreSQL's simple-query
/// protocol (see [`Conn::exec`]). Every value goes through the one escaping function. A `$n`
/// inside a quoted string or identifier is text, as it was for the server, and stays as it is.
#[cfg(feature = "postgres")]
pub(crate) fn inline_pg(sql: &str, args: &[Arg]) -> String {
    use crate::sql::literal;
    let mut out = String::with_capacity(sql.len() + 16 * args.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            // A doubled quote is one quote character inside, so toggling twice is right.
            if c == q {
                quote = None;
            }
            out.push(c);
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            out.push(c);
            continue;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.next_if(char::is_ascii_digit) {
            digits.push(d);
        }
        let arg = digits
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| args.get(i));
        match arg {
            Some(Arg::Text(s)) => out.push_str(&literal(Dialect::Postgres, Some(s))),
            Some(Arg::OptText(s)) => out.push_str(&literal(Dialect::Postgres, s.as_deref())),
            Some(Arg::Int(i)) => out.push_str(&i.to_string()),
            None => {
                out.push('$');
                out.push_str(&digits);
            }
        }
    }
    out
}

impl Conn {
    pub fn dialect(&self) -> Dialect {
        on_conn!(self, _c => dialect_of_conn(_c))
    }

    /// Runs SQL text as-is (several statements allowed) through the engine's simple-query path.
    pub async fn script(
        &mut self,
        sql: impl Into<Cow<'static, str>>,
    ) -> std::result::Result<(), sqlx::Error> {
        let sql = trusted(sql);
        on_conn!(self, c => sqlx::raw_sql(sql).execute(&mut **c).await.map(|_| ()))
    }

    /// Runs one statement with bound values; returns rows affected.
    ///
    /// On PostgreSQL the values are written into the text as literals and the statement goes
    /// through the simple-query protocol: a named prepared statement lives in one server session,
    /// and behind a transaction-mode pooler (PgBouncer before 1.21) the next statement may reach
    /// another one ("prepared statement sqlx_s_1 does not exist"). kiln runs each bookkeeping
    /// statement a handful of times per connection, so preparing it saved nothing anyway: a
    /// simple query is one round trip, a first prepared execution two.
    pub async fn exec(&mut self, sql: &str, args: &[Arg]) -> std::result::Result<u64, sqlx::Error> {
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(c) = self {
            let sql = trusted(inline_pg(sql, args));
            return sqlx::raw_sql(sql)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected());
        }
        let sql = trusted(sql.to_owned());
        on_conn!(self, c => {
            let q = bind_all!(sqlx::query(sql), args);
            q.execute(&mut **c).await.map(|r| r.rows_affected())
        })
    }

    /// Reads rows; integer columns are returned as text. A simple query on PostgreSQL, for the
    /// reason [`Conn::exec`] gives.
    pub async fn rows(
        &mut self,
        sql: &str,
        int_columns: &[usize],
    ) -> std::result::Result<Vec<TextRow>, sqlx::Error> {
        let sql = trusted(sql.to_owned());
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(c) = self {
            return decode_rows(sqlx::raw_sql(sql).fetch_all(&mut **c).await?, int_columns);
        }
        on_conn!(self, c => decode_rows(sqlx::query(sql).fetch_all(&mut **c).await?, int_columns))
    }

    /// Reads the first text column of the last row a simple query returns, or `None` when it
    /// returns none: the answer of the last statement of a script whose earlier statements
    /// (taking a lock, opening a transaction) return nothing worth reading.
    pub async fn last_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = trusted(sql);
        on_conn!(self, c => {
            use sqlx::Row as _;
            let rows = sqlx::raw_sql(sql).fetch_all(&mut **c).await?;
            match rows.last() {
                Some(r) => r.try_get::<String, _>(0).map(Some),
                None => Ok(None),
            }
        })
    }

    /// Reads the first text column of the first row of a simple query (one round trip, no
    /// prepare), or `None` when there is no row.
    pub async fn first_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        let sql = trusted(sql);
        on_conn!(self, c => {
            use sqlx::Row as _;
            let row = sqlx::raw_sql(sql).fetch_optional(&mut **c).await?;
            match row {
                Some(r) => r.try_get::<String, _>(0).map(Some),
                None => Ok(None),
            }
        })
    }

    /// [`Conn::first_text`] for the start-up check. On SQLite it goes through sqlx's statement
    /// cache (no round trip to save there, but no re-prepare on every check either); over the
    /// network it stays a simple query, one round trip even on a fresh connection.
    pub async fn check_text(
        &mut self,
        sql: String,
    ) -> std::result::Result<Option<String>, sqlx::Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(c) => {
                use sqlx::Row as _;
                let row = sqlx::query(trusted(sql)).fetch_optional(&mut **c).await?;
                match row {
                    Some(r) => r.try_get::<String, _>(0).map(Some),
                    None => Ok(None),
                }
            }
            _ => self.first_text(sql).await,
        }
    }

    /// The database user, for the audit trail.
    pub async fn current_user(&mut self) -> Option<String> {
        let sql = match self.dialect() {
            Dialect::Postgres => "SELECT CAST(current_user AS TEXT)",
            Dialect::MySql => "SELECT CURRENT_USER()",
            _ => {
                return std::env::var("USER")
                    .or_else(|_| std::env::var("LOGNAME"))
                    .or_else(|_| std::env::var("USERNAME"))
                    .ok()
                    .or_else(os_user);
            }
        };
        self.first_text(sql.to_owned()).await.ok().flatten()
    }

    /// Closes this connection instead of returning it to the pool when dropped, so a session lock
    /// can never leak into the pool, even if the caller's future is cancelled mid-run.
    /// SQLite's run lock is a separate file and its connections hold no session state, so they go
    /// back to the pool; closing one could even destroy an in-memory database.
    pub fn close_on_drop(&mut self) {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::Sqlite(_) => {}
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.close_on_drop(),
            #[cfg(feature = "mysql")]
            Conn::MySql(c) => c.close_on_drop(),
            Conn::Never(n) => match *n {},
        }
    }
}

/// `true` when a driver error says the table does not exist (a database never migrated).
pub(crate) fn is_missing_table(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code();
            matches!(
                code.as_deref(),
                Some("42P01") | Some("42S02") | Some("1146")
            ) || d.message().contains("no such table")
                || d.message().contains("doesn't exist")
        }
        _ => false,
    }
}

/// `true` when a driver error says another session created the same object at the same moment.
///
/// PostgreSQL's `CREATE TABLE IF NOT EXISTS` checks for the table before inserting its catalog
/// rows, so two sessions creating it at once both pass the check and the slower one fails on the
/// catalog's unique index (`pg_type_typname_nsp_index`, code 23505) or with 42P07/42P06/42710.
/// Once that error is raised the other creator has committed, so the statement run again finds
/// the object and does nothing.
pub(crate) fn is_concurrent_create(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(
            d.code().as_deref(),
            Some("23505") | Some("42P07") | Some("42P06") | Some("42710") | Some("1050")
        ),
        _ => false,
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_escaped_literals() {
        let args = [
            Arg::Text("it's".into()),
            Arg::OptText(None),
            Arg::Int(-7),
            Arg::OptText(Some("a\\b".into())),
        ];
        let sql = "UPDATE t SET a = $1, b = $2, c = $3 WHERE d = $4 AND e = $10";
        assert_eq!(
            inline_pg(sql, &args),
            "UPDATE t SET a = 'it''s', b = NULL, c = -7 WHERE d = E'a\\\\b' AND e = $10"
        );
        let many: Vec<Arg> = (1..=11).map(Arg::Int).collect();
        assert_eq!(inline_pg("$1,$10,$11", &many), "1,10,11");
        assert_eq!(
            inline_pg("SELECT '$1', 'it''s $1', \"$1\", $1", &many),
            "SELECT '$1', 'it''s $1', \"$1\", 1"
        );
    }
}
