//! Alembic's target grammar and the plans it resolves to.
//!
//! A target names where the database should be: `head`, `heads`, `base`, a revision id or any
//! unique prefix of one, a branch label, `+N`/`-N` relative to what is applied, `REV+N`/`REV-N`,
//! `LABEL@head`, `LABEL@base`, `LABEL@+N`/`LABEL@-N`. [`Plan::upgrade`] and [`Plan::downgrade`]
//! turn a target and the set of applied revisions into the exact revisions to run, in order.
//!
//! kiln records every applied revision (not only the heads, as Alembic does), so a downgrade can
//! revert one labelled branch and leave the others alone. Where a step could go more than one way,
//! resolution fails and lists the choices; it never guesses.

use crate::diag::closest;
use crate::model::MigrationSet;
use crate::revgraph::RevisionGraph;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// `head`: the one head (an error when there are several).
    Head,
    /// `heads`: every head.
    Heads,
    /// `base`: nothing applied.
    Base,
    /// A revision id, a unique prefix of one, or a branch label.
    Revision(String),
    /// `+N` / `-N` from what is applied.
    Relative(i64),
    /// `REV+N` / `REV-N`.
    RevisionRelative(String, i64),
    /// `LABEL@head`.
    LabelHead(String),
    /// `LABEL@base`.
    LabelBase(String),
    /// `LABEL@+N` / `LABEL@-N`.
    LabelRelative(String, i64),
}

/// Why a target cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The text is not a target.
    #[error("`{target}` is not a target: {reason}")]
    Malformed {
        /// As given.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// No revision or label matches.
    #[error("no revision or branch label matches `{given}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        /// As given.
        given: String,
        /// The closest id or label.
        suggestion: Option<String>,
    },
    /// A prefix matches several revisions.
    #[error("`{given}` is ambiguous: it is a prefix of {}; give more characters", candidates.join(", "))]
    AmbiguousPrefix {
        /// As given.
        given: String,
        /// Every revision it matches.
        candidates: Vec<String>,
    },
    /// `head` with several heads.
    #[error("there are {} heads ({}); name one, use `heads` for all, or `LABEL@head`", heads.len(), heads.join(", "))]
    MultipleHeads {
        /// The heads.
        heads: Vec<String>,
    },
    /// A prefix too short to trust, even though it matches one revision.
    #[error(
        "`{given}` is too short to name a revision: a prefix needs at least {MIN_PREFIX} characters (it matches `{revision}`), so that a stray keystroke cannot select a revision, and revert it, by accident; give at least {MIN_PREFIX} characters, the whole id or a branch label"
    )]
    PrefixTooShort {
        /// As given.
        given: String,
        /// The one revision it matches.
        revision: String,
    },
    /// A step could go more than one way.
    #[error("`{target}` is ambiguous: the next step could be any of {}; name a revision or use `LABEL@{}`", choices.join(", "), if *upgrade { "+N" } else { "-N" })]
    Ambiguous {
        /// As given.
        target: String,
        /// The candidates.
        choices: Vec<String>,
        /// Whether the step was upwards.
        upgrade: bool,
    },
    /// A relative step goes beyond the graph.
    #[error("`{target}` goes past the {}: {reason}", if *upgrade { "heads" } else { "base" })]
    OutOfRange {
        /// As given.
        target: String,
        /// How far it got.
        reason: String,
        /// Whether the step was upwards.
        upgrade: bool,
    },
    /// The target points the wrong way for the command.
    #[error("`{target}` cannot be used with {command}: {reason}")]
    WrongDirection {
        /// As given.
        target: String,
        /// `upgrade` or `downgrade`.
        command: &'static str,
        /// Why.
        reason: String,
    },
    /// A revision the plan must revert has no downgrade section.
    #[error(
        "revision `{revision}` ({file}) is irreversible: it has no `-- kiln:downgrade` section, so the database cannot go below it"
    )]
    Irreversible {
        /// The revision.
        revision: String,
        /// Its file.
        file: String,
    },
    /// `downgrade REV` where REV is not applied, so it is not below the current heads.
    #[error(
        "`{target}` is not a valid downgrade target: revision `{revision}` is not applied; the database is at {}",
        if current.is_empty() { "base (nothing applied)".to_owned() } else { current.join(", ") }
    )]
    NotADowngradeTarget {
        /// As given.
        target: String,
        /// The revision it names.
        revision: String,
        /// The database's current heads (empty at base).
        current: Vec<String>,
    },
}

/// The fewest characters a revision-id prefix may have (Alembic's rule too). Whole ids and
/// branch labels may be shorter.
pub const MIN_PREFIX: usize = 4;

/// Words of the target grammar, offered as suggestions next to ids and labels.
const KEYWORDS: [&str; 3] = ["head", "heads", "base"];

