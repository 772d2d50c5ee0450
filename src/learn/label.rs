//! The label model: how far each implicit source of evidence can be trusted,
//! and each task's soft label P(success | its evidence).
//!
//! A deployment records weak labels: the hook's verdict, the orchestrator's
//! verification status, retries, transcript evidence; a person's or CI's
//! verdict on a few tasks. For every implicit source this module estimates,
//! on the tasks that also carry a person's verdict (people are the ground
//! truth; CI is an implicit source trusted a priori and checked like the
//! others, because it passes what its tests do not cover), its
//! sensitivity `P(source says success | success)` and specificity
//! `P(source says failure | failure)` (Dawid & Skene 1979), per complexity ×
//! model cell, shrunk toward the source's overall rates with a Beta prior
//! whose mass comes from the spread between cells (method of moments).
//! A task's posterior combines its sources as independent likelihood ratios
//! on the cell's base rate (naive Bayes).
//!
//! A cell's rate then comes from prediction-powered inference (Angelopoulos
//! et al., Science 2023): the mean of its tasks' posteriors, corrected by the
//! mean disagreement `y − q` measured on the tasks people or CI judged
//! (the cell's *shift*), whose uncertainty enters the cell's variance. The
//! shift is shrunk toward its parent's (level cells toward the whole
//! ledger's, keyword cells toward their level's), with a between-cell spread
//! of at least [`TAU_FLOOR`]: implicit evidence nobody has checked in a
//! cell is never trusted to better than a few points.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::stats;

/// The implicit sources, in bit order of [`Evidence`].
pub const IMPLICIT: [&str; 7] = [
    "hook",
    "tests",
    "assistant",
    "followup",
    "verification",
    "derived",
    "ci",
];

/// Number of implicit sources.
pub const N_SOURCES: usize = IMPLICIT.len();

/// Index of CI in [`IMPLICIT`]: trusted a priori, but checked against people
/// like every other source (CI passes what its tests do not cover).
pub const CI: usize = 6;

/// Index of the retry link (`derived`) in [`IMPLICIT`].
pub const DERIVED: usize = 5;
/// Index of the orchestrator's verification in [`IMPLICIT`].
pub const VERIFICATION: usize = 4;

/// Prior sensitivity and specificity per implicit source (mass [`PRIOR_MASS`]),
/// used until people's and CI's verdicts say otherwise. A clean stop says
/// little (most failures also stop cleanly); a retry almost always means the
/// attempt failed, but many failures are not retried.
pub const PRIOR_RATES: [(f64, f64); N_SOURCES] = [
    (0.95, 0.50),
    (0.90, 0.85),
    (0.90, 0.60),
    (0.85, 0.80),
    (0.95, 0.70),
    (0.97, 0.40),
    (0.97, 0.90),
];

/// Pseudo-count mass of [`PRIOR_RATES`].
pub const PRIOR_MASS: f64 = 10.0;

/// Least between-cell spread (standard deviation) of the shift: a cell's
/// implicit evidence is never assumed to be closer than this to what people
/// would say, unless the cell's own verdicts show it.
pub const TAU_FLOOR: f64 = 0.02;

/// The slab of the shift's prior: with probability [`SLAB_WEIGHT`] a cell's
/// implicit evidence deviates from its parent's by a spread of [`SLAB_SD`]
/// (failures no implicit source sees). Its weight grows with the cell's own
/// judged tasks when they disagree, so one contradicting cell is not shrunk
/// away by the many that agree.
pub const SLAB_SD: f64 = 0.15;
/// Prior probability of the slab.
pub const SLAB_WEIGHT: f64 = 0.2;

/// Cell key: (level, model family).
pub type Key = (&'static str, &'static str);

/// The evidence a task carries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// Bit i set: implicit source i gave a verdict.
    pub present: u8,
    /// Bit i set: implicit source i said success.
    pub success: u8,
    /// A person's or CI's verdict (`true` = success; `partial` counts as not).
    pub explicit: Option<bool>,
    /// The capture's own probability, if recorded.
    pub p_success: Option<f64>,
}

impl Evidence {
    /// Records implicit source `i`'s verdict (the first one given wins).
    pub fn set(&mut self, i: usize, success: bool) {
        let bit = 1u8 << i;
        if self.present & bit != 0 {
            return;
        }
        self.present |= bit;
        if success {
            self.success |= bit;
        }
    }

    /// Source `i`'s verdict, if any.
    pub fn get(&self, i: usize) -> Option<bool> {
        let bit = 1u8 << i;
        (self.present & bit != 0).then_some(self.success & bit != 0)
    }

    /// Any implicit verdict at all.
    pub fn has_implicit(&self) -> bool {
        self.present != 0
    }
}

