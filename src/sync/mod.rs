//! A team's machines pooled on PostgreSQL: `modelfit sync` pushes this
//! home's records to a shared database, `modelfit learn --database` learns
//! from every machine's records.
//!
//! * The ledger stays the embedded default: nothing here runs unless a
//!   database is configured (`--database URL`, `MODELFIT_DATABASE_URL`, or
//!   `modelfit config database URL`; a libpq URL or `key=value` string).
//! * The hook never connects. What waits is the ledger's records whose text
//!   the database has not acknowledged ([`state`]); the hook's detached
//!   hand-off only starts `modelfit sync` in the background ([`kick`]).
//! * The database has a schema of its own, `modelfit` ([`schema`]), created
//!   and migrated by modelfit; records are keyed by (machine id, record key),
//!   so equal dispatch ids from two machines never collide, and a second sync
//!   adds nothing.
//!
//! The PostgreSQL client is behind the default-on cargo feature `postgres`.

pub mod state;

#[cfg(feature = "postgres")]
pub mod conn;
#[cfg(feature = "postgres")]
pub mod pooled;
#[cfg(feature = "postgres")]
pub mod push;
#[cfg(feature = "postgres")]
pub mod schema;

use crate::error::{Error, Result};
use crate::home::Home;

pub use state::{machine_id, pending, Pending, SyncState};

/// After a failed sync, the hook starts the next one no sooner than this.
pub const BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);

/// The environment variable naming the database.
pub const ENV: &str = "MODELFIT_DATABASE_URL";

/// The database to use: `flag`, else `MODELFIT_DATABASE_URL`, else the
/// `database` setting. `None`: no database configured.
pub fn database_url(home: &Home, flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string)
        .or_else(|| std::env::var(ENV).ok())
        .filter(|s| !s.trim().is_empty())
        .or_else(|| crate::settings::Settings::load(home).database)
        .filter(|s| !s.trim().is_empty())
}

/// Checks that `url` reads as a connection string (without connecting).
pub fn check_url(url: &str) -> Result<()> {
    #[cfg(feature = "postgres")]
    {
        conn::parse(url).map(|_| ())
    }
    #[cfg(not(feature = "postgres"))]
    {
        if url.trim().is_empty() {
            return Err(Error::Invalid("the database URL is empty".into()));
        }
        Ok(())
    }
}

/// `url` with its password replaced by `***`, for messages and `config`.
pub fn describe_url(url: &str) -> String {
    let url = url.trim();
    if let Some(rest) = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
    {
        let scheme = &url[..url.len() - rest.len()];
        // userinfo ends at the last '@' before the path.
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            let userinfo = &rest[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!("{scheme}{}:***{}", &userinfo[..colon], &rest[at..]);
            }
        }
        return url.to_string();
    }
    // key=value form: mask the value of password=.
    let mut out = Vec::new();
    for part in url.split_whitespace() {
        match part.split_once('=') {
            Some((k, _)) if k.trim() == "password" => out.push("password=***".to_string()),
            _ => out.push(part.to_string()),
        }
    }
    out.join(" ")
}

/// What one `modelfit sync` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// The database, without its password.
    pub database: String,
    /// This machine's id.
    pub machine_id: String,
    /// Records in the local ledger.
    pub records: u64,
    /// Records new to the database.
    pub inserted: u64,
    /// Records the database had in an older version.
    pub updated: u64,
    /// Records sent that the database already had as they are (e.g. after
    /// the local state was lost).
    pub unchanged: u64,
    /// Records already acknowledged, not sent.
    pub skipped: u64,
    /// Records the database refused (they keep waiting), with why.
    pub refused: Vec<String>,
}

/// Pushes this home's records to the database at `url`. See the module docs.
#[cfg(feature = "postgres")]
pub fn sync(home: &Home, url: &str) -> Result<SyncReport> {
    push::run(home, url)
}

/// Without the `postgres` feature: says how to get it.
#[cfg(not(feature = "postgres"))]
pub fn sync(_home: &Home, _url: &str) -> Result<SyncReport> {
    Err(not_built())
}

/// The error of a binary built without PostgreSQL support.
pub fn not_built() -> Error {
    Error::Database(
        "this modelfit was built without PostgreSQL support: rebuild with the default \
         features (cargo install --path . ) or `--features postgres`"
            .into(),
    )
}

