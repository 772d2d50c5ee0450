//! `usage`: tokens, cost and models of one transcript, per turn; or of a
//! folder of sessions, per session, per day and per model.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::pricing::Pricing;
use crate::transcript::corpus::read_folder;
use crate::transcript::{read_session, summarize, Session, Summary, Tokens};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// A session transcript (.jsonl; its subagent files are found beside it),
    /// or a folder: a project folder or the whole ~/.claude/projects tree
    transcript: PathBuf,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// Count only from this byte offset, as the Stop hook does (no per-turn split)
    #[arg(long, value_name = "BYTES")]
    offset: Option<u64>,
    /// With --offset: subagent lines only from this time (ISO 8601)
    #[arg(long, value_name = "ISO", requires = "offset")]
    since: Option<String>,
    /// For a folder: threads reading files (default: one per core)
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

pub fn usage(a: UsageArgs, home: &Home) -> Result<ExitCode> {
    if a.transcript.is_dir() {
        if a.offset.is_some() {
            return Err(Error::Invalid(
                "--offset reads one transcript; give a .jsonl file, not a folder".into(),
            ));
        }
        let corpus = read_folder(&a.transcript, a.threads)?;
        let pricing = Pricing::load(&home.pricing());
        for w in &pricing.warnings {
            eprintln!("modelfit: warning: {w}");
        }
        for (p, e) in &corpus.unreadable {
            eprintln!("modelfit: warning: {}: {e}", p.display());
        }
        if a.json {
            let v = super::usage_folder::to_json(&a.transcript, &corpus, &pricing);
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("JSON values always serialize")
            );
        } else {
            super::usage_folder::print_table(&a.transcript, &corpus, &pricing);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.transcript.is_file() {
        return Err(Error::Invalid(format!(
            "{}: not a transcript file (Claude Code keeps them as ~/.claude/projects/<project>/<session>.jsonl)",
            a.transcript.display()
        )));
    }
    let session = match a.offset {
        None => read_session(&a.transcript)?,
        Some(off) => Session {
            turns: Vec::new(),
            total: summarize(&a.transcript, off, a.since.as_deref())?,
        },
    };
    let pricing = Pricing::load(&home.pricing());
    for w in &pricing.warnings {
        eprintln!("modelfit: warning: {w}");
    }
    if a.json {
        let v = to_json(&a.transcript, &session, &pricing);
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("JSON values always serialize")
        );
    } else {
        print_table(&a.transcript, &session, &pricing);
    }
    Ok(ExitCode::SUCCESS)
}

/// Cost over the models that have a price, and the models that have none.
pub(super) fn cost_of(s: &Summary, pricing: &Pricing) -> (Option<f64>, Vec<String>) {
    pricing.summary_cost(s)
}

pub(super) fn tokens_json(t: &Tokens) -> Value {
    json!({
        "input": t.input,
        "output": t.output,
        "cache_creation": t.cache_creation,
        "cache_read": t.cache_read,
        "cache_creation_1h": t.cache_creation_1h,
        "total": t.total(),
    })
}

pub(super) fn summary_json(s: &Summary, pricing: &Pricing) -> Map<String, Value> {
    let (cost, unpriced) = cost_of(s, pricing);
    let mut by_model = Map::new();
    for (m, t) in &s.by_model {
        let mut v = tokens_json(t);
        v["cost_usd"] = json!(pricing.model_cost(s, m));
        if let Some(l) = s.long_context.get(m) {
            v["long_context"] = tokens_json(l);
        }
        by_model.insert(m.clone(), v);
    }
    let mut o = Map::new();
    o.insert("responses".into(), json!(s.responses));
    o.insert("tokens".into(), tokens_json(&s.total()));
    o.insert("cost_usd".into(), json!(cost));
    o.insert("unpriced_models".into(), json!(unpriced));
    o.insert("models".into(), json!(s.models()));
    o.insert("by_model".into(), Value::Object(by_model));
    o.insert("tool_errors".into(), json!(s.tool_errors));
    o.insert("api_errors".into(), json!(s.api_errors));
    o.insert("api_retries".into(), json!(s.api_retries));
    o.insert("interruptions".into(), json!(s.interruptions));
    o.insert("files_touched".into(), json!(s.files_touched));
    o.insert("first_timestamp".into(), json!(s.first_timestamp));
    o.insert("last_timestamp".into(), json!(s.last_timestamp));
    o.insert(
        "subagent_output_correction".into(),
        json!(s.subagent_output_correction),
    );
    o.insert("replays_dropped".into(), json!(s.replays_dropped));
    let copied: Map<String, Value> = s
        .copied_from
        .iter()
        .map(|(sid, c)| {
            (
                sid.clone(),
                json!({"responses": c.responses, "tokens": tokens_json(&c.tokens)}),
            )
        })
        .collect();
    o.insert("copied_from".into(), Value::Object(copied));
    o
}

/// Price lines of the models in `s`, for JSON.
pub(super) fn prices_json(s: &Summary, pricing: &Pricing) -> Map<String, Value> {
    let mut prices = Map::new();
    for m in s.by_model.keys() {
        let v = match pricing.lookup(m) {
            Some((p, src, entry)) => {
                let mut v = json!({
                    "source": src.label(),
                    "entry": entry,
                    "input_per_mtok": p.input_per_mtok,
                    "output_per_mtok": p.output_per_mtok,
                    "cache_write_per_mtok": p.cache_write_per_mtok,
                    "cache_write_1h_per_mtok": p.cache_write_1h_per_mtok,
                    "cache_read_per_mtok": p.cache_read_per_mtok,
                });
                if let Some(l) = &p.long_context {
                    v["long_context"] = json!(l);
                }
                v
            }
            None => json!({"source": "unknown"}),
        };
        prices.insert(m.clone(), v);
    }
    prices
}

