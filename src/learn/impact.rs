//! The impact of a suggestion before it is applied: the last 90 days' tasks
//! it would have moved under the router in use, how many, from which model
//! to which, by kind, with the expected change in first-attempt success and
//! cost per success.
//!
//! It reads the window's task table ([`super::tasks`]), which also feeds the
//! orchestrator's level suggestions ([`super::levels`]): every first attempt
//! of the window, its level, its kind (`level/keyword`, the orchestrator's
//! keyword labeller's first label by [`KIND_ORDER`], else `other`), the
//! model family it ran on, its outcome (explicit verdict, else failure when
//! a later retry links to it, else the orchestrator's status; unknown is left
//! out of the rates), its decay weight (half-life 30 days) and its cost.
//!
//! Expected success of a kind on a model: a Beta posterior of the kind's
//! decayed counts on that model, with a prior of mass [`PRIOR_MASS`] centred
//! on the level's rate for that model (Jeffreys-smoothed), so a kind never
//! tried on a model is estimated as its level, with a wide interval. Cost
//! per success: the model's mean attempt cost over its success rate
//! (retries on the same model).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::analyze::WINDOW_DAYS;
use super::models::{self, FAMILIES, LEVELS};
use super::stats::Beta;
use super::Change;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::router::Router;

pub use super::tasks::{kind, Task, TaskSource, TaskTable, KIND_ORDER, PRIOR_MASS};

/// Posterior mean and variance of a Beta.
pub fn mean_var(b: &Beta) -> (f64, f64) {
    let m = b.mean();
    let n = b.a + b.b;
    (m, m * (1.0 - m) / (n + 1.0))
}

/// One row of an impact table: the tasks of one kind moved from one model to another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImpactRow {
    /// `level/keyword`.
    pub kind: String,
    /// Model id before.
    pub from: String,
    /// Model id after.
    pub to: String,
    /// Tasks moved in the window.
    pub tasks: u64,
    /// Expected first-attempt success before (0–1).
    pub success_before: f64,
    /// Expected first-attempt success after (0–1).
    pub success_after: f64,
    /// Expected cost per success before (USD).
    pub cost_per_success_before: f64,
    /// Expected cost per success after (USD).
    pub cost_per_success_after: f64,
}

/// What a suggestion would have done to the window's tasks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Impact {
    /// The router it was judged under.
    pub router: String,
    /// Start of the window (ISO).
    pub since: String,
    /// Tasks in the window.
    pub tasks_in_window: u64,
    /// Tasks whose model would change.
    pub tasks_moved: u64,
    /// By kind and from → to.
    pub rows: Vec<ImpactRow>,
    /// Expected success of the moved tasks, before and after (0–1).
    pub success_before: f64,
    /// See `success_before`.
    pub success_after: f64,
    /// Expected change in success over the moved tasks, in points.
    pub success_change_points: f64,
    /// Expected cost per success of the moved tasks, before and after (USD).
    pub cost_per_success_before: f64,
    /// See `cost_per_success_before`.
    pub cost_per_success_after: f64,
    /// What a person should know (e.g. a change that moves nothing under this router).
    pub notes: Vec<String>,
}

/// models.json with `change` applied (the value the routers would read next).
pub fn models_after(models: &Value, change: &Change) -> Value {
    let mut v = models.clone();
    if !v.is_object() {
        v = json!({});
    }
    match change {
        Change::TaskComplexity { level, to, .. } => {
            let tc = v
                .as_object_mut()
                .expect("an object")
                .entry("task_complexity")
                .or_insert_with(|| json!({}));
            if let Some(tc) = tc.as_object_mut() {
                let l = tc.entry(level.clone()).or_insert_with(|| json!({}));
                if let Some(l) = l.as_object_mut() {
                    l.insert("model".into(), json!(to));
                }
            }
        }
        Change::AddRule { rule } => {
            let rules = v
                .as_object_mut()
                .expect("an object")
                .entry("rules")
                .or_insert_with(|| json!([]));
            if let Some(a) = rules.as_array_mut() {
                a.push(json!({"if": rule.condition, "use": rule.model}));
            }
        }
        Change::ModifyRule { index, rule, .. } => {
            if let Some(r) = v.pointer_mut(&format!("/rules/{index}")) {
                *r = json!({"if": rule.condition, "use": rule.model});
            }
        }
    }
    v
}

/// The model a router gives a task under `models` (`None`: no model).
fn route(
    router: Router,
    models: Option<&Value>,
    pricing: &[String],
    level: &str,
    text: &str,
) -> Option<String> {
    match router {
        Router::Orchestrator => crate::router::orchestrator_route(models, level, text)
            .model()
            .map(str::to_string),
        Router::Rules => {
            let path = std::path::Path::new("models.json");
            let m = models
                .map(|v| crate::rules::Models::from_value(v, path))
                .unwrap_or_default();
            let (id, _) = crate::rules::route(
                &m,
                models.is_none(),
                level,
                text,
                None,
                pricing,
                &mut |_, _, _| {},
            );
            Some(id)
        }
    }
}

