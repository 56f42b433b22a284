//! The revision graph: linkage checks, cycles, heads and bases, topological order.
//!
//! Edges run from a revision to its parents (`revises`) and to its dependencies (`depends-on`).
//! Parents define the shape people talk about (heads, bases, branches); dependencies only add
//! ordering. Every check reports all of its findings; later checks run on what is left so one typo
//! does not hide the next.

use crate::diag::{Diagnostic, Diagnostics, Problem, closest};
use crate::format::ParsedFile;
use crate::revgraph::RevisionGraph;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// The graph of one directory's parsed files, after linkage checks.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Revision ids in topological order.
    pub order: Vec<usize>,
    /// Index into the file list of each head, in topological order.
    pub heads: Vec<usize>,
    /// Index into the file list of each base, in topological order.
    pub bases: Vec<usize>,
    /// Resolved dependency ids per file (labels replaced by the revision declaring them).
    pub depends_on: Vec<Vec<String>>,
}

/// Checks linkage among `files` and orders them, adding every problem to `diags`; `None` when
/// there was one. Files with a duplicated id take no part beyond the duplicate error.
///
/// `unparsed` names migration files that exist but did not parse (their own problems are
/// reported by the parser). A parent or dependency that one of them would have declared is not
/// reported as missing, and the head and base checks are skipped, because without those files the
/// shape of the graph is unknown. This stage reads nothing from the disk.
pub fn check(files: &[ParsedFile], unparsed: &[String], diags: &mut Diagnostics) -> Option<Graph> {
    let before = diags.len();
    let mut c = Linkage::new(files, unparsed);
    c.check_ids(diags);
    c.check_labels(diags);
    let (graph, depends_on) = c.resolve_edges(diags);
    if c.report_cycles(&graph, diags) {
        return None;
    }
    let order = topo_order(files, &graph, &c.live);
    let heads: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| graph.children(i).is_empty())
        .collect();
    let bases: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| files[i].revises.value.is_empty())
        .collect();
    // Heads and bases are only meaningful for a complete graph whose ids, labels and parents all
    // resolve; otherwise a typo in one `revises` line would also be reported as an extra head.
    if c.shape_known {
        c.check_heads(&graph, &order, &heads, diags);
        c.check_bases(&bases, diags);
    }
    (diags.len() == before).then_some(Graph {
        order,
        heads,
        bases,
        depends_on,
    })
}

/// The files under check and what the checks so far learnt about them.
struct Linkage<'f> {
    files: &'f [ParsedFile],
    unparsed: &'f [String],
    /// `false` for a file whose id duplicates an earlier one's.
    live: Vec<bool>,
    by_id: HashMap<&'f str, usize>,
    /// Each branch label and the file declaring it.
    labels: HashMap<&'f str, usize>,
    /// Cleared by any problem after which heads and bases say nothing useful.
    shape_known: bool,
}

impl<'f> Linkage<'f> {
    fn new(files: &'f [ParsedFile], unparsed: &'f [String]) -> Self {
        Linkage {
            files,
            unparsed,
            live: vec![true; files.len()],
            by_id: HashMap::new(),
            labels: HashMap::new(),
            shape_known: unparsed.is_empty(),
        }
    }

    fn at(f: &ParsedFile, line: usize, problem: Problem) -> Diagnostic {
        Diagnostic::at(&f.path, &f.text, line, problem)
    }

    /// Whether `id` would be declared by one of the files that did not parse.
    fn in_unparsed(&self, id: &str) -> bool {
        self.unparsed
            .iter()
            .any(|name| crate::format::file_matches_revision(name, id))
    }

    /// Every id is declared once.
    fn check_ids(&mut self, diags: &mut Diagnostics) {
        for (i, f) in self.files.iter().enumerate() {
            let id = f.revision.value.as_str();
            if let Some(&first) = self.by_id.get(id) {
                self.live[i] = false;
                self.shape_known = false;
                diags.push(Self::at(
                    f,
                    f.revision.line,
                    Problem::DuplicateRevision {
                        revision: id.to_owned(),
                        first_file: self.files[first].path.clone(),
                    },
                ));
            } else {
                self.by_id.insert(id, i);
            }
        }
    }

