//! From the task's items to evidence: the last run of each verification
//! runner, edits after the last passing run, the final message, tool errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::assistant::{self, Claim};
use super::lines::Item;
use super::runners::{self, Check};
use super::Evidence;

/// What the task's transcript shows, before weighing.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Per kind (`tests`, `lint`, `typecheck`, `build`): its check, whether its last run passed, the
    /// detail line, and whether files were edited after that last run.
    pub runs: BTreeMap<String, LastRun>,
    /// The assistant's last text.
    pub final_text: Option<String>,
    /// Failed tool calls that are not verification runs.
    pub tool_errors: u64,
    /// Tool calls of any kind.
    pub tool_calls: u64,
    /// Lines written by edits.
    pub lines_edited: u64,
    /// Files edited.
    pub files: BTreeSet<String>,
    /// An interruption marker.
    pub interrupted: bool,
    /// API error lines.
    pub api_errors: u64,
}

/// The last run of one runner.
#[derive(Debug, Clone)]
pub struct LastRun {
    /// Tests or build/lint.
    pub check: Check,
    /// It passed.
    pub passed: bool,
    /// What decided it (exit code or summary line).
    pub detail: String,
    /// Files were edited after it.
    pub edited_after: bool,
    /// Earlier runs of the same runner failed.
    pub failed_before: bool,
}

/// Judges the items of one task.
pub fn analyze(items: &[Item]) -> Facts {
    let mut f = Facts::default();
    let mut calls: HashMap<&str, (&str, runners::Runner)> = HashMap::new();
    let mut bash_ids: BTreeSet<&str> = BTreeSet::new();
    for item in items {
        match item {
            Item::Bash { id, command } => {
                f.tool_calls += 1;
                bash_ids.insert(id.as_str());
                if let Some(r) = runners::classify(command) {
                    calls.insert(id.as_str(), (command.as_str(), r));
                }
            }
            Item::Edit { file, lines } => {
                f.tool_calls += 1;
                f.lines_edited += lines;
                if !file.is_empty() {
                    f.files.insert(file.clone());
                }
                for run in f.runs.values_mut() {
                    run.edited_after = true;
                }
            }
            Item::Tool { .. } => f.tool_calls += 1,
            Item::Result {
                id,
                text,
                is_error,
                interrupted,
            } => {
                let Some((command, runner)) = calls.get(id.as_str()) else {
                    if *is_error {
                        f.tool_errors += 1;
                    }
                    continue;
                };
                let Some((passed, detail)) = verdict(command, text, *is_error, *interrupted) else {
                    continue;
                };
                let before = f.runs.get(runner.kind);
                let failed_before = before.is_some_and(|r| !r.passed || r.failed_before);
                f.runs.insert(
                    runner.kind.to_string(),
                    LastRun {
                        check: runner.check,
                        passed,
                        detail: format!("{}: {detail}", runner.name),
                        edited_after: false,
                        failed_before,
                    },
                );
            }
            Item::Text(t) => f.final_text = Some(t.clone()),
            Item::Interrupted => f.interrupted = true,
            Item::ApiError => f.api_errors += 1,
        }
    }
    f
}

/// A verification run's result: the exit code where shown, else the
/// runner's summary. `None` when it says nothing (a runner that was not
/// found, an interrupted run, a piped run without a summary).
fn verdict(command: &str, text: &str, is_error: bool, interrupted: bool) -> Option<(bool, String)> {
    if interrupted {
        return None;
    }
    let code = runners::exit_code(text);
    if is_error {
        match code {
            // Not found / not executable: the runner never ran.
            Some(126 | 127) => return None,
            _ if text.contains("command not found")
                || text.contains("No such file or directory") && text.len() < 300 =>
            {
                return None
            }
            Some(c) => {
                let why = runners::summary(text).filter(|s| !s.0).map(|s| s.1);
                return Some((false, why.unwrap_or_else(|| format!("exit code {c}"))));
            }
            None => {
                // A timeout or a tool error without an exit code.
                return runners::summary(text).or(Some((false, "tool error".into())));
            }
        }
    }
    let summary = runners::summary(text);
    if runners::piped(command) {
        // The exit code is the pipe's last stage's: the summary decides, and
        // a run whose output shows no failure line counts as a (weaker) pass.
        return Some(summary.unwrap_or((true, "no failure in the output".into())));
    }
    match summary {
        // Exit 0 but the output says it failed (`|| true` hidden in a script).
        Some((false, line)) => Some((false, line)),
        Some((true, line)) => Some((true, line)),
        None => Some((true, "exit code 0".into())),
    }
}

