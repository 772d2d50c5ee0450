//! Reflecting journaled writes in the ledger's records: what is already
//! there, what a stale rewrite undid (and is applied again), what someone
//! changed deliberately since (left alone), what has no record any more.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::{json, Value};

use super::journal::Entry;
use crate::outcome::{Outcome, Source, Verdict};
use crate::record::{to_js_pretty, Record};

/// What became of one journaled write against one state of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The ledger already holds it.
    Present,
    /// It was missing and is applied now.
    Applied,
    /// Its fields hold values someone else wrote since: left alone.
    Superseded,
    /// No record has its id.
    Orphan,
}

/// The verdict of a deferred edit, as journaled.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct VerdictData {
    outcome: String,
    source: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    time_seconds: Option<f64>,
    #[serde(default)]
    tokens: Option<u64>,
    #[serde(default)]
    extra: Vec<(String, Value)>,
    now: String,
}

/// The journal form of `verdict` applied at `now`.
pub fn verdict_value(verdict: &Verdict, now: &str) -> Value {
    serde_json::to_value(VerdictData {
        outcome: verdict.outcome.as_str().into(),
        source: verdict.source.as_str().into(),
        notes: verdict.notes.clone(),
        time_seconds: verdict.time_seconds,
        tokens: verdict.tokens,
        extra: verdict.extra.clone(),
        now: now.into(),
    })
    .expect("verdicts serialize")
}

/// The verdict and time of its journal form ([`verdict_value`]).
pub fn verdict_of(v: &Value) -> Option<(Verdict, String)> {
    let d: VerdictData = serde_json::from_value(v.clone()).ok()?;
    let mut verdict = Verdict::new(
        d.outcome.parse::<Outcome>().ok()?,
        Source::parse(&d.source)?,
    );
    verdict.notes = d.notes;
    verdict.time_seconds = d.time_seconds;
    verdict.tokens = d.tokens;
    verdict.extra = d.extra;
    Some((verdict, d.now))
}

/// The diff from `old` to `new` as an `update` entry (same seq and time as `like`).
pub fn diff_entry(like: &Entry, old: &Record, new: &Record) -> Entry {
    let mut e = Entry::new("update", like.id.as_deref());
    e.seq = like.seq;
    e.at_ms = like.at_ms;
    let mut set = Record::new();
    let mut before = Record::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            set.insert(k.clone(), v.clone());
            if let Some(b) = old.get(k) {
                before.insert(k.clone(), b.clone());
            }
        }
    }
    for (k, v) in old {
        if !new.contains_key(k) {
            e.unset.push(k.clone());
            before.insert(k.clone(), v.clone());
        }
    }
    e.set = Some(set);
    e.before = Some(before);
    e
}

