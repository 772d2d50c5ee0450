//! `modelfit doctor`: checks the installation.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use crate::claude_settings;
use crate::error::Result;
use crate::home::Home;
use crate::hook;
use crate::store::Ledger;

/// `modelfit doctor` takes no options.
#[derive(Debug, Args)]
pub struct DoctorArgs {}

struct Report {
    problems: usize,
}

impl Report {
    fn ok(&self, what: &str) {
        println!("ok    {what}");
    }
    fn info(&self, what: &str) {
        println!("info  {what}");
    }
    fn fail(&mut self, what: &str, fix: &str) {
        self.problems += 1;
        println!("FAIL  {what}\n      fix: {fix}");
    }
}

/// Checks the installation; exit 1 when something needs fixing.
pub fn doctor(_a: DoctorArgs, home: &Home) -> Result<ExitCode> {
    let mut r = Report { problems: 0 };
    println!("home  {}", home.root().display());

    // Hooks registered in Claude Code's settings.
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

    // Lock, then ledger.
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

    // Errors in the log during the last day.
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

    // Learn.
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

    // Tasks in flight.
    let open = std::fs::read_dir(home.sessions_dir())
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0);
    r.info(&format!("{open} Claude Code session(s) with state"));

    if r.problems > 0 {
        println!("{} problem(s) need fixing", r.problems);
        Ok(ExitCode::FAILURE)
    } else {
        println!("all good");
        Ok(ExitCode::SUCCESS)
    }
}
