//! `modelfit rate`: a person's verdict.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::error::{Error, Result};
use crate::explicit::prompt::{self, Answer};
use crate::explicit::rate::{self, MatchedBy, RateOptions, Scope};
use crate::home::Home;
use crate::outcome::{Change, Outcome};

#[derive(Debug, Args)]
pub struct RateArgs {
    /// A task id (dispatch-…), or `last`: the newest task of this directory, or of this
    /// Claude Code session when run inside one [default: last]
    #[arg(value_name = "TASK_ID|last")]
    target: Option<String>,
    /// y|yes, n|no, p|partial; without it, the question is asked on the terminal
    #[arg(value_name = "y|n|p")]
    verdict: Option<String>,
    /// Free text, stored (redacted) as outcome_notes
    #[arg(long, value_name = "TEXT")]
    notes: Option<String>,
    /// A cheaper model would have done this task (cheaper_model_would_do: true, and the
    /// seed's model_was_sufficient: false)
    #[arg(long)]
    cheaper_would_do: bool,
    /// The task's complexity as you see it (simple, medium, complex, or the levels of
    /// models.json); stored with complexity_source "person". Alone, no verdict is asked
    #[arg(long, value_name = "LEVEL")]
    complexity: Option<String>,
    /// Seconds to wait for an answer on the terminal
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    timeout: u64,
    /// With `last`: only tasks that started, ended or were created at or after this
    /// time (ISO 8601, e.g. 2026-03-04T08:00:00Z)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Ask about the unrated task whose verdict would move a pending learn
    /// decision most (see docs/explicit-signals.md); the first positional, if
    /// any, is then the verdict
    #[arg(long, conflicts_with_all = ["since", "complexity"])]
    next: bool,
}

pub fn rate(mut a: RateArgs, home: &Home) -> Result<ExitCode> {
    if a.next {
        if a.verdict.is_some() {
            return Err(Error::Invalid(
                "with --next give at most the verdict: modelfit rate --next [y|n|p]".into(),
            ));
        }
        let Some(pick) = crate::explicit::next::next(home)? else {
            println!(
                "modelfit: nothing to ask about: no unrated task in the learn window bears on a \
                 pending decision (run `modelfit learn` first if {} is missing)",
                home.learning().display()
            );
            return Ok(ExitCode::SUCCESS);
        };
        println!("{}", crate::tasks::clean(&pick.line, 400));
        // The rest is `rate ID [VERDICT]`.
        a.verdict = a.target.take();
        a.target = Some(pick.id);
    }
    // `modelfit rate y`: one positional that is a verdict means `last y`.
    let (target, verdict) = match (a.target, a.verdict) {
        (Some(t), None) if rate::parse_verdict(&t).is_some() => ("last".to_string(), Some(t)),
        (t, v) => (t.unwrap_or_else(|| "last".into()), v),
    };
    let verdict: Option<Outcome> = match verdict {
        None => None,
        Some(v) => Some(rate::parse_verdict(&v).ok_or_else(|| {
            Error::Invalid(format!(
                "{v:?} is not a verdict: use y (success), n (failure) or p (partial)"
            ))
        })?),
    };
    if a.timeout == 0 {
        return Err(Error::Invalid("--timeout must be at least 1 second".into()));
    }
    let since = match &a.since {
        None => None,
        Some(s) => Some(crate::clock::parse(s).ok_or_else(|| {
            Error::Invalid(format!(
                "--since {s:?} is not a time: use ISO 8601, e.g. 2026-03-04T08:00:00Z"
            ))
        })?),
    };
    if let (Some(level), None) = (&a.complexity, &verdict) {
        // `rate ID --complexity LEVEL`: the level only, no verdict asked.
        let id = if target == "last" {
            let scope = Scope::current(since)?;
            match rate::find_last(home, &scope)? {
                Some((t, _)) => t.id.unwrap_or_default(),
                None => {
                    return Err(Error::Invalid(format!(
                        "no task recorded in {}; give the id: modelfit rate TASK_ID --complexity {level}",
                        scope.dir()
                    )))
                }
            }
        } else {
            target.clone()
        };
        let change = rate::set_complexity(home, &id, level, &crate::clock::now_iso())?;
        report(&id, "complexity set", &change);
        return Ok(ExitCode::SUCCESS);
    }
    let opts = RateOptions {
        notes: a.notes,
        cheaper_would_do: a.cheaper_would_do,
        complexity: a.complexity,
    };
    if opts.cheaper_would_do && verdict == Some(Outcome::Failure) {
        // Refuse before asking anything.
        return Err(Error::Invalid(
            "--cheaper-would-do goes with a success or partial verdict".into(),
        ));
    }

    if let (Some(outcome), false) = (verdict, target == "last") {
        // An id and a verdict: one pass over the ledger, no lookup first.
        let change = rate::rate(home, &target, outcome, &opts, &crate::clock::now_iso())?;
        report(&target, &format!("rated {outcome}"), &change);
        return Ok(ExitCode::SUCCESS);
    }
    let (task, how) = if target == "last" {
        let scope = Scope::current(since)?;
        match rate::find_last(home, &scope)? {
            Some((t, how)) => (t, Some(how)),
            None => {
                let mut msg = format!("no task recorded in {}", scope.dir());
                if let Some(s) = &scope.session {
                    msg.push_str(&format!(" or in Claude Code session {s}"));
                }
                if let Some(t) = &a.since {
                    msg.push_str(&format!(" since {t}"));
                }
                msg.push_str(&format!(
                    " (ledger {}); nothing to rate. Give the id: modelfit rate TASK_ID y|n|p",
                    home.ledger().display()
                ));
                return Err(Error::Invalid(msg));
            }
        }
    } else {
        (rate::find_id(home, &target)?, None)
    };
    let id = task.id.clone().unwrap_or(target);
    let found_by = match how {
        Some(MatchedBy::Session) => " (newest task of this Claude Code session)",
        Some(MatchedBy::Directory) => " (newest task of this directory)",
        None => "",
    };

    let outcome = match verdict {
        Some(o) => o,
        None => match prompt::terminal() {
            Err(why) => {
                eprintln!(
                    "modelfit: not asking ({why}); {id} is left unrated. \
                     Rate it later: modelfit rate {id} y|n|p"
                );
                return Ok(ExitCode::SUCCESS);
            }
            Ok(mut tty) => {
                let header = format!("modelfit: {}{found_by}", task.describe());
                let answer = tty
                    .ask(&header, Duration::from_secs(a.timeout))
                    .map_err(|e| Error::io("cannot talk to the terminal", "/dev/tty", e))?;
                match answer {
                    Answer::Verdict(o) => o,
                    Answer::Skipped => {
                        eprintln!(
                            "modelfit: skipped; {id} is left unrated (later: modelfit rate {id} y|n|p)"
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    // The terminal already says so.
                    Answer::TimedOut => return Ok(ExitCode::SUCCESS),
                }
            }
        },
    };
    let now = crate::clock::now_iso();
    let change = rate::rate(home, &id, outcome, &opts, &now)?;
    report(&id, &format!("rated {outcome}{found_by}"), &change);
    Ok(ExitCode::SUCCESS)
}

fn report(id: &str, what: &str, change: &Change) {
    println!("{id}: {what}");
    print!("{}", change.describe());
}
