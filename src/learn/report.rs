//! `learn report`: the latest analysis for a person (Markdown), for a
//! program (JSON) or as one self-contained HTML page with inline SVG charts.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::analyze::status_of;
use super::{ReportFormat, Status};
use crate::error::{Error, Result};
use crate::home::Home;

/// Renders the report of `home`'s learning file.
pub fn render(home: &Home, format: ReportFormat) -> Result<String> {
    let path = home.learning();
    let mut doc = super::file::load(&path)?;
    super::decisions::merge(home, &mut doc)?;
    if !doc.contains_key("patterns") {
        return Err(Error::Invalid(format!(
            "{} has no analysis yet: run `modelfit learn` first",
            path.display()
        )));
    }
    let doc = with_metrics(doc);
    Ok(match format {
        ReportFormat::Json => {
            let mut s = crate::record::to_js_pretty(&Value::Object(doc), 0);
            s.push('\n');
            s
        }
        ReportFormat::Markdown => markdown(&doc),
        ReportFormat::Html => html(&doc),
    })
}

fn arr<'a>(doc: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    doc.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
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

fn pct(x: f64) -> String {
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

/// Escapes text for a Markdown table cell or line: no pipes, no newlines,
/// no raw HTML.
fn esc(t: &str) -> String {
    t.replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
}

/// Escapes HTML text and attribute values.
fn hesc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn level_patterns(doc: &Map<String, Value>) -> Vec<&Value> {
    let mut v: Vec<&Value> = arr(doc, "patterns")
        .iter()
        .filter(|p| p.get("keyword").is_none())
        .collect();
    v.sort_by_key(|p| {
        (
            level_rank(s(p, "complexity")),
            fam_rank(s(p, "model_family")),
        )
    });
    v
}

fn level_rank(l: &str) -> usize {
    super::models::LEVELS
        .iter()
        .position(|x| *x == l)
        .unwrap_or(9)
}

fn fam_rank(f: &str) -> usize {
    super::models::tier(f).unwrap_or(9)
}

fn markdown(doc: &Map<String, Value>) -> String {
    let mut o = String::new();
    let win = doc.get("window").cloned().unwrap_or(Value::Null);
    let _ = writeln!(o, "# modelfit learning report\n");
    let _ = writeln!(
        o,
        "Analysed {} ledger records; window {} → {}, half-life {} days, target first-attempt success {}.\n",
        doc.get("total_dispatches").and_then(Value::as_u64).unwrap_or(0),
        s(&win, "since"),
        s(&win, "until"),
        f(&win, "half_life_days"),
        pct(f(&win, "target_success_rate")),
    );

    let open: Vec<&Value> = arr(doc, "suggestions")
        .iter()
        .filter(|x| status_of(x) == Status::Open)
        .collect();
    let _ = writeln!(o, "## Open suggestions\n");
    if open.is_empty() {
        let _ = writeln!(o, "None: the data does not support a change yet.\n");
    }
    for sg in &open {
        let id = s(sg, "id");
        let _ = writeln!(
            o,
            "- **{id}** `{}` ({}), confidence {:.2}: {}\n  - change: `{}`\n  - apply: `modelfit learn apply {id}`\n  - reject: `modelfit learn reject {id} --reason \"...\"`",
            s(sg, "type"),
            s(sg, "finding"),
            f(sg, "confidence"),
            esc(s(sg, "reason")),
            sg.get("change").map(Value::to_string).unwrap_or_default(),
        );
        if let Some(i) = sg
            .get("impact")
            .and_then(|v| serde_json::from_value::<super::impact::Impact>(v.clone()).ok())
        {
            for line in super::impact::markdown(&i).lines() {
                let _ = writeln!(o, "  {line}");
            }
        }
        if super::decisions::origin(sg) == super::decisions::ORCHESTRATOR_ANALYZER {
            let _ = writeln!(
                o,
                "  - from the orchestrator's model-learning-analyzer, not modelfit: {}",
                esc(s(sg, "description"))
            );
        }
        if matches!(
            sg.pointer("/change/target").and_then(Value::as_str),
            Some("add_rule" | "modify_rule")
        ) {
            let _ = writeln!(o, "  - note: the orchestrator itself only honours `task_complexity`; keyword rules take effect through `modelfit select` (hooks/model-selector.sh)");
        }
    }
    let evidence = arr(doc, "evidence_needed");
    if !evidence.is_empty() {
        let _ = writeln!(o, "\n## Evidence still needed\n");
        for e in evidence {
            let _ = writeln!(o, "- {}", esc(s(e, "what")));
        }
    }

    let _ = writeln!(o, "\n## Per complexity\n");
    let _ = writeln!(o, "| complexity | model | success | 95% interval | n | n* | unknown | avg tokens | avg time (s) | retries | cost / success | confidence |");
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for p in level_patterns(doc) {
        let w = p.get("wilson_95").and_then(Value::as_array);
        let _ =
            writeln!(
            o,
            "| {} | {} | {} ({}/{}) | {}–{} | {} | {:.1} | {} | {:.0} | {:.0} | {} | {} | {:.2} |",
            s(p, "complexity"),
            esc(s(p, "model")),
            pct(f(p, "success_rate")),
            f(p, "successes"),
            f(p, "sample_size"),
            w.and_then(|a| a.first()).and_then(Value::as_f64).map(pct).unwrap_or_default(),
            w.and_then(|a| a.get(1)).and_then(Value::as_f64).map(pct).unwrap_or_default(),
            f(p, "sample_size"),
            f(p, "effective_sample_size"),
            f(p, "unknown"),
            f(p, "avg_tokens"),
            f(p, "avg_execution_time_seconds"),
            f(p, "retries"),
            usd(p.get("cost_per_success_usd")),
            f(p, "confidence"),
        );
    }

    let _ = writeln!(o, "\n## Per keyword (within each complexity)\n");
    let _ = writeln!(
        o,
        "| complexity | keyword | model | success | 95% interval | n | n* |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    let mut kws: Vec<&Value> = arr(doc, "patterns")
        .iter()
        .filter(|p| p.get("keyword").is_some())
        .collect();
    kws.sort_by_key(|p| {
        (
            level_rank(s(p, "complexity")),
            s(p, "keyword").to_string(),
            fam_rank(s(p, "model_family")),
        )
    });
    for p in kws {
        let w = p.get("wilson_95").and_then(Value::as_array);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} ({}/{}) | {}–{} | {} | {:.1} |",
            s(p, "complexity"),
            esc(s(p, "keyword")),
            s(p, "model_family"),
            pct(f(p, "success_rate")),
            f(p, "successes"),
            f(p, "sample_size"),
            w.and_then(|a| a.first())
                .and_then(Value::as_f64)
                .map(pct)
                .unwrap_or_default(),
            w.and_then(|a| a.get(1))
                .and_then(Value::as_f64)
                .map(pct)
                .unwrap_or_default(),
            f(p, "sample_size"),
            f(p, "effective_sample_size"),
        );
    }

    let _ = writeln!(o, "\n## Frequent retries\n");
    let mut any = false;
    for p in level_patterns(doc) {
        let att = f(p, "attempts");
        let r = f(p, "retries");
        if att > 0.0 && r / att >= 0.10 {
            any = true;
            let _ = writeln!(
                o,
                "- {} on {}: {} of {} attempts were retries ({}), {} escalated to a stronger model",
                s(p, "complexity"),
                s(p, "model_family"),
                r,
                att,
                pct(r / att),
                f(p, "escalations")
            );
        }
    }
    if !any {
        let _ = writeln!(o, "No cell has 10% or more retries.");
    }

    let _ = writeln!(o, "\n## Success metrics, week by week\n");
    let _ = writeln!(o, "| week | first-attempt success | change | cost per successful task | tasks covered by a rule | applied suggestions with confidence ≥ 0.75 |");
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for m in arr(doc, "success_metrics") {
        let change = m
            .get("success_rate_change")
            .and_then(Value::as_f64)
            .map(|x| format!("{:+.1} pts", x * 100.0))
            .unwrap_or_else(|| "–".into());
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            s(m, "week"),
            opt_pct(m.get("success_rate")),
            change,
            usd(m.get("cost_per_success_usd")),
            opt_pct(m.get("rule_coverage")),
            match m.get("applied").and_then(Value::as_u64) {
                Some(0) | None => "–".to_string(),
                Some(n) => format!("{} of {n}", opt_pct(m.get("applied_confident_share"))),
            }
        );
    }

    let h = doc.get("health").cloned().unwrap_or(Value::Null);
    let _ = writeln!(o, "\n## Data health\n");
    if let Some(u) = h
        .get("unknown_outcomes_by_model")
        .and_then(Value::as_object)
    {
        for (fam, v) in u {
            let _ = writeln!(
                o,
                "- {fam}: {} of {} attempts have no known outcome ({})",
                f(v, "unknown"),
                f(v, "attempts"),
                pct(f(v, "rate"))
            );
        }
    }
    if h.get("informative_missingness").and_then(Value::as_bool) == Some(true) {
        let _ = writeln!(o, "- **warning**: unknown-outcome rates differ by {} between models; missing outcomes are then informative and rates may be biased", pct(f(&h, "unknown_rate_gap")));
    }
    if let Some(t) = h.get("without_tokens_by_model").and_then(Value::as_object) {
        for (fam, n) in t {
            let _ = writeln!(o, "- {fam}: {} tasks without token counts", n);
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
        ("records_before_window", "records before the window"),
        ("batch_records", "batch records (not tasks)"),
    ] {
        let n = f(&h, k);
        if n > 0.0 {
            let _ = writeln!(o, "- {n} {label}");
        }
    }

    let an = doc.get("anomalies").cloned().unwrap_or(Value::Null);
    let _ = writeln!(o, "\n## Anomalies\n");
    let listed = an
        .get("listed")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if listed.is_empty() {
        let _ = writeln!(
            o,
            "None: no execution far above its cell's norm (log-scale Q3 + 3 IQR)."
        );
    } else {
        let _ = writeln!(
            o,
            "{} executions far above their cell's norm; an implicit success among them counts as unknown.\n",
            f(&an, "total")
        );
        let _ = writeln!(
            o,
            "| id | when | complexity | model | metric | value | × median | outcome |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
        for a in listed.iter().rev().take(30) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                esc(s(a, "id")),
                s(a, "created_at"),
                s(a, "complexity"),
                esc(s(a, "model")),
                s(a, "metric"),
                f(a, "value"),
                f(a, "times_median"),
                s(a, "outcome")
            );
        }
    }
    o
}

