//! Property tests over random revision graphs written as real migration directories.
//!
//! Each case builds a random DAG (every revision revises a random set of earlier ones, sometimes
//! depends on others, sometimes carries a branch label and a `created` time), writes it as
//! migration files into a temporary directory, loads it with `kiln_core::load_dir` and checks the
//! result against the model: the topological order respects every `revises` and `depends-on`
//! edge and breaks ties by `created` then id, heads and bases are exactly right, extra unlabelled
//! heads and bases are always reported, and an injected back edge is always found as a cycle that
//! really is one.

use kiln_core::{Diagnostics, MigrationSet, Problem, load_dir, resolve_dir};
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};
use std::collections::BTreeSet;

/// Which revisions get a branch label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Labels {
    None,
    All,
    Some,
}

#[derive(Debug, Clone)]
struct Node {
    parents: Vec<usize>,
    deps: Vec<usize>,
    /// Write dependencies on labelled revisions as the label rather than the id.
    deps_by_label: bool,
    labelled: bool,
    /// Day of November 2026, if the revision has a `created` time.
    created: Option<u8>,
}

#[derive(Debug, Clone)]
struct Dag {
    nodes: Vec<Node>,
    salt: u32,
}

impl Dag {
    /// Ids are scrambled so that id order says nothing about graph order.
    fn id(&self, i: usize) -> String {
        let i = u32::try_from(i).unwrap();
        format!(
            "r{:08x}",
            i.wrapping_mul(0x9E37_79B1).wrapping_add(self.salt)
        )
    }
    fn label(&self, i: usize) -> Option<String> {
        self.nodes[i].labelled.then(|| format!("line-{i}"))
    }
    fn file(&self, i: usize) -> String {
        format!("{}_rev_{i}.sql", self.id(i))
    }
    fn index_of(&self, id: &str) -> usize {
        (0..self.nodes.len()).find(|&i| self.id(i) == id).unwrap()
    }
    /// Every edge `i -> j`: `i` revises or depends on `j`.
    fn edges(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes[i]
            .parents
            .iter()
            .chain(&self.nodes[i].deps)
            .copied()
    }
    fn heads(&self) -> BTreeSet<usize> {
        let revised: BTreeSet<usize> = self.nodes.iter().flat_map(|n| n.parents.clone()).collect();
        (0..self.nodes.len())
            .filter(|i| !revised.contains(i))
            .collect()
    }
    fn bases(&self) -> BTreeSet<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].parents.is_empty())
            .collect()
    }
    fn any_label(&self) -> bool {
        self.nodes.iter().any(|n| n.labelled)
    }

    fn text(&self, i: usize) -> String {
        let n = &self.nodes[i];
        let mut s = format!("-- kiln:revision {}\n", self.id(i));
        let list = |v: Vec<String>| v.join(", ");
        if !n.parents.is_empty() {
            let ps = n.parents.iter().map(|&p| self.id(p)).collect();
            s += &format!("-- kiln:revises {}\n", list(ps));
        }
        if !n.deps.is_empty() {
            let ds = n
                .deps
                .iter()
                .map(|&d| match self.label(d) {
                    Some(l) if n.deps_by_label => l,
                    _ => self.id(d),
                })
                .collect();
            s += &format!("-- kiln:depends-on {}\n", list(ds));
        }
        if let Some(l) = self.label(i) {
            s += &format!("-- kiln:branch {l}\n");
        }
        if let Some(day) = n.created {
            s += &format!("-- kiln:created 2026-11-{day:02}T09:00:00Z\n");
        }
        s += &format!(
            "-- kiln:message revision {i}\n\n-- kiln:upgrade\nCREATE TABLE t{i} (x INTEGER);\n"
        );
        s
    }

    /// Writes the graph as a migration directory and loads it.
    fn load(&self) -> Result<MigrationSet, Diagnostics> {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..self.nodes.len() {
            std::fs::write(tmp.path().join(self.file(i)), self.text(i)).unwrap();
        }
        let dir = resolve_dir(tmp.path(), Some("."));
        load_dir(&dir).map(|l| l.set)
    }
}

