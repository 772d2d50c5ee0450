//! Writing a task's record: figures from the transcript, the evidence of
//! how it went (weighed by [`super::evidence`]), an estimated complexity,
//! and the ledger write itself (an append for a new ad-hoc task, one update
//! call for anything that exists).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::evidence::{self, Evidence};
use super::git::git_head;
use super::handoff::hand_off;
use super::session::{remember_attempt, Session, TaskState};
use super::task::{summarize_task, Ending};
use super::{file_len, log, LOCK_TIMEOUT};
use crate::clock;
use crate::complexity;
use crate::error::Result;
use crate::home::Home;
use crate::outcome::{self, Outcome, Source, Verdict};
use crate::record::Record;
use crate::signals::retry::Attempt;
use crate::store::{self, Ledger};
use crate::transcript::Tokens;

pub(super) fn record_task(s: &mut Session<'_>, ending: Ending, now: DateTime<Utc>) -> Result<()> {
    let home = s.home;
    let Some(mut task) = s.state.task.clone() else {
        return Ok(());
    };
    let keep_end = matches!(ending, Ending::Late);
    let now = match (keep_end, task.ended_at.as_deref().and_then(clock::parse)) {
        (true, Some(end)) => end,
        _ => now,
    };
    let ending = match ending {
        Ending::Refresh | Ending::Late => match task.ending.as_deref() {
            Some("StopFailure") => Ending::StopFailure(task.ending_error.clone()),
            Some("next prompt") => Ending::Closed("next prompt"),
            Some("session end") => Ending::Closed("session end"),
            _ => Ending::Refresh,
        },
        other => other,
    };
    if task.ending.is_none() {
        let (name, err) = match &ending {
            Ending::Stop | Ending::Refresh | Ending::Late => ("Stop", None),
            Ending::StopFailure(e) => ("StopFailure", e.clone()),
            Ending::Closed(why) => (*why, None),
        };
        task.ending = Some(name.to_string());
        task.ending_error = err;
    }
    let sum = summarize_task(&task);
    let now_iso = clock::iso(now);
    let started = clock::parse(&task.started_at).unwrap_or(now);
    let seconds = ((now - started).num_milliseconds().max(0) as f64 / 1000.0).round();

    let final_api_errors = sum.api_errors.saturating_sub(sum.api_retries);
    // How it ended: today's basis of the hook's verdict, now one piece of
    // evidence among the transcript's (runs, final message, tool errors).
    let (ending_signal, note): (&str, Option<String>) = match &ending {
        Ending::StopFailure(err) => (
            "stop_failure",
            Some(format!(
                "StopFailure: {}",
                err.as_deref().unwrap_or("API error")
            )),
        ),
        Ending::Closed(why) => (
            "no_stop",
            Some(format!(
                "no Stop hook fired before the {why} (interrupted with Esc?); usage up to then"
            )),
        ),
        // Retried requests that then succeeded are not failures.
        _ if final_api_errors > 0 => (
            "api_error",
            Some(format!("{final_api_errors} API error(s) in the transcript")),
        ),
        _ if sum.interrupted => ("interrupted", Some("interrupted by the user".to_string())),
        _ => ("stop", None),
    };
    let note = note.map(|n| crate::signals::redact(&n));
    let facts = task_facts(&task);
    let mut fresh = vec![Evidence::new(
        "hook",
        ending_signal,
        note.as_deref().unwrap_or("the assistant stopped"),
        &now_iso,
    )];
    fresh.extend(evidence::facts::evidence(
        &facts,
        task.last_assistant_message.as_deref(),
        &now_iso,
    ));

    let pricing = crate::pricing::Pricing::load(&home.pricing());
    let total = sum.total();
    let mut cost = 0.0f64;
    let mut sources = serde_json::Map::new();
    for (model, t) in &sum.by_model {
        let (_, src) = pricing.price(model);
        if let Some(c) = pricing.cost(model, t) {
            cost += c;
        }
        sources.insert(model.clone(), json!(src.label()));
    }
    let main_model = sum
        .by_model
        .iter()
        .max_by_key(|(_, t)| t.total())
        .map(|(m, _)| m.clone());
    let git = task.cwd_git();

    // The outcome is settled from the evidence when the record is written.
    let mut verdict = Verdict::new(Outcome::Success, Source::Hook);
    verdict.notes = note;
    verdict.time_seconds = Some(seconds);
    verdict.tokens = Some(total.total());
    let mut extra: Vec<(String, Value)> = vec![
        ("tokens".into(), tokens_json(&total)),
        (
            "cost_usd".into(),
            outcome::number((cost * 1e6).round() / 1e6),
        ),
        ("price_sources".into(), Value::Object(sources)),
        (
            "models_used".into(),
            json!(sum.by_model.keys().collect::<Vec<_>>()),
        ),
        ("files_touched".into(), json!(sum.files_touched)),
        ("tool_errors".into(), json!(sum.tool_errors)),
        ("api_errors".into(), json!(final_api_errors)),
        ("api_retries".into(), json!(sum.api_retries)),
        ("api_responses".into(), json!(sum.responses)),
        ("session_id".into(), json!(s.state.session_id)),
        ("tool_calls".into(), json!(facts.tool_calls)),
        ("lines_edited".into(), json!(facts.lines_edited)),
    ];
    if let Some(pid) = &task.prompt_id {
        extra.push(("prompt_id".into(), json!(pid)));
    }
    if sum.output_lower_bound {
        // Claude Code before 2.1.97 wrote placeholder output figures.
        extra.push(("tokens_output_lower_bound".into(), json!(true)));
    }
    if let Some((commit, branch)) = git {
        extra.push(("git_commit".into(), json!(commit)));
        if let Some(b) = branch {
            extra.push(("git_branch".into(), json!(b)));
        }
    }
    if let Some(prev) = &task.previous_dispatch_id {
        extra.push(("previous_dispatch_id".into(), json!(prev)));
        extra.push(("retry_count".into(), json!(task.retry_count)));
    }
    extra.push((
        "ended_by".into(),
        json!(match &ending {
            Ending::Stop | Ending::Refresh | Ending::Late => "Stop",
            Ending::StopFailure(_) => "StopFailure",
            Ending::Closed("next prompt") => "next-prompt",
            Ending::Closed(_) => "SessionEnd",
        }),
    ));
    verdict.extra = extra;

    let features = complexity::Features {
        prompt: task.prompt.clone(),
        files: Some(sum.files_touched.len() as u64),
        lines_edited: Some(facts.lines_edited),
        tool_calls: Some(facts.tool_calls),
        tokens: Some(total.total()),
        seconds: Some(seconds),
    };
    let estimated = complexity::estimate(home, &features);
    let edit = |owned: bool| SettleEdit {
        fresh: fresh.clone(),
        replaces: evidence::TRANSCRIPT_SOURCES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        template: store::reflect::verdict_value(&verdict, &now_iso),
        now: now_iso.clone(),
        complexity: Some(estimated.to_string()),
        owned,
        rating: None,
    };
    let settle = |rec: &mut Record, owned: bool| {
        edit(owned).apply(rec);
    };
    if task.recorded || task.linked {
        // The one place a Stop updates an existing record (a linked dispatch,
        // or our own record refreshed): journaled and weighed against the
        // record as it is when the ledger is next written, so the Stop costs
        // O(1) in the ledger's size. A dispatch that vanished meanwhile stays
        // in the journal, reported by `ledger reconcile` and `doctor`.
        update_record(home, &task.id, &edit(!task.linked))?;
    } else {
        let mut rec = adhoc_record(s, &task, main_model.as_deref(), &now_iso);
        settle(&mut rec, true);
        finish_history(&mut rec, &now_iso);
        append_record(home, &rec)?;
    }
    let first_time = !task.recorded;
    task.recorded = true;
    task.ended_at = Some(now_iso.clone());
    task.recorded_tokens = total.total();
    task.end_offset = if sum.end_offset > 0 {
        sum.end_offset
    } else {
        task.transcript_path
            .as_deref()
            .map_or(0, file_len)
            .max(task.start_offset)
    };
    s.state.next_offset = task.end_offset;
    let attempt = Attempt {
        id: task.id.clone(),
        workspace: task.cwd.clone(),
        text: task.prompt.clone(),
        ended_at: now_iso.clone(),
        retry_count: task.retry_count,
    };
    s.state.task = Some(task);
    if let Err(e) = remember_attempt(home, attempt, now) {
        log(
            home,
            &format!("hook: cannot remember the attempt for retry detection: {e}"),
        );
    }
    if first_time {
        hand_off(home, now);
    }
    Ok(())
}

