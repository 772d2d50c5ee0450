//! `modelfit hook`: one Claude Code hook payload on stdin.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::home::Home;
use crate::hook;

/// `modelfit hook` takes no options: the payload comes on stdin.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// Internal: refit the complexity thresholds on the ledger's labelled
    /// dispatches (started detached by the hook itself, at most daily).
    #[arg(long, hide = true)]
    calibrate_complexity: bool,
}

/// Runs the hook. Always exit 0, and print nothing but the optional Stop
/// reminder: a hook must never hurt Claude Code (stdout of some events becomes
/// model context; JSON on stdout is read as control output).
pub fn hook(a: &HookArgs, home: Option<&Path>) -> ExitCode {
    if a.calibrate_complexity {
        if let Ok(home) = Home::resolve(home) {
            if let Err(e) = crate::complexity::recalibrate(&home, &crate::clock::now_iso()) {
                hook::log(&home, &format!("complexity calibration: {e}"));
            }
        }
        return ExitCode::SUCCESS;
    }
    // Bounded: a stdin that never ends (a pipe held open, /dev/zero) is
    // given up after the cap or the deadline, and logged.
    let (bytes, stdin) = hook::read_capped(std::io::stdin().lock(), hook::STDIN_DEADLINE);
    let Ok(home) = Home::resolve(home) else {
        return ExitCode::SUCCESS; // no home: nowhere to record or log
    };
    if !home.root().is_dir() {
        return ExitCode::SUCCESS; // a home that does not exist is never created by a hook
    }
    match std::panic::catch_unwind(|| hook::run(&home, &bytes, stdin)) {
        // Only ever the Stop reminder (a JSON systemMessage, off by default).
        Ok(Some(line)) => {
            let _ = writeln!(std::io::stdout(), "{line}");
        }
        Ok(None) => {}
        Err(_) => hook::log(&home, "hook: internal error (panic); payload ignored"),
    }
    ExitCode::SUCCESS
}
