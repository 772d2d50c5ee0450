//! The statistics behind `learn`: decay weights, Kish effective sample size,
//! Wilson and Newcombe intervals, Beta posteriors and the decision integrals
//! of `learning-statistics.md` §5, evaluated by fixed Gauss–Legendre
//! quadrature so every run gives the same numbers.

use std::sync::OnceLock;

/// z for two-sided 95% intervals.
pub const Z95: f64 = 1.96;
/// z for one-sided 95% bounds.
pub const Z95_ONE_SIDED: f64 = 1.645;

/// Decay weight `2^(−age/h)` of a record `age_days` old; 0 outside the window.
pub fn decay_weight(age_days: f64, half_life_days: f64, window_days: Option<f64>) -> f64 {
    if let Some(w) = window_days {
        if age_days > w {
            return 0.0;
        }
    }
    // A record from the (slight) future counts fully rather than more than fully.
    (-age_days.max(0.0) / half_life_days).exp2()
}

/// Kish effective sample size `n* = (Σw)² / Σw²`.
pub fn kish(sum_w: f64, sum_w2: f64) -> f64 {
    if sum_w2 <= 0.0 {
        0.0
    } else {
        sum_w * sum_w / sum_w2
    }
}

/// Wilson score interval for `s` successes in `n` trials (non-integer counts allowed).
pub fn wilson(s: f64, n: f64, z: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let p = (s / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Newcombe's hybrid score interval (95%, method 10) for `p1 − p2`.
pub fn newcombe(s1: f64, n1: f64, s2: f64, n2: f64, z: f64) -> (f64, f64) {
    let p1 = if n1 > 0.0 { s1 / n1 } else { 0.0 };
    let p2 = if n2 > 0.0 { s2 / n2 } else { 0.0 };
    let (l1, u1) = wilson(s1, n1, z);
    let (l2, u2) = wilson(s2, n2, z);
    let d = p1 - p2;
    (
        d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    )
}

/// Effective sample size at which an estimate `p` would clear target `t`
/// with a one-sided z: `z² p(1−p) / (p − t)²` (∞ when `p == t`).
pub fn n_needed(p: f64, t: f64, z: f64) -> f64 {
    let gap = p - t;
    if gap.abs() < 1e-9 {
        return f64::INFINITY;
    }
    z * z * (p * (1.0 - p)).max(0.01) / (gap * gap)
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7).
pub fn phi(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// A Beta(a, b) distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beta {
    /// First shape parameter (prior successes + successes).
    pub a: f64,
    /// Second shape parameter.
    pub b: f64,
}

impl Beta {
    /// The posterior under a Jeffreys prior for `s` of `n` (scaled counts allowed).
    pub fn jeffreys(s: f64, n: f64) -> Beta {
        Beta {
            a: 0.5 + s,
            b: 0.5 + (n - s).max(0.0),
        }
    }

    /// The Beta with mean `p` whose variance is that of `info` binomial
    /// draws: a cell's estimate that is already a posterior (the label
    /// model's soft rate and its information-equivalent size), so no
    /// pseudo-counts are added that would pull a 98 % rate toward ½.
    /// Each shape is at least ½, Jeffreys' prior, for cells at 0 or 100 %.
    pub fn moments(p: f64, info: f64) -> Beta {
        let p = p.clamp(0.0, 1.0);
        let m = info.max(0.0);
        Beta {
            a: (p * m).max(0.5),
            b: ((1.0 - p) * m).max(0.5),
        }
    }

    /// The posterior under a Beta(mean·mass, (1−mean)·mass) prior.
    pub fn with_prior(mean: f64, mass: f64, s: f64, n: f64) -> Beta {
        let mean = mean.clamp(0.01, 0.99);
        Beta {
            a: mean * mass + s,
            b: (1.0 - mean) * mass + (n - s).max(0.0),
        }
    }

    /// Mean.
    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }

    /// Cumulative distribution function.
    pub fn cdf(&self, x: f64) -> f64 {
        reg_inc_beta(self.a, self.b, x)
    }

    /// `P(p ≥ t)`.
    pub fn p_at_least(&self, t: f64) -> f64 {
        1.0 - self.cdf(t)
    }

    /// ln of the normalising constant B(a, b).
    fn ln_b(&self) -> f64 {
        ln_gamma(self.a) + ln_gamma(self.b) - ln_gamma(self.a + self.b)
    }

    /// `∫_lo^hi f(x) g(x) dx` for the density `f` of this Beta. Integrates in
    /// θ with `x = sin²θ`, which cancels the endpoint singularities of shapes
    /// below 1 (Jeffreys) so fixed quadrature stays accurate.
    pub fn expect_over<G: Fn(f64) -> f64>(&self, lo: f64, hi: f64, g: G) -> f64 {
        // Beyond 12 standard deviations the density is below 1e-30 of its
        // peak: clip there so the fixed nodes resolve narrow posteriors
        // (n* in the thousands) as well as wide ones.
        let (a, b) = (self.a, self.b);
        let sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
        let m = self.mean();
        let lo = lo.clamp(0.0, 1.0).max(m - 12.0 * sd);
        let hi = hi.clamp(0.0, 1.0).min(m + 12.0 * sd);
        if hi <= lo {
            return 0.0;
        }
        let (t0, t1) = (lo.sqrt().asin(), hi.sqrt().asin());
        let ln_b = self.ln_b();
        integrate(t0, t1, |t| {
            let (s, c) = t.sin_cos();
            if s <= 0.0 || c <= 0.0 {
                return 0.0;
            }
            let x = s * s;
            // f(x) dx = x^(a−1)(1−x)^(b−1)/B · 2 sin cos dθ = 2 s^(2a−1) c^(2b−1)/B dθ
            let ln_f = (2.0 * a - 1.0) * s.ln() + (2.0 * b - 1.0) * c.ln() - ln_b;
            2.0 * ln_f.exp() * g(x)
        })
    }
}

/// `P(p_r < t ∧ p_m > p_r) = ∫₀ᵗ f_r(x) (1 − F_m(x)) dx`: the upgrade claim.
pub fn upgrade_confidence(r: &Beta, m: &Beta, t: f64) -> f64 {
    r.expect_over(0.0, t, |x| 1.0 - m.cdf(x)).clamp(0.0, 1.0)
}

/// `P(p_m ≥ max(t, p_r − δ)) = ∫₀¹ f_r(x) (1 − F_m(max(t, x − δ))) dx`: the downgrade claim.
pub fn downgrade_confidence(r: &Beta, m: &Beta, t: f64, delta: f64) -> f64 {
    r.expect_over(0.0, 1.0, |x| 1.0 - m.cdf(t.max(x - delta)))
        .clamp(0.0, 1.0)
}

/// Empirical-Bayes prior mass for keyword cells under a parent with mean
/// `parent`, by method of moments over the cells' `(p̂, n*)`, clamped to
/// [2, 200] (200 when the cells show no extra spread).
pub fn eb_mass(parent: f64, cells: &[(f64, f64)]) -> f64 {
    let cells: Vec<&(f64, f64)> = cells.iter().filter(|c| c.1 > 0.0).collect();
    if cells.len() < 2 {
        return 200.0;
    }
    let k = cells.len() as f64;
    let mean_p = cells.iter().map(|c| c.0).sum::<f64>() / k;
    let var = cells.iter().map(|c| (c.0 - mean_p).powi(2)).sum::<f64>() / (k - 1.0);
    let n_bar = cells.iter().map(|c| c.1).sum::<f64>() / k;
    let pq = (parent * (1.0 - parent)).max(1e-6);
    let tau2 = (var - pq / n_bar).max(0.0);
    if tau2 < 1e-9 {
        return 200.0;
    }
    (pq / tau2 - 1.0).clamp(2.0, 200.0)
}

/// Gauss–Legendre integration over `[lo, hi]` with 8 panels of 24 nodes.
pub fn integrate<F: Fn(f64) -> f64>(lo: f64, hi: f64, f: F) -> f64 {
    const PANELS: usize = 8;
    let (nodes, weights) = gauss_legendre();
    let width = (hi - lo) / PANELS as f64;
    let mut total = 0.0;
    for p in 0..PANELS {
        let a = lo + p as f64 * width;
        let half = width / 2.0;
        let mid = a + half;
        for (x, w) in nodes.iter().zip(weights.iter()) {
            total += w * f(mid + half * x);
        }
        let _ = a;
    }
    total * width / 2.0
}

/// Nodes and weights of 24-point Gauss–Legendre on [−1, 1], by Newton's
/// method on the Legendre polynomial (computed once).
fn gauss_legendre() -> &'static (Vec<f64>, Vec<f64>) {
    static GL: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    GL.get_or_init(|| {
        const N: usize = 24;
        let mut xs = vec![0.0; N];
        let mut ws = vec![0.0; N];
        for i in 0..N.div_ceil(2) {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (N as f64 + 0.5)).cos();
            let mut dp = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=N {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                dp = N as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-15 {
                    break;
                }
            }
            let w = 2.0 / ((1.0 - x * x) * dp * dp);
            xs[i] = -x;
            xs[N - 1 - i] = x;
            ws[i] = w;
            ws[N - 1 - i] = w;
        }
        (xs, ws)
    })
}

