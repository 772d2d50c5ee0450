//! `select`: the model the rules give for a task.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::router::{OrchestratorRoute, Router};
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
    /// rules (rules as written) or orchestrator (the dispatcher's own selectModel, exactly);
    /// default: the `router` setting (`modelfit config router`), else rules
    #[arg(long, value_name = "ROUTER")]
    router: Option<String>,
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
    let router = match a.router.as_deref() {
        Some(r) => Router::parse(r).ok_or_else(|| {
            Error::Invalid(format!("--router takes rules or orchestrator, not {r:?}"))
        })?,
        None => crate::router::current(home).router,
    };
    if router == Router::Orchestrator {
        if a.explore {
            return Err(Error::Invalid(
                "--explore needs the rules router: the dispatcher's own selectModel never explores"
                    .into(),
            ));
        }
        return orchestrator(home, &complexity, &task, a.json);
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

/// `select --router orchestrator`: the dispatcher's answer, or why it has none.
fn orchestrator(home: &Home, complexity: &str, task: &str, json: bool) -> Result<ExitCode> {
    let route = crate::router::select(home, complexity, task)?;
    if json {
        let text =
            serde_json::to_string_pretty(&route).map_err(|e| Error::Invalid(e.to_string()))?;
        println!("{text}");
    }
    match &route {
        OrchestratorRoute::Throws { reason } => Err(Error::Invalid(format!(
            "the orchestrator's dispatcher would fail on this task: {reason}; fix {}",
            home.models().display()
        ))),
        OrchestratorRoute::Level {
            level, model: None, ..
        } => Err(Error::Invalid(format!(
            "the orchestrator's dispatcher would record no model: task_complexity.{level} has \
             no `model` in {}",
            home.models().display()
        ))),
        OrchestratorRoute::Level { model: Some(m), .. } if !json => {
            match m.as_str() {
                Some(id) => println!("{id}"),
                None => {
                    eprintln!("modelfit: warning: the model there is not a string: {m}");
                    println!("{m}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OrchestratorRoute::Builtin { model } | OrchestratorRoute::Default { model } if !json => {
            println!("{model}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Ok(ExitCode::SUCCESS),
    }
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
