//! `learn suggest`: decision rules of `learning-statistics.md` §5 on the
//! latest analysis, merged with the status history of earlier suggestions.

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use serde_json::{json, Map, Value};

use super::analyze::{
    round4, status_of, suggestion_cell, COOLDOWN_DAYS, COOLDOWN_N, DELTA, TARGET,
};
use super::models::{self, Routing, FAMILIES, LEVELS};
use super::pattern::Pattern;
use super::stats::{self, Beta};
use super::{Change, Status, SuggestOptions, Suggestion};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::rules::Rule;

/// n* needed before calling the rule model underperforming.
const N_UNDER: f64 = 10.0;
/// n* of the cheaper model before a downgrade.
const N_DOWN: f64 = 20.0;
/// n* of a keyword cell.
const N_KEYWORD: f64 = 15.0;
/// Confidence of an upgrade claim.
const GAMMA_UP: f64 = 0.80;
/// Confidence of a downgrade claim. `bench/learn-sweep.sh` over 80 draws:
/// 0.90 finds the over-provisioned downgrade in 79 % of draws and applies
/// a harmful one in 3 of 80 honest-evidence draws (sampling luck of a
/// cell of ~65 tasks); 0.95 finds it in 46 % and harms none.
const GAMMA_DOWN: f64 = 0.90;
/// Bayesian FDR bound of keyword candidates.
const FDR_Q: f64 = 0.10;
/// A downgrade is vetoed when the cheaper cell's estimate from its own
/// judged tasks alone (its implicit evidence corrected by the disagreement
/// people measured there, nothing borrowed from other cells) gives the
/// claim less than this probability: a few ratings that contradict the
/// cell's clean stops outweigh the cells that agree.
const PEOPLE_VETO: f64 = 0.8;
/// Confidence of a keyword rule that sends a keyword to a cheaper model:
/// a keyword cell is small and every kind of task must keep its rate.
const GAMMA_KEYWORD_DOWN: f64 = 0.99;
/// Least prior mass pulling a keyword cell toward its level.
const KEYWORD_MIN_MASS: f64 = 20.0;

/// Does the estimate from this cell's own judged tasks make a downgrade to
/// it (rate at least `bar`) unlikely?
fn people_veto(c: &Pattern, bar: f64) -> bool {
    c.own_p_at_least(bar).is_some_and(|p| p < PEOPLE_VETO)
}

/// A candidate before merging with the history.
#[derive(Debug, Clone)]
struct Candidate {
    kind: &'static str,
    finding: &'static str,
    change: Change,
    reason: String,
    confidence: f64,
    cell: String,
    extra: Map<String, Value>,
}

impl From<super::levels::LevelCandidate> for Candidate {
    fn from(c: super::levels::LevelCandidate) -> Candidate {
        Candidate {
            kind: c.kind,
            finding: c.finding,
            change: c.change,
            reason: c.reason,
            confidence: c.confidence,
            cell: c.cell,
            extra: c.extra,
        }
    }
}

/// Runs suggest on the learning file of `home`. See [`super::suggest`].
pub fn run(home: &Home, opts: &SuggestOptions) -> Result<Vec<Suggestion>> {
    run_with(home, opts, &super::tasks::TaskSource::lazy(home))
}

