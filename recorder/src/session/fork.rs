//! Recording across `fork`: the child stops recording at once, and never
//! touches its parent's trace file.
//!
//! Facts this relies on:
//! - `os.fork` holds the GIL across `fork()`, so no Python thread of the
//!   parent is inside a hook when the process is copied. The one thread that
//!   may hold the session without the GIL is the flusher (a native thread
//!   that does not exist in the child). The session mutex is therefore taken
//!   in `prepare` (after every Python before-fork hook, with no Python code
//!   left to run before `fork()`), so the child gets it unlocked by no one
//!   and can release it.
//! - Python's after-fork hooks of other modules (`threading`'s among them)
//!   run before ours and may run hooked code: the generation is cleared in the
//!   native child handler, before any of them, so the hooks see no recording.
//! - The child handler runs before the interpreter has reinitialized itself
//!   for the child: it must not touch Python objects. The session (its file
//!   writer forgotten, never flushed) is parked, and dropped with the GIL by
//!   `release_parked` from the Python-level after-fork hook.

use std::cell::RefCell;
use std::sync::{MutexGuard, Once, TryLockError};
use std::time::{Duration, Instant};

use super::{Session, GENERATION, SESSION};

/// How long `prepare` waits for the flusher to let go of the session. Past
/// it the fork goes ahead without the mutex (the child then never locks it:
/// its generation is 0 and every user checks that first).
const PREPARE_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    /// The session mutex, held by the forking thread from `prepare` to the
    /// parent or child handler.
    static HELD: RefCell<Option<MutexGuard<'static, Option<Session>>>> = const { RefCell::new(None) };
}

/// The child's copy of its parent's session, waiting to be dropped with the GIL.
static PARKED: std::sync::Mutex<Option<Session>> = std::sync::Mutex::new(None);

/// Installs the fork handlers (once per process).
pub(super) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers are plain functions that live as long as the
        // process; `pthread_atfork` only stores their addresses.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
}

extern "C" fn prepare() {
    let deadline = Instant::now() + PREPARE_WAIT;
    let guard = loop {
        match SESSION.try_lock() {
            Ok(g) => break Some(g),
            Err(TryLockError::Poisoned(p)) => break Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(TryLockError::WouldBlock) => break None,
        }
    };
    HELD.with(|h| *h.borrow_mut() = guard);
}

extern "C" fn parent() {
    HELD.with(|h| drop(h.borrow_mut().take()));
}

extern "C" fn child() {
    GENERATION.store(0, std::sync::atomic::Ordering::Release);
    super::signals::forget_in_child();
    HELD.with(|h| {
        if let Some(mut guard) = h.borrow_mut().take() {
            if let Some(mut s) = guard.take() {
                // The parent's buffered events must not reach its file twice.
                if let Some(w) = s.writer.take() {
                    std::mem::forget(w);
                }
                if let Ok(mut parked) = PARKED.try_lock() {
                    *parked = Some(s);
                } else {
                    std::mem::forget(s);
                }
            }
        }
    });
}

/// Drops the session parked by the child handler (its objects are released
/// here, with the GIL, after the interpreter is ready for the child).
pub(super) fn release_parked() -> Option<Session> {
    PARKED.lock().unwrap_or_else(|e| e.into_inner()).take()
}
