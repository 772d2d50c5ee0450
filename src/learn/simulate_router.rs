//! Ground-truth worlds routed by the orchestrator's own router, for testing
//! the level suggestions of [`super::levels`].
//!
//! A world is a set of task kinds, each with a level, a traffic share, a
//! generator of varied task texts and true first-attempt success rates per
//! model family. Tasks are routed by the dispatcher's `selectModel`
//! ([`crate::router::orchestrator_route`]) on a models.json with the
//! orchestrator's two magic rules, so the architecture/design and
//! documentation/readme mappings move tasks between levels as they do in
//! real life; a share ε of choices goes to an adjacent tier (the only source
//! of evidence on other models). Worlds are perturbed by the seed (rates
//! ±0.03, shares ±25%, ε 0.06–0.15, 25–60 tasks a day, phrasing), so tests
//! do not tune to one example.
//!
//! [`RouterWorld::success`] is the truth a change is judged by: the expected
//! first-attempt success of the whole traffic under the orchestrator's
//! router with given level models; [`RouterWorld::best_levels`] the best any
//! one-model-per-level routing can reach.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::models::LEVELS;
use super::simulate::{Rng, COST, IDS};
use crate::error::{Error, Result};

/// One kind of task in a world.
#[derive(Debug, Clone)]
pub struct Kind {
    /// Its complexity level (0 simple, 1 medium, 2 complex).
    pub level: usize,
    /// Share of the traffic.
    pub share: f64,
    /// Texts are one of these openings + one of these subjects (+ a detail).
    pub verbs: &'static [&'static str],
    /// See `verbs`.
    pub subjects: &'static [&'static str],
    /// True first-attempt success per family (haiku, sonnet, opus).
    pub p: [f64; 3],
}

/// A world of kinds, routed by the orchestrator.
#[derive(Debug, Clone)]
pub struct RouterWorld {
    /// Name.
    pub name: &'static str,
    /// Level models (family per level) at the start.
    pub levels: [usize; 3],
    /// The kinds.
    pub kinds: Vec<Kind>,
    /// What a good learner should do here.
    pub expect: Expect,
    /// Tasks per day.
    pub per_day: f64,
    /// Days.
    pub days: f64,
    /// Exploration rate.
    pub epsilon: f64,
}

/// What the world tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A level change helps: gain ≥ 8 points and ≥ 50% of the best.
    Gain,
    /// Only one kind of complex task is over-provisioned: no level-wide downgrade.
    NoLevelDowngrade(usize),
    /// Already right: nothing gets worse.
    Nothing,
    /// The whole level does as well on a cheaper model: a downgrade that
    /// costs at most 5 points is fine (not required).
    Cheaper(usize),
}

const DETAILS: [&str; 6] = [
    "",
    " in the billing service",
    " for the mobile app",
    " (ticket 4411)",
    " before Friday",
    " across modules",
];

fn k(
    level: usize,
    share: f64,
    verbs: &'static [&'static str],
    subjects: &'static [&'static str],
    p: [f64; 3],
) -> Kind {
    Kind {
        level,
        share,
        verbs,
        subjects,
        p,
    }
}

// Phrasings. The docs and design kinds carry the orchestrator's magic
// substrings in every phrasing (docs / README / documentation; design /
// architecture), in varied case and inflection.
const FIX_V: &[&str] = &["Fix", "fix", "Patch", "Correct", "Repair"];
const FIX_S: &[&str] = &[
    "the typo in the login form",
    "a null check in the parser",
    "the off-by-one in pagination",
    "the broken import",
    "the flaky timeout",
];
const TEST_V: &[&str] = &[
    "Add tests for",
    "Write unit tests for",
    "Cover with tests",
    "Test",
];
const TEST_S: &[&str] = &[
    "the date helpers",
    "the tokenizer",
    "the retry policy",
    "the CSV exporter",
];
const DOCS_V: &[&str] = &[
    "Update the README for",
    "Write documentation for",
    "Refresh the docs of",
    "Document in docs/",
];
const DOCS_S: &[&str] = &[
    "the CLI flags",
    "the setup steps",
    "the public API",
    "the config file",
];
const FEAT_V: &[&str] = &["Add", "Implement", "Build", "Wire up"];
const FEAT_S: &[&str] = &[
    "an endpoint for invoices",
    "pagination to the list view",
    "CSV import",
    "a settings page",
];
const REFAC_V: &[&str] = &["Refactor", "Clean up", "Restructure"];
const REFAC_S: &[&str] = &[
    "the database access layer",
    "the job scheduler",
    "the event bus",
];
const ARCH_V: &[&str] = &[
    "Design",
    "Redesign",
    "Plan the architecture of",
    "Architect",
];
const ARCH_S: &[&str] = &[
    "the sync engine",
    "multi-tenant storage",
    "the plugin system",
];
const SEC_V: &[&str] = &["Security audit of", "Harden", "Review the security of"];
const SEC_S: &[&str] = &["the auth flow", "the token store", "session handling"];
const PERF_V: &[&str] = &["Improve performance of", "Speed up", "Profile and optimise"];
const PERF_S: &[&str] = &["the query planner", "the image pipeline", "the cache layer"];

