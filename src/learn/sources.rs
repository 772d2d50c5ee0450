//! What a record says about its outcome, source by source: the typed view of
//! `outcome`, `outcome_source`, `outcome_sources`, `status` and `p_success`
//! that the label model reads ([`super::label::Evidence`]).
//!
//! Explicit verdicts (people) come from `outcome_sources.human|manual|
//! orchestrator`, or from `outcome` when `outcome_source` names one of
//! them (or is missing / unknown: the orchestrator's `update_task_outcome`
//! writes `outcome` alone), or when `outcome` differs from the verdict its
//! `outcome_source` recorded (another program rewrote it: a person).
//! Implicit verdicts come from `outcome_sources.<source>`, from `outcome`
//! when `outcome_source` is `hook` or `derived`, and from `status`
//! (the orchestrator's verification: `complete` / `failed`).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use super::label::{Evidence, IMPLICIT, VERIFICATION};

/// One source's verdict (`{"outcome": "success"|"failure"|"partial", …}`),
/// read leniently: anything else is no verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Verdict(pub Option<Hard>);

/// A hard verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hard {
    /// `success`.
    Success,
    /// `failure`.
    Failure,
    /// `partial` (counts as not a success).
    Partial,
}

impl Hard {
    /// Parses `success` / `failure` / `partial` (any case, trimmed).
    pub fn parse(s: &str) -> Option<Hard> {
        match s.trim().to_ascii_lowercase().as_str() {
            "success" => Some(Hard::Success),
            "failure" => Some(Hard::Failure),
            "partial" => Some(Hard::Partial),
            _ => None,
        }
    }

    /// Success or not.
    pub fn ok(self) -> bool {
        self == Hard::Success
    }
}

impl<'de> Deserialize<'de> for Verdict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Verdict, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Obj {
            #[serde(deserialize_with = "crate::record::lenient_string")]
            outcome: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            Obj(Obj),
            Str(String),
            Other(serde::de::IgnoredAny),
        }
        Ok(Verdict(match Any::deserialize(d)? {
            Any::Obj(o) => o.outcome.as_deref().and_then(Hard::parse),
            Any::Str(s) => Hard::parse(&s),
            Any::Other(_) => None,
        }))
    }
}

/// `outcome_sources`, one field per known source.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct OutcomeSources {
    /// `modelfit rate` / MCP `rate_task`.
    pub human: Verdict,
    /// `modelfit outcome`.
    pub manual: Verdict,
    /// A person through the orchestrator (`update_task_outcome`).
    pub orchestrator: Verdict,
    /// CI.
    pub ci: Verdict,
    /// The orchestrator's verification step.
    pub verification: Verdict,
    /// The person's next prompt.
    pub followup: Verdict,
    /// Test / build runs in the transcript.
    pub tests: Verdict,
    /// The assistant's final message.
    pub assistant: Verdict,
    /// The Stop hook.
    pub hook: Verdict,
    /// Retry link.
    pub derived: Verdict,
}

impl OutcomeSources {
    fn implicit(&self, i: usize) -> Verdict {
        match IMPLICIT[i] {
            "hook" => self.hook,
            "tests" => self.tests,
            "assistant" => self.assistant,
            "followup" => self.followup,
            "verification" => self.verification,
            "ci" => self.ci,
            _ => self.derived,
        }
    }

    fn get(&self, name: &str) -> Option<Verdict> {
        Some(match name {
            "human" => self.human,
            "manual" => self.manual,
            "orchestrator" => self.orchestrator,
            "ci" => self.ci,
            "verification" => self.verification,
            "followup" => self.followup,
            "tests" => self.tests,
            "assistant" => self.assistant,
            "hook" => self.hook,
            "derived" => self.derived,
            _ => return None,
        })
    }
}

/// The outcome fields of a record, as read by `learn`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OutcomeView {
    /// The hard verdict.
    #[serde(deserialize_with = "crate::record::lenient_word")]
    pub outcome: Option<Cow<'static, str>>,
    /// Who decided it.
    #[serde(deserialize_with = "crate::record::lenient_word")]
    pub outcome_source: Option<Cow<'static, str>>,
    /// Per-source verdicts.
    #[serde(deserialize_with = "lenient_sources")]
    pub outcome_sources: Option<OutcomeSources>,
    /// The orchestrator's status.
    #[serde(deserialize_with = "crate::record::lenient_word")]
    pub status: Option<Cow<'static, str>>,
    /// The capture's probability.
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    pub p_success: Option<f64>,
}

/// `deserialize_with` helper: the sources object, or `None` for any other JSON value.
pub fn lenient_sources<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<OutcomeSources>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Any {
        Obj(OutcomeSources),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Any::deserialize(d)? {
        Any::Obj(o) => Some(o),
        Any::Other(_) => None,
    })
}

