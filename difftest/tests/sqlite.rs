//! kiln's SQLite reading against SQLite itself: `sqlite3_complete` decides whether each marker
//! candidate is inside a literal or comment, and `sqlite3_prepare_v2` tails give the statement
//! boundaries and the value of every string literal.

use kiln_core::lex::{Dialect, Syntax};
use kiln_difftest::{Case, campaign, candidate_offsets, case, kiln_reading};
use libsqlite3_sys as ffi;
use std::ffi::{CStr, CString};
use std::ptr;

/// An in-memory database, closed on drop.
struct Memory(*mut ffi::sqlite3);

impl Memory {
    fn open() -> Memory {
        let mut db = ptr::null_mut();
        let name = CString::new(":memory:").unwrap();
        // SAFETY: a valid NUL-terminated name and an out pointer.
        let rc = unsafe { ffi::sqlite3_open(name.as_ptr(), &mut db) };
        assert_eq!(rc, ffi::SQLITE_OK);
        Memory(db)
    }

    /// Every statement of `sql` as SQLite splits it, with the text values of its one row.
    fn run(&self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        let text = CString::new(sql).map_err(|e| e.to_string())?;
        let mut rest = text.as_ptr();
        let mut rows = Vec::new();
        loop {
            let mut stmt = ptr::null_mut();
            let mut tail = ptr::null();
            // SAFETY: `rest` points into `text`, which outlives the loop; -1 reads to the NUL.
            let rc = unsafe { ffi::sqlite3_prepare_v2(self.0, rest, -1, &mut stmt, &mut tail) };
            if rc != ffi::SQLITE_OK {
                // SAFETY: the handle is open.
                let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0)) };
                return Err(format!("SQLite rejects {sql:?}: {}", msg.to_string_lossy()));
            }
            if stmt.is_null() {
                return Ok(rows);
            }
            // SAFETY: `stmt` is a prepared statement, finalized below.
            unsafe {
                let mut row = Vec::new();
                if ffi::sqlite3_step(stmt) == ffi::SQLITE_ROW {
                    for i in 0..ffi::sqlite3_column_count(stmt) {
                        let p = ffi::sqlite3_column_text(stmt, i);
                        let n = ffi::sqlite3_column_bytes(stmt, i) as usize;
                        let bytes = if p.is_null() {
                            &[][..]
                        } else {
                            std::slice::from_raw_parts(p, n)
                        };
                        row.push(String::from_utf8_lossy(bytes).into_owned());
                    }
                }
                ffi::sqlite3_finalize(stmt);
                rows.push(row);
            }
            rest = tail;
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, closed once.
        unsafe { ffi::sqlite3_close(self.0) };
    }
}

/// `true` when SQLite reads the end of `prefix` as inside a literal or comment: a `;` appended
/// there does not complete a statement.
fn inside(prefix: &str) -> bool {
    let text = CString::new(format!("{prefix};")).unwrap();
    // SAFETY: a NUL-terminated string.
    unsafe { ffi::sqlite3_complete(text.as_ptr()) == 0 }
}

fn check(db: &Memory, c: &Case, syntax: Syntax) -> Result<(), String> {
    let said = candidate_offsets(&c.file)
        .into_iter()
        .any(|at| inside(&c.file[..at]));
    if said != c.marker_inside {
        return Err(format!(
            "generator says marker inside = {}, sqlite3_complete says {said}",
            c.marker_inside
        ));
    }
    let Some(reading) = kiln_reading(c, syntax)? else {
        return Ok(());
    };
    let rows = db.run(&reading.up_sql)?;
    if rows != c.up {
        return Err(format!(
            "SQLite's statements select {rows:?}, the generator meant {:?}",
            c.up
        ));
    }
    for (sql, meant) in reading.up.iter().zip(&c.up) {
        let got = db.run(sql)?;
        if got.len() != 1 || &got[0] != meant {
            return Err(format!(
                "kiln's statement {sql:?} selects {got:?} in SQLite, meant {meant:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn sqlite_reading_matches_sqlite() {
    let db = Memory::open();
    let lite = Syntax::new(Dialect::Sqlite);
    campaign("sqlite", 1500, |seed| {
        let c = case(lite, seed, seed % 3 == 0);
        check(&db, &c, lite).map_err(|e| format!("{e}\n--- file ---\n{}", c.file))
    });
}