/// Agreement counts of one source with explicit verdicts: `n[v][y]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Source success, explicit success.
    pub ss: f64,
    /// Source success, explicit failure.
    pub sf: f64,
    /// Source failure, explicit success.
    pub fs: f64,
    /// Source failure, explicit failure.
    pub ff: f64,
}

impl Agreement {
    fn add(&mut self, v: bool, y: bool) {
        match (v, y) {
            (true, true) => self.ss += 1.0,
            (true, false) => self.sf += 1.0,
            (false, true) => self.fs += 1.0,
            (false, false) => self.ff += 1.0,
        }
    }

    /// Tasks with both a verdict of this source and an explicit one.
    pub fn n(&self) -> f64 {
        self.ss + self.sf + self.fs + self.ff
    }

    /// Share of those where they agree.
    pub fn agreement(&self) -> Option<f64> {
        (self.n() > 0.0).then(|| (self.ss + self.ff) / self.n())
    }

    /// Share of the source's successes that people / CI confirm.
    pub fn confirmed(&self) -> Option<f64> {
        (self.ss + self.sf > 0.0).then(|| self.ss / (self.ss + self.sf))
    }
}

/// Training data: every task with an explicit verdict, by cell, and the
/// evidence patterns of the tasks without one (the unlabelled data of EM).
#[derive(Debug, Clone, Default)]
pub struct LabelData {
    global: [Agreement; N_SOURCES],
    cells: HashMap<Key, CellData>,
    /// Unjudged tasks per cell and evidence pattern `(present, success)`,
    /// ordered so that EM sums in the same order on every run.
    unjudged: BTreeMap<Key, BTreeMap<(u8, u8), f64>>,
}

#[derive(Debug, Clone, Default)]
struct CellData {
    agree: [Agreement; N_SOURCES],
    y: f64,
    n: f64,
}

impl LabelData {
    /// Adds a task of cell `key` that carries an explicit verdict.
    pub fn add(&mut self, key: Key, ev: &Evidence) {
        let Some(y) = ev.explicit else {
            return;
        };
        let cell = self.cells.entry(key).or_default();
        cell.n += 1.0;
        cell.y += y as u8 as f64;
        for i in 0..IMPLICIT.len() {
            if let Some(v) = ev.get(i) {
                self.global[i].add(v, y);
                cell.agree[i].add(v, y);
            }
        }
    }

    /// Adds a task of cell `key` that carries no explicit verdict: its
    /// pattern of implicit verdicts is the label model's unlabelled data.
    pub fn add_unjudged(&mut self, key: Key, ev: &Evidence) {
        if ev.explicit.is_some() {
            return;
        }
        *self
            .unjudged
            .entry(key)
            .or_default()
            .entry((ev.present, ev.success))
            .or_default() += 1.0;
    }

    /// Agreement of each implicit source over all cells.
    pub fn global(&self) -> &[Agreement; N_SOURCES] {
        &self.global
    }

    /// Agreement of each implicit source per cell, with the cell's judged
    /// tasks and successes among them.
    pub fn cells(&self) -> impl Iterator<Item = (&Key, &[Agreement; N_SOURCES], f64, f64)> {
        self.cells.iter().map(|(k, c)| (k, &c.agree, c.n, c.y))
    }

    /// Merges another part's data (for parallel passes).
    pub fn merge(&mut self, other: LabelData) {
        for i in 0..IMPLICIT.len() {
            add_agreement(&mut self.global[i], &other.global[i]);
        }
        for (k, c) in other.cells {
            let e = self.cells.entry(k).or_default();
            e.n += c.n;
            e.y += c.y;
            for i in 0..IMPLICIT.len() {
                add_agreement(&mut e.agree[i], &c.agree[i]);
            }
        }
        for (k, pats) in other.unjudged {
            let e = self.unjudged.entry(k).or_default();
            for (p, n) in pats {
                *e.entry(p).or_default() += n;
            }
        }
    }
}

fn add_agreement(a: &mut Agreement, b: &Agreement) {
    a.ss += b.ss;
    a.sf += b.sf;
    a.fs += b.fs;
    a.ff += b.ff;
}

/// Sensitivity and specificity of a source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// P(says success | success).
    pub sens: f64,
    /// P(says failure | failure).
    pub spec: f64,
}

impl Rates {
    /// The likelihood ratio of verdict `v` (success or failure), bounded so
    /// that no single source is ever certain.
    pub fn likelihood_ratio(&self, v: bool) -> f64 {
        let sens = self.sens.clamp(0.01, 0.99);
        let spec = self.spec.clamp(0.01, 0.99);
        if v {
            sens / (1.0 - spec)
        } else {
            (1.0 - sens) / spec
        }
    }
}

