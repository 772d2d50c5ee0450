//! `modelfit hook`: Claude Code hook payloads → task start / stop / link.
//!
//! One payload arrives on stdin per run. The hook keeps per-session state
//! under `logs/modelfit/sessions/` (the task in flight: when it started, the
//! transcript offset it started at, the dispatch it is linked to) and writes
//! finished tasks to the ledger:
//!
//! * `SessionStart` remembers the session.
//! * `UserPromptSubmit` starts a task (closing an earlier one that never got a
//!   Stop, e.g. after Esc), links it to a running orchestrator dispatch of the
//!   same workspace or makes it ad hoc, and detects retries.
//! * `Stop` / `StopFailure` read the transcript from the task's start offset
//!   and write time, tokens, cost, models, files, errors, git HEAD and the
//!   implicit outcome. A repeated Stop for the same prompt refreshes the same
//!   record (cumulative figures, never added twice).
//! * `SubagentStop` attaches the subagent's transcript to the task.
//! * `SessionEnd` closes a task left open and removes the session's state.
//!
//! The hook never harms Claude Code: it prints nothing, always exits 0, and
//! logs its errors to `logs/modelfit/modelfit.log`.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::clock;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::outcome::{self, Outcome, Source, Verdict};
use crate::record::{self, Record};
use crate::signals::retry::{self, Attempt};
use crate::store::{self, Ledger};
use crate::transcript::{self, Summary, Tokens};

/// Largest payload read from stdin; the rest is read and discarded so Claude
/// Code never blocks on a full pipe.
pub const STDIN_CAP: usize = 16 << 20;

/// How long the hook waits for any lock: well inside Claude Code's limits
/// (SessionEnd hooks share a 1.5 s budget by default).
pub const LOCK_TIMEOUT: Duration = Duration::from_millis(1200);

/// Longest prompt text kept in state and in the ledger, in bytes.
pub const PROMPT_CAP: usize = 64 * 1024;

/// The error log is cut to its newest half beyond this size.
pub const LOG_CAP: u64 = 1 << 20;

/// Session state untouched for this long is swept.
pub const STATE_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A dispatch counts as "recently marked running" for this long.
pub const LINK_WINDOW_HOURS: i64 = 12;

/// Reads stdin to EOF, keeping at most [`STDIN_CAP`] bytes. Returns the bytes
/// and whether some were discarded.
pub fn read_capped(mut input: impl Read) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let _ = (&mut input).take(STDIN_CAP as u64).read_to_end(&mut buf);
    let mut sink = [0u8; 64 * 1024];
    let mut dropped = false;
    loop {
        match input.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => dropped = true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    (buf, dropped)
}

/// Handles one payload. Errors are logged, never returned: the hook's caller
/// exits 0 whatever happens. Returns the one line the caller may print on
/// stdout: the optional rating reminder after a `Stop`, as a `systemMessage`
/// (shown to the person, never given to the model). Nothing otherwise.
pub fn run(home: &Home, bytes: &[u8], truncated: bool) -> Option<String> {
    let result = if truncated {
        Err(Error::Invalid(format!(
            "payload larger than {} MB ignored",
            STDIN_CAP >> 20
        )))
    } else {
        handle(home, bytes)
    };
    match result {
        Ok(message) => message,
        Err(e) => {
            log(home, &format!("hook: {e}"));
            None
        }
    }
}

/// Appends one timestamped line to `logs/modelfit/modelfit.log`, keeping the
/// file under [`LOG_CAP`] (the older half is dropped). Never fails.
pub fn log(home: &Home, message: &str) {
    let path = home.log_file();
    // Never through a symbolic link (store: safe_fs); then stderr only.
    if crate::safe_fs::ensure_dir(&home.logs_dir(), &home.state_dir()).is_err() {
        eprintln!("modelfit: {message}");
        return;
    }
    if fs::metadata(&path).is_ok_and(|m| m.len() > LOG_CAP) {
        if let Ok(bytes) = fs::read(&path) {
            let half = bytes.len() / 2;
            let cut = bytes[half..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| half + i + 1);
            let _ = store::write_atomic(&path, &bytes[cut..]);
        }
    }
    let one_line = message.replace('\n', " ");
    let line = format!("[{}] {}\n", clock::now_iso(), one_line);
    match crate::safe_fs::open(&path, crate::safe_fs::Mode::Append) {
        Ok(mut f) => {
            let _ = f.write_all(line.as_bytes());
        }
        Err(e) => eprintln!("modelfit: {e}; {one_line}"),
    }
}

