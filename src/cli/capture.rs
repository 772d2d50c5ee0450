//! `hook`, `usage` and `doctor`: automatic capture.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct HookArgs {}

/// Runs the hook. Always exit 0: a hook must never hurt Claude Code.
pub fn hook(_a: &HookArgs, _home: Option<&Path>) -> ExitCode {
    ExitCode::SUCCESS
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// A session transcript (.jsonl)
    transcript: PathBuf,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn usage(_a: UsageArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("usage: not built yet".into()))
}

#[derive(Debug, Args)]
pub struct DoctorArgs {}

pub fn doctor(_a: DoctorArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("doctor: not built yet".into()))
}
