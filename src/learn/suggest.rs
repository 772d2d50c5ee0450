//! `learn suggest`: decision rules of `learning-statistics.md` §5 on the
//! latest analysis, merged with the status history of earlier suggestions.

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use serde_json::{json, Map, Value};

use super::analyze::{
    round4, status_of, suggestion_cell, COOLDOWN_DAYS, COOLDOWN_N, DELTA, TARGET,
};
use super::models::{self, Routing, FAMILIES, LEVELS};
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

/// One cell's figures as read back from a pattern.
#[derive(Debug, Clone, Default)]
struct Cell {
    s: u64,
    n: u64,
    n_eff: f64,
    /// Information-equivalent sample size (the label model's uncertainty included).
    info: f64,
    p: f64,
    lo: f64,
    hi: f64,
    cps: Option<f64>,
    mean_cost: Option<f64>,
    model: String,
    n_since_change: Option<f64>,
    /// Tasks with a person's or CI's verdict, and the successes among them.
    judged: f64,
    judged_s: f64,
    /// The estimate from the cell's own judged tasks (mean, sd), if any.
    own: Option<(f64, f64)>,
}

impl Cell {
    fn from_pattern(p: &Value) -> Cell {
        let f = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let w = p.get("wilson_95").and_then(Value::as_array);
        Cell {
            s: f("successes").round() as u64,
            n: f("sample_size") as u64,
            n_eff: f("effective_sample_size"),
            info: p
                .get("information_size")
                .and_then(Value::as_f64)
                .unwrap_or_else(|| f("effective_sample_size")),
            p: f("success_rate"),
            lo: w
                .and_then(|a| a.first())
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            hi: w
                .and_then(|a| a.get(1))
                .and_then(Value::as_f64)
                .unwrap_or(1.0),
            cps: p.get("cost_per_success_usd").and_then(Value::as_f64),
            mean_cost: p.get("mean_attempt_cost_usd").and_then(Value::as_f64),
            model: p
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            n_since_change: p.get("effective_n_since_change").and_then(Value::as_f64),
            judged: p
                .pointer("/labels/judged")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            judged_s: p
                .pointer("/labels/judged_successes")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            own: p
                .pointer("/labels/own_rate")
                .and_then(Value::as_f64)
                .zip(p.pointer("/labels/own_sd").and_then(Value::as_f64)),
        }
    }

    /// Does the estimate from this cell's own judged tasks make a
    /// downgrade to it (rate at least `bar`) unlikely?
    fn people_veto(&self, bar: f64) -> bool {
        self.own
            .is_some_and(|(m, sd)| 1.0 - stats::phi((bar - m) / sd.max(1e-6)) < PEOPLE_VETO)
    }

