//! The DPOR strategy: the analyzer's optimal-DPOR [`Explorer`] driven by
//! the control loop, one controlled run per execution.
//!
//! The explorer lives across runs (it holds the exploration tree), so the
//! strategy given to each run is a handle on shared state; the driver
//! (`racetrace.explore_dpor`, through `py::dpor`) begins and ends each
//! execution on the same state.
//!
//! Ids: the explorer needs the same id for the same thing in every
//! execution, since its sleep sets and wakeup trees hold operations of
//! earlier executions. Every run interns keys, objects and actors afresh,
//! in the order the run meets them, so two executions that differ after a
//! branch point number keys differently: `a[5]` may be key 3 in one and
//! key 7 in the other (that made the explorer take two different keys for
//! one, sleep where it must not, and miss classes of lastzero). Keys are
//! therefore translated to exploration-wide ids named by what they are:
//! their object's id, their kind and their member's text (`Canon`).
//! Objects are numbered by first sight too, so they get exploration-wide
//! ids the same way (`Canon`): an object the actors share from the start
//! (reachable from the state `setup` made, or from the threads' closures:
//! `reach` lists them in a fixed order before each run) is named
//! by its place in that list; any other object by the actor that first
//! named it in an event and how many objects that actor had named before
//! (an object made during the run is first named by its maker, whoever
//! runs in between). Actors keep the run's ids: they are numbered by
//! creation along the schedule.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use racetrace_analyzer::dpor::{DporConfig, Explorer};
use racetrace_formats::{ActorId, Event, KeyDesc, KeyId, ObjId, StrId, Tables, TargetKind};

use super::{Choice, Decision, GiveUp, Scheduler};
use crate::session;

/// What one exploration keeps between runs.
pub struct DporState {
    pub explorer: Explorer,
    config: DporConfig,
    /// Keys and objects as the explorer knows them, for the whole
    /// exploration.
    keys: Canon,
    /// The step chosen and not yet performed, if any, and whether its
    /// operation could have given up (a try, or a timed wait when timeouts
    /// are explored).
    chosen: Option<(u64, ActorId, bool)>,
    /// Whether a blocked timed wait may time out at any step (else only
    /// when no actor can go on).
    pub explore_timeouts: bool,
    /// Blocked operations of a deadlocked run.
    pub blocked: Vec<Event>,
    /// Whether the current execution is in progress in the explorer.
    pub running: bool,
    /// The atomic step of an asyncio task in progress: its events so far
    /// (named as the explorer names them), and the step that woke it.
    task_step: Vec<Event>,
    task_waker: Option<usize>,
    /// Whether the step chosen last is a task's (its events are gathered
    /// into one step).
    in_task: bool,
    /// The explorer's step of each event of the execution (a task's step
    /// has several), to name a waker by its step.
    step_of_event: Vec<u32>,
    /// Steps reported to the explorer in this execution.
    steps: u32,
    /// Task steps are split into their events (see [`DporState::split_op`]):
    /// threads ran beside the tasks, and may come between the events of a
    /// step.
    pub split_tasks: bool,
    /// Split: the waker of the task step the chosen event begins.
    switch_waker: Option<Option<usize>>,
    /// Split: the loop (its thread's actor) of each task seen, by actor.
    task_loops: HashMap<u32, u32>,
}

impl DporState {
    pub fn new(config: DporConfig, explore_timeouts: bool) -> DporState {
        DporState {
            explorer: Explorer::new(config.clone()),
            config,
            keys: Canon::default(),
            chosen: None,
            explore_timeouts,
            blocked: Vec::new(),
            running: false,
            task_step: Vec::new(),
            task_waker: None,
            in_task: false,
            step_of_event: Vec::new(),
            steps: 0,
            split_tasks: false,
            switch_waker: None,
            task_loops: HashMap::new(),
        }
    }

