//! The task table of the window, read by the impact preview
//! ([`super::impact`]) and the orchestrator's level suggestions
//! ([`super::levels`]): every first attempt of the last 90 days, its level,
//! its kind (`level/keyword`, the orchestrator's keyword labeller's first
//! label by [`KIND_ORDER`], else `other`), the model family it ran on, its
//! outcome (explicit verdict, else failure when a later retry links to it,
//! else the orchestrator's status; unknown is left out of the rates), its
//! decay weight (half-life 30 days) and its cost.
//!
//! The rows are made from the same record view as `analyze`'s second pass
//! ([`super::view::Rec`]) by the pure [`row`], so `modelfit learn` builds the
//! table while it analyses (one read of the ledger serves both) and hands it
//! to `suggest` through a [`TaskSource`]; `learn suggest`, `learn apply
//! --dry-run` and `learn impact` load it on their own, on every core.
//!
//! Memory: one entry per distinct (level, text) with its kind, 4 bytes per
//! first attempt, and the per-kind and per-level sums; never the records.

use std::cell::OnceCell;
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::analyze::{HALF_LIFE_DAYS, WINDOW_DAYS};
use super::models::{self, FAMILIES, LEVELS};
use super::pooled::Records;
use super::scan::{self, read_pass};
use super::stats::{self, Beta};
use super::view::{id_hash, IdSet, Links, Rec};
use crate::error::Result;
use crate::home::Home;
use crate::pricing::Pricing;
use crate::store::Ledger;

/// Pseudo-counts of the level prior of a kind's rate.
pub const PRIOR_MASS: f64 = 4.0;

/// Which keyword names a task's kind when it has several.
pub const KIND_ORDER: [&str; 11] = [
    "architecture",
    "design",
    "docs",
    "security",
    "performance",
    "database",
    "refactor",
    "test",
    "api",
    "bug",
    "fix",
];

/// The kind of a task: `level/keyword`. A task the orchestrator's mappings
/// move (it names a README, `docs`, `design`, …) counts as `docs` or
/// `design` even where the labeller's word boundaries miss it (`Redesign`).
pub fn kind(level: &str, text: &str) -> String {
    let mut kws = crate::signals::keywords(text);
    let lower = text.to_lowercase();
    if ["readme", "documentation", "docs"]
        .iter()
        .any(|w| lower.contains(w))
    {
        kws.push("docs".into());
    }
    if ["architecture", "design"].iter().any(|w| lower.contains(w)) {
        kws.push("design".into());
    }
    let k = KIND_ORDER
        .iter()
        .find(|k| kws.iter().any(|x| x == *k))
        .copied()
        .unwrap_or("other");
    format!("{level}/{k}")
}

/// What the routers read of a first attempt: tasks with the same level and
/// text share one.
#[derive(Debug, Clone)]
pub struct Task {
    /// Its complexity level (index into [`LEVELS`]).
    pub level: usize,
    /// The text the routers read (`original_task`, else `task`).
    pub text: String,
    /// `level/keyword`.
    pub kind: String,
}

/// The table's window: records created from `since` to a day after `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) since: DateTime<Utc>,
    pub(crate) now: DateTime<Utc>,
}

impl Window {
    /// The last [`WINDOW_DAYS`] days before `now`.
    pub(crate) fn last_days(now: DateTime<Utc>) -> Window {
        Window {
            since: now - Duration::days(WINDOW_DAYS),
            now,
        }
    }
}

/// One first attempt of the window, as a worker reads it.
#[derive(Debug)]
pub(crate) struct Row {
    level: usize,
    text: String,
    family: Option<usize>,
    success: Option<bool>,
    weight: f64,
    cost: Option<f64>,
}

