//! Functions and procedures against real servers: the full definition a capture keeps for each
//! routine applies on an empty database and gives back an equal capture (so what the renderer
//! writes is what the engine had), and the comparison ignores layout and comments.

use kiln_schema::{Schema, apply_sql};
use kiln_testing::TestDb;

/// Applies `tables` and `declared` to one database, then `tables` and each captured definition
/// (alone, as the renderer writes it) to another: both captures are equal.
async fn round_trip(a: TestDb, b: TestDb, tables: &str, declared: &str) -> Schema {
    apply_sql(a.db(), &format!("{tables}{declared}"))
        .await
        .unwrap();
    let first = Schema::capture(a.db()).await.unwrap();
    assert!(!first.routines.is_empty(), "{first}");
    let mut all = tables.to_owned();
    for r in first.routines.values() {
        assert!(!r.definition.is_empty(), "{r:?}");
        assert!(!r.definition.contains("DEFINER="), "{}", r.definition);
        all.push_str(&format!("DELIMITER //\n{}//\nDELIMITER ;\n", r.definition));
    }
    if a.db().dialect() == kiln_runtime::Dialect::Postgres {
        all = all
            .replace("DELIMITER //\n", "")
            .replace("//\nDELIMITER ;\n", ";\n");
    }
    apply_sql(b.db(), &all).await.unwrap();
    let second = Schema::capture(b.db()).await.unwrap();
    assert_eq!(
        first.diff_labeled(&second, "declared", "from definitions"),
        None,
        "{all}"
    );
    a.drop_database().await.unwrap();
    b.drop_database().await.unwrap();
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mysql_routine_definitions_apply_and_round_trip() {
    let (Some(a), Some(b)) = (TestDb::mysql().await, TestDb::mysql().await) else {
        return;
    };
    let tables = "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL);\n";
    let declared = "DELIMITER //\n\
                    CREATE FUNCTION add_one(x int) RETURNS int DETERMINISTIC COMMENT 'it''s one'\n\
                    BEGIN\n  DECLARE y int;\n  SET y = x + 1;\n  RETURN y;\nEND//\n\
                    CREATE PROCEDURE bump(IN n int, OUT total int) MODIFIES SQL DATA SQL SECURITY INVOKER\n\
                    BEGIN\n  UPDATE items SET qty = qty + n;\n  SELECT sum(qty) INTO total FROM items;\nEND//\n\
                    DELIMITER ;\n\
                    CREATE FUNCTION twice(v varchar(20)) RETURNS varchar(40) NO SQL RETURN concat(v, v);\n";
    let s = round_trip(a, b, tables, declared).await;
    let text = s.to_text();
    assert!(
        text.contains("routine add_one(IN x int(11)): function returns int(11) deterministic comment it's one: BEGIN DECLARE y int; SET y = x + 1; RETURN y; END"),
        "{text}"
    );
    assert!(
        text.contains("routine bump(IN n int(11), OUT total int(11)): procedure modifies sql data sql security invoker:"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn postgres_routine_definitions_apply_and_round_trip() {
    let (Some(a), Some(b)) = (TestDb::postgres().await, TestDb::postgres().await) else {
        return;
    };
    let tables = "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL);\n";
    let declared = "CREATE FUNCTION add_one(x integer DEFAULT 1) RETURNS integer LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT x + 1 $$;\n\
                    CREATE FUNCTION total() RETURNS bigint LANGUAGE sql STABLE BEGIN ATOMIC SELECT sum(qty) FROM items; END;\n\
                    CREATE FUNCTION \"Odd\"() RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$ BEGIN RETURN 1; END $$;\n\
                    CREATE PROCEDURE bump(n integer) LANGUAGE plpgsql AS $$ BEGIN UPDATE items SET qty = qty + n; END $$;\n";
    let s = round_trip(a, b, tables, declared).await;
    let text = s.to_text();
    assert!(
        text.contains("routine add_one(x integer): function returns integer language sql arguments (x integer DEFAULT 1) immutable strict parallel safe: SELECT x + 1"),
        "{text}"
    );
    assert!(
        text.contains("routine total(): function returns bigint language sql stable:"),
        "{text}"
    );
    assert!(
        text.contains("security definer set search_path=public"),
        "{text}"
    );
    let odd = s.routines.get("Odd()").map(|r| r.definition.clone());
    assert!(
        odd.as_deref()
            .is_some_and(|d| d.starts_with("CREATE OR REPLACE FUNCTION \"Odd\"()")),
        "{odd:?}"
    );
}
