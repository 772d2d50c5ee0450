//! Ground-truth worlds for testing `learn`: each world fixes the true
//! first-attempt success rate of every model at every complexity level,
//! routes tasks by a rule set with ε-exploration of adjacent tiers, retries
//! failures on the next tier, and writes the resulting ledger in the
//! orchestrator's format. Deterministic for a seed.
//!
//! Worlds with weak labels write what a deployment records instead of the
//! truth: the hook's verdict and the orchestrator's verification status
//! (each with its own error rates), a person's rating on a share of tasks,
//! CI on some; failures of one kind of task can be silent (seen by people
//! only) or seen by the verification step only.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::models::{FAMILIES, LEVELS};
use super::Change;
use crate::error::{Error, Result};

/// Full ids used for each family.
pub const IDS: [&str; 3] = [
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
];

/// Mean cost of one attempt per family (USD).
pub const COST: [f64; 3] = [0.04, 0.12, 0.20];

/// A world: true rates `p[level][family]`, optionally different before `drift_days` ago.
#[derive(Debug, Clone)]
pub struct World {
    /// Scenario name.
    pub name: &'static str,
    /// The rule model (family index) of each level.
    pub rules: [usize; 3],
    /// True first-attempt success now, per level and family.
    pub p: [[f64; 3]; 3],
    /// True rates before the drift point, if the world drifts.
    pub p_before: Option<[[f64; 3]; 3]>,
    /// Days before `now` at which `p_before` gives way to `p`.
    pub drift_days: f64,
    /// Tasks per day.
    pub per_day: f64,
    /// Days simulated (ending at `now`).
    pub days: f64,
    /// Exploration rate.
    pub epsilon: f64,
    /// Share of traffic per level.
    pub traffic: [f64; 3],
    /// One task text (level, index into the level's texts) whose true rates
    /// differ from its level's: a keyword interaction.
    pub hard_task: Option<(usize, usize, [f64; 3])>,
    /// What the ledger records about outcomes.
    pub labels: Labels,
}

/// How outcomes reach the ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// The true outcome as the hook's verdict and the status (the old worlds).
    Truth,
    /// Weak labels.
    Weak(Weak),
}

/// Error rates of the recorded evidence in a weak-label world.
#[derive(Debug, Clone, PartialEq)]
pub struct Weak {
    /// P(hook says success | success), P(hook says failure | failure).
    pub hook: (f64, f64),
    /// The same for the orchestrator's verification (`status`).
    pub verification: (f64, f64),
    /// Share of tasks a person rates.
    pub rated: f64,
    /// Share of a person's ratings that are wrong.
    pub rater_flip: f64,
    /// Share of tasks with a CI verdict (CI sees what tests see).
    pub ci: f64,
    /// (level, task, family) whose failures only people see.
    pub silent: Option<(usize, usize, usize)>,
    /// (level, task, family) whose failures only the verification sees.
    pub verification_only: Option<(usize, usize, usize)>,
}

impl Weak {
    /// Honest implicit evidence: a person rates one task in ten, CI one in five.
    pub fn honest() -> Weak {
        Weak {
            hook: (0.97, 0.85),
            verification: (0.98, 0.8),
            rated: 0.10,
            rater_flip: 0.0,
            ci: 0.2,
            silent: None,
            verification_only: None,
        }
    }
}

impl World {
    fn base(name: &'static str, p: [[f64; 3]; 3]) -> World {
        World {
            name,
            rules: [0, 1, 2],
            p,
            p_before: None,
            drift_days: 0.0,
            per_day: 40.0,
            days: 90.0,
            epsilon: 0.10,
            traffic: [0.35, 0.40, 0.25],
            hard_task: None,
            labels: Labels::Truth,
        }
    }

    /// The worlds with weak labels.
    pub fn weak_scenarios() -> Vec<World> {
        let over = [[0.9, 0.92, 0.93], [0.96, 0.93, 0.94], [0.5, 0.8, 0.9]];
        // Sonnet's failures on security audits of complex work are silent:
        // plausible but wrong; complex work as a whole stays on opus.
        let mut silent = World::base(
            "silent_failures",
            [[0.9, 0.92, 0.93], [0.55, 0.9, 0.92], [0.3, 0.93, 0.93]],
        );
        silent.hard_task = Some((2, 1, [0.1, 0.2, 0.93]));
        silent.labels = Labels::Weak(Weak {
            silent: Some((2, 1, 1)),
            ..Weak::honest()
        });
        // Haiku fails half the renames of simple work; only the
        // orchestrator's verification sees it.
        let mut verification = World::base(
            "verification_only",
            [[0.86, 0.93, 0.94], [0.55, 0.9, 0.92], [0.3, 0.7, 0.9]],
        );
        verification.hard_task = Some((0, 3, [0.4, 0.92, 0.94]));
        verification.labels = Labels::Weak(Weak {
            verification_only: Some((0, 3, 0)),
            ..Weak::honest()
        });
        let mut honest = World::base("honest_evidence", over);
        honest.labels = Labels::Weak(Weak::honest());
        let mut noisy = World::base("noisy_raters", over);
        noisy.labels = Labels::Weak(Weak {
            rater_flip: 0.2,
            ..Weak::honest()
        });
        vec![silent, verification, honest, noisy]
    }

