//! Linking a prompt to the orchestrator dispatch it executes (a running
//! record of the same workspace), found by a byte scan of the ledger so a
//! prompt stays fast whatever the ledger's size.

use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{canonical, LINK_WINDOW_HOURS};
use crate::clock;
use crate::error::Result;
use crate::home::Home;
use crate::store::{scan, Ledger};

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
pub(super) fn find_dispatch(
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
    let hits = scan::match_offsets(ledger.path(), needle.as_bytes());
    if crate::store::failpoint("hook-link-pause") {
        // Tests: hold here so the ledger can change underneath (issue 12 row 14).
        std::thread::sleep(std::time::Duration::from_millis(800));
    }
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
    match hits.and_then(|h| scan::records_around(ledger.path(), &h)) {
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

/// The `workspaces.json` key whose path is `cwd`, if any.
pub(super) fn workspace_key(home: &Home, cwd: &str) -> Option<String> {
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
