//! `learn report --format html`: one self-contained page — inline SVG
//! charts (values on the bars, each label under its own bar, a legend), then
//! every block of the report with its tables as real, sortable HTML tables
//! (see [`super::table`]). No external assets.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::pattern::Pattern;
use super::report::{arr, blocks, f, fam_rank, interval, keyword_patterns, level_patterns, pct, s};
use super::table::{self, html_escape as hesc, Block};

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

/// The report as one self-contained page: the charts, then every block of
/// [`blocks`] (tables as sortable `<table>`s).
pub(super) fn html(doc: &Map<String, Value>, patterns: &[Pattern]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>modelfit learning report</title>\
<style>body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;background:#fff;max-width:1150px}}\
h1{{font-size:24px}}h2{{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}}\
table.data{{border-collapse:collapse;font-size:13px;margin:6px 0}}table.data td,table.data th{{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}}\
table.data th{{background:#f3f3f3;cursor:pointer;user-select:none}}table.data tbody tr:nth-child(even){{background:#fafafa}}\
.legend span{{display:inline-block;margin-right:16px}}.sw{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}}\
.empty{{color:#666;font-style:italic}}code{{background:#f2f2f2;padding:0 2px}}svg text{{font-family:inherit}}</style></head><body>\n"
    );
    let _ = writeln!(o, "<h1>modelfit learning report</h1>");
    let win = doc.get("window").cloned().unwrap_or(Value::Null);
    let mut charts = vec![
        Block::Chart {
            title: "First-attempt success rate with 95% interval, per complexity and model".into(),
            html: success_chart(patterns, f(&win, "target_success_rate")),
        },
        Block::Chart {
            title: "First-attempt success rate per keyword and model".into(),
            html: keyword_chart(patterns),
        },
        Block::Chart {
            title: "Cost per successful task (retries included)".into(),
            html: cost_chart(patterns),
        },
        Block::Chart {
            title: "Weekly trend: first-attempt success rate".into(),
            html: trend_chart(doc),
        },
    ];
    let mut all = blocks(doc, patterns);
    // The summary (and the window note) first, then the charts, then the rest.
    let lead = all
        .iter()
        .take_while(|b| matches!(b, Block::Para(_)))
        .count();
    let rest = all.split_off(lead);
    all.push(Block::Chart {
        title: "Legend".into(),
        html: legend(),
    });
    all.append(&mut charts);
    all.extend(rest);
    o.push_str(&table::html_blocks(&all));
    o.push_str(table::SORT_SCRIPT);
    let _ = writeln!(o, "\n</body></html>");
    o
}

fn legend() -> String {
    let mut o = String::from("<p class=\"legend\">");
    for (fam, c) in COLORS {
        let _ = write!(
            o,
            "<span><i class=\"sw\" style=\"background:{c}\"></i>{fam}</span>"
        );
    }
    o.push_str("<span><svg width=\"18\" height=\"12\"><line x1=\"9\" x2=\"9\" y1=\"0\" y2=\"12\" stroke=\"#222\"/><line x1=\"4\" x2=\"14\" y1=\"0.5\" y2=\"0.5\" stroke=\"#222\"/><line x1=\"4\" x2=\"14\" y1=\"11.5\" y2=\"11.5\" stroke=\"#222\"/></svg> 95% interval</span>");
    o.push_str("<span><svg width=\"24\" height=\"12\"><line x1=\"0\" x2=\"24\" y1=\"6\" y2=\"6\" stroke=\"#d62828\" stroke-dasharray=\"6 4\"/></svg> target success rate</span>");
    o.push_str("<span>n = tasks with a known first-attempt outcome</span></p>\n");
    o
}

/// "No data yet" in place of an empty chart, saying what would fill it.
fn no_data(what_fills_it: &str) -> String {
    format!("<p class=\"empty\">No data yet: {what_fills_it}</p>\n")
}

/// One bar of a grouped chart.
struct Bar<'a> {
    group: &'a str,
    fam: &'a str,
    value: f64,
    /// How many outcomes the value rests on.
    n: f64,
    interval: Option<(f64, f64)>,
    tip: String,
}

/// A grouped vertical bar chart on a 0–100% axis: bars of a group side by
/// side, the group's name centred under its own bars, each bar's value
/// written above it, an optional 95% interval whisker and target line.
fn grouped_chart(bars: &[Bar<'_>], target: Option<f64>, css: &str) -> String {
    let (left, top, bottom, gap) = (50.0, 34.0, 62.0, 30.0);
    let mut groups: Vec<&str> = Vec::new();
    for b in bars {
        if groups.last() != Some(&b.group) {
            groups.push(b.group);
        }
    }
    // Bars narrow down (to 24 px) so the chart fits the page's 1100 px.
    let avail = 1100.0 - left - 20.0 - groups.len() as f64 * gap;
    let bw = (avail / bars.len().max(1) as f64 - 6.0).clamp(24.0, 46.0);
    let width = left + 20.0 + bars.len() as f64 * (bw + 6.0) + groups.len() as f64 * gap;
    let w = width.max(600.0);
    let h = 330.0;
    let plot_h = h - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - v.clamp(0.0, 1.0));
    let mut o = format!("<svg class=\"{css}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h}\" viewBox=\"0 0 {w:.0} {h}\">");
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(o, "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>", w - 10.0, y(t), y(t), left - 6.0, y(t) + 4.0, pct(t));
    }
    let mut x = left + gap / 2.0;
    let mut group_start = x;
    let mut group_bars = 0usize;
    for (i, b) in bars.iter().enumerate() {
        let cx = x + bw / 2.0;
        let _ = write!(
            o,
            "<rect class=\"bar\" data-group=\"{}\" data-model=\"{}\" data-value=\"{:.4}\" data-n=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\" opacity=\"0.9\"><title>{}</title></rect>",
            hesc(b.group),
            b.fam,
            b.value,
            b.n,
            y(b.value),
            plot_h * b.value.clamp(0.0, 1.0),
            color(b.fam),
            hesc(&b.tip)
        );
        let mut label_y = y(b.value) - 5.0;
        if let Some((lo, hi)) = b.interval {
            let _ = write!(o, "<line x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\" stroke-width=\"1.5\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#222\"/>", y(lo), y(hi), cx - 6.0, cx + 6.0, y(lo), y(lo), cx - 6.0, cx + 6.0, y(hi), y(hi));
            // Above the whisker's top, so neither hides the other.
            label_y = label_y.min(y(hi) - 5.0);
        }
        // The value in bold, its sample size on the line above.
        let _ = write!(
            o,
            "<text class=\"value\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\">{}</text><text class=\"n\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#555\" text-anchor=\"middle\">n={}</text>",
            label_y,
            pct(b.value),
            label_y - 12.0,
            b.n
        );
        let _ = write!(
            o,
            "<text class=\"bar-label\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            h - bottom + 14.0,
            crate::tasks::cut(b.fam, ((bw + 6.0) / 6.0) as usize)
        );
        x += bw + 6.0;
        group_bars += 1;
        let last_of_group = bars.get(i + 1).is_none_or(|n| n.group != b.group);
        if last_of_group {
            let mid = (group_start + x - 6.0) / 2.0;
            // Cut to the room the group has, so neighbours' names never overlap.
            let room = ((group_bars as f64 * (bw + 6.0) + gap - 8.0) / 7.0) as usize;
            let (name, sub) = b.group.split_once(" · ").unwrap_or((b.group, ""));
            let _ = write!(
                o,
                "<line x1=\"{group_start:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text class=\"group-label\" x=\"{mid:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\">{}<title>{}</title></text>",
                x - 6.0,
                h - bottom + 21.0,
                h - bottom + 21.0,
                h - bottom + 35.0,
                hesc(&crate::tasks::cut(name, room)),
                hesc(b.group)
            );
            if !sub.is_empty() {
                let _ = write!(
                    o,
                    "<text x=\"{mid:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#555\" text-anchor=\"middle\">{}</text>",
                    h - bottom + 48.0,
                    hesc(&crate::tasks::cut(sub, room))
                );
            }
            x += gap;
            group_start = x;
            group_bars = 0;
        }
    }
    if let Some(t) = target {
        let _ = write!(o, "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#d62828\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#d62828\" text-anchor=\"end\">target {}</text>", w - 10.0, y(t), y(t), w - 12.0, y(t) - 4.0, pct(t));
    }
    o.push_str("</svg>\n");
    o
}

