//! `hook`, `usage` and `doctor`: automatic capture.

use std::path::Path;
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
pub struct DoctorArgs {}

pub fn doctor(_a: DoctorArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("doctor: not built yet".into()))
}

#[derive(Debug, clap::Subcommand)]
pub enum HooksCommand {
    /// Register modelfit's hooks in Claude Code's user settings
    Install,
    /// Remove exactly what `hooks install` added
    Uninstall,
}

pub fn hooks(_c: HooksCommand, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("hooks: not built yet".into()))
}
