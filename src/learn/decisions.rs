//! modelfit's own record of decisions: `logs/modelfit/decisions.jsonl`.
//!
//! `logs/model-learning.json` is shared: the orchestrator's JS
//! model-learning-analyzer rewrites it and replaces the whole `suggestions`
//! array, so a status kept only there is lost on its next run. Every
//! `learn apply` and `learn reject` therefore also appends one JSON line here
//! (O_APPEND, fsync; nobody else writes this file), and every run that reads
//! the suggestions merges the lines back in ([`merge`]): a decided suggestion
//! missing from the array is put back with its status, one whose status was
//! reset gets it again, and an open suggestion proposing the same change as
//! a rejected one (the analyzer regenerates its ids on every run) is marked
//! rejected too. So a rejected change never comes back, whatever another
//! tool writes.
//!
//! Suggestions of the analyzer are marked `"origin": "orchestrator-analyzer"`
//! so reports and `apply` can say where they came from.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::analyze::suggestion_cell;
use super::models;
use super::Change;
use crate::error::{Error, Result};
use crate::home::Home;

/// `origin` of a suggestion made by the orchestrator's JS analyzer.
pub const ORCHESTRATOR_ANALYZER: &str = "orchestrator-analyzer";

/// The decisions file of `home`.
pub fn path(home: &Home) -> PathBuf {
    home.state_dir().join("decisions.jsonl")
}

/// One line of the decisions file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    /// When (ISO).
    pub at: String,
    /// `applied` or `rejected`.
    pub decision: String,
    /// The suggestion id.
    pub id: String,
    /// `modelfit` or `orchestrator-analyzer`.
    pub origin: String,
    /// The reason given for a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The suggestion as it stood when decided (status included), so it can
    /// be put back when another tool drops it.
    pub suggestion: Value,
}

/// Where a stored suggestion came from: modelfit's have an `sg-` id and an
/// exact `change`; anything else was written by the orchestrator's analyzer.
pub fn origin(s: &Value) -> &'static str {
    let ours = s
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("sg-"))
        && s.get("change").is_some();
    if ours {
        "modelfit"
    } else {
        ORCHESTRATOR_ANALYZER
    }
}

/// Appends one decision (O_APPEND, fsync).
pub fn record(home: &Home, decision: &str, suggestion: &Value, reason: Option<&str>) -> Result<()> {
    let line = Decision {
        at: crate::clock::now_iso(),
        decision: decision.to_string(),
        id: suggestion
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        origin: origin(suggestion).to_string(),
        reason: reason.map(str::to_string),
        suggestion: suggestion.clone(),
    };
    let p = path(home);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
    }
    let mut text = serde_json::to_string(&line).expect("a decision serializes");
    text.push('\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .map_err(|e| Error::io("cannot open", &p, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io("cannot append to", &p, e))?;
    f.sync_data().map_err(|e| Error::io("cannot sync", &p, e))
}

/// Every decision, the last line per id winning. A line that does not parse
/// (a torn write) is skipped: the decision before it still stands.
pub fn load(home: &Home) -> Result<Vec<Decision>> {
    let p = path(home);
    let text = match std::fs::read(&p) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("cannot read", &p, e)),
    };
    let mut by_id: BTreeMap<String, (usize, Decision)> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if let Ok(d) = serde_json::from_str::<Decision>(line) {
            if !d.id.is_empty() {
                by_id.insert(d.id.clone(), (i, d));
            }
        }
    }
    let mut out: Vec<(usize, Decision)> = by_id.into_values().collect();
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, d)| d).collect())
}

/// What a suggestion proposes, comparable across modelfit's and the
/// analyzer's shapes: the cell, the target family (when known) and the
/// direction (up / down, when known).
#[derive(Debug, Clone, PartialEq)]
struct Proposal {
    cell: String,
    family: Option<&'static str>,
    direction: Option<&'static str>,
}

