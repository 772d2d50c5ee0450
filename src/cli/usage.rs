//! `usage`: tokens, cost and models of one transcript.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

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