    /// True first-attempt success of task `k` of `level` on `fam`.
    pub fn p_task(&self, level: usize, k: usize, fam: usize) -> f64 {
        match self.hard_task {
            Some((l, t, rates)) if l == level && t == k => rates[fam],
            _ => self.p[level][fam],
        }
    }

    /// The standard scenarios.
    pub fn scenarios() -> Vec<World> {
        let mut tiny = World::base(
            "tiny_sample",
            [[0.55, 0.9, 0.9], [0.5, 0.9, 0.9], [0.3, 0.7, 0.9]],
        );
        tiny.per_day = 1.0;
        tiny.days = 6.0;
        let mut drift = World::base(
            "drift_after_release",
            [[0.55, 0.92, 0.94], [0.5, 0.9, 0.92], [0.3, 0.7, 0.9]],
        );
        drift.p_before = Some([[0.93, 0.93, 0.94], [0.5, 0.9, 0.92], [0.3, 0.7, 0.9]]);
        drift.drift_days = 30.0;
        // Database refactors are hard for Sonnet although medium work is not.
        let mut interaction = World::base(
            "keyword_interaction",
            [[0.9, 0.92, 0.93], [0.5, 0.9, 0.93], [0.3, 0.7, 0.9]],
        );
        interaction.hard_task = Some((1, 1, [0.3, 0.55, 0.93]));
        interaction.epsilon = 0.2;
        vec![
            World::base(
                "over_provisioned",
                [[0.9, 0.92, 0.93], [0.96, 0.93, 0.94], [0.5, 0.8, 0.9]],
            ),
            World::base(
                "underperforming",
                [[0.6, 0.92, 0.94], [0.5, 0.9, 0.92], [0.3, 0.7, 0.9]],
            ),
            World::base(
                "already_optimal",
                [[0.9, 0.92, 0.93], [0.55, 0.9, 0.92], [0.3, 0.6, 0.9]],
            ),
            tiny,
            // Haiku is fine on simple work and sonnet poor on complex work;
            // pooled across levels sonnet would look worse than haiku.
            World::base(
                "simpson",
                [[0.95, 0.96, 0.96], [0.6, 0.88, 0.9], [0.2, 0.55, 0.9]],
            ),
            drift,
            interaction,
        ]
    }

    /// True level rates as the traffic sees them: `p`, with the hard task's
    /// rates mixed in at its share (one task text in four).
    pub fn effective_p(&self) -> [[f64; 3]; 3] {
        let mut p = self.p;
        if let Some((l, _, rates)) = self.hard_task {
            for f in 0..3 {
                p[l][f] = 0.75 * self.p[l][f] + 0.25 * rates[f];
            }
        }
        p
    }

    /// The right family per level under the decision rules' own claims: when
    /// the rule model misses `t`, the cheapest stronger one that meets it;
    /// otherwise the cheapest model no worse than `max(t, p_rule − delta)`.
    pub fn oracle(&self, t: f64, delta: f64) -> [usize; 3] {
        let mut out = self.rules;
        for (l, o) in out.iter_mut().enumerate() {
            let r = self.rules[l];
            let p = self.effective_p()[l];
            *o = if p[r] < t {
                (r + 1..3).find(|f| p[*f] >= t).unwrap_or(r)
            } else {
                (0..=r).find(|f| p[*f] >= t.max(p[r] - delta)).unwrap_or(r)
            };
        }
        out
    }

    /// Expected cost per successful task of routing `fam` at `level` (same-model retry).
    pub fn cps(&self, level: usize, fam: usize) -> f64 {
        COST[fam] / self.effective_p()[level][fam].max(0.01)
    }
}

/// A seeded SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// A uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