fn proposal(s: &Value) -> Option<Proposal> {
    let cell = suggestion_cell(s)?;
    let change: Option<Change> = s
        .get("change")
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let tier = |m: &str| models::family(m).and_then(models::tier);
    let (family, direction) = match change {
        Some(Change::TaskComplexity { from, to, .. }) => (
            models::family(&to),
            match (tier(&from), tier(&to)) {
                (Some(a), Some(b)) if b > a => Some("up"),
                (Some(a), Some(b)) if b < a => Some("down"),
                _ => None,
            },
        ),
        Some(Change::AddRule { rule }) | Some(Change::ModifyRule { rule, .. }) => {
            (models::family(&rule.model), None)
        }
        None => {
            let action = s
                .get("suggested_action")
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind = s.get("type").and_then(Value::as_str).unwrap_or("");
            let direction = if action.starts_with("upgrade") || kind == "underperforming" {
                Some("up")
            } else if action.starts_with("downgrade") || kind == "over_provisioned" {
                Some("down")
            } else {
                None
            };
            (
                s.get("suggested_model")
                    .and_then(Value::as_str)
                    .and_then(models::family),
                direction,
            )
        }
    };
    Some(Proposal {
        cell,
        family,
        direction,
    })
}

/// Same cell (a keyword rule of the analyzer, `*/k`, covers `k` at every
/// level), and the same target model, or the same direction when one side
/// names no model.
fn same_change(a: &Proposal, b: &Proposal) -> bool {
    let cells = a.cell == b.cell
        || match (a.cell.split_once('/'), b.cell.split_once('/')) {
            (Some(("*", k)), Some((_, l))) | (Some((_, l)), Some(("*", k))) => k == l,
            _ => false,
        };
    cells
        && match (a.family, b.family) {
            (Some(x), Some(y)) => x == y,
            _ => a.direction.is_some() && a.direction == b.direction,
        }
}

/// What [`merge`] changed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Merged {
    /// Decided suggestions put back after another tool dropped them.
    pub restored: usize,
    /// Suggestions whose status was reset by another tool and set again.
    pub restatused: usize,
    /// Open suggestions marked rejected because they repeat a rejected change.
    pub repeats_rejected: usize,
}

fn set_status(s: &mut Map<String, Value>, d: &Decision) {
    s.insert("status".into(), Value::String(d.decision.clone()));
    for key in ["applied_at", "rejected_at", "rejection_reason", "backup"] {
        if let Some(v) = d.suggestion.get(key) {
            s.insert(key.into(), v.clone());
        }
    }
    let at_key = if d.decision == "applied" {
        "applied_at"
    } else {
        "rejected_at"
    };
    if !s.contains_key(at_key) {
        s.insert(at_key.into(), Value::String(d.at.clone()));
    }
}

/// Merges the decisions of `home` into a learning document (`suggestions`):
/// see the module docs. Marks the analyzer's suggestions with their origin.
pub fn merge(home: &Home, doc: &mut Map<String, Value>) -> Result<Merged> {
    let decisions = load(home)?;
    Ok(merge_decisions(&decisions, doc))
}

