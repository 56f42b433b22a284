//! `history -r START:END`: Alembic's revision ranges.
//!
//! Either side may be empty (`:END` starts at base, `START:` ends at every head). Each side is
//! `base`, `head`, `heads`, `current` (the database's current revisions), a revision id or unique
//! prefix, a branch label, `LABEL@head`, `LABEL@base`, or `REV+N`/`REV-N`. The start may be `-N`:
//! the revisions at most N parent steps below the end, so `-3:` is the heads and the three
//! generations before them and `-1:current` is the current revision and its parent. The end may be
//! `+N`: at most N child steps above the start. A single endpoint without `:` shows just that
//! revision. The range holds every revision that is a descendant of (or equal to) the start and an
//! ancestor of (or equal to) the end.

use crate::error::Fail;
use kiln_core::{MigrationSet, Plan, Target};

/// One side of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Everything below (start) / nothing (end is an error).
    Base,
    /// Every head.
    Heads,
    /// The one head.
    Head,
    /// The database's current revisions.
    Current,
    /// `-N` (start) or `+N` (end), relative to the other side.
    Relative(u64),
    /// Anything else in the target grammar.
    Target(Target),
}

/// A parsed `START:END`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub start: Endpoint,
    pub end: Endpoint,
}

impl Range {
    /// Parses `START:END` (or a single endpoint).
    pub fn parse(text: &str) -> anyhow::Result<Range> {
        let bad = |why: String| {
            Fail::usage(
                format!("`{text}` is not a revision range: {why}"),
                "write START:END, e.g. `base:head`, `current:heads`, `-3:`, `a1b2:`, `base:LABEL@head`",
            )
        };
        let (start, end) = match text.split_once(':') {
            Some((s, e)) => (s.trim(), e.trim()),
            None => (text.trim(), text.trim()),
        };
        if !text.contains(':') && text.trim().is_empty() {
            return Err(bad("it is empty".into()));
        }
        let endpoint = |s: &str, is_start: bool| -> anyhow::Result<Endpoint> {
            Ok(match s {
                "" if is_start => Endpoint::Base,
                "" => Endpoint::Heads,
                "base" => Endpoint::Base,
                "head" => Endpoint::Head,
                "heads" => Endpoint::Heads,
                "current" => Endpoint::Current,
                _ => match Target::parse(s)? {
                    Target::Relative(n) if is_start && n < 0 => {
                        Endpoint::Relative(n.unsigned_abs())
                    }
                    Target::Relative(n) if !is_start && n > 0 => {
                        Endpoint::Relative(n.unsigned_abs())
                    }
                    Target::Relative(_) => {
                        return Err(bad(if is_start {
                            format!("the start may be `-N`, not `{s}`")
                        } else {
                            format!("the end may be `+N`, not `{s}`")
                        }));
                    }
                    t => Endpoint::Target(t),
                },
            })
        };
        let range = Range {
            start: endpoint(start, true)?,
            end: endpoint(end, false)?,
        };
        if range.end == Endpoint::Base {
            return Err(bad("the end cannot be `base`".into()));
        }
        if matches!(range.start, Endpoint::Relative(_))
            && matches!(range.end, Endpoint::Relative(_))
        {
            return Err(bad("only one side can be relative".into()));
        }
        Ok(range)
    }

    /// `true` when either side is `current`.
    pub fn needs_database(&self) -> bool {
        self.start == Endpoint::Current || self.end == Endpoint::Current
    }

