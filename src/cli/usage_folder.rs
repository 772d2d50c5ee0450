//! `usage FOLDER`: a folder of sessions per session, per day and per model.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::usage::{
    cost_of, money, prices_json, print_accounting_notes, print_prices, summary_json, tokens_json,
};
use crate::pricing::Pricing;
use crate::transcript::corpus::Corpus;
use crate::transcript::Summary;

pub(super) fn to_json(root: &Path, c: &Corpus, pricing: &Pricing) -> Value {
    let sessions: Vec<Value> = c
        .sessions
        .iter()
        .map(|s| {
            let mut o = Map::new();
            o.insert("session".into(), json!(s.id));
            o.insert("project".into(), json!(s.project));
            o.insert("transcript".into(), json!(s.path.display().to_string()));
            o.extend(summary_json(&s.summary, pricing));
            o.insert(
                "missing_subagents".into(),
                json!(s.summary.missing_subagents),
            );
            o.insert("inline_subagents".into(), json!(s.summary.inline_subagents));
            o.insert(
                "output_lower_bound".into(),
                json!(s.summary.output_lower_bound),
            );
            o.insert("skipped_lines".into(), json!(s.summary.skipped_lines));
            Value::Object(o)
        })
        .collect();
    let days: Vec<Value> = c
        .days
        .iter()
        .map(|(day, s)| {
            let (cost, unpriced) = cost_of(s, pricing);
            json!({
                "day": day,
                "responses": s.responses,
                "tokens": tokens_json(&s.total()),
                "cost_usd": cost,
                "unpriced_models": unpriced,
                "models": s.models(),
                "by_model": by_model(s, pricing),
            })
        })
        .collect();
    let (cost, unpriced) = cost_of(&c.total, pricing);
    json!({
        "folder": root.display().to_string(),
        "sessions": sessions,
        "days": days,
        "models": by_model(&c.total, pricing),
        "total": {
            "sessions": c.sessions.len(),
            "responses": c.total.responses,
            "tokens": tokens_json(&c.total.total()),
            "cost_usd": cost,
            "unpriced_models": unpriced,
        },
        "prices": prices_json(&c.total, pricing),
        "unreadable": c.unreadable.iter().map(|(p, e)| json!({"path": p.display().to_string(), "error": e})).collect::<Vec<_>>(),
    })
}

fn by_model(s: &Summary, pricing: &Pricing) -> Value {
    let mut m = Map::new();
    for (model, t) in &s.by_model {
        let mut v = tokens_json(t);
        v["cost_usd"] = json!(pricing.model_cost(s, model));
        if let Some(l) = s.long_context.get(model) {
            v["long_context"] = tokens_json(l);
        }
        m.insert(model.clone(), v);
    }
    Value::Object(m)
}

const HEAD: &str = "resp      input     output  cache_write    cache_read        cost";

fn figures(s: &Summary, pricing: &Pricing) -> String {
    let t = s.total();
    format!(
        "{:>5}  {:>9}  {:>9}  {:>11}  {:>12}  {:>10}",
        s.responses,
        t.input,
        t.output,
        t.cache_creation,
        t.cache_read,
        money(cost_of(s, pricing).0)
    )
}

pub(super) fn print_table(root: &Path, c: &Corpus, pricing: &Pricing) {
    println!(
        "{}: {} session(s), {} response(s)",
        root.display(),
        c.sessions.len(),
        c.total.responses
    );
    println!();
    println!(
        "{:<36}  {:<19}  {HEAD}  models / notes",
        "session", "started"
    );
    for s in &c.sessions {
        let started = s
            .summary
            .first_timestamp
            .as_deref()
            .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
            .unwrap_or_default();
        let mut notes = s.summary.models();
        for (sid, cp) in &s.summary.copied_from {
            notes.push(format!(
                "resumed from {}: {} copied response(s) counted there",
                short(sid),
                cp.responses
            ));
        }
        if s.summary.replays_dropped > 0 {
            notes.push(format!(
                "{} /btw replay(s) left out",
                s.summary.replays_dropped
            ));
        }
        if !s.summary.missing_subagents.is_empty() {
            notes.push(format!(
                "subagent file(s) missing: {}",
                s.summary
                    .missing_subagents
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        println!(
            "{:<36}  {:<19}  {}  {}",
            s.id,
            started,
            figures(&s.summary, pricing),
            notes.join("; ")
        );
    }
    println!();
    println!("{:<10}  {HEAD}  models", "day");
    for (day, s) in &c.days {
        println!(
            "{:<10}  {}  {}",
            day,
            figures(s, pricing),
            s.models().join(",")
        );
    }
    println!();
    println!(
        "{:<36}  {:>9}  {:>9}  {:>11}  {:>12}  {:>10}",
        "model", "input", "output", "cache_write", "cache_read", "cost"
    );
    for (m, t) in &c.total.by_model {
        println!(
            "{:<36}  {:>9}  {:>9}  {:>11}  {:>12}  {:>10}",
            m,
            t.input,
            t.output,
            t.cache_creation,
            t.cache_read,
            money(pricing.model_cost(&c.total, m))
        );
    }
    println!("{:<10}  {}", "all", figures(&c.total, pricing));
    println!();
    print_prices(&c.total, pricing);
    let mut all = Summary::default();
    for s in &c.sessions {
        all.replays_dropped += s.summary.replays_dropped;
        all.inline_subagents
            .extend(s.summary.inline_subagents.iter().cloned());
    }
    all.long_context = c.total.long_context.clone();
    print_accounting_notes(&all);
    let copied: u64 = c
        .sessions
        .iter()
        .flat_map(|s| s.summary.copied_from.values())
        .map(|cp| cp.responses)
        .sum();
    if copied > 0 {
        println!("note: {copied} response(s) copied into resumed sessions are counted once, in the session they came from");
    }
    let corr: u64 = c
        .sessions
        .iter()
        .map(|s| s.summary.subagent_output_correction)
        .sum();
    if corr > 0 {
        println!("note: {corr} output tokens taken from Task results where subagent files showed placeholders");
    }
}

fn short(sid: &str) -> &str {
    sid.get(..8).unwrap_or(sid)
}
