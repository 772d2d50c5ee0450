//! Weighing evidence into `p_success`, per-source verdicts and the hard
//! outcome.
//!
//! The model is naive Bayes in log-odds: a prior for "the task succeeded"
//! plus one log likelihood ratio per piece of evidence, squashed by the
//! logistic function. Each (source, signal) weight is ln(P(signal | success)
//! / P(signal | failure)); the starting values come from the reference note's
//! ordering of sources (people > orchestrator verification > test runs >
//! admissions > follow-up > claims) and were then tuned on the labelled
//! session generator of `tests/outcome_eval.rs` (several seeds, phrasing and
//! runners held out), see docs/outcome-evidence.md. A person's verdict (a
//! rating, `rate`, `outcome`, the orchestrator's `update_task_outcome`)
//! replaces the model: p is then 0.97 / 0.03 (0.35 for partial).

use serde_json::{Map, Value};

use super::Evidence;
use crate::outcome::Outcome;

/// Log-odds of success before any evidence: ln(0.72 / 0.28), the success
/// rate of the held-out set described in issue 9 (322 of 445).
pub const PRIOR: f64 = 0.94;

/// The weight of one signal, 0 for unknown ones.
pub fn weight(source: &str, signal: &str) -> f64 {
    match (source, signal) {
        ("tests", "pass") => 1.9,
        ("tests", "pass_after_fail") => 1.9,
        ("tests", "pass_then_edited") => 0.5,
        ("tests", "fail") => -3.4,
        ("verification", "pass") => 0.6,
        ("verification", "pass_after_fail") => 0.6,
        ("verification", "pass_then_edited") => 0.2,
        ("verification", "fail") => -2.2,
        ("assistant", "admits_failure") => -3.2,
        ("assistant", "claims_done") => 0.4,
        ("hook", "stop") => 0.0,
        ("hook", "stop_failure") => -3.5,
        ("hook", "api_error") => -2.2,
        ("hook", "interrupted") => -1.6,
        ("hook", "no_stop") => -1.6,
        ("hook", "tool_errors") => -0.3,
        ("followup", "correction") => -3.6,
        ("followup", "praise") => 2.6,
        ("followup", "new_task") => 0.5,
        ("orchestrator", "status_failed") => -4.5,
        ("ci", "success") => 2.5,
        ("ci", "failure") => -3.0,
        ("ci", "partial") => -1.0,
        _ => 0.0,
    }
}

/// Sources whose verdict is a person's: when one is present it decides.
const PEOPLE: &[&str] = &["human", "manual", "person"];

/// P(success) given the evidence and the verdicts already in
/// `outcome_sources` (people, CI). `person` is a person's verdict found
/// elsewhere (the orchestrator's `update_task_outcome`).
pub fn p_success(
    evidence: &[Evidence],
    sources: &Map<String, Value>,
    person: Option<Outcome>,
) -> f64 {
    let decided = PEOPLE
        .iter()
        .filter_map(|k| sources.get(*k))
        .filter_map(|v| v.get("outcome").and_then(Value::as_str))
        .filter_map(|o| o.parse::<Outcome>().ok())
        .next_back()
        .or(person);
    if let Some(o) = decided {
        return match o {
            Outcome::Success => 0.97,
            Outcome::Failure => 0.03,
            Outcome::Partial => 0.35,
        };
    }
    let mut z = PRIOR;
    for e in evidence {
        z += weight(&e.source, &e.signal);
    }
    if let Some(ci) = sources
        .get("ci")
        .and_then(|v| v.get("outcome"))
        .and_then(Value::as_str)
    {
        z += weight("ci", ci);
    }
    round3(1.0 / (1.0 + (-z).exp()))
}

/// Rounds to 3 decimals, as the record contract says.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The hard verdict from `p`: success from 0.5; below it partial when the
/// task was cut short (interrupted, no Stop) and nothing says it failed
/// outright, else failure.
pub fn outcome(p: f64, evidence: &[Evidence]) -> Outcome {
    if p >= 0.5 {
        return Outcome::Success;
    }
    let cut_short = evidence
        .iter()
        .any(|e| e.source == "hook" && matches!(e.signal.as_str(), "interrupted" | "no_stop"));
    let strong_failure = evidence
        .iter()
        .any(|e| weight(&e.source, &e.signal) <= -2.0);
    if cut_short && !strong_failure {
        Outcome::Partial
    } else {
        Outcome::Failure
    }
}

/// One source's own verdict from its signals (`None` when they cancel out
/// or carry no weight).
pub fn source_verdict(evidence: &[Evidence], source: &str) -> Option<Outcome> {
    let z: f64 = evidence
        .iter()
        .filter(|e| e.source == source)
        .map(|e| weight(&e.source, &e.signal))
        .sum();
    if z > 0.0 {
        Some(Outcome::Success)
    } else if z < 0.0 {
        Some(Outcome::Failure)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(source: &str, signal: &str) -> Evidence {
        Evidence::new(source, signal, "", "t")
    }

    #[test]
    fn failing_tests_outweigh_a_claim_and_people_decide() {
        let none = Map::new();
        let p = p_success(
            &[ev("tests", "fail"), ev("assistant", "claims_done")],
            &none,
            None,
        );
        assert!(p < 0.2, "{p}");
        let p = p_success(
            &[ev("tests", "pass"), ev("assistant", "claims_done")],
            &none,
            None,
        );
        assert!(p > 0.9, "{p}");
        let p = p_success(&[ev("hook", "stop")], &none, None);
        assert!((0.6..0.8).contains(&p), "{p}");
        let p = p_success(&[ev("tests", "pass")], &none, Some(Outcome::Failure));
        assert_eq!(p, 0.03);
        let p = p_success(
            &[ev("tests", "pass"), ev("orchestrator", "status_failed")],
            &none,
            None,
        );
        assert!(p < 0.5, "{p}");
        assert_eq!(outcome(0.4, &[ev("hook", "interrupted")]), Outcome::Partial);
        assert_eq!(
            outcome(0.1, &[ev("hook", "interrupted"), ev("tests", "fail")]),
            Outcome::Failure
        );
    }
}
