//! Writes a seeded corpus of Claude Code transcripts with its truth:
//! `usage_corpus OUT_DIR [SEED] [SIZE_MB]` (defaults 1 and 100), as
//! `OUT_DIR/projects/…` and `OUT_DIR/truth.json`. See `gen.rs`.
#![allow(clippy::print_stdout)]

mod gen;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .ok_or("usage: usage_corpus OUT_DIR [SEED] [SIZE_MB]")?;
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let mb: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let truths = gen::generate(std::path::Path::new(&out), seed, mb << 20, 1)?;
    println!("{} sessions → {out}", truths.len());
    Ok(())
}
