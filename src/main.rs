//! The `modelfit` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    modelfit::cli::main()
}