impl Target {
    /// Parses Alembic's target grammar.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let s = s.trim();
        let malformed = |reason: &str| TargetError::Malformed {
            target: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(malformed("it is empty"));
        }
        match s {
            "head" => return Ok(Target::Head),
            "heads" => return Ok(Target::Heads),
            "base" => return Ok(Target::Base),
            _ => {}
        }
        if let Some(n) = parse_signed(s) {
            return n
                .map(Target::Relative)
                .ok_or_else(|| malformed("the step is too large"));
        }
        if let Some((label, rest)) = s.split_once('@') {
            if label.is_empty() || !crate::format::is_valid_label(label) {
                return Err(malformed(
                    "expected `LABEL@head`, `LABEL@base` or `LABEL@+N`",
                ));
            }
            return match rest {
                "head" => Ok(Target::LabelHead(label.to_owned())),
                "base" => Ok(Target::LabelBase(label.to_owned())),
                _ => match parse_signed(rest) {
                    Some(Some(n)) => Ok(Target::LabelRelative(label.to_owned(), n)),
                    Some(None) => Err(malformed("the step is too large")),
                    None => Err(malformed("after `@` comes `head`, `base`, `+N` or `-N`")),
                },
            };
        }
        if let Some(pos) = s.rfind(['+', '-'])
            && pos > 0
            && let Some(n) = parse_signed(&s[pos..])
        {
            let rev = &s[..pos];
            if crate::format::is_valid_label(rev) {
                return n
                    .map(|n| Target::RevisionRelative(rev.to_owned(), n))
                    .ok_or_else(|| malformed("the step is too large"));
            }
        }
        if crate::format::is_valid_label(s) {
            return Ok(Target::Revision(s.to_owned()));
        }
        Err(malformed(
            "expected head, heads, base, a revision (or prefix), a branch label, +N, -N, REV+N, LABEL@head, LABEL@base or LABEL@+N",
        ))
    }
}

/// `+N`/`-N` → `Some(Some(n))`; too large → `Some(None)`; not of that form → `None`.
fn parse_signed(s: &str) -> Option<Option<i64>> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<i64>().ok().map(|n| sign * n))
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Head => f.write_str("head"),
            Target::Heads => f.write_str("heads"),
            Target::Base => f.write_str("base"),
            Target::Revision(r) => f.write_str(r),
            Target::Relative(n) => write!(f, "{n:+}"),
            Target::RevisionRelative(r, n) => write!(f, "{r}{n:+}"),
            Target::LabelHead(l) => write!(f, "{l}@head"),
            Target::LabelBase(l) => write!(f, "{l}@base"),
            Target::LabelRelative(l, n) => write!(f, "{l}@{n:+}"),
        }
    }
}

/// A [`MigrationSet`] indexed for planning: its [`RevisionGraph`], ids and branch labels.
/// Indices are positions in [`MigrationSet::revisions`], which is topological, so ascending index
/// order is apply order.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    set: &'a MigrationSet,
    index: HashMap<&'a str, usize>,
    graph: RevisionGraph,
    labels: Vec<BTreeSet<&'a str>>,
    label_root: HashMap<&'a str, usize>,
}

