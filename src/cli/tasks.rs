//! `tasks`: recent tasks, newest first, as a table that fits the terminal
//! or as JSON.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::tasks::{self, clean, Filter, TaskRow};

/// `modelfit tasks [--unrated] [--since DATE] [--workspace W] [--session S] [--limit N] [--json]`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Only finished tasks without a verdict from a person, CI or a manual outcome
    #[arg(long)]
    unrated: bool,
    /// Only tasks created at or after this date (YYYY-MM-DD or ISO)
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only tasks whose workspace key or path contains this text
    #[arg(long, value_name = "TEXT")]
    workspace: Option<String>,
    /// Only tasks of this Claude Code session (an id prefix is enough)
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// At most N tasks, newest first (0: all)
    #[arg(long, value_name = "N", default_value_t = 30)]
    limit: usize,
    /// Print the tasks as a JSON array (every field, as recorded)
    #[arg(long)]
    json: bool,
}

pub fn tasks(a: TasksArgs, home: &Home) -> Result<ExitCode> {
    let since = match a.since.as_deref() {
        None => None,
        Some(t) => Some(crate::clock::parse(t).ok_or_else(|| {
            Error::Invalid(format!(
                "--since {t:?} is not a date: use YYYY-MM-DD or an ISO timestamp"
            ))
        })?),
    };
    let filter = Filter {
        unrated: a.unrated,
        since,
        workspace: a.workspace,
        session: a.session,
        limit: (a.limit > 0).then_some(a.limit),
        keywords: false,
    };
    let rows = tasks::list(home, &filter)?;
    if a.json {
        let text =
            serde_json::to_string_pretty(&rows).map_err(|e| Error::Invalid(e.to_string()))?;
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "no {}task in {}{}",
            if a.unrated { "unrated " } else { "" },
            home.ledger().display(),
            if filter.since.is_some() || filter.workspace.is_some() || filter.session.is_some() {
                " matches these filters"
            } else if a.unrated {
                ": every finished task has a verdict"
            } else {
                " yet: the hook records each Claude Code task when it ends"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render(&rows, terminal_width()));
    if rows
        .iter()
        .any(|r| r.complexity_source.as_deref() == Some("estimated"))
    {
        println!("* complexity estimated by modelfit, not given by the orchestrator");
    }
    if rows.len() == a.limit {
        println!("(newest {} shown; --limit 0 for all)", a.limit);
    }
    if rows.iter().any(|r| r.unrated) {
        println!(
            "unrated: finished, no verdict from a person, CI or `modelfit outcome`; \
             rate with `modelfit rate ID y|n|p`"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The terminal's width: the window of stdout, else `$COLUMNS`, else 120.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        return ws.ws_col as usize;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|c: &usize| *c >= 20)
        .unwrap_or(120)
}

/// A short model name: `claude-sonnet-4-5-20250929` → `sonnet-4-5`.
fn short_model(m: &str) -> String {
    let m = m.strip_prefix("claude-").unwrap_or(m);
    match m.rsplit_once('-') {
        Some((head, date)) if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) => {
            head.to_string()
        }
        _ => m.to_string(),
    }
}

fn tokens(t: f64) -> String {
    if t >= 1e6 {
        format!("{:.1}M", t / 1e6)
    } else if t >= 1e3 {
        format!("{:.1}k", t / 1e3)
    } else {
        format!("{t:.0}")
    }
}

fn cells(r: &TaskRow) -> Vec<String> {
    let when = r
        .when
        .as_deref()
        .and_then(crate::clock::parse)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "–".into());
    let complexity = match (&r.complexity, r.complexity_source.as_deref()) {
        (Some(c), Some("estimated")) => format!("{c}*"),
        (Some(c), _) => c.clone(),
        (None, _) => "–".into(),
    };
    // An unrated task shows the guess it holds, marked with `?`.
    let outcome = match (&r.outcome, r.outcome_source.as_deref(), r.unrated) {
        (Some(o), Some(s), true) => format!("{o}? ({s})"),
        (None, _, true) => "unrated".into(),
        (Some(o), Some(s), false) => format!("{o} ({s})"),
        (Some(o), None, _) => format!("{o} (orchestrator)"),
        (None, _, false) => r.status.clone().unwrap_or_else(|| "–".into()),
    };
    let retry = match (&r.retry_of, &r.retried_by) {
        (Some(p), Some(n)) => format!("of {p}, by {n}"),
        (Some(p), None) => format!("of {p}"),
        (None, Some(n)) => format!("by {n}"),
        (None, None) => String::new(),
    };
    vec![
        r.id.clone(),
        when,
        r.workspace.clone().unwrap_or_else(|| "–".into()),
        r.model
            .as_deref()
            .map(short_model)
            .unwrap_or_else(|| "–".into()),
        complexity,
        outcome,
        r.p_success
            .map(|p| format!("{p:.2}"))
            .unwrap_or_else(|| "–".into()),
        r.tokens.map(tokens).unwrap_or_else(|| "–".into()),
        r.cost_usd
            .map(|c| format!("${c:.4}"))
            .unwrap_or_else(|| "–".into()),
        retry,
    ]
}

const HEADERS: [&str; 10] = [
    "ID",
    "WHEN",
    "WORKSPACE",
    "MODEL",
    "CPLX",
    "OUTCOME",
    "P",
    "TOKENS",
    "COST",
    "RETRY",
];
/// The narrowest each column may get when the terminal is narrow.
const MIN: [usize; 10] = [12, 16, 8, 10, 6, 10, 4, 6, 7, 5];

/// The rows as a table no wider than `width`: every cell cleaned of control
/// characters, the widest columns cut first.
fn render(rows: &[TaskRow], width: usize) -> String {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cells(r).iter().map(|c| clean(c, 200)).collect())
        .collect();
    // Columns with nothing in any row (no tokens recorded, no retries) are left out.
    let shown: Vec<usize> = (0..HEADERS.len())
        .filter(|i| {
            *i < 2
                || table
                    .iter()
                    .any(|row| !row[*i].is_empty() && row[*i] != "–")
        })
        .collect();
    let gap = 2;
    let mut shown = shown;
    let mut hidden = false;
    let w = loop {
        let w = fit(&table, &shown, width, gap);
        let total = w.iter().sum::<usize>() + gap * (shown.len() - 1);
        // Too narrow even with every column at its minimum: hide the least
        // needed columns, rightmost first (`--json` has them all).
        match [9usize, 8, 7, 6, 2, 1]
            .iter()
            .find(|i| shown.contains(i))
            .filter(|_| total > width)
        {
            Some(&drop) => {
                shown.retain(|i| *i != drop);
                hidden = true;
            }
            None => break w,
        }
    };
    let mut out = String::new();
    let line = |cols: Vec<String>, out: &mut String| {
        let mut l = String::new();
        for &i in &shown {
            let c = crate::tasks::cut(&cols[i], w[i]);
            l.push_str(&format!("{c:<width$}", width = w[i] + gap));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(HEADERS.iter().map(|h| h.to_string()).collect(), &mut out);
    for row in table {
        line(row, &mut out);
    }
    if hidden {
        out.push_str("(narrow terminal: some columns hidden; --json shows every field)\n");
    }
    out
}

/// Column widths for `shown`: each column's widest cell, then the widest
/// columns cut one character at a time until the line fits `width` — first
/// the free-text columns, then the others, the id (what `rate` needs) last.
fn fit(table: &[Vec<String>], shown: &[usize], width: usize, gap: usize) -> [usize; 10] {
    let mut w = [0usize; 10];
    for &i in shown {
        w[i] = HEADERS[i].len();
        for row in table {
            w[i] = w[i].max(row[i].chars().count());
        }
    }
    let total = |w: &[usize]| w.iter().sum::<usize>() + gap * (shown.len() - 1);
    for allowed in [&[2usize, 9, 5, 3][..], &[1, 2, 3, 4, 5, 6, 7, 8, 9], &[0]] {
        while total(&w) > width {
            let Some(&i) = allowed
                .iter()
                .filter(|i| shown.contains(i) && w[**i] > MIN[**i])
                .max_by_key(|i| w[**i])
            else {
                break;
            };
            w[i] -= 1;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_model_drops_prefix_and_date() {
        assert_eq!(short_model("claude-sonnet-4-5-20250929"), "sonnet-4-5");
        assert_eq!(short_model("opus"), "opus");
    }
}
