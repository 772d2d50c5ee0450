//! modelfit learns which Claude model fits which kind of coding task, from
//! what actually happened.
//!
//! Hooks capture each task's outcome, time, tokens and cost into the
//! orchestrator's ledger ([`store`]); `learn` turns outcomes into suggested
//! rule changes; `apply` makes them real in `models.json`; `select` routes by
//! them. See the README for the files and commands.
#![warn(missing_docs)]
#![deny(clippy::print_stdout)]

pub mod claude_settings;
pub mod cli;
pub mod clock;
pub mod complexity;
pub mod doctor;
pub mod error;
pub mod explicit;
pub mod home;
pub mod hook;
pub mod learn;
pub mod lockfile;
#[cfg(feature = "mcp")]
pub mod mcp;
#[cfg(feature = "mcp")]
pub mod mcp_lines;
pub mod outcome;
pub mod pricing;
pub mod readfile;
pub mod record;
pub mod rotate;
pub mod router;
pub mod rules;
pub mod safe_fs;
pub mod settings;
pub mod signals;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod transcript;

pub use error::{Error, Result};