impl RouterWorld {
    fn base(name: &'static str, expect: Expect, kinds: Vec<Kind>) -> RouterWorld {
        RouterWorld {
            name,
            levels: [0, 1, 2],
            kinds,
            expect,
            per_day: 40.0,
            days: 90.0,
            epsilon: 0.10,
        }
    }

    /// The worlds of the acceptance sweep, perturbed by `seed`.
    pub fn scenarios(seed: u64) -> Vec<RouterWorld> {
        let good_medium = |s| k(1, s, FEAT_V, FEAT_S, [0.55, 0.9, 0.92]);
        let good_complex = |s| k(2, s, REFAC_V, REFAC_S, [0.3, 0.62, 0.9]);
        let docs_mid = k(1, 0.06, DOCS_V, DOCS_S, [0.9, 0.93, 0.94]);
        let design_mid = k(1, 0.05, ARCH_V, ARCH_S, [0.3, 0.6, 0.9]);
        let worlds = vec![
            // Simple tasks fail on Haiku; docs tasks of every level ride along.
            RouterWorld::base(
                "simple_underperforms",
                Expect::Gain,
                vec![
                    k(0, 0.22, FIX_V, FIX_S, [0.5, 0.9, 0.92]),
                    k(0, 0.16, TEST_V, TEST_S, [0.55, 0.88, 0.9]),
                    k(0, 0.06, DOCS_V, DOCS_S, [0.88, 0.93, 0.94]),
                    docs_mid.clone(),
                    good_medium(0.24),
                    good_complex(0.16),
                    design_mid.clone(),
                    k(2, 0.05, DOCS_V, DOCS_S, [0.85, 0.92, 0.94]),
                ],
            ),
            // Medium feature work fails on Sonnet.
            RouterWorld::base(
                "medium_underperforms",
                Expect::Gain,
                vec![
                    k(0, 0.25, FIX_V, FIX_S, [0.9, 0.92, 0.93]),
                    k(1, 0.3, FEAT_V, FEAT_S, [0.35, 0.55, 0.9]),
                    k(1, 0.12, REFAC_V, REFAC_S, [0.3, 0.6, 0.9]),
                    docs_mid.clone(),
                    good_complex(0.2),
                    design_mid.clone(),
                ],
            ),
            // Complex work was moved to Sonnet and fails there.
            RouterWorld {
                levels: [0, 1, 1],
                ..RouterWorld::base(
                    "complex_on_sonnet",
                    Expect::Gain,
                    vec![
                        k(0, 0.3, FIX_V, FIX_S, [0.9, 0.92, 0.93]),
                        good_medium(0.3),
                        k(2, 0.12, ARCH_V, ARCH_S, [0.2, 0.55, 0.92]),
                        k(2, 0.12, SEC_V, SEC_S, [0.25, 0.6, 0.9]),
                        k(2, 0.1, REFAC_V, REFAC_S, [0.3, 0.62, 0.9]),
                        docs_mid.clone(),
                    ],
                )
            },
            // Only complex tests are over-provisioned; architecture, security and
            // performance need Opus, and design tasks of other levels land here.
            RouterWorld::base(
                "complex_tests_only",
                Expect::NoLevelDowngrade(2),
                vec![
                    k(0, 0.25, FIX_V, FIX_S, [0.9, 0.92, 0.93]),
                    good_medium(0.25),
                    k(2, 0.18, TEST_V, TEST_S, [0.6, 0.92, 0.93]),
                    k(2, 0.09, ARCH_V, ARCH_S, [0.2, 0.6, 0.92]),
                    k(2, 0.08, SEC_V, SEC_S, [0.25, 0.62, 0.9]),
                    k(2, 0.08, PERF_V, PERF_S, [0.25, 0.6, 0.9]),
                    design_mid.clone(),
                    docs_mid.clone(),
                ],
            ),
            // Most complex work is tests, fine on Sonnet; the few architecture
            // and security tasks would lose 30 points. The mixture barely
            // moves, so only the per-kind veto stops a level-wide downgrade.
            RouterWorld::base(
                "complex_mostly_tests",
                Expect::NoLevelDowngrade(2),
                vec![
                    k(0, 0.3, FIX_V, FIX_S, [0.9, 0.92, 0.93]),
                    good_medium(0.3),
                    k(2, 0.32, TEST_V, TEST_S, [0.6, 0.93, 0.93]),
                    k(2, 0.035, SEC_V, SEC_S, [0.2, 0.58, 0.92]),
                    k(2, 0.03, PERF_V, PERF_S, [0.2, 0.6, 0.9]),
                    k(1, 0.025, ARCH_V, ARCH_S, [0.2, 0.6, 0.92]),
                ],
            ),
            // All complex work does as well on Sonnet.
            RouterWorld::base(
                "complex_all_fine_on_sonnet",
                Expect::Cheaper(2),
                vec![
                    k(0, 0.3, FIX_V, FIX_S, [0.9, 0.92, 0.93]),
                    good_medium(0.3),
                    k(2, 0.2, TEST_V, TEST_S, [0.6, 0.93, 0.93]),
                    k(2, 0.1, REFAC_V, REFAC_S, [0.5, 0.92, 0.93]),
                    k(2, 0.1, PERF_V, PERF_S, [0.5, 0.91, 0.92]),
                ],
            ),
            // Everything already on the right model.
            RouterWorld::base(
                "already_right",
                Expect::Nothing,
                vec![
                    k(0, 0.3, FIX_V, FIX_S, [0.9, 0.92, 0.93]),
                    good_medium(0.3),
                    good_complex(0.22),
                    docs_mid,
                    design_mid,
                ],
            ),
        ];
        let mut rng = Rng::new(seed ^ 0x0005_eed0_fa11);
        worlds
            .into_iter()
            .map(|mut w| {
                for kd in &mut w.kinds {
                    kd.share *= 0.75 + 0.5 * rng.next_f64();
                    for p in &mut kd.p {
                        *p = (*p + (rng.next_f64() - 0.5) * 0.06).clamp(0.02, 0.98);
                    }
                }
                w.epsilon = 0.06 + 0.09 * rng.next_f64();
                w.per_day = 25.0 + 35.0 * rng.next_f64();
                let total: f64 = w.kinds.iter().map(|k| k.share).sum();
                for kd in &mut w.kinds {
                    kd.share /= total;
                }
                w
            })
            .collect()
    }

