//! One cell of the analysis as the learning file holds it: complexity ×
//! model, or keyword × complexity × model. `analyze` builds these, the file
//! stores them (`patterns[]`), and `suggest`, `report`, `rate --next` and
//! `select`'s exploration read them back through this one type.
//!
//! The field order is the file's key order: the seed schema's fields first
//! (`pattern_id` … `confidence`), modelfit's additions after.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::models;
use super::stats::{self, Beta};
use crate::error::{Error, Result};

/// A cell's figures, as `analyze` wrote them.
///
/// Fields added after the first release read as empty when an older file
/// lacks them (`#[serde(default)]`), so `report` still reads such a file;
/// the next `analyze` rewrites every pattern.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    /// `complexity=L/model=F`, or `keyword=K/complexity=L/model=F`.
    #[serde(default)]
    pub pattern_id: String,
    /// The routing condition the cell stands for, in the rules' own syntax.
    #[serde(default)]
    pub trigger: String,
    /// Complexity level (`simple`, `medium`, `complex`).
    pub complexity: String,
    /// The keyword of a keyword cell; absent for a level cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// The latest full model id seen in the cell.
    #[serde(default)]
    pub model: String,
    /// Estimated first-attempt success rate (the label model's posterior mean).
    pub success_rate: f64,
    /// First attempts with a known outcome.
    pub sample_size: u64,
    /// Mean tokens per attempt that reported them.
    #[serde(default)]
    pub avg_tokens: f64,
    /// Posterior probability that the true rate is within ±10 points of `success_rate`.
    #[serde(default)]
    pub confidence: f64,
    /// `haiku`, `sonnet` or `opus`.
    pub model_family: String,
    /// The model ids seen in the cell (at most 16).
    #[serde(default)]
    pub model_versions: Vec<String>,
    /// `L` for a level cell, `L/K` for a keyword cell (what suggestions name).
    #[serde(default)]
    pub cell: String,
    /// Σ of the tasks' posteriors of success (soft labels).
    #[serde(default)]
    pub successes: f64,
    /// `sample_size − successes`.
    #[serde(default)]
    pub failures: f64,
    /// First attempts that ended partially (counted as not a success).
    #[serde(default)]
    pub partial: u64,
    /// First attempts without any outcome evidence (not counted).
    #[serde(default)]
    pub unknown: u64,
    /// Implicit successes far above the cell's tokens or time (not counted).
    #[serde(default)]
    pub questioned: u64,
    /// Kish effective size of the decayed weights.
    #[serde(default)]
    pub effective_sample_size: f64,
    /// `success_rate × effective_sample_size`.
    #[serde(default)]
    pub weighted_successes: f64,
    /// Information-equivalent sample size: the effective size shrunk by the
    /// label model's uncertainty. Absent in files from before the label model.
    #[serde(default)]
    pub information_size: Option<f64>,
    /// What the label model made of the cell's evidence.
    #[serde(default)]
    pub labels: PatternLabels,
    /// 95 % interval of the rate, on the information-equivalent size.
    #[serde(default = "whole_interval")]
    pub wilson_95: [f64; 2],
    /// Mean execution time per attempt that reported it, in seconds.
    #[serde(default)]
    pub avg_execution_time_seconds: f64,
    /// Every attempt (first ones and retries).
    #[serde(default)]
    pub attempts: u64,
    /// Attempts that retried an earlier one.
    #[serde(default)]
    pub retries: u64,
    /// Retries on a stronger model.
    #[serde(default)]
    pub escalations: u64,
    /// First attempts routed by exploration.
    #[serde(default)]
    pub explored: u64,
    /// Σ posteriors of the explored attempts.
    #[serde(default)]
    pub explored_successes: f64,
    /// Attempts whose model a person chose over the rule's.
    #[serde(default)]
    pub overrides: u64,
    /// Attempts that reported no tokens.
    #[serde(default)]
    pub without_tokens: u64,
    /// Attempts listed as anomalies.
    #[serde(default)]
    pub anomalies: u64,
    /// Task and cost figures, on level cells only.
    #[serde(flatten)]
    pub cost: Option<PatternCost>,
    /// Effective size since the last applied change of this cell, when
    /// one is cooling down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_n_since_change: Option<f64>,
    /// Id of the open suggestion about this cell that targets this model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