const TASKS: [[&str; 4]; 3] = [
    [
        "Update documentation for the config flags",
        "Fix typo in the login page",
        "Add logging to the upload handler",
        "Rename the settings helper",
    ],
    [
        "Implement the export endpoint for the API",
        "Refactor the database access layer",
        "Add tests for the parser",
        "Fix the bug in pagination",
    ],
    [
        "Design the architecture of the sync engine",
        "Security audit of the auth flow",
        "Refactor the scheduler across modules",
        "Improve performance of the query planner",
    ],
];

/// Writes a ledger for `world` (ending at `now`) to `path`; returns the record count.
pub fn write_ledger(world: &World, seed: u64, now: DateTime<Utc>, path: &Path) -> Result<u64> {
    let file = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let io = |e| Error::io("cannot write", path, e);
    let mut rng = Rng::new(seed);
    let total = (world.per_day * world.days).round() as u64;
    let start = now - Duration::milliseconds((world.days * 86_400_000.0) as i64);
    let step_ms = world.days * 86_400_000.0 / total.max(1) as f64;
    let mut n = 0u64;
    out.write_all(b"[").map_err(io)?;
    for i in 0..total {
        let at = start + Duration::milliseconds((i as f64 * step_ms) as i64);
        let age_days = (now - at).num_milliseconds() as f64 / 86_400_000.0;
        let u = rng.next_f64();
        let level = if u < world.traffic[0] {
            0
        } else if u < world.traffic[0] + world.traffic[1] {
            1
        } else {
            2
        };
        let rule = world.rules[level];
        let mut fam = rule;
        if rng.next_f64() < world.epsilon {
            let down = rule.checked_sub(1);
            let up = (rule + 1 < 3).then_some(rule + 1);
            fam = match (down, up) {
                (Some(d), Some(u)) => {
                    if rng.next_f64() < 0.5 {
                        d
                    } else {
                        u
                    }
                }
                (Some(d), None) => d,
                (None, Some(u)) => u,
                _ => rule,
            };
        }
        let task_idx = (rng.next_f64() * 4.0) as usize % 4;
        let text = TASKS[level][task_idx];
        let mut p = match world.p_before {
            Some(b) if age_days > world.drift_days => b,
            _ => world.p,
        };
        if let Some((l, t, rates)) = world.hard_task {
            if l == level && t == task_idx {
                p[level] = rates;
            }
        }
        let mut prev: Option<String> = None;
        let mut attempt_fam = fam;
        let mut t = at;
        for attempt in 0..3 {
            let ok = rng.next_f64() < p[level][attempt_fam];
            let here = (level, task_idx, attempt_fam);
            let id = format!(
                "dispatch-{}-{:06x}",
                t.timestamp_millis(),
                (seed as u32 ^ i as u32) & 0xff_ffff
            );
            let id = format!("{id}{attempt}");
            let tokens = (20_000.0 * (attempt_fam as f64 + 1.0) * (0.5 + rng.next_f64())).round();
            let mut rec = json!({
                "id": id,
                "task": text,
                "original_task": text,
                "complexity": LEVELS[level],
                "model": IDS[attempt_fam],
                "task_keywords": crate::signals::keywords(text),
                "status": if ok { "complete" } else { "failed" },
                "created_at": crate::clock::iso(t),
                "started_at": crate::clock::iso(t),
                "completed_at": crate::clock::iso(t + Duration::minutes(5)),
                "status_history": [],
                "outcome": if ok { "success" } else { "failure" },
                "outcome_source": "hook",
                "execution_time_seconds": (120.0 + 600.0 * rng.next_f64()).round(),
                "tokens_used": tokens,
                "cost_usd": (COST[attempt_fam] * (0.5 + rng.next_f64()) * 1e6).round() / 1e6,
            });
            if let Some(p) = &prev {
                rec["previous_dispatch_id"] = json!(p);
                rec["retry_count"] = json!(attempt);
            }
            // What the deployment sees of the outcome.
            let mut visible = !ok;
            if let Labels::Weak(wk) = &world.labels {
                let silent = !ok && wk.silent == Some(here);
                let verif_only = !ok && wk.verification_only == Some(here);
                let says = |rng: &mut Rng, (sens, spec): (f64, f64)| {
                    if ok {
                        rng.next_f64() < sens
                    } else {
                        rng.next_f64() >= spec
                    }
                };
                let verdict = |b: bool| if b { "success" } else { "failure" };
                let hook = says(&mut rng, wk.hook) || silent || verif_only;
                let verification = if verif_only {
                    rng.next_f64() < 0.05
                } else {
                    says(&mut rng, wk.verification) || silent
                };
                let mut sources = serde_json::Map::new();
                sources.insert("hook".into(), json!({"outcome": verdict(hook)}));
                let (mut outcome, mut source) = (verdict(hook), "hook");
                if rng.next_f64() < wk.ci {
                    let ci = ok || silent;
                    sources.insert("ci".into(), json!({"outcome": verdict(ci)}));
                    (outcome, source) = (verdict(ci), "ci");
                }
                let rated = rng.next_f64() < wk.rated;
                if rated {
                    let flip = rng.next_f64() < wk.rater_flip;
                    let says_ok = ok != flip;
                    sources.insert("human".into(), json!({"outcome": verdict(says_ok)}));
                    (outcome, source) = (verdict(says_ok), "human");
                }
                rec["status"] = json!(if verification { "complete" } else { "failed" });
                rec["outcome"] = json!(outcome);
                rec["outcome_source"] = json!(source);
                rec["outcome_sources"] = serde_json::Value::Object(sources);
                // Only a failure someone noticed is retried.
                visible = !ok && (!hook || !verification || rated && outcome == "failure");
            }
            out.write_all(if n == 0 { b"\n  " } else { b",\n  " })
                .map_err(io)?;
            out.write_all(crate::record::to_js_pretty(&rec, 1).as_bytes())
                .map_err(io)?;
            n += 1;
            if !visible || rng.next_f64() < 0.4 {
                break;
            }
            // Retry: escalate one tier when there is one.
            prev = Some(id);
            attempt_fam = (attempt_fam + 1).min(2);
            t += Duration::minutes(20);
        }
    }
    out.write_all(if n == 0 { b"]" } else { b"\n]" })
        .map_err(io)?;
    out.flush().map_err(io)?;
    Ok(n)
}

