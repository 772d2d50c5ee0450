//! Verdicts on a task and who gave them.
//!
//! Several sources speak about one task: a person (`modelfit rate`,
//! `modelfit outcome`, or the orchestrator's own `update_task_outcome`, which
//! writes no `outcome_source`), a CI pipeline, the stop hook (which weighs
//! the task's evidence, see `hook::evidence`), and signals derived later (a
//! retry link). A lower source never overwrites a higher one, but every
//! source's verdict is kept in `outcome_sources`, so `learn` can measure how
//! often implicit signals disagree with people.
//!
//! # Ranking
//!
//! | rank | sources |
//! |---|---|
//! | 3 | `human` (rate, a rating in the next prompt), `manual` (outcome), `orchestrator` (a person through the orchestrator's `update_task_outcome`) |
//! | 2 | `ci` |
//! | 1 | `hook` (the evidence-weighed verdict) |
//! | 0 | `derived` |
//!
//! Ties go to the newer verdict. The orchestrator's `update_task_outcome`
//! rewrites `outcome` and leaves whatever `outcome_source` was there: when
//! `outcome` differs from `outcome_sources[outcome_source]`, another program
//! wrote it ([`written_elsewhere`]). That verdict ranks as a person's, is
//! kept under `outcome_sources.orchestrator`, and the next write names it
//! (`outcome_source: "orchestrator"`) so it is never overwritten by CI, the
//! hook or evidence.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

use crate::error::Error;
use crate::record::Record;

/// What happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// It did what was asked.
    Success,
    /// It did not.
    Failure,
    /// Some of it.
    Partial,
}

impl Outcome {
    /// The ledger spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Partial => "partial",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = Error;
    fn from_str(s: &str) -> Result<Outcome, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            "partial" => Ok(Outcome::Partial),
            _ => Err(Error::Invalid(format!(
                "unknown outcome {s:?}: use success, failure or partial"
            ))),
        }
    }
}

/// Who gave a verdict, from most to least trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A person answering `modelfit rate` (or the MCP `rate_task`).
    Human,
    /// A person using `modelfit outcome` (or MCP `update_task_outcome`).
    Manual,
    /// A person through the orchestrator (`update_task_outcome`, which
    /// writes `outcome` only).
    Orchestrator,
    /// A CI pipeline (`modelfit ci`).
    Ci,
    /// The Claude Code stop hook.
    Hook,
    /// Inferred after the fact (retry link, orchestrator status).
    Derived,
}

impl Source {
    /// The `outcome_source` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Human => "human",
            Source::Manual => "manual",
            Source::Orchestrator => "orchestrator",
            Source::Ci => "ci",
            Source::Hook => "hook",
            Source::Derived => "derived",
        }
    }

    /// Parses an `outcome_source` value.
    pub fn parse(s: &str) -> Option<Source> {
        Some(match s {
            "human" => Source::Human,
            "manual" => Source::Manual,
            "orchestrator" => Source::Orchestrator,
            "ci" => Source::Ci,
            "hook" => Source::Hook,
            "derived" => Source::Derived,
            _ => return None,
        })
    }

    /// Precedence: people 3, CI 2, hook 1, derived 0.
    pub fn rank(self) -> u8 {
        match self {
            Source::Human | Source::Manual | Source::Orchestrator => 3,
            Source::Ci => 2,
            Source::Hook => 1,
            Source::Derived => 0,
        }
    }
}

/// The rank of the verdict a record holds now, if any. An `outcome` without
/// `outcome_source` was written by the orchestrator's `update_task_outcome`,
/// which only a person calls: it ranks as a person's verdict. An unknown
/// source string is treated the same way, the cautious choice.
pub fn current_rank(record: &Record) -> Option<u8> {
    record.get("outcome").filter(|v| !v.is_null())?;
    if written_elsewhere(record).is_some() {
        return Some(Source::Orchestrator.rank());
    }
    Some(match record.get("outcome_source").and_then(Value::as_str) {
        Some(s) => Source::parse(s).map_or(3, Source::rank),
        None => 3,
    })
}

/// The verdict in `outcome` when another program wrote it: `outcome` is set
/// but `outcome_source` is missing, or names a source whose own verdict in
/// `outcome_sources` differs (the orchestrator's `update_task_outcome`
/// rewrote `outcome` and left modelfit's `outcome_source` in place).
pub fn written_elsewhere(record: &Record) -> Option<Value> {
    let outcome = record.get("outcome").filter(|v| !v.is_null())?;
    let Some(source) = record.get("outcome_source").and_then(Value::as_str) else {
        return Some(outcome.clone());
    };
    if source == "orchestrator" {
        return None; // already named
    }
    let listed = record
        .get("outcome_sources")
        .and_then(|m| m.get(source))
        .and_then(|v| v.get("outcome"))?;
    (listed != outcome).then(|| outcome.clone())
}

