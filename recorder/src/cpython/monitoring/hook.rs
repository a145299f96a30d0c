//! Each thread's tracer and the native callbacks of the `sys.monitoring`
//! hook (the tool and its events are in `events.rs`).
//!
//! * Monitoring events are global to the interpreter, while racetrace
//!   follows some threads only: each thread's tracer is in a thread-local
//!   slot, and a callback in a thread without one returns at once (for
//!   PY_START, after asking the capture layer whether this is a new thread
//!   to hook, see [`crate::cpython::NewThreadHandler`]).
//! * An INSTRUCTION callback returns `sys.monitoring.DISABLE` at every
//!   instruction whose table entry is quiet: the interpreter then removes
//!   the instrumentation of that instruction for our tool, and it costs
//!   nothing afterwards. Quiet entries are quiet in every thread (the
//!   table is per code object), so disabling is never wrong for another
//!   thread.
//! * While a callback runs, the interpreter counts the thread as tracing
//!   (`tstate->tracing`), so Python code we call is not monitored.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::ffi::{self, PyObject, Py_ssize_t};
use pyo3::prelude::*;

use super::events::{self, DISABLE, INSTRUCTION, PY_RETURN, PY_START, PY_UNWIND, PY_YIELD};

use super::containers::{may_be_container_ptr, step_may_read_ptr};
use super::frame::{frame_at, with_frame_object, Frame};
use super::layout::*;
use super::objects::raw_code_info;
use crate::codeinfo::{Action, READ_INSTANCES, UNKNOWN_DEPTH};
use crate::cpython::{FrameApi, NewThreadHandler, Tracer};

// ---------------------------------------------------------------------------
// Each thread's tracer.

/// A boxed tracer, type-erased (one tracer type per build).
struct Owned {
    ptr: *mut c_void,
    free: unsafe fn(*mut c_void),
}