fn node(i: usize) -> impl Strategy<Value = Node> {
    let earlier: Vec<usize> = (0..i).collect();
    (
        subsequence(earlier.clone(), 0..=i.min(3)),
        subsequence(earlier, 0..=i.min(2)),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1u8..=3),
    )
        .prop_map(|(parents, deps, deps_by_label, labelled, created)| Node {
            parents,
            deps,
            deps_by_label,
            labelled,
            created,
        })
}

fn dag(max: usize, labels: Labels) -> impl Strategy<Value = Dag> {
    (1..=max)
        .prop_flat_map(|n| ((0..n).map(node).collect::<Vec<_>>(), any::<u32>()))
        .prop_map(move |(mut nodes, salt)| {
            for n in &mut nodes {
                n.labelled = match labels {
                    Labels::None => false,
                    Labels::All => true,
                    Labels::Some => n.labelled,
                };
            }
            Dag { nodes, salt }
        })
}

fn any_dag() -> impl Strategy<Value = Dag> {
    prop_oneof![
        dag(12, Labels::None),
        dag(12, Labels::All),
        dag(12, Labels::Some)
    ]
}

/// Checks a set that loaded against the model it was written from.
fn check_set(g: &Dag, set: &MigrationSet) -> Result<(), TestCaseError> {
    let n = g.nodes.len();
    prop_assert_eq!(set.len(), n);
    let pos: Vec<usize> = (0..n)
        .map(|i| {
            set.index_of(&g.id(i))
                .expect("every revision is in the set")
        })
        .collect();

    // Every edge points backwards in the order.
    for i in 0..n {
        for j in g.edges(i) {
            prop_assert!(
                pos[j] < pos[i],
                "{} comes before {}, which it revises or depends on",
                g.id(i),
                g.id(j)
            );
        }
    }

    // Parents as written; dependencies with labels resolved to ids.
    for (node, &p) in g.nodes.iter().zip(&pos) {
        let r = &set.revisions()[p];
        let parents: Vec<String> = node.parents.iter().map(|&p| g.id(p)).collect();
        let deps: Vec<String> = node.deps.iter().map(|&d| g.id(d)).collect();
        prop_assert_eq!(r.parents().to_vec(), parents);
        prop_assert_eq!(r.depends_on().to_vec(), deps);
        prop_assert_eq!(r.is_merge(), node.parents.len() > 1);
    }

    // Ties are broken by `created`, then id: at each step the revision taken is the smallest
    // of those whose parents and dependencies have all been taken.
    let key = |i: usize| {
        let created = g.nodes[i]
            .created
            .map(|d| format!("2026-11-{d:02}T09:00:00Z"))
            .unwrap_or_default();
        (created, g.id(i))
    };
    let mut taken = vec![false; n];
    for r in set.revisions() {
        let i = g.index_of(r.id());
        let ready = (0..n).filter(|&k| !taken[k] && g.edges(k).all(|j| taken[j]));
        let best = ready.min_by_key(|&k| key(k)).unwrap();
        prop_assert_eq!(
            i,
            best,
            "order is not the (created, id) smallest topological order"
        );
        taken[i] = true;
    }

    // Heads: revisions nobody revises; bases: revisions without parents; both in order.
    let in_order = |ids: BTreeSet<usize>| {
        let mut v: Vec<usize> = ids.into_iter().collect();
        v.sort_by_key(|&i| pos[i]);
        v.into_iter().map(|i| g.id(i)).collect::<Vec<_>>()
    };
    prop_assert_eq!(set.heads().to_vec(), in_order(g.heads()));
    prop_assert_eq!(set.bases().to_vec(), in_order(g.bases()));
    Ok(())
}