/// [`run`] reading the window's tasks (level findings, impact) from `tasks`.
pub fn run_with(
    home: &Home,
    opts: &SuggestOptions,
    tasks: &super::tasks::TaskSource,
) -> Result<Vec<Suggestion>> {
    let path = home.learning();
    let routing = Routing::load(home)?;
    let now = crate::clock::now();
    let now_iso = crate::clock::iso(now);
    let lock = super::file::lock(home)?;
    let mut doc = super::file::load(&path)?;
    // Decisions live in modelfit's own file too: another tool's rewrite of
    // the learning file must not bring a rejected change back.
    super::decisions::merge(home, &mut doc)?;
    let Some(mut patterns) = super::pattern::read(&doc)? else {
        return Err(Error::Invalid(format!(
            "{} has no analysis yet: run `modelfit learn analyze` (or `modelfit learn`) first",
            path.display()
        )));
    };
    let min_n = doc
        .get("window")
        .and_then(|w| w.get("min_sample_size"))
        .and_then(Value::as_f64)
        .unwrap_or(5.0);
    let existing: Vec<Value> = doc
        .get("suggestions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cooling = cooling_cells(&existing, now);

    let mut found = find(&patterns, &routing, &cooling, min_n, opts.min_confidence);
    // Under the orchestrator's router only level changes move tasks, judged
    // on every task they move (levels.rs); rules would change nothing there.
    let cooling_keys: HashSet<String> = cooling.keys().cloned().collect();
    if let Some(by_levels) = super::levels::for_router(home, tasks, &cooling_keys)? {
        found.evidence = by_levels.notes;
        for c in found.keyword.drain(..) {
            found.evidence.push(json!({"cell": c.cell, "router": "orchestrator", "what": format!(
                "{} — a rule would route this, but the orchestrator's router ignores rules' `use`; \
                 routing by `modelfit select` (`modelfit config router rules`) would allow it",
                c.reason
            )}));
        }
        found.level = by_levels
            .candidates
            .into_iter()
            .map(Candidate::from)
            .collect();
    }
    let (kept, mut open) = merge_history(
        &existing,
        found.level.into_iter().chain(found.keyword),
        opts.min_confidence,
        &now_iso,
    );
    super::impact::attach(home, tasks, &mut open)?;
    mark_patterns(&mut patterns, &open);

    let mut all = kept;
    all.extend(
        open.iter()
            .map(|s| serde_json::to_value(s).expect("suggestions serialize")),
    );
    super::pattern::write(&mut doc, &patterns);
    doc.insert("suggestions".into(), Value::Array(all));
    doc.insert("suggestions_generated_at".into(), json!(now_iso));
    doc.insert("evidence_needed".into(), Value::Array(found.evidence));
    super::file::save(&path, &doc)?;
    drop(lock);
    Ok(open)
}

/// What the analysis supports before the history is consulted: level
/// changes, keyword rules (past the FDR gate), and the evidence still needed.
#[derive(Debug, Default)]
struct Found {
    level: Vec<Candidate>,
    keyword: Vec<Candidate>,
    evidence: Vec<Value>,
}

/// The decision rules of learning-statistics §5 over the typed patterns: a
/// pure function of the analysis, the rules and the cells cooling down.
fn find(
    patterns: &[Pattern],
    routing: &Routing,
    cooling: &BTreeMap<String, (String, bool)>,
    min_n: f64,
    min_confidence: f64,
) -> Found {
    // Cells by level and by (level, keyword).
    type Cells<'a> = BTreeMap<&'static str, &'a Pattern>;
    let mut levels: BTreeMap<&str, Cells> = BTreeMap::new();
    let mut kws: BTreeMap<(&str, &str), Cells> = BTreeMap::new();
    for p in patterns {
        let Some(fam) = p.family() else {
            continue;
        };
        let level = p.complexity.as_str();
        match &p.keyword {
            Some(k) => {
                kws.entry((level, k)).or_default().insert(fam, p);
            }
            None => {
                levels.entry(level).or_default().insert(fam, p);
            }
        }
    }
    let empty = Pattern::default();
    let full_id = |fam: &str| -> String {
        if let Some((_, m)) = routing
            .level_models
            .iter()
            .find(|(_, m)| models::family(m) == Some(fam))
        {
            return m.clone();
        }
        levels
            .values()
            .flat_map(|c| c.get(fam))
            .map(|c| c.model.clone())
            .find(|m| !m.is_empty() && m.contains('-'))
            .unwrap_or_else(|| fam.to_string())
    };

    let mut level_cands = Vec::new();
    let mut kw_cands = Vec::new();
    let mut evidence: Vec<Value> = Vec::new();
    let mut post_change: BTreeMap<String, &'static str> = BTreeMap::new();
    // Level-wide findings, so keyword rules are only proposed for keywords
    // that deviate from their level (not to restate, or route around, the
    // level's own upgrade or downgrade).
    let mut level_under: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut level_down: BTreeMap<String, (&'static str, &'static str)> = BTreeMap::new();
    let mut level_cooling: HashSet<String> = HashSet::new();

    for level in LEVELS {
        let Some(rule_id) = routing.level_model(level) else {
            continue;
        };
        let Some(r) = models::family(rule_id) else {
            continue;
        };
        post_change.insert(level.into(), r);
        let cells = levels.get(level).cloned().unwrap_or_default();
        if let Some(why) = cooling.get(level) {
            let since = cells
                .get(r)
                .and_then(|c| c.effective_n_since_change)
                .unwrap_or(0.0);
            if why.1 || since < COOLDOWN_N {
                level_cooling.insert(level.to_string());
                evidence.push(json!({
                    "cell": level,
                    "what": format!("cooling down after the change applied {}: no new suggestion for {level} until 14 days and {COOLDOWN_N} effective samples have passed (now {:.1})", why.0, since),
                }));
                continue;
            }
        }
        let Some(rc) = cells.get(r) else {
            evidence.push(json!({
                "cell": level,
                "what": format!("no {level} task on {r} (the rule's model) in the window"),
            }));
            continue;
        };
        let fr = rc.posterior();
        let p_under = fr.cdf(TARGET);
        let label = |c: &Pattern, fam: &str| {
            format!(
                "{}/{} recent {level} tasks succeeded with {} ({:.0}%, 95% {:.0}–{:.0}%, n*={:.1})",
                c.successes_rounded(),
                c.sample_size,
                cap(fam),
                c.success_rate * 100.0,
                c.wilson_95[0] * 100.0,
                c.wilson_95[1] * 100.0,
                c.effective_sample_size
            )
        };
        if rc.effective_sample_size >= N_UNDER.max(min_n) && p_under >= 0.80 {
            level_under.insert(level.into(), r);
            // Underperforming: the cheapest stronger tier likely to meet T.
            let above: Vec<&str> = FAMILIES
                .iter()
                .copied()
                .filter(|f| models::tier(f) > models::tier(r))
                .collect();
            let chosen = above
                .iter()
                .find(|f| {
                    cells.get(**f).is_some_and(|c| {
                        c.effective_sample_size >= 5.0 && c.posterior().p_at_least(TARGET) >= 0.5
                    })
                })
                .copied();
            let exploratory = chosen.is_none();
            if let Some(m) = chosen.or(above.first().copied()) {
                let mc = cells.get(m).copied().unwrap_or(&empty);
                let conf = stats::upgrade_confidence(&fr, &mc.posterior(), TARGET);
                let reason = format!(
                    "{}; {}. Target {:.0}% first-attempt success: P({} below target) = {:.2}",
                    label(rc, r),
                    if mc.sample_size > 0 {
                        label(mc, m)
                    } else {
                        format!("{} has not been tried on {level} tasks yet", cap(m))
                    },
                    TARGET * 100.0,
                    cap(r),
                    p_under
                );
                let strong =
                    stats::wilson(rc.success_rate * rc.info(), rc.info(), stats::Z95_ONE_SIDED).1
                        < TARGET;
                let cand = Candidate {
                    kind: "upgrade_complexity",
                    finding: "underperforming",
                    change: Change::TaskComplexity {
                        level: level.into(),
                        from: rule_id.into(),
                        to: full_id(m),
                    },
                    reason,
                    confidence: round4(conf),
                    cell: level.into(),
                    extra: extra(&[
                        ("exploratory", json!(exploratory)),
                        ("strong", json!(strong)),
                        ("evidence", evidence_json(&cells)),
                    ]),
                };
                if !exploratory && conf >= min_confidence.max(GAMMA_UP) {
                    post_change.insert(level.into(), m);
                    level_cands.push(cand);
                } else {
                    let need = stats::n_needed(
                        if mc.sample_size > 0 {
                            mc.success_rate
                        } else {
                            0.9
                        },
                        TARGET,
                        stats::Z95_ONE_SIDED,
                    )
                    .min(200.0);
                    evidence.push(json!({
                        "cell": level,
                        "what": format!(
                            "{} underperforms on {level} tasks (P below target {:.2}), but the evidence for {} is thin (n*={:.1}, confidence {:.2}): about {:.0} more {level} tasks on {} would settle it; explore with `modelfit select --explore`",
                            cap(r), p_under, cap(m), mc.effective_sample_size, conf, (need - mc.effective_sample_size).max(1.0).ceil(), cap(m)
                        ),
                        "model": m,
                        "more_tasks": (need - mc.effective_sample_size).max(1.0).ceil(),
                    }));
                }
            }
        } else if rc.effective_sample_size < N_UNDER.max(min_n) {
            evidence.push(json!({
                "cell": level,
                "what": format!("{level} tasks on {}: n*={:.1} is under the minimum {N_UNDER} to judge the rule's model", cap(r), rc.effective_sample_size),
                "model": r,
                "more_tasks": (N_UNDER.max(min_n) - rc.effective_sample_size).ceil(),
            }));
        }
        if post_change.get(level) == Some(&r) {
            // Over-provisioned: the cheapest lower tier that meets the target and costs less.
            let below: Vec<&str> = FAMILIES
                .iter()
                .copied()
                .filter(|f| models::tier(f) < models::tier(r))
                .collect();
            let mut chosen = None;
            for m in &below {
                let Some(mc) = cells.get(*m) else {
                    continue;
                };
                let conf = stats::downgrade_confidence(&fr, &mc.posterior(), TARGET, DELTA);
                let cheaper = cheaper(mc, rc, m, r);
                let bar = TARGET.max(rc.success_rate - DELTA);
                if people_veto(mc, bar) && conf >= GAMMA_DOWN && cheaper {
                    evidence.push(json!({
                        "cell": level,
                        "what": format!(
                            "{} looks enough for {level} tasks by implicit evidence ({:.0}%), but the {:.0} people judged ({:.0} successful) put it at {:.0}% ± {:.0}, short of the {:.0}% needed: no downgrade until more verdicts agree; rate some with `modelfit rate --next`",
                            cap(m), mc.success_rate * 100.0, mc.labels.judged, mc.labels.judged_successes,
                            mc.own().map_or(0.0, |o| o.0) * 100.0,
                            mc.own().map_or(0.0, |o| o.1) * 100.0,
                            bar * 100.0
                        ),
                        "model": m,
                    }));
                    continue;
                }
                if mc.effective_sample_size >= N_DOWN.max(min_n) && conf >= GAMMA_DOWN && cheaper {
                    level_down.insert(level.into(), (r, m));
                    chosen = Some((*m, *mc, conf));
                    break;
                }
                let pm = mc.posterior().p_at_least(TARGET);
                if pm >= 0.5 && cheaper {
                    let need = stats::n_needed(
                        mc.success_rate.max(TARGET + 0.02),
                        TARGET,
                        stats::Z95_ONE_SIDED,
                    )
                    .max(N_DOWN);
                    evidence.push(json!({
                        "cell": level,
                        "what": format!(
                            "{} may be enough for {level} tasks ({}/{} succeeded, n*={:.1} of the {N_DOWN} needed{}): about {:.0} more explored {level} tasks on {} would settle it; explore with `modelfit select --explore`",
                            cap(m), mc.successes_rounded(), mc.sample_size, mc.effective_sample_size,
                            if conf < GAMMA_DOWN { format!(", confidence {conf:.2} of the {GAMMA_DOWN} needed") } else { String::new() },
                            (need - mc.effective_sample_size).max(1.0).ceil(), cap(m)
                        ),
                        "model": m,
                        "more_tasks": (need - mc.effective_sample_size).max(1.0).ceil(),
                    }));
                }
            }
            if let Some((m, mc, conf)) = chosen {
                let (nl, _) = stats::newcombe(
                    mc.success_rate * mc.info(),
                    mc.info(),
                    rc.success_rate * rc.info(),
                    rc.info(),
                    stats::Z95_ONE_SIDED,
                );
                post_change.insert(level.into(), m);
                level_cands.push(Candidate {
                    kind: "downgrade_complexity",
                    finding: "over_provisioned",
                    change: Change::TaskComplexity {
                        level: level.into(),
                        from: rule_id.into(),
                        to: full_id(m),
                    },
                    reason: format!(
                        "{}; {}. {} meets the {:.0}% target at lower cost per success",
                        label(mc, m),
                        label(rc, r),
                        cap(m),
                        TARGET * 100.0
                    ),
                    confidence: round4(conf),
                    cell: level.into(),
                    extra: extra(&[
                        ("non_inferior_strong", json!(nl > -DELTA)),
                        ("evidence", evidence_json(&cells)),
                    ]),
                });
            }
        }
    }

    // Keyword cells: EB-shrunk toward their level, judged against the model
    // the keyword gets after the level's change.
    for (&(level, kw), cells) in &kws {
        let Some(&level_model) = post_change.get(level) else {
            continue;
        };
        let cell_key = format!("{level}/{kw}");
        if level_cooling.contains(level)
            || cooling.contains_key(&cell_key)
            || cooling.contains_key(&format!("*/{kw}"))
        {
            continue;
        }
        let existing_rule = routing.rule_for_keyword(kw, level);
        let rk = match existing_rule {
            Some(rv) => match models::family(&rv.rule.model) {
                Some(f) => f,
                None => continue,
            },
            None => level_model,
        };
        let post = |fam: &str, c: &Pattern| -> Beta {
            let parent = levels.get(level).and_then(|l| l.get(fam));
            let parent_p = parent.map_or(0.5, |p| p.success_rate);
            let siblings: Vec<(f64, f64)> = kws
                .iter()
                .filter(|((l, _), _)| *l == level)
                .filter_map(|(_, m)| m.get(fam))
                .map(|c| (c.success_rate, c.info()))
                .collect();
            // At least KEYWORD_MIN_MASS: a keyword that deviates from its
            // level has to show it on more tasks than its noise explains.
            let mass = stats::eb_mass(parent_p, &siblings).max(KEYWORD_MIN_MASS);
            Beta::with_prior(parent_p, mass, c.success_rate * c.info(), c.info())
        };
        let Some(rc) = cells.get(rk) else {
            continue;
        };
        let fr = post(rk, rc);
        let mut chosen: Option<(&'static str, f64, &'static str)> = None;
        if rc.effective_sample_size >= N_KEYWORD.max(min_n) && fr.cdf(TARGET) >= 0.80 {
            for m in FAMILIES
                .iter()
                .filter(|f| models::tier(f) > models::tier(rk))
            {
                if let Some(mc) = cells.get(*m) {
                    let fm = post(m, mc);
                    if mc.effective_sample_size >= 5.0 && fm.p_at_least(TARGET) >= 0.5 {
                        chosen = Some((
                            m,
                            stats::upgrade_confidence(&fr, &fm, TARGET),
                            "underperforming",
                        ));
                        break;
                    }
                }
            }
        }
        if chosen.is_none() {
            for m in FAMILIES
                .iter()
                .filter(|f| models::tier(f) < models::tier(rk))
            {
                if let Some(mc) = cells.get(*m) {
                    let fm = post(m, mc);
                    // Not to a model that misses the target on the level as a
                    // whole: a keyword cell's luck is likelier than such a deviation.
                    let level_ok = levels
                        .get(level)
                        .and_then(|l| l.get(*m))
                        .is_none_or(|lc| lc.posterior().p_at_least(TARGET) >= 0.5);
                    // The information size, not the task count: a keyword
                    // cell known from implicit evidence few people checked is
                    // small however many tasks it holds, and the level's prior
                    // would otherwise make it look sure.
                    if mc.info() >= N_DOWN.max(min_n)
                        && level_ok
                        && cheaper(mc, rc, m, rk)
                        && !people_veto(mc, TARGET.max(rc.success_rate - DELTA))
                    {
                        let conf = stats::downgrade_confidence(&fr, &fm, TARGET, DELTA);
                        if conf >= GAMMA_KEYWORD_DOWN {
                            chosen = Some((m, conf, "over_provisioned"));
                            break;
                        }
                    }
                }
            }
        }
        let Some((m, conf, finding)) = chosen else {
            continue;
        };
        let restates_level = match finding {
            "underperforming" => level_under.get(level) == Some(&rk),
            _ => level_down.get(level) == Some(&(rk, m)),
        };
        if restates_level {
            continue;
        }
        let mc = &cells[m];
        let reason = format!(
            "{}/{} recent {level} tasks about {kw} succeeded with {} ({:.0}%), {}/{} with {} ({:.0}%); the {level} level as a whole routes to {}",
            mc.successes_rounded(), mc.sample_size, cap(m), mc.success_rate * 100.0, rc.successes_rounded(), rc.sample_size, cap(rk), rc.success_rate * 100.0, cap(level_model)
        );
        let scoped = format!("task contains '{kw}' and complexity == '{level}'");
        let (kind, change, finding) = match existing_rule {
            Some(rv) if rv.levels.as_deref() == Some(&[level.to_string()][..]) => (
                "modify_rule",
                Change::ModifyRule {
                    index: rv.index,
                    old: rv.rule.clone(),
                    rule: Rule {
                        condition: rv.rule.condition.clone(),
                        model: m.to_string(),
                    },
                },
                finding,
            ),
            Some(rv) => {
                evidence.push(json!({
                    "cell": cell_key,
                    "what": format!(
                        "rule #{} ({:?} → {}) routes {kw} tasks at every level, but on {level} tasks {} does better ({}/{} vs {}/{}); narrow the rule or add one for {level} before it",
                        rv.index, rv.rule.condition, rv.rule.model, cap(m), mc.successes_rounded(), mc.sample_size, rc.successes_rounded(), rc.sample_size
                    ),
                }));
                continue;
            }
            None => (
                "new_rule",
                Change::AddRule {
                    rule: Rule {
                        condition: scoped,
                        model: m.to_string(),
                    },
                },
                "missing_rule",
            ),
        };
        let _ = finding;
        kw_cands.push(Candidate {
            kind,
            finding: if kind == "new_rule" {
                "missing_rule"
            } else {
                finding
            },
            change,
            reason,
            confidence: round4(conf),
            cell: cell_key,
            // The family the keyword's tasks get today (`rate --next` weighs
            // the rule against it).
            extra: extra(&[("evidence", evidence_json(cells)), ("routed_to", json!(rk))]),
        });
    }
    // Bayesian FDR gate over keyword candidates.
    kw_cands.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut keep = 0;
    let mut sum = 0.0;
    for (i, c) in kw_cands.iter().enumerate() {
        sum += 1.0 - c.confidence;
        if sum / (i + 1) as f64 <= FDR_Q {
            keep = i + 1;
        }
    }
    kw_cands.truncate(keep);
    Found {
        level: level_cands,
        keyword: kw_cands,
        evidence,
    }
}

/// Merges fresh candidates with the earlier suggestions: decided ones are
/// kept as they are, a candidate already decided (or blocked by a JS-era
/// rejection) is dropped, one still open keeps its `created_at`. Returns
/// the kept history and the open suggestions.
fn merge_history(
    existing: &[Value],
    candidates: impl Iterator<Item = Candidate>,
    min_confidence: f64,
    now_iso: &str,
) -> (Vec<Value>, Vec<Suggestion>) {
    let blocked = blocked_by_history(existing);
    let mut kept: Vec<Value> = Vec::new();
    let mut prior_open: BTreeMap<&str, &Value> = BTreeMap::new();
    for s in existing {
        let id = s.get("id").and_then(Value::as_str).unwrap_or("");
        if status_of(s) == Status::Open && id.starts_with("sg-") {
            prior_open.insert(id, s);
        } else {
            kept.push(s.clone());
        }
    }
    let decided: HashSet<&str> = kept
        .iter()
        .filter_map(|s| s.get("id").and_then(Value::as_str))
        .collect();
    let mut open = Vec::new();
    for c in candidates {
        if c.confidence < min_confidence {
            continue;
        }
        let id = suggestion_id(&c.change);
        if decided.contains(id.as_str()) || blocked.iter().any(|b| b.blocks(&c)) {
            continue;
        }
        let created_at = prior_open
            .get(id.as_str())
            .and_then(|v| v.get("created_at"))
            .and_then(Value::as_str)
            .unwrap_or(now_iso)
            .to_string();
        let mut extra = c.extra;
        extra.insert("cell".into(), json!(c.cell));
        extra.insert("updated_at".into(), json!(now_iso));
        extra.insert("apply".into(), json!(format!("modelfit learn apply {id}")));
        extra.insert(
            "reject".into(),
            json!(format!("modelfit learn reject {id}")),
        );
        open.push(Suggestion {
            id,
            kind: c.kind.into(),
            finding: c.finding.into(),
            change: c.change,
            reason: c.reason,
            confidence: c.confidence,
            status: Status::Open,
            created_at,
            extra,
        });
    }
    (kept, open)
}

/// Patterns carry the id of the open suggestion about their cell that
/// targets their model (seed schema); none where there is none.
fn mark_patterns(patterns: &mut [Pattern], open: &[Suggestion]) {
    for p in patterns {
        p.suggestion = open
            .iter()
            .find(|s| {
                s.extra.get("cell").and_then(Value::as_str) == Some(p.cell.as_str())
                    && change_targets(&s.change) == p.family()
            })
            .map(|s| s.id.clone());
    }
}

fn change_targets(c: &Change) -> Option<&'static str> {
    match c {
        Change::TaskComplexity { to, .. } => models::family(to),
        Change::AddRule { rule } | Change::ModifyRule { rule, .. } => models::family(&rule.model),
    }
}

