//! `learn analyze`: two streaming passes over the ledger into per-cell
//! statistics, written to `logs/model-learning.json`.
//!
//! Pass 1 collects what later attempts say about earlier ones (which ids a
//! retry links to) and each cell's norm of tokens and time (log-scale
//! histograms, for anomalies). Pass 2 resolves every attempt's outcome and
//! accumulates decayed counts. Memory depends on the number of cells, weeks
//! and retried attempts, never on the number of records.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::label::{self, LabelData, LabelModel, SoftSums, DERIVED};
use super::models::{self, Routing};
use super::pattern::{Pattern, PatternCost, PatternLabels};
use super::scan::{self, read_pass};
use super::sources::{self, OutcomeSources, OutcomeView};
use super::stats::{self, LogHist};
use super::tasks::{self, TaskTable};
use super::view::{batch_of, family_of, id_hash, level_of, time_of, IdSet, Rec, StaticName};
use super::{Analysis, AnalyzeOptions, Status, Suggestion};
use crate::error::Result;
use crate::home::Home;
use crate::pricing::Pricing;
use crate::store::Ledger;

/// Target first-attempt success rate T.
pub const TARGET: f64 = 0.80;
/// Non-inferiority margin δ.
pub const DELTA: f64 = 0.05;
/// Decay half-life in days.
pub const HALF_LIFE_DAYS: f64 = 30.0;
/// Default window in days.
pub const WINDOW_DAYS: i64 = 90;
/// Cooldown after an applied change, in days.
pub const COOLDOWN_DAYS: i64 = 14;
/// Effective samples needed on a changed cell before it may change again.
pub const COOLDOWN_N: f64 = 20.0;
/// Most anomalies listed in the file.
const MAX_ANOMALIES: usize = 100;
/// How close (before / after the record's creation) a `select` log line must be to join.
const JOIN_BEFORE_MS: i64 = 15 * 60 * 1000;
const JOIN_AFTER_MS: i64 = 2 * 60 * 1000;

/// Pass 1's view of a record. Strings are mapped while borrowed from the
/// parser, so this pass allocates only for retry links.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Lite {
    #[serde(deserialize_with = "level_of")]
    complexity: StaticName,
    #[serde(deserialize_with = "family_of")]
    model: StaticName,
    #[serde(rename = "type", deserialize_with = "batch_of")]
    kind: Option<bool>,
    #[serde(deserialize_with = "time_of")]
    created_at: Option<DateTime<Utc>>,
    /// Hash of the retry link (none when empty).
    #[serde(deserialize_with = "super::view::lenient_id_hash")]
    previous_dispatch_id: Option<u64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    tokens_used: Option<f64>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    execution_time_seconds: Option<f64>,
    /// Hash of the id (none when empty).
    #[serde(deserialize_with = "super::view::lenient_id_hash")]
    id: Option<u64>,
    #[serde(deserialize_with = "crate::record::lenient_word")]
    outcome: Option<std::borrow::Cow<'static, str>>,
    #[serde(deserialize_with = "crate::record::lenient_word")]
    outcome_source: Option<std::borrow::Cow<'static, str>>,
    #[serde(deserialize_with = "super::sources::lenient_sources")]
    outcome_sources: Option<OutcomeSources>,
    #[serde(deserialize_with = "crate::record::lenient_word")]
    status: Option<std::borrow::Cow<'static, str>>,
    #[serde(deserialize_with = "crate::record::lenient_f64")]
    p_success: Option<f64>,
}

/// Accumulated figures of one cell (complexity × model, or keyword × complexity × model).
#[derive(Debug, Default, Clone)]
pub(crate) struct Acc {
    /// First attempts with a known outcome.
    n: u64,
    /// Σ posterior of success.
    s: f64,
    /// Soft-label sums (label model, prediction-powered estimate).
    soft: SoftSums,
    partial: u64,
    unknown: u64,
    questioned: u64,
    sum_w: f64,
    sum_w2: f64,
    sum_ws: f64,
    attempts: u64,
    retries: u64,
    escalations: u64,
    explored: u64,
    explored_s: f64,
    overrides: u64,
    tokens_sum: f64,
    tokens_n: u64,
    without_tokens: u64,
    time_sum: f64,
    time_n: u64,
    cost_sum: f64,
    costed: u64,
    tasks: u64,
    /// Σ P(task eventually succeeded).
    tasks_succeeded: f64,
    anomalies: u64,
    latest_model: String,
    latest_at: i64,
    versions: Vec<String>,
    /// Weighted counts after the cell's last applied change (cooldown).
    after_w: f64,
    after_w2: f64,
}

impl Acc {
    fn see_model(&mut self, model: &str, at: i64) {
        let same = self.latest_model == model;
        if at >= self.latest_at || self.latest_model.is_empty() {
            self.latest_at = at;
            if !same {
                self.latest_model = model.to_string();
            }
        }
        if same {
            return;
        }
        if let Some(v) = models::version(model) {
            if !self.versions.contains(&v) && self.versions.len() < 16 {
                self.versions.push(v);
            }
        }
    }
}

/// One week's totals, for the trend.
#[derive(Debug, Default, Clone)]
struct Week {
    n: u64,
    s: f64,
    cost: f64,
    costed: u64,
    attempts: u64,
    tasks_succeeded: f64,
    tasks: u64,
    covered: u64,
}

