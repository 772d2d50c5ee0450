//! A task's life in a session: it starts at a prompt (or at a Stop that had
//! none), stops, is refreshed when late transcript lines arrive, and is
//! closed when no Stop came.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::event::{Event, Kind};
use super::link::{find_dispatch, workspace_key};
use super::session::{load_attempts, Session, TaskState};
use super::write::record_task;
use super::{canonical, clean_prompt, file_len, is_regular, log};
use crate::clock;
use crate::error::Result;
use crate::record;
use crate::signals::retry;
use crate::transcript::{self, Summary};

/// How a task ended.
#[derive(Debug, Clone)]
pub(super) enum Ending {
    Stop,
    StopFailure(Option<String>),
    /// No Stop came: closed at the next prompt or at session end.
    Closed(&'static str),
    /// The record exists; recompute its figures (repeated Stop: the turn went on).
    Refresh,
    /// The record exists; recompute its figures but keep its end time (lines
    /// Claude Code wrote after the Stop, a background subagent finishing).
    Late,
}

pub(super) fn start_task(s: &mut Session<'_>, p: &Event, now: DateTime<Utc>) -> Result<()> {
    let raw_prompt = p.prompt.clone().unwrap_or_default();
    let prompt = clean_prompt(&raw_prompt);
    let cwd_raw = p.cwd.clone().or(s.state.cwd.clone()).unwrap_or_default();
    let cwd = canonical(&cwd_raw);
    let transcript_path = p
        .transcript_path
        .clone()
        .or(s.state.transcript_path.clone());
    let start_offset = transcript_path.as_deref().map_or(0, file_len);
    let linked = if cwd.is_empty() {
        None
    } else {
        match find_dispatch(s.home, &cwd, &raw_prompt, &s.state.session_id, now) {
            Ok(found) => found,
            Err(e) => {
                log(s.home, &format!("hook: linking skipped: {e}"));
                None
            }
        }
    };
    let (previous, retry_count) = match load_attempts(s.home) {
        Ok(attempts) => match retry::find_previous(&attempts, &cwd, &prompt, now) {
            Some(a) => (Some(a.id.clone()), a.retry_count + 1),
            None => (None, 0),
        },
        Err(e) => {
            log(s.home, &format!("hook: retry detection skipped: {e}"));
            (None, 0)
        }
    };
    s.state.task = Some(TaskState {
        id: linked
            .clone()
            .unwrap_or_else(|| record::new_dispatch_id(now.timestamp_millis())),
        linked: linked.is_some(),
        prompt,
        prompt_id: p.prompt_id.clone(),
        workspace_key: workspace_key(s.home, &cwd),
        cwd,
        transcript_path,
        started_at: clock::iso(now),
        start_offset,
        previous_dispatch_id: previous,
        retry_count,
        subagents: Vec::new(),
        recorded: false,
        end_offset: start_offset,
        ending: None,
        ending_error: None,
        ended_at: None,
        recorded_tokens: 0,
        last_assistant_message: None,
    });
    Ok(())
}

pub(super) fn stop(s: &mut Session<'_>, p: &Event, now: DateTime<Utc>) -> Result<()> {
    let ending = if p.kind == Kind::StopFailure {
        Ending::StopFailure(p.error.clone())
    } else {
        Ending::Stop
    };
    let path = p
        .transcript_path
        .clone()
        .or(s.state.transcript_path.clone());
    let same_prompt = match (&s.state.task, &p.prompt_id) {
        (Some(t), Some(pid)) => t.prompt_id.as_deref().is_none_or(|tp| tp == pid),
        _ => true,
    };
    match s.state.task.as_ref() {
        Some(t) if !t.recorded => {
            note_message(s, p);
            record_task(s, ending, now)
        }
        Some(t) => {
            // A Stop for a task already recorded: the same prompt again
            // (a blocking Stop hook, a headless repeat), or a new prompt that
            // fired no UserPromptSubmit.
            let new_prompt = !same_prompt
                || (!p.stop_hook_active
                    && path
                        .as_deref()
                        .and_then(|tp| first_prompt(Path::new(tp), t.end_offset))
                        .is_some());
            if new_prompt {
                if begin_unannounced(s, p, path, now) {
                    {
                        note_message(s, p);
                        record_task(s, ending, now)
                    }
                } else {
                    Ok(())
                }
            } else {
                {
                    note_message(s, p);
                    record_task(s, Ending::Refresh, now)
                }
            }
        }
        None => {
            if begin_unannounced(s, p, path, now) {
                {
                    note_message(s, p);
                    record_task(s, ending, now)
                }
            } else {
                Ok(())
            }
        }
    }
}

/// Keeps the Stop payload's `last_assistant_message` with the task: the
/// transcript may not hold the turn's last lines yet.
fn note_message(s: &mut Session<'_>, p: &Event) {
    if let (Some(t), Some(m)) = (s.state.task.as_mut(), p.last_assistant_message.as_ref()) {
        t.last_assistant_message = Some(super::cut(m, 16 * 1024).to_string());
    }
}

/// A task whose UserPromptSubmit never fired (headless runs, a hook added
/// mid-session): it starts where the last recorded task ended.
fn begin_unannounced(
    s: &mut Session<'_>,
    p: &Event,
    path: Option<String>,
    now: DateTime<Utc>,
) -> bool {
    let start_offset = match &s.state.task {
        Some(t) if t.recorded => t.end_offset.max(s.state.next_offset),
        _ => s.state.next_offset,
    };
    let raw = path
        .as_deref()
        .and_then(|tp| first_prompt(Path::new(tp), start_offset))
        .unwrap_or_default();
    let cwd = canonical(&p.cwd.clone().or(s.state.cwd.clone()).unwrap_or_default());
    let started_at = path
        .as_deref()
        .filter(|tp| is_regular(Path::new(tp)))
        .and_then(|tp| transcript::summarize(Path::new(tp), start_offset, None).ok())
        .and_then(|sum| sum.first_timestamp)
        .unwrap_or_else(|| clock::iso(now));
    let task = TaskState {
        id: record::new_dispatch_id(now.timestamp_millis()),
        linked: false,
        prompt: clean_prompt(&raw),
        prompt_id: p.prompt_id.clone(),
        workspace_key: workspace_key(s.home, &cwd),
        cwd,
        transcript_path: path,
        started_at,
        start_offset,
        ..TaskState::default()
    };
    // A Stop with neither a prompt nor an API response since the last task
    // (a resumed session's bookkeeping, an empty turn) is no task.
    if task.prompt.is_empty() && summarize_task(&task).responses == 0 {
        return false;
    }
    s.state.task = Some(task);
    true
}

/// Claude Code writes the transcript asynchronously: lines of the last turn
/// can land after its Stop ran. At the next prompt everything up to the
/// transcript's current end belongs to the recorded task, so its figures are
/// recomputed (its end time kept) when they changed.
pub(super) fn refine_recorded(s: &mut Session<'_>, now: DateTime<Utc>) {
    let Some(task) = s.state.task.as_ref().filter(|t| t.recorded) else {
        return;
    };
    let grown = task
        .transcript_path
        .as_deref()
        .is_some_and(|p| file_len(p) > task.end_offset);
    if !grown || summarize_task(task).total().total() == task.recorded_tokens {
        return;
    }
    if let Err(e) = record_task(s, Ending::Late, now) {
        log(s.home, &format!("hook: cannot refine the last task: {e}"));
    }
}

pub(super) fn close_open_task(
    s: &mut Session<'_>,
    now: DateTime<Utc>,
    why: &'static str,
) -> Result<()> {
    match &s.state.task {
        Some(t) if !t.recorded => record_task(s, Ending::Closed(why), now),
        _ => Ok(()),
    }
}

/// What the transcript says about a task, with subagent files added.
pub(super) fn summarize_task(task: &TaskState) -> Summary {
    let Some(path) = task.transcript_path.as_deref().map(Path::new) else {
        return Summary::default();
    };
    let mut sum = if is_regular(path) {
        transcript::summarize(path, task.start_offset, Some(&task.started_at)).unwrap_or_default()
    } else {
        Summary::default()
    };
    // summarize() already reads <session>/subagents/** and the legacy
    // agent-*.jsonl files beside the transcript; only subagent files reported
    // elsewhere (another layout) are added here.
    let own_dir = path.with_extension("").join("subagents");
    let legacy = |agent: &Path| {
        agent.parent() == path.parent()
            && agent
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("agent-"))
    };
    for agent in &task.subagents {
        let agent = Path::new(agent);
        if agent.starts_with(&own_dir) || legacy(agent) || !is_regular(agent) {
            continue;
        }
        if let Ok(extra) = transcript::summarize(agent, 0, Some(&task.started_at)) {
            let end = sum.end_offset;
            sum.merge(&extra);
            sum.end_offset = end; // offsets of another file mean nothing here
        }
    }
    sum
}

