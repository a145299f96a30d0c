//! `racetrace explain TRACE [--json] [--html FILE]`: why did this run fail.

use std::path::Path;

use racetrace_formats::TraceFile;

use super::progress::Phases;
use super::{json_text, CliError, Output, EXIT_OK};
use crate::explain::{self, html, text};

pub fn explain(
    trace: &TraceFile,
    trace_arg: &Path,
    as_json: bool,
    html_out: Option<&Path>,
) -> Result<Output, CliError> {
    let mut phases = Phases::new();
    let x = explain::explain(
        trace,
        &trace_arg.display().to_string(),
        &mut |phase, done, total| phases.update(phase, done, total),
    )?;
    if let Some(path) = html_out {
        let page = html::render(&x, trace);
        std::fs::write(path, page).map_err(|source| CliError::Output {
            path: path.to_path_buf(),
            source,
        })?;
        eprintln!("racetrace: wrote {}", path.display());
    }
    let text = if as_json {
        json_text(&serde_json::to_value(&x).expect("an explanation always serializes"))
    } else {
        text::render(&x)
    };
    Ok(Output {
        text,
        code: EXIT_OK,
    })
}