/// The fitted label model.
#[derive(Debug, Clone)]
pub struct LabelModel {
    global: [Rates; N_SOURCES],
    global_prior: f64,
    cells: HashMap<Key, ([Rates; N_SOURCES], f64)>,
    /// The counts it was fitted on (for the trust table).
    pub data: LabelData,
    /// Share of people's verdicts taken to be wrong, from their
    /// disagreement with CI on tasks that carry both (see [`rater_flip`]).
    pub rater_flip: f64,
}

/// The share of people's verdicts that are wrong, as far as their
/// disagreement with CI shows it: the lower 10 % quantile of its Jeffreys
/// posterior (CI errs too, and an overestimate would push every corrected
/// rate away from ½: toward a downgrade), 0 with fewer than 10 tasks
/// carrying both, at most 0.3.
pub fn rater_flip(ci: &Agreement) -> f64 {
    let n = ci.n();
    if n < 10.0 {
        return 0.0;
    }
    let b = stats::Beta::jeffreys(ci.sf + ci.fs, n);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if b.cdf(mid) < 0.10 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo.min(0.3)
}

impl LabelModel {
    /// Fits the model. The global rates of each source and each cell's
    /// base rate come from semi-supervised EM (Dawid & Skene): the judged
    /// tasks count with their verdict, the unjudged ones with their
    /// posterior under the current rates, so sources that agree with each
    /// other on thousands of unjudged tasks are trusted for it, not only
    /// on the few that people judged. Per-cell rates are then shrunk
    /// toward the global ones with the cells' own judged tasks.
    pub fn fit(data: LabelData) -> LabelModel {
        let (global, global_prior, em_prior) = em(&data);
        // Prior mass of each source's per-cell rates from the cells' spread.
        let mut mass = [(200.0, 200.0); N_SOURCES];
        for (i, m) in mass.iter_mut().enumerate() {
            let sens_cells: Vec<(f64, f64)> = data
                .cells
                .values()
                .map(|c| &c.agree[i])
                .filter(|a| a.ss + a.fs > 0.0)
                .map(|a| (a.ss / (a.ss + a.fs), a.ss + a.fs))
                .collect();
            let spec_cells: Vec<(f64, f64)> = data
                .cells
                .values()
                .map(|c| &c.agree[i])
                .filter(|a| a.ff + a.sf > 0.0)
                .map(|a| (a.ff / (a.ff + a.sf), a.ff + a.sf))
                .collect();
            *m = (
                stats::eb_mass(global[i].sens, &sens_cells).min(50.0),
                stats::eb_mass(global[i].spec, &spec_cells).min(50.0),
            );
        }
        let mut cells: HashMap<Key, ([Rates; N_SOURCES], f64)> =
            em_prior.iter().map(|(k, p)| (*k, (global, *p))).collect();
        for (k, c) in &data.cells {
            let mut r = global;
            for i in 0..IMPLICIT.len() {
                let a = &c.agree[i];
                let (ms, mf) = mass[i];
                r[i].sens = (ms * global[i].sens + a.ss) / (ms + a.ss + a.fs);
                r[i].spec = (mf * global[i].spec + a.ff) / (mf + a.ff + a.sf);
            }
            let prior = em_prior
                .get(k)
                .copied()
                .unwrap_or_else(|| (c.y + 4.0 * global_prior) / (c.n + 4.0));
            cells.insert(*k, (r, prior));
        }
        let rater_flip = rater_flip(&data.global[CI]);
        LabelModel {
            global,
            global_prior,
            cells,
            data,
            rater_flip,
        }
    }

    /// Rates of source `i` in cell `key` (the global ones where the cell has no verdicts).
    pub fn rates(&self, key: Key, i: usize) -> Rates {
        self.cells.get(&key).map_or(self.global[i], |c| c.0[i])
    }

    /// Rates of source `i` over the whole ledger.
    pub fn global_rates(&self, i: usize) -> Rates {
        self.global[i]
    }

    /// P(success | implicit evidence) of a task in `key`, ignoring any
    /// explicit verdict; `None` when the task carries no evidence at all.
    /// Without implicit verdicts the capture's `p_success` is used as is.
    pub fn implicit_posterior(&self, key: Key, ev: &Evidence) -> Option<f64> {
        if !ev.has_implicit() {
            return ev.p_success.map(|p| p.clamp(0.0, 1.0));
        }
        let (rates, prior) = match self.cells.get(&key) {
            Some((r, p)) => (r, *p),
            None => (&self.global, self.global_prior),
        };
        let mut odds = prior.clamp(0.02, 0.98);
        odds /= 1.0 - odds;
        for (i, r) in rates.iter().enumerate() {
            if let Some(v) = ev.get(i) {
                odds *= r.likelihood_ratio(v);
            }
        }
        Some(odds / (1.0 + odds))
    }

