//! The database's `modelfit` schema: created and migrated by modelfit, under
//! an advisory lock so that two machines syncing at once migrate once.
//!
//! `modelfit.schema_version` holds one row per applied migration; a binary
//! refuses a database whose version is newer than the newest it knows (its
//! columns may mean something it does not understand). After migrating, the
//! shape of `modelfit.tasks` is checked column by column, so a table altered
//! by hand is reported by name instead of failing half-way through a sync.

use postgres::Client;

use crate::error::{Error, Result};

/// The newest schema version this binary knows.
pub const VERSION: i32 = 1;

/// Migrations, in order: (version, SQL).
const MIGRATIONS: [(i32, &str); 1] = [(
    1,
    r#"
CREATE TABLE modelfit.tasks (
    machine_id             text NOT NULL CHECK (machine_id ~ '^[0-9a-f]{32}$'),
    record_key             text NOT NULL,
    dispatch_id            text,
    kind                   text,
    workspace              text,
    model                  text,
    complexity             text,
    status                 text,
    outcome                text,
    outcome_source         text,
    p_success              double precision CHECK (p_success >= 0 AND p_success <= 1),
    cost_usd               double precision,
    tokens_used            double precision,
    execution_time_seconds double precision,
    keywords               text[],
    previous_dispatch_id   text,
    created_at             timestamptz,
    completed_at           timestamptz,
    updated_at             timestamptz,
    seq                    bigint NOT NULL,
    content_hash           text NOT NULL,
    record                 jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    synced_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine_id, record_key)
);
CREATE INDEX tasks_machine_order ON modelfit.tasks (machine_id, created_at, seq);
CREATE INDEX tasks_cell ON modelfit.tasks (complexity, model);
CREATE INDEX tasks_created ON modelfit.tasks (created_at);
"#,
)];

/// The columns `sync` writes and `learn --database` reads, with their types
/// as `information_schema.columns.data_type` names them.
pub const COLUMNS: [(&str, &str); 23] = [
    ("machine_id", "text"),
    ("record_key", "text"),
    ("dispatch_id", "text"),
    ("kind", "text"),
    ("workspace", "text"),
    ("model", "text"),
    ("complexity", "text"),
    ("status", "text"),
    ("outcome", "text"),
    ("outcome_source", "text"),
    ("p_success", "double precision"),
    ("cost_usd", "double precision"),
    ("tokens_used", "double precision"),
    ("execution_time_seconds", "double precision"),
    ("keywords", "ARRAY"),
    ("previous_dispatch_id", "text"),
    ("created_at", "timestamp with time zone"),
    ("completed_at", "timestamp with time zone"),
    ("updated_at", "timestamp with time zone"),
    ("seq", "bigint"),
    ("content_hash", "text"),
    ("record", "jsonb"),
    ("synced_at", "timestamp with time zone"),
];

/// Creates or migrates the schema, then checks the table's shape. `target`
/// names the database in messages.
pub fn ensure(client: &mut Client, target: &str) -> Result<i32> {
    let err = |e: postgres::Error| super::conn::explain(&e, target, "set up the schema in");
    let mut tx = client.transaction().map_err(err)?;
    // One migrator at a time across every machine.
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(7306880470716424551);
         CREATE SCHEMA IF NOT EXISTS modelfit;
         CREATE TABLE IF NOT EXISTS modelfit.schema_version (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now(),
             applied_by text
         );",
    )
    .map_err(err)?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM modelfit.schema_version",
            &[],
        )
        .map_err(err)?
        .get(0);
    if current > VERSION {
        return Err(Error::Database(format!(
            "the database {target} has modelfit schema version {current}, newer than this \
             modelfit knows (version {VERSION}): upgrade modelfit on this machine (the newer \
             binary that migrated it is {}); nothing was written, the records keep waiting",
            applied_by(&mut tx, current).unwrap_or_else(|| "unknown".into())
        )));
    }
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).map_err(|e| {
            Error::Database(format!(
                "cannot migrate the modelfit schema of {target} to version {v}: {}. If a table \
                 of schema modelfit was created or changed by hand, rename it away and sync again",
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string())
            ))
        })?;
        tx.execute(
            "INSERT INTO modelfit.schema_version (version, applied_by) VALUES ($1, $2)",
            &[v, &format!("modelfit {}", env!("CARGO_PKG_VERSION"))],
        )
        .map_err(err)?;
    }
    check_shape(&mut tx, target)?;
    tx.commit().map_err(err)?;
    Ok(VERSION)
}

fn applied_by(tx: &mut postgres::Transaction<'_>, version: i32) -> Option<String> {
    tx.query_opt(
        "SELECT applied_by FROM modelfit.schema_version WHERE version = $1",
        &[&version],
    )
    .ok()
    .flatten()
    .and_then(|r| r.get(0))
}

/// Compares `modelfit.tasks` with [`COLUMNS`] and checks its primary key.
fn check_shape(tx: &mut postgres::Transaction<'_>, target: &str) -> Result<()> {
    let err = |e: postgres::Error| super::conn::explain(&e, target, "read the schema of");
    let rows = tx
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
             WHERE table_schema = 'modelfit' AND table_name = 'tasks'",
            &[],
        )
        .map_err(err)?;
    let have: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let fix = "restore it as modelfit created it (see docs/sync.md, \"The schema\"), or rename \
               the table away (ALTER TABLE modelfit.tasks RENAME TO tasks_old; DELETE FROM \
               modelfit.schema_version) and sync again from every machine";
    if have.is_empty() {
        return Err(Error::Database(format!(
            "the table modelfit.tasks is missing in {target} although modelfit.schema_version \
             says it was created (dropped by hand?): delete the rows of modelfit.schema_version \
             and sync again from every machine"
        )));
    }
    for (name, ty) in COLUMNS {
        match have.iter().find(|(n, _)| n == name) {
            None => {
                return Err(Error::Database(format!(
                    "the table modelfit.tasks in {target} has no column {name} (altered by \
                     hand?): {fix}"
                )))
            }
            Some((_, t)) if t != ty => {
                return Err(Error::Database(format!(
                    "the column modelfit.tasks.{name} in {target} has type {t}, not {ty} \
                     (altered by hand?): {fix}"
                )))
            }
            _ => {}
        }
    }
    let pk: Vec<String> = tx
        .query(
            "SELECT a.attname::text FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
             WHERE i.indrelid = 'modelfit.tasks'::regclass AND i.indisprimary",
            &[],
        )
        .map_err(err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if pk.len() != 2
        || !pk.iter().any(|c| c == "machine_id")
        || !pk.iter().any(|c| c == "record_key")
    {
        return Err(Error::Database(format!(
            "the primary key of modelfit.tasks in {target} is not (machine_id, record_key) \
             (altered by hand?): restore it with ALTER TABLE modelfit.tasks ADD PRIMARY KEY \
             (machine_id, record_key), or {fix}"
        )));
    }
    Ok(())
}
