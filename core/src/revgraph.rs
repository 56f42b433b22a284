//! [`RevisionGraph`]: the one adjacency index of a revision graph (parents, children, what each
//! revision requires and what requires it), shared by the graph checks, target planning, the
//! CLI's ranges and kiln-testing's checks.

use crate::model::MigrationSet;

/// The edges among revisions numbered `0..len`, indexed both ways.
///
/// A revision's parents (`revises`) give the shape people talk about: heads, bases, branch points,
/// children. Its dependencies (`depends-on`) only add ordering, so [`Self::requires`] is the
/// parents followed by the dependencies, and [`Self::required_by`] is its reverse. For a
/// [`MigrationSet`] the numbers are positions in [`MigrationSet::revisions`], which is
/// topological, so ascending number order is an apply order.
#[derive(Debug, Clone, Default)]
pub struct RevisionGraph {
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    requires: Vec<Vec<usize>>,
    required_by: Vec<Vec<usize>>,
}

impl RevisionGraph {
    /// Indexes `parents[i]` and `depends_on[i]`, the revisions revision `i` revises and depends
    /// on. Both lists must have the same length, and every entry must be below it.
    pub fn from_edges(parents: Vec<Vec<usize>>, depends_on: Vec<Vec<usize>>) -> Self {
        let n = parents.len();
        let mut children = vec![Vec::new(); n];
        let mut requires = vec![Vec::new(); n];
        let mut required_by = vec![Vec::new(); n];
        for i in 0..n {
            for &p in &parents[i] {
                children[p].push(i);
            }
            let deps = depends_on.get(i).map(Vec::as_slice).unwrap_or_default();
            for &r in parents[i].iter().chain(deps) {
                requires[i].push(r);
                required_by[r].push(i);
            }
        }
        RevisionGraph {
            parents,
            children,
            requires,
            required_by,
        }
    }

    /// Indexes a validated set (every parent and dependency resolves, by construction).
    pub fn of_set(set: &MigrationSet) -> Self {
        let at = set.positions();
        let lists = |f: fn(&crate::model::Revision) -> &[crate::model::Str]| -> Vec<Vec<usize>> {
            set.revisions()
                .iter()
                .map(|r| f(r).iter().filter_map(|p| at.get(&**p).copied()).collect())
                .collect()
        };
        Self::from_edges(
            lists(crate::model::Revision::parents),
            lists(crate::model::Revision::depends_on),
        )
    }

    /// How many revisions the graph numbers.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// `true` for a graph of no revisions.
    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    /// The revisions `i` revises.
    pub fn parents(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }

    /// The revisions that revise `i`, in ascending order.
    pub fn children(&self, i: usize) -> &[usize] {
        &self.children[i]
    }

    /// What must be applied before `i`: its parents, then its dependencies.
    pub fn requires(&self, i: usize) -> &[usize] {
        &self.requires[i]
    }

    /// The revisions that require `i` (children and dependents), in ascending order.
    pub fn required_by(&self, i: usize) -> &[usize] {
        &self.required_by[i]
    }

    /// Every list of [`Self::requires`], for algorithms over the whole graph.
    pub fn requires_lists(&self) -> &[Vec<usize>] {
        &self.requires
    }

    /// `roots` and everything they require, transitively.
    pub fn ancestors_or_self(&self, roots: &[usize]) -> Vec<bool> {
        closure(roots, &self.requires)
    }

    /// `roots` and everything that requires them, transitively.
    pub fn descendants_or_self(&self, roots: &[usize]) -> Vec<bool> {
        closure(roots, &self.required_by)
    }

    /// Applied revisions that no other applied revision requires: what `current` shows.
    pub fn current_heads(&self, applied: &[bool]) -> Vec<usize> {
        (0..applied.len().min(self.len()))
            .filter(|&i| applied[i] && !self.required_by[i].iter().any(|&c| applied[c]))
            .collect()
    }

    /// Revisions at most `depth` parent steps below `from` (`from` included).
    pub fn below_within(&self, from: &[usize], depth: u64) -> Vec<bool> {
        within(from, &self.parents, depth)
    }

    /// Revisions at most `depth` child steps above `from` (`from` included).
    pub fn above_within(&self, from: &[usize], depth: u64) -> Vec<bool> {
        within(from, &self.children, depth)
    }
}

fn closure(roots: &[usize], edges: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut stack: Vec<usize> = roots.to_vec();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(edges[i].iter().copied());
        }
    }
    seen
}

fn within(from: &[usize], edges: &[Vec<usize>], depth: u64) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut frontier: Vec<usize> = from.to_vec();
    for &i in &frontier {
        seen[i] = true;
    }
    let mut d = 0;
    while d < depth && !frontier.is_empty() {
        let mut next = Vec::new();
        for &i in &frontier {
            for &j in &edges[i] {
                if !std::mem::replace(&mut seen[j], true) {
                    next.push(j);
                }
            }
        }
        frontier = next;
        d += 1;
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 ← 1 ← 3, 0 ← 2 ← 3 (3 merges 1 and 2), and 4 revises 0 and depends on 2.
    fn diamond() -> RevisionGraph {
        RevisionGraph::from_edges(
            vec![vec![], vec![0], vec![0], vec![1, 2], vec![0]],
            vec![vec![], vec![], vec![], vec![], vec![2]],
        )
    }

    #[test]
    fn indexes_both_directions() {
        let g = diamond();
        assert_eq!(g.len(), 5);
        assert_eq!(g.children(0), [1, 2, 4]);
        assert_eq!(g.parents(3), [1, 2]);
        assert_eq!(g.requires(4), [0, 2]);
        assert_eq!(g.required_by(2), [3, 4]);
        // A dependency orders but is not a child.
        assert_eq!(g.children(2), [3]);
    }

    #[test]
    fn closures_heads_and_depths() {
        let g = diamond();
        assert_eq!(g.ancestors_or_self(&[4]), [true, false, true, false, true]);
        assert_eq!(
            g.descendants_or_self(&[1]),
            [false, true, false, true, false]
        );
        assert_eq!(g.current_heads(&[true, true, true, false, false]), [1, 2]);
        assert_eq!(g.below_within(&[3], 1), [false, true, true, true, false]);
        assert_eq!(g.above_within(&[0], 1), [true, true, true, false, true]);
    }
}