fn whole_interval() -> [f64; 2] {
    [0.0, 1.0]
}

/// The label model's view of one cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatternLabels {
    /// Tasks with a person's or CI's verdict.
    pub judged: f64,
    /// Successes among them.
    pub judged_successes: f64,
    /// Mean implicit posterior over the cell's tasks (`null`: no weight).
    pub implicit_rate: Option<f64>,
    /// Correction added to the implicit posterior (shrunk), and its sd.
    pub shift: f64,
    /// Standard deviation of `shift`.
    pub shift_sd: f64,
    /// The estimate from the cell's own judged tasks, nothing borrowed.
    pub own_rate: Option<f64>,
    /// Its standard deviation.
    pub own_sd: Option<f64>,
}

/// Task and cost figures of a level cell (a task is counted once, on the
/// model of its first attempt).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatternCost {
    /// Tasks whose first attempt is in the cell.
    pub tasks: u64,
    /// Σ posteriors that the task eventually succeeded.
    #[serde(default)]
    pub tasks_succeeded: f64,
    /// Σ cost of the tasks' attempts.
    #[serde(default)]
    pub cost_usd: f64,
    /// Share of attempts with a cost.
    #[serde(default)]
    pub cost_coverage: f64,
    /// Cost per successful task; `null` when too few attempts are costed.
    #[serde(default)]
    pub cost_per_success_usd: Option<f64>,
    /// Mean cost of a costed attempt.
    #[serde(default)]
    pub mean_attempt_cost_usd: Option<f64>,
}

impl Pattern {
    /// The model family, if `model_family` names one.
    pub fn family(&self) -> Option<&'static str> {
        models::family(&self.model_family)
    }

    /// Successes rounded to a whole count (for a person's reading).
    pub fn successes_rounded(&self) -> u64 {
        self.successes.max(0.0).round() as u64
    }

    /// The information-equivalent size (the effective size in older files).
    pub fn info(&self) -> f64 {
        self.information_size.unwrap_or(self.effective_sample_size)
    }

    /// The posterior of the cell's rate: mean `success_rate`, on the
    /// information-equivalent size.
    pub fn posterior(&self) -> Beta {
        Beta::moments(self.success_rate, self.info())
    }

    /// The estimate from the cell's own judged tasks (mean, sd), if any.
    pub fn own(&self) -> Option<(f64, f64)> {
        self.labels.own_rate.zip(self.labels.own_sd)
    }

    /// P(rate ≥ `bar`) by the cell's own judged tasks alone (normal
    /// approximation), if any task was judged.
    pub fn own_p_at_least(&self, bar: f64) -> Option<f64> {
        self.own()
            .map(|(m, sd)| 1.0 - stats::phi((bar - m) / sd.max(1e-6)))
    }

    /// Cost per successful task, on level cells that have one.
    pub fn cost_per_success(&self) -> Option<f64> {
        self.cost.as_ref().and_then(|c| c.cost_per_success_usd)
    }

    /// Mean cost of a costed attempt, on level cells that have one.
    pub fn mean_attempt_cost(&self) -> Option<f64> {
        self.cost.as_ref().and_then(|c| c.mean_attempt_cost_usd)
    }
}

/// The patterns of a learning document, or `None` when no analysis has
/// been written. An entry that is not a pattern is an error naming it.
pub fn read(doc: &Map<String, Value>) -> Result<Option<Vec<Pattern>>> {
    let Some(list) = doc.get("patterns") else {
        return Ok(None);
    };
    Vec::<Pattern>::deserialize(list).map(Some).map_err(|e| {
        Error::Invalid(format!(
            "the learning file's patterns are unreadable ({e}): run `modelfit learn analyze` to rewrite them"
        ))
    })
}