/// The row of record `r`, or `None` unless it is a first attempt (no
/// `previous_dispatch_id`) of the window with a level. `linked`: hashes
/// ([`id_hash`]) of every id a retry links to, over the whole ledger.
pub(crate) fn row(r: &Rec, window: &Window, linked: &IdSet, pricing: &Pricing) -> Option<Row> {
    if r.previous_dispatch_id
        .as_deref()
        .is_some_and(|p| !p.is_empty())
        || r.batch == Some(true)
    {
        return None;
    }
    let t = r.created_at.flatten()?;
    if t < window.since || t > window.now + Duration::days(1) {
        return None;
    }
    let level = r.complexity?.index;
    let age = (window.now - t).num_milliseconds().max(0) as f64 / 86_400_000.0;
    let weight = stats::decay_weight(age, HALF_LIFE_DAYS, None);
    let text = r
        .original_task
        .clone()
        .or_else(|| r.task.clone())
        .unwrap_or_default();
    let family = r
        .model
        .as_deref()
        .and_then(models::family)
        .and_then(|f| FAMILIES.iter().position(|x| *x == f));
    let explicit = r.outcome.as_deref().map(|o| o.trim().to_ascii_lowercase());
    let success = match explicit.as_deref() {
        Some("success") => Some(true),
        Some("failure") | Some("partial") => Some(false),
        _ if r
            .id
            .as_deref()
            .is_some_and(|id| !id.is_empty() && linked.contains(&id_hash(id))) =>
        {
            Some(false)
        }
        _ => match r.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("complete") | Some("completed") => Some(true),
            Some("failed") | Some("error") | Some("timeout") => Some(false),
            _ => None,
        },
    };
    let cost = r.cost_usd.or_else(|| {
        let (price, _) = pricing.price(r.model.as_deref()?);
        let tokens = r.tokens_used?;
        price.map(|p| (tokens * 0.9 * p.input_per_mtok + tokens * 0.1 * p.output_per_mtok) / 1e6)
    });
    Some(Row {
        level,
        text,
        family,
        success,
        weight,
        cost,
    })
}

/// Decayed (Σw, Σw·success, Σw²).
type Sums = (f64, f64, f64);

/// The window's first attempts and what they say per kind and model.
#[derive(Debug, Clone, Default)]
pub struct TaskTable {
    /// The distinct (level, text) of the window's first attempts.
    distinct: Vec<Task>,
    /// Every first attempt in ledger order, as an index into `distinct`.
    order: Vec<u32>,
    /// Mean attempt cost per family (USD), when any attempt has one.
    pub mean_cost: [Option<f64>; 3],
    /// Start of the window.
    pub since: String,
    /// Per kind, per family.
    kinds: HashMap<String, [Sums; 3]>,
    /// Per (level, family).
    levels: HashMap<(usize, usize), Sums>,
}

/// Adds rows to a table in ledger order.
pub(crate) struct Builder {
    table: TaskTable,
    /// Per hash of (level, text), the last entry of `distinct` with it;
    /// `chain[i]` the entry before `i` with the same hash (each text is kept once).
    head: HashMap<u64, u32>,
    chain: Vec<u32>,
    cost_sum: [(f64, f64); 3],
}

impl Builder {
    /// An empty table of `window`.
    pub(crate) fn new(window: &Window) -> Builder {
        Builder {
            table: TaskTable {
                since: crate::clock::iso(window.since),
                ..TaskTable::default()
            },
            head: HashMap::new(),
            chain: Vec::new(),
            cost_sum: [(0.0, 0.0); 3],
        }
    }

    /// Adds the next first attempt.
    pub(crate) fn add(&mut self, r: Row) {
        let t = &mut self.table;
        let h = id_hash(&r.text) ^ r.level as u64;
        let mut at = self.head.get(&h).copied().unwrap_or(u32::MAX);
        while at != u32::MAX {
            let d = &t.distinct[at as usize];
            if d.level == r.level && d.text == r.text {
                break;
            }
            at = self.chain[at as usize];
        }
        let i = if at != u32::MAX {
            at
        } else {
            let i = t.distinct.len() as u32;
            self.chain.push(self.head.insert(h, i).unwrap_or(u32::MAX));
            t.distinct.push(Task {
                level: r.level,
                kind: kind(LEVELS[r.level], &r.text),
                text: r.text,
            });
            i
        };
        t.order.push(i);
        if let (Some(f), Some(c)) = (r.family, r.cost) {
            self.cost_sum[f].0 += c;
            self.cost_sum[f].1 += 1.0;
        }
        if let (Some(f), Some(ok)) = (r.family, r.success) {
            let w = r.weight;
            let s = if ok { w } else { 0.0 };
            let kind = &t.distinct[i as usize].kind;
            let k = match t.kinds.get_mut(kind.as_str()) {
                Some(k) => k,
                None => t.kinds.entry(kind.clone()).or_default(),
            };
            for e in [&mut k[f], t.levels.entry((r.level, f)).or_default()] {
                e.0 += w;
                e.1 += s;
                e.2 += w * w;
            }
        }
    }