    /// Every branch label is declared once and is not also a revision id.
    fn check_labels(&mut self, diags: &mut Diagnostics) {
        let files = self.files;
        for (i, f) in files.iter().enumerate() {
            if !self.live[i] {
                continue;
            }
            for label in &f.branches.value {
                if self.by_id.contains_key(label.as_str()) {
                    self.shape_known = false;
                    diags.push(Self::at(
                        f,
                        f.branches.line,
                        Problem::LabelIsRevision {
                            label: label.clone(),
                        },
                    ));
                }
                if let Some(&first) = self.labels.get(label.as_str()) {
                    self.shape_known = false;
                    diags.push(Self::at(
                        f,
                        f.branches.line,
                        Problem::DuplicateLabel {
                            label: label.clone(),
                            revision: f.revision.value.clone(),
                            first_revision: self.files[first].revision.value.clone(),
                        },
                    ));
                } else {
                    self.labels.insert(label, i);
                }
            }
        }
    }

    /// Every parent names a revision and every dependency a revision or label; returns the
    /// edges that resolve, and each file's dependencies as revision ids.
    fn resolve_edges(&mut self, diags: &mut Diagnostics) -> (RevisionGraph, Vec<Vec<String>>) {
        let n = self.files.len();
        // Suggestions come from a sorted list, so the same typo always gets the same suggestion
        // (hash-map order would differ between runs), and never name the revision itself.
        let mut known_ids: Vec<&str> = self.by_id.keys().copied().collect();
        known_ids.sort_unstable();
        let mut known_targets: Vec<&str> = known_ids
            .iter()
            .copied()
            .chain(self.labels.keys().copied())
            .collect();
        known_targets.sort_unstable();
        let suggest = |word: &str, own: &str, candidates: &[&str]| {
            closest(word, candidates.iter().copied().filter(|c| *c != own))
        };
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut depends_on: Vec<Vec<String>> = vec![Vec::new(); n];
        let files = self.files;
        for (i, f) in files.iter().enumerate() {
            if !self.live[i] {
                continue;
            }
            for p in &f.revises.value {
                match self.by_id.get(p.as_str()) {
                    Some(&j) => parents[i].push(j),
                    None if self.in_unparsed(p) => self.shape_known = false,
                    None => {
                        self.shape_known = false;
                        diags.push(Self::at(
                            f,
                            f.revises.line,
                            Problem::UnknownParent {
                                revision: f.revision.value.clone(),
                                parent: p.clone(),
                                suggestion: suggest(p, &f.revision.value, &known_ids),
                            },
                        ));
                    }
                }
            }
            for d in &f.depends_on.value {
                match self
                    .by_id
                    .get(d.as_str())
                    .or_else(|| self.labels.get(d.as_str()))
                {
                    Some(&j) => {
                        deps[i].push(j);
                        depends_on[i].push(self.files[j].revision.value.clone());
                    }
                    None if self.in_unparsed(d) => {}
                    None => diags.push(Self::at(
                        f,
                        f.depends_on.line,
                        Problem::UnknownDependency {
                            revision: f.revision.value.clone(),
                            dependency: d.clone(),
                            suggestion: suggest(d, &f.revision.value, &known_targets),
                        },
                    )),
                }
            }
        }
        (RevisionGraph::from_edges(parents, deps), depends_on)
    }

    /// No revision requires itself through parents or dependencies; `true` when one does.
    fn report_cycles(&self, graph: &RevisionGraph, diags: &mut Diagnostics) -> bool {
        let cycles = find_cycles(graph.requires_lists(), &self.live);
        for cycle in &cycles {
            let first = &self.files[cycle[0]];
            let mut names: Vec<String> = cycle
                .iter()
                .map(|&i| self.files[i].revision.value.clone())
                .collect();
            names.push(names[0].clone());
            // Point at the line declaring the cycle's first edge: `revises` or `depends-on`.
            let next = cycle.get(1).copied().unwrap_or(cycle[0]);
            let line = if graph.parents(cycle[0]).contains(&next) {
                first.revises.line
            } else {
                first.depends_on.line
            };
            diags.push(Self::at(first, line, Problem::Cycle { cycle: names }));
        }
        !cycles.is_empty()
    }

