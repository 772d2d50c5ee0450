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
//!   same workspace or makes it ad hoc, and detects retries. Before that it
//!   reads the prompt as a verdict on the session's previous task (a rating,
//!   a correction, praise, or a new request) when that ended within 2 hours.
//! * `Stop` / `StopFailure` read the transcript from the task's start offset
//!   and write time, tokens, cost, models, files, errors, git HEAD, the
//!   evidence of how it went (verification runs, the final message, errors)
//!   with `p_success` and the outcome it gives, and a complexity. A repeated Stop for the same prompt refreshes the same
//!   record (cumulative figures, never added twice).
//! * `SubagentStop` attaches the subagent's transcript to the task.
//! * `SessionEnd` closes a task left open and removes the session's state.
//!
//! The hook never harms Claude Code: it prints nothing, always exits 0, and
//! logs its errors to `logs/modelfit/modelfit.log`.
//!
//! Layout: [`wire`] (the payloads as sent) → [`event`] (domain events) →
//! `task` (a task's life) / `link` (finding the dispatch a prompt runs) /
//! `session` (state between runs) → `write` (the record) with
//! [`evidence`] (transcript and follow-up readers, `p_success`).

pub mod event;
pub mod evidence;
mod git;
mod handoff;
mod link;
mod session;
mod task;
pub mod wire;
mod write;

pub use git::git_head;
pub use write::SettleEdit;

/// Applies a journaled [`SettleEdit`] (the store calls this when it writes a
/// deferred edit of the hook into the ledger). An edit that does not parse is
/// ignored: it was written by this binary, so only a newer one can differ.
pub fn apply_settle(rec: &mut crate::record::Record, edit: &serde_json::Value) {
    if let Ok(e) = serde_json::from_value::<SettleEdit>(edit.clone()) {
        e.apply(rec);
    }
}
pub use handoff::Handoff;
pub use session::{session_file_stem, FileLock};

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::clock;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::store;
use event::{Event, Kind};
use session::{remember_end, Session};
use task::{close_open_task, refine_recorded, start_task, stop, Ending};

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

/// How long the hook waits for stdin to reach EOF before giving up (a pipe
/// held open, `/dev/zero`).
pub const STDIN_DEADLINE: Duration = Duration::from_millis(1000);

/// Bytes of transcripts the hook may read per run (main, subagents and
/// evidence together): a 50 GB sparse file costs a bounded time.
pub const READ_BUDGET: u64 = 128 << 20;

/// The next prompt counts as a verdict on the previous task within this time
/// of its end.
pub const FOLLOWUP_WINDOW_HOURS: i64 = 2;

/// How reading stdin ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdin {
    /// EOF within the cap and the deadline.
    Complete,
    /// More than [`STDIN_CAP`] bytes.
    TooLarge,
    /// No EOF within [`STDIN_DEADLINE`].
    NoEof,
}

/// Reads stdin to EOF, keeping at most [`STDIN_CAP`] bytes, for at most
/// `deadline` (polling, so a pipe held open or an endless stream never keeps
/// the hook): beyond the cap the rest is read and discarded until EOF or the
/// deadline, so Claude Code never blocks on a full pipe.
pub fn read_capped<R: Read + std::os::fd::AsRawFd>(
    mut input: R,
    deadline: Duration,
) -> (Vec<u8>, Stdin) {
    let fd = input.as_raw_fd();
    let until = Instant::now() + deadline;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut state = Stdin::Complete;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (
                buf,
                if state == Stdin::TooLarge {
                    state
                } else {
                    Stdin::NoEof
                },
            );
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if r == 0 {
            continue; // timed out: the loop head gives up
        }
        match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if buf.len() + n > STDIN_CAP {
                    state = Stdin::TooLarge;
                    buf.clear();
                    buf.shrink_to_fit();
                } else if state != Stdin::TooLarge {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        }
    }
    (buf, state)
}