/// What pass 1 keeps of a record.
#[derive(Default)]
struct Pass1 {
    linked: Option<u64>,
    cell: Option<(&'static str, &'static str)>,
    judged: Option<(Option<u64>, label::Evidence)>,
    unjudged: Option<label::Evidence>,
    tokens: Option<f64>,
    time: Option<f64>,
}

/// Why pass 2 skips a record (counted under data health).
enum Skip {
    Batch,
    NoModel,
    Unrecognised(String),
    NoComplexity,
    Undated,
    BeforeWindow(DateTime<Utc>),
}

/// What a worker makes of one record in pass 2: everything that does not
/// depend on the records before it.
enum Prep {
    Skip(Skip),
    Item(Box<Item>),
}

struct Item {
    prev: Option<String>,
    model: String,
    fam: &'static str,
    level: &'static str,
    at: DateTime<Utc>,
    at_ms: i64,
    w: f64,
    week: i64,
    key: (&'static str, &'static str),
    tok_anom: Option<(f64, f64)>,
    time_anom: Option<(f64, f64)>,
    anomalous: bool,
    id: String,
    retried: bool,
    resolved: Resolved,
    post: Option<f64>,
    explored: bool,
    overridden: bool,
    keywords: Vec<String>,
    cost: Option<f64>,
    covered: bool,
    tokens_used: Option<f64>,
    execution_time_seconds: Option<f64>,
}

/// A `select --explore` log line.
#[derive(Debug, Clone)]
struct Selection {
    at_ms: i64,
    family: Option<&'static str>,
    rule_family: Option<&'static str>,
    explored: bool,
}

/// What a later attempt inherits from the task's first attempt.
#[derive(Debug, Clone)]
struct Chain {
    root: (&'static str, &'static str),
    root_week: Option<i64>,
    family: &'static str,
    /// P(no attempt so far succeeded).
    fail_prob: f64,
}

/// How an attempt's outcome was established.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resolved {
    /// `q`: P(success | implicit evidence); `y`: the explicit verdict.
    Known {
        q: f64,
        y: Option<bool>,
        partial: bool,
    },
    Unknown,
}

impl Resolved {
    /// The task's soft label: the explicit verdict, else `q`.
    fn posterior(&self) -> Option<f64> {
        match self {
            Resolved::Known { y: Some(y), .. } => Some(*y as u8 as f64),
            Resolved::Known { q, .. } => Some(*q),
            Resolved::Unknown => None,
        }
    }
}

/// Streams the ledger and writes the analysis. See [`super::analyze`].
pub fn run(home: &Home, opts: &AnalyzeOptions) -> Result<Analysis> {
    run_over(home, opts, &Ledger::of(home))
}

/// The analysis over any source of records (the ledger, or the pooled
/// records of `learn --database`, see [`super::pooled`]); results go to `home`.
pub(crate) fn run_over<L: super::pooled::Records>(
    home: &Home,
    opts: &AnalyzeOptions,
    ledger: &L,
) -> Result<Analysis> {
    run_full(home, opts, ledger, false).map(|(a, _)| a)
}

/// [`run_over`], also building the window's task table ([`super::tasks`])
/// from the records pass 2 reads anyway, for the `suggest` that follows.
pub(crate) fn run_with_tasks<L: super::pooled::Records>(
    home: &Home,
    opts: &AnalyzeOptions,
    ledger: &L,
) -> Result<(Analysis, TaskTable)> {
    let (analysis, table) = run_full(home, opts, ledger, true)?;
    Ok((analysis, table.unwrap_or_default()))
}

