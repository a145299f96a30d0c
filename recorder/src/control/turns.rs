//! Taking turns: an actor at a scheduling point waits until the strategy
//! chooses it (`before_emit`), or until what it blocks on is free
//! (`block`); the run decides who goes next (`Run::decide`), accounts for
//! each step, and stops on a deadlock, a timeout or a divergence.

use std::sync::MutexGuard;

use pyo3::prelude::*;
use racetrace_formats::{ActorId, Event};

use super::*;

// ---------------------------------------------------------------------------
// Scheduling points.

/// Takes the turn for one event of `actor` (returns once the strategy has
/// chosen it, or at once with a credit), then accounts for the step. `text`
/// renders the event's location for divergence checks (called only when
/// replaying against recorded events, before the run lock is taken).
pub fn before_emit(
    py: Python<'_>,
    actor: ActorId,
    op: Event,
    deadline: Option<f64>,
) -> Result<(), Abort> {
    before_emit_timed(py, actor, op, deadline, false)
}

/// [`before_emit`] for an event that ends a timed wait (`timed`: a wait
/// with a timeout that found what it waited for at once, so never blocked
/// in the model): the strategy learns that it could have timed out instead.
///
/// Only actors of the run in progress call it: with no run (the actor's
/// run ended while it was inside a callback) it says `Abort`, so that the
/// actor unwinds instead of writing into whatever comes next.
pub fn before_emit_timed(
    py: Python<'_>,
    actor: ActorId,
    op: Event,
    deadline: Option<f64>,
    timed: bool,
) -> Result<(), Abort> {
    let a = actor.0;
    let check = {
        let g = lock();
        match own_ref(&g) {
            Some(run) if run.status == Status::Running => (run.step as usize) < run.expected.len(),
            Some(_) => return Err(Abort),
            None => return Err(Abort),
        }
    };
    // Rendered without the run lock: only needed when replaying a trace.
    let actual = if check {
        session::with(|s| s.loc_parts(op.loc)).flatten()
    } else {
        None
    };
    let fast = {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        // No slot: an actor of an earlier run (it let the GIL go while that
        // run ended and this one began) unwinds; it takes no turn here.
        let Some(slot) = run.slots.get_mut(a as usize) else {
            return Err(Abort);
        };
        if slot.credit {
            slot.credit = false;
            Ok(run.account(a, &op, actual.as_ref()))
        } else {
            Err(())
        }
    };
    if let Ok(r) = fast {
        return r;
    }
    py.detach(|| {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        if run.status != Status::Running {
            return Err(Abort);
        }
        if deadline.is_some() && run.blocks_loop(a, &op) {
            return Err(Abort);
        }
        let slot = run.slots.get_mut(a as usize).ok_or(Abort)?;
        slot.credit = false;
        let deadline = deadline.map(|d| run.vt + d.max(0.0));
        let slot = &mut run.slots[a as usize];
        slot.state = State::AtEvent {
            op,
            deadline,
            timed,
        };
        let cv = slot.cv.clone();
        // Nobody holds the turn after a loop thread's tasks returned it.
        if run.turn == Some(a) || run.turn.is_none() {
            run.turn = None;
            run.decide();
        }
        let mut g = wait_turn(g, a, &cv)?;
        let run = own(&mut g).ok_or(Abort)?;
        run.slots[a as usize].credit = false;
        run.account(a, &op, actual.as_ref())
    })
}

