//! Script generators shared by the differential tests (see `tests/`): migration files built from
//! tokens of every kind, with the values each statement means, so a database's own parser can
//! judge kiln's reading.
//!
//! A [`Case`] is a migration file for one dialect reading whose sections hold `SELECT` statements
//! of string literals (every quoting form of the dialect, values full of quotes, backslashes,
//! `;`, comment openers, dollar tags and marker-looking lines), separated by comments of every
//! form. The generator knows what each literal means and whether it placed a `-- kiln:` line
//! inside a literal or comment; the tests check kiln against that and the database against the
//! values.

use kiln_core::lex::{Dialect, Syntax};

/// A small deterministic generator (xorshift64*), so a failing case is reproduced by its seed.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// One generated migration file and what it means.
#[derive(Debug, Clone)]
pub struct Case {
    /// The whole file.
    pub file: String,
    /// The string values each upgrade statement selects, in order.
    pub up: Vec<Vec<String>>,
    /// The same for the downgrade section, when there is one.
    pub down: Option<Vec<Vec<String>>>,
    /// The generator put a `-- kiln:` line inside a literal or comment: kiln must refuse the file.
    pub marker_inside: bool,
}

/// Pieces values and comments are made of: everything that has fooled a SQL scanner.
const PIECES: &[&str] = &[
    "a", "Z", " ", "'", "''", "\"", "\\", "\\'", ";", "\n", "--", "/*", "*/", "$$", "$a$", "#",
    "`", "[", "]", "E'", "kiln:", "\t", "x;y", "END", "BEGIN", "//",
];
/// A line that looks like a section marker.
const MARKER_LINES: &[&str] = &[
    "\n-- kiln:downgrade\n",
    "\n  --kiln:upgrade\n",
    "\n-- KILN:downgrade",
];

fn value(rng: &mut Rng, markers: bool) -> String {
    let mut v = String::new();
    for _ in 0..rng.below(6) {
        if markers && rng.chance(6) {
            v.push_str(rng.pick(MARKER_LINES));
        } else {
            v.push_str(rng.pick(PIECES));
        }
    }
    v
}

/// `value` written as a literal of `syntax`, in one of the dialect's quoting forms.
fn literal(rng: &mut Rng, syntax: Syntax, value: &str) -> String {
    let doubled = |q: char| {
        let mut s = String::from(q);
        for c in value.chars() {
            s.push(c);
            if c == q {
                s.push(q);
            }
        }
        s.push(q);
        s
    };
    let backslashed = |rng: &mut Rng, prefix: &str, q: char| {
        let mut s = format!("{prefix}{q}");
        for c in value.chars() {
            if c == '\\' {
                s.push_str("\\\\");
            } else if c == q {
                s.push(if rng.chance(50) { '\\' } else { q });
                s.push(q);
            } else {
                s.push(c);
            }
        }
        s.push(q);
        s
    };
    match syntax.dialect {
        Dialect::Postgres => match rng.below(3) {
            0 if syntax.standard_conforming_strings || !value.contains('\\') => doubled('\''),
            0 => backslashed(rng, "", '\''),
            1 => backslashed(rng, "E", '\''),
            _ => {
                let tag = ["$$", "$a$", "$body$", "$T1$"]
                    .into_iter()
                    .find(|t| !value.contains(t) && !format!("{value}$").contains(t))
                    .unwrap_or("$zz$");
                // A body ending in `$` would merge with the closing tag's start only if it
                // formed the tag; `find` above rules that out.
                format!("{tag}{value}{tag}")
            }
        },
        Dialect::MySql if syntax.backslash_escapes => {
            let q = if rng.chance(50) { '\'' } else { '"' };
            backslashed(rng, "", q)
        }
        Dialect::MySql => doubled(if rng.chance(50) { '\'' } else { '"' }),
        _ => doubled('\''),
    }
}

/// An alias (quoted identifier) of `syntax`.
fn alias(rng: &mut Rng, syntax: Syntax) -> String {
    let name: String = (0..1 + rng.below(3))
        .map(|_| rng.pick(&["c", ";", "'", "--", "/*", "x", "`", "\""]))
        .collect();
    let quote = |q: char, s: &str| format!("{q}{}{q}", s.replace(q, &format!("{q}{q}")));
    match syntax.dialect {
        Dialect::Postgres => quote('"', &name),
        Dialect::MySql => quote('`', &name),
        _ => match rng.below(3) {
            0 => quote('"', &name),
            1 => quote('`', &name),
            _ => format!("[{}]", name.replace(']', "")),
        },
    }
}

