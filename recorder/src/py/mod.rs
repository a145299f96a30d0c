//! The PyO3 surface of `racetrace._native`: everything the Python package
//! calls, one file per concern, and nothing else. The recorder's logic
//! (hook, session, control, strategies, interpreter backend) never names
//! this module; it only converts Python arguments into the Rust types those
//! modules take, and their results and errors back into Python objects.
//!
//! - `record`: free-running recording (`racetrace.recording`)
//! - `control`: controlled runs and schedule replay (`racetrace.control`)
//! - `dpor`: the DPOR explorer handle (`racetrace.explore`)
//! - `markers`: marker schedules (`racetrace.markers`)
//! - `shrink`: schedule shrinking (`racetrace.shrinking`, `shrink_cli`)
//! - `cli`: the bridge to the analyzer's command line (`racetrace.cli`)
//! - `tracehooks`: `sys.settrace`/`gettrace` while racetrace traces threads
//! - `tasks`: asyncio tasks as actors, for the controlled event loop
//!   (`racetrace.aio`)
//! - `setup`: what starting a recording and a controlled run share
//! - `workers`: the schedule journal and PCT's step count, for the worker
//!   processes of a parallel exploration (`racetrace.parallel`)

use pyo3::prelude::*;

mod cli;
mod control;
mod dpor;
mod markers;
mod pool;
mod record;
mod setup;
mod shrink;
mod tasks;
mod tracehooks;
mod workers;

/// Adds every function and class of the surface to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cli::register(m)?;
    record::register(m)?;
    control::register(m)?;
    dpor::register(m)?;
    markers::register(m)?;
    shrink::register(m)?;
    tasks::register(m)?;
    tracehooks::register(m)?;
    pool::register(m)?;
    workers::register(m)?;
    Ok(())
}
