//! The `racetrace` command line.
//!
//! [`run`] is the whole CLI: it parses the arguments, runs one subcommand and
//! returns the process exit code. The `racetrace` binary and the Python
//! console script (through the `racetrace._native` extension) both call it,
//! so they behave identically.
//!
//! Output conventions: results go to stdout (human-readable, or JSON with
//! `--json`); diagnostics go to stderr, one line each (`error: ...`,
//! `warning: ...`), so that scripts can rely on both.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use racetrace_formats::{FormatError, TraceFile};

mod analysis;
mod backtrack;
mod explain;
mod graph;
mod info;
mod progress;

/// Nothing found (or a command that only reports information).
pub const EXIT_OK: i32 = 0;
/// Findings: data races or potential deadlocks.
pub const EXIT_FINDINGS: i32 = 1;
/// Bad usage or bad input (unreadable, malformed or corrupt trace file).
pub const EXIT_BAD_INPUT: i32 = 2;

const AFTER_HELP: &str = "\
Exit codes:
  0  nothing found (info and graph: success)
  1  findings: data races or potential deadlocks
  2  bad usage, or a trace file that cannot be read (missing, not a trace,
     unsupported version, corrupt); the error is one line on stderr naming
     the file, the byte offset and the problem

A truncated trace (a recording that was killed) is not an error: its
complete chunks are analyzed and a warning says what was lost.";

const EXPLAIN_AFTER_HELP: &str = "\
Exit codes:
  0  explained (whatever was found)
  2  bad usage, or a trace file that cannot be read (missing, not a trace,
     unsupported version, corrupt); the error is one line on stderr naming
     the file, the byte offset and the problem

Source lines are read from the files the trace names, as they are now; a
line whose file changed since recording is marked.";

/// Find, explain and replay concurrency bugs in Python programs.
#[derive(Parser, Debug)]
#[command(
    name = "racetrace",
    version,
    about = "Find, explain and replay concurrency bugs in Python programs",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show a trace's header, actors, size and outcome
    #[command(after_help = AFTER_HELP)]
    Info(TraceArgs),
    /// Report data races: conflicting accesses that no happens-before edge orders
    #[command(after_help = AFTER_HELP)]
    Races(RacesArgs),
    /// Report potential deadlocks: cycles in the order locks are taken
    #[command(after_help = AFTER_HELP)]
    Deadlocks(TraceArgs),
    /// Export the happens-before graph (segments of each actor, and the
    /// synchronization edges between them)
    #[command(after_help = AFTER_HELP)]
    Graph(GraphArgs),
    /// Explain why a run failed: the outcome, the races and potential
    /// deadlocks most relevant to it (both source lines, stacks, why
    /// nothing orders them), the steps that matter, and how to reproduce
    /// it
    #[command(after_help = EXPLAIN_AFTER_HELP)]
    Explain(ExplainArgs),
    /// Print the schedule prefixes DPOR explores next from this execution:
    /// one per reversible race, forcing the race's other order
    #[command(after_help = AFTER_HELP)]
    Backtrack(TraceArgs),
}

/// Arguments shared by the subcommands that read one trace.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// The trace file
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
    /// Print machine-readable JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RacesArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Also list order-only races (two atomic writes, such as two
    /// `list.append` calls, whose order alone varies); always in the JSON
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Also write a self-contained HTML report (timeline of the actors,
    /// racing accesses highlighted and linked to their source, the
    /// happens-before edges that matter)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// The trace file
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
    /// Output format: Graphviz DOT, JSON, or Chrome/Perfetto trace-event JSON
    #[arg(long, short = 'f', value_enum)]
    pub format: GraphFormat,
    /// Write to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Output format of `racetrace graph`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT
    Dot,
    /// JSON: nodes (segments) and edges
    Json,
    /// Chrome / Perfetto trace-event JSON
    Perfetto,
}

/// Why a command failed; printed as one line on stderr, exit code 2.
#[derive(Debug)]
pub enum CliError {
    /// The trace file cannot be read (the message names file and offset).
    Format(FormatError),
    /// Writing an output file failed.
    Output { path: PathBuf, source: io::Error },
    /// Writing to stdout failed.
    Stdout(io::Error),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Format(e) => write!(f, "{}", one_line(&e.to_string())),
            CliError::Output { path, source } => {
                write!(f, "{}: cannot write output: {source}", path.display())
            }
            CliError::Stdout(source) => write!(f, "cannot write to stdout: {source}"),
        }
    }
}