fn success_chart(patterns: &[Pattern], target: f64) -> String {
    let ps = level_patterns(patterns);
    if ps.is_empty() {
        return no_data(
            "a bar per complexity and model appears once tasks have known outcomes in the window \
             (rate tasks with <code>modelfit rate</code>, then run <code>modelfit learn</code>).",
        );
    }
    let bars: Vec<Bar<'_>> = ps
        .iter()
        .map(|p| Bar {
            group: &p.complexity,
            fam: &p.model_family,
            value: p.success_rate,
            n: p.sample_size as f64,
            interval: Some((p.wilson_95[0], p.wilson_95[1])),
            tip: format!(
                "{} {}: {} of {} ({}), 95% interval {}",
                p.complexity,
                p.model_family,
                p.successes,
                p.sample_size,
                pct(p.success_rate),
                interval(p)
            ),
        })
        .collect();
    grouped_chart(&bars, Some(target), "chart success")
}

/// Keyword × model: the keywords with the most outcomes (up to 12), a bar
/// per model family for each.
fn keyword_chart(patterns: &[Pattern]) -> String {
    let kws = keyword_patterns(patterns);
    if kws.is_empty() {
        return no_data(
            "keyword bars appear once tasks carry <code>task_keywords</code> and have known outcomes.",
        );
    }
    let name = |p: &Pattern| format!("{} · {}", p.keyword.as_deref().unwrap_or(""), p.complexity);
    let mut totals: Vec<(String, f64)> = Vec::new();
    for p in &kws {
        let k = name(p);
        match totals.iter_mut().find(|(x, _)| *x == k) {
            Some((_, n)) => *n += p.sample_size as f64,
            None => totals.push((k, p.sample_size as f64)),
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    totals.truncate(12);
    let keep: Vec<String> = totals.into_iter().map(|(k, _)| k).collect();
    let names: Vec<String> = kws.iter().map(|p| name(p)).collect();
    let mut bars: Vec<Bar<'_>> = kws
        .iter()
        .zip(&names)
        .filter(|(_, k)| keep.contains(k))
        .map(|(p, k)| Bar {
            group: k.as_str(),
            fam: &p.model_family,
            value: p.success_rate,
            n: p.sample_size as f64,
            interval: None,
            tip: format!(
                "{k} on {}: {} of {}",
                p.model_family, p.successes, p.sample_size
            ),
        })
        .collect();
    bars.sort_by_key(|b| {
        (
            keep.iter().position(|k| k == b.group).unwrap_or(99),
            fam_rank(b.fam),
        )
    });
    grouped_chart(&bars, None, "chart keywords")
}

fn cost_chart(patterns: &[Pattern]) -> String {
    // Cost per success where enough attempts carry a cost; else the mean
    // cost of an attempt, so recorded `cost_usd` always shows.
    let ps: Vec<(&Pattern, f64, &str)> = level_patterns(patterns)
        .into_iter()
        .filter_map(|p| {
            if let Some(c) = p.cost_per_success() {
                Some((p, c, "per success"))
            } else {
                p.mean_attempt_cost().filter(|c| *c > 0.0).map(|c| {
                    (
                        p,
                        c,
                        "per attempt (too few costed attempts for per success)",
                    )
                })
            }
        })
        .collect();
    if ps.is_empty() {
        return no_data(
            "cost appears once tasks carry <code>cost_usd</code> (the hook writes it at Stop) \
             or tokens of a model priced in <code>config/orchestrator/pricing.json</code>.",
        );
    }
    let max = ps.iter().map(|(_, v, _)| *v).fold(0.0, f64::max).max(1e-9);
    let row = 26.0;
    let (w, left) = (1000.0, 180.0);
    let h = row * ps.len() as f64 + 20.0;
    let mut o = format!("<svg class=\"chart cost\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    for (i, (p, v, what)) in ps.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let bw = (w - left - 320.0) * v / max;
        let fam = &p.model_family;
        let _ = write!(o, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{} / {}</text><rect class=\"bar\" data-model=\"{fam}\" data-value=\"{v}\" x=\"{left}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{}\"/><text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">${v:.4} {}</text>", left - 8.0, y + 14.0, hesc(&p.complexity), hesc(fam), row - 8.0, color(fam), left + bw + 6.0, y + 14.0, what);
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
        return no_data(
            "a point per week appears once a week has a task with a known first-attempt outcome.",
        );
    }
    let (w, h, left, top, bottom) = (1000.0, 260.0, 50.0, 24.0, 40.0);
    let plot_h = h - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - v);
    let step = if weeks.len() > 1 {
        (w - left - 60.0) / (weeks.len() - 1) as f64
    } else {
        0.0
    };
    let mut o = format!("<svg class=\"chart trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">");
    for t in [0.0, 0.5, 1.0] {
        let _ = write!(o, "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>", w - 10.0, y(t), y(t), left - 6.0, y(t) + 4.0, pct(t));
    }
    let pts: Vec<(f64, f64)> = weeks
        .iter()
        .enumerate()
        .map(|(i, wk)| (left + 30.0 + step * i as f64, y(f(wk, "success_rate"))))
        .collect();
    let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        o,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#264653\" stroke-width=\"2\"/>",
        path.join(" ")
    );
    let every = (weeks.len() / 12).max(1);
    for (i, ((x, yy), wk)) in pts.iter().zip(&weeks).enumerate() {
        let rate = f(wk, "success_rate");
        let _ = write!(o, "<circle class=\"point\" data-value=\"{rate}\" cx=\"{x:.1}\" cy=\"{yy:.1}\" r=\"3.5\" fill=\"#264653\"><title>{}: {} of {}</title></circle>", hesc(s(wk, "week")), pct(rate), f(wk, "first_attempts"));
        if i % every == 0 {
            let _ = write!(
                o,
                "<text class=\"value\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                yy - 7.0,
                pct(rate),
                h - bottom + 16.0,
                hesc(s(wk, "week"))
            );
        }
    }
    o.push_str("</svg>\n");
    o
}
