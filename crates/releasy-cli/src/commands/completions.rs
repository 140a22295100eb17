//! `releasy completions SHELL`: a completion script on standard output.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints the script for `shell`.
pub fn run(shell: Shell) {
    let mut command = Cli::command();
    // Generated into memory (a few KiB) so a closed pipe is not a panic.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "releasy", &mut script);
    let _ = std::io::stdout().write_all(&script);
}
