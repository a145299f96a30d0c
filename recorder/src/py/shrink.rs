//! The analyzer's schedule shrinker driven from Python: the runner is a
//! Python callable that runs one candidate for real (a controlled run in
//! this process, or a worker process per candidate when several run at
//! once) and reports how it went.

use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use racetrace_analyzer::shrink::{
    shrink, shrink_with_partial_moves, FailureSignature, RunReport, ShrinkError, ShrinkOptions,
    ShrinkProgress, Verdict,
};
use racetrace_formats::Schedule;

/// What the Python runner returns for a candidate, as a tuple:
/// (verdict `"fail"`/`"pass"`/`"diverged"`, failure kind, failure location,
/// executed schedule text, per-step preemptive flags, diverged step).
type PyReport = (String, String, String, String, Vec<bool>, usize);

fn to_report(r: PyReport) -> Result<RunReport, String> {
    let (verdict, kind, location, executed, preemptive, step) = r;
    let verdict = match verdict.as_str() {
        "fail" => Verdict::Fail(FailureSignature::new(kind, location)),
        "pass" => Verdict::Pass,
        "diverged" => Verdict::Diverged { step },
        other => return Err(format!("unknown verdict {other:?}")),
    };
    let executed = if executed.is_empty() {
        Schedule::new(Vec::new())
    } else {
        Schedule::parse(&executed).map_err(|e| e.to_string())?
    };
    Ok(RunReport {
        verdict,
        executed,
        preemptive,
    })
}

/// Shrinks `schedule` (an `rts1:` text) with `runner(candidate_text) ->
/// report tuple`. `progress(dict)` is called after every counted candidate.
/// With `partial_moves`, the search is followed by the second pass of
/// `shrink_with_partial_moves`. Returns the result as a dict (schedules as
/// text). Raises `ValueError` when the original does not fail, and
/// re-raises the first exception the runner or `progress` raised.
#[pyfunction]
#[pyo3(signature = (schedule, runner, max_candidates=100, jobs=1, progress=None, partial_moves=false))]
fn shrink_schedule<'py>(
    py: Python<'py>,
    schedule: &str,
    runner: Py<PyAny>,
    max_candidates: usize,
    jobs: usize,
    progress: Option<Py<PyAny>>,
    partial_moves: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let original = Schedule::parse(schedule).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let opts = ShrinkOptions {
        jobs,
        max_candidates,
    };
    // A failing callback cannot stop the search midway; it is remembered,
    // its candidate counts as not failing, and it is raised at the end.
    let error: Mutex<Option<PyErr>> = Mutex::new(None);
    let remember = |e: PyErr| {
        let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    };
    let pass = || RunReport {
        verdict: Verdict::Pass,
        executed: Schedule::new(Vec::new()),
        preemptive: Vec::new(),
    };
    let run = |cand: &Schedule| -> RunReport {
        Python::attach(|py| {
            let out = runner
                .call1(py, (cand.to_text(),))
                .and_then(|o| o.extract::<PyReport>(py));
            match out.map(to_report) {
                Ok(Ok(r)) => r,
                Ok(Err(msg)) => {
                    remember(PyValueError::new_err(format!("shrink runner: {msg}")));
                    pass()
                }
                Err(e) => {
                    remember(e);
                    pass()
                }
            }
        })
    };
    let report = |p: &ShrinkProgress| {
        let Some(cb) = &progress else { return };
        Python::attach(|py| {
            let d = PyDict::new(py);
            let r = (|| -> PyResult<()> {
                d.set_item("phase", format!("{:?}", p.phase))?;
                d.set_item("candidates_run", p.candidates_run)?;
                d.set_item("max_candidates", p.max_candidates)?;
                d.set_item("best_preemptions", p.best_preemptions)?;
                d.set_item("best_switches", p.best_switches)?;
                cb.call1(py, (d,))?;
                Ok(())
            })();
            if let Err(e) = r {
                remember(e);
            }
        })
    };
    let out = py.detach(|| {
        if partial_moves {
            shrink_with_partial_moves(&original, run, &opts, report)
        } else {
            shrink(&original, run, &opts, report)
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let res = out.map_err(|e: ShrinkError| PyValueError::new_err(e.to_string()))?;
    let d = PyDict::new(py);
    d.set_item("schedule", res.schedule.to_text())?;
    d.set_item("executed", res.executed.to_text())?;
    d.set_item("kind", &res.signature.kind)?;
    d.set_item("location", &res.signature.location)?;
    d.set_item("preemptions", res.preemptions)?;
    d.set_item("switches", res.switches)?;
    d.set_item("original_preemptions", res.original_preemptions)?;
    d.set_item("original_switches", res.original_switches)?;
    d.set_item("candidates_run", res.candidates_run)?;
    d.set_item("speculative_runs", res.speculative_runs)?;
    d.set_item("budget_exhausted", res.budget_exhausted)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(shrink_schedule, m)?)
}