fn run_full<L: super::pooled::Records>(
    home: &Home,
    opts: &AnalyzeOptions,
    ledger: &L,
    with_tasks: bool,
) -> Result<(Analysis, Option<TaskTable>)> {
    let now = crate::clock::now();
    let since = opts.since.unwrap_or(now - Duration::days(WINDOW_DAYS));
    let routing = Routing::load(home)?;
    let pricing = Pricing::load(&home.pricing());

    // Read the earlier file first: its applied suggestions set the cooldown cutoffs.
    let learning_path = home.learning();
    let earlier = super::file::load(&learning_path)?;
    let cutoffs = cooldown_cutoffs(&earlier);

    // Pass 1: retry links and per-cell norms.
    // Ids as 64-bit hashes: memory stays small on ledgers where every record
    // is judged or retried (a collision would only mislabel one attempt).
    let mut linked = IdSet::default();
    let mut tok_hist: HashMap<(&'static str, &'static str), LogHist> = HashMap::new();
    let mut time_hist: HashMap<(&'static str, &'static str), LogHist> = HashMap::new();
    // Tasks with a person's or CI's verdict: the label model's training data.
    let mut judged: Vec<(Option<u64>, label::Key, label::Evidence)> = Vec::new();
    // The label model's data: judged tasks (added after pass 1, once their
    // retry links are known) and the evidence patterns of the others.
    let mut data = LabelData::default();
    let prepare1 = |mut r: Lite| -> Pass1 {
        let mut out = Pass1 {
            linked: r.previous_dispatch_id,
            ..Pass1::default()
        };
        if r.kind == Some(true) {
            return out;
        }
        let (Some(c), Some(fam)) = (r.complexity, r.model) else {
            return out;
        };
        if r.created_at.is_none_or(|t| t < since) {
            return out;
        }
        let (ev, _) = sources::evidence(&OutcomeView {
            outcome: r.outcome.take(),
            outcome_source: r.outcome_source.take(),
            outcome_sources: r.outcome_sources.take(),
            status: r.status.take(),
            p_success: r.p_success,
        });
        out.cell = Some((c, fam));
        if ev.explicit.is_some() {
            out.judged = Some((r.id, ev));
        } else {
            out.unjudged = Some(ev);
        }
        out.tokens = r.tokens_used;
        out.time = r.execution_time_seconds;
        out
    };
    let mut apply1 = |p: Pass1| {
        if let Some(l) = p.linked {
            linked.insert(l);
        }
        let Some(key) = p.cell else {
            return;
        };
        if let Some((id, ev)) = p.judged {
            judged.push((id, key, ev));
        }
        if let Some(ev) = p.unjudged {
            data.add_unjudged(key, &ev);
        }
        if let Some(t) = p.tokens {
            tok_hist.entry(key).or_default().add(t);
        }
        if let Some(t) = p.time {
            time_hist.entry(key).or_default().add(t);
        }
    };
    let threads = scan::threads();
    read_pass(ledger, threads, prepare1, &mut apply1)?;
    let tok_fence: HashMap<_, _> = tok_hist
        .iter()
        .filter_map(|(k, h)| h.fence().map(|f| (*k, (f, h.median().unwrap_or(0.0)))))
        .collect();
    let time_fence: HashMap<_, _> = time_hist
        .iter()
        .filter_map(|(k, h)| h.fence().map(|f| (*k, (f, h.median().unwrap_or(0.0)))))
        .collect();
    drop(tok_hist);
    drop(time_hist);
    for (id, key, mut ev) in judged {
        let retried = id.is_some_and(|i| linked.contains(&i));

        set_retry_link(&mut ev, retried);
        data.add(key, &ev);
    }
    let label_model = LabelModel::fit(data);
    let rater_flip = label_model.rater_flip;

    let selections = load_selections(home);

    // Pass 2.
    let mut total: u64 = 0;
    let mut cells: BTreeMap<(&'static str, &'static str), Acc> = BTreeMap::new();
    let mut kw_cells: BTreeMap<(&'static str, usize, &'static str), Acc> = BTreeMap::new();
    let mut kw_ids: HashMap<String, usize> = HashMap::new();
    let mut kw_names: Vec<String> = Vec::new();
    let mut weeks: BTreeMap<i64, Week> = BTreeMap::new();
    let mut chains: HashMap<String, Chain> = HashMap::new();
    let mut anomalies: Vec<Value> = Vec::new();
    let mut anomalies_total: u64 = 0;
    let mut health = Health::default();

    let prepare_analysis = |mut r: Rec| -> Prep {
        if r.batch == Some(true) {
            return Prep::Skip(Skip::Batch);
        }
        let model = r.model.take().unwrap_or_default();
        let Some(fam) = models::family(&model) else {
            return Prep::Skip(if model.is_empty() || model == "none" {
                Skip::NoModel
            } else {
                Skip::Unrecognised(model)
            });
        };
        let Some(level) = r
            .complexity
            .filter(|l| l.exact)
            .map(|l| models::LEVELS[l.index])
        else {
            return Prep::Skip(Skip::NoComplexity);
        };
        let Some(at) = r.created_at.or(r.completed_at).flatten() else {
            return Prep::Skip(Skip::Undated);
        };
        if at < since {
            return Prep::Skip(Skip::BeforeWindow(at));
        }
        let at_ms = at.timestamp_millis();
        let age_days = (now - at).num_milliseconds() as f64 / 86_400_000.0;
        let w = stats::decay_weight(age_days, HALF_LIFE_DAYS, None);
        let week = week_key(at);
        let key = (level, fam);

        // Anomaly: far above the cell's norm in tokens or time.
        let tok_anom = match (r.tokens_used, tok_fence.get(&key)) {
            (Some(t), Some((f, med))) if t > *f => Some((t, *med)),
            _ => None,
        };
        let time_anom = match (r.execution_time_seconds, time_fence.get(&key)) {
            (Some(t), Some((f, med))) if t > *f => Some((t, *med)),
            _ => None,
        };
        let anomalous = tok_anom.is_some() || time_anom.is_some();

        let id = r.id.take().unwrap_or_default();
        let retried = !id.is_empty() && linked.contains(&id_hash(&id));
        let (mut ev, partial) = sources::evidence(&OutcomeView {
            outcome: r.outcome.take(),
            outcome_source: r.outcome_source.take(),
            outcome_sources: r.outcome_sources.take(),
            status: r.status.take(),
            p_success: r.p_success,
        });
        set_retry_link(&mut ev, retried);
        let q = label_model
            .implicit_posterior(key, &ev)
            .or_else(|| ev.explicit.map(|_| label_model.prior(key)));
        let resolved = match (q, ev.explicit) {
            // An implicit success far outside the cell's norm is not trusted.
            (Some(q), None) if anomalous && q >= 0.5 => Resolved::Unknown,
            (Some(q), y) => Resolved::Known { q, y, partial },
            (None, _) => Resolved::Unknown,
        };
        let post = resolved.posterior();

        // Attempt kind: retry / escalation, exploration, override, rule.
        let text = r
            .original_task
            .take()
            .or_else(|| r.task.as_deref().map(crate::outcome::strip_context))
            .unwrap_or_default();
        let sel = if selections.is_empty() || text.is_empty() {
            None
        } else {
            match_selection(&selections, &text, at_ms, fam)
        };
        let explored = sel.as_ref().is_some_and(|s| s.explored);
        let overridden = sel
            .as_ref()
            .is_some_and(|s| !s.explored && s.rule_family.is_some() && s.rule_family != Some(fam));

        let keywords: Vec<String> = match r.task_keywords.take() {
            Some(k) => k,
            None => crate::signals::keywords(&text),
        };

        let cost = r.cost_usd.or_else(|| {
            r.tokens_used
                .and_then(|t| estimate_cost(&pricing, &model, t))
        });

        let covered = !routing.rules.is_empty() && routing.covers_task(&text, level);
        Prep::Item(Box::new(Item {
            prev: r.previous_dispatch_id.take().filter(|p| !p.is_empty()),
            model,
            fam,
            level,
            at,
            at_ms,
            w,
            week,
            key,
            tok_anom,
            time_anom,
            anomalous,
            id,
            retried,
            resolved,
            post,
            explored,
            overridden,
            keywords,
            cost,
            covered,
            tokens_used: r.tokens_used,
            execution_time_seconds: r.execution_time_seconds,
        }))
    };
    let mut apply_analysis = |p: Prep| {
        total += 1;
        let it = match p {
            Prep::Skip(why) => {
                match why {
                    Skip::Batch => health.batch_records += 1,
                    Skip::NoModel => health.no_model += 1,
                    Skip::Unrecognised(m) => *health.unrecognised.entry(m).or_default() += 1,
                    Skip::NoComplexity => health.no_complexity += 1,
                    Skip::Undated => health.undated += 1,
                    Skip::BeforeWindow(at) => {
                        health.before_window += 1;
                        health.before_window_span = Some(match health.before_window_span {
                            Some((lo, hi)) => (lo.min(at), hi.max(at)),
                            None => (at, at),
                        });
                    }
                }
                return;
            }
            Prep::Item(it) => it,
        };
        let Item {
            prev,
            model,
            fam,
            level,
            at,
            at_ms,
            w,
            week,
            key,
            tok_anom,
            time_anom,
            anomalous,
            id,
            retried,
            resolved,
            post,
            explored,
            overridden,
            keywords,
            cost,
            covered,
            tokens_used,
            execution_time_seconds,
        } = *it;
        let prev = prev.as_deref();
        let chain = prev.and_then(|p| chains.get(p)).cloned();
        let is_retry = prev.is_some();
        let escalation = chain
            .as_ref()
            .is_some_and(|c| models::tier(fam) > models::tier(c.family));
        // Cost per success: every attempt is charged to its task's first attempt.
        let root = match &chain {
            Some(c) => c.root,
            None => key,
        };
        let root_week = match &chain {
            Some(c) => c.root_week,
            None => Some(week),
        };
        let post_now = post.unwrap_or(0.0);
        let still_failed = chain.as_ref().map_or(1.0, |c| c.fail_prob);
        {
            let rc = cells.entry(root).or_default();
            if let Some(c) = cost {
                rc.cost_sum += c;
                rc.costed += 1;
            }
            if chain.is_none() {
                rc.tasks += 1;
            }
            rc.tasks_succeeded += still_failed * post_now;
        }
        if let Some(wk) = root_week {
            let e = weeks.entry(wk).or_default();
            if let Some(c) = cost {
                e.cost += c;
                e.costed += 1;
            }
            e.attempts += 1;
            if chain.is_none() {
                e.tasks += 1;
            }
            e.tasks_succeeded += still_failed * post_now;
        }
        if retried {
            chains.insert(
                id.clone(),
                Chain {
                    root,
                    root_week,
                    family: fam,
                    fail_prob: still_failed * (1.0 - post_now),
                },
            );
        }

        let first_attempt = !is_retry && !overridden;
        let add = |acc: &mut Acc, kw: bool| {
            acc.attempts += 1;
            acc.see_model(&model, at_ms);
            if is_retry {
                acc.retries += 1;
                if escalation {
                    acc.escalations += 1;
                }
            }
            if overridden {
                acc.overrides += 1;
            }
            if anomalous && !kw {
                acc.anomalies += 1;
            }
            match tokens_used {
                Some(t) => {
                    acc.tokens_sum += t;
                    acc.tokens_n += 1;
                }
                None => acc.without_tokens += 1,
            }
            if let Some(t) = execution_time_seconds {
                acc.time_sum += t;
                acc.time_n += 1;
            }
            if !first_attempt {
                return;
            }
            let Resolved::Known {
                q,
                y: verdict,
                partial,
            } = resolved
            else {
                acc.unknown += 1;
                if anomalous {
                    acc.questioned += 1;
                }
                return;
            };
            let y = post_now;
            if partial {
                acc.partial += 1;
            }
            acc.n += 1;
            acc.s += y;
            acc.soft.add_rated(w, q, verdict, rater_flip);
            acc.sum_w += w;
            acc.sum_w2 += w * w;
            acc.sum_ws += w * y;
            if explored {
                acc.explored += 1;
                acc.explored_s += y;
            }
        };
        add(cells.entry(key).or_default(), false);
        let kw_idx: Vec<usize> = keywords
            .iter()
            .map(|k| match kw_ids.get(k.as_str()) {
                Some(i) => *i,
                None => {
                    kw_names.push(k.clone());
                    kw_ids.insert(k.clone(), kw_names.len() - 1);
                    kw_names.len() - 1
                }
            })
            .collect();
        for k in &kw_idx {
            add(kw_cells.entry((level, *k, fam)).or_default(), true);
        }
        // Cooldown: decayed samples after the last applied change on this level.
        if first_attempt && !matches!(resolved, Resolved::Unknown) && !cutoffs.is_empty() {
            if let Some(cut) = cutoffs.get(level) {
                if at_ms >= *cut {
                    let c = cells.get_mut(&key).expect("inserted above");
                    c.after_w += w;
                    c.after_w2 += w * w;
                }
            }
            for (k, ki) in keywords.iter().zip(&kw_idx) {
                if let Some(cut) = cutoffs.get(&format!("{level}/{k}")) {
                    if at_ms >= *cut {
                        let c = kw_cells
                            .get_mut(&(level, *ki, fam))
                            .expect("inserted above");
                        c.after_w += w;
                        c.after_w2 += w * w;
                    }
                }
            }
        }

        {
            let e = weeks.entry(week).or_default();
            if first_attempt {
                if let Some(p) = post {
                    e.n += 1;
                    e.s += p;
                }
            }
            if !is_retry && covered {
                e.covered += 1;
            }
        }
        match resolved {
            Resolved::Unknown => *health.unknown_by_model.entry(fam).or_default() += 1,
            _ => *health.known_by_model.entry(fam).or_default() += 1,
        }
        if tokens_used.is_none() {
            *health.without_tokens_by_model.entry(fam).or_default() += 1;
        }
        if anomalous {
            anomalies_total += 1;
            let (what, value, median) = match (tok_anom, time_anom) {
                (Some((t, m)), _) => ("tokens", t, m),
                (None, Some((t, m))) => ("execution_time_seconds", t, m),
                _ => unreachable!(),
            };
            let entry = json!({
                "id": if id.is_empty() { Value::Null } else { Value::String(id.clone()) },
                "created_at": crate::clock::iso(at),
                "complexity": level,
                "model": model,
                "metric": what,
                "value": value,
                "cell_median": (median * 10.0).round() / 10.0,
                "times_median": if median > 0.0 { ((value / median) * 10.0).round() / 10.0 } else { 0.0 },
                "outcome": match resolved {
                    Resolved::Known { partial: true, .. } => "partial",
                    Resolved::Known { .. } if post_now >= 0.5 => "success",
                    Resolved::Known { .. } => "failure",
                    Resolved::Unknown => "questioned",
                },
                "p_success": round4(post_now),
            });
            if anomalies.len() < MAX_ANOMALIES {
                anomalies.push(entry);
            } else {
                // Keep the most recent ones.
                anomalies.remove(0);
                anomalies.push(entry);
            }
        }
    };
    // The task table's rows come from the same records (its own window and
    // outcome rules, see `tasks::row`).
    let window = with_tasks.then(|| tasks::Window::last_days(now));
    let mut table = window.as_ref().map(tasks::Builder::new);
    let prepare = |r: Rec| {
        let row = window
            .as_ref()
            .and_then(|w| tasks::row(&r, w, &linked, &pricing));
        (prepare_analysis(r), row)
    };
    let mut apply = |(p, row): (Prep, Option<tasks::Row>)| {
        if let (Some(t), Some(row)) = (table.as_mut(), row) {
            t.add(row);
        }
        apply_analysis(p);
    };
    read_pass(ledger, threads, prepare, &mut apply)?;

    // Build the document: each cell's soft estimate, its shift shrunk
    // toward the ledger's (levels) or its level's (keywords).
    let shifts = Shifts::of(&cells, &kw_cells);
    let mut patterns = Vec::new();
    for ((level, fam), acc) in &cells {
        if acc.attempts == 0 {
            continue;
        }
        let est = label::estimate_own(
            &acc.soft,
            shifts.level(&(level, fam)),
            acc.soft.raw_shift(shifts.sigma2),
        );
        patterns.push(pattern(level, None, fam, acc, &est, &cutoffs));
    }
    for ((level, kw), group) in group_keywords(&kw_cells, &kw_names) {
        for (fam, acc) in group {
            let est = label::estimate_own(
                &acc.soft,
                shifts.keyword(&(level, fam), &acc.soft),
                acc.soft.raw_shift(shifts.sigma2),
            );
            patterns.push(pattern(level, Some(&kw), fam, acc, &est, &cutoffs));
        }
    }
    let weekly: Vec<Value> = weeks
        .iter()
        .map(|(wk, e)| {
            json!({
                "week": week_label(*wk),
                "first_attempts": e.n,
                "successes": round4(e.s),
                "success_rate": ratio(e.s, e.n as f64),
                "attempts": e.attempts,
                "tasks": e.tasks,
                "tasks_succeeded": round4(e.tasks_succeeded),
                "cost_usd": round6(e.cost),
                "cost_per_success_usd": if e.costed > 0 && e.tasks_succeeded > 0.0 { json!(round6(e.cost / e.tasks_succeeded)) } else { Value::Null },
                "rule_coverage": ratio(e.covered as f64, e.tasks as f64),
            })
        })
        .collect();

    let lock = super::file::lock(home)?;
    // Re-read under the lock: a concurrent apply or reject may have written since.
    let mut doc = super::file::load(&learning_path)?;
    doc.insert("last_updated".into(), json!(crate::clock::iso(now)));
    doc.insert("total_dispatches".into(), json!(total));
    doc.insert(
        "window".into(),
        json!({
            "since": crate::clock::iso(since),
            "until": crate::clock::iso(now),
            "half_life_days": HALF_LIFE_DAYS,
            "target_success_rate": TARGET,
            "min_sample_size": opts.min_sample_size,
        }),
    );
    super::pattern::write(&mut doc, &patterns);
    doc.insert("weekly".into(), Value::Array(weekly));
    doc.insert(
        "anomalies".into(),
        json!({"total": anomalies_total, "listed": anomalies}),
    );
    doc.insert("health".into(), health.to_json());
    doc.insert("trust".into(), super::trust::table(&label_model));
    if !doc.contains_key("suggestions") {
        doc.insert("suggestions".into(), json!([]));
    }
    super::file::save(&learning_path, &doc)?;
    drop(lock);
    Ok((
        Analysis {
            total_dispatches: total,
            patterns,
        },
        table.map(tasks::Builder::finish),
    ))
}

