//! `mcp`: the MCP server on stdio.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct McpArgs {}

pub fn mcp(_a: McpArgs, _home: &Home) -> Result<ExitCode> {
    Err(Error::Invalid("mcp: not built yet".into()))
}