    /// With task steps split into their events, what a task's step does to
    /// its loop, as the explorer sees it: the loop is a lock, taken by the
    /// `TaskSwitch` that begins a step and released by the end of the step
    /// (the task's suspension or exit). Two tasks' steps never overlap;
    /// threads' events may come between a step's.
    fn split_op(&mut self, ev: Event) -> Event {
        use racetrace_formats::EventKind::*;
        const TIMEOUT: u64 = racetrace_analyzer::dpor::TIMEOUT_STEP;
        let lock = |keys: &mut Canon, base: u32, aux: u64| Event {
            kind: if aux == 0 { LockRelease } else { LockAcquire },
            target: keys.loop_object(base),
            aux: 1 | aux,
            ..ev
        };
        match ev.kind {
            TaskSwitch if ev.aux & !TIMEOUT > 0 => {
                let base = ((ev.aux & !TIMEOUT) - 1) as u32;
                self.task_loops.insert(ev.actor.0, base);
                Event {
                    aux: 1 | (ev.aux & TIMEOUT),
                    ..lock(&mut self.keys, base, 1)
                }
            }
            Yield if ev.aux == racetrace_formats::YIELD_SUSPEND => {
                match self.task_loops.get(&ev.actor.0) {
                    Some(&base) => lock(&mut self.keys, base, 0),
                    None => ev,
                }
            }
            ActorExit => match self.task_loops.get(&ev.actor.0) {
                Some(&base) => lock(&mut self.keys, base, 0),
                None => ev,
            },
            _ => ev,
        }
    }

    /// Starts again, from nothing, with task steps split (see
    /// [`DporState::split_op`]).
    pub fn restart_split_tasks(&mut self) {
        self.explorer = Explorer::new(self.config.clone());
        self.keys = Canon::default();
        self.task_loops.clear();
        self.split_tasks = true;
    }

    /// Reports the task step gathered so far as one step.
    fn flush_task_step(&mut self) {
        if self.task_step.is_empty() {
            return;
        }
        let DporState {
            explorer,
            keys,
            task_step,
            task_waker,
            ..
        } = self;
        explorer.executed_step(task_step, *task_waker, &keys.tables);
        task_step.clear();
        self.steps += 1;
    }

    /// Starts the next execution; false when everything is explored.
    pub fn begin(&mut self) -> bool {
        self.keys.new_run();
        self.chosen = None;
        self.blocked.clear();
        self.task_step.clear();
        self.in_task = false;
        self.step_of_event.clear();
        self.steps = 0;
        self.switch_waker = None;
        self.running = self.explorer.begin_execution();
        self.running
    }

    /// The objects the actors share from the start, in a fixed order (see
    /// the module docs); kept alive until the next run begins, so that
    /// their addresses name them throughout this one.
    pub fn shared_objects(&mut self, objs: Vec<(usize, pyo3::Py<pyo3::PyAny>)>) {
        self.keys.walked.clear();
        for (i, (addr, _)) in objs.iter().enumerate() {
            self.keys.walked.entry(*addr).or_insert(i as u32);
        }
        self.keys.walked_alive = objs.into_iter().map(|(_, o)| o).collect();
    }

