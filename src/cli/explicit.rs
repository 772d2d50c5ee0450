//! `rate` and `ci`: explicit verdicts from people and pipelines.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct RateArgs {}

pub fn rate(_a: RateArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("rate: not built yet".into()))
}

#[derive(Debug, Args)]
pub struct CiArgs {}

pub fn ci(_a: CiArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("ci: not built yet".into()))
}