    /// Several heads are allowed only on labelled branches: each head must carry a label (its
    /// own or inherited through parents) that no other head carries.
    fn check_heads(
        &self,
        graph: &RevisionGraph,
        order: &[usize],
        heads: &[usize],
        diags: &mut Diagnostics,
    ) {
        if heads.len() < 2 {
            return;
        }
        // A labelled branch is everything descending from the revision that declares the label.
        let mut inherited: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); self.files.len()];
        for &i in order {
            let mut set: BTreeSet<&str> = self.files[i]
                .branches
                .value
                .iter()
                .map(String::as_str)
                .collect();
            for &p in graph.parents(i) {
                set.extend(inherited[p].iter().copied());
            }
            inherited[i] = set;
        }
        // One unlabelled head is the main line; a labelled branch may grow beside it (Alembic's
        // `revision --head=base --branch-label=...`) without relabelling locked files. Two or
        // more unlabelled heads are concurrent work nobody ordered.
        let unlabelled = heads
            .iter()
            .filter(|&&h| {
                inherited[h]
                    .iter()
                    .all(|l| heads.iter().any(|&o| o != h && inherited[o].contains(l)))
            })
            .count();
        if unlabelled > 1 {
            diags.push(Diagnostic::new(
                self.dir(),
                Problem::MultipleHeads {
                    heads: self.ids(heads),
                    files: heads.iter().map(|&i| self.files[i].file.clone()).collect(),
                },
            ));
        }
    }

    /// Several bases are allowed only when every one of them declares a branch label.
    fn check_bases(&self, bases: &[usize], diags: &mut Diagnostics) {
        if bases.len() > 1
            && bases
                .iter()
                .filter(|&&b| self.files[b].branches.value.is_empty())
                .count()
                > 1
        {
            diags.push(Diagnostic::new(
                self.dir(),
                Problem::MultipleBases {
                    bases: self.ids(bases),
                    files: bases.iter().map(|&i| self.files[i].file.clone()).collect(),
                },
            ));
        }
    }

    fn ids(&self, v: &[usize]) -> Vec<String> {
        v.iter()
            .map(|&i| self.files[i].revision.value.clone())
            .collect()
    }

    /// The directory the files are in, as displayed: where graph-wide problems are reported.
    fn dir(&self) -> String {
        self.files
            .first()
            .map(|f| dir_of(&f.path))
            .unwrap_or_default()
    }
}

/// The directory part of a displayed path (`migrations/a.sql` → `migrations`).
fn dir_of(path: &str) -> String {
    match path.rfind(['/', '\\']) {
        Some(i) => path[..i].to_owned(),
        None => ".".to_owned(),
    }
}

/// Kahn's algorithm; among ready revisions the one created first (then the smallest id) goes
/// first, so the order is deterministic and follows authoring order where it can.
fn topo_order(files: &[ParsedFile], graph: &RevisionGraph, live: &[bool]) -> Vec<usize> {
    let n = files.len();
    let mut indegree: Vec<usize> = (0..n).map(|i| graph.requires(i).len()).collect();
    let key = |i: usize| {
        Reverse((
            files[i].created.clone().unwrap_or_default(),
            files[i].revision.value.clone(),
            i,
        ))
    };
    let mut ready: BinaryHeap<_> = (0..n)
        .filter(|&i| live[i] && indegree[i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(i);
        for &c in graph.required_by(i) {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(key(c));
            }
        }
    }
    order
}

/// Every strongly connected component that contains a cycle, each as one concrete cycle path
/// (Tarjan's algorithm, iterative so deep chains cannot overflow the stack).
pub fn find_cycles(edges: &[Vec<usize>], live: &[bool]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut cycles = Vec::new();
    for root in (0..n).filter(|&i| live[i]) {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = work.last_mut() {
            if let Some(&w) = edges[v].get(*ei) {
                *ei += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 || edges[v].contains(&v) {
                    cycles.push(cycle_in(edges, &comp));
                }
            }
        }
    }
    cycles.sort();
    cycles
}

/// A concrete cycle through the smallest member of a strongly connected component.
fn cycle_in(edges: &[Vec<usize>], comp: &[usize]) -> Vec<usize> {
    let Some(&start) = comp.iter().min() else {
        return Vec::new();
    };
    // Breadth-first search inside the component back to `start` gives the shortest such cycle.
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if !comp.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}
