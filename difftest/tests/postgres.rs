//! kiln's PostgreSQL reading against PostgreSQL's own parser (libpg_query): section markers,
//! statement boundaries and the value of every string literal.

use kiln_core::lex::{Dialect, Syntax};
use kiln_difftest::{Case, campaign, candidate_offsets, case, kiln_reading};
use pg_query::protobuf::a_const::Val;
use pg_query::{NodeRef, ParserOptions};

/// The string constants PostgreSQL finds in one statement, sorted.
fn values(sql: &str, options: ParserOptions) -> Result<Vec<String>, String> {
    let parsed =
        pg_query::parse(sql, options).map_err(|e| format!("PostgreSQL rejects {sql:?}: {e}"))?;
    let mut out: Vec<String> = parsed
        .protobuf
        .nodes()
        .into_iter()
        .filter_map(|(n, ..)| match n {
            NodeRef::AConst(c) => match &c.val {
                Some(Val::Sval(s)) => Some(s.sval.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    out.sort();
    Ok(out)
}

fn check(c: &Case, syntax: Syntax) -> Result<(), String> {
    let options = if syntax.standard_conforming_strings {
        ParserOptions::DEFAULT
    } else {
        ParserOptions::DISABLE_STANDARD_CONFORMING_STRINGS
    };
    // PostgreSQL's scanner decides whether each marker candidate is inside something: a prefix
    // ending inside a literal or comment does not scan.
    if syntax.standard_conforming_strings {
        let inside = candidate_offsets(&c.file)
            .into_iter()
            .any(|at| pg_query::scan(&c.file[..at]).is_err());
        if inside != c.marker_inside {
            return Err(format!(
                "generator says marker inside = {}, PostgreSQL's scanner says {inside}",
                c.marker_inside
            ));
        }
    }
    let Some(reading) = kiln_reading(c, syntax)? else {
        return Ok(());
    };
    if syntax.standard_conforming_strings {
        let pg = pg_query::split_with_parser(&reading.up_sql)
            .map_err(|e| format!("PostgreSQL cannot split the upgrade: {e}"))?;
        if pg.len() != reading.up.len() {
            return Err(format!(
                "PostgreSQL splits {} statements, kiln {}: {pg:#?}",
                pg.len(),
                reading.up.len()
            ));
        }
    }
    let sections =
        std::iter::once((&reading.up, &c.up)).chain(reading.down.iter().zip(c.down.iter()));
    for (statements, meant) in sections {
        for (sql, meant) in statements.iter().zip(meant) {
            let mut meant = meant.clone();
            meant.sort();
            let got = values(sql, options)?;
            if got != meant {
                return Err(format!(
                    "statement {sql:?}: PostgreSQL reads {got:?}, the generator meant {meant:?}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn postgres_reading_matches_libpg_query() {
    let pg = Syntax::new(Dialect::Postgres);
    campaign("postgres", 1500, |seed| {
        let c = case(pg, seed, seed % 3 == 0);
        check(&c, pg).map_err(|e| format!("{e}\n--- file ---\n{}", c.file))
    });
}

#[test]
fn postgres_standard_conforming_strings_off_matches_libpg_query() {
    let off = Syntax::new(Dialect::Postgres).with_standard_conforming_strings(false);
    campaign("postgres scs=off", 500, |seed| {
        let c = case(off, seed, seed % 3 == 0);
        check(&c, off).map_err(|e| format!("{e}\n--- file ---\n{}", c.file))
    });
}