// ---------------------------------------------------------------- HTML

const COLORS: [(&str, &str); 3] = [
    ("haiku", "#2a9d8f"),
    ("sonnet", "#e9a23b"),
    ("opus", "#7b4fc9"),
];

fn color(fam: &str) -> &'static str {
    COLORS
        .iter()
        .find(|(f, _)| *f == fam)
        .map(|(_, c)| *c)
        .unwrap_or("#888888")
}

fn html(doc: &Map<String, Value>) -> String {
    let mut o = String::new();
    let md = markdown(doc);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>modelfit learning report</title>\
<style>body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;background:#fff;max-width:1150px}}\
h1{{font-size:24px}}h2{{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}}\
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ddd;padding:3px 6px;text-align:left}}\
.legend span{{display:inline-block;margin-right:14px}}.sw{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}}\
pre{{white-space:pre-wrap;font-size:12px;background:#f7f7f7;padding:8px}}code{{background:#f2f2f2}}</style></head><body>\n"
    );
    let _ = writeln!(o, "<h1>modelfit learning report</h1>");
    let win = doc.get("window").cloned().unwrap_or(Value::Null);
    let _ = writeln!(
        o,
        "<p>{} ledger records; window {} → {}; target first-attempt success {}.</p>",
        doc.get("total_dispatches")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        hesc(s(&win, "since")),
        hesc(s(&win, "until")),
        pct(f(&win, "target_success_rate"))
    );
    let _ = write!(o, "<p class=\"legend\">");
    for (fam, c) in COLORS {
        let _ = write!(
            o,
            "<span><i class=\"sw\" style=\"background:{c}\"></i>{fam}</span>"
        );
    }
    let _ = writeln!(o, "</p>");
    let _ = writeln!(
        o,
        "<h2>First-attempt success rate with 95% interval, per complexity and model</h2>"
    );
    o.push_str(&success_chart(doc, f(&win, "target_success_rate")));
    let _ = writeln!(o, "<h2>Cost per successful task (retries included)</h2>");
    o.push_str(&cost_chart(doc));
    let _ = writeln!(o, "<h2>Weekly trend: first-attempt success rate</h2>");
    o.push_str(&trend_chart(doc));

    let open: Vec<&Value> = arr(doc, "suggestions")
        .iter()
        .filter(|x| status_of(x) == Status::Open)
        .collect();
    let _ = writeln!(o, "<h2>Open suggestions</h2>");
    if open.is_empty() {
        let _ = writeln!(o, "<p>None: the data does not support a change yet.</p>");
    } else {
        let _ = writeln!(o, "<table><tr><th>id</th><th>type</th><th>confidence</th><th>reason</th><th>commands</th></tr>");
        for sg in open {
            let id = hesc(s(sg, "id"));
            let _ = writeln!(
                o,
                "<tr><td>{id}</td><td>{}</td><td>{:.2}</td><td>{}</td><td><code>modelfit learn apply {id}</code><br><code>modelfit learn reject {id}</code></td></tr>",
                hesc(s(sg, "type")),
                f(sg, "confidence"),
                hesc(s(sg, "reason"))
            );
        }
        let _ = writeln!(o, "</table>");
    }
    let _ = writeln!(
        o,
        "<h2>Full report</h2><pre>{}</pre>",
        hesc(&md.replace("\\|", "|").replace("&lt;", "<"))
    );
    let _ = writeln!(o, "</body></html>");
    o
}

