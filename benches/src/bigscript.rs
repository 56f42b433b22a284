//! Scenario 6: one very large SQLite revision (issue 9 item 4), kiln against the `sqlite3` shell.
//!
//! A revision of plain INSERTs, 50 MB in the full run, applied to a fresh SQLite file by
//! `Migrator::run`, and the same statements fed to the `sqlite3` shell inside `BEGIN`/`COMMIT`
//! (kiln also runs the revision in one transaction). kiln was quadratic in the script's size here;
//! the ratio to the shell shows that it is linear now. When the shell is not installed the row is
//! skipped with a note saying so.

use crate::db::Engine;
use crate::{Config, Results};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The statements of the big revision: one table, then INSERTs until `bytes` is reached.
fn big_script(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 200);
    s.push_str("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);\n");
    let mut i = 0u64;
    while s.len() < bytes {
        s.push_str(&format!(
            "INSERT INTO big (id, name, qty) VALUES ({i}, 'item number {i} of the large revision', {});\n",
            i % 997
        ));
        i += 1;
    }
    s
}

/// Whether `sqlite3` can be run.
fn shell_available() -> bool {
    Command::new("sqlite3")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Scenario 6.
pub async fn bigscript(cfg: &Config, res: &mut Results) -> anyhow::Result<()> {
    if !cfg.sqlite || cfg.big_script_mb == 0 {
        return Ok(());
    }
    let work = cfg.servers.work.join("bigscript");
    let _ = std::fs::remove_dir_all(&work);
    let dir = work.join("migrations");
    std::fs::create_dir_all(&dir)?;
    let body = big_script(cfg.big_script_mb * 1024 * 1024);
    std::fs::write(
        dir.join("big0001_big.sql"),
        format!(
            "-- kiln:revision big0001\n-- kiln:message one large revision\n\n-- kiln:upgrade\n{body}"
        ),
    )?;
    let shell_script = work.join("shell.sql");
    std::fs::write(&shell_script, format!("BEGIN;\n{body}COMMIT;\n"))?;
    drop(body);
    let m = crate::scenarios::load(&dir)?;
    let group = format!(
        "6. one {} MB revision of INSERTs, SQLite file",
        cfg.big_script_mb
    );
    eprintln!("-- {group}");
    let shell = shell_available();
    if !shell {
        res.note(format!(
            "{group}: the `sqlite3` shell is not installed (apt-get install sqlite3), so its row is missing"
        ));
    }
    let mut kiln: Vec<Duration> = Vec::new();
    let mut sqlite3: Vec<Duration> = Vec::new();
    for _ in 0..cfg.runs {
        let fresh = cfg.servers.fresh(Engine::Sqlite, "kb_big").await?;
        let t = Instant::now();
        m.run(fresh.kiln_db()).await?;
        kiln.push(t.elapsed());
        cfg.servers.drop_db(fresh, "kb_big").await;
        if shell {
            let db = work.join("shell.db");
            let _ = std::fs::remove_file(&db);
            let input = std::fs::File::open(&shell_script)?;
            let t = Instant::now();
            let out = Command::new("sqlite3")
                .arg(&db)
                .stdin(input)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()?;
            sqlite3.push(t.elapsed());
            anyhow::ensure!(
                out.status.success() && out.stderr.is_empty(),
                "sqlite3 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    res.push_ms(&group, "kiln Migrator::run (one revision)", &kiln);
    if shell {
        res.push_ms(&group, "sqlite3 shell (BEGIN; script; COMMIT)", &sqlite3);
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