/// Called by the hook's detached hand-off after a task was recorded: when a
/// database is configured and no sync is running, starts `modelfit sync` in
/// the background (its own process group, no stdio). Never connects, never
/// waits, never fails: errors go to the log.
pub fn kick(home: &Home) {
    #[cfg(feature = "postgres")]
    {
        if database_url(home, None).is_none() {
            return;
        }
        if crate::lockfile::is_held(&state::lock_path(home)) {
            return; // a running sync picks the new record up on its next pass
        }
        // The database failed lately: one attempt per BACKOFF, so a database
        // that is down costs the hook one stat, not a process per task.
        if let Ok(m) = std::fs::metadata(state::backoff_path(home)) {
            if m.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age < BACKOFF)
            {
                return;
            }
        }
        if let Err(e) = spawn_sync(home) {
            crate::hook::log(home, &format!("hook: cannot start modelfit sync: {e}"));
        }
    }
    #[cfg(not(feature = "postgres"))]
    let _ = home;
}

#[cfg(feature = "postgres")]
fn spawn_sync(home: &Home) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    // process_group(0) instead of setsid in pre_exec keeps std on its
    // posix_spawn path (no fork of the hook's address space).
    Command::new(exe)
        .arg("--home")
        .arg(home.root())
        .arg("sync")
        .arg("--background")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(|_| ())
}

/// `doctor`'s view: how many records wait and since when (with a database configured).
pub fn doctor_check(r: &mut crate::doctor::Checks, home: &Home) {
    let Some(url) = database_url(home, None) else {
        return;
    };
    let target = describe_target(&url);
    match pending(home, &target) {
        Ok(p) if p.waiting == 0 => r.ok(&format!(
            "database {}: all {} records synced (last sync {})",
            describe_url(&url),
            p.records,
            p.last_ok_at.as_deref().unwrap_or("never")
        )),
        Ok(p) => {
            let since = p
                .oldest
                .map(crate::clock::iso)
                .unwrap_or_else(|| "an unknown time".into());
            let what = format!(
                "database {}: {} of {} records wait to be synced, the oldest changed {}; last \
                 successful sync: {}{}",
                describe_url(&url),
                p.waiting,
                p.records,
                since,
                p.last_ok_at.as_deref().unwrap_or("never"),
                p.last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            );
            if p.last_error.is_some() {
                r.fail(
                    &what,
                    "run `modelfit sync` and fix what it reports (nothing is lost meanwhile)",
                );
            } else {
                r.info(&what);
            }
        }
        Err(e) => r.fail(
            &format!("cannot count the records waiting to be synced: {e}"),
            "repair the ledger (see the ledger check above)",
        ),
    }
}

/// The identity of a database for the sync state: host, port, database and
/// user, never the password. Acknowledgements from one database say nothing
/// about another.
pub fn describe_target(url: &str) -> String {
    #[cfg(feature = "postgres")]
    {
        if let Ok(c) = conn::parse(url) {
            return conn::target(&c);
        }
    }
    describe_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_url_hides_the_password() {
        assert_eq!(
            describe_url("postgresql://team:s3cr3t@db.example:5432/modelfit"),
            "postgresql://team:***@db.example:5432/modelfit"
        );
        assert_eq!(
            describe_url("postgres://team@db/modelfit"),
            "postgres://team@db/modelfit"
        );
        assert_eq!(
            describe_url("host=db user=team password=s3cr3t dbname=m"),
            "host=db user=team password=*** dbname=m"
        );
        assert_eq!(
            describe_url("postgresql://a:b@c@h/d"),
            "postgresql://a:***@h/d"
        );
    }

    #[test]
    fn keys_tell_repeated_and_missing_ids_apart() {
        let mut k = state::Keys::default();
        let raw = |s: &str| serde_json::from_str::<Box<serde_json::value::RawValue>>(s).unwrap();
        assert_eq!(k.key(&raw(r#"{"id":"d-1"}"#), "h"), "d-1");
        assert_eq!(k.key(&raw(r#"{"id":"d-1"}"#), "h"), "d-1#2");
        assert_eq!(k.key(&raw(r#"{"dispatch_id":"d-2"}"#), "h"), "d-2");
        assert_eq!(k.key(&raw(r#"{"x":1}"#), "abc"), "noid:abc");
    }
}
