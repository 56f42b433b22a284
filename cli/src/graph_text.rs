//! The `git log --graph` style drawing that `kiln history` shows on a terminal.
//!
//! Revisions come newest first. Each column of the drawing waits for one revision (a parent of
//! something already drawn). A revision is drawn as `*` in its column; a merge opens a column per
//! extra parent (`|\`), and when several columns wait for the same revision (a branch point) they
//! fold into one (`|/`) just above it. Only parent edges are drawn; `depends-on` edges are named in
//! the text instead.

/// One line of the drawing: the graph characters and, for revision lines, which revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub graph: String,
    pub node: Option<usize>,
}

/// Draws `order` (newest first). `parents[i]` are the parents of revision `i` that are part of
/// the drawing.
pub fn draw(order: &[usize], parents: &[Vec<usize>]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut columns: Vec<Option<usize>> = Vec::new();
    for &n in order {
        // Fold: drop empty columns, and merge every column waiting for `n` into the first one.
        let first = columns.iter().position(|c| *c == Some(n));
        let mut targets: Vec<Option<usize>> = Vec::with_capacity(columns.len());
        let mut next = 0;
        for (k, c) in columns.iter().enumerate() {
            let t = match c {
                None => None,
                Some(x) if *x == n && Some(k) != first => first.and_then(|f| targets[f]),
                Some(_) => {
                    next += 1;
                    Some(next - 1)
                }
            };
            targets.push(t);
        }
        transition(&mut rows, &targets);
        let mut folded: Vec<Option<usize>> = Vec::with_capacity(next);
        for (k, c) in columns.iter().enumerate() {
            if c.is_some() && !(*c == Some(n) && Some(k) != first) {
                folded.push(*c);
            }
        }
        columns = folded;
        let col = match columns.iter().position(|c| *c == Some(n)) {
            Some(c) => c,
            None => {
                columns.push(Some(n));
                columns.len() - 1
            }
        };

        // The revision's own line.
        let graph: String = (0..columns.len())
            .map(|k| if k == col { "*" } else { "|" })
            .collect::<Vec<_>>()
            .join(" ");
        rows.push(Row {
            graph,
            node: Some(n),
        });

        // Its parents take over its column; a merge opens one more column per extra parent.
        match parents[n].as_slice() {
            [] => columns[col] = None,
            [first, rest @ ..] => {
                columns[col] = Some(*first);
                for (j, p) in rest.iter().enumerate() {
                    let at = col + j + 1;
                    let mut line = vec![' '; 2 * (columns.len() + 1) + 1];
                    for k in 0..columns.len() {
                        if k < at {
                            line[2 * k] = '|';
                        } else {
                            line[2 * k + 1] = '\\';
                        }
                    }
                    line[2 * at - 1] = '\\';
                    rows.push(Row {
                        graph: trimmed(&line),
                        node: None,
                    });
                    columns.insert(at, Some(*p));
                }
            }
        }
    }
    rows
}

/// Moves columns left to their targets one step per line (`/`), drawing `|` for the ones that
/// stay. Columns without a target vanish.
fn transition(rows: &mut Vec<Row>, targets: &[Option<usize>]) {
    let mut pos: Vec<Option<usize>> = targets
        .iter()
        .enumerate()
        .map(|(k, t)| t.map(|_| k))
        .collect();
    loop {
        let moving = pos
            .iter()
            .zip(targets)
            .any(|(p, t)| matches!((p, t), (Some(p), Some(t)) if p > t));
        if !moving {
            return;
        }
        let mut line = vec![' '; 2 * targets.len() + 1];
        for (p, t) in pos.iter_mut().zip(targets) {
            if let (Some(cur), Some(t)) = (*p, *t) {
                if cur > t {
                    line[2 * cur - 1] = '/';
                    *p = Some(cur - 1);
                } else if line[2 * cur] == ' ' {
                    line[2 * cur] = '|';
                }
            }
        }
        rows.push(Row {
            graph: trimmed(&line),
            node: None,
        });
    }
}

fn trimmed(line: &[char]) -> String {
    line.iter().collect::<String>().trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(order: &[usize], parents: &[Vec<usize>], names: &[&str]) -> String {
        draw(order, parents)
            .iter()
            .map(|r| match r.node {
                Some(n) => format!("{} {}", r.graph, names[n]),
                None => r.graph.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn branch_and_merge() {
        // a <- b <- {c, d} <- e <- f
        let parents = vec![vec![], vec![0], vec![1], vec![1], vec![2, 3], vec![4]];
        let names = ["a", "b", "c", "d", "e", "f"];
        let got = picture(&[5, 4, 3, 2, 1, 0], &parents, &names);
        assert_eq!(got, "* f\n* e\n|\\\n| * d\n* | c\n|/\n* b\n* a", "\n{got}");
    }

    #[test]
    fn two_labelled_heads() {
        // a <- b (x), a <- c (y)
        let parents = vec![vec![], vec![0], vec![0]];
        let got = picture(&[2, 1, 0], &parents, &["a", "b", "c"]);
        assert_eq!(got, "* c\n| * b\n|/\n* a", "\n{got}");
    }

    #[test]
    fn separate_bases() {
        let parents = vec![vec![], vec![], vec![1]];
        let got = picture(&[2, 0, 1], &parents, &["a", "b", "c"]);
        assert_eq!(got, "* c\n| * a\n* b", "\n{got}");
    }
}
