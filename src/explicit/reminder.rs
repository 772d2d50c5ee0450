//! The optional reminder after an interactive task: one line telling the
//! person the exact command that rates it.
//!
//! The Stop hook prints [`stop_reminder`]'s line on stdout. Claude Code parses
//! stdout that starts with `{` as JSON control output, and `systemMessage` is
//! a message shown to the user; it is not added to the model's context (only
//! `additionalContext`, `reason` with `decision: "block"`, and plain stdout of
//! SessionStart / UserPromptSubmit / UserPromptExpansion reach the model;
//! hooks reference §2.3-2.4). The line carries no `decision` and no
//! `continue`, so it changes nothing in the session.
//!
//! Off by default: turn it on with `"reminder": true` in
//! `logs/modelfit/config.json` (or [`set_reminder`]).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::shell_quote;
use crate::error::Result;
use crate::home::Home;
use crate::settings::Settings;

/// The exact stdout line (without newline) the Stop hook should print after
/// task `task_id` ends, or `None` when the reminder is off or the id is not
/// a plain record id. Reads only the small settings file: no ledger access,
/// so it costs the hook nothing measurable.
pub fn stop_reminder(home: &Home, task_id: &str) -> Option<String> {
    if !Settings::load(home).reminder {
        return None;
    }
    // Ids come from our own records, but the line ends up in a terminal and a
    // shell command: accept only the characters ids are made of.
    if task_id.is_empty()
        || task_id.len() > 200
        || !task_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return None;
    }
    let command = rate_command(home, task_id);
    // The pick of `rate --next` reads the ledger and the learning file: too
    // slow for the Stop hook on a large ledger, so the line names the command.
    let next = format!(
        "{}--next",
        command.strip_suffix(task_id).unwrap_or(&command)
    );
    let message = format!(
        "modelfit: rate this task with `{command} y|n|p` (y = it worked), \
         or the one whose verdict matters most with `{next}`"
    );
    Some(json!({ "systemMessage": message }).to_string())
}

/// The command a person types to rate `task_id`: the binary by its name when
/// `modelfit` on `PATH` is this binary, else by its full path; `--home` only
/// when the home differs from what a plain `modelfit` would find.
pub fn rate_command(home: &Home, task_id: &str) -> String {
    let exe = std::env::current_exe().ok();
    let program = match (&exe, which("modelfit")) {
        (Some(me), Some(found)) if same_file(me, &found) => "modelfit".to_string(),
        (Some(me), _) => shell_quote(&me.to_string_lossy()),
        (None, _) => "modelfit".to_string(),
    };
    let default_home = Home::resolve(None).ok();
    let home_arg = match default_home {
        Some(d) if d.root() == home.root() => String::new(),
        _ => format!(" --home {}", shell_quote(&home.root().to_string_lossy())),
    };
    format!("{program}{home_arg} rate {task_id}")
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Turns the reminder on or off in `logs/modelfit/config.json`, keeping every
/// other key as it was. A config file that does not parse is left untouched
/// and reported.
pub fn set_reminder(home: &Home, on: bool) -> Result<()> {
    crate::settings::set(home, "reminder", if on { "on" } else { "off" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn off_by_default_then_a_user_message_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert_eq!(stop_reminder(&home, "dispatch-1-abc"), None);
        std::fs::create_dir_all(home.state_dir()).unwrap();
        std::fs::write(home.settings(), r#"{"learn_every": 5, "other": [1]}"#).unwrap();
        set_reminder(&home, true).unwrap();
        let kept: Value = serde_json::from_slice(&std::fs::read(home.settings()).unwrap()).unwrap();
        assert_eq!(kept["learn_every"], 5);
        assert_eq!(kept["other"], json!([1]));
        let line = stop_reminder(&home, "dispatch-1772452800000-9656bj").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let obj = v.as_object().unwrap();
        // Only systemMessage: nothing that reaches the model or steers the session.
        assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["systemMessage"]);
        let msg = obj["systemMessage"].as_str().unwrap();
        assert!(msg.contains("rate dispatch-1772452800000-9656bj"), "{msg}");
        assert!(msg.contains(" rate --next`"), "{msg}");
        assert!(
            msg.contains(&format!("--home {}", dir.path().display())),
            "{msg}"
        );
        assert_eq!(stop_reminder(&home, "x; rm -rf /"), None);
        set_reminder(&home, false).unwrap();
        assert_eq!(stop_reminder(&home, "dispatch-1-abc"), None);
    }

    #[test]
    fn corrupt_config_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.state_dir()).unwrap();
        std::fs::write(home.settings(), "{oops").unwrap();
        assert!(set_reminder(&home, true).is_err());
        assert_eq!(std::fs::read_to_string(home.settings()).unwrap(), "{oops");
    }
}
