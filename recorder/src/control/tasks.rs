//! asyncio tasks as actors. A controlled event loop (`racetrace/aio.py`)
//! runs one ready task at a time on its thread; which one is the
//! strategy's choice, made here like any other step:
//!
//! * the thread running the loop (actor `base`) is `InLoop` while the loop
//!   runs: never a candidate itself; its ready tasks are (`State::Task`);
//! * at each switch (`task_switch`) the task whose step just ended goes
//!   back to `Task` (ready again if it woke itself), the strategy chooses
//!   among the ready tasks, and the loop thread then acts as the chosen
//!   task: its first event (`TaskSwitch`, written by `hook::tasks`) goes
//!   on this choice;
//! * until the next switch the task's step is *atomic*: the only candidate
//!   at each of its events is the task itself (`Decision::atomic`), so the
//!   code between two suspension points of a task is one step of it, as
//!   the DPOR strategy reports it to the explorer;
//! * a task is made ready by a step of some actor (a future's result set,
//!   a lock released): that step, its *waker*, is given with the candidate
//!   so that DPOR never runs the task before it.

use super::*;

/// Added to a waker (an event index) when the task could only go after
/// every event up to it, not only after that one: a task woken by a timer,
/// which fires once no task is ready (virtual time).
pub const TASK_AFTER_ALL: u64 = 1 << 62;

impl Run {
    /// Whether the loop run by actor `base` is running tasks.
    pub(super) fn loop_running(&self, base: Option<u32>) -> bool {
        base.and_then(|b| self.slots.get(b as usize))
            .is_some_and(|s| matches!(s.state, State::InLoop))
    }

    /// A timed wait (`time.sleep`) of `a` inside a task's step: it would
    /// stop the whole event loop, which is reported (the run stops).
    pub(super) fn blocks_loop(&mut self, a: u32, op: &Event) -> bool {
        if !self.in_step(a) {
            return false;
        }
        let msg = format!(
            "{} blocks its event loop: it called time.sleep at {} inside a task, so no other task can run meanwhile (await asyncio.sleep instead)",
            self.actor_name(a),
            loc_text(op.loc),
        );
        self.stop(Status::Timeout(msg));
        true
    }

    /// Whether task `a` is taking a step on its loop.
    pub(super) fn in_step(&self, a: u32) -> bool {
        self.slots
            .get(a as usize)
            .and_then(|s| s.loop_of)
            .and_then(|l| self.slots.get(l as usize))
            .and_then(|l| l.stepping)
            .is_some_and(|(t, _)| t == a)
    }

    /// The task whose step began last among those taking one (what a
    /// strategy that takes steps whole continues: it lets no other actor
    /// begin a step inside one, so there is at most one then).
    pub(super) fn atomic(&self) -> Option<u32> {
        self.slots
            .iter()
            .filter_map(|s| s.stepping)
            .max_by_key(|&(_, since)| since)
            .map(|(t, _)| t)
    }

    /// The task taking a step on the loop of `base` ends it: back between
    /// steps (ready again if it woke itself meanwhile), unless it finished.
    /// (Another loop's step in progress goes on.)
    fn end_task_step(&mut self, base: u32) {
        let stepping = self
            .slots
            .get_mut(base as usize)
            .and_then(|s| s.stepping.take());
        if let Some((t, _)) = stepping {
            let s = &mut self.slots[t as usize];
            if !matches!(s.state, State::Finished) {
                let wake = s.task_wake.take();
                s.state = State::Task {
                    ready: wake.is_some(),
                    waker: wake.flatten(),
                };
            }
            if self.turn == Some(t) {
                self.turn = None;
            }
        }
    }
}

/// Ready task `a` as a candidate: its next step begins with a switch to
/// it (the operation is a placeholder: what the step does is known once it
/// ran). `deadline`: a timeout's actor (see [`task_ready`]), which goes as
/// a timed wait that expires does.
pub(super) fn task_candidate(
    a: u32,
    base: Option<u32>,
    waker: Option<u64>,
    deadline: Option<f64>,
) -> Candidate {
    // `aux` as its `TaskSwitch` will have it: 1 + the loop's thread.
    let on = base.map_or(0, |b| u64::from(b) + 1);
    Candidate {
        actor: ActorId(a),
        op: Event {
            actor: ActorId(a),
            kind: EventKind::TaskSwitch,
            loc: LocId(0),
            target: a,
            aux: if deadline.is_some() {
                on | racetrace_analyzer::dpor::TIMEOUT_STEP
            } else {
                on
            },
        },
        readiness: match deadline {
            Some(d) => Readiness::Timeout(d),
            None => Readiness::Ready,
        },
        give_up: if deadline.is_some() {
            GiveUp::Timeout
        } else {
            GiveUp::Never
        },
        waker,
    }
}