/// Handles one payload. Errors are logged, never returned: the hook's caller
/// exits 0 whatever happens. Returns the one line the caller may print on
/// stdout: the optional rating reminder after a `Stop`, as a `systemMessage`
/// (shown to the person, never given to the model). Nothing otherwise.
pub fn run(home: &Home, bytes: &[u8], stdin: Stdin) -> Option<String> {
    crate::readfile::set_budget(Some(READ_BUDGET));
    let result = match stdin {
        Stdin::TooLarge => Err(Error::Invalid(format!(
            "payload larger than {} MB ignored",
            STDIN_CAP >> 20
        ))),
        Stdin::NoEof => Err(Error::Invalid(format!(
            "stdin reached no end within {} ms ({} bytes read): payload ignored",
            STDIN_DEADLINE.as_millis(),
            bytes.len()
        ))),
        Stdin::Complete => handle(home, bytes),
    };
    crate::readfile::set_budget(None);
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
// Events

fn handle(home: &Home, bytes: &[u8]) -> Result<Option<String>> {
    let p = Event::from(wire::Wire::parse(bytes)?);
    if p.kind == Kind::Other {
        return Ok(None); // unknown or uninteresting events: quietly nothing
    }
    let Some(sid) = p.session_id.clone() else {
        return Err(Error::Invalid(format!(
            "{} payload without a session_id: ignored",
            p.name
        )));
    };
    let now = clock::now();
    let mut s = Session::open(home, &sid)?;
    if s.state.transcript_path.is_none() {
        s.state.transcript_path = p.transcript_path.clone();
    }
    match p.kind {
        Kind::SessionStart => {
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
        Kind::UserPromptSubmit => {
            refine_recorded(&mut s, now);
            judge_previous(&s, &p, now);
            close_open_task(&mut s, now, "next prompt")?;
            start_task(&mut s, &p, now)?;
            s.save()?;
        }
        Kind::Stop | Kind::StopFailure => {
            stop(&mut s, &p, now)?;
            s.save()?;
            // StopFailure discards hook output; a Stop shows a systemMessage.
            if p.kind == Kind::Stop {
                if let Some(task) = s.state.task.as_ref().filter(|t| t.recorded) {
                    return Ok(crate::explicit::stop_reminder(home, &task.id));
                }
            }
        }
        Kind::SubagentStop => {
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
                    write::record_task(&mut s, Ending::Late, now)?;
                    s.save()?;
                }
            }
        }
        Kind::SessionEnd => {
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
        Kind::Other => {}
    }
    Ok(None)
}

/// The next prompt as a verdict on the session's previous task: when that
/// task was recorded and ended within [`FOLLOWUP_WINDOW_HOURS`], the prompt's
/// class (rating, correction, praise, new request) lands on its record. A
/// rating is a person's verdict (`human`, the rating kept). Errors are
/// logged: the new prompt is recorded whatever happens here.
fn judge_previous(s: &Session<'_>, p: &Event, now: DateTime<Utc>) {
    let Some(prev) = s.state.task.as_ref().filter(|t| t.recorded) else {
        return;
    };
    let recent = prev
        .ended_at
        .as_deref()
        .and_then(clock::parse)
        .is_some_and(|end| now - end <= chrono::Duration::hours(FOLLOWUP_WINDOW_HOURS));
    let Some(prompt) = p.prompt.as_deref().filter(|_| recent) else {
        return;
    };
    let at = clock::iso(now);
    let (fresh, rating) = evidence::from_followup(prompt, &prev.prompt, &at);
    let template = crate::outcome::Verdict::new(
        crate::outcome::Outcome::Success,
        crate::outcome::Source::Hook,
    );
    let replaces: &[&str] = if rating.is_some() {
        &["followup", "human"]
    } else {
        evidence::FOLLOWUP_SOURCES
    };
    let edit = write::SettleEdit {
        fresh,
        replaces: replaces.iter().map(|s| s.to_string()).collect(),
        template: store::reflect::verdict_value(&template, &at),
        now: at.clone(),
        complexity: None,
        owned: false,
        rating: rating.map(|(o, r)| (o.as_str().to_string(), r)),
    };
    let res = write::update_record(s.home, &prev.id, &edit);
    if let Err(e) = res {
        log(
            s.home,
            &format!(
                "hook: the next prompt's verdict on {} not recorded: {e}",
                prev.id
            ),
        );
    }
}

// ---------------------------------------------------------------------------
// Small helpers

/// Replaces `path` atomically (temporary file in the same directory, then
/// rename) without syncing: the hook's own state is a cache whose loss in a
/// power cut costs at most one task's figures, while every fsync would add
/// milliseconds to each prompt. The ledger itself is always synced.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