impl<'a> Plan<'a> {
    /// Indexes a set for planning.
    pub fn new(set: &'a MigrationSet) -> Self {
        let revs = set.revisions();
        let index: HashMap<&str, usize> =
            revs.iter().enumerate().map(|(i, r)| (r.id(), i)).collect();
        let graph = RevisionGraph::of_set(set);
        let mut labels: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); revs.len()];
        let mut label_root = HashMap::new();
        // Topological order: a parent's labels are complete before its children inherit them.
        for (i, r) in revs.iter().enumerate() {
            for &p in graph.parents(i) {
                let inherited: Vec<&str> = labels[p].iter().copied().collect();
                labels[i].extend(inherited);
            }
            for l in r.branch_labels() {
                labels[i].insert(l);
                label_root.insert(&**l, i);
            }
        }
        Plan {
            set,
            index,
            graph,
            labels,
            label_root,
        }
    }

    /// The set's graph index.
    pub fn graph(&self) -> &RevisionGraph {
        &self.graph
    }

    /// The set being planned over.
    pub fn set(&self) -> &'a MigrationSet {
        self.set
    }

    /// The branch labels a revision carries: its own and its ancestors'.
    pub fn labels_of(&self, i: usize) -> impl Iterator<Item = &'a str> + '_ {
        self.labels[i].iter().copied()
    }

    /// Resolves an id, a bare branch label, or a unique id prefix of at least [`MIN_PREFIX`]
    /// characters to a revision index.
    pub fn resolve(&self, given: &str) -> Result<usize, TargetError> {
        if let Some(&i) = self.index.get(given) {
            return Ok(i);
        }
        if let Some(&i) = self.label_root.get(given) {
            return Ok(i);
        }
        let matches: Vec<usize> = self
            .set
            .revisions()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.id().starts_with(given))
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [one] if given.chars().count() < MIN_PREFIX => Err(TargetError::PrefixTooShort {
                given: given.to_owned(),
                revision: self.id(*one).to_owned(),
            }),
            [one] => Ok(*one),
            [] => {
                // Sorted, so the same typo always gets the same suggestion.
                let mut known: Vec<&str> = self
                    .index
                    .keys()
                    .chain(self.label_root.keys())
                    .copied()
                    .chain(KEYWORDS)
                    .filter(|c| *c != given)
                    .collect();
                known.sort_unstable();
                Err(TargetError::Unknown {
                    given: given.to_owned(),
                    suggestion: closest(given, known),
                })
            }
            many => Err(TargetError::AmbiguousPrefix {
                given: given.to_owned(),
                candidates: many.iter().map(|&i| self.id(i).to_owned()).collect(),
            }),
        }
    }

    /// `i`, when it is applied; otherwise the error `downgrade` gives for a target above or
    /// beside the current heads (Alembic: "not a valid downgrade target").
    fn applied_target(
        &self,
        applied: &[bool],
        target: &Target,
        i: usize,
    ) -> Result<usize, TargetError> {
        if applied.get(i).copied().unwrap_or(false) {
            return Ok(i);
        }
        Err(TargetError::NotADowngradeTarget {
            target: target.to_string(),
            revision: self.id(i).to_owned(),
            current: self.ids(&self.current_heads(applied)),
        })
    }

    fn id(&self, i: usize) -> &'a str {
        self.set.revisions()[i].id()
    }

    fn ids(&self, v: &[usize]) -> Vec<String> {
        v.iter().map(|&i| self.id(i).to_owned()).collect()
    }

    fn label(&self, label: &str) -> Result<usize, TargetError> {
        self.label_root
            .get(label)
            .copied()
            .ok_or_else(|| TargetError::Unknown {
                given: format!("{label}@"),
                suggestion: closest(label, self.label_root.keys().copied())
                    .map(|s| format!("{s}@...")),
            })
    }

    /// Applied revisions that no other applied revision requires: what `current` shows
    /// ([`RevisionGraph::current_heads`]).
    pub fn current_heads(&self, applied: &[bool]) -> Vec<usize> {
        self.graph.current_heads(applied)
    }

    /// `roots` and everything they require, transitively ([`RevisionGraph::ancestors_or_self`]).
    pub fn ancestors_or_self(&self, roots: &[usize]) -> Vec<bool> {
        self.graph.ancestors_or_self(roots)
    }

    /// `roots` and everything that requires them, transitively
    /// ([`RevisionGraph::descendants_or_self`]).
    pub fn descendants_or_self(&self, roots: &[usize]) -> Vec<bool> {
        self.graph.descendants_or_self(roots)
    }

    fn single_head(&self) -> Result<usize, TargetError> {
        match self.set.heads() {
            [one] => Ok(self.index[&**one]),
            heads => Err(TargetError::MultipleHeads {
                heads: heads.iter().map(|h| h.to_string()).collect(),
            }),
        }
    }

    fn label_heads(&self, label: &str) -> Result<Vec<usize>, TargetError> {
        self.label(label)?;
        Ok(self
            .set
            .heads()
            .iter()
            .map(|h| self.index[&**h])
            .filter(|&h| self.labels[h].contains(label))
            .collect())
    }

    /// Walks `n` steps from `start` along children (`n > 0`) or parents (`n < 0`).
    fn walk(&self, target: &Target, start: usize, n: i64) -> Result<usize, TargetError> {
        let mut cur = start;
        for step in 0..n.unsigned_abs() {
            let next = if n > 0 {
                self.graph.children(cur)
            } else {
                self.graph.parents(cur)
            };
            match next {
                [one] => cur = *one,
                [] => {
                    return Err(TargetError::OutOfRange {
                        target: target.to_string(),
                        reason: format!(
                            "`{}` is {} step(s) from `{}`",
                            self.id(cur),
                            step,
                            self.id(start)
                        ),
                        upgrade: n > 0,
                    });
                }
                many => {
                    return Err(TargetError::Ambiguous {
                        target: target.to_string(),
                        choices: self.ids(many),
                        upgrade: n > 0,
                    });
                }
            }
        }
        Ok(cur)
    }
}