/// Applies an `update` or `deferred` entry to the record it names. A
/// deferred entry comes back resolved into the `update` it amounted to.
pub fn apply_entry(r: &mut Record, e: &Entry) -> (Fate, Option<Entry>) {
    match e.op.as_str() {
        "update" => {
            let empty = Record::new();
            let before = e.before.as_ref().unwrap_or(&empty);
            let (mut all_there, mut changed, mut superseded) = (true, false, false);
            for (k, v) in e.set.as_ref().unwrap_or(&empty) {
                if r.get(k) == Some(v) {
                    continue;
                }
                all_there = false;
                if r.get(k) == before.get(k) {
                    r.insert(k.clone(), v.clone());
                    changed = true;
                } else {
                    superseded = true;
                }
            }
            for k in &e.unset {
                if !r.contains_key(k) {
                    continue;
                }
                all_there = false;
                if r.get(k) == before.get(k) {
                    r.shift_remove(k);
                    changed = true;
                } else {
                    superseded = true;
                }
            }
            let fate = if all_there {
                Fate::Present
            } else if changed {
                Fate::Applied
            } else {
                let _ = superseded;
                Fate::Superseded
            };
            (fate, None)
        }
        "deferred" => {
            let old = r.clone();
            for (k, v) in e.set.iter().flatten() {
                r.insert(k.clone(), v.clone());
            }
            if let Some((verdict, now)) = e.verdict.as_ref().and_then(verdict_of) {
                crate::outcome::apply(r, &verdict, &now);
            }
            if let Some(settle) = &e.settle {
                // The hook's evidence, weighed against the record as it is now.
                crate::hook::apply_settle(r, settle);
            }
            let resolved = diff_entry(e, &old, r);
            let fate = if *r == old {
                Fate::Present
            } else {
                Fate::Applied
            };
            (fate, Some(resolved))
        }
        _ => (Fate::Present, None),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IdView {
    id: Value,
    dispatch_id: Value,
}

/// The `id` and `dispatch_id` strings of a raw record.
pub fn ids_of(raw: &[u8]) -> (Option<String>, Option<String>) {
    match serde_json::from_slice::<IdView>(raw) {
        Ok(v) => (
            v.id.as_str().map(str::to_string),
            v.dispatch_id.as_str().map(str::to_string),
        ),
        Err(_) => (None, None),
    }
}

/// The result of reflecting the journal in one state of the ledger.
#[derive(Debug, Default)]
pub struct Reflection {
    /// The new ledger bytes, when anything was applied.
    pub out: Option<Vec<u8>>,
    /// Each entry's fate, by sequence number.
    pub fates: Vec<(u64, Fate)>,
    /// Deferred entries resolved into updates.
    pub resolved: Vec<Entry>,
    /// Records in the new ledger.
    pub records: usize,
}

/// Where a record of the working set lives.
#[derive(Clone, Copy)]
enum Slot {
    Span(usize),
    New(usize),
}

/// Reflects `entries` (in order) in the ledger `bytes` whose elements are at `spans`.
pub fn reflect(bytes: &[u8], spans: &[(usize, usize)], entries: &[Entry]) -> Reflection {
    let mut out = Reflection::default();
    let wanted: HashSet<&str> = entries.iter().filter_map(|e| e.id.as_deref()).collect();
    // A few ids: look for their bytes first; many: read every record's id.
    let needles: Option<Vec<Vec<u8>>> = if wanted.len() <= 8 {
        wanted
            .iter()
            .map(|id| super::raw_needle(id))
            .collect::<Option<Vec<_>>>()
    } else {
        None
    };
    let mut by_id: HashMap<String, Slot> = HashMap::new();
    for (i, (s, e)) in spans.iter().enumerate() {
        let raw = &bytes[*s..*e];
        if wanted.is_empty() {
            break;
        }
        if let Some(ns) = &needles {
            if !ns.iter().any(|n| super::contains(raw, n)) {
                continue;
            }
        }
        let (id, did) = ids_of(raw);
        for k in [id, did].into_iter().flatten() {
            if wanted.contains(k.as_str()) {
                by_id.entry(k).or_insert(Slot::Span(i));
            }
        }
    }
    let idless: Vec<Value> = if entries.iter().any(|e| e.op == "append" && e.id.is_none()) {
        spans
            .iter()
            .filter_map(|(s, e)| super::parse_record(&bytes[*s..*e]).map(Value::Object))
            .collect()
    } else {
        Vec::new()
    };

    let mut edited: HashMap<usize, Record> = HashMap::new();
    let mut changed_spans: HashSet<usize> = HashSet::new();
    let mut added: Vec<Record> = Vec::new();
    for e in entries {
        let fate = match e.op.as_str() {
            "append" => {
                let Some(rec) = &e.record else {
                    continue;
                };
                let there = match &e.id {
                    Some(id) => by_id.contains_key(id),
                    None => {
                        let v = Value::Object(rec.clone());
                        idless.contains(&v) || added.contains(rec)
                    }
                };
                if there {
                    Fate::Present
                } else {
                    added.push(rec.clone());
                    if let Some(id) = &e.id {
                        by_id.insert(id.clone(), Slot::New(added.len() - 1));
                    }
                    Fate::Applied
                }
            }
            "update" | "deferred" => {
                let slot = e.id.as_ref().and_then(|id| by_id.get(id)).copied();
                let record = match slot {
                    None => None,
                    Some(Slot::New(i)) => Some(&mut added[i]),
                    Some(Slot::Span(i)) => {
                        if let std::collections::hash_map::Entry::Vacant(v) = edited.entry(i) {
                            let (s, end) = spans[i];
                            match super::parse_record(&bytes[s..end]) {
                                Some(r) => {
                                    v.insert(r);
                                }
                                None => continue,
                            }
                        }
                        changed_spans.insert(i);
                        edited.get_mut(&i)
                    }
                };
                match record {
                    None => Fate::Orphan,
                    Some(r) => {
                        let (fate, resolved) = apply_entry(r, e);
                        if let Some(x) = resolved {
                            out.resolved.push(x);
                        }
                        fate
                    }
                }
            }
            _ => continue,
        };
        out.fates.push((e.seq, fate));
    }
    out.records = spans.len() + added.len();
    if !out.fates.iter().any(|(_, f)| *f == Fate::Applied) {
        return out;
    }

    // Rebuild: untouched records byte for byte, edited ones re-serialized.
    let mut text = Vec::with_capacity(bytes.len() + added.len() * 1024);
    let mut copied = 0usize;
    let mut order: Vec<usize> = changed_spans.into_iter().collect();
    order.sort_unstable();
    for i in order {
        let (s, e) = spans[i];
        let old: Record = super::parse_record(&bytes[s..e]).unwrap_or_default();
        text.extend_from_slice(&bytes[copied..s]);
        if old == edited[&i] {
            text.extend_from_slice(&bytes[s..e]);
        } else {
            let new = respliced(&bytes[s..e], &old, &edited[&i])
                .unwrap_or_else(|| to_js_pretty(&Value::Object(edited[&i].clone()), 1));
            text.extend_from_slice(new.as_bytes());
        }
        copied = e;
    }
    if added.is_empty() {
        text.extend_from_slice(&bytes[copied..]);
    } else {
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        let (at, close_end) = if blank {
            (bytes.len(), bytes.len())
        } else {
            // The last element's end (or just after `[`), and just after the closing `]`.
            let close = bytes
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .expect("not blank");
            let at = spans.last().map_or_else(
                || {
                    bytes[..close]
                        .iter()
                        .rposition(|b| *b == b'[')
                        .map_or(0, |i| i + 1)
                },
                |(_, e)| *e,
            );
            (at, close + 1)
        };
        text.extend_from_slice(&bytes[copied..at]);
        if blank {
            text.extend_from_slice(b"[");
        }
        for (n, r) in added.iter().enumerate() {
            let sep: &[u8] = if spans.is_empty() && n == 0 {
                b"\n  "
            } else {
                b",\n  "
            };
            text.extend_from_slice(sep);
            text.extend_from_slice(to_js_pretty(&Value::Object(r.clone()), 1).as_bytes());
        }
        text.extend_from_slice(b"\n]");
        // Whatever followed the `]` (a newline, spaces) stays.
        text.extend_from_slice(&bytes[close_end.min(bytes.len())..]);
    }
    out.out = Some(text);
    out
}

/// Applies the pending `entries` naming `r`'s id to a record read from the
/// ledger, for the effective view. Returns whether it changed.
pub fn effective(r: &mut Record, entries: &[&Entry]) -> bool {
    let mut changed = false;
    for e in entries {
        let (fate, _) = apply_entry(r, e);
        changed |= fate == Fate::Applied;
    }
    changed
}

/// The record of a `deferred` entry's set fields, for tests and messages.
pub fn describe(e: &Entry) -> Value {
    json!({"seq": e.seq, "op": e.op, "id": e.id})
}

/// The fields of a raw record, in order, each with its value's exact text.
struct RawFields<'a>(Vec<(String, &'a serde_json::value::RawValue)>);

