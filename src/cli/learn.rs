//! `learn`: analyze, suggest, report, apply, reject.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::learn::{self, AnalyzeOptions, ReportFormat, SuggestOptions};

#[derive(Debug, Args)]
pub struct LearnArgs {
    #[command(subcommand)]
    command: Option<LearnCommand>,
    /// Cells with fewer effective samples get no suggestion (with no subcommand)
    #[arg(long, default_value_t = 5)]
    min_sample_size: u32,
    /// Only records created at or after this date (YYYY-MM-DD or ISO) count
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Suggestions below this confidence are not emitted (with no subcommand)
    #[arg(long, default_value_t = 0.70)]
    min_confidence: f64,
    /// Learn from the pooled records of every machine in this PostgreSQL
    /// database (alone: the configured one; see `modelfit sync`)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    database: Option<String>,
}

#[derive(Debug, Subcommand)]
enum LearnCommand {
    /// Stream the ledger into per-cell statistics (logs/model-learning.json).
    Analyze {
        /// Cells with fewer effective samples get no suggestion
        #[arg(long, default_value_t = 5)]
        min_sample_size: u32,
        /// Only records created at or after this date count [default: last 90 days, decayed]
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Turn the latest analysis into suggestions with stable ids.
    Suggest {
        /// Suggestions below this confidence are not emitted
        #[arg(long, default_value_t = 0.70)]
        min_confidence: f64,
    },
    /// Render the latest analysis for a person.
    Report {
        /// md, json or html
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        /// Write to FILE (atomically) instead of stdout
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Apply suggestion ID to models.json.
    Apply {
        /// The suggestion id (sg-…)
        id: String,
        /// Apply even when it conflicts with an existing rule
        #[arg(long)]
        force: bool,
        /// Write nothing: show the last 90 days' tasks it would have moved under the router
        /// in use (by kind, from → to, expected success and cost per success)
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: print the impact as JSON
        #[arg(long)]
        json: bool,
    },
    /// Reject suggestion ID; it is never suggested again.
    Reject {
        /// The suggestion id (sg-…)
        id: String,
        /// Why (kept in the learning file)
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Md,
    Json,
    Html,
}

fn parse_since(s: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    match s {
        None => Ok(None),
        Some(t) => crate::clock::parse(t).map(Some).ok_or_else(|| {
            Error::Invalid(format!(
                "--since {t:?} is not a date: use YYYY-MM-DD or an ISO timestamp"
            ))
        }),
    }
}

fn check_confidence(c: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&c) {
        return Err(Error::Invalid(format!(
            "--min-confidence {c} is outside 0..1"
        )));
    }
    Ok(())
}

fn print_analysis(a: &learn::Analysis, home: &Home) {
    let cells = a.patterns.iter().filter(|p| p.keyword.is_none()).count();
    println!(
        "analysed {} records: {} complexity × model cells, {} keyword cells → {}",
        a.total_dispatches,
        cells,
        a.patterns.len() - cells,
        home.learning().display()
    );
    // Say why nothing (or little) was found: records outside the window.
    let doc = learn::file::load(&home.learning()).unwrap_or_default();
    if let Some(note) = learn::report::window_note(&doc) {
        println!("note: {note}");
    }
    if cells == 0 {
        println!(
            "no data yet: a cell needs tasks with a model, a complexity and a known outcome in the \
             window; `modelfit tasks` shows what is recorded, `modelfit tasks --unrated` what to rate"
        );
    }
}

fn print_suggestions(s: &[learn::Suggestion]) {
    if s.is_empty() {
        println!("no open suggestion (see `modelfit learn report` for the evidence still needed)");
    }
    for sg in s {
        println!(
            "{}  {}  confidence {:.2}\n    {}\n    apply: modelfit learn apply {}   reject: modelfit learn reject {}",
            sg.id, sg.kind, sg.confidence, sg.reason, sg.id, sg.id
        );
    }
}

pub fn learn(a: LearnArgs, home: &Home) -> Result<ExitCode> {
    if let Some(flag) = &a.database {
        if a.command.is_some() {
            return Err(Error::Invalid(
                "--database goes with `modelfit learn` alone (analyze + suggest), not a subcommand"
                    .into(),
            ));
        }
        check_confidence(a.min_confidence)?;
        let flag = Some(flag.as_str()).filter(|f| !f.is_empty());
        let url = crate::sync::database_url(home, flag).ok_or_else(|| {
            Error::Invalid(format!(
                "no database configured: give --database URL, set {}, or run `modelfit config \
                 database URL`",
                crate::sync::ENV
            ))
        })?;
        let p = learn::pooled::learn(
            home,
            &url,
            &AnalyzeOptions {
                min_sample_size: a.min_sample_size,
                since: parse_since(a.since.as_deref())?,
            },
            &SuggestOptions {
                min_confidence: a.min_confidence,
            },
        )?;
        println!(
            "pooled {} records from {} machine{} in {}",
            p.records,
            p.machines,
            if p.machines == 1 { "" } else { "s" },
            p.database
        );
        print_analysis(&p.analysis, home);
        print_suggestions(&p.suggestions);
        return Ok(ExitCode::SUCCESS);
    }
    match a.command {
        None => {
            // The batch job writes journaled hook writes into the ledger first (store).
            let _ = crate::store::Ledger::of(home).reconcile();
            check_confidence(a.min_confidence)?;
            // The analysis builds the window's task table as it reads, so
            // suggest does not read the ledger again.
            let (an, table) = learn::analyze_with_tasks(
                home,
                &AnalyzeOptions {
                    min_sample_size: a.min_sample_size,
                    since: parse_since(a.since.as_deref())?,
                },
            )?;
            print_analysis(&an, home);
            let s = learn::suggest_with(
                home,
                &SuggestOptions {
                    min_confidence: a.min_confidence,
                },
                &learn::TaskSource::ready(home, table),
            )?;
            print_suggestions(&s);
        }
        Some(LearnCommand::Analyze {
            min_sample_size,
            since,
        }) => {
            let an = learn::analyze(
                home,
                &AnalyzeOptions {
                    min_sample_size,
                    since: parse_since(since.as_deref())?,
                },
            )?;
            print_analysis(&an, home);
        }
        Some(LearnCommand::Suggest { min_confidence }) => {
            check_confidence(min_confidence)?;
            let s = learn::suggest(home, &SuggestOptions { min_confidence })?;
            print_suggestions(&s);
        }
        Some(LearnCommand::Report { format, output }) => {
            let fmt = match format {
                Format::Md => ReportFormat::Markdown,
                Format::Json => ReportFormat::Json,
                Format::Html => ReportFormat::Html,
            };
            let text = learn::report(home, fmt)?;
            match output {
                Some(p) => {
                    crate::store::write_atomic(&p, text.as_bytes())?;
                    println!("wrote {}", p.display());
                }
                None => print!("{text}"),
            }
        }
        Some(LearnCommand::Apply {
            id,
            dry_run: true,
            json,
            ..
        }) => {
            let i = learn::impact::preview(home, &id)?;
            if json {
                let text =
                    serde_json::to_string_pretty(&i).map_err(|e| Error::Invalid(e.to_string()))?;
                println!("{text}");
            } else {
                println!("dry run of {id}: nothing written");
                print!("{}", learn::impact::markdown(&i));
            }
        }
        Some(LearnCommand::Apply { id, force, .. }) => {
            let r = learn::apply(home, &id, force)?;
            println!(
                "{} {}: {} (backup: {})",
                if r.resumed {
                    "finished applying"
                } else {
                    "applied"
                },
                r.id,
                r.description,
                r.backup.display()
            );
            for n in &r.notes {
                println!("note: {n}");
            }
        }
        Some(LearnCommand::Reject { id, reason }) => {
            let r = learn::reject(home, &id, reason.as_deref())?;
            if r.already {
                println!("{} was already rejected", r.id);
            } else {
                println!("rejected {}; it will not be suggested again", r.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
