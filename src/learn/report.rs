//! `learn report`: the latest analysis for a person (Markdown), for a
//! program (JSON) or as one self-contained HTML page with inline SVG charts.

use serde_json::{json, Map, Value};

use super::analyze::status_of;
use super::pattern::Pattern;
use super::table::{self, Block, Table};
use super::{ReportFormat, Status};
use crate::error::{Error, Result};
use crate::home::Home;

/// Renders the report of `home`'s learning file.
pub fn render(home: &Home, format: ReportFormat) -> Result<String> {
    let path = home.learning();
    let mut doc = super::file::load(&path)?;
    super::decisions::merge(home, &mut doc)?;
    let Some(patterns) = super::pattern::read(&doc)? else {
        return Err(Error::Invalid(format!(
            "{} has no analysis yet: run `modelfit learn` first",
            path.display()
        )));
    };
    let doc = with_metrics(doc);
    Ok(match format {
        ReportFormat::Json => {
            let mut s = crate::record::to_js_pretty(&Value::Object(doc), 0);
            s.push('\n');
            s
        }
        ReportFormat::Markdown => markdown(&doc, &patterns),
        ReportFormat::Html => super::report_html::html(&doc, &patterns),
    })
}

pub(super) fn arr<'a>(doc: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    doc.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(super) fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

pub(super) fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Adds the seed's four success metrics, week by week, as `success_metrics`.
fn with_metrics(mut doc: Map<String, Value>) -> Map<String, Value> {
    let weekly = arr(&doc, "weekly").to_vec();
    let suggestions = arr(&doc, "suggestions").to_vec();
    let mut rows = Vec::new();
    let mut prev: Option<f64> = None;
    for w in &weekly {
        let week = s(w, "week").to_string();
        let rate = w.get("success_rate").and_then(Value::as_f64);
        let change = match (rate, prev) {
            (Some(a), Some(b)) => json!(((a - b) * 1e4).round() / 1e4),
            _ => Value::Null,
        };
        if rate.is_some() {
            prev = rate;
        }
        let applied: Vec<&Value> = suggestions
            .iter()
            .filter(|x| status_of(x) == Status::Applied)
            .filter(|x| {
                s(x, "applied_at")
                    .get(..10)
                    .and_then(crate::clock::parse)
                    .map(super::analyze::week_start)
                    .as_deref()
                    == Some(week.as_str())
            })
            .collect();
        let confident = applied
            .iter()
            .filter(|x| f(x, "confidence") >= 0.75)
            .count();
        rows.push(json!({
            "week": week,
            "success_rate": rate,
            "success_rate_change": change,
            "cost_per_success_usd": w.get("cost_per_success_usd").cloned().unwrap_or(Value::Null),
            "rule_coverage": w.get("rule_coverage").cloned().unwrap_or(Value::Null),
            "applied": applied.len(),
            "applied_confident_share": if applied.is_empty() { Value::Null } else { json!(confident as f64 / applied.len() as f64) },
        }));
    }
    doc.insert("success_metrics".into(), Value::Array(rows));
    doc
}

pub(super) fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn opt_pct(v: Option<&Value>) -> String {
    v.and_then(Value::as_f64)
        .map(pct)
        .unwrap_or_else(|| "–".into())
}

fn usd(v: Option<&Value>) -> String {
    v.and_then(Value::as_f64)
        .map(|x| format!("${x:.4}"))
        .unwrap_or_else(|| "–".into())
}

/// The level cells, by level then model tier.
pub(super) fn level_patterns(patterns: &[Pattern]) -> Vec<&Pattern> {
    let mut v: Vec<&Pattern> = patterns.iter().filter(|p| p.keyword.is_none()).collect();
    v.sort_by_key(|p| (level_rank(&p.complexity), fam_rank(&p.model_family)));
    v
}

fn level_rank(l: &str) -> usize {
    super::models::LEVELS
        .iter()
        .position(|x| *x == l)
        .unwrap_or(9)
}

pub(super) fn fam_rank(f: &str) -> usize {
    super::models::tier(f).unwrap_or(9)
}

