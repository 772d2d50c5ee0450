//! `modelfit config`: modelfit's settings.

use std::process::ExitCode;

use clap::Args;

use crate::error::{Error, Result};
use crate::home::Home;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// reminder, learn_every, exploration_rate, router or database
    key: Option<String>,
    /// The new value (omit to show the settings)
    value: Option<String>,
}

pub fn config(a: ConfigArgs, home: &Home) -> Result<ExitCode> {
    match (a.key, a.value) {
        (Some(key), Some(value)) => {
            crate::settings::set(home, &key, &value)?;
            let shown = if key == "database" {
                crate::sync::describe_url(&value)
            } else {
                value
            };
            println!("{key} = {shown} (in {})", home.settings().display());
        }
        (Some(key), None) => {
            return Err(Error::Invalid(format!(
                "give a value: modelfit config {key} VALUE (or no key to show all)"
            )))
        }
        _ => {
            let s = crate::settings::Settings::load(home);
            let values = serde_json::to_value(&s).expect("settings serialize");
            println!("# {}", home.settings().display());
            for (key, what) in crate::settings::KEYS {
                let shown = match (key, &s.database) {
                    // Never print a password.
                    ("database", Some(url)) => crate::sync::describe_url(url),
                    ("database", None) => "off".to_string(),
                    _ => values[key].to_string(),
                };
                println!("{key} = {shown}    # {what}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