    /// The table.
    pub(crate) fn finish(mut self) -> TaskTable {
        for (f, (sum, n)) in self.cost_sum.iter().enumerate() {
            if *n > 0.0 {
                self.table.mean_cost[f] = Some(sum / n);
            }
        }
        self.table
    }
}

impl TaskTable {
    /// Reads the last 90 days of the ledger of `home`.
    pub fn load(home: &Home) -> Result<TaskTable> {
        let now = crate::clock::now();
        Self::load_since(home, now - Duration::days(WINDOW_DAYS), now)
    }

    /// Reads the ledger from `since` to `now`.
    pub fn load_since(home: &Home, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<TaskTable> {
        let pricing = Pricing::load(&home.pricing());
        load_over(&Ledger::of(home), &Window { since, now }, &pricing)
    }

    /// Every first attempt of the window, in ledger order.
    pub fn tasks(&self) -> impl ExactSizeIterator<Item = &Task> + '_ {
        self.order.iter().map(|i| &self.distinct[*i as usize])
    }

    /// Every first attempt of the window as an index into [`Self::distinct`].
    pub fn task_indices(&self) -> &[u32] {
        &self.order
    }

    /// The distinct (level, text) of the window's first attempts.
    pub fn distinct(&self) -> &[Task] {
        &self.distinct
    }

    /// First attempts in the window.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// No first attempt in the window.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Posterior of the level's rate on family `f` (Jeffreys).
    pub fn level_posterior(&self, level: usize, f: usize) -> Beta {
        let (w, s, w2) = self.levels.get(&(level, f)).copied().unwrap_or_default();
        let n = stats::kish(w, w2);
        let scale = if w > 0.0 { n / w } else { 0.0 };
        Beta::jeffreys(s * scale, n)
    }

    fn kind_sums(&self, kind: &str, f: usize) -> Sums {
        self.kinds.get(kind).map(|k| k[f]).unwrap_or_default()
    }

    /// Posterior of kind `kind`'s rate on family `f`, shrunk toward its level.
    pub fn kind_posterior(&self, kind: &str, f: usize) -> Beta {
        let level = kind
            .split('/')
            .next()
            .and_then(|l| LEVELS.iter().position(|x| *x == l))
            .unwrap_or(1);
        let prior = self.level_posterior(level, f).mean();
        let (w, s, w2) = self.kind_sums(kind, f);
        let n = stats::kish(w, w2);
        let scale = if w > 0.0 { n / w } else { 0.0 };
        Beta::with_prior(prior, PRIOR_MASS, s * scale, n)
    }

    /// Effective number of outcomes of kind `kind` on family `f`.
    pub fn kind_n(&self, kind: &str, f: usize) -> f64 {
        let (w, _, w2) = self.kind_sums(kind, f);
        stats::kish(w, w2)
    }

    /// Mean cost of one attempt on family `f`: measured, else list-price
    /// ratios scaled to a measured family, else the relative price alone.
    pub fn attempt_cost(&self, f: usize) -> f64 {
        if let Some(c) = self.mean_cost[f] {
            return c;
        }
        let rel = |i: usize| models::relative_price(FAMILIES[i]);
        (0..3)
            .find_map(|g| self.mean_cost[g].map(|c| c * rel(f) / rel(g)))
            .unwrap_or(rel(f))
    }
}

/// The table of `window` over `ledger`: one parallel pass for the retry
/// links, one for the rows.
pub(crate) fn load_over<L: Records>(
    ledger: &L,
    window: &Window,
    pricing: &Pricing,
) -> Result<TaskTable> {
    let threads = scan::threads();
    let mut linked = IdSet::default();
    read_pass(
        ledger,
        threads,
        |l: Links| l.previous_dispatch_id,
        &mut |h: Option<u64>| {
            if let Some(h) = h {
                linked.insert(h);
            }
        },
    )?;
    let mut table = Builder::new(window);
    read_pass(
        ledger,
        threads,
        |r: Rec| row(&r, window, &linked, pricing),
        &mut |r: Option<Row>| {
            if let Some(r) = r {
                table.add(r);
            }
        },
    )?;
    Ok(table.finish())
}

