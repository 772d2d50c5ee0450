//! `modelfit sync`: streams the ledger once, sends every record the
//! database has not acknowledged in its current version, in batches of one
//! `INSERT … ON CONFLICT DO UPDATE` each, and records the acknowledgements
//! after each commit.
//!
//! Idempotent by construction: rows are keyed by (machine id, record key) and
//! an upsert only touches a row whose content hash differs. A batch the
//! database refuses for its data (a constraint, a character jsonb cannot
//! hold) is retried one record at a time, so one bad record never holds the
//! others back; it keeps waiting and is named in the report.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::conn;
use super::state::{self, content_hash, Keys, SyncState};
use super::SyncReport;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::store::Ledger;

/// Records per INSERT (and per transaction).
const BATCH_ROWS: usize = 1000;
/// Bytes of record text per INSERT at most.
const BATCH_BYTES: usize = 4 << 20;
/// The state file is rewritten every this many batches (and at the end).
const SAVE_EVERY: usize = 25;

const UPSERT: &str = "
INSERT INTO modelfit.tasks AS t (machine_id, record_key, dispatch_id, kind, workspace, model,
    complexity, status, outcome, outcome_source, p_success, cost_usd, tokens_used,
    execution_time_seconds, keywords, previous_dispatch_id, created_at, completed_at,
    updated_at, seq, content_hash, record)
SELECT $1, u.k, u.d, u.kind, u.ws, u.model, u.cx, u.st, u.oc, u.os, u.ps, u.cost, u.tok, u.et,
    CASE WHEN u.kw IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(u.kw::jsonb)) END,
    u.prev, u.ca::timestamptz, u.co::timestamptz, u.ua::timestamptz, u.seq, u.h, u.rec::jsonb
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::text[], $11::float8[], $12::float8[], $13::float8[], $14::float8[],
    $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::int8[], $21::text[],
    $22::text[])
    AS u(k, d, kind, ws, model, cx, st, oc, os, ps, cost, tok, et, kw, prev, ca, co, ua, seq, h, rec)
ON CONFLICT (machine_id, record_key) DO UPDATE SET
    dispatch_id = EXCLUDED.dispatch_id, kind = EXCLUDED.kind, workspace = EXCLUDED.workspace,
    model = EXCLUDED.model, complexity = EXCLUDED.complexity, status = EXCLUDED.status,
    outcome = EXCLUDED.outcome, outcome_source = EXCLUDED.outcome_source,
    p_success = EXCLUDED.p_success, cost_usd = EXCLUDED.cost_usd,
    tokens_used = EXCLUDED.tokens_used, execution_time_seconds = EXCLUDED.execution_time_seconds,
    keywords = EXCLUDED.keywords, previous_dispatch_id = EXCLUDED.previous_dispatch_id,
    created_at = EXCLUDED.created_at, completed_at = EXCLUDED.completed_at,
    updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq, content_hash = EXCLUDED.content_hash,
    record = EXCLUDED.record, synced_at = now()
WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash
RETURNING (xmax = 0)";

/// The columns of a record, read leniently (a field of an unexpected type is absent).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cols {
    #[serde(deserialize_with = "crate::record::lenient_string")]
    id: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    dispatch_id: Option<String>,
    #[serde(rename = "type", deserialize_with = "crate::record::lenient_string")]
    kind: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    workspace: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    model: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    complexity: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    status: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    outcome: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    outcome_source: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    p_success: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    cost_usd: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    tokens_used: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    execution_time_seconds: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_strings")]
    task_keywords: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    previous_dispatch_id: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    created_at: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    completed_at: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_string")]
    updated_at: Option<String>,
}

/// One batch, column by column (the shape `unnest` takes).
#[derive(Debug, Default)]
struct Batch {
    k: Vec<String>,
    d: Vec<Option<String>>,
    kind: Vec<Option<String>>,
    ws: Vec<Option<String>>,
    model: Vec<Option<String>>,
    cx: Vec<Option<String>>,
    st: Vec<Option<String>>,
    oc: Vec<Option<String>>,
    os: Vec<Option<String>>,
    ps: Vec<Option<f64>>,
    cost: Vec<Option<f64>>,
    tok: Vec<Option<f64>>,
    et: Vec<Option<f64>>,
    kw: Vec<Option<String>>,
    prev: Vec<Option<String>>,
    ca: Vec<Option<String>>,
    co: Vec<Option<String>>,
    ua: Vec<Option<String>>,
    seq: Vec<i64>,
    h: Vec<String>,
    rec: Vec<String>,
    bytes: usize,
}

/// Timestamps that parse, in RFC 3339 (anything else is left to the jsonb).
fn ts(s: Option<String>) -> Option<String> {
    s.and_then(|t| crate::clock::parse(&t))
        .map(crate::clock::iso)
}

impl Batch {
    fn len(&self) -> usize {
        self.k.len()
    }