/// A task was created (its `TaskCreate`, `create`, is recorded): `child`,
/// run by the loop of the thread of actor `base`.
pub fn task_created(base: ActorId, create: Event, child: ActorId, name: String) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    run.strategy.executed(&create);
    let cv = run.slots.get(base.index()).map(|s| s.cv.clone());
    let i = child.index();
    while run.slots.len() <= i {
        run.slots.push(Slot::new(String::new(), false));
    }
    let mut slot = Slot::new(name, false);
    // The loop thread waits for its tasks' turns on its own variable.
    if let Some(cv) = cv {
        slot.cv = cv;
    }
    slot.state = State::Task {
        ready: false,
        waker: None,
    };
    slot.loop_of = Some(base.0);
    run.slots[i] = slot;
}

/// The index of the last event written (what a step that readies a task
/// names as its waker).
pub fn task_now() -> Option<u64> {
    own_ref(&lock()).and_then(|r| r.step.checked_sub(1))
}

/// Task `actor` has a step to run, made ready by event `waker` (`None`:
/// by its own past only, such as a timer it set). `timeout`: the actor of a
/// timeout that expires in that many seconds (virtual): its step goes as a
/// timed wait's expiry does (when nothing else can, or where the strategy
/// explores timeouts).
pub fn task_ready(actor: ActorId, waker: Option<u64>, timeout: Option<f64>) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    let vt = run.vt;
    let Some(s) = run.slots.get_mut(actor.index()) else {
        return;
    };
    if let Some(t) = timeout {
        s.task_deadline = Some(vt + t.max(0.0));
    }
    match &mut s.state {
        State::Task { ready, waker: w } => {
            *ready = true;
            *w = waker;
        }
        State::Finished => {}
        // In its own step (it yielded to the loop and is ready again).
        _ => s.task_wake = Some(waker),
    }
}

/// Task `actor`, ready, is not any more (a timeout that a timer due
/// earlier must now precede, see `racetrace/aio_timeouts.py`).
pub fn task_hold(actor: ActorId) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    if let Some(s) = run.slots.get_mut(actor.index()) {
        if let State::Task { ready, .. } = &mut s.state {
            *ready = false;
        }
    }
}

/// The task taking a step finished (its exit is recorded).
pub fn task_exited(actor: ActorId) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    if let Some(s) = run.slots.get_mut(actor.index()) {
        s.state = State::Finished;
    }
}

/// A loop whose tasks all wait while other actors of the run (threads:
/// a `to_thread` worker, the program's own) may still go: its thread waits
/// in [`task_switch`] until one of them makes a task ready (a callback
/// handed to the loop from a thread is a task of its own, see
/// `racetrace/aio.py`), and is given the turn back, with nobody else able
/// to go, only to fire its `timers` (virtual time).
pub struct LoopIdle {
    /// In how long (virtual seconds, on the loop's clock) its earliest
    /// timer fires, if it has one: of several idle loops, the one whose
    /// timer comes first fires it.
    pub timers: Option<f64>,
    /// Who waits for what, for a deadlock report (the loop describes it).
    pub what: String,
}

/// What a switch chose.
pub struct Switch {
    /// The task the loop thread acts as now, or `base` itself: fire the
    /// timers (only with [`LoopIdle::timers`]).
    pub actor: ActorId,
    /// Another actor than the loop's tasks (a thread) could have gone
    /// inside the step that just ended: it went only after it.
    pub others: bool,
}

impl Run {
    /// Whether actors other than the loop of `base` and its tasks are alive.
    pub(super) fn others_alive(&self, base: u32) -> bool {
        self.alive()
            .any(|(i, s)| i as u32 != base && s.loop_of != Some(base) && !self.dormant(s))
    }

    /// Nobody can go: the idle loop that has timers, if any, fires them.
    pub(super) fn fire_idle_timers(&mut self) -> bool {
        let mut first: Option<(usize, f64)> = None;
        for (b, s) in self.slots.iter().enumerate() {
            if !matches!(s.state, State::InLoop) {
                continue;
            }
            if let Some(d) = s.idle.as_ref().and_then(|i| i.timers) {
                if first.is_none_or(|(_, f)| d < f) {
                    first = Some((b, d));
                }
            }
        }
        let Some((b, _)) = first else {
            return false;
        };
        self.slots[b].fire_timers = true;
        self.turn = Some(b as u32);
        self.turn_since = Instant::now();
        self.slots[b].cv.notify_all();
        true
    }
}