impl<'de> Deserialize<'de> for RawFields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) =
                    m.next_entry::<String, &'de serde_json::value::RawValue>()?
                {
                    out.push((k, v));
                }
                Ok(RawFields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The edited record `new` (a ledger element, depth 1) written with every
/// field it shares unchanged with `old` copied from `raw` as written — numbers
/// such as `1E5` or `1e400` keep their text — and only changed or new fields
/// serialized. `None` when `raw` cannot be read field by field.
fn respliced(raw: &[u8], old: &Record, new: &Record) -> Option<String> {
    if new.is_empty() {
        return None;
    }
    let fields: RawFields = serde_json::from_slice(raw).ok()?;
    // The last occurrence of a key wins, as in JSON.parse.
    let raw_of: HashMap<&str, &str> = fields
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.get()))
        .collect();
    let mut out = String::from("{");
    for (n, (k, v)) in new.iter().enumerate() {
        out.push_str(if n == 0 { "\n    " } else { ",\n    " });
        out.push_str(&serde_json::to_string(k).ok()?);
        out.push_str(": ");
        match raw_of.get(k.as_str()) {
            Some(text) if old.get(k) == Some(v) => out.push_str(text),
            _ => out.push_str(&to_js_pretty(v, 2)),
        }
    }
    out.push_str("\n  }");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> Record {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn undone_writes_come_back_deliberate_changes_stay() {
        let mut e = Entry::new("update", Some("a"));
        e.set = Some(rec(json!({"outcome": "success"})));
        e.before = Some(Record::new());
        let mut r = rec(json!({"id": "a"}));
        assert_eq!(apply_entry(&mut r, &e).0, Fate::Applied);
        assert_eq!(apply_entry(&mut r, &e).0, Fate::Present);
        let mut r = rec(json!({"id": "a", "outcome": "failure"}));
        assert_eq!(apply_entry(&mut r, &e).0, Fate::Superseded);
        assert_eq!(r["outcome"], "failure");
    }

    #[test]
    fn appends_land_before_the_bracket_and_trailing_space_stays() {
        let bytes = b"[\n  {\n    \"id\": \"x\"\n  }\n]\n";
        let spans = super::super::element_spans(std::path::Path::new("t"), bytes).unwrap();
        let mut a = Entry::new("append", Some("y"));
        a.record = Some(rec(json!({"id": "y", "n": 1})));
        let mut u = Entry::new("update", Some("x"));
        u.set = Some(rec(json!({"k": true})));
        u.before = Some(Record::new());
        let r = reflect(bytes, &spans, &[a.clone(), u]);
        let text = String::from_utf8(r.out.unwrap()).unwrap();
        assert_eq!(
            text,
            "[\n  {\n    \"id\": \"x\",\n    \"k\": true\n  },\n  {\n    \"id\": \"y\",\n    \"n\": 1\n  }\n]\n"
        );
        let r = reflect(b"", &[], &[a]);
        assert_eq!(
            String::from_utf8(r.out.unwrap()).unwrap(),
            "[\n  {\n    \"id\": \"y\",\n    \"n\": 1\n  }\n]"
        );
    }
}
