//! Outcome evidence: what a finished task left behind, weighed into a
//! calibrated `p_success`, per-source verdicts and the hard outcome.
//!
//! * [`lines`] parses the task's stretch of the transcript into items;
//! * [`facts`] judges them: verification runs ([`runners`]), the final
//!   message ([`assistant`]), tool errors;
//! * [`followup`] reads the person's next prompt;
//! * [`score`] weighs everything;
//! * [`settle`] writes the result onto a record.
//!
//! Record fields (reference note §5): `p_success`, `outcome_evidence`
//! (`{source, signal, detail, at}`), `outcome_sources.<source>` (each
//! source's own verdict), `outcome` / `outcome_source` (through
//! [`crate::outcome::apply`], so people and CI keep precedence).

pub mod assistant;
pub mod facts;
pub mod followup;
pub mod lines;
pub mod runners;
pub mod score;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::outcome::{self, Outcome, Source, Verdict};
use crate::record::Record;

/// One piece of evidence about a task's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Who says it: `tests`, `verification`, `assistant`, `hook`,
    /// `followup`, `human`, `orchestrator`.
    pub source: String,
    /// What it says, e.g. `pass`, `fail`, `admits_failure`, `correction`.
    pub signal: String,
    /// The line or words that said it (redacted, at most 200 characters).
    pub detail: String,
    /// When it was seen (ISO).
    pub at: String,
}

impl Evidence {
    /// A piece of evidence; the detail is redacted and cut.
    pub fn new(source: &str, signal: &str, detail: &str, at: &str) -> Evidence {
        let detail: String = detail.chars().take(200).collect();
        Evidence {
            source: source.to_string(),
            signal: signal.to_string(),
            detail: crate::signals::redact(&detail),
            at: at.to_string(),
        }
    }
}

/// The sources the transcript reading produces: a refresh replaces them.
pub const TRANSCRIPT_SOURCES: &[&str] = &["tests", "verification", "assistant", "hook"];

/// The sources the next prompt produces.
pub const FOLLOWUP_SOURCES: &[&str] = &["followup"];

/// Writes evidence onto `rec` and settles its outcome: the record's earlier
/// evidence from other sources is kept, `fresh` replaces the evidence of the
/// `replaces` sources, the orchestrator's `failed` status is added for a
/// dispatch, and the hook's verdict (`template`, whose outcome is replaced by
/// the weighed one) is applied with the usual precedence. Returns the
/// outcome the hook's evidence gives (the record's may be a person's).
pub fn settle(
    rec: &mut Record,
    fresh: Vec<Evidence>,
    replaces: &[&str],
    template: &Verdict,
    now: &str,
) -> Outcome {
    let mut all: Vec<Evidence> = rec
        .get("outcome_evidence")
        .and_then(|v| serde_json::from_value::<Vec<Evidence>>(v.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !replaces.contains(&e.source.as_str()))
        .filter(|e| !(e.source == "orchestrator" && e.signal == "status_failed"))
        .collect();
    all.extend(fresh);
    // The orchestrator's verification (its own dispatches, not ours).
    let theirs = rec.get("type").and_then(Value::as_str) != Some("claude-code");
    if theirs && rec.get("status").and_then(Value::as_str) == Some("failed") {
        let why = ["error_message", "verification_log", "error"]
            .iter()
            .find_map(|k| rec.get(*k).and_then(Value::as_str))
            .unwrap_or("status failed");
        all.push(Evidence::new("orchestrator", "status_failed", why, now));
    }
    let sources = match rec.get("outcome_sources") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let person = outcome::written_elsewhere(rec)
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|o| o.parse::<Outcome>().ok())
        .or_else(|| {
            sources
                .get("orchestrator")
                .filter(|_| {
                    rec.get("outcome_source").and_then(Value::as_str) == Some("orchestrator")
                })
                .and_then(|v| v.get("outcome"))
                .and_then(Value::as_str)
                .and_then(|o| o.parse().ok())
        });
    let p = score::p_success(&all, &sources, person);
    // The hook's own verdict ignores people's (they are applied on their own).
    let p_hook = score::p_success(&all, &strip_people(&sources), None);
    let verdict_outcome = score::outcome(p_hook, &all);
    let mut verdict = template.clone();
    verdict.outcome = verdict_outcome;
    if verdict.notes.is_none() {
        verdict.notes =
            strongest(&all).map(|e| format!("{}: {} ({})", e.source, e.signal, e.detail));
    }
    outcome::apply(rec, &verdict, now);

    let mut sources = match rec.get("outcome_sources") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for src in [
        "tests",
        "verification",
        "assistant",
        "followup",
        "orchestrator",
    ] {
        // The orchestrator's key holds a person's verdict when there is one.
        if src == "orchestrator" && sources.contains_key(src) {
            continue;
        }
        match score::source_verdict(&all, src) {
            Some(o) => {
                let detail = all
                    .iter()
                    .rev()
                    .find(|e| e.source == src)
                    .map(|e| e.detail.clone())
                    .unwrap_or_default();
                sources.insert(
                    src.into(),
                    json!({"outcome": o.as_str(), "detail": detail, "at": now}),
                );
            }
            None if replaces.contains(&src) => {
                sources.remove(src);
            }
            None => {}
        }
    }
    if let Some(Value::Object(h)) = sources.get_mut("hook") {
        h.insert("p_success".into(), json!(p_hook));
    }
    rec.insert("outcome_sources".into(), Value::Object(sources));
    rec.insert("p_success".into(), json!(p));
    rec.insert(
        "outcome_evidence".into(),
        serde_json::to_value(&all).unwrap_or(Value::Array(Vec::new())),
    );
    verdict_outcome
}