    /// The cell's base rate used as the prior (and as `q` for a judged task
    /// without implicit evidence).
    pub fn prior(&self, key: Key) -> f64 {
        self.cells.get(&key).map_or(self.global_prior, |c| c.1)
    }
}

/// Semi-supervised EM over the label data: the global rates of every
/// source, the ledger's base rate and each cell's. Judged tasks enter with
/// their verdict (exact counts), unjudged ones with their posterior under
/// the current estimate; the priors [`PRIOR_RATES`] keep a mass of
/// [`PRIOR_MASS`]. Without unjudged tasks this is the Beta–binomial
/// posterior of the judged agreement counts. The starting point is the
/// priors, which say every source is better than chance: EM stays in that
/// mode and never swaps success for failure.
fn em(data: &LabelData) -> ([Rates; N_SOURCES], f64, HashMap<Key, f64>) {
    const ITERS: usize = 200;
    let supervised = |i: usize, extra: (f64, f64, f64, f64)| {
        let a = &data.global[i];
        let (ps, pf) = PRIOR_RATES[i];
        Rates {
            sens: (PRIOR_MASS * ps + a.ss + extra.0) / (PRIOR_MASS + a.ss + a.fs + extra.1),
            spec: (PRIOR_MASS * pf + a.ff + extra.2) / (PRIOR_MASS + a.ff + a.sf + extra.3),
        }
    };
    let mut rates: [Rates; N_SOURCES] =
        std::array::from_fn(|i| supervised(i, (0.0, 0.0, 0.0, 0.0)));
    let judged = |k: &Key| data.cells.get(k).map_or((0.0, 0.0), |c| (c.y, c.n));
    let (ys, ns) = data
        .cells
        .values()
        .fold((0.0, 0.0), |(y, n), c| (y + c.y, n + c.n));
    let mut global_prior = (ys + 4.0 * 0.8) / (ns + 4.0);
    let mut prior: HashMap<Key, f64> = data
        .unjudged
        .keys()
        .chain(data.cells.keys())
        .map(|k| {
            let (y, n) = judged(k);
            (*k, (y + 4.0 * global_prior) / (n + 4.0))
        })
        .collect();
    if data.unjudged.is_empty() {
        return (rates, global_prior, prior);
    }
    for _ in 0..ITERS {
        // Expected counts per source: (Σr·says S, Σr, Σ(1−r)·says F, Σ(1−r)).
        let mut counts = [(0.0, 0.0, 0.0, 0.0); N_SOURCES];
        let mut cell_r: HashMap<Key, (f64, f64)> = HashMap::new();
        for (k, pats) in &data.unjudged {
            let pi = prior[k].clamp(0.02, 0.98);
            let e = cell_r.entry(*k).or_default();
            for (&(present, success), &n) in pats {
                let mut odds = pi / (1.0 - pi);
                for (i, r) in rates.iter().enumerate() {
                    if present & (1 << i) != 0 {
                        odds *= r.likelihood_ratio(success & (1 << i) != 0);
                    }
                }
                let r = odds / (1.0 + odds);
                e.0 += n * r;
                e.1 += n;
                for (i, c) in counts.iter_mut().enumerate() {
                    if present & (1 << i) != 0 {
                        let s = success & (1 << i) != 0;
                        c.0 += n * r * s as u8 as f64;
                        c.1 += n * r;
                        c.2 += n * (1.0 - r) * (!s) as u8 as f64;
                        c.3 += n * (1.0 - r);
                    }
                }
            }
        }
        let next: [Rates; N_SOURCES] = std::array::from_fn(|i| supervised(i, counts[i]));
        let (rs, n) = cell_r
            .values()
            .fold((ys, ns), |(a, b), c| (a + c.0, b + c.1));
        let next_global = (rs + 4.0 * 0.8) / (n + 4.0);
        let mut moved = (next_global - global_prior).abs();
        for (a, b) in next.iter().zip(&rates) {
            moved = moved
                .max((a.sens - b.sens).abs())
                .max((a.spec - b.spec).abs());
        }
        for (k, p) in prior.iter_mut() {
            let (y, nj) = judged(k);
            let (r, nu) = cell_r.get(k).copied().unwrap_or_default();
            let next = (r + y + 4.0 * next_global) / (nu + nj + 4.0);
            moved = moved.max((next - *p).abs());
            *p = next;
        }
        rates = next;
        global_prior = next_global;
        if moved < 1e-7 {
            break;
        }
    }
    (rates, global_prior, prior)
}

