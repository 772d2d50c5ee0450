//! `select`: the model the rules give for a task.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct SelectArgs {}

pub fn select(_a: SelectArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("select: not built yet".into()))
}
