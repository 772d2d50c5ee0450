//! `modelfit doctor`: checks the installation and renders the findings.

use std::process::ExitCode;

use clap::Args;

use crate::doctor::{self, Status};
use crate::error::Result;
use crate::home::Home;

/// `modelfit doctor [--ack]`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Acknowledge the errors logged up to now (later errors still fail), then check
    #[arg(long)]
    ack: bool,
}

/// Checks the installation; exit 1 when something needs fixing.
pub fn doctor(a: DoctorArgs, home: &Home) -> Result<ExitCode> {
    println!("home  {}", home.root().display());
    if a.ack && home.root().is_dir() {
        let (n, at) = doctor::acknowledge(home)?;
        println!("acknowledged {n} error(s) logged up to {at}");
    }
    let checks = doctor::checks(home);
    for c in &checks {
        let tag = match c.status {
            Status::Ok => "ok   ",
            Status::Info => "info ",
            Status::Fail => "FAIL ",
        };
        println!("{tag} {}", c.what);
        if let Some(fix) = &c.fix {
            println!("      fix: {fix}");
        }
    }
    let problems = checks.iter().filter(|c| c.status == Status::Fail).count();
    if problems > 0 {
        println!("{problems} problem(s) need fixing");
        Ok(ExitCode::FAILURE)
    } else {
        println!("all good");
        Ok(ExitCode::SUCCESS)
    }
}
