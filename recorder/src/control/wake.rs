//! Waking the next actor quickly: a waiter spins a little before it sleeps.
//!
//! A hand-off between two OS threads costs a futex wake, and on a virtual
//! machine whose other vCPU went idle that wake goes through the
//! hypervisor: 20–50 µs, against a few µs for the step it hands over. Many
//! hand-offs in a controlled run come soon after the waiter began to wait
//! (two actors taking turns), so an actor waiting for its turn first
//! watches a counter that its wake-up bumps, for at most [`SPIN`], and
//! sleeps on its condition variable only after that. The driver, which
//! waits for a whole run, spins longer ([`DRIVER_SPIN`]): a run of a small
//! program ends within it.
//!
//! Only one waiting actor or driver spins at a time ([`SPINNERS`]), and
//! one idle pooled thread (`py::pool`) besides: the others sleep at once,
//! so however many actors a run has, at most two threads spin, and
//! whoever spins yields the core between looks, so a loaded machine loses
//! little to it.
//!
//! Each waiter watches the counter of its own [`Wake`]: an actor's turn
//! given to another actor does not disturb it, and a run that keeps the
//! turn on one thread has nobody spinning after the first [`SPIN`]. (A
//! first version had one counter for all, bumped at every turn: the
//! waiters kept looking at the run mutex, and the driver spinning beside a
//! run of tasks slowed it by more than it saved.)
//!
//! Invariant: [`Wake::notify_all`] is called with the run mutex held, and
//! bumps the counter before it notifies; a waiter reads the counter with
//! the mutex held before it lets it go, and again after taking it back, so
//! a wake-up that comes while it spins is never lost: either the counter
//! moved (the caller looks again) or the waiter was already inside
//! `wait_timeout` when the notification came. The count of sleepers that
//! decides whether to notify at all changes only with the mutex held, just
//! before `wait_timeout` (which lets the mutex go atomically) and just
//! after it returns, so a notifier never misses a sleeper.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, MutexGuard};
use std::time::{Duration, Instant};

/// Whether a thread is spinning now.
static SPINNERS: AtomicBool = AtomicBool::new(false);
/// Whether an idle pooled thread is spinning now.
static IDLE_SPINNER: AtomicBool = AtomicBool::new(false);
/// How long an actor waiting for its turn spins before it sleeps.
const SPIN: Duration = Duration::from_micros(50);
/// How long the driver waiting for the end of a run spins before it sleeps
/// (measured on the tiny programs of the benchmarks: 1 ms did no better).
pub const DRIVER_SPIN: Duration = Duration::from_micros(500);

/// What an actor waits on for its turn: a condition variable, and a
/// counter bumped at each of its notifications, which a waiter watches
/// while it spins (one per OS thread: an event loop's tasks share their
/// thread's).
pub struct Wake {
    cv: Condvar,
    epoch: AtomicU64,
    /// Threads inside `wait_timeout` (changed and read with the run mutex
    /// held): a notification nobody sleeps for makes no system call, which
    /// a condition variable's would (most turns go to the actor already
    /// running: every scheduling point of a task's step).
    sleepers: AtomicUsize,
}

impl Default for Wake {
    fn default() -> Self {
        Wake::new()
    }
}

impl Wake {
    pub const fn new() -> Self {
        Wake {
            cv: Condvar::new(),
            epoch: AtomicU64::new(0),
            sleepers: AtomicUsize::new(0),
        }
    }

    /// Wakes the waiters (call with the run mutex held).
    pub fn notify_all(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.cv.notify_all();
        }
    }

    /// Waits for a notification for at most `timeout`, as
    /// `Condvar::wait_timeout` does, after first spinning a little (see
    /// the module's comment); `g` is the run mutex's guard, `relock` takes
    /// it again. The caller looks again at what it waits for, as after any
    /// wait on a condition variable (a return is not a promise that it came).
    pub fn wait<'a, T>(
        &self,
        g: MutexGuard<'a, T>,
        relock: impl FnOnce() -> MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        self.wait_spinning(g, relock, timeout, SPIN)
    }

    /// [`Wake::wait`], spinning for at most `spin`.
    pub fn wait_spinning<'a, T>(
        &self,
        g: MutexGuard<'a, T>,
        relock: impl FnOnce() -> MutexGuard<'a, T>,
        timeout: Duration,
        spin: Duration,
    ) -> MutexGuard<'a, T> {
        let seen = self.epoch.load(Ordering::Acquire);
        drop(g);
        spin_until(spin, || self.epoch.load(Ordering::Acquire) != seen);
        let g = relock();
        if self.epoch.load(Ordering::Acquire) != seen {
            return g;
        }
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let g = self
            .cv
            .wait_timeout(g, timeout)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        g
    }
}

/// Spins (yielding the core between looks) until `done` says so or
/// `budget` has passed; says whether `done` did. Spins only if no other
/// thread does (see the module's comment): otherwise it looks once.
pub fn spin_until(budget: Duration, done: impl Fn() -> bool) -> bool {
    spin_on(&SPINNERS, budget, done)
}

/// [`spin_until`] for a pooled thread waiting for its next job: such
/// threads take turns at a slot of their own, so that one of them may
/// spin while the driver does, and none while another does.
pub fn spin_idle_until(budget: Duration, done: impl Fn() -> bool) -> bool {
    spin_on(&IDLE_SPINNER, budget, done)
}

fn spin_on(slot: &AtomicBool, budget: Duration, done: impl Fn() -> bool) -> bool {
    if slot
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return done();
    }
    let start = Instant::now();
    let mut hit = false;
    'spin: while start.elapsed() < budget {
        for _ in 0..64 {
            if done() {
                hit = true;
                break 'spin;
            }
            std::hint::spin_loop();
        }
        std::thread::yield_now();
    }
    slot.store(false, Ordering::Release);
    hit || done()
}
