//! The blocking model: who holds which `_thread` lock (and how many
//! levels), how many items a `SimpleQueue` has, and what an acquire-like
//! call must do given that.

use pyo3::prelude::*;
use racetrace_formats::{ActorId, Event, LocId};

use super::*;

/// Everything an acquire-like call tells the model.
pub struct Acquire<'a, 'py> {
    pub obj: &'a Bound<'py, PyAny>,
    pub reentrant: bool,
    /// Levels taken at once (`RLock._acquire_restore` restores a count).
    pub count: u32,
    pub blocking: bool,
    /// Seconds, for a timed call.
    pub timeout: Option<f64>,
    /// Further locks needed before the next event (a condition's lock).
    pub also: Vec<usize>,
    /// The event the call will end in, predicted (for strategies and reports).
    pub op: Event,
    pub site: LocId,
    pub what: String,
    /// Label of the lock for reports ("lock_a"), if known.
    pub label: String,
    /// The call records a `LockAcquire` right after taking the lock (a
    /// plain user-level acquire): the turn is taken before the lock, so
    /// that the model never holds a free lock for an actor still waiting
    /// for its turn to record the acquire.
    pub turn_first: bool,
    /// Current lock state read from Python on first sight:
    /// (locked, owner thread ident).
    pub first_sight: Option<(bool, u64)>,
}

/// A `_thread` lock acquire by `actor`. Returns what the hook must do with
/// the call.
pub fn acquire(py: Python<'_>, actor: ActorId, req: Acquire<'_, '_>) -> Result<Resume, Abort> {
    let a = actor.0;
    let addr = req.obj.as_ptr() as usize;
    let try_only = !req.blocking || req.timeout == Some(0.0);
    let keep = req.obj.clone().unbind();
    let mut keep = Some(keep);
    {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        if run.status != Status::Running {
            return Err(Abort);
        }
        if !run.locks.contains_key(&addr) {
            if let Some((true, ident)) = req.first_sight {
                let owner = match run.idents.get(&ident) {
                    Some(&o) => Owner::Actor(o),
                    None => Owner::External,
                };
                run.locks.insert(
                    addr,
                    LockState {
                        owner,
                        count: 1,
                        reentrant: req.reentrant,
                        tstate: false,
                        label: req.label.clone(),
                        since: LocId(0),
                        _keep: keep.take(),
                    },
                );
            }
        }
        let state = run.locks.get(&addr);
        let tstate_free = state.is_some_and(|l| l.tstate && l.count == 0);
        let reentry =
            state.is_some_and(|l| l.count > 0 && l.owner == Owner::Actor(a) && l.reentrant);
        let free = reentry || state.is_none_or(|l| l.count == 0);
        // An acquire of a free lock (blocking or a try) still waits for its
        // turn before taking the lock (below, as a contended one does):
        // taken at once, the lock would be held while the actor waits to
        // record the acquire, and another actor could never acquire it
        // first (nor a try of another actor find it taken).
        let take_now = !req.turn_first || reentry || tstate_free || state.is_some_and(|l| l.tstate);
        if free && take_now {
            run.take_lock(
                a,
                addr,
                req.reentrant,
                req.count,
                &req.label,
                req.site,
                &mut keep,
            );
            let blocking_needed = tstate_free && !req.blocking;
            return Ok(if blocking_needed {
                Resume::ProceedBlocking
            } else {
                Resume::Proceed
            });
        }
        if state.is_some_and(|l| l.owner == Owner::External) {
            // Held outside the run: nothing the model can wait for.
            let msg = format!(
                "{} waited at {} for {}, held by a thread outside the run: a wait the scheduler cannot see",
                run.actor_name(a),
                loc_text(req.site),
                req.what
            );
            run.note_limit(msg);
            return Ok(Resume::Unmodelled);
        }
        if try_only && !req.turn_first {
            // Inside a primitive: fails at once, as it would.
            return Ok(Resume::Proceed);
        }
    }
    let mut wait = vec![WaitOn::Lock(addr)];
    wait.extend(req.also.iter().map(|&l| WaitOn::Lock(l)));
    block(
        py,
        a,
        Blocked {
            wait,
            deadline: if try_only { None } else { req.timeout },
            op: req.op,
            site: req.site,
            what: req.what,
            keep,
            reentrant: req.reentrant,
            count: req.count,
            label: req.label,
            try_only,
        },
    )
}

/// A release (or, with `all`, `_release_save` of an RLock) by `actor`.
pub fn release(actor: ActorId, obj: &Bound<'_, PyAny>, all: bool) {
    let addr = obj.as_ptr() as usize;
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    let Some(l) = run.locks.get_mut(&addr) else {
        return;
    };
    if l.count == 0 {
        return; // the real call raises
    }
    match l.owner {
        Owner::Actor(o) if o != actor.0 && l.reentrant => return, // raises
        _ => {}
    }
    if all {
        l.count = 0;
    } else {
        l.count -= 1;
    }
    if l.count == 0 && !l.tstate {
        run.locks.remove(&addr);
    }
}

