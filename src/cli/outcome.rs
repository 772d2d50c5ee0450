//! `modelfit outcome`: a verdict set by hand.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::outcome::{Outcome, Source, Verdict};

#[derive(Debug, Args)]
pub struct OutcomeArgs {
    /// The task's record id (dispatch-…)
    task_id: String,
    /// success, failure or partial
    outcome: String,
    /// Wall time in seconds (execution_time_seconds)
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    time: Option<f64>,
    /// Total tokens (tokens_used)
    #[arg(long, value_name = "N")]
    tokens: Option<u64>,
    /// Free text, stored as outcome_notes
    #[arg(long, value_name = "TEXT")]
    notes: Option<String>,
}

pub fn outcome(a: OutcomeArgs, home: &Home) -> Result<ExitCode> {
    let outcome: Outcome = a.outcome.parse()?;
    if let Some(t) = a.time {
        if !t.is_finite() || t < 0.0 {
            return Err(Error::Invalid(format!(
                "--time must be a non-negative number of seconds, not {t}"
            )));
        }
    }
    let mut verdict = Verdict::new(outcome, Source::Manual);
    verdict.notes = a.notes.as_deref().map(crate::signals::redact);
    verdict.time_seconds = a.time;
    verdict.tokens = a.tokens;
    let change = crate::outcome::set_outcome(home, &a.task_id, &verdict)?;
    print!("{}:\n{}", a.task_id, change.describe());
    Ok(ExitCode::SUCCESS)
}
