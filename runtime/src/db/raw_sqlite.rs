//! `sqlite3_exec` on sqlx's raw handle: prepares and steps each statement of a script in
//! turn, with SQLite's own error codes. The only `unsafe` code of the runtime.
use libsqlite3_sys as ffi;
use std::borrow::Cow;
use std::ffi::{CStr, CString, c_char, c_int};

/// An error reported by SQLite through the raw handle, shaped like sqlx's own `SqliteError`
/// (the extended result code as the code), so callers see one kind of database error.
#[derive(Debug)]
pub(crate) struct RawSqliteError {
    code: c_int,
    message: String,
}

impl std::fmt::Display for RawSqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RawSqliteError {}

impl sqlx::error::DatabaseError for RawSqliteError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.code.to_string().into())
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                sqlx::error::ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

fn error(db: *mut ffi::sqlite3) -> sqlx::Error {
    // SAFETY: `db` is a live handle locked for this thread; the message is copied at once.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db);
        let msg = ffi::sqlite3_errmsg(db);
        let message = if msg.is_null() {
            format!("SQLite error {code}")
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        (code, message)
    };
    sqlx::Error::Database(Box::new(RawSqliteError { code, message }))
}

/// The path of the file SQLite opened as the `main` database (absolute: SQLite resolves it),
/// or `None` for an in-memory or temporary database.
pub(crate) fn db_filename(db: *mut ffi::sqlite3) -> Option<std::path::PathBuf> {
    // SAFETY: `db` is a live handle locked for this thread by the caller's
    // `LockedSqliteHandle`; `c"main"` is a NUL-terminated literal. The returned text is owned
    // by the handle, valid until the handle changes databases, and copied before returning.
    let name = unsafe {
        let p = ffi::sqlite3_db_filename(db, c"main".as_ptr());
        if p.is_null() {
            return None;
        }
        CStr::from_ptr(p).to_bytes().to_vec()
    };
    if name.is_empty() {
        return None;
    }
    #[cfg(unix)]
    let path = {
        use std::os::unix::ffi::OsStringExt;
        std::ffi::OsString::from_vec(name).into()
    };
    #[cfg(not(unix))]
    let path = String::from_utf8_lossy(&name).into_owned().into();
    Some(path)
}

/// Runs every statement of `sql` in order; rows are discarded. Stops at the first error, with
/// whatever the script opened (a transaction) left open, exactly as `sqlite3_exec` does.
///
/// The script is copied once into a NUL-terminated buffer and handed to SQLite with length
/// -1. Given an explicit length on text without a terminator, `sqlite3_prepare_v2` copies
/// the rest of the script for every statement, which made large revisions quadratic.
pub(crate) fn exec(db: *mut ffi::sqlite3, sql: &str) -> Result<(), sqlx::Error> {
    // An interior NUL would end SQLite's reading of the script there, silently skipping
    // every statement after it.
    let Ok(text) = CString::new(sql) else {
        return Err(sqlx::Error::Protocol(
            "the SQL contains a NUL byte, and SQLite would silently ignore everything after it; remove the byte from the file".into(),
        ));
    };
    let mut at: *const c_char = text.as_ptr();
    // SAFETY: `text` is a NUL-terminated buffer owned by this frame and outlives the loop.
    // `at` starts at its first byte and only ever moves to a `tail` SQLite returned, which
    // points into the same buffer at or before its terminator, so every read (`*at` and
    // SQLite's own, which stops at the NUL because the length is -1) stays inside it. `db` is
    // locked away from sqlx's worker by the caller's `LockedSqliteHandle`, so no other thread
    // uses it. Every prepared statement is finalized before the next is prepared and before
    // returning, on every path.
    unsafe {
        while *at != 0 {
            let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            let mut tail: *const c_char = std::ptr::null();
            let rc = ffi::sqlite3_prepare_v2(db, at, -1, &mut stmt, &mut tail);
            if rc != ffi::SQLITE_OK {
                if !stmt.is_null() {
                    ffi::sqlite3_finalize(stmt);
                }
                return Err(error(db));
            }
            if !stmt.is_null() {
                loop {
                    match ffi::sqlite3_step(stmt) {
                        ffi::SQLITE_ROW => {}
                        ffi::SQLITE_DONE => break,
                        _ => {
                            let e = error(db);
                            ffi::sqlite3_finalize(stmt);
                            return Err(e);
                        }
                    }
                }
                ffi::sqlite3_finalize(stmt);
            }
            // A null stmt is an empty statement (`;`) or trailing whitespace and comments.
            // A tail that does not advance would loop forever; SQLite never returns one for
            // non-empty input, but the guard keeps that a promise of this code, not of SQLite.
            if tail.is_null() || tail <= at {
                break;
            }
            at = tail;
        }
    }
    Ok(())
}