    /// The posterior of the cell's rate: mean `p`, on the information-equivalent size.
    fn posterior(&self) -> Beta {
        Beta::moments(self.p, self.info)
    }
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
    let lock = super::file::lock(home)?;
    let mut doc = super::file::load(&path)?;
    // Decisions live in modelfit's own file too: another tool's rewrite of
    // the learning file must not bring a rejected change back.
    super::decisions::merge(home, &mut doc)?;
    let Some(patterns) = doc.get("patterns").and_then(Value::as_array).cloned() else {
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

    // Cells by level and by (level, keyword).
    let mut levels: BTreeMap<String, BTreeMap<&'static str, Cell>> = BTreeMap::new();
    let mut kws: BTreeMap<(String, String), BTreeMap<&'static str, Cell>> = BTreeMap::new();
    for p in &patterns {
        let (Some(level), Some(fam)) = (
            p.get("complexity").and_then(Value::as_str),
            p.get("model_family")
                .and_then(Value::as_str)
                .and_then(models::family),
        ) else {
            continue;
        };
        let cell = Cell::from_pattern(p);
        match p.get("keyword").and_then(Value::as_str) {
            Some(k) => {
                kws.entry((level.into(), k.into()))
                    .or_default()
                    .insert(fam, cell);
            }
            None => {
                levels.entry(level.into()).or_default().insert(fam, cell);
            }
        }
    }
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

    let existing: Vec<Value> = doc
        .get("suggestions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cooling = cooling_cells(&existing, now);

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
            let since = cells.get(r).and_then(|c| c.n_since_change).unwrap_or(0.0);
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
        let label = |c: &Cell, fam: &str| {
            format!(
                "{}/{} recent {level} tasks succeeded with {} ({:.0}%, 95% {:.0}–{:.0}%, n*={:.1})",
                c.s,
                c.n,
                cap(fam),
                c.p * 100.0,
                c.lo * 100.0,
                c.hi * 100.0,
                c.n_eff
            )
        };
        if rc.n_eff >= N_UNDER.max(min_n) && p_under >= 0.80 {
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
                    cells
                        .get(**f)
                        .is_some_and(|c| c.n_eff >= 5.0 && c.posterior().p_at_least(TARGET) >= 0.5)
                })
                .copied();
            let exploratory = chosen.is_none();
            if let Some(m) = chosen.or(above.first().copied()) {
                let mc = cells.get(m).cloned().unwrap_or_default();
                let conf = stats::upgrade_confidence(&fr, &mc.posterior(), TARGET);
                let reason = format!(
                    "{}; {}. Target {:.0}% first-attempt success: P({} below target) = {:.2}",
                    label(rc, r),
                    if mc.n > 0 {
                        label(&mc, m)
                    } else {
                        format!("{} has not been tried on {level} tasks yet", cap(m))
                    },
                    TARGET * 100.0,
                    cap(r),
                    p_under
                );
                let strong =
                    stats::wilson(rc.p * rc.info, rc.info, stats::Z95_ONE_SIDED).1 < TARGET;
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
                if !exploratory && conf >= opts.min_confidence.max(GAMMA_UP) {
                    post_change.insert(level.into(), m);
                    level_cands.push(cand);
                } else {
                    let need = stats::n_needed(
                        if mc.n > 0 { mc.p } else { 0.9 },
                        TARGET,
                        stats::Z95_ONE_SIDED,
                    )
                    .min(200.0);
                    evidence.push(json!({
                        "cell": level,
                        "what": format!(
                            "{} underperforms on {level} tasks (P below target {:.2}), but the evidence for {} is thin (n*={:.1}, confidence {:.2}): about {:.0} more {level} tasks on {} would settle it; explore with `modelfit select --explore`",
                            cap(r), p_under, cap(m), mc.n_eff, conf, (need - mc.n_eff).max(1.0).ceil(), cap(m)
                        ),
                        "model": m,
                        "more_tasks": (need - mc.n_eff).max(1.0).ceil(),
                    }));
                }
            }
        } else if rc.n_eff < N_UNDER.max(min_n) {
            evidence.push(json!({
                "cell": level,
                "what": format!("{level} tasks on {}: n*={:.1} is under the minimum {N_UNDER} to judge the rule's model", cap(r), rc.n_eff),
                "model": r,
                "more_tasks": (N_UNDER.max(min_n) - rc.n_eff).ceil(),
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
                let bar = TARGET.max(rc.p - DELTA);
                if mc.people_veto(bar) && conf >= GAMMA_DOWN && cheaper {
                    evidence.push(json!({
                        "cell": level,
                        "what": format!(
                            "{} looks enough for {level} tasks by implicit evidence ({:.0}%), but the {:.0} people judged ({:.0} successful) put it at {:.0}% ± {:.0}, short of the {:.0}% needed: no downgrade until more verdicts agree; rate some with `modelfit rate --next`",
                            cap(m), mc.p * 100.0, mc.judged, mc.judged_s,
                            mc.own.map_or(0.0, |o| o.0) * 100.0,
                            mc.own.map_or(0.0, |o| o.1) * 100.0,
                            bar * 100.0
                        ),
                        "model": m,
                    }));
                    continue;
                }
                if mc.n_eff >= N_DOWN.max(min_n) && conf >= GAMMA_DOWN && cheaper {
                    level_down.insert(level.into(), (r, m));
                    chosen = Some((*m, mc.clone(), conf));
                    break;
                }
                let pm = mc.posterior().p_at_least(TARGET);
                if pm >= 0.5 && cheaper {
                    let need =
                        stats::n_needed(mc.p.max(TARGET + 0.02), TARGET, stats::Z95_ONE_SIDED)
                            .max(N_DOWN);
                    evidence.push(json!({
                        "cell": level,
                        "what": format!(
                            "{} may be enough for {level} tasks ({}/{} succeeded, n*={:.1} of the {N_DOWN} needed{}): about {:.0} more explored {level} tasks on {} would settle it; explore with `modelfit select --explore`",
                            cap(m), mc.s, mc.n, mc.n_eff,
                            if conf < GAMMA_DOWN { format!(", confidence {conf:.2} of the {GAMMA_DOWN} needed") } else { String::new() },
                            (need - mc.n_eff).max(1.0).ceil(), cap(m)
                        ),
                        "model": m,
                        "more_tasks": (need - mc.n_eff).max(1.0).ceil(),
                    }));
                }
            }
            if let Some((m, mc, conf)) = chosen {
                let (nl, _) = stats::newcombe(
                    mc.p * mc.info,
                    mc.info,
                    rc.p * rc.info,
                    rc.info,
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
                        label(&mc, m),
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
    for ((level, kw), cells) in &kws {
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
        let post = |fam: &str, c: &Cell| -> Beta {
            let parent = levels.get(level).and_then(|l| l.get(fam));
            let parent_p = parent.map_or(0.5, |p| p.p);
            let siblings: Vec<(f64, f64)> = kws
                .iter()
                .filter(|((l, _), _)| l == level)
                .filter_map(|(_, m)| m.get(fam))
                .map(|c| (c.p, c.info))
                .collect();
            // At least KEYWORD_MIN_MASS: a keyword that deviates from its
            // level has to show it on more tasks than its noise explains.
            let mass = stats::eb_mass(parent_p, &siblings).max(KEYWORD_MIN_MASS);
            Beta::with_prior(parent_p, mass, c.p * c.info, c.info)
        };
        let Some(rc) = cells.get(rk) else {
            continue;
        };
        let fr = post(rk, rc);
        let mut chosen: Option<(&'static str, f64, &'static str)> = None;
        if rc.n_eff >= N_KEYWORD.max(min_n) && fr.cdf(TARGET) >= 0.80 {
            for m in FAMILIES
                .iter()
                .filter(|f| models::tier(f) > models::tier(rk))
            {
                if let Some(mc) = cells.get(*m) {
                    let fm = post(m, mc);
                    if mc.n_eff >= 5.0 && fm.p_at_least(TARGET) >= 0.5 {
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
                    if mc.n_eff >= N_DOWN.max(min_n)
                        && level_ok
                        && cheaper(mc, rc, m, rk)
                        && !mc.people_veto(TARGET.max(rc.p - DELTA))
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
            "underperforming" => level_under.get(level.as_str()) == Some(&rk),
            _ => level_down.get(level.as_str()) == Some(&(rk, m)),
        };
        if restates_level {
            continue;
        }
        let mc = &cells[m];
        let reason = format!(
            "{}/{} recent {level} tasks about {kw} succeeded with {} ({:.0}%), {}/{} with {} ({:.0}%); the {level} level as a whole routes to {}",
            mc.s, mc.n, cap(m), mc.p * 100.0, rc.s, rc.n, cap(rk), rc.p * 100.0, cap(level_model)
        );
        let scoped = format!("task contains '{kw}' and complexity == '{level}'");
        let (kind, change, finding) = match existing_rule {
            Some(rv) if rv.levels.as_deref() == Some(&[level.clone()][..]) => (
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
                        rv.index, rv.rule.condition, rv.rule.model, cap(m), mc.s, mc.n, rc.s, rc.n
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
    // Under the orchestrator's router only level changes move tasks, judged
    // on every task they move (levels.rs); rules would change nothing there.
    let cooling_keys: HashSet<String> = cooling.keys().cloned().collect();
    if let Some(found) = super::levels::for_router(home, tasks, &cooling_keys)? {
        evidence = found.notes;
        for c in kw_cands.drain(..) {
            evidence.push(json!({"cell": c.cell, "router": "orchestrator", "what": format!(
                "{} — a rule would route this, but the orchestrator's router ignores rules' `use`; \
                 routing by `modelfit select` (`modelfit config router rules`) would allow it",
                c.reason
            )}));
        }
        level_cands = found.candidates.into_iter().map(Candidate::from).collect();
    }

    // Merge with the history.
    let blocked = blocked_by_history(&existing);
    let now_iso = crate::clock::iso(now);
    let mut kept: Vec<Value> = Vec::new();
    let mut prior_open: BTreeMap<String, Value> = BTreeMap::new();
    for s in &existing {
        let id = s
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if status_of(s) == Status::Open && id.starts_with("sg-") {
            prior_open.insert(id, s.clone());
        } else {
            kept.push(s.clone());
        }
    }
    let decided: HashSet<String> = kept
        .iter()
        .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let mut open = Vec::new();
    for c in level_cands.into_iter().chain(kw_cands) {
        if c.confidence < opts.min_confidence {
            continue;
        }
        let id = suggestion_id(&c.change);
        if decided.contains(&id) || blocked.iter().any(|b| b.blocks(&c)) {
            continue;
        }
        let created_at = prior_open
            .get(&id)
            .and_then(|v| v.get("created_at"))
            .and_then(Value::as_str)
            .unwrap_or(&now_iso)
            .to_string();
        let mut extra = c.extra.clone();
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
    super::impact::attach(home, tasks, &mut open)?;
    let mut all = kept;
    for s in &open {
        all.push(serde_json::to_value(s).expect("suggestions serialize"));
    }
    // Patterns carry the id of the suggestion about their cell (seed schema).
    if let Some(Value::Array(ps)) = doc.get_mut("patterns") {
        for p in ps.iter_mut() {
            let cell = p
                .get("cell")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let fam = p.get("model_family").and_then(Value::as_str).unwrap_or("");
            let hit = open.iter().find(|s| {
                s.extra.get("cell").and_then(Value::as_str) == Some(&cell)
                    && change_targets(&s.change) == Some(fam)
            });
            if let Some(obj) = p.as_object_mut() {
                match hit {
                    Some(s) => {
                        obj.insert("suggestion".into(), json!(s.id));
                    }
                    None => {
                        obj.remove("suggestion");
                    }
                }
            }
        }
    }
    doc.insert("suggestions".into(), Value::Array(all));
    doc.insert("suggestions_generated_at".into(), json!(now_iso));
    doc.insert("evidence_needed".into(), Value::Array(evidence));
    super::file::save(&path, &doc)?;
    drop(lock);
    Ok(open)
}

fn change_targets(c: &Change) -> Option<&'static str> {
    match c {
        Change::TaskComplexity { to, .. } => models::family(to),
        Change::AddRule { rule } | Change::ModifyRule { rule, .. } => models::family(&rule.model),
    }
}

/// Is `m`'s expected cost per success below `r`'s? Measured costs when both
/// cells have them; else list-price ratios over the posterior means.
fn cheaper(m: &Cell, r: &Cell, fm: &str, fr: &str) -> bool {
    match (m.cps, r.cps) {
        (Some(a), Some(b)) => a < b,
        _ => {
            let pm = m.posterior().mean().max(0.01);
            let pr = r.posterior().mean().max(0.01);
            let cm = m.mean_cost.unwrap_or(models::relative_price(fm));
            let cr = r.mean_cost.unwrap_or(models::relative_price(fr));
            if m.mean_cost.is_some() && r.mean_cost.is_some() {
                cm / pm < cr / pr
            } else {
                models::relative_price(fm) / pm < models::relative_price(fr) / pr
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

fn evidence_json(cells: &BTreeMap<&'static str, Cell>) -> Value {
    let mut m = Map::new();
    for (fam, c) in cells {
        m.insert(
            fam.to_string(),
            json!({"successes": c.s, "sample_size": c.n, "effective_sample_size": round4(c.n_eff), "success_rate": c.p, "wilson_95": [c.lo, c.hi]}),
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

    #[test]
    fn a_cell_s_own_ratings_veto_a_downgrade_its_clean_stops_support() {
        let cell = |own: Option<(f64, f64)>| Cell {
            p: 0.97,
            info: 60.0,
            own,
            ..Cell::default()
        };
        // Its ratings put it at 80 % ± 8: P(≥ 88 %) ≈ 0.16 < 0.8.
        assert!(cell(Some((0.80, 0.08))).people_veto(0.88));
        // They agree with the clean stops: P(≥ 88 %) ≈ 0.98.
        assert!(!cell(Some((0.96, 0.04))).people_veto(0.88));
        // Nobody judged it: nothing to veto with.
        assert!(!cell(None).people_veto(0.88));
    }
}