/// A comment of `syntax` (possibly holding a marker-looking line, which sets `inside`), ending
/// with whatever keeps the following text outside it.
fn comment(rng: &mut Rng, syntax: Syntax, markers: bool, inside: &mut bool) -> String {
    let d = syntax.dialect;
    let body = |rng: &mut Rng| {
        let mut v = String::new();
        for _ in 0..rng.below(5) {
            if markers && rng.chance(5) {
                // Whether this lands inside the comment is judged on the text below.
                v.push_str(rng.pick(MARKER_LINES));
                v.push('\n');
            } else {
                v.push_str(rng.pick(PIECES));
            }
        }
        v
    };
    match rng.below(if d == Dialect::MySql { 3 } else { 2 }) {
        0 => {
            let text: String = body(rng).replace(['\n', '\r'], " ");
            // A line comment whose text starts with `kiln:` would be a directive line.
            format!("-- {}\n", text.replace("kiln:", "kiln "))
        }
        1 => {
            let mut text = body(rng).replace("*/", "* /");
            if d == Dialect::Postgres {
                // PostgreSQL nests: an opener inside needs its own closer.
                let opens = text.matches("/*").count();
                text.push_str(&" */".repeat(opens));
                if rng.chance(30) {
                    text = format!(
                        "{text} /* nested {} */",
                        body(rng).replace("*/", "* /").replace("/*", "/ *")
                    );
                }
            } else if d == Dialect::Sqlite && rng.chance(20) {
                text.push_str(" /* not nested ");
            }
            // `/*!` is an executable comment on MySQL.
            let c = format!("/* {} */", text.trim_start_matches(['!', 'M']));
            *inside |= has_candidate_line(&c);
            c
        }
        _ => {
            let text: String = body(rng).replace(['\n', '\r'], " ");
            format!("# {}\n", text.replace("kiln:", "kiln "))
        }
    }
}

/// `true` when a line of `text` after its first is a marker candidate (pieces such as `\n`,
/// `--` and `kiln:` can make one by chance).
pub fn has_candidate_line(text: &str) -> bool {
    text.split('\n').skip(1).any(|line| {
        line.trim_start().strip_prefix("--").is_some_and(|r| {
            r.trim_start()
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("kiln:"))
        })
    })
}

/// Statements for one section.
fn section(
    rng: &mut Rng,
    syntax: Syntax,
    markers: bool,
    inside: &mut bool,
) -> (String, Vec<Vec<String>>) {
    let mut out = String::new();
    let mut values = Vec::new();
    let delimiter = syntax.dialect == Dialect::MySql && rng.chance(20);
    if delimiter {
        out.push_str("DELIMITER //\n");
    }
    let n = 1 + rng.below(3);
    for i in 0..n {
        if rng.chance(40) {
            out.push_str(&comment(rng, syntax, markers, inside));
            out.push('\n');
        }
        let mut row = Vec::new();
        out.push_str("SELECT ");
        for k in 0..1 + rng.below(3) {
            if k > 0 {
                out.push_str(", ");
            }
            if rng.chance(20) {
                out.push_str(&comment(rng, syntax, markers, inside));
            }
            let v = value(rng, markers);
            let lit = literal(rng, syntax, &v);
            *inside |= has_candidate_line(&lit);
            out.push_str(&lit);
            row.push(v);
            if rng.chance(30) {
                out.push_str(" AS ");
                out.push_str(&alias(rng, syntax));
            }
        }
        values.push(row);
        let last = i + 1 == n;
        if delimiter {
            out.push_str("//\n");
        } else if !last || rng.chance(70) {
            out.push_str(";\n");
        } else {
            out.push('\n');
        }
    }
    if delimiter {
        out.push_str("DELIMITER ;\n");
    }
    (out, values)
}

/// A migration file for `syntax` from `seed`. With `markers`, values and comments may hold
/// marker-looking lines.
pub fn case(syntax: Syntax, seed: u64, markers: bool) -> Case {
    let mut rng = Rng::new(seed);
    let mut inside = false;
    let mut file =
        String::from("-- kiln:revision a1\n-- kiln:message generated\n-- kiln:upgrade\n");
    let (up_sql, up) = section(&mut rng, syntax, markers, &mut inside);
    file.push_str(&up_sql);
    let down = if rng.chance(70) {
        file.push_str("-- kiln:downgrade\n");
        let (down_sql, down) = section(&mut rng, syntax, markers, &mut inside);
        file.push_str(&down_sql);
        Some(down)
    } else {
        None
    };
    Case {
        file,
        up,
        down,
        marker_inside: inside,
    }
}

