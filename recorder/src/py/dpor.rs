//! The exploration handle `racetrace.explore_dpor` drives: one optimal-DPOR
//! explorer kept across the controlled runs of an exploration, plus the
//! offline backtrack computation on a trace file.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use racetrace_analyzer::dpor::DporConfig;
use racetrace_formats::Schedule;

use crate::strategy::dpor::Dpor;

/// One exploration. `begin()` before each controlled run (False: the whole
/// space is explored), `end()` after it; the run's strategy is `self`.
/// `explore_timeouts`: a blocked timed wait may time out at any step (a
/// choice of its own), else only when no actor can go on. `split`: the
/// exploration is split into subtrees below that many fully expanded
/// branching points (see the analyzer's `dpor::Explorer::split`); each
/// execution that reaches a frontier stops there (status `abandoned`,
/// `frontier()` its prefix) until `claim()` says whether to explore below.
#[pyclass(module = "racetrace._native")]
pub struct DporExplorer {
    pub dpor: Dpor,
}

#[pymethods]
impl DporExplorer {
    #[new]
    #[pyo3(signature = (preemption_bound=None, explore_timeouts=true, split=None))]
    fn new(preemption_bound: Option<u32>, explore_timeouts: bool, split: Option<u32>) -> Self {
        let dpor = Dpor::new(DporConfig { preemption_bound }, explore_timeouts);
        if let Some(depth) = split {
            dpor.lock().explorer.split(depth);
        }
        DporExplorer { dpor }
    }

    /// After an execution stopped at a frontier: the schedule (text) that
    /// reaches it; else None.
    fn frontier(&self) -> Option<String> {
        self.dpor.lock().explorer.frontier().map(|s| s.to_text())
    }

    /// Whether to explore below the frontier the last execution stopped at.
    fn claim(&self, mine: bool) {
        let mut st = self.dpor.lock();
        if st.explorer.frontier().is_some() {
            st.explorer.claim(mine);
        }
    }

    /// Whether the last execution went through a frontier (False: it ended
    /// above every frontier, and is claimed by its whole schedule).
    fn reached_frontier(&self) -> bool {
        self.dpor.lock().explorer.reached_frontier()
    }

    /// The schedule (text) of the last execution, as the explorer chose it.
    fn schedule(&self) -> String {
        self.dpor.lock().explorer.schedule().to_text()
    }

    /// Never runs the last step of `schedule` after the steps before it (it
    /// crashed the process that ran it).
    fn avoid(&self, schedule: &str) -> PyResult<()> {
        let s = Schedule::parse(schedule).map_err(|e| PyValueError::new_err(e.to_string()))?;
        self.dpor.lock().explorer.avoid(&s.steps);
        Ok(())
    }

    /// Starts the exploration again, from nothing, with the steps of
    /// asyncio tasks split into their events (a thread ran beside the
    /// tasks and could have come between a step's events; see
    /// `strategy::dpor::DporState::split_op`).
    fn split_task_steps(&self) {
        self.dpor.lock().restart_split_tasks();
    }

    /// Whether the steps of asyncio tasks are split into their events.
    fn splits_task_steps(&self) -> bool {
        self.dpor.lock().split_tasks
    }

    fn begin(&self) -> bool {
        self.dpor.lock().begin()
    }

    fn end(&self) {
        self.dpor.lock().end()
    }

    /// Whether the run just ended had the Mazurkiewicz class of an earlier
    /// one (only with asyncio tasks: see the analyzer's `Stats::repeated`);
    /// its outcome was seen already, so it is not counted again.
    fn repeated(&self) -> bool {
        self.dpor.lock().explorer.repeated()
    }

    /// Names the objects the actors of the coming run share from the
    /// start: those `state` and the `threads` functions reach, by their
    /// place in an order that is the same in every execution (see
    /// `reach`).
    fn share(&self, state: Bound<'_, PyAny>, threads: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let objs = crate::reach::shared_objects(&state, &threads)?
            .into_iter()
            .map(|o| (o.as_ptr() as usize, o.unbind()))
            .collect();
        self.dpor.lock().shared_objects(objs);
        Ok(())
    }

    /// The exploration's counters (see the analyzer's `dpor::Stats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.dpor.lock().explorer.stats();
        let d = PyDict::new(py);
        d.set_item("executions", s.executions)?;
        d.set_item("deadlocks", s.deadlocks)?;
        d.set_item("sleep_blocked", s.sleep_blocked)?;
        d.set_item("repeated", s.repeated)?;
        d.set_item("bound_pruned", s.bound_pruned)?;
        d.set_item("infeasible", s.infeasible)?;
        d.set_item("diverged", s.diverged)?;
        d.set_item("races", s.races)?;
        d.set_item("pending", s.pending)?;
        d.set_item("estimated_total", s.estimated_total)?;
        d.set_item("max_steps", s.max_steps)?;
        d.set_item("estimate", s.estimate)?;
        d.set_item("frontiers", s.frontiers)?;
        d.set_item("top_dropped", s.top_dropped)?;
        Ok(d)
    }
}

/// The objects `state` and the `threads` functions reach, in the order
/// `DporExplorer.share` names them.
#[pyfunction]
fn shared_objects<'py>(
    state: Bound<'py, PyAny>,
    threads: Vec<Bound<'py, PyAny>>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    crate::reach::shared_objects(&state, &threads)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DporExplorer>()?;
    m.add_function(wrap_pyfunction!(shared_objects, m)?)?;
    Ok(())
}
