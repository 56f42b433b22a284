//! [`RawConnection`]: SQL text on one connection of a [`Db`], for kiln's own tools.
//!
//! kiln-schema reads the engines' catalogs and kiln-testing creates and drops throwaway databases;
//! both need to send SQL that kiln builds at run time, on any engine a [`Db`] holds. They go
//! through this type rather than through sqlx directly so that every dynamic statement in kiln
//! still passes the one audited place that hands text to sqlx (see the `sql` module): the
//! contract is the same as inside the runtime. Text sent here is either fixed, or built from
//! names and values quoted with [`quote_ident`] and [`quote_literal`], or a file the user asked
//! to run.
//!
//! Errors are sqlx's own, so callers can look at the database's error code; wrap them with
//! [`Error::db`](crate::Error::db) to say what kiln was doing.

use crate::db::{Arg, Conn, Db};
use crate::error::Result;
use kiln_core::Dialect;
use std::borrow::Cow;

pub use crate::sql::{quote_ident, quote_literal};

/// One connection checked out of a [`Db`]'s pool, returned to it when dropped.
pub struct RawConnection(Conn);

impl std::fmt::Debug for RawConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RawConnection")
            .field(&self.0.dialect())
            .finish()
    }
}

impl RawConnection {
    /// Checks a connection out of `db`'s pool.
    pub async fn acquire(db: &Db) -> Result<RawConnection> {
        db.acquire().await.map(RawConnection)
    }

    /// The engine it talks to.
    pub fn dialect(&self) -> Dialect {
        self.0.dialect()
    }

    /// Runs SQL text as it is (several statements allowed) through the engine's simple-query
    /// path: what `CREATE DATABASE`, `DROP DATABASE` and a declared schema file need.
    pub async fn script(&mut self, sql: impl Into<Cow<'static, str>>) -> Result<(), sqlx::Error> {
        self.0.script(sql).await
    }

    /// Runs one statement, binding `ints` to its placeholders in order (`$1`, `?`); returns the
    /// number of rows affected.
    pub async fn exec(&mut self, sql: &str, ints: &[i64]) -> Result<u64, sqlx::Error> {
        let args: Vec<Arg> = ints.iter().copied().map(Arg::Int).collect();
        self.0.exec(sql, &args).await
    }

    /// Reads every row of a query, each column as optional text in select order. The engines
    /// do not convert integers to text on their own: name the integer columns in
    /// `int_columns` (by index) and they are read as integers and rendered as text.
    pub async fn rows(
        &mut self,
        sql: &str,
        int_columns: &[usize],
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        self.0.rows(sql, int_columns).await
    }

    /// Closes the connection instead of returning it to the pool when dropped, so session
    /// state (an advisory lock) never leaks into the pool, even when the caller's future is
    /// cancelled half-way. No effect on SQLite, whose connections hold no such state.
    pub fn close_on_drop(&mut self) {
        self.0.close_on_drop();
    }
}
