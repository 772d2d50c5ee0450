//! What the hook remembers between runs: one state file per Claude Code
//! session (`logs/modelfit/sessions/<session>.json`, the task in flight),
//! where ended sessions stopped in their transcript, and the recently ended
//! tasks that a new prompt may retry.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{log, replace_file, LOCK_TIMEOUT, STATE_MAX_AGE};
use crate::clock;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::signals::retry::{self, Attempt};

/// What the hook remembers about one Claude Code session.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct SessionState {
    pub(super) session_id: String,
    pub(super) model: Option<String>,
    pub(super) source: Option<String>,
    pub(super) cwd: Option<String>,
    pub(super) transcript_path: Option<String>,
    pub(super) started_at: Option<String>,
    /// Where the next task without a UserPromptSubmit starts reading.
    pub(super) next_offset: u64,
    pub(super) task: Option<TaskState>,
}

/// The current (or last) task of a session.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct TaskState {
    /// Ledger id: the linked dispatch, or the ad-hoc record's id.
    pub(super) id: String,
    pub(super) linked: bool,
    pub(super) prompt: String,
    pub(super) prompt_id: Option<String>,
    pub(super) cwd: String,
    pub(super) workspace_key: Option<String>,
    pub(super) transcript_path: Option<String>,
    pub(super) started_at: String,
    pub(super) start_offset: u64,
    pub(super) previous_dispatch_id: Option<String>,
    pub(super) retry_count: u64,
    /// Subagent transcripts reported by SubagentStop.
    pub(super) subagents: Vec<String>,
    /// The ledger holds this task (a Stop or a close wrote it).
    pub(super) recorded: bool,
    pub(super) end_offset: u64,
    /// How it ended the first time (`Stop`, `StopFailure`, `next prompt`,
    /// `session end`) and the error, so a refresh keeps the verdict's basis.
    pub(super) ending: Option<String>,
    pub(super) ending_error: Option<String>,
    /// When the record says the task ended (ISO).
    pub(super) ended_at: Option<String>,
    /// `tokens_used` as last written, to notice late transcript lines.
    pub(super) recorded_tokens: u64,
    /// The assistant's last message as the Stop payload gave it (newer
    /// Claude Code), evidence when the transcript lags behind.
    pub(super) last_assistant_message: Option<String>,
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

pub(super) struct Session<'h> {
    pub(super) home: &'h Home,
    pub(super) path: PathBuf,
    pub(super) _lock: FileLock,
    pub(super) state: SessionState,
}

impl<'h> Session<'h> {
    pub(super) fn open(home: &'h Home, session_id: &str) -> Result<Session<'h>> {
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

    pub(super) fn save(&self) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.state).expect("state serializes");
        replace_file(&self.path, &bytes)
    }

    pub(super) fn remove(self) {
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

pub(super) fn remember_end(home: &Home, stem: &str, offset: u64, now: DateTime<Utc>) -> Result<()> {
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

pub(super) fn load_attempts(home: &Home) -> Result<Vec<Attempt>> {
    match fs::read(home.recent_tasks()) {
        Ok(b) => Ok(serde_json::from_slice(&b).unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("cannot read", home.recent_tasks(), e)),
    }
}

pub(super) fn remember_attempt(home: &Home, attempt: Attempt, now: DateTime<Utc>) -> Result<()> {
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
}