/// The evidence of a record: the explicit verdict (and whether it was
/// `partial`), and every implicit one except the retry link, which needs
/// the whole ledger (set by the caller as source [`super::label::DERIVED`]).
pub fn evidence(v: &OutcomeView) -> (Evidence, bool) {
    let mut ev = Evidence {
        p_success: v.p_success.filter(|p| p.is_finite()),
        ..Evidence::default()
    };
    let srcs = v.outcome_sources.unwrap_or_default();
    let outcome = v.outcome.as_deref().and_then(Hard::parse);
    let source = v.outcome_source.as_deref().map(str::trim);
    // Explicit: the named explicit sources first, by precedence.
    let mut explicit: Option<Hard> = [srcs.human, srcs.manual, srcs.orchestrator]
        .iter()
        .find_map(|x| x.0);
    let mut top_is_implicit = false;
    if let Some(o) = outcome {
        match source {
            Some("hook") | Some("derived") | Some("ci") => {
                // Rewritten by someone else when it differs from what that source said.
                let recorded = srcs.get(source.unwrap_or("")).and_then(|x| x.0);
                if recorded.is_some_and(|r| r != o) {
                    explicit = explicit.or(Some(o));
                } else {
                    top_is_implicit = true;
                }
            }
            Some(s)
                if srcs.get(s).is_some() && !matches!(s, "human" | "manual" | "orchestrator") =>
            {
                // An implicit source named as the decider (tests, followup, …).
                let recorded = srcs.get(s).and_then(|x| x.0);
                if recorded.is_some_and(|r| r != o) {
                    explicit = explicit.or(Some(o));
                }
            }
            _ => explicit = explicit.or(Some(o)),
        }
    }
    for i in 0..IMPLICIT.len() {
        if let Some(h) = srcs.implicit(i).0 {
            ev.set(i, h.ok());
        }
    }
    if top_is_implicit {
        let i = match source {
            Some("derived") => super::label::DERIVED,
            Some("ci") => super::label::CI,
            _ => 0,
        };
        if let Some(o) = outcome {
            ev.set(i, o.ok());
        }
    }
    if ev.get(VERIFICATION).is_none() {
        match v.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("complete") | Some("completed") => ev.set(VERIFICATION, true),
            Some("failed") | Some("error") | Some("timeout") => ev.set(VERIFICATION, false),
            _ => {}
        }
    }
    ev.explicit = explicit.map(Hard::ok);
    (ev, explicit == Some(Hard::Partial))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(v: serde_json::Value) -> (Evidence, bool) {
        evidence(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn hook_outcome_and_status_are_implicit() {
        let (e, _) = view(
            serde_json::json!({"outcome": "success", "outcome_source": "hook", "status": "failed"}),
        );
        assert_eq!(e.explicit, None);
        assert_eq!(e.get(0), Some(true));
        assert_eq!(e.get(VERIFICATION), Some(false));
    }

    #[test]
    fn people_are_explicit_ci_is_trusted_evidence() {
        let (e, partial) = view(serde_json::json!({
            "outcome": "partial", "outcome_source": "human",
            "outcome_sources": {"human": {"outcome": "partial"}, "hook": {"outcome": "success"}, "ci": {"outcome": "success"}}
        }));
        assert_eq!(e.explicit, Some(false));
        assert!(partial);
        assert_eq!(e.get(0), Some(true));
        assert_eq!(e.get(super::super::label::CI), Some(true));
        // CI alone is a trusted implicit source, not a person.
        let (e, _) = view(serde_json::json!({"outcome": "failure", "outcome_source": "ci"}));
        assert_eq!(e.explicit, None);
        assert_eq!(e.get(super::super::label::CI), Some(false));
        // Missing source: the orchestrator's update_task_outcome.
        let (e, _) = view(serde_json::json!({"outcome": "failure"}));
        assert_eq!(e.explicit, Some(false));
    }

    #[test]
    fn an_outcome_rewritten_by_someone_else_is_a_persons() {
        let (e, _) = view(serde_json::json!({
            "outcome": "failure", "outcome_source": "hook",
            "outcome_sources": {"hook": {"outcome": "success"}}
        }));
        assert_eq!(e.explicit, Some(false));
        assert_eq!(e.get(0), Some(true));
    }

    #[test]
    fn odd_values_are_no_verdict() {
        let (e, _) = view(
            serde_json::json!({"outcome_sources": {"hook": 3, "tests": "failure", "ci": {"outcome": "maybe"}}, "p_success": "x"}),
        );
        assert_eq!(e.get(0), None);
        assert_eq!(e.get(1), Some(false));
        assert_eq!(e.explicit, None);
        assert_eq!(e.p_success, None);
    }
}