pub(super) fn block(py: Python<'_>, a: u32, mut b: Blocked) -> Result<Resume, Abort> {
    // A woken actor that waits again before recording anything: its turn
    // becomes a `Yield` step, so that steps and events stay one to one.
    let (wasted, replaying_trace) = {
        let g = lock();
        let credit = own_ref(&g)
            .and_then(|r| r.slots.get(a as usize))
            .is_some_and(|s| s.credit);
        (credit, own_ref(&g).is_some_and(|r| !r.expected.is_empty()))
    };
    // Replaying a recorded trace, which never shows such wake-ups, the turn
    // is simply given back (the step is not taken; see `catch_up`).
    if wasted && !replaying_trace {
        let loc = b.site;
        before_emit(
            py,
            ActorId(a),
            Event {
                actor: ActorId(a),
                kind: EventKind::Yield,
                loc,
                target: a,
                aux: 1,
            },
            None,
        )?;
        session::with(|s| s.emit(ActorId(a), EventKind::Yield, loc, a, 1));
    }
    py.detach(move || {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        if run.status != Status::Running {
            return Err(Abort);
        }
        b.deadline = b.deadline.map(|t| run.vt + t.max(0.0));
        let slot = &mut run.slots[a as usize];
        slot.credit = false;
        slot.state = State::Blocked(Box::new(b));
        let cv = slot.cv.clone();
        // Nobody holds the turn after a loop thread's tasks returned it.
        if run.turn == Some(a) || run.turn.is_none() {
            run.turn = None;
            run.decide();
        }
        let mut g = wait_turn(g, a, &cv)?;
        let run = own(&mut g).ok_or(Abort)?;
        Ok(run.slots[a as usize].resume)
    })
}

/// Waits until it is `a`'s turn (the lock is released while waiting).
pub(super) fn wait_turn(
    g: MutexGuard<'static, Option<Run>>,
    a: u32,
    cv: &wake::Wake,
) -> Result<MutexGuard<'static, Option<Run>>, Abort> {
    let (g, ()) = wait_until(g, cv, |run| {
        (run.turn == Some(a)).then(|| {
            run.slots[a as usize].state = State::Running;
            run.turn_since = Instant::now();
        })
    })?;
    Ok(g)
}

/// Waits on `cv` (the lock is released while waiting) until `ready` finds
/// in the run what the caller waits for (and takes it); looks at the
/// watchdog meanwhile. `Abort` once the run is stopped or is not the
/// calling thread's any more.
pub(super) fn wait_until<R>(
    mut g: MutexGuard<'static, Option<Run>>,
    cv: &wake::Wake,
    mut ready: impl FnMut(&mut Run) -> Option<R>,
) -> Result<(MutexGuard<'static, Option<Run>>, R), Abort> {
    loop {
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        if run.status != Status::Running {
            return Err(Abort);
        }
        if let Some(r) = ready(run) {
            return Ok((g, r));
        }
        run.watchdog();
        if run.status != Status::Running {
            return Err(Abort);
        }
        g = cv.wait(g, lock, POLL);
    }
}

// ---------------------------------------------------------------------------
// The run.

impl Run {
    pub(super) fn stop(&mut self, status: Status) {
        if self.status == Status::Running {
            self.status = status;
        }
        for s in &self.slots {
            s.cv.notify_all();
        }
        DRIVER.notify_all();
    }

    /// What the blocked actors wait to do, predicted (for `end_execution`).
    pub(super) fn blocked_ops(&self) -> Vec<Event> {
        self.slots
            .iter()
            .filter_map(|s| match &s.state {
                State::Blocked(b) => Some(b.op),
                _ => None,
            })
            .collect()
    }