/// Per-level and per-keyword cutoff times (ms) of the last applied change.
fn cooldown_cutoffs(doc: &Map<String, Value>) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for s in doc
        .get("suggestions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if s.get("status").and_then(Value::as_str) != Some("applied") {
            continue;
        }
        let Some(at) = s
            .get("applied_at")
            .and_then(Value::as_str)
            .and_then(crate::clock::parse)
        else {
            continue;
        };
        if let Some(cell) = suggestion_cell(s) {
            let ms = at.timestamp_millis();
            let e = out.entry(cell).or_insert(ms);
            *e = (*e).max(ms);
        }
    }
    out
}

/// The cell a stored suggestion (modelfit's or the JS analyzer's shape)
/// speaks about: `level` or `level/keyword`, or `*/keyword` for a JS keyword rule.
pub(crate) fn suggestion_cell(s: &Value) -> Option<String> {
    if let Ok(sg) = serde_json::from_value::<Suggestion>(s.clone()) {
        if let Some(c) = sg.extra.get("cell").and_then(Value::as_str) {
            return Some(c.to_string());
        }
        return match &sg.change {
            super::Change::TaskComplexity { level, .. } => Some(level.clone()),
            _ => None,
        };
    }
    // The JS analyzer: group_label "complexity=simple" or "keyword=docs".
    if let Some(g) = s.get("group_label").and_then(Value::as_str) {
        if let Some(l) = g.strip_prefix("complexity=") {
            return Some(l.to_string());
        }
        if let Some(k) = g.strip_prefix("keyword=") {
            return Some(format!("*/{k}"));
        }
    }
    if let Some(l) = s.get("complexity").and_then(Value::as_str) {
        return Some(l.to_string());
    }
    s.get("keyword")
        .and_then(Value::as_str)
        .map(|k| format!("*/{k}"))
}

