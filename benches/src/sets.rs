//! Migration sets, written once per tool from the same statements.
//!
//! Every tool gets byte-for-byte the same SQL for revision `i`; only the wrapping differs (kiln's
//! header, sqlx's and refinery's file names, an Alembic revision module calling `op.execute` once
//! per statement, since Python's SQLite driver runs one statement per call).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Which migration set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A table and an index.
    Small,
    /// A wider table, three indexes, 200 generated rows, an added column and an update.
    Heavy,
    /// Data only: revision 0 creates one table, every other revision inserts one row. For the
    /// 10,000-revision flatness check, where one transaction creating 10,000 tables and indexes
    /// would exceed PostgreSQL's lock table (`max_locks_per_transaction`).
    Rows,
}

/// `n` revisions of one kind.
#[derive(Debug, Clone)]
pub struct Set {
    pub kind: Kind,
    /// Statements of each revision, in order.
    pub revisions: Vec<Vec<String>>,
}

/// The kiln revision id of revision `i`.
pub fn rev_id(i: usize) -> String {
    format!("r{i:05}")
}

impl Set {
    pub fn new(kind: Kind, n: usize) -> Set {
        let revisions = (0..n)
            .map(|i| match kind {
                Kind::Small => vec![
                    format!(
                        "CREATE TABLE t{i:05} (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, created_at VARCHAR(40))"
                    ),
                    format!("CREATE INDEX t{i:05}_name ON t{i:05} (name)"),
                ],
                Kind::Heavy => vec![
                    format!(
                        "CREATE TABLE h{i:05} (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, email VARCHAR(255) NOT NULL, status VARCHAR(16) NOT NULL, amount INTEGER NOT NULL, note VARCHAR(200), created_at VARCHAR(40) NOT NULL, updated_at VARCHAR(40))"
                    ),
                    format!("CREATE INDEX h{i:05}_account ON h{i:05} (account)"),
                    format!("CREATE INDEX h{i:05}_email ON h{i:05} (email)"),
                    format!("CREATE INDEX h{i:05}_status ON h{i:05} (status, created_at)"),
                    format!(
                        "INSERT INTO h{i:05} (id, account, email, status, amount, note, created_at) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 200) SELECT n, n % 17, 'user' || n || '@example.com', 'new', n * 3, 'generated', '2026-01-01T00:00:00Z' FROM s"
                    ),
                    format!("ALTER TABLE h{i:05} ADD COLUMN flags INTEGER"),
                    format!("UPDATE h{i:05} SET status = 'active', flags = 1 WHERE amount % 2 = 0"),
                ],
                Kind::Rows if i == 0 => vec![
                    "CREATE TABLE flat (id INTEGER PRIMARY KEY, v VARCHAR(32) NOT NULL)".to_owned(),
                ],
                Kind::Rows => vec![format!(
                    "INSERT INTO flat (id, v) VALUES ({i}, '{}')",
                    rev_id(i)
                )],
            })
            .collect();
        Set { kind, revisions }
    }

    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// Revision `i` as one script: each statement on its own line, terminated by `;`.
    pub fn script(&self, i: usize) -> String {
        let mut s = String::new();
        for st in &self.revisions[i] {
            s.push_str(st);
            s.push_str(";\n");
        }
        s
    }

    /// A kiln migration directory (a linear chain, no lock file).
    pub fn write_kiln(&self, dir: &Path) -> std::io::Result<()> {
        fresh_dir(dir)?;
        for i in 0..self.len() {
            let mut text = format!("-- kiln:revision {}\n", rev_id(i));
            if i > 0 {
                let _ = writeln!(text, "-- kiln:revises {}", rev_id(i - 1));
            }
            let _ = write!(
                text,
                "-- kiln:message m\n\n-- kiln:upgrade\n{}",
                self.script(i)
            );
            std::fs::write(dir.join(format!("{}_m.sql", rev_id(i))), text)?;
        }
        Ok(())
    }

    /// A sqlx migration directory (`<version>_<description>.sql`, up-only).
    pub fn write_sqlx(&self, dir: &Path) -> std::io::Result<()> {
        fresh_dir(dir)?;
        for i in 0..self.len() {
            std::fs::write(
                dir.join(format!("{}_{}.sql", i + 1, rev_id(i))),
                self.script(i),
            )?;
        }
        Ok(())
    }

    /// refinery's migrations, built through its public constructor (`V<version>__<name>`).
    pub fn refinery(&self) -> Vec<refinery::Migration> {
        (0..self.len())
            .map(|i| {
                refinery::Migration::unapplied(
                    &format!("V{}__{}", i + 1, rev_id(i)),
                    &self.script(i),
                )
                .expect("valid refinery migration name")
            })
            .collect()
    }

    /// Alembic revision modules in `versions/`.
    pub fn write_alembic(&self, versions: &Path) -> std::io::Result<()> {
        fresh_dir(versions)?;
        for i in 0..self.len() {
            let mut py = String::new();
            let _ = writeln!(py, "\"\"\"m\"\"\"\nfrom alembic import op\n");
            let _ = writeln!(py, "revision = \"{}\"", rev_id(i));
            if i == 0 {
                let _ = writeln!(py, "down_revision = None");
            } else {
                let _ = writeln!(py, "down_revision = \"{}\"", rev_id(i - 1));
            }
            let _ = writeln!(
                py,
                "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():"
            );
            for st in &self.revisions[i] {
                let _ = writeln!(py, "    op.execute(\"\"\"{st}\"\"\")");
            }
            let _ = writeln!(py, "\n\ndef downgrade():\n    pass");
            std::fs::write(versions.join(format!("{}_m.py", rev_id(i))), py)?;
        }
        Ok(())
    }

    /// The floor's script: every revision's SQL plus one bookkeeping insert per revision, in one
    /// transaction (`floor_version` is created first, in the same transaction).
    pub fn floor_script(&self) -> String {
        let mut s = String::from(
            "BEGIN;\nCREATE TABLE floor_version (version VARCHAR(32) NOT NULL PRIMARY KEY);\n",
        );
        for i in 0..self.len() {
            s.push_str(&self.script(i));
            let _ = writeln!(
                s,
                "INSERT INTO floor_version (version) VALUES ('{}');",
                rev_id(i)
            );
        }
        s.push_str("COMMIT;\n");
        s
    }
}

fn fresh_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)
}

/// A set written for every tool under one directory.
pub struct Written {
    pub set: Set,
    pub kiln: PathBuf,
    pub sqlx: PathBuf,
}

impl Written {
    pub fn new(root: &Path, kind: Kind, n: usize) -> std::io::Result<Written> {
        let set = Set::new(kind, n);
        let base = root.join(format!("sets/{}-{n}", kind_name(kind)));
        let kiln = base.join("kiln");
        let sqlx = base.join("sqlx");
        set.write_kiln(&kiln)?;
        set.write_sqlx(&sqlx)?;
        Ok(Written { set, kiln, sqlx })
    }
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Small => "small",
        Kind::Heavy => "heavy",
        Kind::Rows => "rows",
    }
}
