//! `schema_tests!`: one line in a test file, one `#[test]` per check and engine.
//!
//! Declarative on purpose: a procedural macro would need a crate of its own and would add
//! nothing here. The generated tests are plain `#[test]` functions that run the check on a
//! tokio runtime this crate builds itself, so the user's crate needs neither tokio nor an async
//! test attribute. Every path in the expansion starts at `$crate` (kiln-testing), so the macro
//! works the same when invoked as `kiln::schema_tests!` through the facade, whose crate the
//! user depends on, and the user's crate needs no dependency on kiln-testing itself.

/// Generates one `#[test]` per check (and per engine for checks that need a database).
///
/// ```ignore
/// static MIGRATOR: kiln::Migrator = kiln::migrations!();
///
/// kiln::schema_tests!(
///     MIGRATOR,
///     engines = [sqlite, postgres, mysql],
///     checks = [
///         single_head,
///         no_drafts,
///         upgrade_from_base,
///         stairway,
///         downgrade_leaves_no_trace,
///         matches_schema_file("tests/schema"),
///     ],
/// );
/// ```
///
/// expands to a module `kiln_schema` with `single_head` and `no_drafts` tests (no database)
/// and a module per engine (`kiln_schema::postgres::stairway`, ...) with the others.
/// `matches_schema_file("dir")` compares with `dir/sqlite.sql`, `dir/postgres.sql` or
/// `dir/mysql.sql`; a relative directory is relative to the crate root, where `cargo test`
/// runs tests. To invoke the macro twice in one module, name the module:
/// `kiln::schema_tests!(mod billing_schema, BILLING, engines = [...], checks = [...])`.
///
/// The first argument is any expression of type [`Migrator`](kiln_runtime::Migrator), evaluated inside
/// each test: a `static`, a path, or a call. Requirements: `kiln` with the `testing` feature and
/// the engines' features (`postgres`, `mysql`) as a dev-dependency; nothing else. Engines whose
/// server is unreachable are skipped with a notice, unless `CI` is set (see
/// [the crate documentation](crate)).
#[macro_export]
macro_rules! schema_tests {
    (mod $module:ident, $migrator:expr, engines = [$($engine:ident),* $(,)?], checks = $checks:tt $(,)?) => {
        #[cfg(test)]
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $crate::__kiln_static_checks! { ($migrator) $checks }
            $( $crate::__kiln_engine_checks! { $engine ($migrator) $checks } )*
        }
    };
    ($migrator:expr, engines = [$($engine:ident),* $(,)?], checks = $checks:tt $(,)?) => {
        $crate::schema_tests! { mod kiln_schema, $migrator, engines = [$($engine),*], checks = $checks }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_static_checks {
    (($m:expr) [$($check:ident $(($($arg:tt)*))?),* $(,)?]) => {
        $( $crate::__kiln_static_check! { ($m) $check $(($($arg)*))? } )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_static_check {
    (($m:expr) single_head) => {
        #[test]
        fn single_head() {
            $crate::__private::run($crate::single_head(&$m))
        }
    };
    (($m:expr) no_drafts) => {
        #[test]
        fn no_drafts() {
            $crate::__private::run($crate::no_drafts(&$m))
        }
    };
    (($m:expr) upgrade_from_base) => {};
    (($m:expr) stairway) => {};
    (($m:expr) downgrade_leaves_no_trace) => {};
    (($m:expr) matches_schema_file($dir:expr)) => {};
    (($m:expr) matches_schema_file $($rest:tt)*) => {
        ::core::compile_error!("`matches_schema_file` takes the directory holding sqlite.sql, postgres.sql and mysql.sql: `matches_schema_file(\"tests/schema\")`");
    };
    (($m:expr) $other:ident $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "unknown kiln check `", ::core::stringify!($other),
            "`; the checks are single_head, no_drafts, upgrade_from_base, stairway, downgrade_leaves_no_trace and matches_schema_file(\"dir\")"
        ));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_engine_checks {
    ($engine:ident ($m:expr) [$($check:ident $(($($arg:tt)*))?),* $(,)?]) => {
        mod $engine {
            #[allow(unused_imports)]
            use super::*;
            $( $crate::__kiln_engine_check! { $engine ($m) $check $(($($arg)*))? } )*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_engine_check {
    ($e:ident ($m:expr) upgrade_from_base) => {
        #[test]
        fn upgrade_from_base() {
            $crate::__private::run($crate::upgrade_from_base(&$m, $crate::__kiln_dialect!($e)))
        }
    };
    ($e:ident ($m:expr) stairway) => {
        #[test]
        fn stairway() {
            $crate::__private::run($crate::stairway(&$m, $crate::__kiln_dialect!($e)))
        }
    };
    ($e:ident ($m:expr) downgrade_leaves_no_trace) => {
        #[test]
        fn downgrade_leaves_no_trace() {
            $crate::__private::run($crate::downgrade_leaves_no_trace(
                &$m,
                $crate::__kiln_dialect!($e),
            ))
        }
    };
    ($e:ident ($m:expr) matches_schema_file($dir:expr)) => {
        #[test]
        fn matches_schema_file() {
            let dialect = $crate::__kiln_dialect!($e);
            $crate::__private::run($crate::matches_schema_file(
                &$m,
                dialect,
                $crate::__private::schema_file($dir, dialect),
            ))
        }
    };
    // Database-free checks live in the parent module; unknown ones are reported there once.
    ($e:ident ($m:expr) $($rest:tt)*) => {};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __kiln_dialect {
    (sqlite) => {
        $crate::__private::Dialect::Sqlite
    };
    (postgres) => {
        $crate::__private::Dialect::Postgres
    };
    (mysql) => {
        $crate::__private::Dialect::MySql
    };
    ($other:ident) => {
        ::core::compile_error!(::core::concat!(
            "unknown engine `",
            ::core::stringify!($other),
            "`; the engines are sqlite, postgres and mysql"
        ))
    };
}