    /// models.json with the given level families and the orchestrator's rules.
    pub fn models(levels: [usize; 3]) -> Value {
        json!({
            "task_complexity": {
                "simple": {"model": IDS[levels[0]], "examples": ["update docs"]},
                "medium": {"model": IDS[levels[1]], "examples": ["implement feature"]},
                "complex": {"model": IDS[levels[2]], "examples": ["architecture design"]}
            },
            "rules": [
                {"if": "task contains 'architecture' or 'design'", "use": "opus"},
                {"if": "task contains 'documentation' or 'readme'", "use": "haiku"},
                {"if": "estimated_files > 5", "use": "opus"}
            ]
        })
    }

    fn text(kind: &Kind, rng: &mut Rng) -> String {
        let pick = |xs: &[&'static str], rng: &mut Rng| {
            xs[(rng.next_f64() * xs.len() as f64) as usize % xs.len()]
        };
        format!(
            "{} {}{}",
            pick(kind.verbs, rng),
            pick(kind.subjects, rng),
            pick(&DETAILS, rng)
        )
    }

    /// Family the orchestrator's router gives `text` at `level` under `levels`.
    fn routed(levels: [usize; 3], level: usize, text: &str) -> usize {
        let m = Self::models(levels);
        let id = crate::router::orchestrator_route(Some(&m), LEVELS[level], text)
            .model()
            .unwrap_or(IDS[1])
            .to_string();
        IDS.iter().position(|x| *x == id).unwrap_or(1)
    }

    /// True expected first-attempt success of the whole traffic under the
    /// orchestrator's router with `levels` (every phrasing of a kind equally likely).
    pub fn success(&self, levels: [usize; 3]) -> f64 {
        let mut total = 0.0;
        for kd in &self.kinds {
            let mut s = 0.0;
            let mut n = 0.0;
            for v in kd.verbs {
                for subj in kd.subjects {
                    let f = Self::routed(levels, kd.level, &format!("{v} {subj}"));
                    s += kd.p[f];
                    n += 1.0;
                }
            }
            total += kd.share * s / n;
        }
        total
    }