/// `SimpleQueue.put`.
pub fn queue_put(q: &Bound<'_, PyAny>, size_now: u64) {
    let addr = q.as_ptr() as usize;
    if let Some(run) = own(&mut lock()) {
        let e = run
            .queues
            .entry(addr)
            .or_insert_with(|| (size_now, Some(q.clone().unbind())));
        e.0 += 1;
    }
}

/// `SimpleQueue.get`: waits (in the model) while the queue is empty. With
/// `turn_first` (the get is recorded as an event, `op`) a blocking get takes
/// its turn before it takes the item, as a contended one does: the item
/// is the one the schedule gives it, not whatever was first at the real
/// call.
#[allow(clippy::too_many_arguments)]
pub fn queue_get(
    py: Python<'_>,
    actor: ActorId,
    q: &Bound<'_, PyAny>,
    size_now: u64,
    blocking: bool,
    timeout: Option<f64>,
    op: Event,
    site: LocId,
    what: String,
    turn_first: bool,
) -> Result<Resume, Abort> {
    let addr = q.as_ptr() as usize;
    {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        if run.status != Status::Running {
            return Err(Abort);
        }
        let e = run
            .queues
            .entry(addr)
            .or_insert_with(|| (size_now, Some(q.clone().unbind())));
        let at_once = !blocking || timeout == Some(0.0);
        if e.0 > 0 && (at_once || !turn_first) {
            e.0 -= 1;
            return Ok(Resume::Proceed);
        }
        if at_once {
            return Ok(Resume::Proceed);
        }
    }
    block(
        py,
        actor.0,
        Blocked {
            wait: vec![WaitOn::SimpleQueue(addr)],
            deadline: timeout,
            op,
            site,
            what,
            keep: None,
            reentrant: false,
            count: 1,
            label: String::new(),
            try_only: false,
        },
    )
}

/// The thread's state lock (`Thread._tstate_lock`), held by the child until
/// it exits.
pub fn register_tstate(lock_obj: &Bound<'_, PyAny>, child: ActorId) {
    let addr = lock_obj.as_ptr() as usize;
    if let Some(run) = own(&mut lock()) {
        run.locks.insert(
            addr,
            LockState {
                owner: Owner::Actor(child.0),
                count: 1,
                reentrant: false,
                tstate: true,
                label: String::new(),
                since: LocId(0),
                _keep: Some(lock_obj.clone().unbind()),
            },
        );
    }
}

/// Whether the model tracks this lock already (else the hook reads its
/// state on first sight).
pub fn is_tracked(obj: &Bound<'_, PyAny>) -> bool {
    let addr = obj.as_ptr() as usize;
    own_ref(&lock()).is_some_and(|r| r.locks.contains_key(&addr))
}

/// The name the run gave `obj` when traced code first took it (None: not
/// tracked, or taken by untraced code only).
pub fn lock_label(obj: &Bound<'_, PyAny>) -> Option<String> {
    let addr = obj.as_ptr() as usize;
    own_ref(&lock())
        .and_then(|r| r.locks.get(&addr))
        .map(|l| l.label.clone())
        .filter(|l| !l.is_empty())
}

impl Run {
    /// Notes something the model could not see in this run (once).
    pub(super) fn note_limit(&mut self, msg: String) {
        if !self.limits.contains(&msg) {
            self.limits.push(msg);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn take_lock(
        &mut self,
        a: u32,
        addr: usize,
        reentrant: bool,
        count: u32,
        label: &str,
        site: LocId,
        keep: &mut Option<Py<PyAny>>,
    ) {
        let l = self.locks.entry(addr).or_insert_with(|| LockState {
            owner: Owner::Actor(a),
            count: 0,
            reentrant,
            tstate: false,
            label: String::new(),
            since: site,
            _keep: keep.take(),
        });
        if l.count == 0 {
            l.owner = Owner::Actor(a);
            l.since = site;
        }
        l.count += count.max(1);
        if !label.is_empty() {
            l.label = label.to_string();
        }
    }

    pub(super) fn acquirable(&self, a: u32, w: WaitOn) -> bool {
        match w {
            WaitOn::Lock(addr) => match self.locks.get(&addr) {
                None => true,
                Some(l) => l.count == 0 || (l.owner == Owner::Actor(a) && l.reentrant),
            },
            WaitOn::SimpleQueue(addr) => self.queues.get(&addr).is_some_and(|q| q.0 > 0),
            WaitOn::Sem(addr) => self.sems.get(&addr).is_some_and(|v| v.0 > 0),
            WaitOn::Turn => true,
        }
    }
}
