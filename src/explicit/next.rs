//! `modelfit rate --next`: which unrated task to ask about.
//!
//! The pick is the task whose verdict is expected to move a pending decision
//! most (expected value of information, Howard 1966). Pending decisions are
//! the open level suggestions of the learning file; with none, every level
//! cell's posterior probability of meeting the target. A verdict on a task in
//! cell `c` adds one attempt (and one success or not) to `c`; the decision's
//! confidence is recomputed with the statistics `learn` uses
//! ([`crate::learn::stats`]) and the expected absolute change is
//! `p·|conf₊ − conf| + (1 − p)·|conf₋ − conf|`, `p` the task's `p_success`
//! (the cell's posterior mean when the task has none). [`pick`] is pure;
//! [`next`] reads the files.
//!
//! Keyword rules (`new_rule` / `modify_rule` scoped to a level) are decisions
//! too: their cells are the keyword's tasks of that level, and a task counts
//! for them when its keywords (`task_keywords`, else those of its text)
//! contain the rule's keyword.

use serde_json::Value;

use crate::error::Result;
use crate::home::Home;
use crate::learn::analyze::{DELTA, TARGET};
use crate::learn::models;
use crate::learn::pattern::{self, Pattern};
use crate::learn::stats::{self, Beta};

/// What a decision claims about its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The proposed (stronger) model beats the rule's, which misses the target.
    Upgrade,
    /// The proposed (cheaper) model meets `max(T, p_rule − δ)`.
    Downgrade,
    /// No suggestion: the rule cell's `P(rate ≥ T)`.
    Boundary,
}

/// A cell's figures: (soft) successes and attempts on the information size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellCounts {
    /// Successes (may be fractional).
    pub successes: f64,
    /// Attempts (information-equivalent).
    pub attempts: f64,
}

impl CellCounts {
    fn beta(self) -> Beta {
        Beta::jeffreys(self.successes, self.attempts)
    }

    fn with(self, success: bool) -> CellCounts {
        CellCounts {
            successes: self.successes + if success { 1.0 } else { 0.0 },
            attempts: self.attempts + 1.0,
        }
    }
}

/// A pending decision over one level's cells.
#[derive(Debug, Clone)]
pub struct Decision {
    /// How the explanation names it, e.g. `suggestion S-3 (haiku for simple tasks)`.
    pub label: String,
    /// The complexity level.
    pub level: String,
    /// The keyword of a keyword rule: only tasks with it count.
    pub keyword: Option<String>,
    /// What it claims.
    pub claim: Claim,
    /// The rule's model family and its cell.
    pub rule: (String, CellCounts),
    /// The proposed model family and its cell (none for [`Claim::Boundary`]).
    pub proposed: Option<(String, CellCounts)>,
}

/// An unrated task that could be asked about.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Record id.
    pub id: String,
    /// Complexity level.
    pub level: String,
    /// Model family.
    pub family: String,
    /// The task's keywords.
    pub keywords: Vec<String>,
    /// The task's probability of success, when recorded.
    pub p_success: Option<f64>,
    /// When it ran (ms since the epoch), for ties.
    pub at_ms: i64,
}

/// The chosen task and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// Record id.
    pub id: String,
    /// Expected absolute change of the decision's confidence.
    pub expected_change: f64,
    /// The one-line explanation.
    pub line: String,
}

/// The decision's confidence on the given cells.
pub fn confidence(claim: Claim, rule: CellCounts, proposed: Option<CellCounts>) -> f64 {
    match (claim, proposed) {
        (Claim::Upgrade, Some(m)) => stats::upgrade_confidence(&rule.beta(), &m.beta(), TARGET),
        (Claim::Downgrade, Some(m)) => {
            stats::downgrade_confidence(&rule.beta(), &m.beta(), TARGET, DELTA)
        }
        _ => rule.beta().p_at_least(TARGET),
    }
}

