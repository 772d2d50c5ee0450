//! The command line: clap definitions, and for each subcommand one call into
//! the library. Output to the terminal happens here and nowhere else in the
//! library (the hook path prints nothing at all).
#![allow(clippy::print_stdout)]

mod ci;
mod config;
mod doctor;
mod hook;
mod hooks;
mod learn;
mod ledger;
mod mcp;
mod outcome;
mod rate;
mod rotate;
mod select;
mod sync;
mod tasks;
mod usage;
mod usage_folder;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::home::Home;

/// Learns which Claude model fits which kind of coding task, from what actually happened.
#[derive(Debug, Parser)]
#[command(name = "modelfit", version, about, max_term_width = 100)]
pub struct Cli {
    /// Orchestrator home [default: $ORCHESTRATOR_HOME, else ~/JARVIS]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record a Claude Code hook event (one JSON payload on stdin). Never fails, prints nothing.
    Hook(hook::HookArgs),
    /// Set a task's outcome by hand (the orchestrator's update_task_outcome).
    Outcome(outcome::OutcomeArgs),
    /// Give a person's verdict on a task; asks on the terminal when no verdict is given.
    Rate(rate::RateArgs),
    /// Record a CI pipeline's result against the tasks that produced its commit.
    Ci(ci::CiArgs),
    /// Learn from outcomes: analyze + suggest, or one step of it.
    Learn(learn::LearnArgs),
    /// Pick the model the rules of models.json give for a task.
    Select(select::SelectArgs),
    /// Recent tasks, newest first: outcome, tokens, cost, retries; `--unrated` for those to rate.
    Tasks(tasks::TasksArgs),
    /// Tokens, cost and models of one session transcript, per turn.
    Usage(usage::UsageArgs),
    /// Check the installation: hooks, ledger, lock, log, learn.
    Doctor(doctor::DoctorArgs),
    /// Move old records into monthly archives under logs/archive/.
    Rotate(rotate::RotateArgs),
    /// Install or remove modelfit's hooks in Claude Code's settings.
    #[command(subcommand)]
    Hooks(hooks::HooksCommand),
    /// Show modelfit's settings, or set one (`modelfit config reminder on`).
    Config(config::ConfigArgs),
    /// Serve the MCP tools on stdio.
    Mcp(mcp::McpArgs),
    /// Push this home's records to the team's PostgreSQL database.
    Sync(sync::SyncArgs),
    /// Low-level ledger operations (check, append, get).
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
}

/// Why `home` cannot be used, naming it, where it came from and how to
/// create or choose one; `None` when it is an existing folder.
pub fn home_problem(home: &Home, explicit: bool) -> Option<String> {
    let root = home.root();
    if root.is_dir() {
        return None;
    }
    let from = if explicit {
        "given by --home"
    } else if std::env::var_os("ORCHESTRATOR_HOME").is_some_and(|v| !v.is_empty()) {
        "from $ORCHESTRATOR_HOME"
    } else {
        "the default, as $ORCHESTRATOR_HOME is unset"
    };
    let what = if root.exists() {
        "is not a folder"
    } else {
        "does not exist"
    };
    Some(format!(
        "the orchestrator home {} ({from}) {what}: create it with `mkdir -p {}/logs`, \
         or choose another with --home DIR or ORCHESTRATOR_HOME=DIR",
        root.display(),
        root.display()
    ))
}

/// Runs the command line and turns errors into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("modelfit: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Hook(args) = &cli.command {
        // The hook resolves its home itself: it must never fail, even on a bad home.
        return Ok(hook::hook(args, cli.home.as_deref()));
    }
    let home = Home::resolve(cli.home.as_deref())?;
    // Only the commands that never touch the home may run without one;
    // doctor runs to report it as a failure. Anything else would create a
    // stray `~/JARVIS/logs/` and report an empty ledger as if all were well.
    let needs_home = !matches!(
        cli.command,
        Command::Hooks(_) | Command::Config(_) | Command::Doctor(_)
    );
    if needs_home {
        if let Some(problem) = home_problem(&home, cli.home.is_some()) {
            return Err(crate::error::Error::Invalid(problem));
        }
    }
    match cli.command {
        Command::Hook(_) => unreachable!("handled above"),
        Command::Outcome(a) => outcome::outcome(a, &home),
        Command::Rate(a) => rate::rate(a, &home),
        Command::Ci(a) => ci::ci(a, &home),
        Command::Learn(a) => learn::learn(a, &home),
        Command::Select(a) => select::select(a, &home),
        Command::Tasks(a) => tasks::tasks(a, &home),
        Command::Usage(a) => usage::usage(a, &home),
        Command::Doctor(a) => doctor::doctor(a, &home),
        Command::Rotate(a) => rotate::rotate(a, &home),
        Command::Hooks(c) => hooks::hooks(c, &home),
        Command::Config(a) => config::config(a, &home),
        Command::Mcp(a) => mcp::mcp(a, &home),
        Command::Ledger(c) => ledger::ledger(c, &home),
        Command::Sync(a) => sync::sync(a, &home),
    }
}