/// The window note: how many records fell before the analysis window, when
/// they were made, and the `--since` that would include them. `None` when
/// none did.
pub fn window_note(doc: &Map<String, Value>) -> Option<String> {
    let h = doc.get("health")?;
    let n = h.get("records_before_window").and_then(Value::as_u64)?;
    if n == 0 {
        return None;
    }
    let since = doc
        .get("window")
        .and_then(|w| w.get("since"))
        .and_then(Value::as_str)
        .and_then(crate::clock::parse)?;
    let oldest = h
        .get("before_window_oldest")
        .and_then(Value::as_str)
        .and_then(crate::clock::parse);
    let newest = h
        .get("before_window_newest")
        .and_then(Value::as_str)
        .and_then(crate::clock::parse);
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    Some(match (oldest, newest) {
        (Some(lo), Some(hi)) => {
            let missed = match (since - hi).num_days() {
                d if d < 1 => "less than a day".to_string(),
                d => format!("{d} day(s)"),
            };
            format!(
                "{n} record(s) fell before the window (made {} to {}; the newest is {missed} before the window opens on {}): `modelfit learn --since {}` includes them.",
                day(lo),
                day(hi),
                day(since),
                day(lo)
            )
        }
        _ => format!(
            "{n} record(s) fell before the window (it opens on {}): use `modelfit learn --since DATE` to include older records.",
            day(since)
        ),
    })
}

/// A cell's success column: the rate with its soft successes of n, keyed
/// by the rate.
fn success(p: &Pattern) -> (String, Option<f64>) {
    (
        format!(
            "{} ({}/{})",
            pct(p.success_rate),
            p.successes,
            p.sample_size
        ),
        Some(p.success_rate),
    )
}

pub(super) fn interval(p: &Pattern) -> String {
    let [lo, hi] = p.wilson_95;
    format!("{}–{}", pct(lo), pct(hi))
}

/// What fills an empty table of per-cell statistics.
const NO_OUTCOMES: &str = "No data yet: a cell appears once tasks of that complexity and model have a known outcome in the window. The hook records each Claude Code task; rate them with `modelfit rate`, then run `modelfit learn`.";

