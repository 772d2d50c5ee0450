//! `mcp`: the MCP server on stdio.

use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::home::Home;

#[derive(Debug, Args)]
pub struct McpArgs {}

/// Serves the MCP tools until the client closes stdin. The async runtime is
/// started inside `crate::mcp::serve_stdio`, so no other command pays for it.
#[cfg(feature = "mcp")]
pub fn mcp(_a: McpArgs, home: &Home) -> Result<ExitCode> {
    crate::mcp::serve_stdio(home.clone())?;
    Ok(ExitCode::SUCCESS)
}

/// This binary was built without the `mcp` feature.
#[cfg(not(feature = "mcp"))]
pub fn mcp(_a: McpArgs, _home: &Home) -> Result<ExitCode> {
    Err(crate::error::Error::Invalid(
        "this modelfit was built without MCP support (cargo feature `mcp`, on by default); \
         rebuild it with `cargo install --path . --features mcp` or without \
         `--no-default-features`"
            .into(),
    ))
}