fn problems(d: &Diagnostics) -> Vec<&Problem> {
    d.iter().map(|d| &d.problem).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn acyclic_graphs_load_with_the_right_order_heads_and_bases(g in any_dag()) {
        let heads = g.heads();
        let bases = g.bases();
        match g.load() {
            Ok(set) => {
                check_set(&g, &set)?;
                // Without labels, only a single line of revisions is acceptable.
                if !g.any_label() {
                    prop_assert_eq!(heads.len(), 1);
                    prop_assert_eq!(bases.len(), 1);
                }
            }
            Err(d) => {
                // An acyclic graph with valid files can only fail on its shape.
                for p in problems(&d) {
                    match p {
                        Problem::MultipleHeads { heads: reported, .. } => {
                            prop_assert!(heads.len() > 1);
                            let expected: BTreeSet<String> = heads.iter().map(|&i| g.id(i)).collect();
                            prop_assert_eq!(reported.iter().cloned().collect::<BTreeSet<_>>(), expected);
                        }
                        Problem::MultipleBases { bases: reported, .. } => {
                            prop_assert!(bases.len() > 1);
                            let expected: BTreeSet<String> = bases.iter().map(|&i| g.id(i)).collect();
                            prop_assert_eq!(reported.iter().cloned().collect::<BTreeSet<_>>(), expected);
                        }
                        other => prop_assert!(false, "unexpected problem: {other}\n{d}"),
                    }
                }
                // Every head and every base on its own labelled branch is always fine.
                prop_assert!(!g.nodes.iter().all(|n| n.labelled), "{}", d);
            }
        }
    }

    #[test]
    fn multiple_unlabelled_heads_and_bases_are_always_reported(g in dag(10, Labels::None)) {
        let heads = g.heads().len();
        let bases = g.bases().len();
        match g.load() {
            Ok(set) => {
                prop_assert_eq!((heads, bases), (1, 1));
                check_set(&g, &set)?;
            }
            Err(d) => {
                let ps = problems(&d);
                prop_assert_eq!(
                    ps.iter().any(|p| matches!(p, Problem::MultipleHeads { .. })),
                    heads > 1,
                    "{}", d
                );
                prop_assert_eq!(
                    ps.iter().any(|p| matches!(p, Problem::MultipleBases { .. })),
                    bases > 1,
                    "{}", d
                );
                // The message gives the merge command naming every head.
                if let Some(diag) = d.iter().find(|x| matches!(x.problem, Problem::MultipleHeads { .. })) {
                    let help = diag.problem.help().unwrap();
                    prop_assert!(help.contains("kiln merge"), "{}", help);
                    for h in g.heads() {
                        prop_assert!(help.contains(&g.id(h)), "{}", help);
                    }
                }
            }
        }
    }

    #[test]
    fn every_labelled_graph_loads(g in dag(12, Labels::All)) {
        let set = g.load().map_err(|d| TestCaseError::fail(d.to_string()))?;
        check_set(&g, &set)?;
    }

    #[test]
    fn an_injected_back_edge_is_always_reported_as_a_real_cycle(
        mut g in any_dag(),
        to in any::<Index>(),
        from in any::<Index>(),
        as_dependency in any::<bool>(),
    ) {
        // Pick `b`, then `a` among `b` and everything `b` reaches; `a -> b` closes a cycle.
        let n = g.nodes.len();
        let b = to.index(n);
        let mut reach = BTreeSet::from([b]);
        let mut stack = vec![b];
        while let Some(x) = stack.pop() {
            for y in g.edges(x).collect::<Vec<_>>() {
                if reach.insert(y) {
                    stack.push(y);
                }
            }
        }
        let reach: Vec<usize> = reach.into_iter().collect();
        let a = reach[from.index(reach.len())];
        if as_dependency {
            g.nodes[a].deps.push(b);
        } else {
            g.nodes[a].parents.push(b);
        }

        let d = match g.load() {
            Ok(_) => return Err(TestCaseError::fail("a cyclic graph loaded")),
            Err(d) => d,
        };
        let cycles: Vec<&Vec<String>> = d
            .iter()
            .filter_map(|x| match &x.problem {
                Problem::Cycle { cycle } => Some(cycle),
                _ => None,
            })
            .collect();
        prop_assert!(!cycles.is_empty(), "no cycle reported:\n{}", d);
        prop_assert_eq!(cycles.len(), d.len(), "only cycles are wrong here:\n{}", d);
        for cycle in cycles {
            prop_assert!(cycle.len() >= 2);
            prop_assert_eq!(cycle.first(), cycle.last());
            for pair in cycle.windows(2) {
                let (x, y) = (g.index_of(&pair[0]), g.index_of(&pair[1]));
                prop_assert!(
                    g.edges(x).any(|e| e == y),
                    "{} -> {} in the printed cycle is not an edge", pair[0], pair[1]
                );
            }
            // Apart from the repeated first element, a printed cycle visits each revision once.
            let distinct: BTreeSet<&String> = cycle.iter().collect();
            prop_assert_eq!(distinct.len(), cycle.len() - 1);
        }
    }
}