fn tokens_json(t: &Tokens) -> Value {
    json!({
        "input": t.input,
        "output": t.output,
        "cache_creation": t.cache_creation,
        "cache_read": t.cache_read,
    })
}

/// An ad-hoc task's record, shaped by interop checklist item 7 (its
/// outcome, status and last history entry are settled afterwards).
fn adhoc_record(s: &Session<'_>, task: &TaskState, model: Option<&str>, now_iso: &str) -> Record {
    let model = model
        .map(str::to_string)
        .or(s.state.model.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let workspace = task
        .workspace_key
        .clone()
        .unwrap_or_else(|| task.cwd.clone());
    let mut r = Record::new();
    r.insert("id".into(), json!(task.id));
    r.insert("type".into(), json!("claude-code"));
    r.insert("workspace".into(), json!(workspace));
    r.insert("workspace_path".into(), json!(task.cwd));
    r.insert("task".into(), json!(task.prompt));
    r.insert("original_task".into(), json!(task.prompt));
    r.insert("model".into(), json!(model));
    r.insert("status".into(), json!("running"));
    r.insert("created_at".into(), json!(task.started_at));
    r.insert("updated_at".into(), json!(now_iso));
    r.insert("started_at".into(), json!(task.started_at));
    r.insert("completed_at".into(), json!(now_iso));
    r.insert(
        "status_history".into(),
        json!([
            {"status": "running", "timestamp": task.started_at, "note": "Claude Code prompt submitted"},
        ]),
    );
    r
}

/// Closes an ad-hoc record's history with its settled status.
fn finish_history(r: &mut Record, now_iso: &str) {
    let status = r.get("status").cloned().unwrap_or(json!("complete"));
    let outcome = r.get("outcome").cloned().unwrap_or(json!("success"));
    let note = format!(
        "Recorded by modelfit hook ({})",
        outcome.as_str().unwrap_or("success")
    );
    if let Some(Value::Array(h)) = r.get_mut("status_history") {
        h.push(json!({"status": status, "timestamp": now_iso, "note": note}));
    }
}

fn status_of(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "complete",
        Outcome::Failure => "failed",
        Outcome::Partial => "partial",
    }
}

