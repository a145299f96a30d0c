//! Installing, saving, restoring and removing the trace function, and the
//! C trace callback itself: the recorder's per-instruction entry point.

use std::ffi::{c_int, c_void};
use std::marker::PhantomData;

use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;

use super::chain;
use super::containers::{may_be_container_ptr, step_may_read_ptr};
use super::frame::Frame;
use super::layout::*;
use super::native::{NativeTrace, ProgramTracer};
use super::objects::raw_code_info;
use crate::codeinfo::{Action, READ_INSTANCES};
use crate::cpython::{FrameApi, Tracer};

// ---------------------------------------------------------------------------
// Installing the trace function.

/// Installs the recorder's trace function in the current thread, owning
/// `ctx` (freed when the function is removed or the thread ends).
pub fn install<T: Tracer>(py: Python<'_>, ctx: T) -> PyResult<()> {
    let obj = Bound::new(py, NativeTrace::new(ctx, trace_callback::<T>))?;
    // SAFETY: GIL held; the thread state takes its own reference.
    unsafe { PyEval_SetTrace(Some(trace_callback::<T>), obj.as_ptr()) };
    Ok(())
}

/// Installs the trace function in the other threads of the interpreter that
/// run no trace or profile function yet and whose thread id `make_ctx`
/// accepts (it returns the context the function will own), then calls
/// `mark` on each of their running frames. Those threads are blocked (we
/// hold the GIL); `_PyEval_SetTrace` on another thread's state is what
/// later versions' `PyEval_SetTraceAllThreads` does.
///
/// A thread state is only used while no Python code can run: making the
/// trace object allocates, and an allocation may start a collection whose
/// finalizers run Python code (and may release the GIL, letting a thread
/// end). So each thread is chosen, its object made, and the thread found
/// again by id before it is hooked. `_PyEval_SetTrace` may run audit hooks,
/// so the list is walked afresh after each installation (a hooked thread no
/// longer qualifies). `make_ctx` must not run Python code. Returns how many
/// threads were hooked.
pub fn install_in_other_threads<T: Tracer>(
    py: Python<'_>,
    mut make_ctx: impl FnMut(u64) -> Option<T>,
    mut mark: impl FnMut(Frame<'_>),
) -> PyResult<usize> {
    let mut declined: Vec<u64> = Vec::new();
    let mut frames: Vec<Py<PyAny>> = Vec::new();
    let mut hooked = 0;
    loop {
        // SAFETY: GIL held; no Python code runs during the walk.
        let chosen = unsafe {
            let mut chosen = None;
            let mut found = None;
            each_untraced_thread(|ts, tid| {
                if found.is_none() && !declined.contains(&tid) {
                    found = Some((ts, tid));
                }
            });
            if let Some((_, tid)) = found {
                match make_ctx(tid) {
                    Some(ctx) => chosen = Some((tid, ctx)),
                    None => declined.push(tid),
                }
            }
            match (found, chosen) {
                (None, _) => break,
                (Some(_), None) => continue,
                (Some(_), Some(c)) => c,
            }
        };
        let (tid, ctx) = chosen;
        let obj = Bound::new(py, NativeTrace::new(ctx, trace_callback::<T>))?;
        // SAFETY: GIL held; the thread is looked up again after the
        // allocation above, and its state used before any Python code runs
        // (but for audit hooks inside `_PyEval_SetTrace`, see above).
        unsafe {
            let mut target = None;
            each_untraced_thread(|ts, t| {
                if t == tid && target.is_none() {
                    target = Some(ts);
                }
            });
            let Some(ts) = target else {
                // It ended, or got a tracer of its own, meanwhile.
                declined.push(tid);
                continue;
            };
            if _PyEval_SetTrace(ts, Some(trace_callback::<T>), obj.as_ptr()) != 0 {
                return Err(PyErr::fetch(py));
            }
            hooked += 1;
            // Its frames (new references: the state is not used again).
            let mut cur = PyThreadState_GetFrame(ts);
            while !cur.is_null() {
                frames.push(Bound::from_owned_ptr(py, cur as *mut PyObject).unbind());
                cur = PyFrame_GetBack(cur);
            }
        }
    }
    for frame in &frames {
        with_frame_object(frame.bind(py), &mut mark);
    }
    Ok(hooked)
}

/// Calls `f` with each thread state of the interpreter other than the
/// current one that has no trace or profile function, and its thread id.
///
/// # Safety
/// GIL held; `f` must not run Python code (the states are only valid until
/// then).
unsafe fn each_untraced_thread(mut f: impl FnMut(*mut RawThreadState, u64)) {
    // SAFETY: per the function's contract.
    unsafe {
        let me = PyThreadState_Get();
        let mut ts = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
        while !ts.is_null() {
            #[allow(clippy::unnecessary_cast)] // `c_ulong` is 32 bits on some platforms.
            let tid = (*ts).thread_id as u64;
            if ts != me && (*ts).c_tracefunc.is_null() && (*ts).c_profilefunc.is_null() {
                f(ts, tid);
            }
            ts = PyThreadState_Next(ts);
        }
    }
}

/// The trace function a thread had before recording (a debugger's, a
/// coverage tool's), to be put back when recording stops.
pub struct SavedTrace {
    pub(super) func: Option<TraceFn>,
    pub(super) obj: Option<Py<PyAny>>,
}

/// The current thread's trace function and its object.
pub fn save_trace(py: Python<'_>) -> SavedTrace {
    // SAFETY: the current thread state; `c_tracefunc` is a `Py_tracefunc`
    // (same ABI as `TraceFn`, whose frame argument is the same pointer) or
    // null; `c_traceobj` is a strong reference or null.
    unsafe {
        let ts = PyThreadState_Get();
        let raw = (*ts).c_tracefunc;
        let func = if raw.is_null() {
            None
        } else {
            Some(std::mem::transmute::<*mut c_void, TraceFn>(raw))
        };
        let obj = Bound::from_borrowed_ptr_or_opt(py, (*ts).c_traceobj).map(Bound::unbind);
        SavedTrace { func, obj }
    }
}

/// Puts a saved trace function back in the current thread (replacing ours).
pub fn restore_trace(py: Python<'_>, saved: SavedTrace) {
    set_trace(py, &saved);
}

/// Installs `saved` in the current thread's trace slot.
fn set_trace(py: Python<'_>, saved: &SavedTrace) {
    let obj = saved
        .obj
        .as_ref()
        .map_or(std::ptr::null_mut(), |o| o.bind(py).as_ptr());
    // SAFETY: GIL held; the object is kept alive by `saved` during the call
    // and PyEval_SetTrace takes its own reference.
    unsafe { PyEval_SetTrace(saved.func, obj) };
}

/// At the start of a recording in a thread that ran a Python trace function
/// (`saved`, what the thread had): the function goes on receiving its
/// events beside the recorder.
pub fn adopt_python_tracer(py: Python<'_>, saved: &SavedTrace) -> PyResult<()> {
    let python_level = saved.func.is_some_and(|f| chain::is_trampoline(f as usize));
    match (&saved.obj, python_level) {
        (Some(func), true) => chain::program_settrace(py, func.bind(py)).map(drop),
        _ => Ok(()),
    }
}

/// Removes the recorder from the current thread when its recording ends.
/// The thread then runs the trace function the program installed last: the
/// one kept beside the recorder if any, else `saved` (what it had before
/// the recording) unless that was a Python function the program removed
/// meanwhile.
pub fn hand_back(py: Python<'_>, saved: Option<SavedTrace>) {
    let program = chain::current_native(py).and_then(|n| n.get().program.take());
    uninstall();
    if let Some(program) = program {
        if chain::real_settrace(py, program.bind(py)).is_err() {
            // SAFETY: GIL held.
            unsafe { ffi::PyErr_Clear() };
        }
        return;
    }
    if let Some(saved) = saved {
        if !saved.func.is_some_and(|f| chain::is_trampoline(f as usize)) {
            restore_trace(py, saved);
        }
    }
}

/// Takes racetrace's tracer out of the current thread's trace slot for a
/// while (see `py::tracehooks::untraced`): 3.11 reports every call, line
/// and return of a thread that has a trace function, and runs all of its
/// code on the slower tracing path, even code the recorder then ignores.
/// None when racetrace does not trace this thread. The tracer stays alive
/// (the returned `SavedTrace` holds it): nothing of the actor ends.
pub fn suspend_trace(py: Python<'_>) -> Option<SavedTrace> {
    chain::current_native(py)?;
    let saved = save_trace(py);
    uninstall();
    Some(saved)
}

/// Puts back the tracer `suspend_trace` took out, unless the slot was
/// filled meanwhile (then whoever filled it keeps it).
pub fn resume_trace(py: Python<'_>, saved: &SavedTrace) {
    // SAFETY: the current thread state, GIL held; a plain field read.
    if unsafe { !(*PyThreadState_Get()).c_tracefunc.is_null() } {
        return;
    }
    set_trace(py, saved);
}

/// Takes the tracer `resume_trace` put back out again, if it is still the
/// one in the slot.
pub fn suspend_again(saved: &SavedTrace) {
    let Some(obj) = saved.obj.as_ref() else {
        return;
    };
    // SAFETY: the current thread state, GIL held; a plain field read.
    if unsafe { (*PyThreadState_Get()).c_traceobj } == obj.as_ptr() {
        uninstall();
    }
}

/// Removes whatever trace function the current thread has.
pub fn uninstall() {
    // SAFETY: GIL held (callers are Python functions or trace callbacks).
    unsafe { PyEval_SetTrace(None, std::ptr::null_mut()) };
}

/// Calls `f` on every Python frame of the current thread, innermost first.
pub fn for_each_frame(mut f: impl FnMut(Frame<'_>)) {
    // SAFETY: PyEval_GetFrame returns a borrowed frame; PyFrame_GetBack new
    // references, released after use.
    unsafe {
        let mut cur = PyEval_GetFrame();
        let mut owned = false;
        while !cur.is_null() {
            f(Frame {
                raw: cur,
                _callback: PhantomData,
            });
            let next = PyFrame_GetBack(cur);
            if owned {
                ffi::Py_DecRef(cur as *mut PyObject);
            }
            cur = next;
            owned = true;
        }
    }
}

/// The frame object a Python-level caller passed us (the thread bootstrap
/// hands over the frame it was called for).
pub fn with_frame_object<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(Frame<'_>) -> R) -> Option<R> {
    // SAFETY: type-checked as a frame; kept alive by `obj` during `f`.
    unsafe {
        if ffi::Py_TYPE(obj.as_ptr()) != &raw mut PyFrame_Type {
            return None;
        }
        Some(f(Frame {
            raw: obj.as_ptr() as *mut RawFrame,
            _callback: PhantomData,
        }))
    }
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

unsafe extern "C" fn trace_callback<T: Tracer>(
    obj: *mut PyObject,
    frame: *mut RawFrame,
    what: c_int,
    arg: *mut PyObject,
) -> c_int {
    let f = Frame {
        raw: frame,
        _callback: PhantomData,
    };
    if what == PYTRACE_OPCODE {
        // The hot path: one pointer read for the table, one for the entry.
        let Some(info) = raw_code_info(f.raw_code()) else {
            // A frame racetrace does not trace reports opcodes only when
            // the program's own tracer asked for them.
            // SAFETY: GIL held; the callback's own arguments.
            return unsafe { chain::forward(Python::assume_attached(), obj, frame, what, arg) };
        };
        let idx = f.instr_index();
        match info.instrs.get(idx) {
            // `x += 1` on a number: the in-place operator cannot mutate it.
            Some(ins)
                if ins.action == Action::InplaceOp
                    && !ins.post_call
                    && ins.marker == 0
                    && f.peek_is_number(1) =>
            {
                return 0
            }
            // Container protocols on operands that are not containers
            // (most truth tests are on bools, most loops are over ranges).
            Some(ins)
                if ins.action == Action::ReadOperands
                    && !ins.post_call
                    && ins.marker == 0
                    && !operands_may_be_containers(f, ins.arg) =>
            {
                return 0
            }
            Some(ins)
                if ins.action == Action::IterStep
                    && !ins.post_call
                    && ins.marker == 0
                    // SAFETY: a live stack value, GIL held.
                    && !f.peek_ptr(0).is_some_and(|p| unsafe { step_may_read_ptr(p) }) =>
            {
                return 0
            }
            Some(ins) if !ins.is_quiet() => {}
            _ => return 0,
        }
    } else if what != PYTRACE_CALL && what != PYTRACE_RETURN {
        // Line and exception events only matter to the program's tracer.
        // SAFETY: GIL held; the callback's own arguments.
        return unsafe { chain::forward(Python::assume_attached(), obj, frame, what, arg) };
    }
    // SAFETY: trace functions are called with the GIL held.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: this callback is only ever installed with a `NativeTrace`
    // made for the same `T` (`install`, `install_in_other_threads`,
    // `NativeTrace::__call__`, or `restore_trace` of a saved pair).
    let owner = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<NativeTrace>() };
    // SAFETY: see above.
    let ctx = unsafe { owner.get().ctx::<T>() };
    if !ctx.is_current() {
        // Recording stopped (or a new one started): remove ourselves. `ctx`
        // is freed by this call and must not be used afterwards.
        let program = owner.get().program.take();
        f.set_trace_flags(true, false);
        uninstall();
        // The program's own tracer takes the thread's slot, and gets this
        // event, which its trampoline was not there to see.
        if let Some(program) = program {
            let program = program.bind(py);
            if chain::real_settrace(py, program).is_err() {
                // SAFETY: GIL held.
                unsafe { ffi::PyErr_Clear() };
                return 0;
            }
            if what == PYTRACE_OPCODE {
                return 0;
            }
            // SAFETY: GIL held; the callback's own arguments.
            return unsafe { chain::call(py, &ProgramTracer::empty(), program, frame, what, arg) };
        }
        return 0;
    }
    let retval = if what == PYTRACE_RETURN {
        // SAFETY: borrowed return value, NULL when unwinding an exception.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, arg) }
    } else {
        None
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match what {
        PYTRACE_OPCODE => ctx.on_opcode(py, f),
        PYTRACE_CALL => ctx.on_call(py, f),
        _ => ctx.on_return(py, f, retval.as_ref()),
    }));
    if result.is_err() {
        ctx.on_panic();
    }
    // Never let a recorder problem become the program's exception.
    // SAFETY: GIL held.
    unsafe {
        if !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
        }
    }
    if let Some(err) = ctx.take_abort() {
        // The tracer stops this thread (a controlled run was stopped): the
        // error is raised in the frame, which unwinds.
        err.restore(py);
        return -1;
    }
    if what == PYTRACE_OPCODE {
        // Asked for by racetrace in this frame, not (knowingly) by the
        // program: see `chain`.
        return 0;
    }
    // SAFETY: GIL held; the callback's own arguments.
    unsafe { chain::forward(py, obj, frame, what, arg) }
}

/// Forgets the current thread's `threading.local` data, as its end would.
pub fn forget_thread_locals(py: Python<'_>) -> PyResult<usize> {
    super::super::forget_thread_local_dicts(py)
}