/// The first human prompt in the transcript at or after `offset`, read
/// within the next 4 MB (prompts of headless runs that fired no
/// UserPromptSubmit).
pub(super) fn first_prompt(path: &Path, offset: u64) -> Option<String> {
    use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
    // Regular files only, opened non-blocking, and never past the size seen
    // now (a /proc file reports 0 and would block on read).
    let mut f = crate::readfile::open_regular(path).ok()?;
    let len = f.metadata().ok()?.len();
    if offset >= len {
        return None;
    }
    f.seek(SeekFrom::Start(offset)).ok()?;
    let want = crate::readfile::allow((len - offset).min(4 << 20) as usize) as u64;
    let reader = BufReader::new(f.take(want));
    for line in reader.split(b'\n').map_while(|l| l.ok()) {
        if !line.windows(6).any(|w| w == b"\"user\"") {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if v.get("type").and_then(Value::as_str) != Some("user")
            || v.get("isMeta").and_then(Value::as_bool) == Some(true)
            || v.get("isCompactSummary").and_then(Value::as_bool) == Some(true)
        {
            continue;
        }
        let content = v.pointer("/message/content");
        let text = match content {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => continue,
        };
        let t = text.trim_start();
        if t.is_empty() || t.starts_with('<') || t.starts_with("[Request interrupted") {
            continue;
        }
        return Some(text);
    }
    None
}
