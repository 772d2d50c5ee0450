//! `modelfit rate`: a person's verdict on a task.
//!
//! Fields written (through [`crate::outcome::apply`], `outcome_source: "human"`):
//! `outcome`, `outcome_source`, `outcome_updated_at`, `outcome_notes` (redacted),
//! `outcome_sources.human`, and always `rated_at`. With `--cheaper-would-do`
//! also `cheaper_model_would_do: true` and the seed's `model_was_sufficient:
//! false`. Beware the seed's name: `model_was_sufficient: false` does **not**
//! mean the model failed; it means "a cheaper model would have been enough"
//! (the chosen model was more than sufficient). `cheaper_model_would_do` says
//! the same thing under a name nobody misreads; readers should prefer it.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::TaskView;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::outcome::{Change, Outcome, Source, Verdict};
use crate::store::Ledger;

/// Parses a person's answer: `y`/`yes`/`n`/`no`/`p`/`partial` (and the ledger
/// words `success`/`failure`), case-insensitive, surrounding blanks ignored.
pub fn parse_verdict(text: &str) -> Option<Outcome> {
    match text.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "success" => Some(Outcome::Success),
        "n" | "no" | "failure" => Some(Outcome::Failure),
        "p" | "partial" => Some(Outcome::Partial),
        _ => None,
    }
}

/// Where `last` looks for the newest task.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Directories that count as "here" (the canonical cwd and, if it differs,
    /// the logical `$PWD`), compared exactly, never as prefixes (workspaces nest).
    pub dirs: Vec<String>,
    /// The Claude Code session, when run from inside Claude Code.
    pub session: Option<String>,
    /// Only tasks active at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl Scope {
    /// The scope of the running process: its directory, `$PWD` when that is
    /// the same directory under another name, `CLAUDE_CODE_SESSION_ID`.
    pub fn current(since: Option<DateTime<Utc>>) -> Result<Scope> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::io("cannot read the current directory", ".", e))?;
        let canonical = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        let mut dirs = vec![canonical.to_string_lossy().into_owned()];
        if let Some(pwd) = std::env::var_os("PWD").map(PathBuf::from) {
            let same = std::fs::canonicalize(&pwd).is_ok_and(|p| p == canonical);
            let text = pwd.to_string_lossy().into_owned();
            if same && !dirs.contains(&text) {
                dirs.push(text);
            }
        }
        let session = std::env::var("CLAUDE_CODE_SESSION_ID")
            .ok()
            .filter(|s| !s.trim().is_empty());
        Ok(Scope {
            dirs,
            session,
            since,
        })
    }

    /// The directory to name in messages.
    pub fn dir(&self) -> &str {
        self.dirs.first().map(String::as_str).unwrap_or(".")
    }
}

/// How `last` found its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// By `session_id` (run inside Claude Code).
    Session,
    /// By `workspace_path` or `cwd` equal to the current directory.
    Directory,
}

/// The newest task in `scope`: by session when one is given and has tasks,
/// else by directory. Batch records and records without an id are never
/// tasks. "Newest" is the latest of `created_at`, `started_at`,
/// `completed_at`; ties go to the record later in the file.
pub fn find_last(home: &Home, scope: &Scope) -> Result<Option<(TaskView, MatchedBy)>> {
    let mut by_session: Option<(DateTime<Utc>, TaskView)> = None;
    let mut by_dir: Option<(DateTime<Utc>, TaskView)> = None;
    super::scan(home, |r: TaskView| {
        if r.id.is_none() || r.kind.as_deref() == Some("batch") {
            return true;
        }
        let Some(at) = r.activity() else { return true };
        if scope.since.is_some_and(|s| at < s) {
            return true;
        }
        let in_session = scope.session.is_some() && r.session_id == scope.session;
        let here = [&r.workspace_path, &r.cwd]
            .into_iter()
            .flatten()
            .any(|p| scope.dirs.iter().any(|d| d == p));
        if in_session && by_session.as_ref().is_none_or(|(t, _)| at >= *t) {
            by_session = Some((at, r.clone()));
        }
        if here && by_dir.as_ref().is_none_or(|(t, _)| at >= *t) {
            by_dir = Some((at, r));
        }
        true
    })?;
    Ok(match (by_session, by_dir) {
        (Some((_, r)), _) => Some((r, MatchedBy::Session)),
        (None, Some((_, r))) => Some((r, MatchedBy::Directory)),
        (None, None) => None,
    })
}

/// The task with `id`, as a view, or [`Error::NotFound`].
pub fn find_id(home: &Home, id: &str) -> Result<TaskView> {
    let mut found = None;
    super::scan(home, |r: TaskView| {
        let hit = r.id.as_deref() == Some(id) || r.dispatch_id.as_deref() == Some(id);
        if hit {
            found = Some(r);
        }
        !hit
    })?;
    found.ok_or_else(|| Error::NotFound {
        id: id.to_string(),
        path: Ledger::of(home).path().to_path_buf(),
    })
}

