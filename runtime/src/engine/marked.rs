//! The running-marker protocol (MySQL/MariaDB and `transaction false` revisions): mark the row
//! `running`/`reverting`, run the statements one by one, and only then record the revision as done.

use super::Session;
use super::lost::Phase;
use super::steps::{section, section_line};
use crate::db::Arg;
use crate::error::{Error, Result, driver_text};
use crate::report::{Direction, RowState};
use kiln_core::Revision;
use std::time::Instant;

impl Session<'_> {
    /// The marker protocol for MySQL and `transaction false` revisions.
    pub(super) async fn run_marked(
        &mut self,
        rev: &Revision,
        direction: Direction,
        started_at: &str,
        started: Instant,
    ) -> Result<()> {
        let sql = section(rev, direction);
        let syntax = self.set.syntax_for(self.dialect);
        let statements = kiln_core::split::split_with(sql, syntax).map_err(|e| Error::Split {
            revision: rev.id().to_owned(),
            file: rev.file().to_owned(),
            line: section_line(rev, direction) + e.line as u32 - 1,
            message: e.message.clone(),
        })?;
        let state = RowState::marker(direction);
        if !self.begin_write(true).await? {
            return Ok(());
        }
        let marked = async {
            if direction == Direction::Upgrade {
                self.insert_version(rev, state, started_at, 0).await?;
            } else {
                self.conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(state.as_str().to_owned()),
                            Arg::OptText(None),
                            Arg::Text(rev.id().to_owned()),
                        ],
                    )
                    .await?;
            }
            self.dirty += 1;
            self.write_state().await
        }
        .await;
        let marked = match marked {
            Ok(()) => self.conn.script("COMMIT").await,
            Err(e) => Err(e),
        };
        if let Err(e) = marked {
            if self.lost_here(&e) {
                let during = format!("the in-progress marker of the {} of", direction.as_str());
                return Err(self
                    .lost(&e, &during, Some((rev, direction)), None, Phase::Marker)
                    .await);
            }
            let _ = self.conn.script("ROLLBACK").await;
            return Err(Error::db("recording the revision as in progress")(e));
        }

        for st in &statements {
            if let Err(e) = self.conn.script(st.sql.to_owned()).await {
                let line = section_line(rev, direction) + st.line as u32 - 1;
                if self.lost_here(&e) {
                    return Err(self
                        .lost(
                            &e,
                            &format!("the {} of", direction.as_str()),
                            Some((rev, direction)),
                            Some(line),
                            Phase::Statement,
                        )
                        .await);
                }
                let message = driver_text(&e);
                let _ = self
                    .conn
                    .exec(
                        &self.sql.mark_version(),
                        &[
                            Arg::Text(state.as_str().to_owned()),
                            Arg::OptText(Some(format!("{}:{line}: {message}", rev.file()))),
                            Arg::Text(rev.id().to_owned()),
                        ],
                    )
                    .await;
                let err = Error::Statement {
                    direction: direction.as_str(),
                    revision: rev.id().to_owned(),
                    file: rev.file().to_owned(),
                    line: Some(line),
                    message,
                    dirty: true,
                    run_rolled_back: None,
                    report: None,
                };
                self.audit_failure(rev, direction, started_at, started, &err)
                    .await;
                return Err(err);
            }
        }

        let mut recorded = self.begin_write(false).await.map(|_| ());
        if recorded.is_ok() {
            recorded = self
                .record(rev, direction, started_at, started.elapsed(), true)
                .await;
        }
        if recorded.is_ok() {
            recorded = self.tx("COMMIT", "committing").await;
        }
        match recorded {
            Err(Error::Database { source, .. }) if self.lost_here(&source) => Err(self
                .lost(
                    &source,
                    "the recording of",
                    Some((rev, direction)),
                    None,
                    Phase::Record,
                )
                .await),
            Err(e) => {
                let _ = self.conn.script("ROLLBACK").await;
                Err(e)
            }
            Ok(()) => Ok(()),
        }
    }
}