/// Is `m`'s expected cost per success below `r`'s? Measured costs when both
/// cells have them; else list-price ratios over the posterior means.
fn cheaper(m: &Pattern, r: &Pattern, fm: &str, fr: &str) -> bool {
    match (m.cost_per_success(), r.cost_per_success()) {
        (Some(a), Some(b)) => a < b,
        _ => {
            let pm = m.posterior().mean().max(0.01);
            let pr = r.posterior().mean().max(0.01);
            match (m.mean_attempt_cost(), r.mean_attempt_cost()) {
                (Some(cm), Some(cr)) => cm / pm < cr / pr,
                _ => models::relative_price(fm) / pm < models::relative_price(fr) / pr,
            }
        }
    }
}

/// `sg-` + FNV-1a 64 of the change's canonical JSON: the same change has the
/// same id in every run.
pub fn suggestion_id(change: &Change) -> String {
    let text = serde_json::to_string(change).expect("a change serializes");
    format!("sg-{}", crate::signals::task_fingerprint(&text))
}

/// Cells with an applied change: (when, still inside the 14-day cooldown).
fn cooling_cells(
    existing: &[Value],
    now: chrono::DateTime<chrono::Utc>,
) -> BTreeMap<String, (String, bool)> {
    let mut out: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for s in existing {
        if status_of(s) != Status::Applied {
            continue;
        }
        let Some(at) = s.get("applied_at").and_then(Value::as_str) else {
            continue;
        };
        let Some(t) = crate::clock::parse(at) else {
            continue;
        };
        if let Some(cell) = suggestion_cell(s) {
            let recent = now - t < Duration::days(COOLDOWN_DAYS);
            let e = out.entry(cell).or_insert((at.to_string(), recent));
            if at > e.0.as_str() {
                *e = (at.to_string(), recent);
            }
        }
    }
    out
}

