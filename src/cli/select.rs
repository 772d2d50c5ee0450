//! `select`: the model the rules give for a task.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::rules::{self, SelectInput};

/// `modelfit select --complexity C "task"` or the drop-in form `modelfit select C "task"`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// simple, medium or complex (else the first positional argument is the complexity)
    #[arg(long, short = 'c', value_name = "LEVEL")]
    complexity: Option<String>,
    /// Number of files the task is expected to touch (for `estimated_files` rules)
    #[arg(long, value_name = "N")]
    estimated_files: Option<u32>,
    /// Sometimes pick an adjacent tier (rate: exploration_rate in logs/modelfit/config.json,
    /// 0.10) and record every choice in logs/modelfit/selections.jsonl
    #[arg(long)]
    explore: bool,
    /// Print the whole selection (model, matched rule, exploration, warnings) as JSON
    #[arg(long)]
    json: bool,
    /// [COMPLEXITY] TASK… (several task arguments are joined by spaces; put `--` before a task
    /// that starts with `-`)
    #[arg(value_name = "ARGS")]
    args: Vec<String>,
}

pub fn select(a: SelectArgs, home: &Home) -> Result<ExitCode> {
    let mut args = a.args.into_iter();
    let complexity = match a.complexity {
        Some(c) => c,
        None => args.next().ok_or_else(|| {
            Error::Invalid(
                "select: give the complexity and the task, e.g. \
                 `modelfit select --complexity medium \"add an API endpoint\"` \
                 or `modelfit select medium \"add an API endpoint\"`"
                    .into(),
            )
        })?,
    };
    let task = args.collect::<Vec<_>>().join(" ");
    if let Some(w) = level_warning(home, &complexity, &task) {
        eprintln!("modelfit: warning: {w}");
    }
    let input = SelectInput {
        complexity,
        task,
        estimated_files: a.estimated_files,
        explore: a.explore,
    };
    let sel = rules::select(home, &input)?;
    for w in &sel.warnings {
        eprintln!("modelfit: warning: {w}");
    }
    if a.json {
        let text = serde_json::to_string_pretty(&sel).map_err(|e| Error::Invalid(e.to_string()))?;
        println!("{text}");
    } else {
        println!("{}", sel.model);
    }
    Ok(ExitCode::SUCCESS)
}

/// A warning when `complexity` is not a level models.json (or, without one,
/// the built-in routing) knows: the rules then fall back to medium's model,
/// which a caller should not get without a word.
fn level_warning(home: &Home, complexity: &str, task: &str) -> Option<String> {
    let known: Vec<String> = rules::Models::load(&home.models())
        .ok()
        .flatten()
        .map(|m| m.levels.into_iter().map(|(l, _)| l).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| vec!["simple".into(), "medium".into(), "complex".into()]);
    if known.iter().any(|l| l == complexity) {
        return None;
    }
    let list = known.join(", ");
    let what = if complexity.trim().is_empty() {
        "no complexity level given".to_string()
    } else {
        format!("unknown complexity level {complexity:?}")
    };
    let hint = if task.is_empty() && !complexity.trim().is_empty() {
        format!(
            " (if {complexity:?} is the task, give the level first: \
             `modelfit select medium {complexity:?}`)"
        )
    } else {
        String::new()
    };
    Some(format!(
        "{what}; the levels known are: {list}; the rules fall back to medium's model{hint}"
    ))
}