/// Whether actors other than the loop of actor `base` and its tasks are
/// alive (threads that may make a task ready).
pub fn loop_others(base: ActorId) -> bool {
    own_ref(&lock()).is_some_and(|r| r.others_alive(base.0))
}

/// Between two steps of the loop run by actor `base`: ends the step in
/// progress, lets the strategy choose among the ready tasks (and the other
/// actors' steps) and waits until it has chosen one of the loop's tasks;
/// `idle`: no task of the loop is ready (see [`LoopIdle`]).
pub fn task_switch(py: Python<'_>, base: ActorId, idle: Option<LoopIdle>) -> Result<Switch, Abort> {
    py.detach(|| {
        let mut g = lock();
        let run = own(&mut g).ok_or(Abort)?;
        if run.status != Status::Running {
            return Err(Abort);
        }
        run.end_task_step(base.0);
        let b = base.index();
        let cv = run.slots.get(b).ok_or(Abort)?.cv.clone();
        run.slots[b].state = State::InLoop;
        run.slots[b].idle = idle;
        if run.turn == Some(base.0) || run.turn.is_none() {
            run.turn = None;
            run.decide();
        }
        let (_g, chosen) = wait_until(g, &cv, |run| {
            let t = run.turn?;
            if t == base.0 && run.slots[b].fire_timers {
                run.slots[b].fire_timers = false;
                run.slots[b].idle = None;
                return Some(Switch {
                    actor: base,
                    others: std::mem::take(&mut run.passed_over),
                });
            }
            if run.slots[t as usize].loop_of != Some(base.0) {
                return None;
            }
            run.slots[b].idle = None;
            let others = std::mem::take(&mut run.passed_over);
            let s = &mut run.slots[t as usize];
            s.state = State::Running;
            run.slots[b].stepping = Some((t, run.step));
            run.turn_since = Instant::now();
            Some(Switch {
                actor: ActorId(t),
                others,
            })
        })?;
        Ok(chosen)
    })
}

/// The loop run by actor `base` returns: the step in progress ends, tasks
/// still pending are abandoned (as a stopped loop leaves them), and the
/// thread goes on as `base` (its next event takes a turn). `close`: the
/// loop will not run again, its pending tasks are dropped (a loop the
/// program runs keeps them until it closes, see [`task_close`]; between two
/// runs they are dormant, never candidates). True when a
/// thread could have gone inside the last step (see [`Switch::others`]).
pub fn task_leave(base: ActorId, close: bool) -> bool {
    let mut g = lock();
    let Some(run) = own(&mut g) else {
        return false;
    };
    run.end_task_step(base.0);
    if close {
        run.close_loop(base.0);
    }
    if let Some(s) = run.slots.get_mut(base.index()) {
        s.state = State::Running;
    }
    run.turn = None;
    std::mem::take(&mut run.passed_over)
}

/// The loop made by actor `old`'s thread is run by actor `new`'s (a loop
/// made in one thread and run in another, as a background loop thread's):
/// its tasks, made so far or later, are run by `new`'s thread and wait for
/// their turns on its variable. Called while the loop is not running.
pub fn task_rebase(old: ActorId, new: ActorId) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    let Some(cv) = run.slots.get(new.index()).map(|s| s.cv.clone()) else {
        return;
    };
    for s in run.slots.iter_mut() {
        if s.loop_of == Some(old.0) {
            s.loop_of = Some(new.0);
            s.cv = cv.clone();
        }
    }
}

/// The loop run by actor `base`'s thread is closed: its pending tasks are
/// dropped (as a closed loop leaves them).
pub fn task_close(base: ActorId) {
    if let Some(run) = own(&mut lock()) {
        run.close_loop(base.0);
    }
}

impl Run {
    fn close_loop(&mut self, base: u32) {
        for s in self.slots.iter_mut() {
            if s.loop_of == Some(base) && matches!(s.state, State::Task { .. }) {
                s.state = State::Finished;
            }
        }
    }

    /// Whether `s` can never go now: a task of a loop that is not running
    /// (it runs again only if its thread runs the loop again).
    pub(super) fn dormant(&self, s: &Slot) -> bool {
        matches!(s.state, State::Task { .. }) && !self.loop_running(s.loop_of)
    }
}

/// Every task of a loop waits and nothing is pending: a deadlock, which
/// the loop describes (`what`: who awaits what, where).
pub fn task_deadlock(what: String) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    for s in run.slots.iter_mut() {
        s.stepping = None;
    }
    run.strategy.end_execution(&[]);
    run.stop(Status::Deadlock(what));
}