/// ln Γ(x) (Lanczos, g = 7), accurate to ~1e-15 for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised incomplete beta `I_x(a, b)` (continued fraction, Lentz).
pub fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() * beta_cf(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

/// Quantile `q ∈ [0, 1]` of a log-scale histogram (see [`LogHist`]).
#[derive(Debug, Clone)]
pub struct LogHist {
    counts: Vec<u32>,
    total: u64,
}

/// Histogram bins per decade and decades covered (1 to 1e10).
const BINS_PER_DECADE: f64 = 50.0;
const DECADES: f64 = 10.0;

impl Default for LogHist {
    fn default() -> Self {
        LogHist {
            counts: vec![0; (BINS_PER_DECADE * DECADES) as usize + 1],
            total: 0,
        }
    }
}

impl LogHist {
    /// Adds a positive value (others are ignored).
    pub fn add(&mut self, v: f64) {
        if v.is_finite() && v > 0.0 {
            let i = ((v.max(1.0).log10() * BINS_PER_DECADE) as usize).min(self.counts.len() - 1);
            self.counts[i] += 1;
            self.total += 1;
        }
    }

    /// Values added.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The log10 of quantile `q` (bin centre), or `None` when empty.
    pub fn log_quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let target = (q * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += *c as u64;
            if seen >= target {
                return Some((i as f64 + 0.5) / BINS_PER_DECADE);
            }
        }
        Some(DECADES)
    }

    /// The anomaly fence `Q3 + 3·IQR` on the log10 scale, as a plain value;
    /// `None` below 8 values (no norm yet).
    pub fn fence(&self) -> Option<f64> {
        if self.total < 8 {
            return None;
        }
        let q1 = self.log_quantile(0.25)?;
        let q3 = self.log_quantile(0.75)?;
        // A cell whose values all sit in one bin still gets a fence one decade up.
        let iqr = (q3 - q1).max(1.0 / 3.0);
        Some(10f64.powf(q3 + 3.0 * iqr))
    }

    /// The median as a plain value.
    pub fn median(&self) -> Option<f64> {
        self.log_quantile(0.5).map(|l| 10f64.powf(l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn wilson_matches_the_note() {
        let (l, u) = wilson(8.0, 10.0, Z95);
        assert!(close(l, 0.49, 0.01) && close(u, 0.94, 0.01), "{l} {u}");
        let (l, u) = wilson(160.0, 200.0, Z95);
        assert!(close(l, 0.74, 0.01) && close(u, 0.85, 0.01), "{l} {u}");
    }

    #[test]
    fn beta_cdf_and_quadrature_agree() {
        let b = Beta::jeffreys(8.0, 10.0);
        // Total mass integrates to 1, including the singular Jeffreys prior.
        assert!(close(b.expect_over(0.0, 1.0, |_| 1.0), 1.0, 1e-9));
        assert!(close(
            Beta::jeffreys(0.0, 0.0).expect_over(0.0, 1.0, |_| 1.0),
            1.0,
            1e-9
        ));
        assert!(close(b.expect_over(0.0, 0.7, |_| 1.0), b.cdf(0.7), 1e-9));
        // Beta(1,1) is uniform.
        assert!(close(reg_inc_beta(1.0, 1.0, 0.3), 0.3, 1e-12));
        assert!(close(reg_inc_beta(2.0, 3.0, 0.4), 0.5248, 1e-4));
    }

    #[test]
    fn decisions_have_the_right_direction() {
        let weak = Beta::jeffreys(6.0, 12.0);
        let strong = Beta::jeffreys(19.0, 20.0);
        assert!(upgrade_confidence(&weak, &strong, 0.8) > 0.9);
        assert!(upgrade_confidence(&strong, &weak, 0.8) < 0.2);
        let incumbent = Beta::jeffreys(270.0, 300.0);
        let cheap_good = Beta::jeffreys(48.0, 50.0);
        let cheap_bad = Beta::jeffreys(38.0, 50.0);
        assert!(downgrade_confidence(&incumbent, &cheap_good, 0.8, 0.05) > 0.8);
        assert!(downgrade_confidence(&incumbent, &cheap_bad, 0.8, 0.05) < 0.1);
    }

    #[test]
    fn narrow_posteriors_integrate_accurately() {
        let r = Beta::jeffreys(9600.0, 16000.0);
        let m = Beta::jeffreys(1640.0, 1800.0);
        assert!(close(r.expect_over(0.0, 1.0, |_| 1.0), 1.0, 1e-9));
        assert!(upgrade_confidence(&r, &m, 0.8) > 0.999);
        let inc = Beta::jeffreys(18000.0, 20000.0);
        let cheap = Beta::jeffreys(960.0, 1000.0);
        assert!(downgrade_confidence(&inc, &cheap, 0.8, 0.05) > 0.999);
    }

    #[test]
    fn kish_and_decay() {
        assert!(close(kish(10.0, 10.0), 10.0, 1e-12));
        assert!(close(decay_weight(30.0, 30.0, Some(90.0)), 0.5, 1e-12));
        assert_eq!(decay_weight(91.0, 30.0, Some(90.0)), 0.0);
        assert!(close(n_needed(0.9, 0.8, Z95_ONE_SIDED), 24.35, 0.1));
    }

    #[test]
    fn eb_mass_is_large_without_spread_and_small_with_it() {
        assert_eq!(
            eb_mass(0.8, &[(0.8, 20.0), (0.8, 20.0), (0.8, 20.0)]),
            200.0
        );
        let m = eb_mass(0.6, &[(0.2, 50.0), (0.95, 50.0), (0.6, 50.0)]);
        assert!(m < 10.0, "{m}");
    }

    #[test]
    fn histogram_fence() {
        let mut h = LogHist::default();
        for i in 0..100 {
            h.add(1000.0 + i as f64);
        }
        let f = h.fence().unwrap();
        assert!(f > 1100.0 && f < 1_000_000.0, "{f}");
        assert!(close(h.median().unwrap(), 1050.0, 60.0));
    }
}