// ---------------------------------------------------------------------------
// Payload

/// The fields of a payload the hook uses; anything of the wrong type counts as missing.
struct Payload {
    event: String,
    session_id: Option<String>,
    transcript_path: Option<String>,
    cwd: Option<String>,
    prompt: Option<String>,
    prompt_id: Option<String>,
    model: Option<String>,
    source: Option<String>,
    stop_hook_active: bool,
    error: Option<String>,
    agent_transcript_path: Option<String>,
}

impl Payload {
    fn parse(bytes: &[u8]) -> Result<Payload> {
        let text = String::from_utf8_lossy(bytes);
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("payload is not JSON ({e})")))?;
        let Value::Object(m) = v else {
            return Err(Error::Invalid("payload is not a JSON object".into()));
        };
        let s = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let model = match m.get("model") {
            Some(Value::String(s)) => Some(s.clone()),
            // Newer versions may send {"id": …, "display_name": …}.
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        let error = match m.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        Ok(Payload {
            event: s("hook_event_name").unwrap_or_default(),
            session_id: s("session_id"),
            transcript_path: s("transcript_path"),
            cwd: s("cwd"),
            prompt: m.get("prompt").and_then(Value::as_str).map(str::to_string),
            prompt_id: s("prompt_id"),
            model,
            source: s("source"),
            stop_hook_active: m.get("stop_hook_active").and_then(Value::as_bool) == Some(true),
            error,
            agent_transcript_path: s("agent_transcript_path"),
        })
    }
}

// ---------------------------------------------------------------------------
// State

/// What the hook remembers about one Claude Code session.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct SessionState {
    session_id: String,
    model: Option<String>,
    source: Option<String>,
    cwd: Option<String>,
    transcript_path: Option<String>,
    started_at: Option<String>,
    /// Where the next task without a UserPromptSubmit starts reading.
    next_offset: u64,
    task: Option<TaskState>,
}

/// The current (or last) task of a session.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
struct TaskState {
    /// Ledger id: the linked dispatch, or the ad-hoc record's id.
    id: String,
    linked: bool,
    prompt: String,
    prompt_id: Option<String>,
    cwd: String,
    workspace_key: Option<String>,
    transcript_path: Option<String>,
    started_at: String,
    start_offset: u64,
    previous_dispatch_id: Option<String>,
    retry_count: u64,
    /// Subagent transcripts reported by SubagentStop.
    subagents: Vec<String>,
    /// The ledger holds this task (a Stop or a close wrote it).
    recorded: bool,
    end_offset: u64,
    /// How it ended the first time (`Stop`, `StopFailure`, `next prompt`,
    /// `session end`) and the error, so a refresh keeps the verdict's basis.
    ending: Option<String>,
    ending_error: Option<String>,
    /// When the record says the task ended (ISO).
    ended_at: Option<String>,
    /// `tokens_used` as last written, to notice late transcript lines.
    recorded_tokens: u64,
}

/// A file name for a session id: the id itself when it is a plain
/// `[A-Za-z0-9-]` string of sane length, else a hash of it. Payload strings
/// are hostile; this is the only way one becomes part of a path.
pub fn session_file_stem(session_id: &str) -> String {
    let plain = !session_id.is_empty()
        && session_id.len() <= 64
        && session_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if plain {
        session_id.to_string()
    } else {
        format!("h-{}", crate::signals::task_fingerprint(session_id))
    }
}

struct Session<'h> {
    home: &'h Home,
    path: PathBuf,
    _lock: FileLock,
    state: SessionState,
}

impl<'h> Session<'h> {
    fn open(home: &'h Home, session_id: &str) -> Result<Session<'h>> {
        let dir = home.sessions_dir();
        crate::safe_fs::ensure_dir(&home.logs_dir(), &dir)?;
        let stem = session_file_stem(session_id);
        let lock = FileLock::acquire(&dir.join(format!("{stem}.lock")), LOCK_TIMEOUT)?;
        let path = dir.join(format!("{stem}.json"));
        let state = match fs::read(&path) {
            Ok(b) => serde_json::from_slice::<SessionState>(&b).unwrap_or_else(|e| {
                log(
                    home,
                    &format!("hook: {} unreadable ({e}); starting afresh", path.display()),
                );
                SessionState::default()
            }),
            // A session that ended and comes back (`--resume` firing no
            // SessionStart): start where it ended, never at 0.
            Err(_) => SessionState {
                next_offset: ended_offset(home, &stem).unwrap_or(0),
                ..SessionState::default()
            },
        };
        let mut s = Session {
            home,
            path,
            _lock: lock,
            state,
        };
        s.state.session_id = session_id.to_string();
        Ok(s)
    }

    fn save(&self) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.state).expect("state serializes");
        replace_file(&self.path, &bytes)
    }

    fn remove(self) {
        let _ = fs::remove_file(&self.path);
        let lock = self.path.with_extension("lock");
        let _ = fs::remove_file(lock);
    }
}

