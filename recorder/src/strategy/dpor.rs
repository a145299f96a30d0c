//! The DPOR strategy: the analyzer's optimal-DPOR [`Explorer`] driven by
//! the control loop, one controlled run per execution.
//!
//! The explorer lives across runs (it holds the exploration tree), so the
//! strategy given to each run is a handle on shared state; the driver
//! (`racetrace.explore_dpor`, through `py::dpor`) begins and ends each
//! execution on the same state.
//!
//! Ids: every run interns keys, objects and actors afresh, in the order the
//! run meets them. Under the same schedule prefix that order is the same,
//! so ids agree wherever executions agree; an id first given after a branch
//! point may name another thing in a sibling execution, which the explorer
//! notices (it counts `diverged`/`infeasible`) rather than trusts.

use std::sync::{Arc, Mutex, MutexGuard};

use racetrace_analyzer::dpor::{DporConfig, Explorer};
use racetrace_formats::{ActorId, Event, Tables};

use super::{Choice, Decision, Scheduler};
use crate::session;

/// What one exploration keeps between runs.
pub struct DporState {
    pub explorer: Explorer,
    /// The keys of the current run, as the explorer reads them (whole-object
    /// keys conflict with every member); refilled from the session lazily.
    tables: Tables,
    /// The step chosen and not yet performed, if any.
    chosen: Option<(u64, ActorId)>,
    /// Blocked operations of a deadlocked run.
    pub blocked: Vec<Event>,
    /// Whether the current execution is in progress in the explorer.
    pub running: bool,
}

impl DporState {
    pub fn new(config: DporConfig) -> DporState {
        DporState {
            explorer: Explorer::new(config),
            tables: Tables::default(),
            chosen: None,
            blocked: Vec::new(),
            running: false,
        }
    }

    /// Starts the next execution; false when everything is explored.
    pub fn begin(&mut self) -> bool {
        self.tables = Tables::default();
        self.chosen = None;
        self.blocked.clear();
        self.running = self.explorer.begin_execution();
        self.running
    }

    /// Ends the current execution (after its run ended, however it ended).
    pub fn end(&mut self) {
        if self.running {
            let blocked = std::mem::take(&mut self.blocked);
            self.explorer.end_execution(&blocked);
            self.running = false;
        }
    }
}

/// Shared handle on a [`DporState`].
#[derive(Clone)]
pub struct Dpor(pub Arc<Mutex<DporState>>);

impl Dpor {
    pub fn new(config: DporConfig) -> Dpor {
        Dpor(Arc::new(Mutex::new(DporState::new(config))))
    }

    pub fn lock(&self) -> MutexGuard<'_, DporState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Scheduler for Dpor {
    fn next(&mut self, d: &Decision<'_>) -> Choice {
        let mut st = self.lock();
        if !st.running {
            return Choice::Abandon;
        }
        if let Some((step, a)) = st.chosen {
            // Asked again for a step whose actor found nothing to do: the
            // explorer has decided this step already.
            if step == d.step {
                return if d.candidates.iter().any(|c| c.actor == a) {
                    Choice::Actor(a)
                } else {
                    Choice::Abandon
                };
            }
        }
        // Actors that can go on by themselves; an expiring timeout only when
        // none can (as the default policy does), so timeouts never race.
        let mut enabled: Vec<Event> = d
            .candidates
            .iter()
            .filter(|c| c.is_ready())
            .map(|c| c.op)
            .collect();
        if enabled.is_empty() {
            let a = super::default_choice(d);
            enabled.extend(d.candidates.iter().filter(|c| c.actor == a).map(|c| c.op));
        }
        match st.explorer.choose(&enabled) {
            Some(a) => {
                st.chosen = Some((d.step, a));
                Choice::Actor(a)
            }
            None => Choice::Abandon,
        }
    }

    fn executed(&mut self, ev: &Event) {
        let mut st = self.lock();
        if !st.running {
            return;
        }
        st.chosen = None;
        if ev.kind.target_kind() == racetrace_formats::TargetKind::Key
            && ev.target as usize >= st.tables.keys.len()
        {
            let from = st.tables.keys.len();
            let fresh = session::with(|s| s.keys_from(from).to_vec()).unwrap_or_default();
            st.tables.keys.extend(fresh);
        }
        let DporState {
            explorer, tables, ..
        } = &mut *st;
        explorer.executed(ev, tables);
    }

    fn end_execution(&mut self, blocked: &[Event]) {
        self.lock().blocked = blocked.to_vec();
    }

    fn name(&self) -> &'static str {
        "dpor"
    }
}
