//! `modelfit tasks`: what the ledger holds about recent tasks, one row per
//! task, newest first, without reading raw JSON.
//!
//! A *task* is a ledger record with a string `id` that is not a batch —
//! dispatches of the orchestrator and the hook's `claude-code` records.
//! Pipeline records (`pr-review`, `vk-health`, …) have no id and are not
//! tasks.
//!
//! A task is *unrated* when it has finished (status `complete`, `completed`,
//! `failed`, `partial`, or it already carries an outcome) and no verdict from
//! a person, a CI pipeline or a manual outcome is on it: neither its
//! `outcome_source` (rank of a person or CI, see
//! [`crate::outcome::current_rank`]; an `outcome` without a source was written
//! by the orchestrator's `update_task_outcome`, which a person calls) nor its
//! `outcome_sources` (keys `human`, `manual`, `orchestrator`, `ci`). The
//! hook's own guess, the transcript's evidence and derived verdicts do not
//! rate a task: they are what a rating would confirm or correct.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::home::Home;
use crate::record::Record;
use crate::store::Ledger;

/// Which tasks to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only unrated tasks (see the module documentation).
    pub unrated: bool,
    /// Only tasks created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only tasks whose workspace key or path contains this (case-insensitive).
    pub workspace: Option<String>,
    /// Only tasks of this Claude Code session (a prefix of its id is enough).
    pub session: Option<String>,
    /// At most this many rows (newest first); `None` for all.
    pub limit: Option<usize>,
}

/// One task as `modelfit tasks` shows it. Text fields are as recorded; the
/// terminal renderer cleans them.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    /// The record id.
    pub id: String,
    /// Creation time as recorded (ISO), else the start or completion time.
    pub when: Option<String>,
    /// Workspace key (or path).
    pub workspace: Option<String>,
    /// Model id as recorded.
    pub model: Option<String>,
    /// `simple` / `medium` / `complex` …
    pub complexity: Option<String>,
    /// Who set the complexity: `orchestrator`, `estimated`, `person`
    /// (absent on orchestrator dispatches, which always set it).
    pub complexity_source: Option<String>,
    /// Orchestrator lifecycle status.
    pub status: Option<String>,
    /// `success` / `failure` / `partial`, if known.
    pub outcome: Option<String>,
    /// Who decided the outcome (`human`, `manual`, `ci`, `hook`, `derived`;
    /// absent when the orchestrator's `update_task_outcome` wrote it).
    pub outcome_source: Option<String>,
    /// Probability that the task succeeded, given the evidence (0–1).
    pub p_success: Option<f64>,
    /// Total tokens.
    pub tokens: Option<f64>,
    /// Dollar cost.
    pub cost_usd: Option<f64>,
    /// The earlier attempt this task retries.
    pub retry_of: Option<String>,
    /// The later attempt that retried this task.
    pub retried_by: Option<String>,
    /// Claude Code session id (hook records).
    pub session_id: Option<String>,
    /// True when the task is unrated (see the module documentation).
    pub unrated: bool,
}