/// Soft-label sums of one cell (weights are the decay weights).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SoftSums {
    /// Tasks counted (unweighted).
    pub n: f64,
    /// Σ posterior (explicit verdict where there is one), unweighted.
    pub posterior_sum: f64,
    /// Σw, Σw² over all tasks.
    pub w: f64,
    /// Σw².
    pub w2: f64,
    /// Σ w q, Σ w q² (q: the implicit posterior).
    pub wq: f64,
    /// Σ w q².
    pub wq2: f64,
    /// Judged tasks (explicit verdict), unweighted.
    pub nl: f64,
    /// Σw, Σw² over judged tasks.
    pub wl: f64,
    /// Σw² over judged tasks.
    pub wl2: f64,
    /// Σ w y over judged tasks.
    pub wy: f64,
    /// Σ w q over judged tasks.
    pub wql: f64,
    /// Σ w (y − q), Σ w (y − q)² over judged tasks.
    pub wr: f64,
    /// Σ w (y − q)².
    pub wr2: f64,
    /// Σ y over judged tasks (unweighted).
    pub y: f64,
}

impl SoftSums {
    /// Adds a task with implicit posterior `q` and optional explicit verdict `y`.
    pub fn add(&mut self, w: f64, q: f64, y: Option<bool>) {
        self.add_rated(w, q, y, 0.0);
    }

    /// [`SoftSums::add`] where a share `flip` of people's verdicts is wrong:
    /// the verdict enters the shift as `(y − flip) / (1 − 2 flip)`, whose
    /// mean is the true success rate under symmetric errors (Rogan–Gladen),
    /// so noisy raters widen a cell's interval instead of dragging its rate
    /// toward ½.
    pub fn add_rated(&mut self, w: f64, q: f64, y: Option<bool>, flip: f64) {
        self.n += 1.0;
        self.w += w;
        self.w2 += w * w;
        self.wq += w * q;
        self.wq2 += w * q * q;
        match y {
            Some(y) => {
                let y = y as u8 as f64;
                self.posterior_sum += y;
                self.nl += 1.0;
                self.y += y;
                let flip = flip.clamp(0.0, 0.3);
                let y = (y - flip) / (1.0 - 2.0 * flip);
                self.wl += w;
                self.wl2 += w * w;
                self.wy += w * y;
                self.wql += w * q;
                self.wr += w * (y - q);
                self.wr2 += w * (y - q) * (y - q);
            }
            None => self.posterior_sum += q,
        }
    }

    /// The cell's own shift `mean(y − q)` over judged tasks and its
    /// sampling variance (with `sigma2` as a prior of mass 2 on the
    /// variance of `y − q`), if any task was judged.
    pub fn raw_shift(&self, sigma2: f64) -> Option<(f64, f64)> {
        if self.wl <= 0.0 {
            return None;
        }
        let r = self.wr / self.wl;
        let n_l = stats::kish(self.wl, self.wl2);
        let var_unit = ((self.wr2 / self.wl - r * r) * n_l + 2.0 * sigma2) / (n_l + 2.0);
        Some((r, var_unit / n_l.max(1e-9)))
    }
}

/// A shift estimate: mean and variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// Estimated mean of `y − q`.
    pub mean: f64,
    /// Its variance.
    pub var: f64,
}

/// Shrinks a cell's raw shift toward its parent's under a spike-and-slab
/// prior: between-cell variance `tau2` (spike) or [`SLAB_SD`]² (slab, with
/// prior weight [`SLAB_WEIGHT`]). A cell without judged tasks keeps the
/// spike: nothing says its evidence deviates.
pub fn shrink_shift(raw: Option<(f64, f64)>, parent: Shift, tau2: f64) -> Shift {
    let spike = tau2 + parent.var;
    let Some((r, v)) = raw else {
        return Shift {
            mean: parent.mean,
            var: spike,
        };
    };
    let v = v.max(1e-9);
    let slab = SLAB_SD * SLAB_SD + parent.var;
    // Normal–normal posterior and marginal likelihood of each component.
    let part = |prior_var: f64| {
        let prec = 1.0 / v + 1.0 / prior_var;
        let mean = (r / v + parent.mean / prior_var) / prec;
        let marg_var = v + prior_var;
        let lik = (-(r - parent.mean).powi(2) / (2.0 * marg_var)).exp() / marg_var.sqrt();
        (mean, 1.0 / prec, lik)
    };
    let (m1, v1, l1) = part(spike);
    let (m2, v2, l2) = part(slab);
    let (w1, w2) = ((1.0 - SLAB_WEIGHT) * l1, SLAB_WEIGHT * l2);
    let p2 = w2 / (w1 + w2).max(1e-300);
    let mean = (1.0 - p2) * m1 + p2 * m2;
    let var = (1.0 - p2) * (v1 + (m1 - mean).powi(2)) + p2 * (v2 + (m2 - mean).powi(2));
    Shift { mean, var }
}

