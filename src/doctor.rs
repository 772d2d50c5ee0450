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
    if !home_exists(&mut r, home) {
        // Nothing under a missing home can be checked; the hooks still can.
        hooks_installed(&mut r);
        return r.0;
    }
    hooks_installed(&mut r);
    ledger(&mut r, home);
    journal(&mut r, home);
    error_log(&mut r, home);
    learn(&mut r, home);
    sessions(&mut r, home);
    router(&mut r, home);
    crate::sync::doctor_check(&mut r, home);
    complexity_estimates(&mut r, home);
    r.0
}

/// The home itself: an existing folder.
fn home_exists(r: &mut Checks, home: &Home) -> bool {
    let root = home.root();
    if root.is_dir() {
        return true;
    }
    r.fail(
        &format!(
            "the orchestrator home {} {}",
            root.display(),
            if root.exists() {
                "is not a folder"
            } else {
                "does not exist"
            }
        ),
        &format!(
            "create it with `mkdir -p {}/logs`, or choose another with --home DIR or ORCHESTRATOR_HOME=DIR",
            root.display()
        ),
    );
    false
}

/// How tasks outside a dispatch get their complexity: the ledger's own fit
/// (`logs/modelfit/complexity-calibration.json`) or the documented defaults.
fn complexity_estimates(r: &mut Checks, home: &Home) {
    match crate::complexity::Calibration::load(home) {
        Some(c) => r.info(&format!(
            "complexity estimates: thresholds fitted on {} labelled dispatches (agreement {:.2}, {})",
            c.labelled, c.agreement, c.at
        )),
        None => r.info(&format!(
            "complexity estimates: default thresholds (the fit needs {} dispatches labelled by the orchestrator or a person)",
            crate::complexity::MIN_LABELLED
        )),
    }
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
    let mut total = 0usize;
    let parsed = ledger.for_each(|_: serde::de::IgnoredAny| {
        total += 1;
        true
    });
    let parses = parsed.is_ok();
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
    if parses {
        unrated(r, home);
    }
}

/// Finished tasks without a verdict from a person, CI or a manual outcome:
/// the first few ids, and where to see them all.
fn unrated(r: &mut Checks, home: &Home) {
    const SHOWN: usize = 5;
    match crate::tasks::unrated_ids(home, SHOWN) {
        Ok((_, 0)) => r.ok("every finished task has a verdict"),
        Ok((ids, n)) => {
            let more = if n > ids.len() {
                format!(" and {} more", n - ids.len())
            } else {
                String::new()
            };
            r.info(&format!(
                "{n} finished task(s) are unrated (no verdict from a person, CI or `modelfit outcome`): \
                 {}{more}; list them with `modelfit tasks --unrated`, rate with `modelfit rate ID y|n|p`",
                ids.join(", ")
            ))
        }
        Err(e) => r.fail(
            &format!("cannot list the unrated tasks: {e}"),
            "repair logs/dispatches.json",
        ),
    }
}

/// `logs/modelfit/doctor-ack.json`: the time up to which `doctor --ack`
/// acknowledged the error log.
pub fn ack_file(home: &Home) -> std::path::PathBuf {
    home.state_dir().join("doctor-ack.json")
}

/// The time up to which errors were acknowledged, if ever.
fn acknowledged_until(home: &Home) -> Option<chrono::DateTime<chrono::Utc>> {
    let bytes = std::fs::read(ack_file(home)).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    crate::clock::parse(v.get("acknowledged_until")?.as_str()?)
}

/// The error log's lines of the last 24 hours not yet acknowledged, oldest first.
fn unacknowledged_errors(home: &Home) -> std::io::Result<Vec<String>> {
    let f = std::fs::File::open(home.log_file())?;
    let since = crate::clock::now() - chrono::Duration::hours(24);
    let ack = acknowledged_until(home);
    Ok(std::io::BufReader::new(f)
        .lines()
        .map_while(|l| l.ok())
        .filter(|l| {
            l.strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(t, _)| crate::clock::parse(t))
                .is_some_and(|t| t >= since && ack.is_none_or(|a| t > a))
        })
        .collect())
}

/// `doctor --ack`: marks every error logged up to now as seen, so `doctor`
/// passes again until a later error. Returns how many lines that covered and
/// the time recorded.
pub fn acknowledge(home: &Home) -> crate::Result<(usize, String)> {
    let covered = unacknowledged_errors(home).map(|v| v.len()).unwrap_or(0);
    let now = crate::clock::now_iso();
    let dir = home.state_dir();
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io("cannot create", &dir, e))?;
    let body = serde_json::json!({ "acknowledged_until": now });
    crate::store::write_atomic(&ack_file(home), format!("{body}\n").as_bytes())?;
    Ok((covered, now))
}

/// Errors in the log during the last day, after the last `doctor --ack`.
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
    match unacknowledged_errors(home) {
        Ok(recent) => {
            if recent.is_empty() {
                r.ok(&match acknowledged_until(home) {
                    Some(a) => format!(
                        "no errors logged in the last 24 hours since `doctor --ack` at {}",
                        crate::clock::iso(a)
                    ),
                    None => "no errors logged in the last 24 hours".to_string(),
                });
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
                    "read the messages above; each says what went wrong and with which file. \
                     Once dealt with, `modelfit doctor --ack` acknowledges them (later errors still fail)",
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

/// Which router `learn` and `select` assume, and how that was decided.
fn router(r: &mut Checks, home: &Home) {
    let choice = crate::router::current(home);
    let what = match choice.router {
        crate::router::Router::Rules => {
            "rules as written (`modelfit select`, the drop-in model-selector.sh)"
        }
        crate::router::Router::Orchestrator => {
            "the dispatcher's own selectModel (only task_complexity.<level>.model and its \
             architecture/design and documentation/readme mappings move tasks)"
        }
    };
    r.info(&format!(
        "router: {} — {what}; {}",
        choice.router.name(),
        choice.decided_by
    ));
    if !choice.explicit {
        r.info(
            "tasks dispatched with the orchestrator's dispatch_task route by its own selectModel, \
             whatever the rules say; if yours go that way, run `modelfit config router orchestrator` \
             so learn suggests level changes that take effect there",
        );
    }
}