fn text(r: &Record, k: &str) -> Option<String> {
    r.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn num(r: &Record, k: &str) -> Option<f64> {
    r.get(k).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// Whether `r` is a task (see the module documentation).
pub fn is_task(r: &Record) -> bool {
    r.get("id").and_then(Value::as_str).is_some()
        && r.get("type").and_then(Value::as_str) != Some("batch")
}

/// Whether the task `r` has finished.
pub fn is_finished(r: &Record) -> bool {
    let status = r.get("status").and_then(Value::as_str).unwrap_or("");
    matches!(status, "complete" | "completed" | "failed" | "partial")
        || r.get("outcome").is_some_and(|o| !o.is_null())
}

/// Whether a person, CI or a manual outcome gave the task `r` a verdict.
pub fn is_rated(r: &Record) -> bool {
    if crate::outcome::current_rank(r).is_some_and(|rank| rank >= 2) {
        return true;
    }
    r.get("outcome_sources")
        .and_then(Value::as_object)
        .is_some_and(|m| {
            ["human", "manual", "orchestrator", "ci"]
                .iter()
                .any(|k| m.get(*k).is_some_and(|v| !v.is_null()))
        })
}

/// Whether `r` is a finished task nobody rated.
pub fn is_unrated(r: &Record) -> bool {
    is_task(r) && is_finished(r) && !is_rated(r)
}

fn when_of(r: &Record) -> Option<String> {
    text(r, "created_at")
        .or_else(|| text(r, "started_at"))
        .or_else(|| text(r, "completed_at"))
}

fn row(r: &Record) -> TaskRow {
    TaskRow {
        id: text(r, "id").unwrap_or_default(),
        when: when_of(r),
        workspace: text(r, "workspace").or_else(|| text(r, "workspace_path")),
        model: text(r, "model"),
        complexity: text(r, "complexity"),
        complexity_source: text(r, "complexity_source"),
        status: text(r, "status"),
        outcome: text(r, "outcome"),
        outcome_source: text(r, "outcome_source"),
        p_success: num(r, "p_success"),
        tokens: num(r, "tokens_used"),
        cost_usd: num(r, "cost_usd"),
        retry_of: text(r, "previous_dispatch_id"),
        retried_by: None,
        session_id: text(r, "session_id"),
        unrated: is_unrated(r),
    }
}

fn keep(f: &Filter, r: &Record, row: &TaskRow) -> bool {
    if f.unrated && !row.unrated {
        return false;
    }
    if let Some(since) = f.since {
        let at = row.when.as_deref().and_then(crate::clock::parse);
        if at.is_none_or(|t| t < since) {
            return false;
        }
    }
    if let Some(w) = &f.workspace {
        let w = w.to_lowercase();
        let hit = ["workspace", "workspace_path"]
            .iter()
            .filter_map(|k| r.get(*k).and_then(Value::as_str))
            .any(|v| v.to_lowercase().contains(&w));
        if !hit {
            return false;
        }
    }
    if let Some(s) = &f.session {
        if !row
            .session_id
            .as_deref()
            .is_some_and(|id| id.starts_with(s))
        {
            return false;
        }
    }
    true
}

/// The tasks of `home`'s ledger that pass `filter`, newest first (ties keep
/// the later record first). Streams the ledger once.
pub fn list(home: &Home, filter: &Filter) -> Result<Vec<TaskRow>> {
    let mut rows: Vec<(i64, usize, TaskRow)> = Vec::new();
    // previous id → the id retrying it; filled for every task, filtered or not.
    let mut retried_by: HashMap<String, String> = HashMap::new();
    let mut index = 0usize;
    Ledger::of(home).for_each(|r: Record| {
        index += 1;
        if !is_task(&r) {
            return true;
        }
        let row = row(&r);
        if let Some(prev) = &row.retry_of {
            retried_by.insert(prev.clone(), row.id.clone());
        }
        if keep(filter, &r, &row) {
            let at = row
                .when
                .as_deref()
                .and_then(crate::clock::parse)
                .map_or(i64::MIN, |t| t.timestamp_millis());
            rows.push((at, index, row));
        }
        true
    })?;
    rows.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    if let Some(n) = filter.limit {
        rows.truncate(n);
    }
    Ok(rows
        .into_iter()
        .map(|(_, _, mut row)| {
            row.retried_by = retried_by.get(&row.id).cloned();
            row
        })
        .collect())
}

/// The ids of the finished tasks nobody rated, newest first, and how many
/// there are in all (for `doctor`).
pub fn unrated_ids(home: &Home, first: usize) -> Result<(Vec<String>, usize)> {
    let rows = list(
        home,
        &Filter {
            unrated: true,
            ..Filter::default()
        },
    )?;
    let total = rows.len();
    Ok((rows.into_iter().take(first).map(|r| r.id).collect(), total))
}

/// `text` made safe for one terminal cell: control characters (escape
/// sequences, newlines, bidirectional overrides) removed, cut to `max`
/// characters with `…` when longer.
pub fn clean(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    cut(&cleaned, max)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Cuts `s` to `max` characters, ending in `…` when it was longer.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Record {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rated_means_a_person_ci_or_manual_verdict() {
        let base = json!({"id": "d1", "task": "x", "status": "complete"});
        assert!(is_unrated(&rec(base.clone())));
        let mut hook = rec(base.clone());
        hook.insert("outcome".into(), json!("success"));
        hook.insert("outcome_source".into(), json!("hook"));
        assert!(is_unrated(&hook));
        let mut orch = rec(base.clone());
        orch.insert("outcome".into(), json!("success"));
        assert!(
            !is_unrated(&orch),
            "update_task_outcome is a person's verdict"
        );
        let mut ci = hook.clone();
        ci.insert(
            "outcome_sources".into(),
            json!({"ci": {"outcome": "failure"}}),
        );
        assert!(!is_unrated(&ci));
        let running = rec(json!({"id": "d2", "task": "x", "status": "running"}));
        assert!(!is_unrated(&running));
        let batch = rec(json!({"id": "b", "type": "batch", "status": "complete"}));
        assert!(!is_unrated(&batch));
    }

    #[test]
    fn clean_strips_controls_and_cuts() {
        assert_eq!(clean("a\u{1b}[31mb\nc\u{202e}d", 20), "a[31mbcd");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
