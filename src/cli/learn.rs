//! `learn` and `select`.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct LearnArgs {}

pub fn learn(_a: LearnArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("learn: not built yet".into()))
}