/// Every section of the report, in reading order, as data: the Markdown and
/// the HTML renderers both draw from this list, so a table added here shows
/// up in both.
pub fn blocks(doc: &Map<String, Value>, patterns: &[Pattern]) -> Vec<Block> {
    let mut b = Vec::new();
    let win = doc.get("window").cloned().unwrap_or(Value::Null);
    b.push(Block::Para(format!(
        "Analysed {} ledger records; window {} → {}, half-life {} days, target first-attempt success {}.",
        doc.get("total_dispatches").and_then(Value::as_u64).unwrap_or(0),
        s(&win, "since"),
        s(&win, "until"),
        f(&win, "half_life_days"),
        pct(f(&win, "target_success_rate")),
    )));
    if let Some(note) = window_note(doc) {
        b.push(Block::Para(format!("**Outside the window**: {note}")));
    }

    let mut sg_table = Table::new(
        "Open suggestions",
        &["id", "type", "confidence", "reason", "change", "commands"],
        "None yet: the data does not support a change. A suggestion needs enough rated outcomes in a cell (see \"Evidence still needed\"); rate tasks with `modelfit rate`, then run `modelfit learn`.",
    );
    let mut impacts = Vec::new();
    for sg in arr(doc, "suggestions")
        .iter()
        .filter(|x| status_of(x) == Status::Open)
    {
        let id = s(sg, "id");
        let mut change = format!(
            "`{}`",
            sg.get("change").map(Value::to_string).unwrap_or_default()
        );
        if let Some(i) = sg
            .get("impact")
            .and_then(|v| serde_json::from_value::<super::impact::Impact>(v.clone()).ok())
        {
            impacts.extend(super::impact::blocks(id, &i));
        }
        if super::decisions::origin(sg) == super::decisions::ORCHESTRATOR_ANALYZER {
            change.push_str(&format!(
                " (from the orchestrator's model-learning-analyzer, not modelfit: {})",
                s(sg, "description")
            ));
        }
        if matches!(
            sg.pointer("/change/target").and_then(Value::as_str),
            Some("add_rule" | "modify_rule")
        ) {
            change.push_str(" (the orchestrator itself only honours `task_complexity`; keyword rules take effect through `modelfit select`)");
        }
        sg_table.row_keyed(vec![
            (format!("**{id}**"), None),
            (format!("`{}` ({})", s(sg, "type"), s(sg, "finding")), None),
            (format!("{:.2}", f(sg, "confidence")), Some(f(sg, "confidence"))),
            (s(sg, "reason").to_string(), None),
            (change, None),
            (
                format!("apply: `modelfit learn apply {id}`; reject: `modelfit learn reject {id} --reason \"...\"`"),
                None,
            ),
        ]);
    }
    b.push(Block::Table(sg_table));
    b.extend(impacts);
    let evidence: Vec<String> = arr(doc, "evidence_needed")
        .iter()
        .map(|e| s(e, "what").to_string())
        .collect();
    if !evidence.is_empty() {
        b.push(Block::Heading("Evidence still needed".into()));
        b.push(Block::List(evidence));
    }

    let mut cells = Table::new(
        "Per complexity",
        &[
            "complexity",
            "model",
            "success",
            "95% interval",
            "n",
            "n*",
            "unknown",
            "avg tokens",
            "avg time (s)",
            "retries",
            "cost / success",
            "cost",
            "confidence",
        ],
        NO_OUTCOMES,
    );
    for p in level_patterns(patterns) {
        let cost = p.cost.as_ref().map(|c| c.cost_usd).filter(|c| *c > 0.0);
        cells.row_keyed(vec![
            (p.complexity.clone(), Some(level_rank(&p.complexity) as f64)),
            (p.model.clone(), None),
            success(p),
            (interval(p), Some(p.wilson_95[0])),
            (p.sample_size.to_string(), None),
            (format!("{:.1}", p.effective_sample_size), None),
            (p.unknown.to_string(), None),
            (format!("{:.0}", p.avg_tokens), None),
            (format!("{:.0}", p.avg_execution_time_seconds), None),
            (p.retries.to_string(), None),
            (
                p.cost_per_success()
                    .map(|x| format!("${x:.4}"))
                    .unwrap_or_else(|| "–".into()),
                p.cost_per_success(),
            ),
            (
                cost.map(|c| format!("${c:.4}"))
                    .unwrap_or_else(|| "–".into()),
                cost,
            ),
            (format!("{:.2}", p.confidence), None),
        ]);
    }
    b.push(Block::Table(cells));

    let mut kw_table = Table::new(
        "Per keyword (within each complexity)",
        &["complexity", "keyword", "model", "success", "95% interval", "n", "n*"],
        "No data yet: keyword cells appear once tasks carry `task_keywords` (the orchestrator writes them; the hook draws them from the prompt) and have known outcomes.",
    );
    for p in keyword_patterns(patterns) {
        kw_table.row_keyed(vec![
            (p.complexity.clone(), Some(level_rank(&p.complexity) as f64)),
            (p.keyword.clone().unwrap_or_default(), None),
            (
                p.model_family.clone(),
                Some(fam_rank(&p.model_family) as f64),
            ),
            success(p),
            (interval(p), Some(p.wilson_95[0])),
            (p.sample_size.to_string(), None),
            (format!("{:.1}", p.effective_sample_size), None),
        ]);
    }
    b.push(Block::Table(kw_table));

    b.push(Block::Heading("Frequent retries".into()));
    let retries: Vec<String> = level_patterns(patterns)
        .into_iter()
        .filter(|p| p.attempts > 0 && p.retries as f64 / p.attempts as f64 >= 0.10)
        .map(|p| {
            format!(
                "{} on {}: {} of {} attempts were retries ({}), {} escalated to a stronger model",
                p.complexity,
                p.model_family,
                p.retries,
                p.attempts,
                pct(p.retries as f64 / p.attempts as f64),
                p.escalations
            )
        })
        .collect();
    if retries.is_empty() {
        b.push(Block::Para("No cell has 10% or more retries.".into()));
    } else {
        b.push(Block::List(retries));
    }

    b.extend(super::trust::blocks(doc));

    let mut metrics = Table::new(
        "Success metrics, week by week",
        &[
            "week",
            "first-attempt success",
            "change",
            "cost per successful task",
            "tasks covered by a rule",
            "applied suggestions with confidence ≥ 0.75",
        ],
        "No data yet: a week appears once a task created in it is in the window.",
    );
    for m in arr(doc, "success_metrics") {
        let change = m
            .get("success_rate_change")
            .and_then(Value::as_f64)
            .map(|x| format!("{:+.1} pts", x * 100.0))
            .unwrap_or_else(|| "–".into());
        metrics.row(vec![
            s(m, "week").to_string(),
            opt_pct(m.get("success_rate")),
            change,
            usd(m.get("cost_per_success_usd")),
            opt_pct(m.get("rule_coverage")),
            match m.get("applied").and_then(Value::as_u64) {
                Some(0) | None => "–".to_string(),
                Some(n) => format!("{} of {n}", opt_pct(m.get("applied_confident_share"))),
            },
        ]);
    }
    b.push(Block::Table(metrics));

    b.push(Block::Heading("Data health".into()));
    let h = doc.get("health").cloned().unwrap_or(Value::Null);
    let mut health = Vec::new();
    if let Some(u) = h
        .get("unknown_outcomes_by_model")
        .and_then(Value::as_object)
    {
        for (fam, v) in u {
            health.push(format!(
                "{fam}: {} of {} attempts have no known outcome ({})",
                f(v, "unknown"),
                f(v, "attempts"),
                pct(f(v, "rate"))
            ));
        }
    }
    if h.get("informative_missingness").and_then(Value::as_bool) == Some(true) {
        health.push(format!("**warning**: unknown-outcome rates differ by {} between models; missing outcomes are then informative and rates may be biased", pct(f(&h, "unknown_rate_gap"))));
    }
    if let Some(t) = h.get("without_tokens_by_model").and_then(Value::as_object) {
        for (fam, n) in t {
            health.push(format!("{fam}: {n} tasks without token counts"));
        }
    }
    for (k, label) in [
        (
            "records_without_model",
            "records without a model (`none` or absent)",
        ),
        (
            "records_without_complexity",
            "records without a complexity level",
        ),
        ("records_without_date", "records without a creation date"),
        ("batch_records", "batch records (not tasks)"),
    ] {
        let n = f(&h, k);
        if n > 0.0 {
            health.push(format!("{n} {label}"));
        }
    }
    if health.is_empty() {
        b.push(Block::Para("Nothing to report.".into()));
    } else {
        b.push(Block::List(health));
    }

    let an = doc.get("anomalies").cloned().unwrap_or(Value::Null);
    let listed = an
        .get("listed")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut anomalies = Table::new(
        "Anomalies",
        &[
            "id",
            "when",
            "complexity",
            "model",
            "metric",
            "value",
            "× median",
            "outcome",
        ],
        "None: no execution far above its cell's norm (log-scale Q3 + 3 IQR).",
    );
    if !listed.is_empty() {
        anomalies.title = format!(
            "Anomalies ({} executions far above their cell's norm; an implicit success among them counts as unknown)",
            f(&an, "total")
        );
    }
    for a in listed.iter().rev().take(30) {
        anomalies.row(vec![
            s(a, "id").to_string(),
            s(a, "created_at").to_string(),
            s(a, "complexity").to_string(),
            s(a, "model").to_string(),
            s(a, "metric").to_string(),
            f(a, "value").to_string(),
            f(a, "times_median").to_string(),
            s(a, "outcome").to_string(),
        ]);
    }
    b.push(Block::Table(anomalies));
    b
}

/// The keyword cells, by level, keyword, then model tier.
pub(super) fn keyword_patterns(patterns: &[Pattern]) -> Vec<&Pattern> {
    let mut kws: Vec<&Pattern> = patterns.iter().filter(|p| p.keyword.is_some()).collect();
    kws.sort_by(|a, b| {
        (
            level_rank(&a.complexity),
            &a.keyword,
            fam_rank(&a.model_family),
        )
            .cmp(&(
                level_rank(&b.complexity),
                &b.keyword,
                fam_rank(&b.model_family),
            ))
    });
    kws
}

fn markdown(doc: &Map<String, Value>, patterns: &[Pattern]) -> String {
    table::markdown("modelfit learning report", &blocks(doc, patterns))
}