/// The longest `--notes` accepted, in characters.
pub const MAX_NOTES: usize = 10_000;

/// What goes with a person's verdict besides the outcome.
#[derive(Debug, Clone, Default)]
pub struct RateOptions {
    /// Free text; redacted before it is written (`outcome_notes`).
    pub notes: Option<String>,
    /// A cheaper model would have done the task (`cheaper_model_would_do:
    /// true`, and the seed's `model_was_sufficient: false`).
    pub cheaper_would_do: bool,
    /// The task's complexity as a person sees it (`complexity`,
    /// `complexity_source: "person"`); checked by [`check_complexity`].
    pub complexity: Option<String>,
}

/// The complexity levels a person may give: the `task_complexity` keys of
/// `models.json`, else `simple`, `medium`, `complex`. Returns the level as
/// spelled there, or an error naming the choices.
pub fn check_complexity(home: &Home, level: &str) -> Result<String> {
    let from_models: Vec<String> = std::fs::read(home.models())
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("task_complexity")
                .and_then(|t| t.as_object())
                .map(|m| m.keys().cloned().collect())
        })
        .unwrap_or_default();
    let levels: Vec<String> = if from_models.is_empty() {
        crate::complexity::LEVELS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        from_models
    };
    let want = level.trim().to_ascii_lowercase();
    levels
        .iter()
        .find(|l| l.to_ascii_lowercase() == want)
        .cloned()
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{level:?} is not a complexity level: use one of {}",
                levels.join(", ")
            ))
        })
}

/// Sets a person's complexity on task `id` (no verdict): `complexity`,
/// `complexity_source: "person"`, `complexity_set_at`.
pub fn set_complexity(home: &Home, id: &str, level: &str, now: &str) -> Result<Change> {
    let level = check_complexity(home, level)?;
    Ledger::of(home)
        .update(id, |r| {
            let mut change = Change::default();
            for (k, v) in [
                ("complexity", json!(level)),
                ("complexity_source", json!("person")),
                ("complexity_set_at", json!(now)),
            ] {
                let before = r.insert(k.to_string(), v.clone());
                if before.as_ref() != Some(&v) {
                    change.fields.push((k.to_string(), before, v));
                }
            }
            Ok(Some(change))
        })
        .map(|c| c.expect("the edit always applies"))
}

/// Writes a person's verdict on task `id` at time `now` (ISO).
///
/// `--cheaper-would-do` with a failure is refused: a task that failed says
/// nothing about a cheaper model being enough.
pub fn rate(
    home: &Home,
    id: &str,
    outcome: Outcome,
    opts: &RateOptions,
    now: &str,
) -> Result<Change> {
    if opts.cheaper_would_do && outcome == Outcome::Failure {
        return Err(Error::Invalid(
            "--cheaper-would-do goes with a success or partial verdict: a failed task \
             says nothing about a cheaper model being enough"
                .into(),
        ));
    }
    if let Some(n) = &opts.notes {
        let len = n.chars().count();
        if len > MAX_NOTES {
            return Err(Error::Invalid(format!(
                "--notes is {len} characters long; keep it under {MAX_NOTES} (it is stored in \
                 every copy of the ledger)"
            )));
        }
    }
    let mut verdict = Verdict::new(outcome, Source::Human);
    verdict.notes = opts.notes.as_deref().map(crate::signals::redact);
    verdict.extra.push(("rated_at".into(), json!(now)));
    if let Some(level) = &opts.complexity {
        let level = check_complexity(home, level)?;
        verdict.extra.push(("complexity".into(), json!(level)));
        verdict
            .extra
            .push(("complexity_source".into(), json!("person")));
    }
    if opts.cheaper_would_do {
        verdict
            .extra
            .push(("cheaper_model_would_do".into(), json!(true)));
        // The seed's field: false = "a downgrade would have worked", NOT "the model failed".
        verdict
            .extra
            .push(("model_was_sufficient".into(), json!(false)));
    }
    Ledger::of(home)
        .update(id, |r| Ok(Some(crate::outcome::apply(r, &verdict, now))))
        .map(|c| c.expect("the edit always applies"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        for (t, o) in [
            ("y", Some(Outcome::Success)),
            (" YES\n", Some(Outcome::Success)),
            ("N", Some(Outcome::Failure)),
            ("no", Some(Outcome::Failure)),
            ("p", Some(Outcome::Partial)),
            ("Partial", Some(Outcome::Partial)),
            ("", None),
            ("maybe", None),
            ("yy", None),
        ] {
            assert_eq!(parse_verdict(t), o, "{t:?}");
        }
    }
}
