//! Complexity for every recorded task: the orchestrator labels its own
//! dispatches (`complexity_source: "orchestrator"`), a person can set it
//! (`modelfit rate ID --complexity medium`, MCP `rate_task`; `"person"`), and
//! every other task gets an estimate (`"estimated"`) from what is
//! observable: the prompt, files touched, lines edited, tool calls, tokens
//! and duration.
//!
//! The estimate is a score (a sum of log-scaled features, see [`score`]) cut
//! into `simple` / `medium` / `complex` by two thresholds. The thresholds
//! default to [`DEFAULT_CUTS`] (fitted on the orchestrator's labelled
//! fixture dispatches, docs/outcome-evidence.md) and are refitted by
//! [`calibrate`] on the ledger's own labelled dispatches when it holds at
//! least [`MIN_LABELLED`] of them; the hook keeps the fit in
//! `logs/modelfit/complexity-calibration.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::home::Home;

/// The levels, from least to most complex.
pub const LEVELS: [&str; 3] = ["simple", "medium", "complex"];

/// Default thresholds on the score: below the first is simple, from the
/// second complex.
pub const DEFAULT_CUTS: (f64, f64) = (3.6, 7.4);

/// Labelled dispatches needed before the ledger's own fit replaces the defaults.
pub const MIN_LABELLED: usize = 30;

/// What is observable about a task.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// The task text.
    pub prompt: String,
    /// Files edited.
    pub files: Option<u64>,
    /// Lines written by edits.
    pub lines_edited: Option<u64>,
    /// Tool calls.
    pub tool_calls: Option<u64>,
    /// Tokens used.
    pub tokens: Option<u64>,
    /// Wall time in seconds.
    pub seconds: Option<f64>,
}

const HARD_WORDS: &[&str] = &[
    "architecture",
    "architect",
    "design",
    "redesign",
    "refactor",
    "migrate",
    "migration",
    "security",
    "audit",
    "concurrency",
    "concurrent",
    "distributed",
    "algorithm",
    "across",
    "multi-file",
    "rewrite",
    "performance",
    "optimi",
    "plugin",
    "framework",
    "split",
    "scalab",
    "race condition",
    "deadlock",
    "protocol",
];

const EASY_WORDS: &[&str] = &[
    "typo",
    "readme",
    "docs",
    "documentation",
    "comment",
    "rename",
    "logging",
    "log line",
    "bump",
    "format",
    "spelling",
    "changelog",
    "version",
    "docstring",
    "lint warning",
];

/// The complexity score of a task (higher is harder).
pub fn score(f: &Features) -> f64 {
    let ln1 = |x: f64| (1.0 + x.max(0.0)).ln();
    let text = f.prompt.to_lowercase();
    let words = text.split_whitespace().count() as f64;
    let mut s = 0.3 * ln1(words / 20.0);
    if HARD_WORDS.iter().any(|w| text.contains(w)) {
        s += 1.5;
    }
    if EASY_WORDS.iter().any(|w| text.contains(w)) {
        s -= 1.5;
    }
    s += f.tokens.map_or(2.5, |t| ln1(t as f64 / 1000.0));
    s += f.seconds.map_or(1.5, |x| ln1(x / 60.0));
    s += f.files.map_or(0.0, |n| 0.5 * ln1(n as f64 - 1.0));
    s += f.lines_edited.map_or(0.0, |n| 0.3 * ln1(n as f64 / 50.0));
    s += f.tool_calls.map_or(0.0, |n| 0.3 * ln1(n as f64 / 10.0));
    s
}

/// The level a score falls in.
pub fn level(score: f64, cuts: (f64, f64)) -> &'static str {
    if score < cuts.0 {
        LEVELS[0]
    } else if score < cuts.1 {
        LEVELS[1]
    } else {
        LEVELS[2]
    }
}

/// The estimated level of a task, with the home's calibration when present.
pub fn estimate(home: &Home, f: &Features) -> &'static str {
    level(
        score(f),
        Calibration::load(home).map_or(DEFAULT_CUTS, |c| c.cuts),
    )
}

/// Thresholds fitted on labelled dispatches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibration {
    /// The two thresholds.
    pub cuts: (f64, f64),
    /// How many labelled dispatches they were fitted on.
    pub labelled: usize,
    /// Their agreement with the labels on those dispatches (0–1).
    pub agreement: f64,
    /// When (ISO).
    pub at: String,
}

impl Calibration {
    fn path(home: &Home) -> std::path::PathBuf {
        home.state_dir().join("complexity-calibration.json")
    }

    /// The stored fit, if any.
    pub fn load(home: &Home) -> Option<Calibration> {
        let f = crate::readfile::open_regular(&Self::path(home)).ok()?;
        serde_json::from_reader(std::io::Read::take(f, 1 << 16)).ok()
    }

    /// Stores the fit (atomically).
    pub fn save(&self, home: &Home) -> crate::Result<()> {
        let _ = std::fs::create_dir_all(home.state_dir());
        crate::store::write_atomic(
            &Self::path(home),
            &serde_json::to_vec_pretty(self).expect("serializes"),
        )
    }

