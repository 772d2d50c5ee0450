//! `modelfit rotate`: monthly archives.

use std::process::ExitCode;

use clap::Args;

use crate::error::Result;
use crate::home::Home;

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Move records older than this (e.g. 90d, 12w, 36h)
    #[arg(long, default_value = "90d", value_name = "AGE")]
    older_than: String,
    /// Only say what would move
    #[arg(long)]
    dry_run: bool,
}

pub fn rotate(a: RotateArgs, home: &Home) -> Result<ExitCode> {
    let age = crate::rotate::parse_age(&a.older_than)?;
    let r = crate::rotate::rotate(home, age, a.dry_run)?;
    let verb = if a.dry_run { "would move" } else { "moved" };
    if r.moved.is_empty() {
        println!("nothing older than {} to move", a.older_than);
    }
    for (path, n) in &r.moved {
        println!("{verb} {n} record(s) to {}", path.display());
    }
    if r.undated > 0 {
        println!("kept {} record(s) without a date", r.undated);
    }
    Ok(ExitCode::SUCCESS)
}
