//! `racetrace graph TRACE --format dot|json|perfetto [-o FILE]`: the
//! happens-before graph of segments, exported by `crate::export`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use racetrace_formats::TraceFile;

use super::progress::Progress;
use super::{CliError, GraphFormat, EXIT_OK};
use crate::export::{self, ExportError};
use crate::graph::{GraphBuilder, HbGraph};

/// Builds the graph over every event of the complete chunks of `trace`.
fn build(trace: &TraceFile) -> Result<HbGraph, CliError> {
    let mut builder = GraphBuilder::new();
    let mut progress = Progress::new("building graph", trace.event_count());
    for ev in trace.events() {
        builder.on_event(&ev?);
        progress.tick();
    }
    progress.finish();
    Ok(builder.finish())
}

/// Where the export goes.
enum Sink {
    Stdout,
    File(PathBuf),
}

impl Sink {
    fn error(&self, source: io::Error) -> CliError {
        match self {
            Sink::Stdout => CliError::Stdout(source),
            Sink::File(path) => CliError::Output {
                path: path.clone(),
                source,
            },
        }
    }
}

/// Writes the export and returns the exit code. The graph is built (and
/// every event decoded) before the output file is created, so a trace that
/// turns out to be damaged leaves no partial file behind.
pub fn graph(
    trace: &TraceFile,
    format: GraphFormat,
    output: Option<&Path>,
) -> Result<i32, CliError> {
    let graph = build(trace)?;
    let sink = match output {
        Some(path) => Sink::File(path.to_path_buf()),
        None => Sink::Stdout,
    };
    let result = match &sink {
        Sink::Stdout => write(&mut io::stdout().lock(), trace, &graph, format),
        Sink::File(path) => {
            let file = File::create(path).map_err(|e| sink.error(e))?;
            let mut out = BufWriter::new(file);
            write(&mut out, trace, &graph, format)
        }
    };
    match result {
        Ok(()) => Ok(EXIT_OK),
        // `racetrace graph t | head`: the reader left, not a failure.
        Err(ExportError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
        Err(ExportError::Io(e)) => Err(sink.error(e)),
        Err(ExportError::Format(e)) => Err(CliError::Format(e)),
    }
}

fn write<W: Write>(
    out: &mut W,
    trace: &TraceFile,
    graph: &HbGraph,
    format: GraphFormat,
) -> Result<(), ExportError> {
    let tables = trace.tables();
    match format {
        GraphFormat::Dot => out.write_all(export::to_dot(graph, tables).as_bytes())?,
        GraphFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &export::to_json(graph, tables))
                .map_err(io::Error::from)?;
            out.write_all(b"\n")?;
        }
        GraphFormat::Perfetto => export::write_perfetto_file(out, trace, Some(graph))?,
    }
    out.flush()?;
    Ok(())
}