/// Where ended sessions stopped: `logs/modelfit/sessions/ended.json`, a map
/// of session file stem → `{offset, at}`, kept 7 days.
fn ended_path(home: &Home) -> PathBuf {
    home.sessions_dir().join("ended.json")
}

fn ended_offset(home: &Home, stem: &str) -> Option<u64> {
    let v: Value = serde_json::from_slice(&fs::read(ended_path(home)).ok()?).ok()?;
    v.get(stem)?.get("offset")?.as_u64()
}

fn remember_end(home: &Home, stem: &str, offset: u64, now: DateTime<Utc>) -> Result<()> {
    let path = ended_path(home);
    let _lock = FileLock::acquire(&path.with_extension("lock"), LOCK_TIMEOUT)?;
    let mut map = fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Map<String, Value>>(&b).ok())
        .unwrap_or_default();
    let horizon = now - chrono::Duration::from_std(STATE_MAX_AGE).expect("7 days fit");
    map.retain(|_, v| {
        v.get("at")
            .and_then(Value::as_str)
            .and_then(clock::parse)
            .is_some_and(|t| t > horizon)
    });
    map.insert(
        stem.to_string(),
        json!({"offset": offset, "at": clock::iso(now)}),
    );
    replace_file(&path, &serde_json::to_vec(&map).expect("serializes"))
}

/// An exclusive `flock` on a file, released on drop.
pub struct FileLock(#[allow(dead_code)] File);

impl FileLock {
    /// Takes the lock, waiting up to `timeout`.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<FileLock> {
        crate::lockfile::acquire(path, timeout).map(FileLock)
    }
}

// ---------------------------------------------------------------------------
// Events

fn handle(home: &Home, bytes: &[u8]) -> Result<Option<String>> {
    let p = Payload::parse(bytes)?;
    let known = matches!(
        p.event.as_str(),
        "SessionStart"
            | "UserPromptSubmit"
            | "Stop"
            | "StopFailure"
            | "SubagentStop"
            | "SessionEnd"
    );
    if !known {
        return Ok(None); // unknown or uninteresting events: quietly nothing
    }
    let Some(sid) = p.session_id.clone() else {
        return Err(Error::Invalid(format!(
            "{} payload without a session_id: ignored",
            p.event
        )));
    };
    let now = clock::now();
    let mut s = Session::open(home, &sid)?;
    if s.state.transcript_path.is_none() {
        s.state.transcript_path = p.transcript_path.clone();
    }
    match p.event.as_str() {
        "SessionStart" => {
            s.state.model = p.model.clone().or(s.state.model.take());
            s.state.source = p.source.clone();
            s.state.cwd = p.cwd.clone();
            s.state.transcript_path = p.transcript_path.clone();
            s.state.started_at.get_or_insert_with(|| clock::iso(now));
            if s.state.task.is_none() {
                s.state.next_offset = p.transcript_path.as_deref().map_or(0, file_len);
            }
            s.save()?;
            sweep(home, now);
        }
        "UserPromptSubmit" => {
            refine_recorded(&mut s, now);
            close_open_task(&mut s, now, "next prompt")?;
            start_task(&mut s, &p, now)?;
            s.save()?;
        }
        "Stop" | "StopFailure" => {
            stop(&mut s, &p, now)?;
            s.save()?;
            // StopFailure discards hook output; a Stop shows a systemMessage.
            if p.event == "Stop" {
                if let Some(task) = s.state.task.as_ref().filter(|t| t.recorded) {
                    return Ok(crate::explicit::stop_reminder(home, &task.id));
                }
            }
        }
        "SubagentStop" => {
            if let (Some(task), Some(path)) =
                (s.state.task.as_mut(), p.agent_transcript_path.as_ref())
            {
                if !task.subagents.contains(path) {
                    task.subagents.push(path.clone());
                }
                let refresh = task.recorded;
                s.save()?;
                if refresh {
                    // A subagent that finished after the Stop (background agent):
                    // the record is recomputed, never added to.
                    record_task(&mut s, Ending::Late, now)?;
                    s.save()?;
                }
            }
        }
        "SessionEnd" => {
            close_open_task(&mut s, now, "session end")?;
            let end = s
                .state
                .task
                .as_ref()
                .map_or(0, |t| t.end_offset)
                .max(s.state.next_offset);
            if let Err(e) = remember_end(home, &session_file_stem(&sid), end, now) {
                log(home, &format!("hook: {e}"));
            }
            s.remove();
            sweep(home, now);
        }
        _ => {}
    }
    Ok(None)
}

