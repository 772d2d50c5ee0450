//! Level suggestions under the orchestrator's router.
//!
//! When the dispatcher's own `selectModel` routes (`modelfit config router
//! orchestrator`), the only levers are the levels' models: a change of
//! `task_complexity.<level>.model` moves every task whose model is read from
//! that level — the level's own tasks that no hard-coded mapping takes
//! elsewhere, plus the tasks of other levels that the architecture/design
//! mapping sends to `complex` or the documentation/readme mapping sends to
//! `simple`. Rules (`use`) move nothing there.
//!
//! So a level change is judged on all the tasks it moves, kind by kind
//! (`level/keyword`, see [`super::impact`]), weighted by each kind's share of
//! the moved traffic:
//!
//! - **upgrade** to a stronger model when the moved tasks' expected success
//!   is likely below the 80% target (or the stronger model costs less per
//!   success) and the stronger model is better on them with posterior
//!   probability ≥ 0.80 by at least 3 points; among stronger models, the
//!   cheapest within 3 points of the best;
//! - **downgrade** to a cheaper model when it costs less per success and
//!   `P(success ≥ max(80%, current − 5 points)) ≥ 0.90` over the moved tasks,
//!   with ≥ 20 effective outcomes on it;
//! - **never** when kinds holding together ≥ 5% of the moved tasks would
//!   each lose more than 10 points with probability ≥ 0.80 (≥ 0.50 for a downgrade: a
//!   change made to save money must show that no sizeable kind moved with it
//!   suffers): the change is not made, and a
//!   note says which kind it would have helped and which it would harm, and
//!   that routing by `modelfit select` could move that kind alone.
//!
//! Probabilities use a normal approximation of the mixture of the kinds'
//! Beta posteriors.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use super::analyze::{DELTA, TARGET};
use super::impact::mean_var;
use super::models::{self, FAMILIES, LEVELS};
use super::stats::phi;
use super::tasks::{TaskSource, TaskTable};
use super::Change;

/// Kinds that would lose more than [`HARM`] veto a change when together they
/// hold at least this share of the moved tasks.
pub const VETO_SHARE: f64 = 0.05;
/// A loss larger than this (points / 100) on such a kind vetoes the change.
pub const HARM: f64 = 0.10;
/// Posterior probability of the harm that vetoes an upgrade (a stronger model
/// doing worse is unlikely a priori, so the bar is high and needs
/// [`N_HARM_UP`] outcomes of the kind on it).
pub const HARM_CONFIDENCE: f64 = 0.95;
/// Effective outcomes of a kind on the stronger model before it can veto an upgrade.
pub const N_HARM_UP: f64 = 10.0;
/// A downgrade needs each kind cleared: `P(loss ≤ HARM) ≥ CLEARED`; kinds
/// not cleared (harmed, or without the evidence) count against it (a change
/// made to save money must show that no sizeable kind moved with it suffers).
pub const CLEARED: f64 = 0.80;
/// Smallest expected gain of an upgrade.
pub const MIN_GAIN: f64 = 0.03;
/// Confidence of an upgrade claim.
const GAMMA_UP: f64 = 0.80;
/// Confidence of a downgrade claim.
const GAMMA_DOWN: f64 = 0.90;
/// Effective outcomes on the cheaper model before a downgrade.
const N_DOWN: f64 = 20.0;
/// Effective outcomes on the stronger model before an upgrade.
const N_UP: f64 = 5.0;
/// Effective outcomes of one kind on a model before it is named in a note.
const N_KIND_NOTE: f64 = 8.0;

/// A level change found under the orchestrator's router.
#[derive(Debug, Clone)]
pub struct LevelCandidate {
    /// `upgrade_complexity` or `downgrade_complexity`.
    pub kind: &'static str,
    /// `underperforming` or `over_provisioned`.
    pub finding: &'static str,
    /// The change.
    pub change: Change,
    /// Why, with the moved tasks' figures.
    pub reason: String,
    /// Posterior probability of the claim.
    pub confidence: f64,
    /// The level.
    pub cell: String,
    /// Figures per kind moved.
    pub extra: Map<String, Value>,
}