fn success_chart(doc: &Map<String, Value>, target: f64) -> String {
    let ps = level_patterns(doc);
    let (w, h, left, top, bottom) = (1000.0, 300.0, 50.0, 20.0, 50.0);
    let plot_h = h - top - bottom;
    let mut o = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    let y = |v: f64| top + plot_h * (1.0 - v);
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(o, "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>", w - 10.0, y(t), y(t), left - 6.0, y(t) + 4.0, pct(t));
    }
    let _ = write!(o, "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d62828\" stroke-dasharray=\"6 4\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" fill=\"#d62828\" text-anchor=\"end\">target</text>", w - 10.0, y(target), y(target), w - 12.0, y(target) - 4.0);
    let n = ps.len().max(1) as f64;
    let slot = (w - left - 20.0) / n;
    let mut last_level = "";
    for (i, p) in ps.iter().enumerate() {
        let x = left + slot * (i as f64 + 0.5);
        let fam = s(p, "model_family");
        let rate = f(p, "success_rate");
        let wl = p.get("wilson_95").and_then(Value::as_array);
        let lo = wl
            .and_then(|a| a.first())
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let hi = wl
            .and_then(|a| a.get(1))
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        let bw = (slot * 0.5).min(60.0);
        let _ = write!(o, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\" opacity=\"0.85\"><title>{} {}: {} (n={})</title></rect>", x - bw / 2.0, y(rate), plot_h * rate, color(fam), hesc(s(p, "complexity")), fam, pct(rate), f(p, "sample_size"));
        let _ = write!(o, "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\" stroke-width=\"1.5\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\"/>", y(lo), y(hi), x - 6.0, x + 6.0, y(lo), y(lo), x - 6.0, x + 6.0, y(hi), y(hi));
        let _ = write!(
            o,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{} n={}</text>",
            h - bottom + 16.0,
            fam,
            f(p, "sample_size")
        );
        let level = s(p, "complexity");
        if level != last_level {
            let _ = write!(
                o,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
                x - slot / 2.0 + 4.0,
                h - bottom + 36.0,
                hesc(level)
            );
            last_level = level;
        }
    }
    o.push_str("</svg>\n");
    o
}