/// How a task ended.
#[derive(Debug, Clone)]
enum Ending {
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

fn start_task(s: &mut Session<'_>, p: &Payload, now: DateTime<Utc>) -> Result<()> {
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
    });
    Ok(())
}

fn stop(s: &mut Session<'_>, p: &Payload, now: DateTime<Utc>) -> Result<()> {
    let ending = if p.event == "StopFailure" {
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
        Some(t) if !t.recorded => record_task(s, ending, now),
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
                    record_task(s, ending, now)
                } else {
                    Ok(())
                }
            } else {
                record_task(s, Ending::Refresh, now)
            }
        }
        None => {
            if begin_unannounced(s, p, path, now) {
                record_task(s, ending, now)
            } else {
                Ok(())
            }
        }
    }
}

/// A task whose UserPromptSubmit never fired (headless runs, a hook added
/// mid-session): it starts where the last recorded task ended.
fn begin_unannounced(
    s: &mut Session<'_>,
    p: &Payload,
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
fn refine_recorded(s: &mut Session<'_>, now: DateTime<Utc>) {
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

fn close_open_task(s: &mut Session<'_>, now: DateTime<Utc>, why: &'static str) -> Result<()> {
    match &s.state.task {
        Some(t) if !t.recorded => record_task(s, Ending::Closed(why), now),
        _ => Ok(()),
    }
}

/// What the transcript says about a task, with subagent files added.
fn summarize_task(task: &TaskState) -> Summary {
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

/// Writes (or refreshes) the task's record in the ledger.
fn record_task(s: &mut Session<'_>, ending: Ending, now: DateTime<Utc>) -> Result<()> {
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
    let (outcome, mut note) = match &ending {
        Ending::StopFailure(err) => (
            Outcome::Failure,
            Some(format!(
                "StopFailure: {}",
                err.as_deref().unwrap_or("API error")
            )),
        ),
        Ending::Closed(why) => (
            Outcome::Partial,
            Some(format!(
                "no Stop hook fired before the {why} (interrupted with Esc?); usage up to then"
            )),
        ),
        // Retried requests that then succeeded are not failures.
        Ending::Stop | Ending::Refresh | Ending::Late if final_api_errors > 0 => (
            Outcome::Failure,
            Some(format!("{final_api_errors} API error(s) in the transcript")),
        ),
        Ending::Stop | Ending::Refresh | Ending::Late if sum.interrupted => (
            Outcome::Partial,
            Some("interrupted by the user".to_string()),
        ),
        _ => (Outcome::Success, None),
    };
    note = note.map(|n| crate::signals::redact(&n));

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

    let mut verdict = Verdict::new(outcome, Source::Hook);
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

    let ledger = Ledger::of(home).with_lock_timeout(LOCK_TIMEOUT);
    let status = match outcome {
        Outcome::Success => "complete",
        Outcome::Failure => "failed",
        Outcome::Partial => "partial",
    };
    if task.recorded || task.linked {
        // Journaled now, applied to the record when the ledger is next
        // written: O(1) in the ledger's size (store::Ledger::update_deferred).
        let mut set = Record::new();
        if !task.linked {
            set.insert("status".into(), json!(status));
            set.insert("completed_at".into(), json!(now_iso));
            set.insert("updated_at".into(), json!(now_iso));
        }
        let edit = store::DeferredEdit {
            set,
            verdict: Some((verdict.clone(), now_iso.clone())),
        };
        if let Some(why) = ledger.update_deferred(&task.id, edit)?.kept {
            log(home, &format!("hook: {why}"));
        }
    } else {
        let rec = adhoc_record(s, &task, main_model.as_deref(), status, &now_iso, &verdict);
        if let Some(why) = ledger.append_deferred(&rec)?.kept {
            log(home, &format!("hook: {why}"));
        }
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

/// An ad-hoc task's record, shaped by interop checklist item 7.
fn adhoc_record(
    s: &Session<'_>,
    task: &TaskState,
    model: Option<&str>,
    status: &str,
    now_iso: &str,
    verdict: &Verdict,
) -> Record {
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
    r.insert("status".into(), json!(status));
    r.insert("created_at".into(), json!(task.started_at));
    r.insert("updated_at".into(), json!(now_iso));
    r.insert("started_at".into(), json!(task.started_at));
    r.insert("completed_at".into(), json!(now_iso));
    r.insert(
        "status_history".into(),
        json!([
            {"status": "running", "timestamp": task.started_at, "note": "Claude Code prompt submitted"},
            {"status": status, "timestamp": now_iso, "note": format!("Recorded by modelfit hook ({})", verdict.outcome)},
        ]),
    );
    outcome::apply(&mut r, verdict, now_iso);
    r
}

impl TaskState {
    fn cwd_git(&self) -> Option<(String, Option<String>)> {
        if self.cwd.is_empty() {
            return None;
        }
        git_head(Path::new(&self.cwd))
    }
}

// ---------------------------------------------------------------------------
// Linking to orchestrator dispatches

#[derive(Deserialize, Default)]
#[serde(default)]
struct LinkView {
    id: Value,
    workspace_path: Value,
    status: Value,
    task: Value,
    original_task: Value,
    session_id: Value,
    status_history: Value,
}

/// The running dispatch this prompt executes, if any: exact canonical
/// `workspace_path` == `cwd`, `status: "running"`, its latest `running`
/// history entry within [`LINK_WINDOW_HOURS`], not already claimed by another
/// session. The prompt equal to `task` (or `original_task`) wins; otherwise
/// the most recently started candidate.
fn find_dispatch(
    home: &Home,
    cwd: &str,
    prompt: &str,
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let ledger = Ledger::of(home);
    // Only records whose text holds `/<last component of cwd>"` can match:
    // find those bytes first, then parse just the records around them, so a
    // prompt costs one read of the ledger, not a parse of it.
    let base = Path::new(cwd)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base.is_empty() {
        return Ok(None);
    }
    let escaped = serde_json::to_string(&base).unwrap_or_default();
    let needle = format!("/{}", escaped.trim_start_matches('"'));
    let hits = match_offsets(ledger.path(), needle.as_bytes());
    if hits.as_ref().is_some_and(Vec::is_empty) {
        return Ok(None);
    }
    let prompt = prompt.trim();
    let mut best: Option<(bool, DateTime<Utc>, String)> = None;
    let mut consider = |r: LinkView| {
        let (Some(id), Some(wp), Some("running")) =
            (r.id.as_str(), r.workspace_path.as_str(), r.status.as_str())
        else {
            return true;
        };
        if r.session_id.as_str().is_some_and(|s| s != session_id) {
            return true;
        }
        if canonical(wp) != cwd {
            return true;
        }
        let running_at = r
            .status_history
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h.get("status").and_then(Value::as_str) == Some("running"))
            .filter_map(|h| {
                h.get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(clock::parse)
            })
            .max();
        let Some(at) = running_at else { return true };
        if now - at > chrono::Duration::hours(LINK_WINDOW_HOURS)
            || at - now > chrono::Duration::minutes(5)
        {
            return true;
        }
        let exact = [r.task.as_str(), r.original_task.as_str()]
            .into_iter()
            .flatten()
            .any(|t| !prompt.is_empty() && t.trim() == prompt);
        let better = match &best {
            None => true,
            Some((e, t, _)) => (exact, at) > (*e, *t),
        };
        if better {
            best = Some((exact, at, id.to_string()));
        }
        true
    };
    match hits.and_then(|h| records_around(ledger.path(), &h)) {
        Some(records) => {
            for raw in records {
                if let Ok(r) = serde_json::from_slice::<LinkView>(&raw) {
                    consider(r);
                }
            }
        }
        // Not in the orchestrator's layout (or unreadable): parse it all.
        None => ledger.for_each(&mut consider)?,
    }
    Ok(best.map(|(_, _, id)| id))
}

/// Byte offsets of `needle` in the file at `path`, read in 1 MB chunks
/// (memory stays flat whatever the ledger's size). A missing file has none;
/// `None` when the file cannot be read (let the full scan decide).
fn match_offsets(path: &Path, needle: &[u8]) -> Option<Vec<u64>> {
    let re = regex::bytes::Regex::new(&regex::escape(&String::from_utf8_lossy(needle))).ok()?;
    // Regular files only, never blocking on a FIFO (store::open_read).
    let mut f = match store::open_read(path) {
        Ok(Some(f)) => f,
        Ok(None) => return Some(Vec::new()),
        Err(_) => return Some(Vec::new()),
    };
    let keep = needle.len().saturating_sub(1);
    let mut buf = vec![0u8; (1 << 20) + keep];
    let mut filled = 0usize;
    let mut base = 0u64; // file offset of buf[0]
    let mut hits = Vec::new();
    loop {
        let n = match f.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        filled += n;
        if n == 0 || filled == buf.len() {
            // A match cannot fit in the kept tail alone, so none is seen twice.
            hits.extend(
                re.find_iter(&buf[..filled])
                    .map(|m| base + m.start() as u64),
            );
            if hits.len() > 10_000 {
                return None;
            }
            if n == 0 {
                return Some(hits);
            }
            buf.copy_within(filled - keep..filled, 0);
            base += (filled - keep) as u64;
            filled = keep;
        }
    }
}

/// The top-level records around `hits`, relying on the orchestrator's layout
/// (`JSON.stringify(…, null, 2)`: each record opens with `\n  {` and closes
/// with `\n  }`, deeper objects are indented further). `None` when a hit's
/// record cannot be delimited that way within 1 MB either side.
fn records_around(path: &Path, hits: &[u64]) -> Option<Vec<Vec<u8>>> {
    use std::os::unix::fs::FileExt;
    const SPAN: u64 = 1 << 20;
    let f = store::open_read(path).ok()??;
    let len = f.metadata().ok()?.len();
    let mut out = Vec::new();
    let mut covered_to = 0u64;
    for &hit in hits {
        if hit < covered_to {
            continue; // inside the record already taken
        }
        let from = hit.saturating_sub(SPAN);
        let to = (hit + SPAN).min(len);
        let mut window = vec![0u8; (to - from) as usize];
        f.read_exact_at(&mut window, from).ok()?;
        let at = (hit - from) as usize;
        let start = window[..at]
            .windows(4)
            .rposition(|w| w == b"\n  {")
            .map(|i| i + 3)?;
        let end = window[at..]
            .windows(4)
            .position(|w| w == b"\n  }")
            .map(|i| at + i + 4)?;
        out.push(window[start..end].to_vec());
        covered_to = from + end as u64;
    }
    Some(out)
}

/// The `workspaces.json` key whose path is `cwd`, if any.
fn workspace_key(home: &Home, cwd: &str) -> Option<String> {
    if cwd.is_empty() {
        return None;
    }
    let bytes = fs::read(home.workspaces()).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("workspaces")?
        .as_object()?
        .iter()
        .find(|(_, w)| {
            w.get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| canonical(p) == cwd)
        })
        .map(|(k, _)| k.clone())
}

// ---------------------------------------------------------------------------
// Retry memory

fn load_attempts(home: &Home) -> Result<Vec<Attempt>> {
    match fs::read(home.recent_tasks()) {
        Ok(b) => Ok(serde_json::from_slice(&b).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("cannot read", home.recent_tasks(), e)),
    }
}

fn remember_attempt(home: &Home, attempt: Attempt, now: DateTime<Utc>) -> Result<()> {
    let path = home.recent_tasks();
    let _lock = FileLock::acquire(&path.with_extension("lock"), LOCK_TIMEOUT)?;
    let mut all = load_attempts(home)?;
    all.retain(|a| a.id != attempt.id);
    all.push(attempt);
    retry::prune(&mut all, now);
    replace_file(
        &path,
        &serde_json::to_vec(&all).expect("attempts serialize"),
    )
}

// ---------------------------------------------------------------------------
// Learn hand-off

/// Bookkeeping of the background `learn` runs the hook starts.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Handoff {
    /// Outcomes recorded by the hook since the last learn run was started.
    pub outcomes_since_learn: u64,
    /// When the hook last started `modelfit learn` (ISO).
    pub last_started_at: Option<String>,
    /// Its process id.
    pub pid: Option<u32>,
}

impl Handoff {
    /// Reads `logs/modelfit/learn-handoff.json` (defaults when absent or unreadable).
    pub fn load(home: &Home) -> Handoff {
        fs::read(home.learn_handoff())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Whether the learn run it started is still alive.
    pub fn running(&self) -> bool {
        self.pid.is_some_and(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("learn"))
        })
    }
}

fn hand_off(home: &Home, now: DateTime<Utc>) {
    let every = crate::settings::Settings::load(home).learn_every as u64;
    let path = home.learn_handoff();
    let Ok(_lock) = FileLock::acquire(&path.with_extension("lock"), LOCK_TIMEOUT) else {
        log(home, "hook: learn hand-off skipped: its lock is busy");
        return;
    };
    let mut h = Handoff::load(home);
    h.outcomes_since_learn += 1;
    if every > 0 && h.outcomes_since_learn >= every && !h.running() {
        match spawn_learn(home) {
            Ok(pid) => {
                h.outcomes_since_learn = 0;
                h.last_started_at = Some(clock::iso(now));
                h.pid = Some(pid);
            }
            Err(e) => log(home, &format!("hook: cannot start modelfit learn: {e}")),
        }
    }
    if let Err(e) = replace_file(&path, &serde_json::to_vec_pretty(&h).expect("serializes")) {
        log(home, &format!("hook: {e}"));
    }
}

/// Starts `modelfit learn` fully detached: a new session, no inherited stdio.
fn spawn_learn(home: &Home) -> std::io::Result<u32> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--home")
        .arg(home.root())
        .arg("learn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(child.id())
}

// ---------------------------------------------------------------------------
// Housekeeping and small helpers

/// Replaces `path` atomically (temporary file in the same directory, then
/// rename) without syncing: the hook's own state is a cache whose loss in a
/// power cut costs at most one task's figures, while every fsync would add
/// milliseconds to each prompt. The ledger itself is always synced.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let res = fs::write(&tmp, bytes).and_then(|_| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(|e| Error::io("cannot write", path, e))
}

