//! The podtop binary: parse the command line, run it, report errors on one line.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match podtop::cmd::run(podtop::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("podtop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