    fn push(&mut self, key: String, hash: String, seq: i64, raw: &RawValue) {
        let c: Cols = serde_json::from_str(raw.get()).unwrap_or_default();
        // Redacted as in the ledger: the hook redacts what it writes; the
        // orchestrator's own task texts get the same rules before leaving.
        let text = match serde_json::from_str::<Map<String, Value>>(raw.get()) {
            Ok(mut m) => {
                for f in ["task", "original_task"] {
                    if let Some(Value::String(s)) = m.get_mut(f) {
                        let r = crate::signals::redact(s);
                        if r != *s {
                            *s = r;
                        }
                    }
                }
                serde_json::to_string(&m).expect("a map serializes")
            }
            Err(_) => raw.get().to_string(), // not an object: the CHECK refuses it, by name
        };
        self.bytes += text.len();
        self.k.push(key);
        self.d.push(c.id.or(c.dispatch_id));
        self.kind.push(c.kind);
        self.ws.push(c.workspace);
        self.model.push(c.model);
        self.cx.push(c.complexity);
        self.st.push(c.status);
        self.oc.push(c.outcome);
        self.os.push(c.outcome_source);
        self.ps.push(c.p_success);
        self.cost.push(c.cost_usd);
        self.tok.push(c.tokens_used);
        self.et.push(c.execution_time_seconds);
        self.kw.push(
            c.task_keywords
                .map(|k| serde_json::to_string(&k).expect("strings serialize")),
        );
        self.prev
            .push(c.previous_dispatch_id.filter(|p| !p.is_empty()));
        self.ca.push(ts(c.created_at));
        self.co.push(ts(c.completed_at));
        self.ua.push(ts(c.updated_at));
        self.seq.push(seq);
        self.h.push(hash);
        self.rec.push(text);
    }

    /// Row `i` alone, for the one-by-one retry.
    fn one(&self, i: usize) -> Batch {
        Batch {
            k: vec![self.k[i].clone()],
            d: vec![self.d[i].clone()],
            kind: vec![self.kind[i].clone()],
            ws: vec![self.ws[i].clone()],
            model: vec![self.model[i].clone()],
            cx: vec![self.cx[i].clone()],
            st: vec![self.st[i].clone()],
            oc: vec![self.oc[i].clone()],
            os: vec![self.os[i].clone()],
            ps: vec![self.ps[i]],
            cost: vec![self.cost[i]],
            tok: vec![self.tok[i]],
            et: vec![self.et[i]],
            kw: vec![self.kw[i].clone()],
            prev: vec![self.prev[i].clone()],
            ca: vec![self.ca[i].clone()],
            co: vec![self.co[i].clone()],
            ua: vec![self.ua[i].clone()],
            seq: vec![self.seq[i]],
            h: vec![self.h[i].clone()],
            rec: vec![self.rec[i].clone()],
            bytes: self.rec[i].len(),
        }
    }

    /// Sends the batch in one statement: (inserted, updated) rows.
    fn send(
        &self,
        client: &mut postgres::Client,
        machine: &str,
    ) -> std::result::Result<(u64, u64), postgres::Error> {
        let rows = client.query(
            UPSERT,
            &[
                &machine,
                &self.k,
                &self.d,
                &self.kind,
                &self.ws,
                &self.model,
                &self.cx,
                &self.st,
                &self.oc,
                &self.os,
                &self.ps,
                &self.cost,
                &self.tok,
                &self.et,
                &self.kw,
                &self.prev,
                &self.ca,
                &self.co,
                &self.ua,
                &self.seq,
                &self.h,
                &self.rec,
            ],
        )?;
        let inserted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
        Ok((inserted, rows.len() as u64 - inserted))
    }
}

/// Whether the database refused the data itself (not the connection).
fn data_error(e: &postgres::Error) -> bool {
    e.as_db_error().is_some_and(|d| {
        let c = d.code().code();
        c.starts_with("22") || c.starts_with("23")
    })
}

/// The one-line reason a record was refused, with what to do.
fn refusal(key: &str, e: &postgres::Error) -> String {
    let Some(d) = e.as_db_error() else {
        return format!("record {key}: {e}");
    };
    let hint = match d.code().code() {
        "22P05" | "22021" => {
            "the record holds a character PostgreSQL cannot store (a NUL, \\u0000): remove it \
             from the record in the ledger"
        }
        c if c.starts_with("23") => {
            "a field breaks a rule of modelfit.tasks (e.g. p_success outside 0..1, or a \
             constraint added by hand): correct the record in the ledger, or drop the \
             constraint if it was added by hand"
        }
        _ => "correct the record in the ledger",
    };
    format!(
        "record {key}: {}{} ({hint}); it keeps waiting and goes with the next sync",
        d.message(),
        d.constraint()
            .map(|c| format!(" [constraint {c}]"))
            .unwrap_or_default()
    )
}

