//! The marker schedule handle `racetrace.markers` drives: the marked lines
//! of a controlled run and, unless a plain schedule is replayed, the order
//! in which named actors must reach their markers (`strategy::markers`).

use pyo3::prelude::*;
use racetrace_formats::ActorId;

use crate::strategy::markers::{Entry, Markers, Stuck};

/// One marker run (or a replay of one): `lines` are (file, line, marker
/// id) of every marked line; `entries` (actor id, marker id, occurrence,
/// 0 for the next) the order to force, empty for a free run that only
/// notes which markers each actor passed; `held` the actor ids held back
/// until their turn besides those the entries name.
#[pyclass(module = "racetrace._native")]
pub struct MarkerPlan {
    pub lines: Vec<(String, u32, u32)>,
    pub markers: Markers,
}

#[pymethods]
impl MarkerPlan {
    #[new]
    #[pyo3(signature = (lines, entries, held=Vec::new()))]
    fn new(lines: Vec<(String, u32, u32)>, entries: Vec<(u32, u32, u32)>, held: Vec<u32>) -> Self {
        let entries = entries
            .into_iter()
            .map(|(a, marker, nth)| Entry {
                actor: ActorId(a),
                marker,
                nth,
            })
            .collect();
        MarkerPlan {
            lines,
            markers: Markers::new(entries, &held.into_iter().map(ActorId).collect::<Vec<_>>()),
        }
    }

    /// Entries met in the last run.
    fn met(&self) -> usize {
        self.markers.lock().met
    }

    /// Per actor id, the marker ids it passed in the last run, in order.
    fn passed(&self) -> Vec<Vec<u32>> {
        self.markers.lock().passed.clone()
    }

    /// Why the last run could not complete the schedule: None, or
    /// (entry index, occurrences of the entry's marker the actor had
    /// passed, whether it had already passed the one named).
    fn stuck(&self) -> Option<(usize, u32, bool)> {
        let st = self.markers.lock();
        match st.stuck.clone()? {
            Stuck::CannotRun { entry } => {
                let e = st.entries.get(entry)?;
                Some((entry, st.count(e.actor, e.marker), false))
            }
            Stuck::Passed { entry, passed } => Some((entry, passed, true)),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MarkerPlan>()?;
    Ok(())
}