    /// Ends the current execution (after its run ended, however it ended).
    pub fn end(&mut self) {
        if self.running {
            self.flush_task_step();
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
    pub fn new(config: DporConfig, explore_timeouts: bool) -> Dpor {
        Dpor(Arc::new(Mutex::new(DporState::new(
            config,
            explore_timeouts,
        ))))
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
        if let Some(t) = d.atomic.filter(|_| !st.split_tasks) {
            // Inside a task's step, taken whole: no choice.
            return Choice::Actor(t);
        }
        st.flush_task_step();
        st.in_task = false;
        if let Some((step, a, _)) = st.chosen {
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
        // Actors that can go on by themselves, and, when timeouts are
        // explored, blocked timed waits by timing out (their operation is
        // then what they end in: the explorer races it like any other).
        // Otherwise an expiring timeout only when no actor can go on (as
        // the default policy does), so timeouts never race.
        let timeouts = st.explore_timeouts;
        let mut enabled: Vec<Event> = d
            .candidates
            .iter()
            .filter(|c| timeouts || c.is_ready())
            .map(|c| c.op)
            .collect();
        if enabled.is_empty() {
            let a = super::default_choice(d);
            enabled.extend(d.candidates.iter().filter(|c| c.actor == a).map(|c| c.op));
        }
        let split = st.split_tasks;
        for op in &mut enabled {
            *op = st.keys.canonical(op);
            if split {
                *op = st.split_op(*op);
            }
        }
        match st.explorer.choose(&enabled) {
            Some(a) => {
                let timed = d.candidates.iter().any(|c| {
                    c.actor == a
                        && (c.give_up == GiveUp::Try || (timeouts && c.give_up == GiveUp::Timeout))
                });
                st.chosen = Some((d.step, a, timed));
                // A task's step begins: its events make one step, after
                // the step that woke it.
                if let Some(c) = d.candidates.iter().find(|c| c.actor == a) {
                    if c.op.kind == racetrace_formats::EventKind::TaskSwitch {
                        let all = crate::control::TASK_AFTER_ALL;
                        let waker = c.waker.and_then(|w| {
                            let step = *st.step_of_event.get((w & !all) as usize)? as usize;
                            Some(if w & all != 0 {
                                step + Explorer::AFTER_ALL
                            } else {
                                step
                            })
                        });
                        if split {
                            st.switch_waker = Some(waker);
                        } else {
                            st.in_task = true;
                            st.task_waker = waker;
                        }
                    }
                }
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
        let timed = st
            .chosen
            .take()
            .is_some_and(|(_, a, timed)| timed && a == ev.actor);
        let mut ev = st.keys.canonical_executed(ev);
        let step = st.steps;
        st.step_of_event.push(step);
        if st.in_task {
            st.task_step.push(ev);
            return;
        }
        if st.split_tasks {
            ev = st.split_op(ev);
            if let Some(waker) = st.switch_waker.take() {
                // The event that begins a task's step: after its waker.
                let DporState { explorer, keys, .. } = &mut *st;
                explorer.executed_woken(&ev, waker, &keys.tables);
                st.steps += 1;
                return;
            }
        }
        let DporState { explorer, keys, .. } = &mut *st;
        explorer.executed_timed(&ev, &keys.tables, timed);
        st.steps += 1;
    }

    fn end_execution(&mut self, blocked: &[Event]) {
        let mut st = self.lock();
        if st.running {
            st.flush_task_step();
            st.in_task = false;
        }
        // Named as the explorer names the operations it ran.
        let mut out = Vec::with_capacity(blocked.len());
        for b in blocked {
            let op = st.keys.canonical(b);
            out.push(if st.split_tasks { st.split_op(op) } else { op });
        }
        let blocked = out;
        st.blocked = blocked;
    }

    fn name(&self) -> &'static str {
        "dpor"
    }
}

/// What an object is called across executions (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ObjName {
    /// Its place among the objects shared from the start.
    Shared(u32),
    /// The event loop run by this actor's thread, as a lock (see
    /// `DporState::split_op`).
    Loop(u32),
    /// The `n`-th object first named by `actor` in this run.
    FirstNamedBy { actor: u32, n: u32 },
}

/// Exploration-wide key and object ids: a key is named by its object's
/// canonical id, its kind and its member's text; an object by its
/// [`ObjName`]; whatever ids the run gave them.
#[derive(Default)]
struct Canon {
    ids: HashMap<(u32, u8, String), KeyId>,
    objs: HashMap<ObjName, u32>,
    /// What the explorer reads: every canonical key (whole-object keys
    /// conflict with every member of their object).
    tables: Tables,
    /// This run's key id → canonical id (`u32::MAX`: not looked up yet).
    run: Vec<u32>,
    /// This run's object id → canonical id (`u32::MAX`: not named yet).
    run_objs: Vec<u32>,
    /// Objects each actor named first in this run, so far.
    named: Vec<u32>,
    /// Queue lengths in this run, by canonical object (see
    /// `canonical_executed`).
    levels: HashMap<u32, i64>,
    /// Address → place, for the objects shared from the start of this run.
    walked: HashMap<usize, u32>,
    walked_alive: Vec<pyo3::Py<pyo3::PyAny>>,
}

impl Canon {
    fn new_run(&mut self) {
        self.run.clear();
        self.run_objs.clear();
        self.named.clear();
        self.levels.clear();
    }

    /// [`Canon::canonical`] of an event performed. The `aux` of a queue's
    /// put, get or observation becomes 1 + the queue's length before it,
    /// which is what the explorer reads there (the trace has the item's
    /// token): counted from the items it held when first seen, so that a
    /// get can go before a put when an item was there already.
    fn canonical_executed(&mut self, ev: &Event) -> Event {
        use racetrace_formats::EventKind::*;
        let run_obj = ev.target;
        let mut out = self.canonical(ev);
        if matches!(
            ev.kind,
            QueuePut | QueueGet | QueueGetFail | QueuePutFail | QueueCheck
        ) {
            let level = self.levels.entry(out.target).or_insert_with(|| {
                session::with(|s| s.queue_initial_len(ObjId(run_obj))).map_or(0, i64::from)
            });
            out.aux = 1 + (*level).max(0) as u64;
            match ev.kind {
                QueuePut => *level += 1,
                QueueGet => *level -= 1,
                _ => {}
            }
        }
        out
    }

    /// The canonical id of this run's object `obj`, first named in an
    /// event (or a pending operation) of `actor`.
    fn object(&mut self, obj: u32, actor: u32) -> u32 {
        if obj == u32::MAX {
            return obj;
        }
        if let Some(&id) = self
            .run_objs
            .get(obj as usize)
            .filter(|&&id| id != u32::MAX)
        {
            return id;
        }
        let addr = session::with(|s| s.addr_of(ObjId(obj))).flatten();
        let name = match addr.and_then(|a| self.walked.get(&a)) {
            Some(&place) => ObjName::Shared(place),
            None => {
                if self.named.len() <= actor as usize {
                    self.named.resize(actor as usize + 1, 0);
                }
                let n = self.named[actor as usize];
                self.named[actor as usize] += 1;
                ObjName::FirstNamedBy { actor, n }
            }
        };
        let next = self.objs.len() as u32;
        let id = *self.objs.entry(name).or_insert(next);
        if self.run_objs.len() <= obj as usize {
            self.run_objs.resize(obj as usize + 1, u32::MAX);
        }
        self.run_objs[obj as usize] = id;
        id
    }

    /// The canonical object of the event loop run by actor `base`'s thread.
    fn loop_object(&mut self, base: u32) -> u32 {
        let next = self.objs.len() as u32;
        *self.objs.entry(ObjName::Loop(base)).or_insert(next)
    }

    /// `ev` with its key or object replaced by the canonical one.
    fn canonical(&mut self, ev: &Event) -> Event {
        match ev.kind.target_kind() {
            TargetKind::Actor => *ev,
            TargetKind::Obj => Event {
                target: self.object(ev.target, ev.actor.0),
                ..*ev
            },
            TargetKind::Key => self.key(ev),
        }
    }

    fn key(&mut self, ev: &Event) -> Event {
        let local = ev.target as usize;
        if let Some(&id) = self.run.get(local).filter(|&&id| id != u32::MAX) {
            return Event { target: id, ..*ev };
        }
        let Some((desc, member)) = session::with(|s| s.key_text(KeyId(ev.target))).flatten() else {
            return *ev; // not interned by this run: left as it is
        };
        let obj = self.object(desc.obj.0, ev.actor.0);
        let next = KeyId(self.tables.keys.len() as u32);
        let id = *self
            .ids
            .entry((obj, desc.member_kind as u8, member))
            .or_insert(next);
        if id == next {
            // The member's text is in `ids`; the table needs no strings.
            self.tables.keys.push(KeyDesc {
                obj: ObjId(obj),
                member: StrId(0),
                ..desc
            });
        }
        if self.run.len() <= local {
            self.run.resize(local + 1, u32::MAX);
        }
        self.run[local] = id.0;
        Event {
            target: id.0,
            ..*ev
        }
    }
}