/// Expected `|Δ confidence|` of a verdict on a task in `d`'s rule cell
/// (`on_rule`) or proposed cell, the verdict a success with probability `p`.
pub fn expected_change(d: &Decision, on_rule: bool, p: f64) -> f64 {
    let r = d.rule.1;
    let m = d.proposed.as_ref().map(|x| x.1);
    let now = confidence(d.claim, r, m);
    let after = |ok: bool| {
        if on_rule {
            confidence(d.claim, r.with(ok), m)
        } else {
            confidence(d.claim, r, m.map(|m| m.with(ok)))
        }
    };
    let p = p.clamp(0.0, 1.0);
    p * (after(true) - now).abs() + (1.0 - p) * (after(false) - now).abs()
}

/// The candidate whose verdict moves a decision most; ties go to the newest.
/// `None` when no candidate sits in a cell a decision depends on.
pub fn pick(decisions: &[Decision], candidates: &[Candidate]) -> Option<Pick> {
    let mut best: Option<(f64, i64, Pick)> = None;
    for c in candidates {
        for d in decisions {
            if d.level != c.level || d.keyword.as_ref().is_some_and(|k| !c.keywords.contains(k)) {
                continue;
            }
            let (on_rule, cell) = if d.rule.0 == c.family {
                (true, d.rule.1)
            } else if let Some((f, m)) = d.proposed.as_ref().filter(|(f, _)| *f == c.family) {
                let _ = f;
                (false, *m)
            } else {
                continue;
            };
            let p = c
                .p_success
                .filter(|p| p.is_finite())
                .unwrap_or_else(|| cell.beta().mean());
            let v = expected_change(d, on_rule, p);
            let better = match &best {
                None => true,
                // Equal within rounding noise: the newer task wins.
                Some((bv, bt, _)) => v > bv + 1e-9 || ((v - bv).abs() <= 1e-9 && c.at_ms > *bt),
            };
            if better {
                let line = format!(
                    "{}: a verdict here moves the confidence of {} by ±{:.2} (expected); its cell ({} tasks on {}) holds n*={:.1}",
                    c.id, d.label, v, c.level, c.family, cell.attempts,
                );
                best = Some((
                    v,
                    c.at_ms,
                    Pick {
                        id: c.id.clone(),
                        expected_change: v,
                        line,
                    },
                ));
            }
        }
    }
    best.map(|b| b.2)
}

/// A pattern's cell counts: `success_rate × information_size` of
/// `information_size`, what suggest judges on.
fn counts(p: &Pattern) -> CellCounts {
    CellCounts {
        successes: p.success_rate * p.info(),
        attempts: p.info(),
    }
}

/// The pending decisions of a learning file; an error when its patterns
/// are unreadable.
pub fn decisions(doc: &serde_json::Map<String, Value>) -> Result<Vec<Decision>> {
    let empty = Vec::new();
    let patterns = pattern::read(doc)?.unwrap_or_default();
    let cell = |level: &str, keyword: Option<&str>, fam: &str| -> CellCounts {
        patterns
            .iter()
            .find(|p| {
                p.keyword.as_deref() == keyword
                    && p.complexity == level
                    && p.family() == models::family(fam)
            })
            .map(counts)
            .unwrap_or(CellCounts {
                successes: 0.0,
                attempts: 0.0,
            })
    };
    let mut out = Vec::new();
    for s in doc
        .get("suggestions")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        if s.get("status").and_then(Value::as_str) != Some("open") {
            continue;
        }
        let Some(ch) = s.get("change") else { continue };
        let id = s.get("id").and_then(Value::as_str).unwrap_or("?");
        if let Some(d) = keyword_decision(id, s, ch, &cell) {
            out.push(d);
            continue;
        }
        let claim = match s.get("type").and_then(Value::as_str) {
            Some("upgrade_complexity") => Claim::Upgrade,
            Some("downgrade_complexity") => Claim::Downgrade,
            _ => continue,
        };
        let text = |k: &str| ch.get(k).and_then(Value::as_str);
        let (Some(level), Some(from), Some(to)) = (text("level"), text("from"), text("to")) else {
            continue;
        };
        let (Some(rf), Some(mf)) = (models::family(from), models::family(to)) else {
            continue;
        };
        out.push(Decision {
            label: format!("suggestion {id} ({mf} for {level} tasks)"),
            level: level.to_string(),
            keyword: None,
            claim,
            rule: (rf.to_string(), cell(level, None, rf)),
            proposed: Some((mf.to_string(), cell(level, None, mf))),
        });
    }
    if out.is_empty() {
        // No open suggestion: the cells nearest the target decide next.
        for p in patterns.iter().filter(|p| p.keyword.is_none()) {
            let Some(fam) = p.family() else {
                continue;
            };
            let level = p.complexity.as_str();
            let c = counts(p);
            out.push(Decision {
                label: format!(
                    "P({fam} meets the {:.0}% target on {level} tasks)",
                    TARGET * 100.0
                ),
                level: level.to_string(),
                keyword: None,
                claim: Claim::Boundary,
                rule: (fam.to_string(), c),
                proposed: None,
            });
        }
    }
    Ok(out)
}