/// One line per model saying which price was used.
pub(super) fn print_prices(s: &Summary, pricing: &Pricing) {
    for m in s.by_model.keys() {
        match pricing.lookup(m) {
            Some((p, src, entry)) => {
                let long = p
                    .long_context
                    .map(|l| {
                        format!(
                            "; over 200k input ${}/${}",
                            num(l.input_per_mtok),
                            num(l.output_per_mtok)
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "price {m}: {} ({entry}): ${}/${} per MTok in/out, cache write ${} (1h ${}), read ${}{long}",
                    src.label(),
                    num(p.input_per_mtok),
                    num(p.output_per_mtok),
                    num(p.cache_write_per_mtok),
                    num(p.cache_write_1h_per_mtok),
                    num(p.cache_read_per_mtok)
                )
            }
            None => println!("price {m}: unknown model, no cost counted"),
        }
    }
}

fn to_json(path: &std::path::Path, session: &Session, pricing: &Pricing) -> Value {
    let total = &session.total;
    let turns: Vec<Value> = session
        .turns
        .iter()
        .map(|t| {
            let mut o = Map::new();
            o.insert("index".into(), json!(t.index));
            o.insert("prompt".into(), json!(t.prompt));
            o.insert("started".into(), json!(t.started));
            o.extend(summary_json(&t.summary, pricing));
            Value::Object(o)
        })
        .collect();
    let prices = prices_json(total, pricing);
    json!({
        "transcript": path.display().to_string(),
        "subagent_files": total.subagent_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "turns": turns,
        "total": Value::Object(summary_json(total, pricing)),
        "prices": prices,
        "versions": total.versions,
        "output_lower_bound": total.output_lower_bound,
        "missing_subagents": total.missing_subagents,
        "inline_subagents": total.inline_subagents,
        "skipped_lines": total.skipped_lines,
        "end_offset": total.end_offset,
    })
}

/// A price without float noise: 0.30000000000000004 → 0.3.
pub(super) fn num(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(super) fn money(c: Option<f64>) -> String {
    match c {
        Some(c) => format!("${c:.4}"),
        None => "-".into(),
    }
}

fn print_table(path: &std::path::Path, session: &Session, pricing: &Pricing) {
    let total = &session.total;
    println!("{}", path.display());
    if !total.subagent_files.is_empty() {
        let names: Vec<String> = total
            .subagent_files
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        println!("subagent files: {}", names.join(", "));
    }
    println!();
    println!(
        "{:>4}  {:<19}  {:>5}  {:>9}  {:>9}  {:>11}  {:>12}  {:>10}  {:<30}  prompt",
        "turn", "started", "resp", "input", "output", "cache_write", "cache_read", "cost", "models"
    );
    let row = |label: &str, started: &str, s: &Summary, prompt: &str| {
        let t = s.total();
        let (cost, _) = cost_of(s, pricing);
        println!(
            "{:>4}  {:<19}  {:>5}  {:>9}  {:>9}  {:>11}  {:>12}  {:>10}  {:<30}  {}",
            label,
            started,
            s.responses,
            t.input,
            t.output,
            t.cache_creation,
            t.cache_read,
            money(cost),
            s.models().join(","),
            prompt
        );
    };
    for t in &session.turns {
        let started = t
            .started
            .as_deref()
            .map(|s| s.get(..19).unwrap_or(s).replace('T', " "))
            .unwrap_or_default();
        row(
            &t.index.to_string(),
            &started,
            &t.summary,
            t.prompt.as_deref().unwrap_or("(before the first prompt)"),
        );
    }
    row("all", "", total, "");
    println!();
    print_prices(total, pricing);
    if total.tool_errors + total.api_errors + total.interruptions > 0 {
        println!(
            "tool errors {}, API errors {} ({} retries), interruptions {}",
            total.tool_errors, total.api_errors, total.api_retries, total.interruptions
        );
    }
    if !total.files_touched.is_empty() {
        println!("files edited: {}", total.files_touched.len());
    }
    if total.subagent_output_correction > 0 {
        println!(
            "note: {} output tokens taken from Task results where subagent files showed placeholders",
            total.subagent_output_correction
        );
    }
    if total.output_lower_bound {
        println!(
            "note: written by Claude Code before 2.1.97 ({}); output may be under-reported",
            total
                .versions
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !total.missing_subagents.is_empty() {
        println!(
            "note: subagent transcripts not found, their spend is missing: {}",
            total
                .missing_subagents
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if total.skipped_lines > 0 {
        println!("note: {} unreadable lines skipped", total.skipped_lines);
    }
    print_accounting_notes(total);
}

/// Notes on what was left out or priced apart: `/btw` replays, a resumed
/// session's copied prefix, long-context requests, inline subagents.
pub(super) fn print_accounting_notes(s: &Summary) {
    if s.replays_dropped > 0 {
        println!(
            "note: {} /btw replay(s) left out (copies of earlier responses)",
            s.replays_dropped
        );
    }
    for (sid, c) in &s.copied_from {
        println!(
            "note: resumed from {sid}: its {} copied response(s) ({} tokens) are counted there, not here",
            c.responses,
            c.tokens.total()
        );
    }
    let long: u64 = s.long_context.values().map(Tokens::total).sum();
    if long > 0 {
        println!("note: {long} tokens in long-context requests (over 200k input), priced at the long-context rate where the model has one");
    }
    if !s.inline_subagents.is_empty() {
        println!(
            "note: subagents written inline in the main transcript (counted): {}",
            s.inline_subagents
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
