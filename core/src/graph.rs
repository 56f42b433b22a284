//! The revision graph: linkage checks, cycles, heads and bases, topological order.
//!
//! Edges run from a revision to its parents (`revises`) and to its dependencies (`depends-on`).
//! Parents define the shape people talk about (heads, bases, branches); dependencies only add
//! ordering. Every check reports all of its findings; later checks run on what is left so one typo
//! does not hide the next.

use crate::diag::{Diagnostic, Problem, closest};
use crate::format::ParsedFile;
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

/// Checks linkage among `files` and orders them. Files with a duplicated id take no part beyond
/// the duplicate error.
pub fn check(files: &[ParsedFile]) -> Result<Graph, Vec<Diagnostic>> {
    check_with_unparsed(files, &[])
}

/// Like [`check`], for a directory where the migration files named in `unparsed` exist but did
/// not parse (their own problems are reported by the parser). A parent or dependency that one of
/// them would have declared is not reported as missing, and the head and base checks are skipped,
/// because without those files the shape of the graph is unknown.
pub fn check_with_unparsed(
    files: &[ParsedFile],
    unparsed: &[String],
) -> Result<Graph, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    // Heads and bases are only meaningful for a complete graph whose ids, labels and parents all
    // resolve; otherwise a typo in one `revises` line would also be reported as an extra head.
    let mut shape_known = unparsed.is_empty();
    let in_unparsed = |id: &str| {
        unparsed
            .iter()
            .any(|name| crate::format::file_matches_revision(name, id))
    };
    let at = |f: &ParsedFile, line: usize, problem: Problem| {
        Diagnostic::at(&f.path, &f.text, line, problem)
    };

    // Ids.
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut live = vec![true; files.len()];
    for (i, f) in files.iter().enumerate() {
        let id = f.revision.value.as_str();
        if let Some(&first) = by_id.get(id) {
            live[i] = false;
            shape_known = false;
            errors.push(at(
                f,
                f.revision.line,
                Problem::DuplicateRevision {
                    revision: id.to_owned(),
                    first_file: files[first].path.clone(),
                },
            ));
        } else {
            by_id.insert(id, i);
        }
    }

    // Labels.
    let mut labels: HashMap<&str, usize> = HashMap::new();
    for (i, f) in files.iter().enumerate().filter(|(i, _)| live[*i]) {
        for label in &f.branches.value {
            if by_id.contains_key(label.as_str()) {
                shape_known = false;
                errors.push(at(
                    f,
                    f.branches.line,
                    Problem::LabelIsRevision {
                        label: label.clone(),
                    },
                ));
            }
            if let Some(&first) = labels.get(label.as_str()) {
                shape_known = false;
                errors.push(at(
                    f,
                    f.branches.line,
                    Problem::DuplicateLabel {
                        label: label.clone(),
                        revision: f.revision.value.clone(),
                        first_revision: files[first].revision.value.clone(),
                    },
                ));
            } else {
                labels.insert(label, i);
            }
        }
    }

    // Suggestions come from a sorted list, so the same typo always gets the same suggestion
    // (hash-map order would differ between runs), and never name the revision itself.
    let mut known_ids: Vec<&str> = by_id.keys().copied().collect();
    known_ids.sort_unstable();
    let mut known_targets: Vec<&str> = known_ids
        .iter()
        .copied()
        .chain(labels.keys().copied())
        .collect();
    known_targets.sort_unstable();
    let suggest = |word: &str, own: &str, candidates: &[&str]| {
        closest(word, candidates.iter().copied().filter(|c| *c != own))
    };

    // Edges.
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    let mut depends_on: Vec<Vec<String>> = vec![Vec::new(); files.len()];
    for (i, f) in files.iter().enumerate().filter(|(i, _)| live[*i]) {
        for p in &f.revises.value {
            match by_id.get(p.as_str()) {
                Some(&j) => parents[i].push(j),
                None if in_unparsed(p) => shape_known = false,
                None => {
                    shape_known = false;
                    errors.push(at(
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
            match by_id.get(d.as_str()).or_else(|| labels.get(d.as_str())) {
                Some(&j) => {
                    deps[i].push(j);
                    depends_on[i].push(files[j].revision.value.clone());
                }
                None if in_unparsed(d) => {}
                None => errors.push(at(
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

    let edges: Vec<Vec<usize>> = (0..files.len())
        .map(|i| parents[i].iter().chain(&deps[i]).copied().collect())
        .collect();
    let cycles = find_cycles(&edges, &live);
    for cycle in &cycles {
        let first = &files[cycle[0]];
        let mut names: Vec<String> = cycle
            .iter()
            .map(|&i| files[i].revision.value.clone())
            .collect();
        names.push(names[0].clone());
        // Point at the line declaring the cycle's first edge: `revises` or `depends-on`.
        let next = cycle.get(1).copied().unwrap_or(cycle[0]);
        let line = if parents[cycle[0]].contains(&next) {
            first.revises.line
        } else {
            first.depends_on.line
        };
        errors.push(at(first, line, Problem::Cycle { cycle: names }));
    }
    if !cycles.is_empty() {
        return Err(errors);
    }

    // Heads and bases, by parent edges only.
    let mut has_child = vec![false; files.len()];
    for ps in &parents {
        for &p in ps {
            has_child[p] = true;
        }
    }
    let order = topo_order(files, &edges, &live);
    let heads: Vec<usize> = order.iter().copied().filter(|&i| !has_child[i]).collect();
    let bases: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| files[i].revises.value.is_empty())
        .collect();

    // Labels inherited from ancestors through parents: a labelled branch is everything descending
    // from the revision that declares the label.
    let mut inherited: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); files.len()];
    for &i in &order {
        let mut set: BTreeSet<&str> = files[i].branches.value.iter().map(String::as_str).collect();
        for &p in &parents[i] {
            set.extend(inherited[p].iter().copied());
        }
        inherited[i] = set;
    }
    let dir = files.first().map(|f| dir_of(&f.path)).unwrap_or_default();
    if shape_known && heads.len() > 1 {
        let unlabelled = heads.iter().any(|&h| {
            inherited[h]
                .iter()
                .all(|l| heads.iter().any(|&o| o != h && inherited[o].contains(l)))
        });
        if unlabelled {
            errors.push(Diagnostic::new(
                &dir,
                Problem::MultipleHeads {
                    heads: heads
                        .iter()
                        .map(|&i| files[i].revision.value.clone())
                        .collect(),
                    files: heads.iter().map(|&i| files[i].file.clone()).collect(),
                },
            ));
        }
    }
    if shape_known && bases.len() > 1 && bases.iter().any(|&b| files[b].branches.value.is_empty()) {
        errors.push(Diagnostic::new(
            &dir,
            Problem::MultipleBases {
                bases: bases
                    .iter()
                    .map(|&i| files[i].revision.value.clone())
                    .collect(),
                files: bases.iter().map(|&i| files[i].file.clone()).collect(),
            },
        ));
    }

    if errors.is_empty() {
        Ok(Graph {
            order,
            heads,
            bases,
            depends_on,
        })
    } else {
        Err(errors)
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
fn topo_order(files: &[ParsedFile], edges: &[Vec<usize>], live: &[bool]) -> Vec<usize> {
    let n = files.len();
    let mut indegree = vec![0usize; n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in (0..n).filter(|&i| live[i]) {
        for &p in &edges[i] {
            indegree[i] += 1;
            children[p].push(i);
        }
    }
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
        for &c in &children[i] {
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