/// A verdict with the figures that may come with it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The outcome claimed.
    pub outcome: Outcome,
    /// Who claims it.
    pub source: Source,
    /// Free text (already redacted by the caller), stored as `outcome_notes`.
    pub notes: Option<String>,
    /// Wall time of the task, stored as `execution_time_seconds`.
    pub time_seconds: Option<f64>,
    /// Total tokens, stored as `tokens_used`.
    pub tokens: Option<u64>,
    /// Extra fields to set on the record (e.g. `rated_at`, `ci_status`),
    /// written whatever the precedence says, since they describe the signal
    /// itself rather than the verdict.
    pub extra: Vec<(String, Value)>,
}

impl Verdict {
    /// A bare verdict.
    pub fn new(outcome: Outcome, source: Source) -> Verdict {
        Verdict {
            outcome,
            source,
            notes: None,
            time_seconds: None,
            tokens: None,
            extra: Vec::new(),
        }
    }
}

/// What applying a verdict changed, for the user-facing summary.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// `(field, before, after)` for every field written.
    pub fields: Vec<(String, Option<Value>, Value)>,
    /// The verdict was recorded but a higher source's outcome stands.
    pub outranked_by: Option<String>,
}

impl Change {
    /// One line per changed field, `field: before -> after`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (field, before, after) in &self.fields {
            let after = short(after);
            match before {
                Some(b) if b != &Value::Null => {
                    out.push_str(&format!("  {field}: {} -> {after}\n", short(b)))
                }
                _ => out.push_str(&format!("  {field}: {after}\n")),
            }
        }
        if let Some(by) = &self.outranked_by {
            out.push_str(&format!(
                "  (outcome kept: a {by} verdict outranks this one; yours is kept in outcome_sources)\n"
            ));
        }
        out
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Applies `verdict` to `record` at time `now` (ISO), following the
/// precedence rules, and returns what changed. Never touches `status`,
/// `started_at` or `completed_at`: those belong to the orchestrator.
pub fn apply(record: &mut Record, verdict: &Verdict, now: &str) -> Change {
    let mut change = Change::default();
    let mut set = |record: &mut Record, key: &str, value: Value| {
        let before = record.get(key).cloned();
        if before.as_ref() != Some(&value) {
            change.fields.push((key.to_string(), before, value.clone()));
            record.insert(key.to_string(), value);
        }
    };

    // Every source's own verdict, whatever the precedence decides.
    let mut sources = match record.get("outcome_sources") {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    // Keep the verdict in place visible beside the others, even when no
    // `outcome_sources` recorded it (the orchestrator's `update_task_outcome`,
    // or a writer that predates this field): a verdict this one displaces
    // must not vanish.
    let elsewhere = written_elsewhere(record);
    if let Some(o) = &elsewhere {
        // A person's verdict through the orchestrator: kept under its own key,
        // never under the stale source's.
        let fresh = sources
            .get("orchestrator")
            .and_then(|v| v.get("outcome"))
            .is_none_or(|prev| prev != o);
        if fresh {
            sources.insert("orchestrator".into(), json!({ "outcome": o, "at": now }));
        }
    } else if let Some(o) = record.get("outcome").filter(|v| !v.is_null()).cloned() {
        if let Some(key) = record.get("outcome_source").and_then(Value::as_str) {
            sources
                .entry(key.to_string())
                .or_insert(json!({ "outcome": o }));
        }
    }
    sources.insert(
        verdict.source.as_str().to_string(),
        json!({ "outcome": verdict.outcome.as_str(), "at": now }),
    );

    let wins = current_rank(record).is_none_or(|r| verdict.source.rank() >= r);
    let stale_source = record
        .get("outcome_source")
        .and_then(Value::as_str)
        .is_some();
    if !wins && elsewhere.is_some() && stale_source {
        // Name who wrote the standing verdict, so it stays recognised even
        // when a later source happens to agree with the stale one. (Without
        // any `outcome_source` it is recognised as a person's already.)
        set(
            record,
            "outcome_source",
            json!(Source::Orchestrator.as_str()),
        );
    }
    if wins {
        set(record, "outcome", json!(verdict.outcome.as_str()));
        set(record, "outcome_source", json!(verdict.source.as_str()));
        set(record, "outcome_updated_at", json!(now));
        if let Some(notes) = &verdict.notes {
            set(record, "outcome_notes", json!(notes));
        }
    } else {
        change.outranked_by = Some(
            record
                .get("outcome_source")
                .and_then(Value::as_str)
                .unwrap_or("person's (orchestrator)")
                .to_string(),
        );
    }
    if let Some(t) = verdict.time_seconds {
        set(record, "execution_time_seconds", number(t));
    }
    if let Some(n) = verdict.tokens {
        set(record, "tokens_used", json!(n));
    }
    for (k, v) in &verdict.extra {
        set(record, k, v.clone());
    }
    set(record, "outcome_sources", Value::Object(sources));
    fill_keywords(record, &mut |r, k, v| set(r, k, v));
    change
}

/// Applies `verdict` to the ledger record `id` of `home`, under the ledger's
/// lock, at the current time: the one path shared by `modelfit outcome`,
/// `modelfit rate` and the MCP tools `update_task_outcome` and `rate_task`.
/// Notes must already be redacted. Fails with [`Error::NotFound`] when no
/// record has the id.
pub fn set_outcome(home: &crate::home::Home, id: &str, verdict: &Verdict) -> Result<Change, Error> {
    let now = crate::clock::now_iso();
    let change = crate::store::Ledger::of(home)
        .update(id, |r| Ok(Some(apply(r, verdict, &now))))?
        .expect("the edit always applies");
    Ok(change)
}

/// Integral values are written as integers, as the orchestrator does.
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Fills `task_keywords` when missing, from `original_task` (the raw text),
/// else from `task` with the injected context blocks stripped.
fn fill_keywords(record: &mut Record, set: &mut dyn FnMut(&mut Record, &str, Value)) {
    if matches!(record.get("task_keywords"), Some(Value::Array(_))) {
        return;
    }
    let text = match (
        record.get("original_task").and_then(Value::as_str),
        record.get("task").and_then(Value::as_str),
    ) {
        (Some(o), _) => o.to_string(),
        (None, Some(t)) => strip_context(t),
        (None, None) => return,
    };
    set(
        record,
        "task_keywords",
        json!(crate::signals::keywords(&text)),
    );
}

/// Removes the `<product-context …>` and `<workspace-context …>` blocks the
/// dispatcher prepends to a task, leaving the task's own text.
pub fn strip_context(task: &str) -> String {
    let mut rest = task;
    loop {
        let trimmed = rest.trim_start();
        let close = if trimmed.starts_with("<product-context") {
            "</product-context>"
        } else if trimmed.starts_with("<workspace-context") {
            "</workspace-context>"
        } else {
            return trimmed.to_string();
        };
        match trimmed.find(close) {
            Some(i) => rest = &trimmed[i + close.len()..],
            None => return trimmed.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> Record {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn people_outrank_ci_outranks_hook() {
        let mut r = rec(json!({"id": "a", "status": "complete", "original_task": "fix the bug"}));
        apply(&mut r, &Verdict::new(Outcome::Success, Source::Hook), "t1");
        assert_eq!(r["outcome"], "success");
        apply(&mut r, &Verdict::new(Outcome::Failure, Source::Ci), "t2");
        assert_eq!(r["outcome"], "failure");
        apply(&mut r, &Verdict::new(Outcome::Partial, Source::Human), "t3");
        assert_eq!(r["outcome"], "partial");
        let c = apply(&mut r, &Verdict::new(Outcome::Success, Source::Ci), "t4");
        assert_eq!(r["outcome"], "partial");
        assert_eq!(c.outranked_by.as_deref(), Some("human"));
        assert_eq!(r["outcome_sources"]["ci"]["outcome"], "success");
        assert_eq!(r["outcome_sources"]["hook"]["outcome"], "success");
        assert_eq!(r["status"], "complete");
        assert_eq!(r["task_keywords"], json!(["bug", "fix"]));
    }

    #[test]
    fn orchestrator_outcome_counts_as_a_person() {
        let mut r = rec(json!({"id": "a", "outcome": "failure"}));
        let c = apply(&mut r, &Verdict::new(Outcome::Success, Source::Ci), "t");
        assert_eq!(r["outcome"], "failure");
        assert!(c.outranked_by.is_some());
        assert_eq!(r["outcome_sources"]["orchestrator"]["outcome"], "failure");
        apply(&mut r, &Verdict::new(Outcome::Success, Source::Manual), "t");
        assert_eq!(r["outcome"], "success");
    }

    #[test]
    fn a_stale_outcome_source_is_a_person_through_the_orchestrator() {
        let mut r = rec(json!({"id": "a"}));
        apply(&mut r, &Verdict::new(Outcome::Success, Source::Hook), "t1");
        // update_task_outcome rewrites outcome only.
        r.insert("outcome".into(), json!("failure"));
        assert_eq!(current_rank(&r), Some(3));
        let c = apply(&mut r, &Verdict::new(Outcome::Success, Source::Ci), "t2");
        assert!(c.outranked_by.is_some());
        assert_eq!(r["outcome"], "failure");
        assert_eq!(r["outcome_source"], "orchestrator");
        assert_eq!(r["outcome_sources"]["orchestrator"]["outcome"], "failure");
        assert_eq!(r["outcome_sources"]["hook"]["outcome"], "success");
        // A hook verdict that agrees must not make it look like the hook's.
        apply(&mut r, &Verdict::new(Outcome::Failure, Source::Hook), "t3");
        apply(&mut r, &Verdict::new(Outcome::Success, Source::Ci), "t4");
        assert_eq!(r["outcome"], "failure");
        // A person still wins.
        apply(&mut r, &Verdict::new(Outcome::Success, Source::Human), "t5");
        assert_eq!(r["outcome"], "success");
        assert_eq!(r["outcome_source"], "human");
    }

    #[test]
    fn strips_injected_context() {
        let t = "<product-context product=\"x\">\nA\n</product-context>\n\n<workspace-context>\nB\n</workspace-context>\n\nFix the API";
        assert_eq!(strip_context(t), "Fix the API");
        assert_eq!(strip_context("plain"), "plain");
    }
}