    /// Whether the stored fit is younger than a day.
    pub fn fresh(home: &Home) -> bool {
        std::fs::metadata(Self::path(home))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() < 24 * 3600)
    }
}

/// The features of a ledger record (as much as it carries).
pub fn features_of(r: &serde_json::Map<String, Value>) -> Features {
    let text = r
        .get("original_task")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            r.get("task")
                .and_then(Value::as_str)
                .map(crate::outcome::strip_context)
        })
        .unwrap_or_default();
    let n = |k: &str| r.get(k).and_then(Value::as_u64);
    Features {
        prompt: text,
        files: r
            .get("files_touched")
            .and_then(Value::as_array)
            .map(|a| a.len() as u64),
        lines_edited: n("lines_edited"),
        tool_calls: n("tool_calls"),
        tokens: n("tokens_used"),
        seconds: r.get("execution_time_seconds").and_then(Value::as_f64),
    }
}

/// Whether a record's complexity is the orchestrator's own label.
pub fn labelled(r: &serde_json::Map<String, Value>) -> Option<usize> {
    let c = r.get("complexity").and_then(Value::as_str)?;
    let src = r.get("complexity_source").and_then(Value::as_str);
    if !matches!(src, None | Some("orchestrator" | "person")) {
        return None;
    }
    LEVELS.iter().position(|l| *l == c)
}

/// Fits the two thresholds to `(score, level index)` samples, maximising
/// agreement; `None` with fewer than [`MIN_LABELLED`] samples or fewer than
/// two levels present.
pub fn calibrate(samples: &[(f64, usize)]) -> Option<((f64, f64), f64)> {
    if samples.len() < MIN_LABELLED {
        return None;
    }
    let present = (0..3).filter(|l| samples.iter().any(|s| s.1 == *l)).count();
    if present < 2 {
        return None;
    }
    let mut xs: Vec<f64> = samples.iter().map(|s| s.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut cands: Vec<f64> = xs.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    cands.insert(0, xs[0] - 1.0);
    cands.push(xs[xs.len() - 1] + 1.0);
    let mut best = (DEFAULT_CUTS, -1.0f64);
    for (i, a) in cands.iter().enumerate() {
        for b in &cands[i..] {
            let hits = samples
                .iter()
                .filter(|(s, l)| LEVELS[*l] == level(*s, (*a, *b)))
                .count();
            let acc = hits as f64 / samples.len() as f64;
            if acc > best.1 {
                best = ((*a, *b), acc);
            }
        }
    }
    Some(best)
}

/// Refits the home's calibration from its ledger's labelled dispatches; the
/// stored fit is removed when there are too few.
pub fn recalibrate(home: &Home, now: &str) -> crate::Result<Option<Calibration>> {
    let mut samples = Vec::new();
    crate::store::Ledger::of(home).for_each(|r: serde_json::Map<String, Value>| {
        if let Some(l) = labelled(&r) {
            samples.push((score(&features_of(&r)), l));
        }
        true
    })?;
    match calibrate(&samples) {
        Some((cuts, agreement)) => {
            let c = Calibration {
                cuts,
                labelled: samples.len(),
                agreement,
                at: now.to_string(),
            };
            c.save(home)?;
            Ok(Some(c))
        }
        None => {
            let _ = std::fs::remove_file(Calibration::path(home));
            Ok(None)
        }
    }
}

/// Reads a ledger file's labelled dispatches and returns `(label, estimate)`
/// pairs with the default thresholds (for tests and reports).
pub fn agreement_on(path: &Path) -> crate::Result<Vec<(String, String)>> {
    let ledger = crate::store::Ledger::at(path, std::env::temp_dir());
    let mut out = Vec::new();
    ledger.for_each(|r: serde_json::Map<String, Value>| {
        if let Some(l) = labelled(&r) {
            out.push((
                LEVELS[l].to_string(),
                level(score(&features_of(&r)), DEFAULT_CUTS).to_string(),
            ));
        }
        true
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_tasks_land_apart() {
        let easy = Features {
            prompt: "fix typo in README".into(),
            tokens: Some(4000),
            seconds: Some(60.0),
            files: Some(1),
            lines_edited: Some(1),
            tool_calls: Some(3),
        };
        let hard = Features {
            prompt: "refactor the auth layer across services".into(),
            tokens: Some(250_000),
            seconds: Some(1500.0),
            files: Some(14),
            lines_edited: Some(900),
            tool_calls: Some(80),
        };
        assert_eq!(level(score(&easy), DEFAULT_CUTS), "simple");
        assert_eq!(level(score(&hard), DEFAULT_CUTS), "complex");
    }

    #[test]
    fn calibration_needs_enough_labels() {
        let few: Vec<(f64, usize)> = (0..10).map(|i| (i as f64, i % 3)).collect();
        assert!(calibrate(&few).is_none());
        let many: Vec<(f64, usize)> = (0..60).map(|i| (i as f64, i / 20)).collect();
        let ((a, b), acc) = calibrate(&many).unwrap();
        assert!(acc > 0.99, "{acc}");
        assert!(a > 19.0 && a < 20.0 && b > 39.0 && b < 40.0);
    }
}
