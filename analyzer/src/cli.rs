//! The `racetrace` command line.
//!
//! [`run`] is the whole CLI: it parses the arguments, runs one subcommand and
//! returns the process exit code. The `racetrace` binary and the Python
//! console script (through the `racetrace._native` extension) both call it,
//! so they behave identically.

use std::ffi::OsString;

use clap::Parser;

/// Nothing found.
pub const EXIT_OK: i32 = 0;
/// Findings: data races or potential deadlocks.
pub const EXIT_FINDINGS: i32 = 1;
/// Bad usage or bad input (unreadable or corrupt trace file).
pub const EXIT_BAD_INPUT: i32 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  nothing found (or the command only reports information)
  1  findings: data races or potential deadlocks
  2  bad usage, or a trace file that cannot be read (missing, not a trace, corrupt)";

/// Find, explain and replay concurrency bugs in Python programs.
#[derive(Parser, Debug)]
#[command(name = "racetrace", version, about, after_help = AFTER_HELP)]
pub struct Cli {}

/// Runs the CLI on `args` (the program name first, as in `std::env::args_os`)
/// and returns the exit code. Never exits the process and never panics on
/// bad input, so it is safe to call from inside a Python interpreter.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(_cli) => EXIT_OK,
        Err(err) => {
            // Help and version go to stdout with code 0; usage errors go to
            // stderr with code 2.
            let _ = err.print();
            err.exit_code()
        }
    }
}