fn cost_chart(doc: &Map<String, Value>) -> String {
    let ps: Vec<&Value> = level_patterns(doc)
        .into_iter()
        .filter(|p| {
            p.get("cost_per_success_usd")
                .and_then(Value::as_f64)
                .is_some()
        })
        .collect();
    if ps.is_empty() {
        return "<p>No cost data: tasks carry neither <code>cost_usd</code> nor tokens of a priced model.</p>\n".into();
    }
    let max = ps
        .iter()
        .map(|p| f(p, "cost_per_success_usd"))
        .fold(0.0, f64::max)
        .max(1e-9);
    let row = 26.0;
    let (w, left) = (1000.0, 180.0);
    let h = row * ps.len() as f64 + 20.0;
    let mut o = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    for (i, p) in ps.iter().enumerate() {
        let v = f(p, "cost_per_success_usd");
        let y = 10.0 + i as f64 * row;
        let bw = (w - left - 120.0) * v / max;
        let fam = s(p, "model_family");
        let _ = write!(o, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{} / {}</text><rect x=\"{left}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">${v:.4}</text>", left - 8.0, y + 14.0, hesc(s(p, "complexity")), fam, row - 8.0, color(fam), left + bw + 6.0, y + 14.0);
    }
    o.push_str("</svg>\n");
    o
}

fn trend_chart(doc: &Map<String, Value>) -> String {
    let weeks: Vec<&Value> = arr(doc, "weekly")
        .iter()
        .filter(|w| w.get("success_rate").and_then(Value::as_f64).is_some())
        .collect();
    if weeks.is_empty() {
        return "<p>No week has a known outcome yet.</p>\n".into();
    }
    let (w, h, left, top, bottom) = (1000.0, 260.0, 50.0, 20.0, 40.0);
    let plot_h = h - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - v);
    let step = if weeks.len() > 1 {
        (w - left - 30.0) / (weeks.len() - 1) as f64
    } else {
        0.0
    };
    let mut o = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    for t in [0.0, 0.5, 1.0] {
        let _ = write!(o, "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>", w - 10.0, y(t), y(t), left - 6.0, y(t) + 4.0, pct(t));
    }
    let pts: Vec<(f64, f64)> = weeks
        .iter()
        .enumerate()
        .map(|(i, wk)| (left + 10.0 + step * i as f64, y(f(wk, "success_rate"))))
        .collect();
    let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        o,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#264653\" stroke-width=\"2\"/>",
        path.join(" ")
    );
    let every = (weeks.len() / 12).max(1);
    for (i, ((x, yy), wk)) in pts.iter().zip(&weeks).enumerate() {
        let _ = write!(o, "<circle cx=\"{x:.1}\" cy=\"{yy:.1}\" r=\"3.5\" fill=\"#264653\"><title>{}: {} of {}</title></circle>", hesc(s(wk, "week")), pct(f(wk, "success_rate")), f(wk, "first_attempts"));
        if i % every == 0 {
            let _ = write!(
                o,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                h - bottom + 16.0,
                hesc(s(wk, "week"))
            );
        }
    }
    o.push_str("</svg>\n");
    o
}