/// Between-cell variance of the shift by method of moments over cells'
/// raw shifts `(r, v)`, at least [`TAU_FLOOR`]².
pub fn tau2(raws: &[(f64, f64)]) -> f64 {
    let floor = TAU_FLOOR * TAU_FLOOR;
    if raws.len() < 2 {
        return floor;
    }
    let k = raws.len() as f64;
    let mean = raws.iter().map(|r| r.0).sum::<f64>() / k;
    let spread = raws.iter().map(|r| (r.0 - mean).powi(2)).sum::<f64>() / (k - 1.0);
    let noise = raws.iter().map(|r| r.1).sum::<f64>() / k;
    (spread - noise).max(floor).min(0.25)
}

/// A cell's soft estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftEstimate {
    /// Estimated first-attempt success rate.
    pub rate: f64,
    /// Its variance (sampling, label noise and source-weight uncertainty).
    pub var: f64,
    /// The information-equivalent sample size `rate(1−rate)/var − 1`, at
    /// most the Kish effective size.
    pub info: f64,
    /// The shift applied.
    pub shift: Shift,
    /// The same estimate with the cell's own raw shift, borrowing nothing
    /// from other cells (mean, standard deviation), where any task was
    /// judged: what the cell's own verdicts say of its implicit evidence.
    pub own: Option<(f64, f64)>,
}

impl SoftEstimate {
    /// The Beta posterior with this mean and variance.
    pub fn beta(&self) -> stats::Beta {
        stats::Beta::moments(self.rate, self.info)
    }
}

/// The cell's estimate: the weighted mean of its tasks' posteriors, where a
/// judged task's posterior is its verdict and an unjudged one's is `q` plus
/// the cell's shift (prediction-powered inference: with the raw shift this
/// is exactly `mean(q) + mean_judged(y − q)`). Its variance adds the shift's
/// uncertainty, for the unjudged share, to the sampling variance.
pub fn estimate(s: &SoftSums, shift: Shift) -> SoftEstimate {
    estimate_own(s, shift, None)
}

