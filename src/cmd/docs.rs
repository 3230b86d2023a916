//! What is written from the command-line definition itself, so that it never
//! disagrees with the program: shell completions and the man page podtop(8).

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// `podtop completions SHELL`: the script on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "podtop", &mut out);
    write_stdout(&out)
}

/// `podtop manpage`: podtop(8) as roff on stdout (section 8: it is run by root).
pub fn manpage() -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).section("8").render(&mut out).context("rendering the man page")?;
    write_stdout(&out)
}

/// Written at once, so that a closed pipe is an error line and not a panic.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_names_every_subcommand_and_flag() {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command()).section("8").render(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie"), "roff: {}", &page[..40]);
        assert!(page.contains(".TH podtop 8"), "section 8");
        for word in ["serve", "replay", "demo", "probes", "completions", "\\-\\-json", "\\-\\-metrics", "\\-\\-pod"] {
            assert!(page.contains(word), "{word} missing from the man page");
        }
    }

    #[test]
    fn completions_cover_the_subcommands_in_every_shell() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "podtop", &mut script);
            let script = String::from_utf8(script).unwrap();
            for word in ["serve", "replay", "metrics", "events", "exec"] {
                assert!(script.contains(word), "{shell}: {word} missing");
            }
        }
    }
}