/// The sync itself. See the module docs.
pub fn run(home: &Home, url: &str) -> Result<SyncReport> {
    let cfg = conn::parse(url)?;
    let target = conn::target(&cfg);
    let machine = state::machine_id(home)?;
    let mut st = SyncState::load(home);
    if st.database != target {
        // Acknowledgements of another database say nothing about this one.
        st = SyncState {
            database: target.clone(),
            ..SyncState::default()
        };
    }
    st.last_attempt_at = Some(crate::clock::now_iso());
    let mut report = SyncReport {
        database: super::describe_url(url),
        machine_id: machine.clone(),
        ..SyncReport::default()
    };
    let result = push_all(home, url, &target, &machine, &mut st, &mut report);
    match &result {
        Ok(()) if report.refused.is_empty() => {
            st.last_ok_at = Some(crate::clock::now_iso());
            st.last_error = None;
        }
        Ok(()) => {
            st.last_error = Some(format!(
                "{} record(s) refused, e.g. {}",
                report.refused.len(),
                report.refused[0]
            ))
        }
        Err(e) => st.last_error = Some(e.to_string()),
    }
    // The hook's hand-off backs off while the database fails (see `kick`).
    let backoff = state::backoff_path(home);
    if result.is_err() {
        let _ = std::fs::write(&backoff, b"");
    } else {
        let _ = std::fs::remove_file(&backoff);
    }
    st.save(home)?;
    result.map(|()| report)
}

fn push_all(
    home: &Home,
    url: &str,
    target: &str,
    machine: &str,
    st: &mut SyncState,
    report: &mut SyncReport,
) -> Result<()> {
    let mut client = conn::connect(url)?;
    super::schema::ensure(&mut client, target)?;

    let mut keys = Keys::default();
    let mut batch = Batch::default();
    let mut failed: Option<Error> = None;
    let mut batches = 0usize;
    let mut seq: i64 = 0;
    let mut flush =
        |batch: &mut Batch, st: &mut SyncState, report: &mut SyncReport| -> Result<()> {
            if batch.len() == 0 {
                return Ok(());
            }
            let b = std::mem::take(batch);
            match b.send(&mut client, machine) {
                Ok((ins, upd)) => {
                    report.inserted += ins;
                    report.updated += upd;
                    report.unchanged += b.len() as u64 - ins - upd;
                    for (k, h) in b.k.into_iter().zip(b.h) {
                        st.acked.insert(k, h);
                    }
                }
                Err(e) if data_error(&e) => {
                    // One record at a time, so the others still go.
                    for i in 0..b.len() {
                        let one = b.one(i);
                        match one.send(&mut client, machine) {
                            Ok((ins, upd)) => {
                                report.inserted += ins;
                                report.updated += upd;
                                report.unchanged += 1 - ins - upd;
                                st.acked.insert(one.k[0].clone(), one.h[0].clone());
                            }
                            Err(e) if data_error(&e) => report.refused.push(refusal(&one.k[0], &e)),
                            Err(e) => return Err(conn::explain(&e, target, "write to")),
                        }
                    }
                }
                Err(e) => return Err(conn::explain(&e, target, "write to")),
            }
            batches += 1;
            if batches.is_multiple_of(SAVE_EVERY) {
                st.save(home)?;
            }
            if batches == 1 && crate::store::failpoint("sync-pause") {
                pause(home, st)?;
            }
            Ok(())
        };
    let scan = Ledger::of(home).for_each(|raw: Box<RawValue>| {
        report.records += 1;
        seq += 1;
        let hash = content_hash(raw.get().as_bytes());
        let key = keys.key(&raw, &hash);
        if st.acked.get(&key) == Some(&hash) {
            report.skipped += 1;
            return true;
        }
        batch.push(key, hash, seq, &raw);
        if batch.len() >= BATCH_ROWS || batch.bytes >= BATCH_BYTES {
            if let Err(e) = flush(&mut batch, st, report) {
                failed = Some(e);
                return false;
            }
        }
        true
    });
    if let Some(e) = failed {
        return Err(e);
    }
    scan?;
    flush(&mut batch, st, report)?;
    // Keys no longer in the ledger (rotated into archives) stay in the
    // database; forget them locally so the state does not grow forever.
    st.acked.retain(|k, _| keys.contains(k));
    Ok(())
}

/// Test hook (`MODELFIT_FAILPOINT=sync-pause`): after the first batch,
/// save the state, create `logs/modelfit/sync-paused` and wait (≤ 60 s) until
/// it is removed, so a test can stop the database in the middle of a sync.
fn pause(home: &Home, st: &SyncState) -> Result<()> {
    st.save(home)?;
    let marker = home.state_dir().join("sync-paused");
    std::fs::write(&marker, b"").map_err(|e| Error::io("cannot write", &marker, e))?;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while marker.exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}