    /// Which revisions of the set the range holds. `current` is the database's current revisions
    /// (indices), when known.
    pub fn select(&self, plan: &Plan<'_>, current: Option<&[usize]>) -> anyhow::Result<Vec<bool>> {
        let set = plan.set();
        let n = set.len();
        let current = || -> anyhow::Result<Vec<usize>> {
            current.map(<[usize]>::to_vec).ok_or_else(|| {
                Fail::usage(
                    "`current` in a range needs a database",
                    "configure a database (--database-url or DATABASE_URL), or name revisions",
                )
            })
        };
        let roots = |e: &Endpoint| -> anyhow::Result<Option<Vec<usize>>> {
            Ok(match e {
                Endpoint::Base => None,
                Endpoint::Heads => Some(heads(set)),
                Endpoint::Head => Some(vec![resolve_one(plan, &Target::Head)?]),
                Endpoint::Current => Some(current()?),
                Endpoint::Relative(_) => None,
                Endpoint::Target(t) => Some(resolve_roots(plan, t)?),
            })
        };
        let graph = plan.graph();
        let start_roots = roots(&self.start)?;
        let end_roots = roots(&self.end)?;
        let selected = match (&self.start, &self.end) {
            (Endpoint::Relative(k), _) => {
                let from = end_roots.unwrap_or_default();
                graph.below_within(&from, *k)
            }
            (_, Endpoint::Relative(k)) => {
                let from = match start_roots {
                    Some(r) => r,
                    None => set.bases().iter().filter_map(|b| set.index_of(b)).collect(),
                };
                graph.above_within(&from, *k)
            }
            _ => {
                let below = match &end_roots {
                    Some(r) => plan.ancestors_or_self(r),
                    None => vec![true; n],
                };
                let above = match &start_roots {
                    // `current` with nothing applied is base: everything.
                    Some(r) if !(r.is_empty() && self.start == Endpoint::Current) => {
                        plan.descendants_or_self(r)
                    }
                    _ => vec![true; n],
                };
                (0..n).map(|i| below[i] && above[i]).collect()
            }
        };
        Ok(selected)
    }
}

/// Heads as indices.
pub fn heads(set: &MigrationSet) -> Vec<usize> {
    set.heads().iter().filter_map(|h| set.index_of(h)).collect()
}

/// The revisions a target names without a database: the top revisions of what upgrading an empty
/// database to it would apply (`LABEL@base` names the revision declaring the label).
pub fn resolve_roots(plan: &Plan<'_>, target: &Target) -> anyhow::Result<Vec<usize>> {
    match target {
        Target::Relative(_) => Err(Fail::usage(
            format!("`{target}` is relative to the database's state"),
            "name a revision, or use `REV+N` / `REV-N`",
        )),
        Target::Base => Ok(Vec::new()),
        Target::LabelBase(label) => Ok(vec![plan.resolve(label)?]),
        Target::LabelRelative(..) => Err(Fail::usage(
            format!("`{target}` is relative to the database's state"),
            "use `LABEL@head`, `LABEL@base` or a revision",
        )),
        t => {
            let none = vec![false; plan.set().len()];
            let need = plan.upgrade(&none, t)?;
            let mut applied = vec![false; plan.set().len()];
            for i in need {
                applied[i] = true;
            }
            Ok(plan.current_heads(&applied))
        }
    }
}

/// Exactly one revision for a target, or a usage error listing the choices.
pub fn resolve_one(plan: &Plan<'_>, target: &Target) -> anyhow::Result<usize> {
    let roots = resolve_roots(plan, target)?;
    let ids = |v: &[usize]| -> Vec<String> {
        v.iter()
            .map(|&i| plan.set().revisions()[i].id().to_owned())
            .collect()
    };
    match roots.as_slice() {
        [one] => Ok(*one),
        [] => Err(Fail::usage(
            format!("`{target}` names no revision"),
            "name a revision id, a unique prefix, a branch label or `LABEL@head`",
        )),
        many => Err(Fail::usage(
            format!(
                "`{target}` names {} revisions: {}",
                many.len(),
                ids(many).join(", ")
            ),
            "name one of them",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alembic_ranges() {
        let r = Range::parse("-3:").unwrap();
        assert_eq!(r.start, Endpoint::Relative(3));
        assert_eq!(r.end, Endpoint::Heads);
        let r = Range::parse("current:head").unwrap();
        assert!(r.needs_database());
        assert_eq!(r.end, Endpoint::Head);
        let r = Range::parse("base:net@head").unwrap();
        assert_eq!(r.start, Endpoint::Base);
        assert_eq!(r.end, Endpoint::Target(Target::LabelHead("net".into())));
        let r = Range::parse(":").unwrap();
        assert_eq!((r.start, r.end), (Endpoint::Base, Endpoint::Heads));
        assert!(Range::parse("+2:").is_err());
        assert!(Range::parse("a:base").is_err());
        assert!(Range::parse("-1:+1").is_err());
    }
}