/// [`estimate`], with the cell's own unshrunk shift `raw` (from
/// [`SoftSums::raw_shift`]) giving [`SoftEstimate::own`].
pub fn estimate_own(s: &SoftSums, shift: Shift, raw: Option<(f64, f64)>) -> SoftEstimate {
    if s.w <= 0.0 {
        return SoftEstimate {
            rate: 0.0,
            var: 0.25,
            info: 0.0,
            shift,
            own: None,
        };
    }
    let n_eff = stats::kish(s.w, s.w2);
    let mean_q = s.wq / s.w;
    let var_q = (s.wq2 / s.w - mean_q * mean_q).max(0.0);
    let unjudged = ((s.w - s.wl) / s.w).clamp(0.0, 1.0);
    let at = |sh: Shift| {
        let rate = ((s.wq - s.wql + sh.mean * (s.w - s.wl) + s.wy) / s.w).clamp(0.0, 1.0);
        let r = rate.clamp(0.005, 0.995);
        // Never more precise than if every task had been judged.
        let var = (var_q / n_eff + unjudged * unjudged * sh.var).max(r * (1.0 - r) / n_eff);
        (rate, var)
    };
    let (rate, var) = at(shift);
    let r = rate.clamp(0.005, 0.995);
    let info = (r * (1.0 - r) / var - 1.0).clamp(0.0, n_eff);
    let own = raw.map(|(mean, var)| {
        let (rate, var) = at(Shift { mean, var });
        (rate, var.sqrt())
    });
    SoftEstimate {
        rate,
        var,
        info,
        shift,
        own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Key = ("simple", "haiku");

    fn ev(hook: Option<bool>, y: Option<bool>) -> Evidence {
        let mut e = Evidence {
            explicit: y,
            ..Evidence::default()
        };
        if let Some(h) = hook {
            e.set(0, h);
        }
        e
    }

    #[test]
    fn without_verdicts_the_priors_give_the_posterior() {
        let m = LabelModel::fit(LabelData::default());
        // Prior 0.8, hook success LR 0.95 / 0.5 = 1.9: odds 4 × 1.9 = 7.6.
        let q = m.implicit_posterior(K, &ev(Some(true), None)).unwrap();
        assert!((q - 7.6 / 8.6).abs() < 1e-9, "{q}");
        // Hook failure LR 0.05 / 0.5 = 0.1: odds 0.4.
        let q = m.implicit_posterior(K, &ev(Some(false), None)).unwrap();
        assert!((q - 0.4 / 1.4).abs() < 1e-9, "{q}");
        assert_eq!(m.implicit_posterior(K, &ev(None, None)), None);
        let mut e = ev(None, None);
        e.p_success = Some(0.7);
        assert_eq!(m.implicit_posterior(K, &e), Some(0.7));
    }

    #[test]
    fn global_rates_are_beta_binomial_posteriors() {
        let mut d = LabelData::default();
        // 30 successes the hook calls success, 10 failures it also calls success.
        for _ in 0..30 {
            d.add(K, &ev(Some(true), Some(true)));
        }
        for _ in 0..10 {
            d.add(K, &ev(Some(true), Some(false)));
        }
        let m = LabelModel::fit(d);
        let g = m.global_rates(0);
        assert!((g.sens - (10.0 * 0.95 + 30.0) / 40.0).abs() < 1e-12);
        assert!((g.spec - (10.0 * 0.5) / 20.0).abs() < 1e-12);
        // One cell only: its mass is 50 (capped), so it equals the global.
        let c = m.rates(K, 0);
        assert!((c.sens - (50.0 * g.sens + 30.0) / 80.0).abs() < 1e-12);
    }

    #[test]
    fn em_trusts_sources_that_agree_on_unjudged_tasks() {
        // 900 unjudged tasks where the hook and the verification agree
        // (810 successes, 90 failures): no person judged any of them.
        let mut d = LabelData::default();
        for i in 0..900 {
            let mut e = ev(Some(i % 10 != 0), None);
            e.set(VERIFICATION, i % 10 != 0);
            d.add_unjudged(K, &e);
        }
        let m = LabelModel::fit(d);
        let (hook, ver) = (m.global_rates(0), m.global_rates(VERIFICATION));
        // The priors say a clean stop is weak (specificity 0.5); agreement
        // on 900 tasks says both sources are nearly always right.
        assert!(hook.sens > 0.98 && hook.spec > 0.9, "{hook:?}");
        assert!(ver.sens > 0.98 && ver.spec > 0.9, "{ver:?}");
        // The cell's base rate is the share of successes, not the 0.8 prior.
        assert!((m.prior(K) - 0.9).abs() < 0.01, "{}", m.prior(K));
        let mut both = ev(Some(true), None);
        both.set(VERIFICATION, true);
        assert!(m.implicit_posterior(K, &both).unwrap() > 0.99);
        let mut neither = ev(Some(false), None);
        neither.set(VERIFICATION, false);
        assert!(m.implicit_posterior(K, &neither).unwrap() < 0.01);
    }

    #[test]
    fn em_without_unjudged_tasks_is_the_supervised_fit() {
        let mut d = LabelData::default();
        for i in 0..40 {
            d.add(K, &ev(Some(true), Some(i < 30)));
        }
        let supervised = LabelModel::fit(d.clone()).global_rates(0);
        // Judged tasks given to add_unjudged are ignored.
        d.add_unjudged(K, &ev(Some(true), Some(true)));
        assert_eq!(LabelModel::fit(d).global_rates(0), supervised);
    }

    #[test]
    fn own_estimate_keeps_what_the_cell_s_ratings_say() {
        // 100 tasks the implicit evidence calls successes (q = 0.97); of the
        // 10 people judged, 3 failed: the shrunk shift hardly moves, the
        // cell's own estimate falls by the 0.3 its ratings measured.
        let mut s = SoftSums::default();
        for i in 0..100 {
            s.add(1.0, 0.97, (i < 10).then_some(i >= 3));
        }
        let raw = s.raw_shift(0.02).unwrap();
        assert!((raw.0 - (0.7 - 0.97)).abs() < 1e-12);
        let shrunk = Shift {
            mean: -0.01,
            var: 0.0004,
        };
        let e = estimate_own(&s, shrunk, Some(raw));
        let (own, sd) = e.own.unwrap();
        assert!((e.rate - (0.97 * 90.0 - 0.01 * 90.0 + 7.0) / 100.0).abs() < 1e-9);
        assert!((own - (0.97 * 90.0 + raw.0 * 90.0 + 7.0) / 100.0).abs() < 1e-9);
        assert!(sd > 0.1, "{sd}");
        assert_eq!(estimate(&s, shrunk).own, None);
    }

    #[test]
    fn raters_who_disagree_with_ci_are_corrected_for() {
        let mut d = LabelData::default();
        let mut ci = |v: bool, y: bool| {
            let mut e = ev(None, Some(y));
            e.set(CI, v);
            d.add(K, &e);
        };
        for i in 0..100 {
            // People contradict CI on 20 of 100 tasks.
            ci(
                i % 10 != 0,
                if i % 5 == 0 { i % 10 == 0 } else { i % 10 != 0 },
            );
        }
        let flip = LabelModel::fit(d).rater_flip;
        assert!(flip > 0.13 && flip < 0.2, "{flip}");
        assert_eq!(
            rater_flip(&Agreement {
                ss: 9.0,
                ..Agreement::default()
            }),
            0.0
        );
        // Corrected verdicts: 80 % said success with a 20 % flip rate is a
        // true rate of (0.8 − 0.2) / 0.6 = 1.
        let mut s = SoftSums::default();
        for i in 0..10 {
            s.add_rated(1.0, 1.0, Some(i < 8), 0.2);
        }
        assert!((s.wy / s.wl - 1.0).abs() < 1e-12);
        assert_eq!(s.y, 8.0);
    }

    #[test]
    fn two_sources_multiply_their_likelihood_ratios() {
        let m = LabelModel::fit(LabelData::default());
        let mut e = ev(Some(true), None);
        e.set(VERIFICATION, false);
        let q = m.implicit_posterior(K, &e).unwrap();
        // odds 4 × 1.9 × (0.05 / 0.7)
        let odds = 4.0 * 1.9 * (0.05 / 0.7);
        assert!((q - odds / (1.0 + odds)).abs() < 1e-9);
    }

    #[test]
    fn estimate_is_mean_posterior_plus_shift() {
        let mut s = SoftSums::default();
        for i in 0..100 {
            let y = (i < 10).then_some(i < 5);
            s.add(1.0, 0.9, y);
        }
        // Judged: 5 successes and 5 failures at q = 0.9 → shift −0.4.
        let (r, v) = s.raw_shift(0.1).unwrap();
        assert!((r + 0.4).abs() < 1e-12);
        // var(y − q) = 0.25, prior 0.1 of mass 2: (0.25·10 + 0.2) / 12 / 10.
        assert!((v - (2.5 + 0.2) / 12.0 / 10.0).abs() < 1e-12);
        let e = estimate(&s, Shift { mean: r, var: v });
        // (90 unjudged × (0.9 − 0.4) + 5) / 100
        assert!((e.rate - 0.5).abs() < 1e-12);
        assert!((e.var - (0.81 * v).max(0.25 / 100.0)).abs() < 1e-12);
    }

    #[test]
    fn three_ratings_give_a_wide_interval_thirty_a_narrow_one() {
        let width = |judged: usize| {
            let mut s = SoftSums::default();
            for i in 0..200 {
                s.add(1.0, 0.95, (i < judged).then_some(i % 20 != 0));
            }
            let sh = shrink_shift(
                s.raw_shift(0.05),
                Shift {
                    mean: 0.0,
                    var: 0.0,
                },
                0.05 * 0.05,
            );
            let e = estimate(&s, sh);
            let b = e.beta();
            let lo = (0..1000)
                .map(|i| i as f64 / 1000.0)
                .find(|x| b.cdf(*x) >= 0.025)
                .unwrap();
            let hi = (0..1000)
                .map(|i| i as f64 / 1000.0)
                .find(|x| b.cdf(*x) >= 0.975)
                .unwrap();
            hi - lo
        };
        let (w3, w30, w200) = (width(3), width(30), width(200));
        assert!(w3 > 0.14, "3 ratings: width {w3}");
        assert!(w30 < w3 && w200 < w30, "{w3} {w30} {w200}");
    }

    #[test]
    fn shrinkage_is_precision_weighted() {
        let p = Shift {
            mean: 0.0,
            var: 0.0,
        };
        // Equal marginal variances of spike and slab would make it a plain
        // normal: check the spike-only limit instead, far from the slab.
        let s = shrink_shift(Some((0.0, 0.01)), p, 0.01);
        assert!(s.mean.abs() < 1e-12);
        // Spike posterior var 0.005, slab 1/(100 + 1/0.0225); weights by marginal likelihood.
        let (l1, l2) = (1.0 / 0.02f64.sqrt(), 1.0 / 0.0325f64.sqrt());
        let p2 = 0.2 * l2 / (0.8 * l1 + 0.2 * l2);
        let v2 = 1.0 / (100.0 + 1.0 / 0.0225);
        assert!((s.var - ((1.0 - p2) * 0.005 + p2 * v2)).abs() < 1e-12);
        // A large disagreement moves weight to the slab: the shift follows the data.
        let far = shrink_shift(Some((-0.3, 0.01)), p, 0.0004);
        assert!(far.mean < -0.12 && far.var > 0.005, "{far:?}");
        let s = shrink_shift(None, p, 0.01);
        assert_eq!(s.mean, 0.0);
        assert!((tau2(&[(0.0, 0.0)]) - TAU_FLOOR * TAU_FLOOR).abs() < 1e-15);
        // Spread 0.02 minus noise 0.005.
        let t = tau2(&[(0.1, 0.005), (-0.1, 0.005)]);
        assert!((t - 0.015).abs() < 1e-12);
    }
}
