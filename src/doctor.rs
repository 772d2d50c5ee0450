//! `modelfit doctor`'s checks, as data: each check is a [`Check`] with a
//! status, what it found and, when something needs fixing, how. The CLI
//! renders them; other front ends (MCP, tests) can read them as they are.
//!
//! Each area adds its own check function to [`checks`], so a new part of
//! modelfit (the journal, a database outbox, the router) says how it is doing
//! in one place.

use std::io::BufRead;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::claude_settings;
use crate::home::Home;
use crate::hook;
use crate::store::Ledger;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Worth knowing; nothing to fix.
    Info,
    /// Something needs fixing: `doctor` exits 1.
    Fail,
}

/// One finding of `modelfit doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// How it came out.
    pub status: Status,
    /// What was found, in a sentence (may span lines).
    pub what: String,
    /// What to do about it, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The findings gathered so far.
#[derive(Debug, Default)]
pub struct Checks(pub Vec<Check>);

impl Checks {
    /// Adds a passing check.
    pub fn ok(&mut self, what: &str) {
        self.push(Status::Ok, what, None);
    }
    /// Adds an informational finding.
    pub fn info(&mut self, what: &str) {
        self.push(Status::Info, what, None);
    }
    /// Adds a failure with what to do about it.
    pub fn fail(&mut self, what: &str, fix: &str) {
        self.push(Status::Fail, what, Some(fix));
    }
    fn push(&mut self, status: Status, what: &str, fix: Option<&str>) {
        self.0.push(Check {
            status,
            what: what.to_string(),
            fix: fix.map(str::to_string),
        });
    }
    /// How many checks failed.
    pub fn problems(&self) -> usize {
        self.0.iter().filter(|c| c.status == Status::Fail).count()
    }
}

/// Runs every check on `home`, in the order they are shown.
pub fn checks(home: &Home) -> Vec<Check> {
    let mut r = Checks::default();
    hooks_installed(&mut r);
    ledger(&mut r, home);
    journal(&mut r, home);
    error_log(&mut r, home);
    learn(&mut r, home);
    sessions(&mut r, home);
    r.0
}

/// Hooks registered in Claude Code's settings.
fn hooks_installed(r: &mut Checks) {
    match claude_settings::settings_path() {
        Ok(path) => match claude_settings::check(&path) {
            Ok((missing, commands)) if missing.is_empty() => {
                r.ok(&format!("hooks installed in {}", path.display()));
                for c in commands {
                    let prog = c.trim_end_matches(" hook").trim_matches('\'');
                    if !Path::new(prog).is_file() {
                        r.fail(
                            &format!("the hook command {c:?} points at a missing binary"),
                            "rebuild and run `modelfit hooks install` again",
                        );
                    }
                }
            }
            Ok((missing, _)) => r.fail(
                &format!(
                    "hooks missing in {} for: {}",
                    path.display(),
                    missing.join(", ")
                ),
                "run `modelfit hooks install`",
            ),
            Err(e) => r.fail(
                &format!("cannot read Claude Code's settings: {e}"),
                "repair the settings file, then run `modelfit hooks install`",
            ),
        },
        Err(e) => r.fail(&e.to_string(), "set CLAUDE_CONFIG_DIR or HOME"),
    }
}

/// Lock, then ledger.
fn ledger(r: &mut Checks, home: &Home) {
    let ledger = Ledger::of(home);
    if crate::lockfile::is_held(ledger.lock_path()) {
        r.fail(
            &format!(
                "the ledger lock {} is held right now",
                ledger.lock_path().display()
            ),
            &format!(
                "if this persists, find the holder with `fuser {}` and stop it",
                ledger.lock_path().display()
            ),
        );
    } else {
        r.ok("the ledger lock is free");
    }
    let mut without_outcome = 0usize;
    let mut total = 0usize;
    let parsed = ledger.for_each(|v: Value| {
        total += 1;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        let status = v.get("status").and_then(Value::as_str).unwrap_or("");
        let has_outcome = v.get("outcome").is_some_and(|o| !o.is_null());
        let finished = matches!(status, "complete" | "failed" | "partial");
        if v.get("id").is_some() && kind != "batch" && finished && !has_outcome {
            without_outcome += 1;
        }
        true
    });
    match parsed {
        Ok(()) if !ledger.path().exists() => r.info(&format!(
            "no ledger yet at {} (it is created by the first task)",
            ledger.path().display()
        )),
        Ok(()) => r.ok(&format!("the ledger parses ({total} records)")),
        Err(e) => r.fail(
            &format!("the ledger does not parse: {e}"),
            "repair or restore logs/dispatches.json; hooks record nothing until then",
        ),
    }
    if without_outcome > 0 {
        r.info(&format!(
            "{without_outcome} finished task(s) have no outcome: rate them with `modelfit rate ID y|n|p`"
        ));
    } else {
        r.ok("every finished task has an outcome");
    }
}