/// Removes session state untouched for [`STATE_MAX_AGE`].
fn sweep(home: &Home, _now: DateTime<Utc>) {
    let Ok(dir) = fs::read_dir(home.sessions_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > STATE_MAX_AGE);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Redacts a prompt and caps its length (redacting first, so a cut never
/// leaves half a secret: a private key block cut short is redacted to the end).
fn clean_prompt(raw: &str) -> String {
    let head = cut(raw, PROMPT_CAP + 8192);
    let red = crate::signals::redact(head);
    if raw.len() > PROMPT_CAP || red.len() > PROMPT_CAP {
        format!(
            "{}…[truncated by modelfit: {} bytes in all]",
            cut(&red, PROMPT_CAP),
            raw.len()
        )
    } else {
        red
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

fn canonical(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    fs::canonicalize(p)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| p.trim_end_matches('/').to_string())
}

fn file_len(p: &str) -> u64 {
    fs::metadata(p)
        .map(|m| if m.is_file() { m.len() } else { 0 })
        .unwrap_or(0)
}

fn is_regular(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file())
}

/// The first human prompt in the transcript at or after `offset`, read
/// within the next 4 MB (prompts of headless runs that fired no
/// UserPromptSubmit).
fn first_prompt(path: &Path, offset: u64) -> Option<String> {
    use std::io::{BufRead, BufReader, Seek, SeekFrom};
    if !is_regular(path) {
        return None;
    }
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let reader = BufReader::new(f.take(4 << 20));
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

// ---------------------------------------------------------------------------
// Git HEAD without spawning git

/// The commit and branch checked out in the repository containing `dir`,
/// read from `.git` directly (HEAD → ref → loose ref or `packed-refs`;
/// worktrees and `gitdir:` files; a detached HEAD has no branch).
pub fn git_head(dir: &Path) -> Option<(String, Option<String>)> {
    let mut cur = Some(dir);
    let mut depth = 0;
    while let Some(d) = cur {
        let dotgit = d.join(".git");
        if let Ok(meta) = fs::metadata(&dotgit) {
            let gitdir = if meta.is_dir() {
                dotgit
            } else {
                let text = read_git_file(&dotgit).ok()?;
                let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
                let p = Path::new(target);
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    d.join(p)
                }
            };
            return read_head(&gitdir);
        }
        depth += 1;
        if depth > 64 {
            return None;
        }
        cur = d.parent();
    }
    None
}

/// Reads a file of a git directory: regular files only (a FIFO planted in a
/// hostile checkout would block the hook), at most 64 MB.
fn read_git_file(path: &Path) -> std::io::Result<String> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() || meta.len() > 64 << 20 {
        return Err(std::io::Error::other("not a small regular file"));
    }
    fs::read_to_string(path)
}

fn read_head(gitdir: &Path) -> Option<(String, Option<String>)> {
    let common = read_git_file(&gitdir.join("commondir"))
        .ok()
        .map(|c| {
            let p = Path::new(c.trim());
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                gitdir.join(p)
            }
        })
        .unwrap_or_else(|| gitdir.to_path_buf());
    let head = read_git_file(&gitdir.join("HEAD")).ok()?;
    let mut head = head.trim().to_string();
    let mut branch = None;
    for _ in 0..5 {
        match head.strip_prefix("ref:") {
            Some(r) => {
                let r = r.trim().to_string();
                if !r.starts_with("refs/") || r.contains("..") {
                    return None;
                }
                if branch.is_none() {
                    branch = Some(r.strip_prefix("refs/heads/").unwrap_or(&r).to_string());
                }
                head = resolve_ref(gitdir, &common, &r)?;
            }
            None => break,
        }
    }
    let is_sha =
        (head.len() == 40 || head.len() == 64) && head.bytes().all(|b| b.is_ascii_hexdigit());
    is_sha.then_some((head, branch))
}

