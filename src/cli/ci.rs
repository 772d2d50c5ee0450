//! `modelfit ci`: a CI pipeline's result.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::explicit::ci::{self, CiStatus, Link};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct CiArgs {
    /// The pipeline's result: success, failure or cancelled [default: from the CI
    /// environment where it has one, e.g. GitLab's CI_JOB_STATUS]
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    /// The commit the pipeline ran on (full SHA or a unique prefix of 7+ hex digits)
    /// [default: GITHUB_SHA, CI_COMMIT_SHA, GIT_COMMIT, BUILDKITE_COMMIT, CIRCLE_SHA1]
    #[arg(long, value_name = "SHA")]
    commit: Option<String>,
    /// Rate this task instead of the tasks of the commit (repeatable)
    #[arg(long = "task", value_name = "TASK_ID")]
    tasks: Vec<String>,
    /// A link to the pipeline run [default: from the CI environment]
    #[arg(long, value_name = "URL")]
    pipeline: Option<String>,
    /// Exit 1 when no task matches (by default that is a message and exit 0, so the
    /// step never fails a pipeline for it)
    #[arg(long)]
    strict: bool,
}

pub fn ci(a: CiArgs, home: &Home) -> Result<ExitCode> {
    let env = ci::detect(&|k| std::env::var(k).ok());
    let status_text = a.status.or(env.status.clone()).ok_or_else(|| {
        Error::Invalid(
            "no pipeline status: pass --status success|failure|cancelled (GitHub Actions has \
             no status variable: use --status ${{ job.status }}; GitLab sets CI_JOB_STATUS \
             only in after_script)"
                .into(),
        )
    })?;
    let status = CiStatus::parse(&status_text)?;
    let commit = a.commit.or(env.commit.clone());
    let pipeline = a
        .pipeline
        .or(env.pipeline.clone())
        .map(|p| crate::signals::redact(&p));
    let link = if !a.tasks.is_empty() {
        Link::Tasks(a.tasks.clone())
    } else if let Some(c) = &commit {
        Link::Commit(c.clone())
    } else {
        return Err(Error::Invalid(
            "nothing to link the pipeline to: pass --commit SHA or --task TASK_ID (no commit \
             variable found in the CI environment)"
                .into(),
        ));
    };
    let now = crate::clock::now_iso();
    let r = ci::record(
        home,
        &link,
        status,
        pipeline.as_deref(),
        commit.as_deref(),
        &now,
    )?;

    let mut unmatched = Vec::new();
    if r.tasks.is_empty() {
        unmatched.push(match &link {
            Link::Commit(c) => format!("no task was recorded on commit {c}"),
            Link::Tasks(ids) => format!("no task with id {}", ids.join(", ")),
        });
    } else if !r.missing.is_empty() {
        unmatched.push(format!("no task with id {}", r.missing.join(", ")));
    }
    let mut outranked = 0;
    for (id, change) in &r.tasks {
        let verdict = match status.outcome() {
            Some(o) => format!("ci {} -> outcome {o}", status.as_str()),
            None => format!(
                "ci {} (no verdict: the outcome is unchanged)",
                status.as_str()
            ),
        };
        if change.fields.is_empty() {
            println!("{id}: {verdict} (already recorded, nothing changed)");
        } else {
            println!("{id}: {verdict}");
            print!("{}", change.describe());
        }
        outranked += change.outranked_by.is_some() as usize;
    }
    if outranked > 0 {
        eprintln!(
            "modelfit ci: {outranked} task(s) keep a person's verdict; ci_status was recorded \
             beside it (exit 0)"
        );
    }
    for m in &unmatched {
        eprintln!(
            "modelfit ci: {m} in {}; nothing rated{}",
            home.ledger().display(),
            if a.strict {
                ""
            } else {
                " (exit 0; --strict makes this an error)"
            }
        );
    }
    if a.strict && !unmatched.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