// SAFETY: a tracer is only touched by its own thread, or with the GIL held
// while it waits to be adopted.
unsafe impl Send for Owned {}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::into_raw` of the type `free` was
        // made for, and is freed once, here.
        unsafe { (self.free)(self.ptr) }
    }
}

unsafe fn free_box<T>(p: *mut c_void) {
    // SAFETY: see `Owned::drop`.
    drop(unsafe { Box::from_raw(p as *mut T) });
}

fn owned<T: Tracer>(ctx: T) -> Owned {
    Owned {
        ptr: Box::into_raw(Box::new(ctx)) as *mut c_void,
        free: free_box::<T>,
    }
}

struct Slot(Cell<Option<Owned>>);

thread_local! {
    /// This thread's tracer (freed with the thread, or when replaced).
    /// Tracers hold no Python objects, so freeing one without the GIL at
    /// thread exit is fine.
    static CTX: Slot = const { Slot(Cell::new(None)) };
    /// The same tracer as a plain pointer, for the callbacks (a
    /// thread-local without a destructor is one load to read).
    static CTX_PTR: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// Makes `o` this thread's tracer, freeing the previous one.
fn set_ctx(o: Option<Owned>) {
    let p = o.as_ref().map_or(std::ptr::null_mut(), |o| o.ptr);
    let _ = CTX_PTR.try_with(|c| c.set(p));
    let old = CTX.try_with(|s| s.0.replace(o)).ok().flatten();
    drop(old);
}

/// Tracers made for threads that were running when recording started,
/// taken by each thread at its next event.
static ADOPT: Mutex<Vec<(u64, Owned)>> = Mutex::new(Vec::new());
static ADOPT_ANY: AtomicBool = AtomicBool::new(false);

/// This thread's tracer.
///
/// # Safety
/// Every tracer installed is a `T` (the capture layer has one tracer
/// type); the reference is used only during the current callback, which
/// does not replace the slot before it is done with it.
unsafe fn current<'a, T: Tracer>() -> Option<&'a T> {
    let p = CTX_PTR
        .try_with(|c| c.get())
        .unwrap_or(std::ptr::null_mut());
    let p = if !p.is_null() {
        p
    } else if ADOPT_ANY.load(Ordering::Relaxed) {
        adopt()?
    } else {
        return None;
    };
    // SAFETY: per the contract.
    Some(unsafe { &*(p as *const T) })
}

/// Takes the tracer waiting for this thread, if any.
fn adopt() -> Option<*mut c_void> {
    // SAFETY: a plain C call returning this thread's ident.
    #[allow(clippy::unnecessary_cast)] // `c_ulong` is 32 bits on some platforms
    let me = unsafe { PyThread_get_thread_ident() } as u64;
    let mut waiting = ADOPT.lock().unwrap_or_else(|e| e.into_inner());
    let pos = waiting.iter().position(|(tid, _)| *tid == me)?;
    let (_, o) = waiting.swap_remove(pos);
    ADOPT_ANY.store(!waiting.is_empty(), Ordering::Relaxed);
    let p = o.ptr;
    set_ctx(Some(o));
    Some(p)
}

/// Removes this thread's tracer (freeing it).
pub fn uninstall() {
    set_ctx(None);
}

static NEW_THREAD: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------
// Turning the hook on and off.

/// Claims the tool and registers the callbacks for tracer type `T`.
fn activate<T: Tracer>(py: Python<'_>) -> PyResult<()> {
    let callbacks: [(u32, ffi::PyCFunctionFast); 5] = [
        (PY_START, on_start::<T>),
        (PY_RETURN, on_return::<T>),
        (PY_YIELD, on_return::<T>),
        (PY_UNWIND, on_unwind::<T>),
        (INSTRUCTION, on_instruction::<T>),
    ];
    events::activate(py, &callbacks)
}

/// Turns the hook on before the first thread is hooked (a controlled run
/// hooks only the threads it starts).
pub fn prepare<T: Tracer>(py: Python<'_>) -> PyResult<()> {
    activate::<T>(py)
}

/// Ends the hook's use by a recording or a controlled run: everything of
/// ours goes (the tool id is freed, the interpreter runs as if racetrace
/// had never been there). Tracers left in threads are stale and remove
/// themselves.
pub fn release_hooks(py: Python<'_>) {
    ADOPT.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ADOPT_ANY.store(false, Ordering::Relaxed);
    events::release(py);
}

// ---------------------------------------------------------------------------
// Installing tracers.

/// Makes `ctx` the current thread's tracer (the previous one is freed) and
/// turns the hook on if it is not.
pub fn install<T: Tracer>(py: Python<'_>, ctx: T) -> PyResult<()> {
    let _ = py;
    events::ensure_active()?;
    set_ctx(Some(owned(ctx)));
    Ok(())
}

/// Gives the other threads of the interpreter whose id `make_ctx` accepts a
/// tracer, which each takes at its next event, then calls `mark` on each of
/// their running frames. `make_ctx` must not run Python code. Returns how
/// many threads were given one.
pub fn install_in_other_threads<T: Tracer>(
    py: Python<'_>,
    mut make_ctx: impl FnMut(u64) -> Option<T>,
    mut mark: impl FnMut(Frame<'_>),
) -> PyResult<usize> {
    let _ = py;
    events::ensure_active()?;
    let mut given = 0;
    let mut frames: Vec<Py<PyAny>> = Vec::new();
    // SAFETY: GIL held; no Python code runs during the walk (`make_ctx`
    // runs none; frame objects are only made, as new references, through
    // the public API).
    unsafe {
        let me = PyThreadState_Get();
        let mut ts = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
        while !ts.is_null() {
            #[allow(clippy::unnecessary_cast)] // `c_ulong` is 32 bits on some platforms
            let tid = (*ts).thread_id as u64;
            if ts != me {
                if let Some(ctx) = make_ctx(tid) {
                    ADOPT
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((tid, owned(ctx)));
                    ADOPT_ANY.store(true, Ordering::Relaxed);
                    given += 1;
                    let mut cur = ffi::PyThreadState_GetFrame(ts as *mut ffi::PyThreadState);
                    while !cur.is_null() {
                        let obj = Bound::from_owned_ptr(py, cur as *mut PyObject);
                        cur = ffi::PyFrame_GetBack(cur);
                        frames.push(obj.unbind());
                    }
                }
            }
            ts = PyThreadState_Next(ts);
        }
    }
    for frame in &frames {
        with_frame_object(frame.bind(py), &mut mark);
    }
    Ok(given)
}

/// Where the capture layer hears of functions starting in threads without
/// a tracer.
pub fn set_new_thread_handler(handler: NewThreadHandler) {
    NEW_THREAD.store(handler as usize, Ordering::Release);
}

/// The trace function a thread had before recording: on 3.12+ recording
/// never replaces it (`sys.settrace` is another tool), so there is nothing
/// to save.
pub struct SavedTrace;

pub fn save_trace(_py: Python<'_>) -> SavedTrace {
    SavedTrace
}

/// Removes our tracer from the current thread (a `sys.settrace` function
/// it has was never touched).
pub fn restore_trace(_py: Python<'_>, _saved: SavedTrace) {
    uninstall();
}

/// A tool of `sys.monitoring` occupies no thread's trace slot, and the
/// events of code it does not trace are disabled where they happen: there
/// is nothing to take out for a while.
pub fn suspend_trace(_py: Python<'_>) -> Option<SavedTrace> {
    None
}

pub fn resume_trace(_py: Python<'_>, _saved: &SavedTrace) {}

pub fn suspend_again(_saved: &SavedTrace) {}

// ---------------------------------------------------------------------------
// The callbacks: `(code, offset, ...)` with the vectorcall convention.

fn none() -> *mut PyObject {
    // SAFETY: None is immortal in 3.12+; a new reference is returned.
    unsafe { ffi::Py_NewRef(ffi::Py_None()) }
}

fn disable() -> *mut PyObject {
    let d = DISABLE.load(Ordering::Acquire);
    if d.is_null() {
        return none();
    }
    // SAFETY: `sys.monitoring.DISABLE` is immortal.
    unsafe { ffi::Py_NewRef(d) }
}

/// The instruction index an event's offset (in bytes) names.
///
/// # Safety
/// GIL held; `offset` is the int the interpreter passed.
#[inline(always)]
unsafe fn index_of(offset: *mut PyObject) -> Option<usize> {
    // SAFETY: per the contract.
    unsafe {
        let off = ffi::PyLong_AsSsize_t(offset);
        if off < 0 {
            ffi::PyErr_Clear();
            return None;
        }
        Some(off as usize / 2)
    }
}

/// The running frame at instruction `index`, if it runs `code` (the
/// event's code object).
///
/// # Safety
/// GIL held, inside a monitoring callback.
#[inline(always)]
unsafe fn running<'f>(code: *mut PyObject, index: usize) -> Option<Frame<'f>> {
    // SAFETY: per the contract: the thread state and its running frame
    // are live during the callback.
    unsafe {
        let p = current_frame(PyThreadState_Get());
        if p.is_null()
            || (*p).owner == FRAME_OWNED_BY_CSTACK
            || frame_code(p) as *mut PyObject != code
        {
            return None;
        }
        let mut f = frame_at(p);
        f.index = index;
        f.depth = super::frame::NOT_LOOKED_UP;
        Some(f)
    }
}

/// Runs a tracer's handler as the 3.11 trace function does: a panic or a
/// Python error of the recorder never reaches the program; an abort asked
/// for by the tracer is raised in the frame.
fn dispatch<T: Tracer>(py: Python<'_>, ctx: &T, handler: impl FnOnce()) -> *mut PyObject {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(handler));
    if result.is_err() {
        ctx.on_panic();
    }
    // SAFETY: GIL held.
    unsafe {
        if !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
        }
    }
    if let Some(err) = ctx.take_abort() {
        err.restore(py);
        return std::ptr::null_mut();
    }
    none()
}

/// The tracer of this thread if it is current; a stale one is removed.
///
/// # Safety
/// As [`current`].
unsafe fn live<'a, T: Tracer>() -> Option<&'a T> {
    // SAFETY: per the contract.
    let ctx = unsafe { current::<T>() }?;
    if ctx.is_current() {
        return Some(ctx);
    }
    uninstall();
    None
}

/// Whether any operand selected by a [`Action::ReadOperands`] mask may be
/// a container (or, with `READ_INSTANCES`, an instance).
#[inline(always)]
fn operands_may_be_containers(f: Frame<'_>, mask: u32) -> bool {
    let instances = mask & READ_INSTANCES != 0;
    (0..3).any(|n| {
        mask & (1 << n) != 0
            // SAFETY: a live stack value, GIL held.
            && f.peek_ptr(n).is_some_and(|p| unsafe { may_be_container_ptr(p, instances) })
    })
}

unsafe extern "C" fn on_instruction<T: Tracer>(
    _slf: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    if nargs < 2 {
        return none();
    }
    // SAFETY: the interpreter passes (code, offset); the code's table is
    // read as the 3.11 hot path does (`raw_code_info`). Events are only
    // enabled on code whose table of the current recording was built
    // first, so a quiet entry is quiet for everyone until the events are
    // cleared.
    unsafe {
        let code = *args;
        let Some(info) = raw_code_info(code as *const RawCode) else {
            return none();
        };
        let Some(index) = index_of(*args.add(1)) else {
            return none();
        };
        let (inplace, depth) = match info.instrs.get(index) {
            Some(ins) if ins.action == Action::InplaceOp && !ins.post_call && ins.marker == 0 => {
                (true, ins.depth)
            }
            Some(ins) if !ins.is_quiet() => (false, ins.depth),
            _ => return disable(),
        };
        let Some(mut f) = running(code, index) else {
            return none();
        };
        f.depth = if depth == UNKNOWN_DEPTH {
            -1
        } else {
            depth as isize
        };
        // `x += 1` on a number: the in-place operator cannot mutate it
        // (checked before anything else: it is the common case).
        if inplace && f.peek_is_number(1) {
            return none();
        }
        // Container protocols on values that are not containers (most
        // truth tests are on bools, most loops over ranges): nothing to
        // record this time, but the instruction stays enabled, since the
        // next value may be one.
        if let Some(ins) = info
            .instrs
            .get(index)
            .filter(|i| !i.post_call && i.marker == 0)
        {
            match ins.action {
                Action::ReadOperands if !operands_may_be_containers(f, ins.arg) => return none(),
                Action::IterStep if !f.peek_ptr(0).is_some_and(|p| step_may_read_ptr(p)) => {
                    return none()
                }
                _ => {}
            }
        }
        let py = Python::assume_attached();
        let Some(ctx) = live::<T>() else {
            return none();
        };
        dispatch(py, ctx, || ctx.on_opcode(py, f))
    }
}

unsafe extern "C" fn on_start<T: Tracer>(
    _slf: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    if nargs < 2 {
        return none();
    }
    // SAFETY: the interpreter passes (code, offset), GIL held.
    unsafe {
        let py = Python::assume_attached();
        let Some(f) = index_of(*args.add(1)).and_then(|i| running(*args, i)) else {
            return none();
        };
        match live::<T>() {
            Some(ctx) => dispatch(py, ctx, || ctx.on_call(py, f)),
            None => {
                let h = NEW_THREAD.load(Ordering::Acquire);
                if h != 0 {
                    let handler: NewThreadHandler = std::mem::transmute(h);
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(py, f)));
                    if !ffi::PyErr_Occurred().is_null() {
                        // The handler raises only to stop an actor whose
                        // controlled run was stopped.
                        return std::ptr::null_mut();
                    }
                }
                none()
            }
        }
    }
}

unsafe extern "C" fn on_return<T: Tracer>(
    _slf: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    if nargs < 3 {
        return none();
    }
    // SAFETY: the interpreter passes (code, offset, value), GIL held.
    unsafe {
        let py = Python::assume_attached();
        let Some(ctx) = live::<T>() else {
            return none();
        };
        let Some(f) = index_of(*args.add(1)).and_then(|i| running(*args, i)) else {
            return none();
        };
        let retval = Bound::from_borrowed_ptr_or_opt(py, *args.add(2));
        dispatch(py, ctx, || ctx.on_return(py, f, retval.as_ref()))
    }
}

unsafe extern "C" fn on_unwind<T: Tracer>(
    _slf: *mut PyObject,
    args: *mut *mut PyObject,
    nargs: Py_ssize_t,
) -> *mut PyObject {
    if nargs < 2 {
        return none();
    }
    // SAFETY: the interpreter passes (code, offset, exception), GIL held.
    unsafe {
        let py = Python::assume_attached();
        let Some(ctx) = live::<T>() else {
            return none();
        };
        let Some(f) = index_of(*args.add(1)).and_then(|i| running(*args, i)) else {
            return none();
        };
        dispatch(py, ctx, || ctx.on_return(py, f, None))
    }
}
