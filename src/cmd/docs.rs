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
    write_stdout(man_page()?.as_bytes())
}

/// podtop(8): clap_mangen's page, with a SYNOPSIS that names the value each
/// option takes (`[--duration SECS]`, where clap_mangen writes `[--duration]`).
fn man_page() -> Result<String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).section("8").render(&mut page).context("rendering the man page")?;
    let page = String::from_utf8(page).context("the man page is not UTF-8")?;
    let start = page.find("\n.SH SYNOPSIS\n").context("the man page has no SYNOPSIS")? + "\n.SH SYNOPSIS\n".len();
    let end = start + page[start..].find("\n.SH ").context("nothing follows the SYNOPSIS")? + 1;
    // Left-aligned, as synopses are: the line is mostly long words.
    Ok(format!("{}.ad l\n{}\n.ad\n{}", &page[..start], synopsis(), &page[end..]))
}

/// One roff line: podtop, then each option that is not hidden, with its
/// value's name where it takes one, as clap_mangen orders them; then the
/// subcommands. An option and its value are one word to roff (`\ `, a space
/// no line breaks at), never hyphenated (`\%`).
fn synopsis() -> String {
    let bold = |s: &str| format!("\\fB{}\\fR", roff_text(s));
    let italic = |s: &str| format!("\\fI{}\\fR", roff_text(s));
    let mut command = Cli::command();
    command.build();
    let mut options: Vec<&clap::Arg> = command.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()).collect();
    options.sort_by_key(|a| {
        let short = a.get_short().map(|c| format!("{}{}", c.to_ascii_lowercase(), if c.is_ascii_lowercase() { 0 } else { 1 }));
        (a.get_display_order(), short.or(a.get_long().map(str::to_string)))
    });
    let mut line = vec![bold(command.get_name())];
    for option in options {
        let mut names: Vec<String> = option.get_short().map(|c| bold(&format!("-{c}"))).into_iter().collect();
        names.extend(option.get_long().map(|l| bold(&format!("--{l}"))));
        let mut item = names.join("|");
        if option.get_num_args().is_some_and(|n| n.takes_values()) {
            let values = option.get_value_names().map(|v| v.join(" ")).unwrap_or_else(|| option.get_id().to_string().to_uppercase());
            item = format!("{item}\\ {}", italic(&values));
        }
        line.push(if option.is_required_set() { format!("\\%<{item}>") } else { format!("\\%[{item}]") });
    }
    if command.has_subcommands() {
        line.push(format!("[{}]", italic("subcommands")));
    }
    line.join(" ")
}

/// Text as roff prints it: backslashes and hyphens escaped (a `-` is a hyphen to roff, `\-` a minus).
fn roff_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('-', "\\-")
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
        let page = man_page().unwrap();
        assert!(page.starts_with(".ie"), "roff: {}", &page[..40]);
        assert!(page.contains(".TH podtop 8"), "section 8");
        for word in ["serve", "replay", "demo", "probes", "completions", "\\-\\-json", "\\-\\-metrics", "\\-\\-pod"] {
            assert!(page.contains(word), "{word} missing from the man page");
        }
    }

    #[test]
    fn the_synopsis_names_what_each_option_takes() {
        let page = man_page().unwrap();
        let synopsis = page.split(".SH SYNOPSIS\n").nth(1).unwrap().split("\n.SH ").next().unwrap();
        assert_eq!(synopsis.lines().count(), 3, "{synopsis}");
        let (lines, synopsis) = (synopsis.lines().collect::<Vec<_>>(), synopsis.lines().nth(1).unwrap());
        assert_eq!((lines[0], lines[2]), (".ad l", ".ad"), "left-aligned");
        for item in [
            "\\%[\\fB\\-\\-json\\fR]",
            "\\%[\\fB\\-\\-duration\\fR\\ \\fISECS\\fR]",
            "\\%[\\fB\\-\\-pod\\fR\\ \\fINAME|UID\\fR]",
            "\\%[\\fB\\-\\-dump\\-screen\\fR\\ \\fICOLSxROWS\\fR]",
            "\\%[\\fB\\-h\\fR|\\fB\\-\\-help\\fR]",
            "[\\fIsubcommands\\fR]",
        ] {
            assert!(synopsis.contains(item), "{item} not in {synopsis}");
        }
        let mut command = Cli::command();
        command.build();
        for option in command.get_arguments().filter(|a| !a.is_positional()) {
            let long = option.get_long().unwrap().replace('-', "\\-");
            let shown = synopsis.contains(&format!("\\fB\\-\\-{long}\\fR"));
            assert_eq!(shown, !option.is_hide_set(), "--{long} in the synopsis: {synopsis}");
            let takes_value = option.get_num_args().is_some_and(|n| n.takes_values());
            if let (true, true, Some(value)) = (shown, takes_value, option.get_value_names()) {
                assert!(synopsis.contains(&format!("\\-\\-{long}\\fR\\ \\fI{}\\fR]", value[0])), "--{long} {}: {synopsis}", value[0]);
            }
        }
        // The rest of the page is clap_mangen's.
        for section in [".SH NAME", ".SH DESCRIPTION", ".SH OPTIONS", ".SH SUBCOMMANDS", ".SH VERSION"] {
            assert!(page.contains(section), "{section}");
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