impl Plan<'_> {
    /// The revisions to apply, in order, to bring `applied` to `target`.
    ///
    /// `applied[i]` says whether revision `i` of the set is applied.
    pub fn upgrade(&self, applied: &[bool], target: &Target) -> Result<Vec<usize>, TargetError> {
        let wrong = |reason: &str| TargetError::WrongDirection {
            target: target.to_string(),
            command: "upgrade",
            reason: reason.to_owned(),
        };
        let roots: Vec<usize> = match target {
            Target::Head => vec![self.single_head()?],
            Target::Heads => self.set.heads().iter().map(|h| self.index[&**h]).collect(),
            Target::Base | Target::LabelBase(_) => Vec::new(),
            Target::Revision(r) => vec![self.resolve(r)?],
            Target::RevisionRelative(r, n) => vec![self.walk(target, self.resolve(r)?, *n)?],
            Target::LabelHead(l) => match self.label_heads(l)?.as_slice() {
                [one] => vec![*one],
                many => {
                    return Err(TargetError::Ambiguous {
                        target: target.to_string(),
                        choices: self.ids(many),
                        upgrade: true,
                    });
                }
            },
            Target::Relative(n) | Target::LabelRelative(_, n) if *n < 0 => {
                return Err(wrong("a negative step goes down; use downgrade"));
            }
            Target::Relative(n) => match self.walk_start(applied, *n) {
                Some((start, n)) => vec![self.walk(target, start, n)?],
                None => return self.steps_up(applied, target, *n, None),
            },
            Target::LabelRelative(l, n) => {
                self.label(l)?;
                return self.steps_up(applied, target, *n, Some(l));
            }
        };
        let need = self.ancestors_or_self(&roots);
        Ok((0..need.len())
            .filter(|&i| need[i] && !applied[i])
            .collect())
    }

    /// Where `+n` walks from, as Alembic does, when the database has at most one current head:
    /// that head, or with nothing applied the one revision that requires nothing (the walk's
    /// first step). The walk then follows children only, so an unapplied branch hanging off an
    /// older ancestor is not a candidate. `None` when there are several current heads or
    /// several roots: then [`Self::steps_up`] decides.
    fn walk_start(&self, applied: &[bool], n: i64) -> Option<(usize, i64)> {
        match self.current_heads(applied).as_slice() {
            [head] => Some((*head, n)),
            [] if n > 0 => {
                let mut roots =
                    (0..self.graph.len()).filter(|&i| self.graph.requires(i).is_empty());
                match (roots.next(), roots.next()) {
                    (Some(root), None) => Some((root, n - 1)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Takes `n` single steps up, each of which must be unambiguous: with several current heads
    /// (kiln goes further than Alembic, which refuses) the next step is the one revision whose
    /// requirements are all applied; a label limits the candidates to its branch.
    fn steps_up(
        &self,
        applied: &[bool],
        target: &Target,
        n: i64,
        label: Option<&str>,
    ) -> Result<Vec<usize>, TargetError> {
        self.steps(applied, target, n.unsigned_abs(), true, |state| {
            (0..state.len())
                .filter(|&i| !state[i] && self.graph.requires(i).iter().all(|&p| state[p]))
                .filter(|&i| label.is_none_or(|l| self.labels[i].contains(l)))
                .collect()
        })
    }

    /// Takes `n` single steps, up (`upgrade`) or down, each of which must have exactly one
    /// candidate: `candidates` lists them for the state reached so far, and the one candidate
    /// flips. The errors say how far the walk got, or which revisions it could not choose
    /// between.
    fn steps(
        &self,
        applied: &[bool],
        target: &Target,
        n: u64,
        upgrade: bool,
        candidates: impl Fn(&[bool]) -> Vec<usize>,
    ) -> Result<Vec<usize>, TargetError> {
        let mut state = applied.to_vec();
        let mut plan = Vec::new();
        for step in 0..n {
            match candidates(&state).as_slice() {
                [one] => {
                    state[*one] = upgrade;
                    plan.push(*one);
                }
                [] => {
                    let verb = if upgrade { "applied" } else { "reverted" };
                    return Err(TargetError::OutOfRange {
                        target: target.to_string(),
                        reason: format!("only {step} revision(s) can be {verb}"),
                        upgrade,
                    });
                }
                many => {
                    return Err(TargetError::Ambiguous {
                        target: target.to_string(),
                        choices: self.ids(many),
                        upgrade,
                    });
                }
            }
        }
        Ok(plan)
    }

    /// The revisions to revert, children first, to bring `applied` down to `target`. Fails if any
    /// of them is irreversible.
    pub fn downgrade(&self, applied: &[bool], target: &Target) -> Result<Vec<usize>, TargetError> {
        let wrong = |reason: &str| TargetError::WrongDirection {
            target: target.to_string(),
            command: "downgrade",
            reason: reason.to_owned(),
        };
        let remove: Vec<bool> = match target {
            Target::Base => vec![true; applied.len()],
            Target::Head | Target::Heads | Target::LabelHead(_) => vec![false; applied.len()],
            Target::Revision(r) => {
                self.strict_descendants(self.applied_target(applied, target, self.resolve(r)?)?)
            }
            Target::RevisionRelative(r, n) => {
                let to = self.walk(target, self.resolve(r)?, *n)?;
                self.strict_descendants(self.applied_target(applied, target, to)?)
            }
            // `X@base` also takes a revision: revert it and everything built on it, which no
            // Alembic target can say when X has siblings.
            Target::LabelBase(l) => {
                let root = match self.label(l) {
                    Ok(root) => root,
                    Err(e) => self.resolve(l).map_err(|_| e)?,
                };
                self.descendants_or_self(&[root])
            }
            Target::Relative(n) | Target::LabelRelative(_, n) if *n > 0 => {
                return Err(wrong("a positive step goes up; use upgrade"));
            }
            Target::Relative(n) => {
                return self.checked(self.steps_down(applied, target, *n, None)?);
            }
            Target::LabelRelative(l, n) => {
                self.label(l)?;
                return self.checked(self.steps_down(applied, target, *n, Some(l))?);
            }
        };
        let plan = (0..remove.len())
            .rev()
            .filter(|&i| remove[i] && applied[i])
            .collect();
        self.checked(plan)
    }

    fn strict_descendants(&self, i: usize) -> Vec<bool> {
        let mut d = self.descendants_or_self(&[i]);
        d[i] = false;
        d
    }

    fn steps_down(
        &self,
        applied: &[bool],
        target: &Target,
        n: i64,
        label: Option<&str>,
    ) -> Result<Vec<usize>, TargetError> {
        self.steps(applied, target, n.unsigned_abs(), false, |state| {
            self.current_heads(state)
                .into_iter()
                .filter(|&i| label.is_none_or(|l| self.labels[i].contains(l)))
                .collect()
        })
    }

    fn checked(&self, plan: Vec<usize>) -> Result<Vec<usize>, TargetError> {
        if let Some(&i) = plan
            .iter()
            .find(|&&i| self.set.revisions()[i].is_irreversible())
        {
            let r = &self.set.revisions()[i];
            return Err(TargetError::Irreversible {
                revision: r.id().to_owned(),
                file: r.file().to_owned(),
            });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dir::{MigrationDir, build_set, scan_dir};

    /// Builds a set from `(id, parents, labels, reversible)` tuples written to a temp dir.
    fn set(revs: &[(&str, &str, &str, bool)]) -> MigrationSet {
        let dir = tempfile::tempdir().unwrap();
        for (id, parents, labels, reversible) in revs {
            let mut text = format!("-- kiln:revision {id}\n");
            if !parents.is_empty() {
                text += &format!("-- kiln:revises {parents}\n");
            }
            if !labels.is_empty() {
                text += &format!("-- kiln:branch {labels}\n");
            }
            text += "-- kiln:upgrade\nSELECT 1;\n";
            if *reversible {
                text += "-- kiln:downgrade\nSELECT 2;\n";
            }
            std::fs::write(dir.path().join(format!("{id}_x.sql")), text).unwrap();
        }
        let d = MigrationDir::new(dir.path().to_owned(), "m");
        build_set(&d, scan_dir(&d)).unwrap()
    }

    fn ids(set: &MigrationSet, plan: &[usize]) -> Vec<String> {
        plan.iter()
            .map(|&i| set.revisions()[i].id().to_owned())
            .collect()
    }

    fn applied(set: &MigrationSet, ids: &[&str]) -> Vec<bool> {
        set.revisions()
            .iter()
            .map(|r| ids.contains(&r.id()))
            .collect()
    }

    fn linear() -> MigrationSet {
        set(&[
            ("aa1", "", "", true),
            ("bb2", "aa1", "", true),
            ("cc3", "bb2", "", true),
        ])
    }

    /// The graph indexed through `positions` (one map) has exactly the edges the
    /// search per lookup (`index_of`) finds, on a set with a merge and a dependency.
    #[test]
    fn positions_index_the_graph_as_a_search_would() {
        let s = set(&[
            ("aa1", "", "", true),
            ("bb2", "aa1", "", true),
            ("cc3", "aa1", "", true),
            ("dd4", "bb2,cc3", "", true),
        ]);
        let at = s.positions();
        assert_eq!(at.len(), s.len());
        for (i, r) in s.revisions().iter().enumerate() {
            assert_eq!(at.get(r.id()), Some(&i));
            assert_eq!(s.index_of(r.id()), Some(i));
        }
        assert_eq!(at.get("zz9"), None);
        let g = RevisionGraph::of_set(&s);
        for (i, r) in s.revisions().iter().enumerate() {
            let searched: Vec<usize> = r.parents().iter().filter_map(|p| s.index_of(p)).collect();
            assert_eq!(g.parents(i), searched.as_slice(), "{}", r.id());
        }
        let dd4 = at["dd4"];
        assert_eq!(g.parents(dd4).len(), 2);
    }

    #[test]
    fn parses_every_form() {
        let p = |s| Target::parse(s).unwrap();
        assert_eq!(p("head"), Target::Head);
        assert_eq!(p("heads"), Target::Heads);
        assert_eq!(p("base"), Target::Base);
        assert_eq!(p("+2"), Target::Relative(2));
        assert_eq!(p("-1"), Target::Relative(-1));
        assert_eq!(p("ab12"), Target::Revision("ab12".into()));
        assert_eq!(p("ab12+3"), Target::RevisionRelative("ab12".into(), 3));
        assert_eq!(p("ab12-1"), Target::RevisionRelative("ab12".into(), -1));
        assert_eq!(p("net@head"), Target::LabelHead("net".into()));
        assert_eq!(p("net@base"), Target::LabelBase("net".into()));
        assert_eq!(p("net@+1"), Target::LabelRelative("net".into(), 1));
        assert_eq!(p("net@-2"), Target::LabelRelative("net".into(), -2));
        for bad in ["", "a b", "@head", "net@top", "+", "x@+"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        for t in ["head", "+2", "ab12-1", "net@+1", "net@base"] {
            assert_eq!(p(t).to_string(), t);
        }
    }

    #[test]
    fn upgrade_head_relative_and_prefix() {
        let s = linear();
        let plan = Plan::new(&s);
        let none = applied(&s, &[]);
        assert_eq!(
            ids(&s, &plan.upgrade(&none, &Target::Head).unwrap()),
            ["aa1", "bb2", "cc3"]
        );
        assert_eq!(
            ids(&s, &plan.upgrade(&none, &Target::Relative(2)).unwrap()),
            ["aa1", "bb2"]
        );
        // A 2-character prefix is refused since issue 12 (prefixes need 4; see
        // `short_prefixes_are_refused_and_typos_get_suggestions`).
        assert!(matches!(
            plan.upgrade(&none, &Target::parse("bb").unwrap()),
            Err(TargetError::PrefixTooShort { .. })
        ));
        assert_eq!(
            ids(
                &s,
                &plan
                    .upgrade(&none, &Target::parse("aa1+1").unwrap())
                    .unwrap()
            ),
            ["aa1", "bb2"]
        );
        let err = plan
            .upgrade(&applied(&s, &["aa1", "bb2"]), &Target::Relative(2))
            .unwrap_err();
        assert!(matches!(err, TargetError::OutOfRange { .. }), "{err}");
        assert!(
            plan.upgrade(&applied(&s, &["aa1", "bb2", "cc3"]), &Target::Head)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn downgrade_relative_and_to_revision() {
        let s = linear();
        let plan = Plan::new(&s);
        let all = applied(&s, &["aa1", "bb2", "cc3"]);
        assert_eq!(
            ids(&s, &plan.downgrade(&all, &Target::Relative(-1)).unwrap()),
            ["cc3"]
        );
        assert_eq!(
            ids(
                &s,
                &plan
                    .downgrade(&all, &Target::parse("aa1").unwrap())
                    .unwrap()
            ),
            ["cc3", "bb2"]
        );
        assert_eq!(
            ids(&s, &plan.downgrade(&all, &Target::Base).unwrap()),
            ["cc3", "bb2", "aa1"]
        );
        assert_eq!(
            ids(
                &s,
                &plan
                    .downgrade(&all, &Target::parse("cc3-2").unwrap())
                    .unwrap()
            ),
            ["cc3", "bb2"]
        );
        let err = plan.downgrade(&all, &Target::Relative(-4)).unwrap_err();
        assert!(matches!(err, TargetError::OutOfRange { .. }), "{err}");
        assert!(matches!(
            plan.downgrade(&all, &Target::Relative(1)),
            Err(TargetError::WrongDirection { .. })
        ));
    }

    #[test]
    fn ambiguity_is_an_error_with_choices() {
        let s = set(&[
            ("aa1", "", "", true),
            ("ab2", "aa1", "x", true),
            ("ac3", "aa1", "y", true),
        ]);
        let plan = Plan::new(&s);
        let none = applied(&s, &[]);
        match plan.upgrade(&none, &Target::Head).unwrap_err() {
            TargetError::MultipleHeads { heads } => assert_eq!(heads.len(), 2),
            e => panic!("{e}"),
        }
        match plan
            .upgrade(&applied(&s, &["aa1"]), &Target::Relative(1))
            .unwrap_err()
        {
            TargetError::Ambiguous { choices, .. } => assert_eq!(choices, ["ab2", "ac3"]),
            e => panic!("{e}"),
        }
        match plan.resolve("a").unwrap_err() {
            TargetError::AmbiguousPrefix { candidates, .. } => assert_eq!(candidates.len(), 3),
            e => panic!("{e}"),
        }
        assert!(matches!(
            plan.resolve("zz9"),
            Err(TargetError::Unknown { .. })
        ));
        let all = applied(&s, &["aa1", "ab2", "ac3"]);
        assert!(matches!(
            plan.downgrade(&all, &Target::Relative(-1)),
            Err(TargetError::Ambiguous { .. })
        ));
    }

    #[test]
    fn labelled_branches_move_independently() {
        let s = set(&[
            ("aa1", "", "", true),
            ("bb1", "aa1", "x", true),
            ("bb2", "bb1", "", true),
            ("cc1", "aa1", "y", true),
        ]);
        let plan = Plan::new(&s);
        let none = applied(&s, &[]);
        assert_eq!(
            ids(
                &s,
                &plan
                    .upgrade(&none, &Target::parse("x@head").unwrap())
                    .unwrap()
            ),
            ["aa1", "bb1", "bb2"]
        );
        assert_eq!(
            ids(
                &s,
                &plan
                    .upgrade(&applied(&s, &["aa1"]), &Target::parse("y@+1").unwrap())
                    .unwrap()
            ),
            ["cc1"]
        );
        let all = applied(&s, &["aa1", "bb1", "bb2", "cc1"]);
        // Reverting branch x leaves branch y (and the shared base) applied.
        assert_eq!(
            ids(
                &s,
                &plan
                    .downgrade(&all, &Target::parse("x@base").unwrap())
                    .unwrap()
            ),
            ["bb2", "bb1"]
        );
        assert_eq!(
            ids(
                &s,
                &plan
                    .downgrade(&all, &Target::parse("x@-1").unwrap())
                    .unwrap()
            ),
            ["bb2"]
        );
        assert_eq!(
            ids(
                &s,
                &plan.upgrade(&none, &Target::parse("x").unwrap()).unwrap()
            ),
            ["aa1", "bb1"]
        );
        assert_eq!(
            ids(&s, &plan.upgrade(&none, &Target::Heads).unwrap()),
            ["aa1", "bb1", "bb2", "cc1"]
        );
    }

    #[test]
    fn revision_at_base_reverts_it_and_its_descendants_only() {
        let s = set(&[
            ("aa1", "", "", true),
            ("bb1", "aa1", "", true),
            ("bb2", "bb1", "", true),
            ("cc1", "aa1", "", true),
            ("dd1", "bb2,cc1", "", true),
        ]);
        let plan = Plan::new(&s);
        let all = applied(&s, &["aa1", "bb1", "bb2", "cc1", "dd1"]);
        let revert = |t: &str| {
            ids(
                &s,
                &plan.downgrade(&all, &Target::parse(t).unwrap()).unwrap(),
            )
        };
        assert_eq!(revert("cc1@base"), ["dd1", "cc1"]);
        assert_eq!(revert("bb1@base"), ["dd1", "bb2", "bb1"]);
        assert!(
            plan.downgrade(&all, &Target::parse("zz@base").unwrap())
                .is_err()
        );
        assert!(
            plan.upgrade(&all, &Target::parse("cc1@base").unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn irreversible_blocks_the_plan() {
        let s = set(&[("aa1", "", "", true), ("bb2", "aa1", "", false)]);
        let plan = Plan::new(&s);
        let all = applied(&s, &["aa1", "bb2"]);
        match plan.downgrade(&all, &Target::Base).unwrap_err() {
            TargetError::Irreversible { revision, file } => {
                assert_eq!(revision, "bb2");
                assert_eq!(file, "bb2_x.sql");
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn merge_needs_both_parents() {
        let s = set(&[
            ("aa1", "", "", true),
            ("bb1", "aa1", "", true),
            ("cc1", "aa1", "", true),
            ("dd1", "bb1,cc1", "", true),
        ]);
        let plan = Plan::new(&s);
        let got = ids(
            &s,
            &plan
                .upgrade(&applied(&s, &["aa1", "bb1"]), &Target::Head)
                .unwrap(),
        );
        assert_eq!(got, ["cc1", "dd1"]);
        assert!(matches!(
            plan.downgrade(
                &applied(&s, &["aa1", "bb1", "cc1", "dd1"]),
                &Target::parse("dd1-1").unwrap()
            ),
            Err(TargetError::Ambiguous { .. })
        ));
    }

    /// The main line with a side branch off its first revision, merged at the end:
    /// aa1 → bb2 → cc3 → dd4 → mm5, and aa1 → sd1 → mm5.
    fn main_line_with_side_branch() -> MigrationSet {
        set(&[
            ("aa1", "", "", true),
            ("bb2", "aa1", "", true),
            ("cc3", "bb2", "", true),
            ("dd4", "cc3", "", true),
            ("sd1", "aa1", "", true),
            ("mm5", "dd4,sd1", "", true),
        ])
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn relative_upgrade_walks_forward_from_the_one_current_head() {
        // Issue 12 item 2: Alembic walks `+N` along children of the current head, so the
        // unapplied side branch off `aa1` is not a candidate (kiln used to refuse `+2` here).
        let s = main_line_with_side_branch();
        let plan = Plan::new(&s);
        let at_bb2 = applied(&s, &["aa1", "bb2"]);
        assert_eq!(
            ids(&s, &plan.upgrade(&at_bb2, &Target::Relative(1)).unwrap()),
            ["cc3"]
        );
        assert_eq!(
            ids(&s, &plan.upgrade(&at_bb2, &Target::Relative(2)).unwrap()),
            ["cc3", "dd4"]
        );
        // Walking onto the merge applies what the merge requires, the side branch included.
        assert_eq!(
            sorted(ids(
                &s,
                &plan.upgrade(&at_bb2, &Target::Relative(3)).unwrap()
            )),
            ["cc3", "dd4", "mm5", "sd1"]
        );
        let err = plan.upgrade(&at_bb2, &Target::Relative(4)).unwrap_err();
        assert!(matches!(err, TargetError::OutOfRange { .. }), "{err}");
        // From an empty database the walk starts at the one base; its two children are a real
        // choice, as in Alembic.
        let none = applied(&s, &[]);
        assert_eq!(
            ids(&s, &plan.upgrade(&none, &Target::Relative(1)).unwrap()),
            ["aa1"]
        );
        match plan.upgrade(&none, &Target::Relative(2)).unwrap_err() {
            TargetError::Ambiguous { choices, .. } => assert_eq!(choices, ["bb2", "sd1"]),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn relative_steps_beyond_alembic_are_kept() {
        // Documented differences (docs/cli.md, docs/migrating.md): with several current heads
        // `+1` takes the one revision that is ready (Alembic refuses), and `-1` from a merge
        // reverts the merge alone (Alembic's walk down from a merge is ambiguous).
        let s = set(&[
            ("aa1", "", "", true),
            ("bb1", "aa1", "", true),
            ("cc1", "aa1", "", true),
            ("dd1", "bb1,cc1", "", true),
        ]);
        let plan = Plan::new(&s);
        let both = applied(&s, &["aa1", "bb1", "cc1"]);
        assert_eq!(plan.current_heads(&both).len(), 2);
        assert_eq!(
            ids(&s, &plan.upgrade(&both, &Target::Relative(1)).unwrap()),
            ["dd1"]
        );
        let all = applied(&s, &["aa1", "bb1", "cc1", "dd1"]);
        assert_eq!(
            ids(&s, &plan.downgrade(&all, &Target::Relative(-1)).unwrap()),
            ["dd1"]
        );
    }

    #[test]
    fn downgrade_to_a_revision_that_is_not_applied_is_refused() {
        // Issue 12 item 3: this used to succeed and do nothing.
        let s = linear();
        let plan = Plan::new(&s);
        let at_aa1 = applied(&s, &["aa1"]);
        for (t, rev) in [("cc3", "cc3"), ("bb2", "bb2"), ("cc3-1", "bb2")] {
            match plan.downgrade(&at_aa1, &Target::parse(t).unwrap()) {
                Err(TargetError::NotADowngradeTarget {
                    target,
                    revision,
                    current,
                }) => {
                    assert_eq!(target, t);
                    assert_eq!(revision, rev);
                    assert_eq!(current, ["aa1"]);
                }
                other => panic!("{t}: {other:?}"),
            }
        }
        let err = plan
            .downgrade(&applied(&s, &[]), &Target::parse("aa1").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`aa1` is not a valid downgrade target: revision `aa1` is not applied; the database is at base (nothing applied)"
        );
        // Beside the current head: a side branch that is not applied.
        let s = main_line_with_side_branch();
        let plan = Plan::new(&s);
        let err = plan
            .downgrade(
                &applied(&s, &["aa1", "bb2", "cc3"]),
                &Target::parse("sd1").unwrap(),
            )
            .unwrap_err();
        assert!(err.to_string().ends_with("the database is at cc3"), "{err}");
        // Applied revisions stay valid targets, the current head included (nothing to do).
        let at_cc3 = applied(&s, &["aa1", "bb2", "cc3"]);
        assert_eq!(
            ids(
                &s,
                &plan
                    .downgrade(&at_cc3, &Target::parse("aa1").unwrap())
                    .unwrap()
            ),
            ["cc3", "bb2"]
        );
        assert!(
            plan.downgrade(&at_cc3, &Target::parse("cc3").unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn short_prefixes_are_refused_and_typos_get_suggestions() {
        // Issue 12 item 4.
        let s = set(&[
            ("970e8710f29d", "", "", true),
            ("6a1b2c3d4e5f", "970e8710f29d", "net", true),
        ]);
        let plan = Plan::new(&s);
        match plan.resolve("6").unwrap_err() {
            TargetError::PrefixTooShort { given, revision } => {
                assert_eq!((given.as_str(), revision.as_str()), ("6", "6a1b2c3d4e5f"));
            }
            e => panic!("{e}"),
        }
        let msg = plan.resolve("6a1").unwrap_err().to_string();
        assert!(
            msg.contains("a prefix needs at least 4 characters"),
            "{msg}"
        );
        assert!(msg.contains("by accident"), "{msg}");
        assert_eq!(plan.resolve("6a1b").unwrap(), 1);
        // Whole ids and labels may be short.
        assert_eq!(plan.resolve("net").unwrap(), 1);
        let suggestion = |given: &str| match plan.resolve(given).unwrap_err() {
            TargetError::Unknown { suggestion, .. } => suggestion,
            e => panic!("{e}"),
        };
        assert_eq!(suggestion("970f").as_deref(), Some("970e8710f29d"));
        assert_eq!(suggestion("hed").as_deref(), Some("head"));
        assert_eq!(suggestion("nett").as_deref(), Some("net"));
        assert_eq!(suggestion("zzzzzz"), None);
        let err = plan
            .upgrade(&applied(&s, &[]), &Target::parse("970f").unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no revision or branch label matches `970f`; did you mean `970e8710f29d`?"
        );
    }
}