/// Stores `patterns` in `doc` (replacing the earlier ones).
pub fn write(doc: &mut Map<String, Value>, patterns: &[Pattern]) {
    let v = serde_json::to_value(patterns).expect("patterns serialize");
    doc.insert("patterns".into(), v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn level() -> Value {
        json!({
            "pattern_id": "complexity=simple/model=haiku", "trigger": "complexity == 'simple'",
            "complexity": "simple", "model": "claude-haiku-4-5", "success_rate": 0.9,
            "sample_size": 40, "avg_tokens": 1200.0, "confidence": 0.8, "model_family": "haiku",
            "model_versions": ["claude-haiku-4-5"], "cell": "simple", "successes": 36.0,
            "failures": 4.0, "partial": 1, "unknown": 2, "questioned": 0,
            "effective_sample_size": 30.0, "weighted_successes": 27.0, "information_size": 20.0,
            "labels": {"judged": 4.0, "judged_successes": 3.0, "implicit_rate": 0.95,
                       "shift": -0.05, "shift_sd": 0.02, "own_rate": 0.7, "own_sd": 0.1},
            "wilson_95": [0.8, 0.96], "avg_execution_time_seconds": 12.5, "attempts": 44,
            "retries": 4, "escalations": 1, "explored": 3, "explored_successes": 2.5,
            "overrides": 0, "without_tokens": 0, "anomalies": 0, "tasks": 40,
            "tasks_succeeded": 38.0, "cost_usd": 1.2, "cost_coverage": 1.0,
            "cost_per_success_usd": null, "mean_attempt_cost_usd": 0.03
        })
    }

    #[test]
    fn a_written_pattern_reads_back_key_for_key() {
        let v = level();
        let p: Pattern = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(p.family(), Some("haiku"));
        assert_eq!(p.info(), 20.0);
        assert_eq!(p.own(), Some((0.7, 0.1)));
        assert_eq!(p.mean_attempt_cost(), Some(0.03));
        assert_eq!(p.cost_per_success(), None);
        // Same keys, same order, same values: the file does not drift.
        let back = serde_json::to_value(&p).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&back), keys(&v));
        assert_eq!(back, v);
    }

    #[test]
    fn a_keyword_pattern_has_no_cost_fields() {
        let mut v = level();
        let m = v.as_object_mut().unwrap();
        for k in [
            "tasks",
            "tasks_succeeded",
            "cost_usd",
            "cost_coverage",
            "cost_per_success_usd",
            "mean_attempt_cost_usd",
        ] {
            m.remove(k);
        }
        m.insert("keyword".into(), json!("docs"));
        let p: Pattern = serde_json::from_value(v).unwrap();
        assert_eq!(p.cost, None);
        let back = serde_json::to_value(&p).unwrap();
        assert!(back.get("tasks").is_none());
        assert!(back.get("cost_per_success_usd").is_none());
        assert_eq!(back["keyword"], "docs");
    }

    #[test]
    fn an_older_pattern_reads_with_its_effective_size() {
        let p: Pattern = serde_json::from_value(json!({
            "complexity": "medium", "model_family": "sonnet", "success_rate": 0.8,
            "sample_size": 10, "effective_sample_size": 8.0
        }))
        .unwrap();
        assert_eq!(p.info(), 8.0);
        assert_eq!(p.wilson_95, [0.0, 1.0]);
        assert_eq!(p.own(), None);
        assert_eq!(p.own_p_at_least(0.8), None);
    }

    #[test]
    fn a_malformed_pattern_is_an_error_that_says_what_to_run() {
        let mut doc = Map::new();
        doc.insert("patterns".into(), json!([{"complexity": 3}]));
        let e = read(&doc).unwrap_err().to_string();
        assert!(e.contains("modelfit learn analyze"), "{e}");
        assert_eq!(read(&Map::new()).unwrap(), None);
    }

    #[test]
    fn own_estimate_probability_is_the_normal_tail() {
        let p = Pattern {
            labels: PatternLabels {
                own_rate: Some(0.8),
                own_sd: Some(0.1),
                ..Default::default()
            },
            ..Default::default()
        };
        // At the mean: one half; one sd above it: 1 − Φ(1) ≈ 0.1587.
        assert!((p.own_p_at_least(0.8).unwrap() - 0.5).abs() < 1e-6);
        assert!((p.own_p_at_least(0.9).unwrap() - 0.158_655).abs() < 1e-4);
    }
}