fn resolve_ref(gitdir: &Path, common: &Path, r: &str) -> Option<String> {
    for base in [gitdir, common] {
        if let Ok(text) = read_git_file(&base.join(r)) {
            return Some(text.trim().to_string());
        }
    }
    let packed = read_git_file(&common.join("packed-refs")).ok()?;
    packed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .find_map(|l| {
            let (sha, name) = l.split_once(' ')?;
            (name.trim() == r).then(|| sha.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_session_ids_become_safe_names() {
        assert_eq!(session_file_stem("abc-123"), "abc-123");
        let s = session_file_stem("../../etc/passwd");
        assert!(s.starts_with("h-") && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert!(session_file_stem(&"a".repeat(65)).starts_with("h-"));
        assert!(session_file_stem("").starts_with("h-"));
    }

    #[test]
    fn the_log_stays_bounded_and_timestamped() {
        let t = tempfile::tempdir().unwrap();
        let home = Home::at(t.path());
        let line = "x".repeat(1000);
        for _ in 0..1500 {
            log(&home, &line);
        }
        let text = fs::read_to_string(home.log_file()).unwrap();
        assert!(text.len() as u64 <= LOG_CAP + 2048, "{}", text.len());
        assert!(text
            .lines()
            .all(|l| l.starts_with("[20") && l.ends_with(&line)));
        log(&home, "two\nlines");
        assert!(fs::read_to_string(home.log_file())
            .unwrap()
            .ends_with("two lines\n"));
    }

    #[test]
    fn prompt_cap_keeps_char_boundaries() {
        let long = "é".repeat(PROMPT_CAP);
        let c = clean_prompt(&long);
        assert!(c.len() < PROMPT_CAP + 100);
        assert!(c.contains("truncated by modelfit"));
    }

    #[test]
    fn git_head_reads_loose_packed_detached_and_worktrees() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("r");
        let g = repo.join(".git");
        fs::create_dir_all(g.join("refs/heads")).unwrap();
        let sha = "0123456789abcdef0123456789abcdef01234567";
        fs::write(g.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(g.join("refs/heads/main"), format!("{sha}\n")).unwrap();
        fs::create_dir_all(repo.join("src/deep")).unwrap();
        assert_eq!(
            git_head(&repo.join("src/deep")),
            Some((sha.to_string(), Some("main".to_string())))
        );
        // packed
        fs::remove_file(g.join("refs/heads/main")).unwrap();
        fs::write(
            g.join("packed-refs"),
            format!("# pack-refs with: peeled\n{sha} refs/heads/main\n^ffff\n"),
        )
        .unwrap();
        assert_eq!(git_head(&repo).unwrap().0, sha);
        // worktree via gitdir: file + commondir
        let wt_admin = g.join("worktrees/w1");
        fs::create_dir_all(&wt_admin).unwrap();
        fs::write(wt_admin.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(wt_admin.join("commondir"), "../..\n").unwrap();
        let wt = t.path().join("wt");
        fs::create_dir_all(&wt).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", wt_admin.display())).unwrap();
        assert_eq!(
            git_head(&wt),
            Some((sha.to_string(), Some("main".to_string())))
        );
        // detached
        fs::write(g.join("HEAD"), format!("{sha}\n")).unwrap();
        assert_eq!(git_head(&repo), Some((sha.to_string(), None)));
        // A FIFO planted as HEAD is not opened (it would block forever).
        fs::remove_file(g.join("HEAD")).unwrap();
        let c = std::ffi::CString::new(g.join("HEAD").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert_eq!(git_head(&repo), None);
    }
}