/// A keyword rule's decision: the rule `task contains 'kw' and complexity
/// == 'level'` sends the keyword's tasks to its model instead of the one
/// they get now; upgrade or downgrade by the models' tiers.
fn keyword_decision(
    id: &str,
    s: &Value,
    ch: &Value,
    cell: &dyn Fn(&str, Option<&str>, &str) -> CellCounts,
) -> Option<Decision> {
    let rule = ch.get("rule")?;
    let condition = rule.get("condition")?.as_str()?;
    let to = models::family(rule.get("model")?.as_str()?)?;
    // The rules' own parser: the rule's one keyword and its level.
    let expr = crate::rules::parse(condition).ok()?;
    let kw = match expr.needles().as_slice() {
        [kw] => kw.clone(),
        _ => return None,
    };
    let level = *models::LEVELS
        .iter()
        .find(|l| Some(**l) == expr.required_complexity())?;
    let kw = kw.as_str();
    // The family the keyword's tasks get today: the suggestion's
    // `routed_to` (written by suggest), else the old rule's model.
    let from = s
        .get("routed_to")
        .and_then(Value::as_str)
        .or_else(|| ch.get("old")?.get("model")?.as_str())
        .and_then(models::family)?;
    if from == to {
        return None;
    }
    let claim = if models::tier(to) > models::tier(from) {
        Claim::Upgrade
    } else {
        Claim::Downgrade
    };
    Some(Decision {
        label: format!("suggestion {id} ({to} for {level} tasks about {kw})"),
        level: level.to_string(),
        keyword: Some(kw.to_string()),
        claim,
        rule: (from.to_string(), cell(level, Some(kw), from)),
        proposed: Some((to.to_string(), cell(level, Some(kw), to))),
    })
}

/// The unrated tasks of the learn window (since the learning file's
/// `window.since` when it has one).
fn candidates(home: &Home, doc: &serde_json::Map<String, Value>) -> Result<Vec<Candidate>> {
    let since = doc
        .get("window")
        .and_then(|w| w.get("since"))
        .and_then(Value::as_str)
        .and_then(crate::clock::parse);
    let rows = crate::tasks::list(
        home,
        &crate::tasks::Filter {
            unrated: true,
            since,
            keywords: true,
            ..crate::tasks::Filter::default()
        },
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let family = models::family(r.model.as_deref()?)?;
            Some(Candidate {
                at_ms: r
                    .when
                    .as_deref()
                    .and_then(crate::clock::parse)
                    .map_or(i64::MIN, |t| t.timestamp_millis()),
                id: r.id,
                // Exact, as learn matches levels.
                level: r.complexity?,
                family: family.to_string(),
                keywords: r.keywords,
                p_success: r.p_success,
            })
        })
        .collect())
}