/// The task table one `suggest` run reads: the one `modelfit learn` built
/// while analysing, else loaded from the ledger on first use (once, however
/// many parts of suggest read it).
pub struct TaskSource<'h> {
    home: &'h Home,
    table: OnceCell<TaskTable>,
}

impl<'h> TaskSource<'h> {
    /// Loads `home`'s table when first asked.
    pub fn lazy(home: &'h Home) -> TaskSource<'h> {
        TaskSource {
            home,
            table: OnceCell::new(),
        }
    }

    /// A table already built (by [`super::analyze_with_tasks`]).
    pub fn ready(home: &'h Home, table: TaskTable) -> TaskSource<'h> {
        TaskSource {
            home,
            table: OnceCell::from(table),
        }
    }

    /// The table.
    pub fn get(&self) -> Result<&TaskTable> {
        if let Some(t) = self.table.get() {
            return Ok(t);
        }
        let t = TaskTable::load(self.home)?;
        Ok(self.table.get_or_init(|| t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::simulate::{self, World};

    /// The ledger, read as one stream (what small files and the database get).
    struct Stream(Ledger);

    impl Records for Stream {
        fn for_each<T, F>(&self, f: F) -> Result<()>
        where
            T: serde::de::DeserializeOwned,
            F: FnMut(T) -> bool,
        {
            self.0.for_each(f)
        }
    }

    fn same(a: &TaskTable, b: &TaskTable) {
        assert_eq!(a.order, b.order);
        assert_eq!(a.since, b.since);
        assert_eq!(a.mean_cost, b.mean_cost);
        let texts = |t: &TaskTable| -> Vec<(usize, String, String)> {
            t.distinct
                .iter()
                .map(|d| (d.level, d.text.clone(), d.kind.clone()))
                .collect()
        };
        assert_eq!(texts(a), texts(b));
        assert_eq!(a.kinds, b.kinds);
        assert_eq!(a.levels, b.levels);
    }

    #[test]
    fn one_table_however_the_ledger_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let mut world = World::scenarios()
            .into_iter()
            .find(|w| w.name == "underperforming")
            .unwrap();
        // Big enough to be split across threads; all inside the window.
        world.days = 60.0;
        world.per_day = 300.0;
        let now = crate::clock::now();
        let ledger = Ledger::of(&home);
        simulate::write_ledger(&world, 7, now - Duration::days(1), ledger.path()).unwrap();
        assert!(std::fs::metadata(ledger.path()).unwrap().len() > scan::MIN_PARALLEL_BYTES);

        let window = Window::last_days(now);
        let pricing = Pricing::load(&home.pricing());
        let parallel = load_over(&ledger, &window, &pricing).unwrap();
        let stream = load_over(&Stream(Ledger::of(&home)), &window, &pricing).unwrap();
        assert!(parallel.len() > 10_000, "{}", parallel.len());
        assert!(parallel.distinct().len() < 200);
        same(&parallel, &stream);

        // Built by the analysis' second pass: the same rows. Its clock is
        // later by however long the test took, and the decay is exponential,
        // so every weight is scaled by one factor c (c² for Σw²): compare up
        // to that factor, which is clock-proof and still catches any row
        // counted differently.
        let (_, built) =
            crate::learn::analyze_with_tasks(&home, &crate::learn::AnalyzeOptions::default())
                .unwrap();
        assert_eq!(built.order, parallel.order);
        assert_eq!(built.mean_cost, parallel.mean_cost);
        let total = |t: &TaskTable| t.kinds.values().flatten().map(|s| s.0).sum::<f64>();
        let c = total(&built) / total(&parallel);
        assert!(
            c > 0.99 && c <= 1.0,
            "the clock went back or a day passed: {c}"
        );
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
        assert_eq!(built.kinds.len(), parallel.kinds.len());
        for (k, v) in &parallel.kinds {
            for (f, (a, b)) in v.iter().zip(&built.kinds[k]).enumerate() {
                assert!(close(c * a.0, b.0), "{k} {f}: {a:?} {b:?} (c = {c})");
                assert!(close(c * a.1, b.1), "{k} {f}: {a:?} {b:?} (c = {c})");
                assert!(close(c * c * a.2, b.2), "{k} {f}: {a:?} {b:?} (c = {c})");
            }
        }
    }
}
