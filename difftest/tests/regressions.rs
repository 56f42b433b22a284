//! Fixed adversarial files, each judged by the engines' own scanners: kiln refuses a file exactly
//! when PostgreSQL's scanner (libpg_query) or SQLite (`sqlite3_complete`) reads one of its
//! `-- kiln:` lines as inside a literal or comment. The attack files and every finding of
//! the long campaigns (`KILN_DIFF_CASES`, see docs/format.md) belong here.

use kiln_core::Problem;
use kiln_core::format::parse_file_with;
use kiln_core::lex::{Dialect, Readings, Syntax};
use kiln_difftest::candidate_offsets;
use std::ffi::CString;

const FILES: &[(&str, &str)] = &[
    (
        "issue 9: PostgreSQL escape string",
        "-- kiln:revision a1\n-- kiln:upgrade\nUPDATE users SET greeting = E'it\\'s new';\n-- kiln:downgrade\nUPDATE users SET greeting = E'it\\'s old';\nDROP TABLE users;\n",
    ),
    (
        "issue 9: MySQL backslash escape",
        "-- kiln:revision a1\n-- kiln:upgrade\nUPDATE users SET greeting = 'it\\'s new';\n-- kiln:downgrade\nUPDATE users SET greeting = 'it\\'s old';\nDROP TABLE users;\n",
    ),
    (
        "issue 9: nested comment",
        "-- kiln:revision a1\n-- kiln:upgrade\n/* note /* legacy */\nCREATE TABLE t (x INT);\n-- kiln:downgrade\nDROP TABLE t;\n",
    ),
    (
        "marker in a dollar body",
        "-- kiln:revision a1\n-- kiln:upgrade\nSELECT $f$\n-- kiln:downgrade\n$f$;\n",
    ),
    (
        "lone CR ends a PostgreSQL comment",
        "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1 -- x\r'\n-- kiln:downgrade\nSELECT 2;\n-- '\n",
    ),
    (
        "a number does not swallow a dollar tag",
        "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1$a$\n-- kiln:downgrade\n$a$;\n",
    ),
    (
        "campaign seed 1002982: a marker made of pieces",
        "-- kiln:revision a1\n-- kiln:upgrade\nSELECT $a$$$Z\n--kiln:$a$, 1;\n-- kiln:downgrade\nSELECT 1;\n",
    ),
    (
        "slash-star-slash",
        "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 1; /*/*/ */\n-- kiln:downgrade\nSELECT 2;\n",
    ),
    (
        "doubled quotes everywhere",
        "-- kiln:revision a1\n-- kiln:upgrade\nSELECT 'it''s' AS \"a\"\"b\";\n-- kiln:downgrade\nSELECT '-- kiln:downgrade';\n",
    ),
];

/// kiln reads one of the file's marker lines as inside something.
fn refuses(file: &str, syntax: Syntax) -> bool {
    parse_file_with(
        "r/a1_x.sql",
        "a1_x.sql",
        file.as_bytes(),
        &Readings::of(syntax),
    )
    .err()
    .is_some_and(|e| {
        e.iter()
            .any(|d| matches!(d.problem, Problem::MarkerInside { .. }))
    })
}

fn sqlite_inside(prefix: &str) -> bool {
    let text = CString::new(format!("{prefix};")).unwrap();
    // SAFETY: a NUL-terminated string.
    unsafe { libsqlite3_sys::sqlite3_complete(text.as_ptr()) == 0 }
}

#[test]
fn kiln_refuses_exactly_what_postgres_reads_as_inside() {
    for (name, file) in FILES {
        let pg = candidate_offsets(file)
            .into_iter()
            .any(|at| pg_query::scan(&file[..at]).is_err());
        assert_eq!(refuses(file, Syntax::new(Dialect::Postgres)), pg, "{name}");
    }
}

#[test]
fn kiln_refuses_exactly_what_sqlite_reads_as_inside() {
    for (name, file) in FILES {
        let lite = candidate_offsets(file)
            .into_iter()
            .any(|at| sqlite_inside(&file[..at]));
        assert_eq!(refuses(file, Syntax::new(Dialect::Sqlite)), lite, "{name}");
    }
}

#[test]
fn undeclared_readings_refuse_whatever_one_dialect_refuses() {
    for (name, file) in FILES {
        let any = Dialect::ALL.iter().any(|&d| refuses(file, Syntax::new(d)));
        let default = parse_file_with(
            "r/a1_x.sql",
            "a1_x.sql",
            file.as_bytes(),
            &Readings::default(),
        )
        .err()
        .is_some_and(|e| {
            e.iter()
                .any(|d| matches!(d.problem, Problem::MarkerInside { .. }))
        });
        assert_eq!(default, any, "{name}");
    }
}
