//! `modelfit hooks install|uninstall`: Claude Code settings.

use std::process::ExitCode;

use crate::claude_settings;
use crate::error::Result;
use crate::home::Home;

/// `modelfit hooks install|uninstall`.
#[derive(Debug, clap::Subcommand)]
pub enum HooksCommand {
    /// Register modelfit's hooks in Claude Code's user settings
    Install,
    /// Remove exactly what `hooks install` added
    Uninstall,
}

/// Installs or removes modelfit's hook entries in Claude Code's settings.
pub fn hooks(c: HooksCommand, _home: &Home) -> Result<ExitCode> {
    let path = claude_settings::settings_path()?;
    let out = match c {
        HooksCommand::Install => {
            let exe = std::env::current_exe().map_err(|e| {
                crate::error::Error::Invalid(format!("cannot find modelfit's own path: {e}"))
            })?;
            let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
            claude_settings::install(&path, &exe)?
        }
        HooksCommand::Uninstall => claude_settings::uninstall(&path)?,
    };
    match (&c, out.changed) {
        (HooksCommand::Install, false) => {
            println!(
                "hooks already installed in {}; nothing changed",
                out.path.display()
            )
        }
        (HooksCommand::Install, true) => println!(
            "installed modelfit hooks for {} in {}",
            out.events.join(", "),
            out.path.display()
        ),
        (HooksCommand::Uninstall, false) => {
            println!(
                "no modelfit hooks in {}; nothing changed",
                out.path.display()
            )
        }
        (HooksCommand::Uninstall, true) => println!(
            "removed modelfit hooks for {} from {}",
            out.events.join(", "),
            out.path.display()
        ),
    }
    if let Some(b) = out.backup {
        println!("previous file saved as {}", b.display());
    }
    Ok(ExitCode::SUCCESS)
}
