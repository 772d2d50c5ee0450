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
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::home::Home;
use crate::outcome::Source;
use crate::record::{lenient_f64, lenient_string};
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
    /// Fill [`TaskRow::keywords`] (`rate --next` matches keyword cells).
    pub keywords: bool,
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
    /// The task's keywords (`task_keywords`, else those of its text), only
    /// when [`Filter::keywords`] asks for them.
    #[serde(skip)]
    pub keywords: Vec<String>,
}

/// The fields of a record `tasks` reads, and nothing else: the long task
/// texts and histories are skipped while streaming. Every field tolerates
/// other types (as missing), like [`crate::record::RecordView`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskView {
    #[serde(deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    kind: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    created_at: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    started_at: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    completed_at: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    workspace: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    workspace_path: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    model: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    complexity: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    complexity_source: Option<String>,
    #[serde(deserialize_with = "present")]
    outcome: Option<Value>,
    #[serde(deserialize_with = "lenient_string")]
    outcome_source: Option<String>,
    #[serde(deserialize_with = "verdict_keys")]
    outcome_sources: Vec<String>,
    #[serde(deserialize_with = "lenient_f64")]
    p_success: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    tokens_used: Option<f64>,
    #[serde(deserialize_with = "lenient_f64")]
    cost_usd: Option<f64>,
    #[serde(deserialize_with = "lenient_string")]
    previous_dispatch_id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    session_id: Option<String>,
    #[serde(deserialize_with = "crate::record::lenient_strings")]
    task_keywords: Option<Vec<String>>,
    #[serde(deserialize_with = "lenient_string")]
    original_task: Option<String>,
}

/// Any non-null value (an outcome of an odd type still counts as present).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Ok(Some(Value::deserialize(d)?).filter(|v| !v.is_null()))
}

/// The keys of `outcome_sources` whose value is not null.
fn verdict_keys<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(m) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    })
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|x| x.is_finite())
}

impl TaskView {
    /// Whether this record is a task (see the module documentation).
    pub fn is_task(&self) -> bool {
        self.id.is_some() && self.kind.as_deref() != Some("batch")
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_deref().unwrap_or(""),
            "complete" | "completed" | "failed" | "partial"
        ) || self.outcome.is_some()
    }

    /// Whether a person, CI or a manual outcome gave the task a verdict: the
    /// same ranks as [`crate::outcome::current_rank`] (an outcome without a
    /// source, or with a source modelfit does not know, ranks as a person's).
    pub fn is_rated(&self) -> bool {
        let rank = self.outcome.as_ref().map(|_| {
            self.outcome_source
                .as_deref()
                .and_then(Source::parse)
                .map_or(3, Source::rank)
        });
        rank.is_some_and(|r| r >= 2)
            || self
                .outcome_sources
                .iter()
                .any(|k| matches!(k.as_str(), "human" | "manual" | "orchestrator" | "ci"))
    }

    /// Whether this is a finished task nobody rated.
    pub fn is_unrated(&self) -> bool {
        self.is_task() && self.is_finished() && !self.is_rated()
    }
}

fn row(r: &TaskView) -> TaskRow {
    TaskRow {
        id: r.id.clone().unwrap_or_default(),
        when: nonempty(&r.created_at)
            .or_else(|| nonempty(&r.started_at))
            .or_else(|| nonempty(&r.completed_at)),
        workspace: nonempty(&r.workspace).or_else(|| nonempty(&r.workspace_path)),
        model: nonempty(&r.model),
        complexity: nonempty(&r.complexity),
        complexity_source: nonempty(&r.complexity_source),
        status: nonempty(&r.status),
        outcome: r.outcome.as_ref().map(|o| match o {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        outcome_source: nonempty(&r.outcome_source),
        p_success: finite(r.p_success),
        tokens: finite(r.tokens_used),
        cost_usd: finite(r.cost_usd),
        retry_of: nonempty(&r.previous_dispatch_id),
        retried_by: None,
        session_id: nonempty(&r.session_id),
        unrated: r.is_unrated(),
        keywords: Vec::new(),
    }
}

fn keep(f: &Filter, r: &TaskView, row: &TaskRow) -> bool {
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
        let hit = [&r.workspace, &r.workspace_path]
            .into_iter()
            .flatten()
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
    Ledger::of(home).for_each(|r: TaskView| {
        index += 1;
        if !r.is_task() {
            return true;
        }
        let mut row = row(&r);
        if let Some(prev) = &row.retry_of {
            retried_by.insert(prev.clone(), row.id.clone());
        }
        if keep(filter, &r, &row) {
            if filter.keywords {
                row.keywords = match &r.task_keywords {
                    Some(k) => k.clone(),
                    None => r
                        .original_task
                        .as_deref()
                        .map(crate::signals::keywords)
                        .unwrap_or_default(),
                };
            }
            let at = row
                .when
                .as_deref()
                .and_then(crate::clock::parse)
                .map_or(i64::MIN, |t| t.timestamp_millis());
            rows.push((at, index, row));
            // With a limit, keep only the newest rows seen so far: memory stays
            // bounded by the limit, not by the ledger.
            if let Some(n) = filter.limit {
                if rows.len() >= 2 * n.max(16) {
                    rows.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
                    rows.truncate(n);
                }
            }
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

    fn view(v: Value) -> TaskView {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rated_means_a_person_ci_or_manual_verdict() {
        let base = json!({"id": "d1", "task": "x", "status": "complete"});
        assert!(view(base.clone()).is_unrated());
        let mut hook = base.clone();
        hook["outcome"] = json!("success");
        hook["outcome_source"] = json!("hook");
        assert!(view(hook.clone()).is_unrated());
        let mut orch = base.clone();
        orch["outcome"] = json!("success");
        assert!(
            !view(orch).is_unrated(),
            "update_task_outcome is a person's verdict"
        );
        let mut ci = hook.clone();
        ci["outcome_sources"] = json!({"ci": {"outcome": "failure"}});
        assert!(!view(ci).is_unrated());
        let mut tests_only = hook.clone();
        tests_only["outcome_sources"] = json!({"tests": {"outcome": "failure"}, "human": null});
        assert!(view(tests_only).is_unrated());
        assert!(!view(json!({"id": "d2", "status": "running"})).is_unrated());
        assert!(!view(json!({"id": "b", "type": "batch", "status": "complete"})).is_unrated());
        assert!(!view(json!({"id": 7, "status": "complete"})).is_task());
    }

    #[test]
    fn clean_strips_controls_and_cuts() {
        assert_eq!(clean("a\u{1b}[31mb\nc\u{202e}d", 20), "a[31mbcd");
        assert_eq!(clean("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