type KeywordGroups<'a> = BTreeMap<(&'static str, String), Vec<(&'static str, &'a Acc)>>;

fn group_keywords<'a>(
    kw: &'a BTreeMap<(&'static str, usize, &'static str), Acc>,
    names: &[String],
) -> KeywordGroups<'a> {
    let mut out: KeywordGroups<'a> = BTreeMap::new();
    for ((l, k, f), a) in kw {
        out.entry((*l, names[*k].clone())).or_default().push((f, a));
    }
    out
}

fn pattern(
    level: &str,
    keyword: Option<&str>,
    fam: &str,
    acc: &Acc,
    est: &label::SoftEstimate,
    cutoffs: &HashMap<String, i64>,
) -> Pattern {
    let n_eff = stats::kish(acc.sum_w, acc.sum_w2);
    let p = est.rate;
    // The interval on the information-equivalent size: the uncertainty of
    // the source weights widens it.
    let (lo, hi) = stats::wilson(p * est.info, est.info, stats::Z95);
    let post = est.beta();
    let confidence = if acc.n == 0 {
        0.0
    } else {
        (post.cdf((p + 0.10).min(1.0)) - post.cdf((p - 0.10).max(0.0))).clamp(0.0, 1.0)
    };
    let (pattern_id, trigger, cell) = match keyword {
        Some(k) => (
            format!("keyword={k}/complexity={level}/model={fam}"),
            format!("task contains '{k}' and complexity == '{level}'"),
            format!("{level}/{k}"),
        ),
        None => (
            format!("complexity={level}/model={fam}"),
            format!("complexity == '{level}'"),
            level.to_string(),
        ),
    };
    let mean = |sum: f64, n: u64| if n > 0 { sum / n as f64 } else { 0.0 };
    // Task and cost figures on level cells: a task counts once, on its first attempt's cell.
    let cost = keyword.is_none().then(|| PatternCost {
        tasks: acc.tasks,
        tasks_succeeded: round4(acc.tasks_succeeded),
        cost_usd: round6(acc.cost_sum),
        cost_coverage: round4(ratio(acc.costed as f64, acc.attempts as f64).unwrap_or(0.0)),
        // Attempts without a cost are charged the cell's mean attempt cost.
        cost_per_success_usd: (acc.costed * 2 >= acc.attempts
            && acc.costed > 0
            && acc.tasks_succeeded > 0.0)
            .then(|| {
                round6(acc.cost_sum * acc.attempts as f64 / acc.costed as f64 / acc.tasks_succeeded)
            }),
        mean_attempt_cost_usd: (acc.costed > 0).then(|| round6(acc.cost_sum / acc.costed as f64)),
    });
    Pattern {
        pattern_id,
        trigger,
        complexity: level.to_string(),
        keyword: keyword.map(str::to_string),
        model: acc.latest_model.clone(),
        success_rate: round4(p),
        sample_size: acc.n,
        avg_tokens: mean(acc.tokens_sum, acc.tokens_n).round(),
        confidence: round4(confidence),
        model_family: fam.to_string(),
        model_versions: acc.versions.clone(),
        cell: cell.clone(),
        successes: round4(acc.s),
        failures: round4(acc.n as f64 - acc.s),
        partial: acc.partial,
        unknown: acc.unknown,
        questioned: acc.questioned,
        effective_sample_size: round4(n_eff),
        weighted_successes: round4(p * n_eff),
        information_size: Some(round4(est.info)),
        labels: PatternLabels {
            judged: acc.soft.nl,
            judged_successes: acc.soft.y,
            implicit_rate: ratio(acc.soft.wq, acc.soft.w),
            shift: round4(est.shift.mean),
            shift_sd: round4(est.shift.var.sqrt()),
            own_rate: est.own.map(|o| round4(o.0)),
            own_sd: est.own.map(|o| round4(o.1)),
        },
        wilson_95: [round4(lo), round4(hi)],
        avg_execution_time_seconds: (mean(acc.time_sum, acc.time_n) * 10.0).round() / 10.0,
        attempts: acc.attempts,
        retries: acc.retries,
        escalations: acc.escalations,
        explored: acc.explored,
        explored_successes: round4(acc.explored_s),
        overrides: acc.overrides,
        without_tokens: acc.without_tokens,
        anomalies: acc.anomalies,
        cost,
        effective_n_since_change: cutoffs
            .contains_key(&cell)
            .then(|| round4(stats::kish(acc.after_w, acc.after_w2))),
        suggestion: None,
    }
}

