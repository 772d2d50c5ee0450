//! Runs `learn` on every world of `modelfit::learn::simulate` (truth-labelled
//! and weak-labelled) over many seeds and prints, per world: draws where a
//! change was applied, draws where every task kept its true success within
//! 5 points, draws reaching half the oracle's gain, and the calibration
//! (Brier, ECE over 10 bins) of every emitted suggestion's confidence.
//!
//! `cargo run --release --example simulate [SEEDS] [FIRST_SEED]`
//! (`SIMULATE_VERBOSE=1`: the draws that failed, with their patterns;
//! `SIMULATE_CLAIMS=1`: every emitted suggestion and whether its claim held;
//! `SIMULATE_WORLD=a,b`: those worlds only; `SIMULATE_KEEP=dir`: keep the last
//! draw's home there)
#![allow(clippy::print_stdout)]

use modelfit::home::Home;
use modelfit::learn::simulate::{self, World};
use modelfit::learn::{self, AnalyzeOptions, SuggestOptions};

/// Worlds whose change the data supports (gains counted).
const GAIN_WORLDS: [&str; 5] = [
    "over_provisioned",
    "underperforming",
    "honest_evidence",
    "verification_only",
    "drift_after_release",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let first: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let now = modelfit::clock::parse("2026-06-01T00:00:00Z").unwrap();
    // SAFETY of the clock: set once, before any thread reads it.
    std::env::set_var("MODELFIT_NOW", "2026-06-01T00:00:00Z");
    let (t, delta) = (learn::analyze::TARGET, learn::analyze::DELTA);
    let mut all_pairs = Vec::new();
    let (mut gain_pairs, mut gain_found) = (0u32, 0u32);
    let mut unsafe_draws = 0u32;
    println!("| world | draws | changed | safe (no task −5 pts) | gain ≥ ½ oracle | suggestions | Brier | ECE |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut worlds = World::scenarios();
    worlds.extend(World::weak_scenarios());
    // `SIMULATE_WORLD=a,b`: only those worlds.
    let only = std::env::var("SIMULATE_WORLD").ok();
    worlds.retain(|w| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|o| o == w.name))
    });
    for world in worlds {
        let (mut changed, mut safe, mut found, mut with_gain, mut emitted) = (0, 0, 0, 0, 0);
        let mut pairs = Vec::new();
        for seed in first..first + seeds {
            let dir = tempfile::tempdir()?;
            let keep = std::env::var_os("SIMULATE_KEEP").map(std::path::PathBuf::from);
            let root = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
            if keep.is_some() {
                let _ = std::fs::remove_dir_all(&root);
            }
            let home = Home::at(&root);
            std::fs::create_dir_all(home.logs_dir())?;
            std::fs::create_dir_all(home.config_dir())?;
            std::fs::write(home.models(), simulate::models_json(world.rules))?;
            simulate::write_ledger(&world, seed, now, &home.ledger())?;
            learn::analyze(&home, &AnalyzeOptions::default())?;
            let open = learn::suggest(&home, &SuggestOptions::default())?;
            emitted += open.len();
            let changes: Vec<_> = open.iter().map(|s| s.change.clone()).collect();
            for s in &open {
                let y = simulate::claim_holds(&world, &s.change, t, delta)
                    .or_else(|| simulate::keyword_claim_holds(&world, &s.change, t, delta));
                if let Some(y) = y {
                    pairs.push((s.confidence, y));
                }
                if std::env::var_os("SIMULATE_CLAIMS").is_some() {
                    println!(
                        "  claim {} seed {seed} {} {:.3} holds={y:?} {:?}",
                        world.name, s.kind, s.confidence, s.change
                    );
                }
            }
            let o = simulate::judge(&world, &changes);
            changed += o.changed as u32;
            safe += o.safe() as u32;
            if let Some(f) = o.found() {
                with_gain += 1;
                found += f as u32;
            }
            if !o.safe() {
                unsafe_draws += 1;
            }
            if std::env::var_os("SIMULATE_VERBOSE").is_some()
                && (!o.safe() || o.found() == Some(false))
            {
                println!("  {} seed {seed}: {o:?}", world.name);
                for s in &open {
                    println!("    {} {:.3} {}", s.kind, s.confidence, s.reason);
                }
                let doc: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(home.learning())?)?;
                for p in doc["patterns"].as_array().into_iter().flatten() {
                    if p.get("keyword").is_none() {
                        println!(
                            "    {} rate {} n*={} info={} labels={}",
                            p["pattern_id"],
                            p["success_rate"],
                            p["effective_sample_size"],
                            p["information_size"],
                            p["labels"]
                        );
                    }
                }
            }
        }
        if GAIN_WORLDS.contains(&world.name) {
            gain_pairs += with_gain;
            gain_found += found;
        }
        let (brier, ece) = simulate::calibration(&pairs);
        let fmt = |x: f64| {
            if pairs.is_empty() {
                "–".to_string()
            } else {
                format!("{x:.3}")
            }
        };
        println!(
            "| {} | {seeds} | {changed} | {safe}/{seeds} | {} | {emitted} | {} | {} |",
            world.name,
            if with_gain > 0 {
                format!("{found}/{with_gain}")
            } else {
                "–".into()
            },
            fmt(brier),
            fmt(ece)
        );
        all_pairs.extend(pairs);
    }
    let (brier, ece) = simulate::calibration(&all_pairs);
    println!(
        "\ngains found in {gain_found}/{gain_pairs} world × draw pairs ({:.0} %); draws with a task 5+ points worse: {unsafe_draws}",
        100.0 * gain_found as f64 / gain_pairs.max(1) as f64
    );
    println!(
        "all emitted suggestions: {} claims, Brier {brier:.3}, ECE {ece:.3}",
        all_pairs.len()
    );
    Ok(())
}
