//! Connecting to the team's database, and turning the client's errors into
//! messages that say what to do (never showing the password).

use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use crate::error::{Error, Result};

/// How long a connection attempt may take unless the URL says otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Parses a libpq URL (`postgresql://user:pw@host:port/db`) or key=value string.
pub fn parse(url: &str) -> Result<Config> {
    Config::from_str(url.trim()).map_err(|e| {
        Error::Invalid(format!(
            "the database URL {} is not valid ({e}); give postgresql://USER:PASSWORD@HOST:PORT/DB \
             or \"host=HOST port=PORT user=USER dbname=DB\"",
            super::describe_url(url)
        ))
    })
}

/// host:port/db as user, for messages and the sync state.
pub fn target(c: &Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            Host::Tcp(s) => s.clone(),
            Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        c.get_dbname().or(c.get_user()).unwrap_or("?"),
        c.get_user().unwrap_or("?")
    )
}

/// Connects (plain TCP or a Unix socket; 5 s connect timeout unless the URL
/// sets one). A password missing from the URL is taken from `PGPASSWORD`.
pub fn connect(url: &str) -> Result<Client> {
    let mut c = parse(url)?;
    if c.get_connect_timeout().is_none() {
        c.connect_timeout(CONNECT_TIMEOUT);
    }
    if c.get_password().is_none() {
        if let Ok(pw) = std::env::var("PGPASSWORD") {
            c.password(pw);
        }
    }
    if c.get_user().is_none() {
        if let Ok(u) = std::env::var("USER") {
            c.user(&u);
        }
    }
    let t = target(&c);
    c.application_name("modelfit");
    c.connect(NoTls).map_err(|e| explain(&e, &t, "connect to"))
}

/// A client error as a message naming what to do. `doing`: "connect to",
/// "write to", "read from".
pub fn explain(e: &postgres::Error, target: &str, doing: &str) -> Error {
    let keep = "nothing is lost: the records keep waiting locally and the next \
                `modelfit sync` delivers them";
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let msg = db.message();
        let what = if *code == SqlState::INVALID_PASSWORD {
            format!(
                "the database {target} refused the password ({msg}): check the password in the \
                 URL (or PGPASSWORD)"
            )
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            format!(
                "the database {target} refused the login ({msg}): check the user name, and that \
                 pg_hba.conf admits this machine"
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            format!("{msg} on {target}: create it (createdb) or fix the database name in the URL")
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            format!(
                "the database {target} refused: {msg}. Ask its administrator to run \
                 `CREATE SCHEMA modelfit AUTHORIZATION <your user>` (or grant the privileges)"
            )
        } else if code.code().starts_with("57") || code.code().starts_with("08") {
            format!("the database {target} stopped the connection ({msg}): check that it is up")
        } else {
            format!(
                "the database {target} refused ({} {msg}{})",
                code.code(),
                db.detail().map(|d| format!("; {d}")).unwrap_or_default()
            )
        };
        return Error::Database(format!("{what}; {keep}"));
    }
    let text = e.to_string();
    let cause = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let what = if e.is_closed() || text.contains("closed") {
        format!(
            "the connection to {target} was lost ({text}): check that the database is up, \
             then run `modelfit sync` again"
        )
    } else if cause.contains("refused") || text.contains("refused") {
        format!(
            "cannot {doing} the database {target}: connection refused. Is PostgreSQL running \
             there, and are the host and port in the URL right?"
        )
    } else if text.contains("timeout") || text.contains("timed out") || cause.contains("timed out")
    {
        format!(
            "cannot {doing} the database {target}: no answer within the connect timeout. \
             Check the host, port and network"
        )
    } else {
        let detail = if cause.is_empty() || text.contains(&cause) {
            text
        } else {
            format!("{text}: {cause}")
        };
        format!(
            "cannot {doing} the database {target}: {detail}. Check the URL and that the \
             database is up"
        )
    };
    Error::Database(format!("{what}; {keep}"))
}