/// The evidence these facts give, stamped `at`.
pub fn evidence(f: &Facts, last_message: Option<&str>, at: &str) -> Vec<Evidence> {
    let mut out = Vec::new();
    for run in f.runs.values() {
        let source = match run.check {
            Check::Tests => "tests",
            Check::Build => "verification",
        };
        let signal = match (run.passed, run.edited_after, run.failed_before) {
            (false, _, _) => "fail",
            (true, true, _) => "pass_then_edited",
            (true, false, true) => "pass_after_fail",
            (true, false, false) => "pass",
        };
        out.push(Evidence::new(source, signal, &run.detail, at));
    }
    // The payload's last message is the newest; the transcript may lag.
    let text = last_message.or(f.final_text.as_deref());
    if let Some((claim, snippet)) = text.and_then(assistant::classify) {
        let signal = match claim {
            Claim::Failure => "admits_failure",
            Claim::Success => "claims_done",
        };
        out.push(Evidence::new("assistant", signal, &snippet, at));
    }
    if f.tool_errors >= 3 {
        out.push(Evidence::new(
            "hook",
            "tool_errors",
            &format!("{} failed tool calls", f.tool_errors),
            at,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash(id: &str, cmd: &str) -> Item {
        Item::Bash {
            id: id.into(),
            command: cmd.into(),
        }
    }
    fn res(id: &str, text: &str, err: bool) -> Item {
        Item::Result {
            id: id.into(),
            text: text.into(),
            is_error: err,
            interrupted: false,
        }
    }

    #[test]
    fn the_last_run_decides_and_unrelated_failures_do_not_count() {
        let items = vec![
            bash("1", "pytest -q"),
            res("1", "Exit code 1\n=== 2 failed, 5 passed in 0.3s ===", true),
            Item::Edit {
                file: "a.py".into(),
                lines: 3,
            },
            bash("2", "grep -rn foo src"),
            res("2", "Exit code 1", true),
            bash("3", "pytest -q"),
            res("3", "=== 7 passed in 0.3s ===", false),
        ];
        let f = analyze(&items);
        let run = &f.runs["tests"];
        assert!(run.passed && run.failed_before && !run.edited_after);
        assert_eq!(f.tool_errors, 1);
        let ev = evidence(&f, None, "t");
        assert_eq!(ev[0].signal, "pass_after_fail");
    }

    #[test]
    fn piped_runs_use_the_summary_and_edits_weaken_a_pass() {
        let items = vec![
            bash("1", "cargo test 2>&1 | tail -5"),
            res("1", "test result: FAILED. 3 passed; 1 failed", false),
        ];
        assert!(!analyze(&items).runs["tests"].passed);
        let items = vec![
            bash("1", "npm test"),
            res("1", "Tests:       4 passed, 4 total", false),
            Item::Edit {
                file: "x.js".into(),
                lines: 1,
            },
        ];
        let ev = evidence(&analyze(&items), None, "t");
        assert_eq!(ev[0].signal, "pass_then_edited");
        let items = vec![
            bash("1", "pytest"),
            res("1", "Exit code 127\npytest: command not found", true),
        ];
        assert!(analyze(&items).runs.is_empty());
    }
}
