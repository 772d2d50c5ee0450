//! The pooled records of every machine, streamed from the database for
//! `modelfit learn --database`: a server-side cursor (a bound portal inside
//! a read-only transaction) fetched in batches, so memory stays flat
//! whatever the number of rows.
//!
//! Each record is handed over as the JSON text it was synced as, so learn
//! reads it through its own per-record code, exactly as from the ledger.
//! Two changes make machines' records meet without colliding: `id`,
//! `dispatch_id` and `previous_dispatch_id` are prefixed with the machine id
//! (a retry links to the attempt of its own machine), and records come
//! machine by machine in creation order (a retry after the attempt it retries).

use std::cell::RefCell;

use postgres::Client;
use serde::de::DeserializeOwned;

use super::conn;
use crate::error::{Error, Result};

/// Rows fetched per round trip.
pub const FETCH_ROWS: i32 = 5000;

/// The record text with machine-qualified ids.
const RECORD: &str = "(record || jsonb_strip_nulls(jsonb_build_object(
    'id', CASE WHEN jsonb_typeof(record->'id') = 'string'
               THEN machine_id || ':' || (record->>'id') END,
    'dispatch_id', CASE WHEN jsonb_typeof(record->'dispatch_id') = 'string'
               THEN machine_id || ':' || (record->>'dispatch_id') END,
    'previous_dispatch_id', CASE WHEN previous_dispatch_id IS NOT NULL
               THEN machine_id || ':' || previous_dispatch_id END)))::text";

/// The team's database as a source of records.
pub struct Pooled {
    client: RefCell<Client>,
    target: String,
    /// Machines with at least one record.
    pub machines: u64,
    /// Records pooled.
    pub records: u64,
}

impl Pooled {
    /// Connects, checks the schema (creating it if the database is new), and counts.
    pub fn open(url: &str) -> Result<Pooled> {
        let cfg = conn::parse(url)?;
        let target = conn::target(&cfg);
        let mut client = conn::connect(url)?;
        super::schema::ensure(&mut client, &target)?;
        let row = client
            .query_one(
                "SELECT count(DISTINCT machine_id), count(*) FROM modelfit.tasks",
                &[],
            )
            .map_err(|e| conn::explain(&e, &target, "read from"))?;
        let machines: i64 = row.get(0);
        let records: i64 = row.get(1);
        Ok(Pooled {
            client: RefCell::new(client),
            target,
            machines: machines as u64,
            records: records as u64,
        })
    }

    /// host:port/db as user.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Streams every pooled record into `f` as a `T`, in machine order and,
    /// within a machine, in creation order. `f` may stop early by returning `false`.
    pub fn for_each<T, F>(&self, mut f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        let mut client = self.client.borrow_mut();
        let err = |e: postgres::Error| conn::explain(&e, &self.target, "read from");
        let mut tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .map_err(err)?;
        let sql = format!(
            "SELECT machine_id, record_key, {RECORD} FROM modelfit.tasks \
             ORDER BY machine_id, created_at NULLS LAST, seq"
        );
        let portal = tx.bind(sql.as_str(), &[]).map_err(err)?;
        'fetch: loop {
            let rows = tx.query_portal(&portal, FETCH_ROWS).map_err(err)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let text: &str = row.get(2);
                let rec: T = serde_json::from_str(text).map_err(|e| {
                    let machine: &str = row.get(0);
                    let key: &str = row.get(1);
                    Error::Database(format!(
                        "the pooled record {key} of machine {machine} in {} does not read as a \
                         record ({e}); delete that row or sync it again from its machine",
                        self.target
                    ))
                })?;
                if !f(rec) {
                    break 'fetch;
                }
            }
        }
        drop(portal);
        tx.commit().map_err(err)?;
        Ok(())
    }
}
