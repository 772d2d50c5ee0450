//! Writes a large simulated ledger for the benchmark:
//! `gen_ledger PATH [RECORDS]` (default 1,000,000), ending at 2026-06-01.
#![allow(clippy::print_stdout)]

use modelfit::learn::simulate::{self, World};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: gen_ledger PATH [RECORDS]")?;
    let records: f64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000.0);
    let mut world = World::scenarios()
        .into_iter()
        .find(|w| w.name == "underperforming")
        .unwrap();
    // About 1.1 records per task (retries), spread over 120 days so some fall outside the window.
    world.days = 120.0;
    world.per_day = records / 1.1 / world.days;
    let now = modelfit::clock::parse("2026-06-01T00:00:00Z").unwrap();
    let n = simulate::write_ledger(&world, 42, now, std::path::Path::new(&path))?;
    println!("{n} records → {path}");
    Ok(())
}