/// What [`find`] concluded.
#[derive(Debug, Clone, Default)]
pub struct LevelFindings {
    /// Changes worth making.
    pub candidates: Vec<LevelCandidate>,
    /// Why other changes are not made (for `evidence_needed` and the report).
    pub notes: Vec<Value>,
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The moved population of one level: kinds with their share.
struct Group {
    /// (kind, share, tasks).
    kinds: Vec<(String, f64, u64)>,
    tasks: u64,
    /// Tasks of other levels sent here by a mapping.
    mapped: BTreeMap<String, u64>,
}

impl Group {
    fn mix(&self, table: &TaskTable, f: usize) -> (f64, f64, f64) {
        let (mut p, mut v, mut n) = (0.0, 0.0, 0.0);
        for (k, w, _) in &self.kinds {
            let (m, var) = mean_var(&table.kind_posterior(k, f));
            p += w * m;
            v += w * w * var;
            n += table.kind_n(k, f);
        }
        (p, v, n)
    }
}

/// Groups the table's tasks by the level whose model the orchestrator's
/// router reads for them, under `models`.
fn groups(table: &TaskTable, models: Option<&Value>) -> BTreeMap<String, Group> {
    // Tasks of the same (level, text) go the same way: count them, then route each once.
    let mut per_text = vec![0u64; table.distinct().len()];
    for &i in table.task_indices() {
        per_text[i as usize] += 1;
    }
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut mapped: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (t, n) in table.distinct().iter().zip(per_text) {
        if n == 0 {
            continue;
        }
        let Some(lever) = crate::router::orchestrator_route(models, LEVELS[t.level], &t.text)
            .level()
            .map(str::to_string)
        else {
            continue;
        };
        *counts
            .entry(lever.clone())
            .or_default()
            .entry(t.kind.clone())
            .or_default() += n;
        if lever != LEVELS[t.level] {
            *mapped
                .entry(lever)
                .or_default()
                .entry(t.kind.clone())
                .or_default() += n;
        }
    }
    counts
        .into_iter()
        .map(|(lever, kinds)| {
            let total: u64 = kinds.values().sum();
            let mut ks: Vec<(String, f64, u64)> = kinds
                .into_iter()
                .map(|(k, n)| (k, n as f64 / total as f64, n))
                .collect();
            ks.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            let m = mapped.remove(&lever).unwrap_or_default();
            (
                lever,
                Group {
                    kinds: ks,
                    tasks: total,
                    mapped: m,
                },
            )
        })
        .collect()
}

fn kind_label(kind: &str) -> String {
    match kind.split_once('/') {
        Some((l, "other")) => format!("other {l}"),
        Some((l, k)) => format!("{l} {k}"),
        None => kind.to_string(),
    }
}

/// Level changes that take effect under the orchestrator's router, judged on
/// every task each would move. `models`: models.json as the dispatcher reads
/// it; `skip`: levels cooling down after an applied change.
pub fn find(table: &TaskTable, models: Option<&Value>, skip: &HashSet<String>) -> LevelFindings {
    let mut out = LevelFindings::default();
    let groups = groups(table, models);
    for level in LEVELS {
        let Some(g) = groups.get(level) else {
            continue;
        };
        if skip.contains(level) {
            continue;
        }
        let Some(r_id) = models
            .and_then(|m| m.pointer(&format!("/task_complexity/{level}/model")))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(r) = models::family(r_id).and_then(|f| FAMILIES.iter().position(|x| *x == f))
        else {
            continue;
        };
        let full_id = |f: usize| -> String {
            models
                .and_then(|m| m.get("task_complexity"))
                .and_then(Value::as_object)
                .and_then(|tc| {
                    tc.values()
                        .filter_map(|l| l.get("model").and_then(Value::as_str))
                        .find(|id| models::family(id) == Some(FAMILIES[f]))
                })
                .unwrap_or(
                    [
                        crate::rules::DEFAULT_SIMPLE,
                        crate::rules::DEFAULT_MEDIUM,
                        crate::rules::DEFAULT_COMPLEX,
                    ][f],
                )
                .to_string()
        };
        let (pr, vr, _) = g.mix(table, r);
        let cps = |f: usize, p: f64| table.attempt_cost(f) / p.max(0.01);
        let cps_r = cps(r, pr);
        let under = phi((TARGET - pr) / vr.sqrt().max(1e-9));
        // Per kind: expected change on m, and the probability of a loss > HARM.
        let per_kind = |m: usize| -> Vec<(String, f64, f64, f64, f64)> {
            g.kinds
                .iter()
                .map(|(k, w, _)| {
                    let (a, va) = mean_var(&table.kind_posterior(k, m));
                    let (b, vb) = mean_var(&table.kind_posterior(k, r));
                    let d = a - b;
                    let p_harm = phi((-HARM - d) / (va + vb).sqrt().max(1e-9));
                    (k.clone(), *w, d, p_harm, a)
                })
                .collect()
        };
        let mut ups: Vec<(usize, f64, f64, f64)> = Vec::new();
        let mut downs: Vec<(usize, f64, f64, f64)> = Vec::new();
        let mut vetoed: Vec<(usize, Vec<(String, f64)>)> = Vec::new();
        for m in 0..3 {
            if m == r {
                continue;
            }
            let (pm, vm, nm) = g.mix(table, m);
            let d = pm - pr;
            let sd = (vm + vr).sqrt().max(1e-9);
            // Kinds likely to lose more than HARM; together they veto the
            // change when they hold VETO_SHARE of the moved tasks.
            let need = HARM_CONFIDENCE;
            // For a downgrade, a kind must be cleared: P(loss ≤ HARM) ≥ 0.80;
            // one without that evidence counts against the change.
            let harmed_all: Vec<(String, f64, f64)> = per_kind(m)
                .into_iter()
                .filter(|(k, _, _, ph, _)| {
                    if m < r {
                        *ph >= 1.0 - CLEARED
                    } else {
                        *ph >= need && table.kind_n(k, m) >= N_HARM_UP
                    }
                })
                .map(|(k, w, d, _, _)| (k, d, w))
                .collect();
            let harmed: Vec<(String, f64)> =
                if harmed_all.iter().map(|h| h.2).sum::<f64>() >= VETO_SHARE {
                    harmed_all.into_iter().map(|(k, d, _)| (k, d)).collect()
                } else {
                    Vec::new()
                };
            let qualifies = if m > r {
                let conf = phi(d / sd);
                let ok = nm >= N_UP
                    && conf >= GAMMA_UP
                    && d >= MIN_GAIN
                    && (under >= 0.80 || cps(m, pm) < cps_r);
                if ok {
                    ups.push((m, conf, pm, nm));
                }
                ok
            } else {
                let conf = if pr - DELTA > TARGET {
                    phi((d + DELTA) / sd)
                } else {
                    phi((pm - TARGET) / vm.sqrt().max(1e-9))
                };
                let ok = nm >= N_DOWN && conf >= GAMMA_DOWN && cps(m, pm) < cps_r;
                if ok {
                    downs.push((m, conf, pm, nm));
                }
                ok
            };
            if !harmed.is_empty() && (qualifies || m < r) {
                vetoed.push((m, harmed));
            }
        }
        let vetoes = |m: usize| vetoed.iter().find(|(x, _)| *x == m).map(|(_, h)| h);
        ups.retain(|(m, ..)| vetoes(*m).is_none());
        downs.retain(|(m, ..)| vetoes(*m).is_none());
        let best_up = ups.iter().map(|u| u.2).fold(f64::NEG_INFINITY, f64::max);
        let chosen = ups
            .iter()
            .filter(|u| u.2 >= best_up - MIN_GAIN)
            .min_by_key(|u| u.0)
            .map(|u| (*u, "upgrade_complexity", "underperforming"))
            .or_else(|| {
                downs
                    .iter()
                    .min_by_key(|d| d.0)
                    .map(|d| (*d, "downgrade_complexity", "over_provisioned"))
            });
        let mapped_text = if g.mapped.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = g
                .mapped
                .iter()
                .map(|(k, n)| format!("{n} {}", kind_label(k)))
                .collect();
            format!(
                ", including {} sent there by the dispatcher's {} mapping",
                parts.join(", "),
                if level == "complex" {
                    "architecture/design"
                } else {
                    "documentation/readme"
                }
            )
        };
        let kinds_json = |m: usize| -> Value {
            Value::Array(
                per_kind(m)
                    .into_iter()
                    .zip(&g.kinds)
                    .map(|((k, w, d, _, a), (_, _, n))| {
                        json!({"kind": k, "tasks": n, "share": (w * 1000.0).round() / 1000.0,
                               "success_after": (a * 1000.0).round() / 1000.0,
                               "change_points": (d * 1000.0).round() / 10.0})
                    })
                    .collect(),
            )
        };
        if let Some(((m, conf, pm, nm), kind, finding)) = chosen {
            let reason = format!(
                "Under the orchestrator's router the {level} level's model decides {} tasks of \
                 the window{mapped_text}. Over all of them, expected first-attempt success {:.0}% \
                 on {} → {:.0}% on {} (n*={nm:.1} on {}), cost per success ${:.3} → ${:.3}; no \
                 kind moved with it loses more than {:.0} points",
                g.tasks,
                pr * 100.0,
                cap(FAMILIES[r]),
                pm * 100.0,
                cap(FAMILIES[m]),
                cap(FAMILIES[m]),
                cps_r,
                cps(m, pm),
                HARM * 100.0
            );
            let mut extra = Map::new();
            extra.insert("router".into(), json!("orchestrator"));
            extra.insert("moved_tasks".into(), json!(g.tasks));
            extra.insert("moved_kinds".into(), kinds_json(m));
            out.candidates.push(LevelCandidate {
                kind,
                finding,
                change: Change::TaskComplexity {
                    level: level.into(),
                    from: r_id.into(),
                    to: full_id(m),
                },
                reason,
                confidence: (conf * 10000.0).round() / 10000.0,
                cell: level.into(),
                extra,
            });
        }
        // Kinds that alone would be better elsewhere, but cannot move alone.
        let moved_to = chosen.map(|c| c.0 .0);
        for (k, _, n) in &g.kinds {
            #[allow(clippy::needless_range_loop)] // m indexes the table's families too
            for m in 0..3 {
                if m == r || Some(m) == moved_to {
                    continue;
                }
                let (a, va) = mean_var(&table.kind_posterior(k, m));
                let (b, vb) = mean_var(&table.kind_posterior(k, r));
                if table.kind_n(k, m) < N_KIND_NOTE || table.kind_n(k, r) < N_KIND_NOTE {
                    continue;
                }
                // A note, not a change: the point estimates say so and the
                // kind likely meets the target on the other model.
                let better_alone = if m < r {
                    a >= TARGET.max(b - DELTA)
                        && phi((a - TARGET) / va.sqrt().max(1e-9)) >= 0.80
                        && cps(m, a) < cps(r, b)
                } else {
                    phi((TARGET - b) / vb.sqrt().max(1e-9)) >= 0.80
                        && phi((a - b - MIN_GAIN) / (va + vb).sqrt().max(1e-9)) >= GAMMA_UP
                };
                if !better_alone {
                    continue;
                }
                let (pm, _, nm) = g.mix(table, m);
                let why = match vetoes(m) {
                    Some(h) => {
                        let others: Vec<&(String, f64)> =
                            h.iter().filter(|(x, _)| x != k).collect();
                        if others.is_empty() {
                            continue;
                        }
                        let losing: Vec<&&(String, f64)> =
                            others.iter().filter(|(_, d)| *d < -HARM).collect();
                        let thin: Vec<String> = others
                            .iter()
                            .filter(|(_, d)| *d >= -HARM)
                            .map(|(x, _)| kind_label(x))
                            .collect();
                        let mut parts = Vec::new();
                        if !losing.is_empty() {
                            let worst = losing.iter().map(|(_, d)| -d).fold(0.0, f64::max);
                            parts.push(format!(
                                "{} would lose {:.0}+ points",
                                losing
                                    .iter()
                                    .map(|(x, _)| kind_label(x))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                (worst * 100.0 / 5.0).floor() * 5.0
                            ));
                        }
                        if !thin.is_empty() {
                            parts.push(format!(
                                "for {} the evidence on {} is too thin to rule out a loss of more \
                                 than {:.0} points",
                                thin.join(", "),
                                cap(FAMILIES[m]),
                                HARM * 100.0
                            ));
                        }
                        parts.join("; ")
                    }
                    None if nm < N_DOWN => continue,
                    None => format!(
                        "all {} of them together would go from {:.0}% to {:.0}% expected success",
                        g.tasks,
                        pr * 100.0,
                        pm * 100.0
                    ),
                };
                out.notes.push(json!({
                    "cell": level,
                    "kind": k,
                    "model": FAMILIES[m],
                    "router": "orchestrator",
                    "what": format!(
                        "{} tasks ({n} in the window) would be {} on {} ({:.0}% vs {:.0}% on {}), \
                         but the orchestrator's router can only move all {} {level}-routed tasks \
                         together{mapped_text}, and {why}; routing by `modelfit select` \
                         (`modelfit config router rules` and the drop-in model-selector.sh) would \
                         allow it",
                        kind_label(k),
                        if m < r { "cheaper" } else { "better" },
                        cap(FAMILIES[m]),
                        a * 100.0,
                        b * 100.0,
                        cap(FAMILIES[r]),
                        g.tasks
                    ),
                }));
            }
        }
    }
    out
}

/// Under the orchestrator's router (the `router` setting), the level
/// changes that take effect there, from the window's tasks; `None` under the
/// rules router (suggest's own level and keyword findings stand).
pub fn for_router(
    home: &crate::home::Home,
    tasks: &TaskSource,
    cooling: &HashSet<String>,
) -> crate::error::Result<Option<LevelFindings>> {
    if crate::router::current(home).router != crate::router::Router::Orchestrator {
        return Ok(None);
    }
    let table = tasks.get()?;
    let models = crate::router::load_models(home)?;
    Ok(Some(find(table, models.as_ref(), cooling)))
}

#[cfg(test)]
mod tests {
    use super::phi;

    #[test]
    fn normal_cdf() {
        assert!((phi(0.0) - 0.5).abs() < 1e-7);
        assert!((phi(1.959_964) - 0.975).abs() < 1e-6);
        assert!((phi(-1.644_854) - 0.05).abs() < 1e-6);
    }
}
