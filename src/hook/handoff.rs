//! Handing off to `modelfit learn`: after every N recorded outcomes the hook
//! starts a detached learn run.

use std::fs;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::session::FileLock;
use super::{log, replace_file, LOCK_TIMEOUT};
use crate::clock;
use crate::home::Home;

/// Bookkeeping of the background `learn` runs the hook starts.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Handoff {
    /// Outcomes recorded by the hook since the last learn run was started.
    pub outcomes_since_learn: u64,
    /// When the hook last started `modelfit learn` (ISO).
    pub last_started_at: Option<String>,
    /// Its process id.
    pub pid: Option<u32>,
}

impl Handoff {
    /// Reads `logs/modelfit/learn-handoff.json` (defaults when absent or unreadable).
    pub fn load(home: &Home) -> Handoff {
        fs::read(home.learn_handoff())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Whether the learn run it started is still alive.
    pub fn running(&self) -> bool {
        self.pid.is_some_and(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("learn"))
        })
    }
}

pub(super) fn hand_off(home: &Home, now: DateTime<Utc>) {
    crate::sync::kick(home); // starts a background `modelfit sync` when a database is configured
    let every = crate::settings::Settings::load(home).learn_every as u64;
    let path = home.learn_handoff();
    let Ok(_lock) = FileLock::acquire(&path.with_extension("lock"), LOCK_TIMEOUT) else {
        log(home, "hook: learn hand-off skipped: its lock is busy");
        return;
    };
    let mut h = Handoff::load(home);
    h.outcomes_since_learn += 1;
    if every > 0 && h.outcomes_since_learn >= every && !h.running() {
        if !crate::complexity::Calibration::fresh(home) {
            // Refit the complexity thresholds on the ledger's labelled
            // dispatches, at most daily, in a detached process (a full
            // ledger read has no place in a Stop hook).
            if let Err(e) = spawn(home, &["hook", "--calibrate-complexity"]) {
                log(
                    home,
                    &format!("hook: cannot start the complexity calibration: {e}"),
                );
            }
        }
        match spawn(home, &["learn"]) {
            Ok(pid) => {
                h.outcomes_since_learn = 0;
                h.last_started_at = Some(clock::iso(now));
                h.pid = Some(pid);
            }
            Err(e) => log(home, &format!("hook: cannot start modelfit learn: {e}")),
        }
    }
    if let Err(e) = replace_file(&path, &serde_json::to_vec_pretty(&h).expect("serializes")) {
        log(home, &format!("hook: {e}"));
    }
}

/// Starts `modelfit --home HOME ARGS…` fully detached: a new session, no
/// inherited stdio.
fn spawn(home: &Home, args: &[&str]) -> std::io::Result<u32> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--home")
        .arg(home.root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    Ok(child.id())
}