/// A decision in the history that forbids equivalent candidates, including
/// the JS analyzer's suggestions (no stable ids).
struct Block {
    keyword: Option<String>,
    level: Option<String>,
    family: Option<&'static str>,
}

impl Block {
    fn blocks(&self, c: &Candidate) -> bool {
        let (level, kw) = match c.cell.split_once('/') {
            Some((l, k)) => (l.to_string(), Some(k.to_string())),
            None => (c.cell.clone(), None),
        };
        let fam = change_targets(&c.change);
        if self.family.is_some() && self.family != fam {
            return false;
        }
        match (&self.keyword, kw) {
            (Some(k), Some(ck)) => *k == ck && self.level.as_ref().is_none_or(|l| *l == level),
            (None, None) => self.level.as_deref() == Some(&level),
            _ => false,
        }
    }
}

fn blocked_by_history(existing: &[Value]) -> Vec<Block> {
    existing
        .iter()
        .filter(|s| status_of(s) == Status::Rejected)
        .filter(|s| {
            !s.get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .starts_with("sg-")
        })
        .filter_map(|s| {
            let fam = s
                .get("suggested_model")
                .and_then(Value::as_str)
                .and_then(models::family);
            if let Some(k) = s.get("keyword").and_then(Value::as_str) {
                return Some(Block {
                    keyword: Some(k.to_string()),
                    level: None,
                    family: fam,
                });
            }
            suggestion_cell(s).map(|cell| Block {
                keyword: None,
                level: Some(cell),
                family: fam,
            })
        })
        .collect()
}