/// modelfit's journal: reconciles it with the ledger and says what it found;
/// temporary copies left by killed writes.
fn journal(r: &mut Checks, home: &Home) {
    let ledger = Ledger::of(home);
    match ledger.reconcile() {
        Ok(rep) => {
            let what = crate::store::describe_reconcile(&rep);
            if rep.busy.is_some() {
                r.fail(
                    &what,
                    "another program is rewriting the ledger right now; run `modelfit ledger reconcile` in a moment",
                );
            } else if rep.applied > 0 || rep.orphans > 0 {
                r.info(&what);
            } else {
                r.ok(&what);
            }
        }
        Err(e) => r.fail(
            &format!("cannot reconcile modelfit's journal with the ledger: {e}"),
            "fix what the message names, then run `modelfit ledger reconcile`",
        ),
    }
    let temps = crate::store::stale_temps(&ledger);
    if !temps.is_empty() {
        r.info(&format!(
            "{} temporary ledger copy(ies) left by killed writes (removed by the next write): {}",
            temps.len(),
            temps
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// Errors in the log during the last day.
fn error_log(r: &mut Checks, home: &Home) {
    let log = home.log_file();
    match std::fs::File::open(&log) {
        Ok(f) => {
            let since = crate::clock::now() - chrono::Duration::hours(24);
            let recent: Vec<String> = std::io::BufReader::new(f)
                .lines()
                .map_while(|l| l.ok())
                .filter(|l| {
                    l.strip_prefix('[')
                        .and_then(|rest| rest.split_once(']'))
                        .and_then(|(t, _)| crate::clock::parse(t))
                        .is_some_and(|t| t >= since)
                })
                .collect();
            if recent.is_empty() {
                r.ok("no errors logged in the last 24 hours");
            } else {
                let shown: Vec<&String> = recent.iter().rev().take(5).collect();
                let mut what = format!(
                    "{} error(s) logged in the last 24 hours in {}; newest:",
                    recent.len(),
                    log.display()
                );
                for l in shown {
                    what.push_str("\n        ");
                    what.push_str(l);
                }
                r.fail(
                    &what,
                    "read the messages above; each says what went wrong and with which file",
                );
            }
        }
        Err(_) => r.ok("no error log (nothing has gone wrong)"),
    }
}

/// Learn.
fn learn(r: &mut Checks, home: &Home) {
    let handoff = hook::Handoff::load(home);
    let analyzed = std::fs::read(home.learning())
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| {
            v.get("last_analyzed")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    match (&analyzed, &handoff.last_started_at) {
        (Some(a), _) => r.info(&format!("learn last analyzed at {a}")),
        (None, Some(s)) => r.info(&format!("learn last started by the hook at {s}")),
        (None, None) => r.info("learn has not run yet (`modelfit learn`)"),
    }
    if handoff.running() {
        r.info("a background learn run is in progress");
    }
    r.info(&format!(
        "{} outcome(s) recorded since the hook last started learn (every {})",
        handoff.outcomes_since_learn,
        crate::settings::Settings::load(home).learn_every
    ));
}

/// Tasks in flight.
fn sessions(r: &mut Checks, home: &Home) {
    let open = std::fs::read_dir(home.sessions_dir())
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0);
    r.info(&format!("{open} Claude Code session(s) with state"));
}