/// The routing (family per level) after applying `changes` to `rules`.
pub fn route_after(rules: [usize; 3], changes: &[Change]) -> [usize; 3] {
    let mut out = rules;
    for c in changes {
        if let Change::TaskComplexity { level, to, .. } = c {
            if let (Some(l), Some(f)) = (
                LEVELS.iter().position(|x| x == level),
                super::models::family(to).and_then(|f| FAMILIES.iter().position(|x| *x == f)),
            ) {
                out[l] = f;
            }
        }
    }
    out
}

/// The models.json of a routing.
pub fn models_json(rules: [usize; 3]) -> String {
    let v = json!({
        "task_complexity": {
            "simple": {"model": IDS[rules[0]], "examples": []},
            "medium": {"model": IDS[rules[1]], "examples": []},
            "complex": {"model": IDS[rules[2]], "examples": []},
        },
        "rules": [],
    });
    crate::record::to_js_pretty(&v, 0) + "\n"
}

/// Brier score and expected calibration error (10 bins) of `(confidence, truth)` pairs.
pub fn calibration(pairs: &[(f64, bool)]) -> (f64, f64) {
    if pairs.is_empty() {
        return (0.0, 0.0);
    }
    let n = pairs.len() as f64;
    let brier = pairs
        .iter()
        .map(|(c, y)| (c - if *y { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / n;
    let mut ece = 0.0;
    for b in 0..10 {
        let (lo, hi) = (b as f64 / 10.0, (b + 1) as f64 / 10.0);
        let bin: Vec<&(f64, bool)> = pairs
            .iter()
            .filter(|(c, _)| *c >= lo && (*c < hi || (b == 9 && *c <= 1.0)))
            .collect();
        if bin.is_empty() {
            continue;
        }
        let conf = bin.iter().map(|(c, _)| c).sum::<f64>() / bin.len() as f64;
        let acc = bin.iter().filter(|(_, y)| *y).count() as f64 / bin.len() as f64;
        ece += bin.len() as f64 / n * (conf - acc).abs();
    }
    (brier, ece)
}

/// Whether a suggestion's claim holds in `world` (for calibration).
pub fn claim_holds(world: &World, change: &Change, t: f64, delta: f64) -> Option<bool> {
    let Change::TaskComplexity { level, from, to } = change else {
        return None;
    };
    let l = LEVELS.iter().position(|x| x == level)?;
    let fi = |m: &str| super::models::family(m).and_then(|f| FAMILIES.iter().position(|x| *x == f));
    let (r, m) = (fi(from)?, fi(to)?);
    let p = world.effective_p();
    let (pr, pm) = (p[l][r], p[l][m]);
    Some(if m > r {
        pr < t && pm > pr
    } else {
        pm >= t.max(pr - delta)
    })
}

/// The family each task (level × task text) is routed to after `changes`
/// (level models, then keyword rules scoped to a level, in order).
pub fn route_tasks(rules: [usize; 3], changes: &[Change]) -> [[usize; 4]; 3] {
    let levels = route_after(rules, changes);
    let mut out = [[0; 4]; 3];
    for l in 0..3 {
        out[l] = [levels[l]; 4];
    }
    for c in changes {
        let rule = match c {
            Change::AddRule { rule } | Change::ModifyRule { rule, .. } => rule,
            Change::TaskComplexity { .. } => continue,
        };
        let Some(f) =
            super::models::family(&rule.model).and_then(|f| FAMILIES.iter().position(|x| *x == f))
        else {
            continue;
        };
        let quoted: Vec<&str> = rule.condition.split('\'').skip(1).step_by(2).collect();
        let Some(kw) = quoted.first() else {
            continue;
        };
        let level = quoted
            .get(1)
            .and_then(|l| LEVELS.iter().position(|x| x == l));
        for (l, row) in out.iter_mut().enumerate() {
            if level.is_some_and(|x| x != l) {
                continue;
            }
            for (k, slot) in row.iter_mut().enumerate() {
                if crate::signals::keywords(TASKS[l][k])
                    .iter()
                    .any(|w| w == kw)
                {
                    *slot = f;
                }
            }
        }
    }
    out
}

/// What one draw of a world did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Largest drop of any task's true success rate caused by the changes.
    pub worst_drop: f64,
    /// Value gained (success minus cost in dollars, traffic-weighted).
    pub gain: f64,
    /// What the oracle's level routing would gain.
    pub oracle_gain: f64,
    /// Whether anything changed.
    pub changed: bool,
}

impl Outcome {
    /// Safe: no task loses more than 5 points of true success.
    pub fn safe(&self) -> bool {
        self.worst_drop <= 0.05 + 1e-9
    }

    /// The gain reaches half the oracle's (`None` where the oracle gains nothing).
    pub fn found(&self) -> Option<bool> {
        (self.oracle_gain > 1e-9).then_some(self.gain >= 0.5 * self.oracle_gain)
    }
}

/// Value of a routing: Σ traffic × ¼ Σ_task (p − cost in dollars).
pub fn value(world: &World, route: &[[usize; 4]; 3]) -> f64 {
    let mut v = 0.0;
    for (l, row) in route.iter().enumerate() {
        for (k, f) in row.iter().enumerate() {
            v += world.traffic[l] * 0.25 * (world.p_task(l, k, *f) - COST[*f]);
        }
    }
    v
}

/// Judges the changes a run emitted against the world's truth.
pub fn judge(world: &World, changes: &[Change]) -> Outcome {
    let before = route_tasks(world.rules, &[]);
    let after = route_tasks(world.rules, changes);
    let mut worst: f64 = 0.0;
    for l in 0..3 {
        for k in 0..4 {
            let drop = world.p_task(l, k, before[l][k]) - world.p_task(l, k, after[l][k]);
            worst = worst.max(drop);
        }
    }
    let oracle = route_tasks(
        world.rules,
        &(0..3)
            .map(|l| Change::TaskComplexity {
                level: LEVELS[l].into(),
                from: IDS[world.rules[l]].into(),
                to: IDS[world.oracle(0.80, 0.05)[l]].into(),
            })
            .collect::<Vec<_>>(),
    );
    let v0 = value(world, &before);
    Outcome {
        worst_drop: worst,
        gain: value(world, &after) - v0,
        oracle_gain: value(world, &oracle) - v0,
        changed: before != after,
    }
}

/// Whether a keyword rule's claim holds: the keyword's tasks at its level do
/// better (upgrade) or well enough (downgrade) on the rule's model than on
/// the level's model.
pub fn keyword_claim_holds(world: &World, change: &Change, t: f64, delta: f64) -> Option<bool> {
    let rule = match change {
        Change::AddRule { rule } | Change::ModifyRule { rule, .. } => rule,
        Change::TaskComplexity { .. } => return None,
    };
    let quoted: Vec<&str> = rule.condition.split('\'').skip(1).step_by(2).collect();
    let kw = quoted.first()?;
    let l = LEVELS.iter().position(|x| Some(x) == quoted.get(1))?;
    let m =
        super::models::family(&rule.model).and_then(|f| FAMILIES.iter().position(|x| *x == f))?;
    let r = world.rules[l];
    let kinds: Vec<usize> = (0..4)
        .filter(|k| {
            crate::signals::keywords(TASKS[l][*k])
                .iter()
                .any(|w| w == kw)
        })
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mean =
        |f: usize| kinds.iter().map(|k| world.p_task(l, *k, f)).sum::<f64>() / kinds.len() as f64;
    let (pr, pm) = (mean(r), mean(m));
    Some(if m > r {
        pr < t && pm > pr
    } else {
        pm >= t.max(pr - delta)
    })
}