impl From<FormatError> for CliError {
    fn from(e: FormatError) -> Self {
        CliError::Format(e)
    }
}

/// Error messages quote file contents and OS messages; keep them on one
/// line whatever they contain.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// What a subcommand produced: text for stdout and an exit code.
pub struct Output {
    pub text: String,
    pub code: i32,
}

/// Runs the CLI on `args` (the program name first, as in `std::env::args_os`)
/// and returns the exit code. Never exits the process and never panics on
/// bad input, so it is safe to call from inside a Python interpreter.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with_external(args, &[])
}

/// A subcommand implemented outside this crate (in Python, by the
/// `racetrace` package): listed in `--help`, dispatched by its caller.
#[derive(Clone, Debug)]
pub struct ExternalCommand {
    pub name: String,
    /// One line for `racetrace --help`.
    pub about: String,
}

/// [`run`], with `external` subcommands shown in the help. The caller runs
/// those itself; if one reaches this function anyway, it is a usage error.
pub fn run_with_external<I, T>(args: I, external: &[ExternalCommand]) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = Cli::command();
    for ext in external {
        command = command.subcommand(
            clap::Command::new(ext.name.clone())
                .about(ext.about.clone())
                .disable_help_flag(true)
                .arg(
                    clap::Arg::new("args")
                        .num_args(0..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true),
                ),
        );
    }
    let parsed = command.try_get_matches_from(args).and_then(|matches| {
        if let Some(name) = matches.subcommand_name() {
            if external.iter().any(|e| e.name == name) {
                return Ok(Err(name.to_string()));
            }
        }
        Cli::from_arg_matches(&matches).map(Ok)
    });
    let cli = match parsed {
        Ok(Ok(cli)) => cli,
        Ok(Err(name)) => {
            eprintln!("error: `racetrace {name}` runs Python: use the racetrace command installed with the Python package");
            return EXIT_BAD_INPUT;
        }
        Err(err) => {
            // Help and version go to stdout with code 0; usage errors go to
            // stderr with code 2.
            let _ = err.print();
            return err.exit_code();
        }
    };
    match execute(&cli) {
        Ok(out) => match write_stdout(&out.text) {
            Ok(()) => out.code,
            // A closed pipe (`racetrace graph t | head`) is not a failure.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => out.code,
            Err(e) => {
                eprintln!("error: cannot write to stdout: {e}");
                EXIT_BAD_INPUT
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn write_stdout(text: &str) -> io::Result<()> {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    lock.write_all(text.as_bytes())?;
    lock.flush()
}

/// Runs the parsed command.
pub fn execute(cli: &Cli) -> Result<Output, CliError> {
    match &cli.command {
        Command::Info(args) => {
            let trace = open_trace(&args.trace)?;
            info::info(&trace, args.json)
        }
        Command::Races(args) => {
            let trace = open_trace(&args.trace.trace)?;
            analysis::races(&trace, args.trace.json, args.all)
        }
        Command::Deadlocks(args) => {
            let trace = open_trace(&args.trace)?;
            analysis::deadlocks(&trace, args.json)
        }
        Command::Explain(args) => {
            let trace = open_trace(&args.trace.trace)?;
            explain::explain(
                &trace,
                &args.trace.trace,
                args.trace.json,
                args.html.as_deref(),
            )
        }
        Command::Backtrack(args) => {
            let trace = open_trace(&args.trace)?;
            backtrack::backtrack(&trace, args.json)
        }
        Command::Graph(args) => {
            let trace = open_trace(&args.trace)?;
            let code = graph::graph(&trace, args.format, args.output.as_deref())?;
            // The export was written as it was produced.
            Ok(Output {
                text: String::new(),
                code,
            })
        }
    }
}

/// Opens a trace; a truncated one gets a warning on stderr (its complete
/// chunks are still analyzed).
pub fn open_trace(path: &Path) -> Result<TraceFile, CliError> {
    let trace = TraceFile::open(path)?;
    if let Some(t) = trace.truncation() {
        eprintln!(
            "warning: {}: truncated at offset {}: {}; using the {} complete chunk{}",
            path.display(),
            t.offset,
            one_line(&t.reason),
            t.complete_chunks,
            if t.complete_chunks == 1 { "" } else { "s" }
        );
    }
    Ok(trace)
}

/// Serializes a JSON value for stdout (pretty, with a final newline).
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    s.push('\n');
    s
}