fn evidence_json(cells: &BTreeMap<&'static str, &Pattern>) -> Value {
    let mut m = Map::new();
    for (fam, c) in cells {
        m.insert(
            fam.to_string(),
            json!({"successes": c.successes_rounded(), "sample_size": c.sample_size, "effective_sample_size": round4(c.effective_sample_size), "success_rate": c.success_rate, "wilson_95": c.wilson_95}),
        );
    }
    Value::Object(m)
}

fn extra(items: &[(&str, Value)]) -> Map<String, Value> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::pattern::PatternLabels;

    /// A level cell with rate `p` on an information size of `info` (its
    /// effective size the same), priced by list price.
    fn cell(level: &str, fam: &str, p: f64, info: f64) -> Pattern {
        Pattern {
            complexity: level.into(),
            cell: level.into(),
            model: fam.into(),
            model_family: fam.into(),
            success_rate: p,
            sample_size: info as u64,
            successes: p * info,
            effective_sample_size: info,
            information_size: Some(info),
            ..Pattern::default()
        }
    }

    fn routing() -> Routing {
        Routing::from_value(&Value::Null)
    }

    fn judged(mut c: Pattern, own: (f64, f64)) -> Pattern {
        c.labels = PatternLabels {
            judged: 10.0,
            judged_successes: (own.0 * 10.0).round(),
            own_rate: Some(own.0),
            own_sd: Some(own.1),
            ..PatternLabels::default()
        };
        c
    }

    fn run(patterns: &[Pattern]) -> Found {
        find(patterns, &routing(), &BTreeMap::new(), 5.0, 0.0)
    }

    #[test]
    fn a_cell_s_own_ratings_veto_a_downgrade_its_clean_stops_support() {
        let c = |own: Option<(f64, f64)>| {
            let c = cell("simple", "haiku", 0.97, 60.0);
            match own {
                Some(o) => judged(c, o),
                None => c,
            }
        };
        // Its ratings put it at 80 % ± 8: P(≥ 88 %) ≈ 0.16 < 0.8.
        assert!(people_veto(&c(Some((0.80, 0.08))), 0.88));
        // They agree with the clean stops: P(≥ 88 %) ≈ 0.98.
        assert!(!people_veto(&c(Some((0.96, 0.04))), 0.88));
        // Nobody judged it: nothing to veto with.
        assert!(!people_veto(&c(None), 0.88));
    }

    #[test]
    fn a_cheaper_model_that_is_enough_is_a_downgrade_unless_people_disagree() {
        // The default routing sends medium tasks to sonnet.
        let sonnet = cell("medium", "sonnet", 0.93, 200.0);
        let haiku = cell("medium", "haiku", 0.95, 150.0);
        let found = run(&[sonnet.clone(), haiku.clone()]);
        assert_eq!(found.level.len(), 1, "{:?}", found.evidence);
        let c = &found.level[0];
        assert_eq!(c.finding, "over_provisioned");
        assert_eq!(change_targets(&c.change), Some("haiku"));
        assert!(c.confidence >= GAMMA_DOWN, "{}", c.confidence);

        // The same clean stops, but people put haiku at 70 % ± 6.
        let found = run(&[sonnet, judged(haiku, (0.70, 0.06))]);
        assert!(found.level.is_empty(), "{:?}", found.level);
        assert!(found.evidence.iter().any(|e| e["what"]
            .as_str()
            .is_some_and(|w| w.contains("rate some with `modelfit rate --next`"))));
    }

    /// A keyword cell of `level` with rate `p`, effective size `n`,
    /// information size `info`.
    fn kw(level: &str, keyword: &str, fam: &str, p: f64, n: f64, info: f64) -> Pattern {
        Pattern {
            keyword: Some(keyword.into()),
            cell: format!("{level}/{keyword}"),
            effective_sample_size: n,
            information_size: Some(info),
            ..cell(level, fam, p, n)
        }
    }

    #[test]
    fn a_keyword_is_moved_down_on_information_not_on_task_count() {
        // Complex goes to opus; sonnet is not clearly enough for complex work
        // as a whole, and its keyword cells agree with the level (so they are
        // shrunk hard toward it). Refactors look fine on sonnet.
        let world = |refactor_info: f64| {
            vec![
                cell("complex", "opus", 0.795, 120.0),
                cell("complex", "sonnet", 0.874, 24.0),
                kw("complex", "refactor", "opus", 0.795, 150.0, 49.0),
                kw("complex", "refactor", "sonnet", 0.95, 25.0, refactor_info),
                kw("complex", "docs", "sonnet", 0.87, 40.0, 40.0),
                kw("complex", "api", "sonnet", 0.88, 40.0, 40.0),
            ]
        };
        let found = run(&world(25.0));
        assert!(found.level.is_empty(), "{:?}", found.level);
        let rule = found.keyword.first().expect("a keyword rule");
        assert_eq!(rule.cell, "complex/refactor");
        assert_eq!(change_targets(&rule.change), Some("sonnet"));
        // The same 25 tasks, but their evidence is worth 7 verdicts (mostly
        // implicit, few checked by people, those noisy): no rule, however
        // confident the level's prior makes it.
        let found = run(&world(7.0));
        assert!(found.keyword.is_empty(), "{:?}", found.keyword);
    }

    #[test]
    fn a_small_cell_gets_evidence_needed_not_a_change() {
        let found = run(&[
            cell("medium", "sonnet", 0.93, 200.0),
            cell("medium", "haiku", 1.0, 6.0),
        ]);
        assert!(found.level.is_empty());
        assert!(found.evidence.iter().any(|e| e["model"] == "haiku"));
    }

    #[test]
    fn an_underperforming_rule_model_is_upgraded_to_the_cheapest_that_meets_the_target() {
        let found = run(&[
            cell("simple", "haiku", 0.55, 80.0),
            cell("simple", "sonnet", 0.92, 40.0),
            cell("simple", "opus", 0.97, 40.0),
        ]);
        let c = found.level.first().expect("an upgrade");
        assert_eq!(c.finding, "underperforming");
        assert_eq!(change_targets(&c.change), Some("sonnet"));
    }

    #[test]
    fn a_decided_change_stays_decided_and_an_open_one_keeps_its_date() {
        let found = run(&[
            cell("medium", "sonnet", 0.93, 200.0),
            cell("medium", "haiku", 0.95, 150.0),
        ]);
        let id = suggestion_id(&found.level[0].change);
        let open_before =
            json!({"id": id, "status": "open", "created_at": "2026-01-01T00:00:00.000Z"});
        let (kept, open) = merge_history(
            &[open_before],
            found.level.clone().into_iter(),
            0.0,
            "2026-02-01T00:00:00.000Z",
        );
        assert!(kept.is_empty());
        assert_eq!(open[0].created_at, "2026-01-01T00:00:00.000Z");

        let rejected = json!({"id": id, "status": "rejected"});
        let (kept, open) = merge_history(
            &[rejected],
            found.level.into_iter(),
            0.0,
            "2026-02-01T00:00:00.000Z",
        );
        assert_eq!(kept.len(), 1);
        assert!(open.is_empty());
    }

    #[test]
    fn patterns_are_marked_with_the_suggestion_that_targets_their_model() {
        let mut patterns = vec![
            cell("medium", "sonnet", 0.93, 200.0),
            cell("medium", "haiku", 0.95, 150.0),
        ];
        patterns[0].suggestion = Some("sg-stale".into());
        let found = run(&patterns);
        let (_, open) = merge_history(&[], found.level.into_iter(), 0.0, "now");
        mark_patterns(&mut patterns, &open);
        assert_eq!(patterns[0].suggestion, None);
        assert_eq!(patterns[1].suggestion.as_deref(), Some(open[0].id.as_str()));
    }
}