    /// Expected cost per success of the whole traffic (same-model retries).
    pub fn cost_per_success(&self, levels: [usize; 3]) -> f64 {
        let mut cost = 0.0;
        let mut succ = 0.0;
        for kd in &self.kinds {
            let mut n = 0.0;
            let (mut c, mut s) = (0.0, 0.0);
            for v in kd.verbs {
                for subj in kd.subjects {
                    let f = Self::routed(levels, kd.level, &format!("{v} {subj}"));
                    c += COST[f];
                    s += kd.p[f];
                    n += 1.0;
                }
            }
            cost += kd.share * c / n;
            succ += kd.share * s / n;
        }
        cost / succ.max(1e-9)
    }

    /// The best success any one-model-per-level routing reaches, and its levels.
    pub fn best_levels(&self) -> (f64, [usize; 3]) {
        let mut best = (f64::NEG_INFINITY, self.levels);
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    let s = self.success([a, b, c]);
                    if s > best.0 + 1e-12 {
                        best = (s, [a, b, c]);
                    }
                }
            }
        }
        best
    }

    /// Writes the world's ledger (ending at `now`) to `path`: first attempts
    /// routed by the orchestrator's router with ε-exploration of adjacent
    /// tiers, failures sometimes retried one tier up.
    pub fn write_ledger(&self, seed: u64, now: DateTime<Utc>, path: &Path) -> Result<u64> {
        let file = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
        let mut out = std::io::BufWriter::new(file);
        let io = |e| Error::io("cannot write", path, e);
        let mut rng = Rng::new(seed);
        let total = (self.per_day * self.days).round() as u64;
        let start = now - Duration::milliseconds((self.days * 86_400_000.0) as i64);
        let step = self.days * 86_400_000.0 / total.max(1) as f64;
        let mut n = 0u64;
        out.write_all(b"[").map_err(io)?;
        for i in 0..total {
            let at = start + Duration::milliseconds((i as f64 * step) as i64);
            let mut u = rng.next_f64();
            let kd = self
                .kinds
                .iter()
                .find(|k| {
                    u -= k.share;
                    u < 0.0
                })
                .unwrap_or(&self.kinds[0]);
            let text = Self::text(kd, &mut rng);
            let rule = Self::routed(self.levels, kd.level, &text);
            let mut fam = rule;
            if rng.next_f64() < self.epsilon {
                fam = match (rule.checked_sub(1), (rule < 2).then_some(rule + 1)) {
                    (Some(d), Some(up)) => {
                        if rng.next_f64() < 0.5 {
                            d
                        } else {
                            up
                        }
                    }
                    (Some(d), None) => d,
                    (None, Some(up)) => up,
                    _ => rule,
                };
            }
            let mut prev: Option<String> = None;
            let mut t = at;
            for attempt in 0..2 {
                let ok = rng.next_f64() < kd.p[fam];
                let id = format!(
                    "dispatch-{}-{:06x}{attempt}",
                    t.timestamp_millis(),
                    (seed as u32 ^ i as u32) & 0xff_ffff
                );
                let mut rec = json!({
                    "id": id,
                    "task": text,
                    "original_task": text,
                    "complexity": LEVELS[kd.level],
                    "model": IDS[fam],
                    "task_keywords": crate::signals::keywords(&text),
                    "status": if ok { "complete" } else { "failed" },
                    "created_at": crate::clock::iso(t),
                    "completed_at": crate::clock::iso(t + Duration::minutes(5)),
                    "outcome": if ok { "success" } else { "failure" },
                    "outcome_source": "hook",
                    "tokens_used": (20_000.0 * (fam as f64 + 1.0) * (0.5 + rng.next_f64())).round(),
                    "cost_usd": (COST[fam] * (0.5 + rng.next_f64()) * 1e6).round() / 1e6,
                });
                if let Some(p) = &prev {
                    rec["previous_dispatch_id"] = json!(p);
                    rec["retry_count"] = json!(attempt);
                }
                out.write_all(if n == 0 { b"\n  " } else { b",\n  " })
                    .map_err(io)?;
                out.write_all(crate::record::to_js_pretty(&rec, 1).as_bytes())
                    .map_err(io)?;
                n += 1;
                if ok || rng.next_f64() < 0.5 {
                    break;
                }
                prev = Some(id);
                fam = (fam + 1).min(2);
                t += Duration::minutes(20);
            }
        }
        out.write_all(if n == 0 { b"]" } else { b"\n]" })
            .map_err(io)?;
        out.flush().map_err(io)?;
        Ok(n)
    }
}