/// The pick for `home`: reads the learning file and the ledger. `None` when
/// there is no learning file, no pending decision, or no unrated task in a
/// cell one depends on.
pub fn next(home: &Home) -> Result<Option<Pick>> {
    let path = home.learning();
    if !path.exists() {
        return Ok(None);
    }
    let doc = crate::learn::file::load(&path)?;
    let ds = decisions(&doc)?;
    if ds.is_empty() {
        return Ok(None);
    }
    Ok(pick(&ds, &candidates(home, &doc)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: f64, n: f64) -> CellCounts {
        CellCounts {
            successes: s,
            attempts: n,
        }
    }

    fn cand(id: &str, level: &str, fam: &str, p: Option<f64>, at: i64) -> Candidate {
        Candidate {
            id: id.into(),
            level: level.into(),
            family: fam.into(),
            keywords: Vec::new(),
            p_success: p,
            at_ms: at,
        }
    }

    fn boundary(level: &str, fam: &str, c: CellCounts) -> Decision {
        Decision {
            label: format!("{level}/{fam}"),
            level: level.into(),
            keyword: None,
            claim: Claim::Boundary,
            rule: (fam.into(), c),
            proposed: None,
        }
    }

    #[test]
    fn boundary_change_matches_the_closed_form() {
        // Jeffreys on 0 of 0 is Beta(½, ½); one verdict gives Beta(3/2, ½) or
        // Beta(½, 3/2). P(p ≥ t) for Beta(½,½) is 1 − (2/π)·asin(√t).
        let t: f64 = TARGET;
        let now = 1.0 - 2.0 / std::f64::consts::PI * t.sqrt().asin();
        let up = Beta { a: 1.5, b: 0.5 }.p_at_least(t);
        let down = Beta { a: 0.5, b: 1.5 }.p_at_least(t);
        let d = boundary("simple", "haiku", cc(0.0, 0.0));
        let v = expected_change(&d, true, 0.5);
        let want = 0.5 * (up - now).abs() + 0.5 * (down - now).abs();
        assert!((v - want).abs() < 1e-6, "{v} vs {want}");
        assert!(
            (confidence(Claim::Boundary, cc(0.0, 0.0), None) - now).abs() < 1e-6,
            "arcsine law"
        );
        // p = 1: only the success branch counts.
        let v1 = expected_change(&d, true, 1.0);
        assert!((v1 - (up - now).abs()).abs() < 1e-6);
    }

    #[test]
    fn a_small_cell_moves_more_than_a_large_one() {
        let small = boundary("simple", "haiku", cc(3.0, 4.0));
        let large = boundary("medium", "sonnet", cc(300.0, 400.0));
        let a = expected_change(&small, true, 0.75);
        let b = expected_change(&large, true, 0.75);
        assert!(a > 5.0 * b, "{a} vs {b}");
        let got = pick(
            &[small, large],
            &[
                cand("old-small", "simple", "haiku", None, 1),
                cand("new-large", "medium", "sonnet", None, 9),
            ],
        )
        .unwrap();
        assert_eq!(got.id, "old-small");
        assert!(got.line.starts_with("old-small: a verdict here moves"));
    }

    #[test]
    fn only_cells_of_the_decision_count_and_ties_go_to_the_newest() {
        let d = Decision {
            label: "suggestion S-1 (haiku for simple tasks)".into(),
            level: "simple".into(),
            keyword: None,
            claim: Claim::Downgrade,
            rule: ("sonnet".into(), cc(38.0, 40.0)),
            proposed: Some(("haiku".into(), cc(9.0, 10.0))),
        };
        // A task on opus or on another level does not bear on it.
        let none = pick(
            std::slice::from_ref(&d),
            &[
                cand("a", "simple", "opus", None, 5),
                cand("b", "medium", "haiku", None, 6),
            ],
        );
        assert_eq!(none, None);
        let got = pick(
            std::slice::from_ref(&d),
            &[
                cand("older", "simple", "haiku", Some(0.9), 1),
                cand("newer", "simple", "haiku", Some(0.9), 2),
                cand("rule", "simple", "sonnet", Some(0.9), 3),
            ],
        )
        .unwrap();
        // The proposed cell is smaller, so its verdict moves the claim more.
        assert_eq!(got.id, "newer");
        assert!(got.expected_change > 0.0);
        assert!(got.line.contains("suggestion S-1"), "{}", got.line);
    }

    #[test]
    fn decisions_read_open_level_suggestions_only() {
        let doc: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({
            "patterns": [
                {"complexity": "simple", "model_family": "sonnet", "success_rate": 0.9, "sample_size": 10, "information_size": 40.0},
                {"complexity": "simple", "model_family": "haiku", "success_rate": 0.85, "sample_size": 10, "information_size": 12.0},
                {"complexity": "simple", "model_family": "haiku", "keyword": "docs", "success_rate": 0.1, "sample_size": 10, "information_size": 3.0}
            ],
            "suggestions": [
                {"id": "S-1", "type": "downgrade_complexity", "status": "open",
                 "change": {"target": "task_complexity", "level": "simple", "from": "claude-sonnet-4-5", "to": "claude-haiku-4-5"}},
                {"id": "S-0", "type": "downgrade_complexity", "status": "rejected",
                 "change": {"target": "task_complexity", "level": "medium", "from": "claude-sonnet-4-5", "to": "claude-haiku-4-5"}}
            ]
        }))
        .unwrap();
        let ds = decisions(&doc).unwrap();
        assert_eq!(ds.len(), 1);
        assert_eq!(ds[0].claim, Claim::Downgrade);
        assert_eq!(ds[0].proposed.as_ref().unwrap().0, "haiku");
        let m = ds[0].proposed.as_ref().unwrap().1;
        assert!((m.successes - 10.2).abs() < 1e-9 && (m.attempts - 12.0).abs() < 1e-9);
    }

    #[test]
    fn a_keyword_rule_is_a_decision_on_its_keyword_s_tasks() {
        let doc: serde_json::Map<String, Value> = serde_json::from_value(serde_json::json!({
            "patterns": [
                {"complexity": "medium", "model_family": "sonnet", "success_rate": 0.9, "sample_size": 10, "information_size": 300.0},
                {"complexity": "medium", "model_family": "sonnet", "keyword": "database", "success_rate": 0.55, "sample_size": 10, "information_size": 60.0},
                {"complexity": "medium", "model_family": "opus", "keyword": "database", "success_rate": 0.9, "sample_size": 10, "information_size": 8.0}
            ],
            "suggestions": [
                {"id": "S-2", "type": "new_rule", "status": "open", "routed_to": "sonnet",
                 "reason": "8/9 recent medium tasks about database succeeded with Opus (90%), 33/60 with Sonnet (55%); the medium level as a whole routes to Sonnet",
                 "change": {"target": "rules", "action": "add", "rule": {"condition": "task contains 'database' and complexity == 'medium'", "model": "opus"}}}
            ]
        }))
        .unwrap();
        let ds = decisions(&doc).unwrap();
        assert_eq!(ds.len(), 1, "{ds:?}");
        let d = &ds[0];
        assert_eq!(
            (d.claim, d.keyword.as_deref()),
            (Claim::Upgrade, Some("database"))
        );
        assert_eq!(d.rule.0, "sonnet");
        assert!((d.rule.1.attempts - 60.0).abs() < 1e-9);
        assert!((d.proposed.as_ref().unwrap().1.attempts - 8.0).abs() < 1e-9);
        // Only a medium task about databases bears on it: on opus (the small
        // cell) rather than on sonnet, and never a medium task about docs.
        let mut on_opus = cand("db-opus", "medium", "opus", Some(0.5), 1);
        on_opus.keywords = vec!["database".into(), "refactor".into()];
        let mut on_sonnet = cand("db-sonnet", "medium", "sonnet", Some(0.5), 2);
        on_sonnet.keywords = vec!["database".into()];
        let mut docs = cand("docs-opus", "medium", "opus", Some(0.5), 3);
        docs.keywords = vec!["docs".into()];
        let got = pick(&ds, &[on_opus, on_sonnet, docs.clone()]).unwrap();
        assert_eq!(got.id, "db-opus");
        assert!(got.line.contains("tasks about database"), "{}", got.line);
        assert_eq!(pick(&ds, &[docs]), None);
    }
}
