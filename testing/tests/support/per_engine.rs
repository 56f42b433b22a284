//! `on_every_engine!`: one `#[tokio::test]` per engine for each scenario `async fn(Dialect)`,
//! shared by kiln-testing's and kiln-schema's integration tests.

/// Generates modules `sqlite`, `postgres` and `mysql`, each with one test per named scenario
/// that calls it with that engine's `Dialect`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln_runtime::Dialect::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln_runtime::Dialect::Postgres).await } )* }
        mod mysql { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(kiln_runtime::Dialect::MySql).await } )* }
    };
}
