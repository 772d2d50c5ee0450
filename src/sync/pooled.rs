//! The pooled records of every machine, streamed from the database for
//! `modelfit learn --database`: a server-side cursor (a bound portal inside
//! a read-only transaction) fetched in batches, so memory stays flat
//! whatever the number of rows.
//!
//! Each record is handed over as a JSON object with the ledger's field
//! names, so learn reads it through its own per-record code, exactly as from
//! the ledger. Only the fields analysis reads travel ([`FIELDS`]): most are
//! the typed columns sync filled, the texts come straight out of the jsonb
//! (turning whole jsonb records back into text would cost the server about
//! 7 µs a row, the budget of 1 M rows in 10 s). Two changes make machines'
//! records meet without colliding: `id` and `previous_dispatch_id` are
//! prefixed with the machine id (a retry links to the attempt of its own
//! machine), and the ordered pass comes machine by machine in creation order
//! (a retry after the attempt it retries), along the index `tasks_machine_order`.

use std::cell::RefCell;

use postgres::Client;
use serde::de::DeserializeOwned;

use super::conn;
use crate::error::{Error, Result};

/// Rows fetched per round trip.
pub const FETCH_ROWS: i32 = 5000;

/// The fields handed to learn: (JSON name, SQL expression, kind). Kind:
/// `s` a string, `n` a number, `a` an array of strings, `j` raw JSON text.
/// Add a field here when analysis starts to read it.
pub const FIELDS: [(&str, &str, char); 19] = [
    (
        "id",
        "CASE WHEN jsonb_typeof(record->'id') = 'string' \
         THEN machine_id || ':' || (record->>'id') END",
        's',
    ),
    ("type", "kind", 's'),
    ("workspace", "workspace", 's'),
    ("model", "model", 's'),
    ("complexity", "complexity", 's'),
    ("status", "status", 's'),
    ("outcome", "outcome", 's'),
    ("outcome_source", "outcome_source", 's'),
    ("p_success", "p_success", 'n'),
    ("cost_usd", "cost_usd", 'n'),
    ("tokens_used", "tokens_used", 'n'),
    ("execution_time_seconds", "execution_time_seconds", 'n'),
    ("task_keywords", "keywords", 'a'),
    (
        "previous_dispatch_id",
        "machine_id || ':' || previous_dispatch_id",
        's',
    ),
    ("created_at", "record->>'created_at'", 's'),
    ("completed_at", "record->>'completed_at'", 's'),
    ("task", "record->>'task'", 's'),
    ("original_task", "record->>'original_task'", 's'),
    ("outcome_sources", "(record->'outcome_sources')::text", 'j'),
];

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

    /// Streams every pooled record into `f` as a `T`; with `ordered`, machine
    /// by machine and, within a machine, in creation order. `f` may stop
    /// early by returning `false`.
    pub fn for_each<T, F>(&self, ordered: bool, mut f: F) -> Result<()>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> bool,
    {
        let mut client = self.client.borrow_mut();
        let target = self.target.as_str();
        let err = move |e: postgres::Error| conn::explain(&e, target, "read from");
        let mut tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .map_err(err)?;
        let cols: Vec<&str> = FIELDS.iter().map(|(_, sql, _)| *sql).collect();
        let mut sql = format!(
            "SELECT machine_id, record_key, {} FROM modelfit.tasks",
            cols.join(", ")
        );
        if ordered {
            // Along the index: sorting a million rows would spill to disk.
            tx.batch_execute("SET LOCAL enable_sort = off")
                .map_err(err)?;
            sql.push_str(" ORDER BY machine_id, created_at NULLS LAST, seq");
        }
        let portal = tx.bind(sql.as_str(), &[]).map_err(err)?;
        // The next batch is fetched on a second thread while this one turns
        // the current batch into records: the server's work and learn's
        // overlap on two cores instead of taking turns.
        let (send, recv) = std::sync::mpsc::sync_channel::<Result<Vec<postgres::Row>>>(2);
        let mut failed: Option<Error> = None;
        std::thread::scope(|scope| {
            let tx = &mut tx;
            let portal = &portal;
            scope.spawn(move || loop {
                let batch = tx.query_portal(portal, FETCH_ROWS).map_err(err);
                let done = matches!(&batch, Ok(rows) if rows.is_empty()) || batch.is_err();
                if send.send(batch).is_err() || done {
                    break;
                }
            });
            let mut buf = String::with_capacity(4096);
            'fetch: for batch in recv.iter() {
                let rows = match batch {
                    Ok(rows) if rows.is_empty() => break,
                    Ok(rows) => rows,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                for row in &rows {
                    to_json(row, &mut buf);
                    let rec: T = match serde_json::from_str(&buf) {
                        Ok(r) => r,
                        Err(e) => {
                            let machine: &str = row.get(0);
                            let key: &str = row.get(1);
                            failed = Some(Error::Database(format!(
                                "the pooled record {key} of machine {machine} in {} does not \
                                 read as a record ({e}); delete that row or sync it again from \
                                 its machine",
                                target
                            )));
                            break 'fetch;
                        }
                    };
                    if !f(rec) {
                        break 'fetch;
                    }
                }
            }
            drop(recv); // the fetching thread stops at its next send
        });
        if let Some(e) = failed {
            return Err(e);
        }
        drop(portal);
        tx.commit().map_err(err)?;
        Ok(())
    }
}

/// Writes row's [`FIELDS`] (from column 2 on) as one JSON object into `buf`.
fn to_json(row: &postgres::Row, buf: &mut String) {
    buf.clear();
    buf.push('{');
    let mut first = true;
    let mut key = |buf: &mut String, name: &str| {
        if !first {
            buf.push(',');
        }
        first = false;
        buf.push('"');
        buf.push_str(name);
        buf.push_str("\":");
    };
    for (i, (name, _, kind)) in FIELDS.iter().enumerate() {
        let col = i + 2;
        match kind {
            's' | 'j' => {
                if let Some(v) = row.get::<_, Option<&str>>(col) {
                    key(buf, name);
                    if *kind == 'j' {
                        buf.push_str(v);
                    } else {
                        push_str(buf, v);
                    }
                }
            }
            'n' => {
                if let Some(v) = row.get::<_, Option<f64>>(col) {
                    if v.is_finite() {
                        key(buf, name);
                        buf.push_str(&v.to_string());
                    }
                }
            }
            _ => {
                if let Some(v) = row.get::<_, Option<Vec<&str>>>(col) {
                    key(buf, name);
                    buf.push('[');
                    for (j, s) in v.iter().enumerate() {
                        if j > 0 {
                            buf.push(',');
                        }
                        push_str(buf, s);
                    }
                    buf.push(']');
                }
            }
        }
    }
    buf.push('}');
}

/// `s` as a JSON string literal.
fn push_str(buf: &mut String, s: &str) {
    buf.push_str(&serde_json::to_string(s).expect("a string serializes"));
}