/// [`merge`] with the decisions given.
pub fn merge_decisions(decisions: &[Decision], doc: &mut Map<String, Value>) -> Merged {
    let mut out = Merged::default();
    let list = match doc.get_mut("suggestions") {
        Some(Value::Array(a)) => a,
        _ => {
            if decisions.is_empty() {
                return out;
            }
            doc.insert("suggestions".into(), Value::Array(Vec::new()));
            doc.get_mut("suggestions")
                .and_then(Value::as_array_mut)
                .expect("just inserted")
        }
    };
    let by_id: BTreeMap<&str, &Decision> = decisions.iter().map(|d| (d.id.as_str(), d)).collect();
    let rejected: Vec<(&Decision, Proposal)> = decisions
        .iter()
        .filter(|d| d.decision == "rejected")
        .filter_map(|d| proposal(&d.suggestion).map(|p| (d, p)))
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for s in list.iter_mut() {
        let from_analyzer = origin(s) == ORCHESTRATOR_ANALYZER;
        let Some(obj) = s.as_object_mut() else {
            continue;
        };
        if from_analyzer && !obj.contains_key("origin") {
            obj.insert("origin".into(), Value::String(ORCHESTRATOR_ANALYZER.into()));
        }
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let status = obj
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("open")
            .to_string();
        if let Some(d) = by_id.get(id.as_str()) {
            seen.push(id.clone());
            if status != d.decision {
                set_status(obj, d);
                out.restatused += 1;
            }
            continue;
        }
        if status != "open" && status != "pending" {
            continue;
        }
        let Some(p) = proposal(&Value::Object(obj.clone())) else {
            continue;
        };
        if let Some((d, _)) = rejected.iter().find(|(_, q)| same_change(&p, q)) {
            obj.insert("status".into(), Value::String("rejected".into()));
            obj.insert("rejected_at".into(), Value::String(d.at.clone()));
            obj.insert(
                "rejection_reason".into(),
                Value::String(format!(
                    "the same change was rejected as {} at {}{} (logs/modelfit/decisions.jsonl)",
                    d.id,
                    d.at,
                    d.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )),
            );
            out.repeats_rejected += 1;
        }
    }
    for d in decisions {
        if seen.contains(&d.id) {
            continue;
        }
        let mut snap = match &d.suggestion {
            Value::Object(m) => m.clone(),
            _ => continue,
        };
        set_status(&mut snap, d);
        list.push(Value::Object(snap));
        out.restored += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decision(s: Value, what: &str) -> Decision {
        Decision {
            at: "2026-03-01T00:00:00.000Z".into(),
            decision: what.into(),
            id: s["id"].as_str().unwrap().into(),
            origin: origin(&s).into(),
            reason: Some("no".into()),
            suggestion: s,
        }
    }

    #[test]
    fn rejected_change_survives_a_rewrite_and_blocks_repeats() {
        let ours = json!({"id": "sg-1", "type": "downgrade_complexity", "finding": "over_provisioned",
            "change": {"target": "task_complexity", "level": "complex", "from": "claude-opus-4-5-20251101", "to": "claude-sonnet-4-5-20250929"},
            "reason": "r", "confidence": 0.95, "status": "rejected", "created_at": "x"});
        let js = json!({"id": "b389", "type": "underperforming", "suggested_action": "upgrade_model",
            "group_label": "complexity=simple", "current_model": "claude-haiku-4-5-20251001", "status": "rejected"});
        let ds = vec![decision(ours, "rejected"), decision(js, "rejected")];
        // The analyzer's rewrite: our suggestion gone, its own regenerated with a new id.
        let mut doc = json!({"suggestions": [
            {"id": "c0ffee", "type": "over_provisioned", "suggested_action": "downgrade_model",
             "complexity": "complex", "current_model": "claude-opus-4-5-20251101",
             "suggested_model": "claude-sonnet-4-5-20250929"},
            {"id": "d00d", "type": "underperforming", "suggested_action": "upgrade_model",
             "group_label": "complexity=simple", "current_model": "claude-haiku-4-5-20251001"},
            {"id": "e1", "type": "underperforming", "suggested_action": "upgrade_model",
             "group_label": "complexity=medium", "current_model": "claude-sonnet-4-5-20250929"}
        ]})
        .as_object()
        .unwrap()
        .clone();
        let m = merge_decisions(&ds, &mut doc);
        assert_eq!(m.restored, 2);
        assert_eq!(m.repeats_rejected, 2);
        let list = doc["suggestions"].as_array().unwrap();
        assert_eq!(list[0]["status"], "rejected");
        assert_eq!(list[1]["status"], "rejected");
        assert!(list[2].get("status").is_none(), "another level stays open");
        assert_eq!(list[2]["origin"], ORCHESTRATOR_ANALYZER);
        assert!(list
            .iter()
            .any(|s| s["id"] == "sg-1" && s["status"] == "rejected"));
    }
}