/// Tasks, Σ success before, after, Σ cost before, after.
type Sums = (u64, f64, f64, f64, f64);

/// What a change does to the tasks of one (level, text): the row they
/// move to (`None`: they stay), and each one's expected success and
/// attempt cost before and after.
#[derive(Debug, Clone, Default)]
struct Moved {
    row: Option<usize>,
    pb: f64,
    pa: f64,
    cb: f64,
    ca: f64,
}

/// The impact of `change` on the tasks of `table` under `router`, with
/// models.json as `models` (`None`: missing).
pub fn impact(
    table: &TaskTable,
    models: Option<&Value>,
    pricing: &[String],
    router: Router,
    change: &Change,
) -> Impact {
    let after = models_after(models.unwrap_or(&Value::Null), change);
    let fam = |id: &str| models::family(id).and_then(|f| FAMILIES.iter().position(|x| *x == f));
    // Route once per distinct (level, text): texts repeat a lot. Per task in
    // ledger order, only the sums of its row move.
    let mut per_text: Vec<Option<Moved>> = vec![None; table.distinct().len()];
    let mut keys: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut sums: Vec<Sums> = Vec::new();
    let mut moved = 0u64;
    for &i in table.task_indices() {
        let m = per_text[i as usize].get_or_insert_with(|| {
            let t = &table.distinct()[i as usize];
            let before = route(router, models, pricing, LEVELS[t.level], &t.text);
            let aft = route(router, Some(&after), pricing, LEVELS[t.level], &t.text);
            let (Some(b), Some(a)) = (before, aft) else {
                return Moved::default();
            };
            if a == b {
                return Moved::default();
            }
            let (pb, pa) = match (fam(&b), fam(&a)) {
                (Some(fb), Some(fa)) => (
                    table.kind_posterior(&t.kind, fb).mean(),
                    table.kind_posterior(&t.kind, fa).mean(),
                ),
                _ => (f64::NAN, f64::NAN),
            };
            let cb = fam(&b).map_or(f64::NAN, |f| table.attempt_cost(f));
            let ca = fam(&a).map_or(f64::NAN, |f| table.attempt_cost(f));
            let n = keys.len();
            let row = *keys.entry((t.kind.clone(), b, a)).or_insert(n);
            if row == sums.len() {
                sums.push(Sums::default());
            }
            Moved {
                row: Some(row),
                pb,
                pa,
                cb,
                ca,
            }
        });
        let Some(row) = m.row else {
            continue;
        };
        moved += 1;
        let e = &mut sums[row];
        e.0 += 1;
        e.1 += m.pb;
        e.2 += m.pa;
        e.3 += m.cb;
        e.4 += m.ca;
    }
    let (mut sb, mut sa, mut cb, mut ca) = (0.0, 0.0, 0.0, 0.0);
    let rows: Vec<ImpactRow> = keys
        .into_iter()
        .map(|((kind, from, to), row)| {
            let (n, pb, pa, cost_b, cost_a) = sums[row];
            sb += pb;
            sa += pa;
            cb += cost_b;
            ca += cost_a;
            let nf = n as f64;
            ImpactRow {
                kind,
                from,
                to,
                tasks: n,
                success_before: round3(pb / nf),
                success_after: round3(pa / nf),
                cost_per_success_before: round4(cost_b / pb.max(1e-9)),
                cost_per_success_after: round4(cost_a / pa.max(1e-9)),
            }
        })
        .collect();
    let mut notes = Vec::new();
    if moved == 0 {
        notes.push(match (router, change) {
            (Router::Orchestrator, Change::AddRule { .. } | Change::ModifyRule { .. }) => {
                "moves no task under the orchestrator's router: its selectModel never reads a \
                 rule's `use` (only rules whose `if` names architecture/design or \
                 documentation/readme move tasks, to the complex or simple level's model); \
                 route by `modelfit select` (`modelfit config router rules`) for it to take effect"
                    .to_string()
            }
            _ => "moves no task of the window".to_string(),
        });
    }
    let m = moved.max(1) as f64;
    Impact {
        router: router.name().into(),
        since: table.since.clone(),
        tasks_in_window: table.len() as u64,
        tasks_moved: moved,
        rows,
        success_before: round3(sb / m),
        success_after: round3(sa / m),
        success_change_points: round3((sa - sb) / m * 100.0),
        cost_per_success_before: round4(cb / sb.max(1e-9)),
        cost_per_success_after: round4(ca / sa.max(1e-9)),
        notes,
    }
}

fn round3(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn round4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10000.0).round() / 10000.0
    } else {
        0.0
    }
}

