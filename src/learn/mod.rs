//! Learning from outcomes: `analyze` (patterns per complexity × model and
//! keyword × model), `suggest` (rule changes with honest confidence),
//! `report`, and `apply` / `reject` of suggestions.
//!
//! The types below are the contract shared by the CLI, the MCP server,
//! `apply` and `select`.
//!
//! Outcome of an attempt: a posterior P(success), not a verdict. A person's
//! or CI's verdict is taken as given; otherwise the label model (`label`)
//! weighs the implicit sources (the hook, the orchestrator's verification,
//! a retry linking back, tests, the assistant's own words) by how often each
//! agrees with people and CI (`trust`). A cell's successes are the sum of
//! its tasks' posteriors, and every interval carries the uncertainty of
//! those weights (an information-equivalent size). An implicit success whose
//! tokens or time are far above the cell's norm counts as unknown
//! ("questioned").
//!
//! The cells live in one typed [`pattern::Pattern`], written by `analyze`
//! and read by `suggest`, `report`, `rate --next` and `select`'s
//! exploration. Confidence of a pattern: the posterior probability that the
//! true first-attempt rate lies within ±10 points of the estimate.
//! Confidence of a suggestion: the posterior probability of its claim
//! (learning-statistics §5). `suggest::find` and `suggest::merge_history`
//! are pure functions over the typed patterns and history; `suggest::run`
//! only locks, reads and writes around them.

pub mod analyze;
pub mod apply;
pub mod decisions;
pub mod file;
pub mod impact;
pub mod label;
pub mod levels;
pub mod models;
pub mod pattern;
pub mod pooled;
pub mod report;
mod report_html;
pub mod scan;
#[cfg(any(test, feature = "simulate"))]
pub mod simulate;
#[cfg(any(test, feature = "simulate"))]
pub mod simulate_router;
pub mod sources;
pub mod stats;
pub mod suggest;
pub mod table;
pub mod tasks;
pub mod trust;
mod view;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::home::Home;
use crate::rules::Rule;

pub use apply::{apply, reject, Applied, Rejected};
pub use tasks::{TaskSource, TaskTable};

/// Options of `learn analyze`.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Groups with fewer (effective) samples get no suggestion. Default 5.
    pub min_sample_size: u32,
    /// Only records dated at or after this count; default: the last 90 days, decayed.
    pub since: Option<DateTime<Utc>>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            min_sample_size: 5,
            since: None,
        }
    }
}

/// Options of `learn suggest`.
#[derive(Debug, Clone)]
pub struct SuggestOptions {
    /// Suggestions below this confidence are not emitted. Default 0.70.
    pub min_confidence: f64,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            min_confidence: 0.70,
        }
    }
}

/// The exact change a suggestion proposes to `models.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum Change {
    /// Set `task_complexity.<level>.model` (the only change the orchestrator's
    /// own routing honours today).
    TaskComplexity {
        /// `simple`, `medium` or `complex`.
        level: String,
        /// The model id it has now.
        from: String,
        /// The model id to set.
        to: String,
    },
    /// Add a `rules` entry (honoured through `modelfit select`).
    AddRule {
        /// The rule to append.
        rule: Rule,
    },
    /// Replace the `rules` entry at `index` (which must still read `old`).
    ModifyRule {
        /// Position in the `rules` array.
        index: usize,
        /// The rule expected there now.
        old: Rule,
        /// Its replacement.
        rule: Rule,
    },
}

/// Lifecycle of a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for a person.
    Open,
    /// Written into models.json.
    Applied,
    /// Refused; never suggested again.
    Rejected,
}

/// One suggested change, as stored in `logs/model-learning.json` `suggestions[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Derived from the change itself: the same change has the same id in every run.
    pub id: String,
    /// `upgrade_complexity`, `downgrade_complexity`, `new_rule` or `modify_rule`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Why: `underperforming`, `over_provisioned` or `missing_rule`.
    pub finding: String,
    /// The exact change.
    pub change: Change,
    /// Human-readable reason with counts.
    pub reason: String,
    /// Posterior probability of the suggestion's claim (see the README).
    pub confidence: f64,
    /// open / applied / rejected.
    pub status: Status,
    /// When first suggested (ISO).
    pub created_at: String,
    /// Every other field (timestamps of status changes, evidence, …), kept as written.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The result of `analyze`: what was written to `logs/model-learning.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Records read.
    pub total_dispatches: u64,
    /// The patterns, as written (seed schema plus additions).
    pub patterns: Vec<pattern::Pattern>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Markdown for a person.
    Markdown,
    /// The learning file's content.
    Json,
    /// One self-contained HTML page with charts.
    Html,
}

/// Streams the ledger, computes per-group statistics and writes them to
/// `logs/model-learning.json` (locked, atomic; earlier suggestions kept).
pub fn analyze(home: &Home, opts: &AnalyzeOptions) -> Result<Analysis> {
    analyze::run(home, opts)
}

/// [`analyze`], also returning the window's task table for
/// [`suggest_with`]: `modelfit learn` reads the ledger twice in all, not
/// four times.
pub fn analyze_with_tasks(home: &Home, opts: &AnalyzeOptions) -> Result<(Analysis, TaskTable)> {
    analyze::run_with_tasks(home, opts, &crate::store::Ledger::of(home))
}

/// [`suggest`] over the task table `tasks` (see [`analyze_with_tasks`]).
pub fn suggest_with(
    home: &Home,
    opts: &SuggestOptions,
    tasks: &TaskSource,
) -> Result<Vec<Suggestion>> {
    suggest::run_with(home, opts, tasks)
}

/// Turns the latest analysis into suggestions (never re-suggesting a
/// rejected or applied change) and stores them. Returns the open ones.
pub fn suggest(home: &Home, opts: &SuggestOptions) -> Result<Vec<Suggestion>> {
    suggest::run(home, opts)
}

/// Renders the report of the latest analysis.
pub fn report(home: &Home, format: ReportFormat) -> Result<String> {
    report::render(home, format)
}
