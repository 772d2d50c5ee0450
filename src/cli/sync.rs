//! `modelfit sync`: push this home's records to the team's PostgreSQL database.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// PostgreSQL URL or libpq string [default: $MODELFIT_DATABASE_URL, else `modelfit config database`]
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Run as the hook's background job: quiet, errors to the log, nothing if a sync runs already
    #[arg(long, hide = true)]
    background: bool,
}

/// How long a foreground sync waits for a running one to finish.
const WAIT: Duration = Duration::from_secs(60);

pub fn sync(a: SyncArgs, home: &Home) -> Result<ExitCode> {
    let url = crate::sync::database_url(home, a.database.as_deref()).ok_or_else(|| {
        Error::Invalid(format!(
            "no database configured: give --database URL, set {}, or run `modelfit config \
             database URL` (e.g. postgresql://USER:PASSWORD@HOST:5432/DB)",
            crate::sync::ENV
        ))
    })?;
    let lock_path = crate::sync::state::lock_path(home);
    if a.background {
        return Ok(background(home, &url, &lock_path));
    }
    let _lock = crate::lockfile::acquire(&lock_path, WAIT)?;
    let r = crate::sync::sync(home, &url)?;
    println!(
        "synced {} to {} as machine {}: {} new, {} updated, {} already there, {} unchanged since \
         the last sync ({} records in the ledger)",
        home.ledger().display(),
        r.database,
        r.machine_id,
        r.inserted,
        r.updated,
        r.unchanged,
        r.skipped,
        r.records
    );
    if r.refused.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for why in &r.refused {
        eprintln!("modelfit: {why}");
    }
    eprintln!(
        "modelfit: {} record(s) refused by the database; every other record was synced",
        r.refused.len()
    );
    Ok(ExitCode::FAILURE)
}

/// The hook's job: one sync at a time; again while the ledger changed under it.
fn background(home: &Home, url: &str, lock_path: &std::path::Path) -> ExitCode {
    let Ok(_lock) = crate::lockfile::acquire(lock_path, Duration::ZERO) else {
        return ExitCode::SUCCESS; // a sync is running; it rescans when the ledger moved
    };
    let stamp = || {
        std::fs::metadata(home.ledger())
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    for _ in 0..3 {
        let before = stamp();
        match crate::sync::sync(home, url) {
            Ok(r) if r.refused.is_empty() => {}
            Ok(r) => {
                for why in &r.refused {
                    crate::hook::log(home, &format!("sync: {why}"));
                }
            }
            Err(e) => {
                crate::hook::log(home, &format!("sync: {e}"));
                return ExitCode::FAILURE;
            }
        }
        if stamp() == before {
            break;
        }
    }
    ExitCode::SUCCESS
}