    pub(super) fn alive(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s.state, State::Finished))
    }

    /// Chooses who takes the next step and wakes it; ends the run when
    /// nobody can.
    pub(super) fn decide(&mut self) {
        if self.status != Status::Running {
            return;
        }
        let main_done = matches!(self.slots[0].state, State::Finished);
        if main_done && self.alive().all(|(_, s)| s.daemon || self.dormant(s)) {
            // Only daemon threads left: the program is over.
            self.strategy.end_execution(&[]);
            self.stop(Status::Finished);
            return;
        }
        let cands = self.candidates();
        if cands.is_empty() {
            if self.fire_idle_timers() {
                return;
            }
            let blocked = self.blocked_ops();
            self.strategy.end_execution(&blocked);
            if self.alive().all(|(_, s)| self.dormant(s)) {
                self.stop(Status::Finished);
            } else {
                let d = self.describe_deadlock();
                self.stop(Status::Deadlock(d));
            }
            return;
        }
        if cands.iter().any(|c| c.give_up == GiveUp::Timeout) {
            self.timeouts_offered += 1;
        }
        let decision = Decision {
            step: self.step,
            current: self.last_actor.map(ActorId),
            candidates: &cands,
            actors: self.slots.len() as u32,
            atomic: self.atomic().map(ActorId),
        };
        let mut catchup = false;
        let a = match self.strategy.next(&decision) {
            Choice::Actor(a) if cands.iter().any(|c| c.actor == a) => a.0,
            Choice::Abandon => {
                // DPOR races the blocked actors' operations with the steps
                // taken, in an abandoned execution too.
                let blocked = self.blocked_ops();
                self.strategy.end_execution(&blocked);
                self.stop(Status::Abandoned);
                return;
            }
            Choice::Actor(a) | Choice::Unavailable(a) => match self.catch_up(a, &cands) {
                Some(other) => {
                    catchup = true;
                    other
                }
                None => {
                    let msg = self.describe_unavailable(a, &cands);
                    self.stop(Status::Divergence(msg));
                    return;
                }
            },
        };
        let prev_ready = self
            .last_actor
            .is_some_and(|p| p != a && cands.iter().any(|c| c.actor.0 == p && c.is_ready()));
        let vt = self.vt;
        let mut new_vt = vt;
        let slot_state = std::mem::replace(&mut self.slots[a as usize].state, State::Running);
        let mut resume = Resume::Proceed;
        let mut credit = false;
        let mut keep_state = None;
        match slot_state {
            State::Starting { arrived } => {
                // Not arrived yet: the watchdog says so if it never does.
                keep_state = Some(State::Starting { arrived });
                credit = true;
            }
            State::AtEvent { deadline, .. } => {
                if let Some(d) = deadline {
                    new_vt = vt.max(d);
                }
            }
            State::Blocked(mut b) => {
                credit = true;
                let ok = b.wait.iter().all(|&w| self.acquirable(a, w));
                if ok {
                    match b.wait[0] {
                        WaitOn::Lock(addr) => {
                            let site = b.site;
                            let mut keep = b.keep.take();
                            let label = std::mem::take(&mut b.label);
                            self.take_lock(a, addr, b.reentrant, b.count, &label, site, &mut keep);
                        }
                        WaitOn::SimpleQueue(addr) => {
                            if let Some(q) = self.queues.get_mut(&addr) {
                                q.0 = q.0.saturating_sub(1);
                            }
                        }
                        WaitOn::Sem(addr) => {
                            if let Some(v) = self.sems.get_mut(&addr) {
                                v.0 = v.0.saturating_sub(1);
                            }
                        }
                        WaitOn::Turn => {}
                    }
                } else {
                    resume = Resume::TimedOut;
                    if let Some(d) = b.deadline {
                        new_vt = vt.max(d);
                    }
                }
            }
            State::Task { .. } => {
                // The loop thread takes the step as this task: its first
                // event (`TaskSwitch`) goes on this choice.
                credit = true;
            }
            State::Running | State::Finished | State::InLoop => {}
        }
        self.vt = new_vt;
        let slot = &mut self.slots[a as usize];
        if let Some(s) = keep_state {
            slot.state = s;
        }
        slot.resume = resume;
        // A catch-up resume goes only as far as the actor's next event.
        slot.credit = credit && !catchup;
        slot.preempt = prev_ready;
        self.turn = Some(a);
        self.turn_since = Instant::now();
        slot.cv.notify_all();
    }

    /// Counts the step the actor is taking with `op` and checks it against
    /// the replayed trace.
    pub(super) fn account(
        &mut self,
        a: u32,
        op: &Event,
        actual: Option<&(String, u32, String)>,
    ) -> Result<(), Abort> {
        if self.status != Status::Running {
            return Err(Abort);
        }
        let k = self.step as usize;
        if let Some(exp) = self.expected.get(k) {
            let same_kind = exp.kind == op.kind;
            let loc_matters = !matches!(op.kind, EventKind::ActorStart | EventKind::ActorExit);
            let same_loc = !loc_matters
                || actual.is_some_and(|(f, l, func)| {
                    same_file(f, &exp.file) && *l == exp.line && *func == exp.function
                });
            if !(same_kind && same_loc) {
                let actual_loc = actual
                    .map(|(f, l, func)| format!("{f}:{l} in {func}"))
                    .unwrap_or_else(|| "<unknown>".into());
                let msg = format!(
                    "the program took another path at step {k}, actor {}:\n  expected: {} {} at {}:{} in {}\n  actual:   {} at {}",
                    self.actor_name(a),
                    exp.kind.name(),
                    exp.what,
                    exp.file,
                    exp.line,
                    exp.function,
                    op.kind.name(),
                    actual_loc
                );
                self.stop(Status::Divergence(msg));
                return Err(Abort);
            }
        }
        if self.step >= self.max_steps {
            let msg = format!(
                "the run was stopped after {} steps (max_steps): an actor may be spinning while it waits for another one, which the default policy never preempts",
                self.max_steps
            );
            self.stop(Status::StepLimit(msg));
            return Err(Abort);
        }
        self.step += 1;
        self.catchups = 0;
        if !matches!(op.kind, EventKind::Spawn | EventKind::TaskCreate) {
            // A creation is reported once its child has an id (`spawned`,
            // `task_created`).
            self.strategy.executed(op);
        }
        self.executed.push(ActorId(a));
        let slot = &mut self.slots[a as usize];
        self.preemptive.push(std::mem::take(&mut slot.preempt));
        slot.last_loc = op.loc;
        self.last_actor = Some(a);
        self.turn_since = Instant::now();
        Ok(())
    }

    /// Replaying a recorded trace, the actor of the next event may be
    /// waiting where the recorded run was not: the trace shows the events,
    /// not the order in which woken threads went on inside the standard
    /// library (which of two threads woken by one `notify_all` got the
    /// condition's lock first). Another woken actor is then resumed first,
    /// up to its next event only (it records nothing); the step is chosen
    /// again afterwards. Returns that actor, if any.
    pub(super) fn catch_up(&mut self, wanted: ActorId, cands: &[Candidate]) -> Option<u32> {
        if self.expected.is_empty() || self.catchups >= MAX_CATCHUPS {
            return None;
        }
        let other = cands.iter().find(|c| {
            c.actor != wanted
                && c.is_ready()
                && matches!(self.slots[c.actor.index()].state, State::Blocked(_))
        })?;
        self.catchups += 1;
        Some(other.actor.0)
    }

    pub(super) fn watchdog(&mut self) {
        if self.status != Status::Running {
            return;
        }
        if let Some(limit) = self.run_timeout {
            if self.started.elapsed() > limit {
                let msg = format!(
                    "timeout: the run took more than {:.3} s (timeout_per_run) and was stopped at step {}; {}",
                    limit.as_secs_f64(),
                    self.step,
                    self.whereabouts(),
                );
                self.stop(Status::Timeout(msg));
                return;
            }
        }
        let Some(a) = self.turn else { return };
        let waited = self.turn_since.elapsed();
        if waited <= self.deadlock_timeout {
            return;
        }
        let slot = &self.slots[a as usize];
        let at = if matches!(slot.state, State::Starting { .. }) {
            "before its first event (its thread never started?)".to_string()
        } else {
            format!("after its last event at {}", loc_text(slot.last_loc))
        };
        let msg = format!(
            "timeout: {} ran for more than {:.3} s (deadlock_timeout) without reaching a scheduling point, {at}; it is probably blocked in a call racetrace cannot see (a C extension, real I/O, a lock held outside the run); raise deadlock_timeout if it is only slow",
            self.actor_name(a),
            self.deadlock_timeout.as_secs_f64(),
        );
        self.stuck = Some(a);
        self.stop(Status::Timeout(msg));
    }
}

/// The operation a wait ends in when it gives up (a try that fails, a
/// timed wait that times out), from the one it ends in when it succeeds.
pub(super) fn gave_up(op: Event) -> Event {
    use EventKind::*;
    let (kind, aux) = match op.kind {
        LockAcquire => (LockAcquireFail, 0),
        // The semaphore is at 0 (aux = 1 + value).
        SemAcquire => (SemAcquireFail, 1),
        EventWait => (EventWaitTimeout, 0),
        CondWake => (CondWake, 0),
        QueueGet => (QueueGetFail, 0),
        QueuePut => (QueuePutFail, 0),
        BarrierLeave => (BarrierAbort, op.aux),
        Join => (JoinTimeout, 0),
        other => (other, op.aux),
    };
    Event { kind, aux, ..op }
}