/// The impact of suggestion `id` of `home`'s learning file under the router in use.
pub fn preview(home: &Home, id: &str) -> Result<Impact> {
    let doc = super::file::load(&home.learning())?;
    let s = doc
        .get("suggestions")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
        })
        .ok_or_else(|| {
            Error::Invalid(format!(
                "no suggestion with id {id:?} in {}; `modelfit learn report` lists them",
                home.learning().display()
            ))
        })?;
    let change: Change = match s.get("change") {
        Some(c) => serde_json::from_value(c.clone()).map_err(|e| Error::Shape {
            path: home.learning(),
            message: format!("suggestion {id} has a \"change\" modelfit cannot read ({e})"),
        })?,
        None => super::apply::analyzer_change(s).ok_or_else(|| {
            Error::Invalid(format!(
                "suggestion {id} came from the orchestrator's model-learning-analyzer and names \
                 no exact change, so its impact cannot be previewed"
            ))
        })?,
    };
    let table = TaskTable::load(home)?;
    of_change(home, &table, &change)
}

/// The impact of `change` on `table` under `home`'s router and models.json.
pub fn of_change(home: &Home, table: &TaskTable, change: &Change) -> Result<Impact> {
    let models = crate::router::load_models(home)?;
    let pricing = crate::rules::pricing_ids(&home.pricing());
    let router = crate::router::current(home).router;
    Ok(impact(table, models.as_ref(), &pricing, router, change))
}

/// Adds `impact` to each open suggestion (one task table for all).
pub fn attach(home: &Home, tasks: &TaskSource, open: &mut [super::Suggestion]) -> Result<()> {
    if open.is_empty() {
        return Ok(());
    }
    let table = tasks.get()?;
    for s in open.iter_mut() {
        let i = of_change(home, table, &s.change)?;
        s.extra.insert(
            "impact".into(),
            serde_json::to_value(&i).expect("an impact serializes"),
        );
    }
    Ok(())
}

/// The impact of suggestion `id` as report blocks (a summary and a table, Markdown and HTML alike).
pub fn blocks(id: &str, i: &Impact) -> Vec<super::table::Block> {
    use super::table::{Block, Table};
    let mut out = vec![Block::Para(format!(
        "**Impact of {id}**: under the {} router, the last {} days' tasks it would have moved: {} of {}.{}",
        i.router,
        WINDOW_DAYS,
        i.tasks_moved,
        i.tasks_in_window,
        i.notes
            .iter()
            .map(|n| format!(" Note: {n}."))
            .collect::<String>()
    ))];
    if i.rows.is_empty() {
        return out;
    }
    let mut t = Table::new(
        &format!("Tasks {id} would move"),
        &[
            "kind",
            "from",
            "to",
            "tasks",
            "success before → after",
            "cost / success before → after",
        ],
        "No task in the window would move.",
    );
    let row = |kind: String,
               from: &str,
               to: &str,
               tasks: u64,
               sb: f64,
               sa: f64,
               extra: String,
               cb: f64,
               ca: f64| {
        vec![
            (kind, None),
            (from.to_string(), None),
            (to.to_string(), None),
            (tasks.to_string(), Some(tasks as f64)),
            (
                format!("{:.0}% → {:.0}%{extra}", sb * 100.0, sa * 100.0),
                Some(sa - sb),
            ),
            (format!("${cb:.3} → ${ca:.3}"), Some(ca - cb)),
        ]
    };
    for r in &i.rows {
        t.row_keyed(row(
            r.kind.clone(),
            &r.from,
            &r.to,
            r.tasks,
            r.success_before,
            r.success_after,
            String::new(),
            r.cost_per_success_before,
            r.cost_per_success_after,
        ));
    }
    t.row_keyed(row(
        "**all moved**".into(),
        "",
        "",
        i.tasks_moved,
        i.success_before,
        i.success_after,
        format!(" ({:+.1} points)", i.success_change_points),
        i.cost_per_success_before,
        i.cost_per_success_after,
    ));
    out.push(Block::Table(t));
    out
}

/// The impact as Markdown (for `learn apply --dry-run`).
pub fn markdown(i: &Impact) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Under the {} router, the last {} days' tasks it would have moved: {} of {}.",
        i.router, WINDOW_DAYS, i.tasks_moved, i.tasks_in_window
    );
    for n in &i.notes {
        let _ = writeln!(o, "Note: {n}.");
    }
    if i.rows.is_empty() {
        return o;
    }
    let _ = writeln!(
        o,
        "\n| kind | from | to | tasks | success before → after | cost / success before → after |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for r in &i.rows {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {:.0}% → {:.0}% | ${:.3} → ${:.3} |",
            r.kind,
            r.from,
            r.to,
            r.tasks,
            r.success_before * 100.0,
            r.success_after * 100.0,
            r.cost_per_success_before,
            r.cost_per_success_after
        );
    }
    let _ = writeln!(
        o,
        "| **all moved** | | | {} | {:.0}% → {:.0}% ({:+.1} points) | ${:.3} → ${:.3} |",
        i.tasks_moved,
        i.success_before * 100.0,
        i.success_after * 100.0,
        i.success_change_points,
        i.cost_per_success_before,
        i.cost_per_success_after
    );
    o
}