/// The retry link as a source: a later attempt that links to this one says
/// it failed; no such attempt is weak evidence of success, counted only when
/// the record carries some other evidence (a pending dispatch is not a success).
fn set_retry_link(ev: &mut label::Evidence, retried: bool) {
    // A person's failure verdict is itself why the task was retried: the
    // retry is then no evidence beside it, and counting it would explain
    // away the very failures (silent to every other source) people catch.
    if retried && ev.explicit == Some(false) {
        return;
    }
    if retried {
        ev.set(DERIVED, false);
    } else if ev.has_implicit() || ev.explicit.is_some() {
        ev.set(DERIVED, true);
    }
}

/// Prices a total token count: pricing's input rate for 90% of the tokens
/// and its output rate for 10% (the ledger keeps only the total).
fn estimate_cost(pricing: &Pricing, model: &str, tokens: f64) -> Option<f64> {
    let (price, _) = pricing.price(model);
    price.map(|p| (tokens * 0.9 * p.input_per_mtok + tokens * 0.1 * p.output_per_mtok) / 1e6)
}

fn load_selections(home: &Home) -> HashMap<String, Vec<Selection>> {
    let mut out: HashMap<String, Vec<Selection>> = HashMap::new();
    let Ok(text) = std::fs::read_to_string(home.selections()) else {
        return out;
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(fp), Some(at)) = (
            v.get("task_fp").and_then(Value::as_str),
            v.get("at")
                .and_then(Value::as_str)
                .and_then(crate::clock::parse),
        ) else {
            continue;
        };
        out.entry(fp.to_string()).or_default().push(Selection {
            at_ms: at.timestamp_millis(),
            family: v
                .get("model")
                .and_then(Value::as_str)
                .and_then(models::family),
            rule_family: v
                .get("rule_model")
                .and_then(Value::as_str)
                .and_then(models::family),
            explored: v.get("explored").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    out
}

fn match_selection(
    sels: &HashMap<String, Vec<Selection>>,
    text: &str,
    at_ms: i64,
    fam: &'static str,
) -> Option<Selection> {
    let fp = crate::signals::task_fingerprint(text);
    sels.get(&fp)?
        .iter()
        .filter(|s| s.family == Some(fam))
        .filter(|s| s.at_ms >= at_ms - JOIN_BEFORE_MS && s.at_ms <= at_ms + JOIN_AFTER_MS)
        .min_by_key(|s| (s.at_ms - at_ms).abs())
        .cloned()
}

/// The Monday of `t`'s week as a day number (days since 1970-01-01).
fn week_key(t: DateTime<Utc>) -> i64 {
    let days = t.timestamp().div_euclid(86_400);
    // 1970-01-01 was a Thursday: shift so Mondays are multiples of 7.
    days - (days + 3).rem_euclid(7)
}

fn week_label(day: i64) -> String {
    (DateTime::<Utc>::UNIX_EPOCH + Duration::days(day))
        .format("%Y-%m-%d")
        .to_string()
}

/// Monday of the ISO week of `t`, as `YYYY-MM-DD`.
pub(crate) fn week_start(t: DateTime<Utc>) -> String {
    let d = t.date_naive();
    let monday = d - chrono::Days::new(d.weekday().num_days_from_monday() as u64);
    monday.format("%Y-%m-%d").to_string()
}

/// The cells' shifts (`mean(y − q)` on judged tasks), shrunk toward their parents.
struct Shifts {
    tau2: f64,
    sigma2: f64,
    global: label::Shift,
    levels: HashMap<(&'static str, &'static str), label::Shift>,
}

impl Shifts {
    fn of(
        cells: &BTreeMap<(&'static str, &'static str), Acc>,
        _kw: &BTreeMap<(&'static str, usize, &'static str), Acc>,
    ) -> Shifts {
        let mut all = SoftSums::default();
        for a in cells.values() {
            let s = &a.soft;
            all.w += s.w;
            all.w2 += s.w2;
            all.wl += s.wl;
            all.wl2 += s.wl2;
            all.wr += s.wr;
            all.wr2 += s.wr2;
            all.nl += s.nl;
        }
        // Pooled variance of y − q on judged tasks (a prior for small cells).
        let sigma2 = if all.wl > 0.0 {
            let r = all.wr / all.wl;
            ((all.wr2 / all.wl - r * r) * all.nl + 2.0 * 0.1) / (all.nl + 2.0)
        } else {
            0.1
        };
        let global = match all.raw_shift(sigma2) {
            Some((mean, var)) => label::Shift { mean, var },
            None => label::Shift {
                mean: 0.0,
                var: 0.0,
            },
        };
        let raws: Vec<(f64, f64)> = cells
            .values()
            .filter(|a| a.soft.nl >= 3.0)
            .filter_map(|a| a.soft.raw_shift(sigma2))
            .collect();
        let tau2 = label::tau2(&raws);
        let levels = cells
            .iter()
            .map(|(k, a)| {
                (
                    *k,
                    label::shrink_shift(a.soft.raw_shift(sigma2), global, tau2),
                )
            })
            .collect();
        Shifts {
            tau2,
            sigma2,
            global,
            levels,
        }
    }

    fn level(&self, key: &(&'static str, &'static str)) -> label::Shift {
        self.levels.get(key).copied().unwrap_or(label::Shift {
            mean: self.global.mean,
            var: self.tau2 + self.global.var,
        })
    }

    fn keyword(&self, parent: &(&'static str, &'static str), s: &SoftSums) -> label::Shift {
        label::shrink_shift(s.raw_shift(self.sigma2), self.level(parent), self.tau2)
    }
}

#[derive(Debug, Default)]
struct Health {
    batch_records: u64,
    no_model: u64,
    no_complexity: u64,
    undated: u64,
    before_window: u64,
    /// The oldest and newest creation times among the records before the
    /// window, so "nothing found" can say by how much they missed it.
    before_window_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    unrecognised: BTreeMap<String, u64>,
    unknown_by_model: BTreeMap<&'static str, u64>,
    known_by_model: BTreeMap<&'static str, u64>,
    without_tokens_by_model: BTreeMap<&'static str, u64>,
}

impl Health {
    fn to_json(&self) -> Value {
        let mut unknown = Map::new();
        let mut rates = Vec::new();
        for fam in models::FAMILIES {
            let u = *self.unknown_by_model.get(fam).unwrap_or(&0);
            let k = *self.known_by_model.get(fam).unwrap_or(&0);
            if u + k == 0 {
                continue;
            }
            let rate = u as f64 / (u + k) as f64;
            rates.push(rate);
            unknown.insert(
                fam.into(),
                json!({"unknown": u, "attempts": u + k, "rate": round4(rate)}),
            );
        }
        let gap = if rates.len() >= 2 {
            rates.iter().cloned().fold(f64::MIN, f64::max)
                - rates.iter().cloned().fold(f64::MAX, f64::min)
        } else {
            0.0
        };
        json!({
            "unknown_outcomes_by_model": unknown,
            "without_tokens_by_model": self.without_tokens_by_model,
            "informative_missingness": gap > 0.05,
            "unknown_rate_gap": round4(gap),
            "batch_records": self.batch_records,
            "records_without_model": self.no_model,
            "records_without_complexity": self.no_complexity,
            "records_without_date": self.undated,
            "records_before_window": self.before_window,
            "before_window_oldest": self.before_window_span.map(|(lo, _)| crate::clock::iso(lo)),
            "before_window_newest": self.before_window_span.map(|(_, hi)| crate::clock::iso(hi)),
            "unrecognised_models": self.unrecognised,
        })
    }
}

/// `a / b`, or `None` when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| round4(a / b))
}

pub(crate) fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

pub(crate) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Statuses as stored: used by suggest and report.
pub(crate) fn status_of(v: &Value) -> Status {
    match v.get("status").and_then(Value::as_str) {
        Some("applied") => Status::Applied,
        Some("rejected") => Status::Rejected,
        _ => Status::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_that_follows_a_person_s_failure_verdict_is_not_evidence() {
        let mut hook_ok = label::Evidence::default();
        hook_ok.set(0, true);
        // Unjudged and retried: the retry says the attempt failed.
        let mut e = hook_ok;
        set_retry_link(&mut e, true);
        assert_eq!(e.get(DERIVED), Some(false));
        // A person said it failed, and the retry followed: no second verdict.
        let mut e = label::Evidence {
            explicit: Some(false),
            ..hook_ok
        };
        set_retry_link(&mut e, true);
        assert_eq!(e.get(DERIVED), None);
        // Not retried: weak evidence of success.
        let mut e = label::Evidence {
            explicit: Some(false),
            ..hook_ok
        };
        set_retry_link(&mut e, false);
        assert_eq!(e.get(DERIVED), Some(true));
    }
}