/// How many cases a test runs: `KILN_DIFF_CASES`, or `default`.
pub fn cases(default: u64) -> u64 {
    std::env::var("KILN_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first seed: `KILN_DIFF_SEED`, or a fixed one so the normal test run is deterministic.
pub fn first_seed() -> u64 {
    std::env::var("KILN_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x6b69_6c6e)
}

/// What kiln made of a [`Case`] read as `syntax`: the statements of each section.
#[derive(Debug, Clone)]
pub struct KilnReading {
    /// The upgrade statements.
    pub up: Vec<String>,
    /// The downgrade statements.
    pub down: Option<Vec<String>>,
    /// The upgrade section's text.
    pub up_sql: String,
}

/// Checks kiln against the generator's knowledge: a marker inside a literal or comment is
/// refused; otherwise the sections hold exactly the generated statements. The undeclared
/// (default) readings must agree with the declared one wherever they accept the file.
/// `Ok(None)` when kiln rightly refused the file.
pub fn kiln_reading(case: &Case, syntax: Syntax) -> Result<Option<KilnReading>, String> {
    use kiln_core::format::parse_file_with;
    use kiln_core::lex::Readings;
    let declared = parse_file_with(
        "gen/a1_x.sql",
        "a1_x.sql",
        case.file.as_bytes(),
        &Readings::of(syntax),
    );
    let default = parse_file_with(
        "gen/a1_x.sql",
        "a1_x.sql",
        case.file.as_bytes(),
        &Readings::default(),
    );
    let p = match (&declared, case.marker_inside) {
        (Ok(_), true) => {
            return Err(format!(
                "{syntax}: kiln accepted a marker line inside a literal or comment"
            ));
        }
        (Err(_), true) => return Ok(None),
        (Err(d), false) => {
            let d: Vec<String> = d.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{syntax}: kiln refused a good file:\n{}",
                d.join("\n")
            ));
        }
        (Ok(p), false) => p,
    };
    if let Ok(q) = &default
        && (q.up_sql() != p.up_sql() || q.down_sql() != p.down_sql())
    {
        return Err("the default readings found other sections than the declared one".into());
    }
    let split = |sql: &str, expected: usize| -> Result<Vec<String>, String> {
        let statements = kiln_core::split::split_with(sql, syntax)
            .map_err(|e| format!("{syntax}: split failed: {e}"))?;
        let texts: Vec<String> = statements.iter().map(|s| s.sql.to_owned()).collect();
        if texts.len() != expected {
            return Err(format!(
                "{syntax}: kiln split {} statements, the generator wrote {expected}: {texts:#?}",
                texts.len()
            ));
        }
        Ok(texts)
    };
    let up = split(p.up_sql(), case.up.len())?;
    let down = match (p.down_sql(), &case.down) {
        (Some(sql), Some(d)) => Some(split(sql, d.len())?),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{syntax}: kiln disagrees about whether there is a downgrade section"
            ));
        }
    };
    Ok(Some(KilnReading {
        up,
        down,
        up_sql: p.up_sql().to_owned(),
    }))
}

/// The byte offsets of the lines kiln treats as marker candidates (after the header).
pub fn candidate_offsets(file: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in file.split_inclusive('\n') {
        let rest = line.trim_start();
        if let Some(r) = rest.strip_prefix("--")
            && r.trim_start()
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("kiln:"))
        {
            out.push(offset);
        }
        offset += line.len();
    }
    out
}

/// Runs `check` on `cases()` seeds from [`first_seed`], failing with the seed and the file of
/// the first case that fails.
pub fn campaign(name: &str, default_cases: u64, mut check: impl FnMut(u64) -> Result<(), String>) {
    let first = first_seed();
    let n = cases(default_cases);
    for seed in first..first + n {
        if let Err(e) = check(seed) {
            panic!("{name}: case KILN_DIFF_SEED={seed} failed: {e}");
        }
    }
    eprintln!("{name}: {n} cases from seed {first} agree");
}