/// Sets an estimated complexity unless the record has one from the
/// orchestrator or a person (whose label is then named as such).
pub(super) fn set_complexity(rec: &mut Record, estimated: &str) {
    let has = rec
        .get("complexity")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty());
    match rec.get("complexity_source").and_then(Value::as_str) {
        None if has => {
            rec.insert("complexity_source".into(), json!("orchestrator"));
        }
        None | Some("estimated") => {
            rec.insert("complexity".into(), json!(estimated));
            rec.insert("complexity_source".into(), json!("estimated"));
        }
        Some(_) => {}
    }
}

/// The hook's change to an existing record, as data: journaled at once and
/// applied to the record as it is when the ledger is next written (so a
/// person's verdict that arrived meanwhile still wins).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettleEdit {
    /// The evidence just read.
    pub fresh: Vec<evidence::Evidence>,
    /// The sources whose earlier evidence `fresh` replaces.
    pub replaces: Vec<String>,
    /// The hook's verdict template (journal form, `store::reflect::verdict_value`).
    pub template: Value,
    /// When (ISO).
    pub now: String,
    /// An estimated complexity level, set unless the record has a better one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<String>,
    /// The record is the hook's own (ad hoc): its status follows the outcome.
    #[serde(default)]
    pub owned: bool,
    /// A person's rating from the next prompt: outcome and score out of ten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<(String, f64)>,
}

impl SettleEdit {
    /// Applies the edit to `rec`.
    pub fn apply(&self, rec: &mut Record) {
        if let Some((o, r)) = &self.rating {
            if let Ok(o) = o.parse::<Outcome>() {
                crate::outcome::apply(rec, &evidence::rating_verdict(o, *r, &self.now), &self.now);
                if let Some(Value::Object(m)) = rec.get_mut("outcome_sources") {
                    if let Some(Value::Object(h)) = m.get_mut("human") {
                        h.insert("rating".into(), json!(r));
                    }
                }
            }
        }
        let Some((template, _)) = store::reflect::verdict_of(&self.template) else {
            return;
        };
        let replaces: Vec<&str> = self.replaces.iter().map(String::as_str).collect();
        let o = evidence::settle(rec, self.fresh.clone(), &replaces, &template, &self.now);
        if let Some(c) = &self.complexity {
            set_complexity(rec, c);
        }
        if self.owned {
            rec.insert("status".into(), json!(status_of(o)));
            rec.insert("completed_at".into(), json!(self.now));
            rec.insert("updated_at".into(), json!(self.now));
        }
    }
}

/// Changes one existing record: the single call through which the hook
/// changes a record (a linked Stop, a refresh, the next prompt's verdict).
/// O(1) in the ledger's size (`store::Ledger::update_deferred`).
pub(super) fn update_record(home: &Home, id: &str, edit: &SettleEdit) -> Result<()> {
    let deferred = store::DeferredEdit {
        settle: Some(serde_json::to_value(edit).expect("settle edits serialize")),
        ..Default::default()
    };
    let written = Ledger::of(home)
        .with_lock_timeout(LOCK_TIMEOUT)
        .update_deferred(id, deferred)?;
    if let Some(why) = written.kept {
        log(home, &format!("hook: {why}"));
    }
    Ok(())
}

/// Appends a new record (an ad-hoc task), journaled first (O(1)).
fn append_record(home: &Home, rec: &Record) -> Result<()> {
    let written = Ledger::of(home)
        .with_lock_timeout(LOCK_TIMEOUT)
        .append_deferred(rec)?;
    if let Some(why) = written.kept {
        log(home, &format!("hook: {why}"));
    }
    Ok(())
}

/// The transcript facts of a task (its main transcript from its start offset).
pub(super) fn task_facts(task: &TaskState) -> evidence::facts::Facts {
    let items = task
        .transcript_path
        .as_deref()
        .map(|p| evidence::lines::read(Path::new(p), task.start_offset))
        .unwrap_or_default();
    evidence::facts::analyze(&items)
}

impl TaskState {
    fn cwd_git(&self) -> Option<(String, Option<String>)> {
        if self.cwd.is_empty() {
            return None;
        }
        git_head(Path::new(&self.cwd))
    }
}