fn strip_people(sources: &Map<String, Value>) -> Map<String, Value> {
    let mut m = sources.clone();
    for k in ["human", "manual", "person"] {
        m.remove(k);
    }
    m
}

/// The piece of evidence with the largest weight (either way).
fn strongest(all: &[Evidence]) -> Option<&Evidence> {
    all.iter()
        .filter(|e| score::weight(&e.source, &e.signal) != 0.0)
        .max_by(|a, b| {
            let wa = score::weight(&a.source, &a.signal).abs();
            let wb = score::weight(&b.source, &b.signal).abs();
            wa.total_cmp(&wb)
        })
}

/// The evidence of the next prompt, and a person's verdict when it is a rating.
pub fn from_followup(
    prompt: &str,
    previous: &str,
    at: &str,
) -> (Vec<Evidence>, Option<(Outcome, f64)>) {
    use followup::Followup;
    match followup::classify(prompt, previous) {
        Followup::Rating(r) => {
            let o = if r >= 6.0 {
                Outcome::Success
            } else if r <= 4.0 {
                Outcome::Failure
            } else {
                Outcome::Partial
            };
            (
                vec![Evidence::new("human", "rating", &format!("{r}/10"), at)],
                Some((o, r)),
            )
        }
        Followup::Correction(s) => (vec![Evidence::new("followup", "correction", &s, at)], None),
        Followup::Praise(s) => (vec![Evidence::new("followup", "praise", &s, at)], None),
        Followup::NewTask => (
            vec![Evidence::new(
                "followup",
                "new_task",
                "a new request followed",
                at,
            )],
            None,
        ),
    }
}

/// A person's rating as a verdict with the rating kept.
pub fn rating_verdict(outcome: Outcome, rating: f64, now: &str) -> Verdict {
    let mut v = Verdict::new(outcome, Source::Human);
    v.extra.push(("rating".into(), json!(rating)));
    v.extra.push(("rated_at".into(), json!(now)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_keeps_other_sources_and_respects_people() {
        let mut r: Record = json!({"id": "a", "type": "claude-code"})
            .as_object()
            .unwrap()
            .clone();
        let t = Verdict::new(Outcome::Success, Source::Hook);
        let o = settle(
            &mut r,
            vec![Evidence::new("tests", "fail", "pytest: 1 failed", "t")],
            TRANSCRIPT_SOURCES,
            &t,
            "t",
        );
        assert_eq!(o, Outcome::Failure);
        assert_eq!(r["outcome"], "failure");
        assert_eq!(r["outcome_sources"]["tests"]["outcome"], "failure");
        // The next prompt praises it: followup kept beside the transcript's.
        settle(
            &mut r,
            vec![Evidence::new("followup", "praise", "thanks", "t2")],
            FOLLOWUP_SOURCES,
            &t,
            "t2",
        );
        assert_eq!(r["outcome_evidence"].as_array().unwrap().len(), 2);
        // A refresh of the transcript keeps the follow-up.
        settle(
            &mut r,
            vec![Evidence::new("tests", "pass", "", "t3")],
            TRANSCRIPT_SOURCES,
            &t,
            "t3",
        );
        assert_eq!(r["outcome"], "success");
        assert!(r["p_success"].as_f64().unwrap() > 0.9);
        // The orchestrator's failed status on its own dispatch.
        let mut d: Record =
            json!({"id": "d", "status": "failed", "error_message": "verification failed"})
                .as_object()
                .unwrap()
                .clone();
        settle(
            &mut d,
            vec![Evidence::new("tests", "pass", "", "t")],
            TRANSCRIPT_SOURCES,
            &t,
            "t",
        );
        assert_eq!(d["outcome"], "failure");
    }
}
