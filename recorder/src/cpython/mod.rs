//! Interpreter backends: everything that depends on one CPython version's
//! private layout, and all of the recorder's `unsafe` code.
//!
//! One module per supported version, chosen when the extension is built
//! (an extension is compiled for exactly one interpreter: see `build.rs`,
//! which turns pyo3's build configuration into `Py_3_*` cfgs). The rest of
//! the recorder sees only what this module defines or re-exports:
//!
//! * [`FrameApi`] / [`CallerApi`] / [`Scope`]: a running frame (its code,
//!   the instruction being reported, value-stack operand `n`, fast locals,
//!   globals, the caller chain);
//! * [`Tracer`]: what the trace callback hands each event to (the capture
//!   layer's per-thread context), and how it tells the callback to stop the
//!   thread — so that a backend never names the hook or the API;
//! * free functions of the backend, listed and type-checked in
//!   [`CONTRACT`]: layout checks at import, installing and removing the
//!   trace function (this thread, other threads), saving and restoring a
//!   previous tracer, decoding bytecode into the [`crate::codeinfo`] table,
//!   the identity of builtin callables and types, the thread-state dict,
//!   which values may be containers and which containers one step of an
//!   iterator reads.
//!
//! Two hooks exist: CPython 3.11's C-level trace function (`py311/`), and
//! `sys.monitoring` (PEP 669) for 3.12 and 3.13 (`monitoring/`), which
//! reads each version's private layouts and instruction set through that
//! version's module (`py312/`, `py313/`). Adding a version means adding a
//! module that provides the same names (the compiler checks the list in
//! [`CONTRACT`]) and a `cfg` line below; `build.rs` says which versions have
//! a backend (others build an extension whose import fails with a clear
//! message, see `lib.rs`).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::codeinfo::{CodeInfo, Instr};

#[cfg(all(Py_3_11, not(Py_3_12)))]
mod py311;
#[cfg(all(Py_3_11, not(Py_3_12)))]
pub use py311::*;

// 3.12 and 3.13 share the `sys.monitoring` hook; what differs between
// them (struct layouts, opcodes, where a call keeps its operands) is in
// `version`, one module per interpreter.
#[cfg(all(Py_3_12, not(Py_3_14)))]
mod monitoring;
#[cfg(all(Py_3_12, not(Py_3_13)))]
#[path = "py312/mod.rs"]
mod version;
#[cfg(all(Py_3_13, not(Py_3_14)))]
#[path = "py313/mod.rs"]
mod version;
#[cfg(all(Py_3_12, not(Py_3_14)))]
pub use monitoring::*;

#[cfg(not(all(Py_3_11, not(Py_3_14))))]
compile_error!(
    "racetrace's native recorder has backends for CPython 3.11, 3.12 and 3.13; build it with one of those"
);
#[cfg(Py_GIL_DISABLED)]
compile_error!(
    "racetrace's native recorder needs the GIL: free-threaded CPython builds are not supported"
);

/// A frame received by the trace function, valid for the callback `'f`.
/// Stack accessors are only meaningful during opcode events.
pub trait FrameApi<'f>: Copy + Scope {
    type Caller: CallerApi<'f>;
    /// Identity of the running frame, stable while it runs.
    fn addr(self) -> usize;
    fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny>;
    /// Our decoded table for this frame's code, if it has one.
    fn info(self) -> Option<Arc<CodeInfo>>;
    /// Index (in code units) of the instruction being reported.
    fn instr_index(self) -> usize;
    /// The line the interpreter set for this event.
    fn lineno(self) -> u32;
    /// Which events the interpreter reports for this frame from now on
    /// (3.12+: for its code object; turning events off waits for the end
    /// of the recording).
    fn set_trace_flags(self, lines: bool, opcodes: bool);
    /// Asks for this frame's return (and yield) events: 3.12+ reports them
    /// only for code objects that asked; 3.11 reports every frame's.
    fn watch_returns(self);
    /// Number of values on the value stack.
    fn stack_depth(self) -> isize;
    /// The value `n` places below the top of the stack (0 = TOS); `None`
    /// when out of range or NULL.
    fn peek<'py>(self, py: Python<'py>, n: usize) -> Option<Bound<'py, PyAny>>;
    /// Replaces the value `n` places below TOS (an argument of the call
    /// about to run); the call sees the new value.
    fn replace(self, py: Python<'_>, n: usize, v: &Bound<'_, PyAny>) -> bool;
    /// The value `n` places below TOS is exactly `True`.
    fn peek_is_true(self, n: usize) -> bool;
    /// The value `n` places below TOS is exactly an int or a float.
    fn peek_is_number(self, n: usize) -> bool;
    /// Fast local / cell / free variable `i` (`None` when unset).
    fn local<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>>;
    fn is_free_var(self, i: usize) -> bool;
    fn n_locals(self) -> usize;
    fn globals<'py>(self, py: Python<'py>) -> Option<Bound<'py, PyAny>>;
    /// Module-level code: names are globals.
    fn locals_are_globals(self) -> bool;
    /// `co_names[i]` of the running code.
    fn name<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>>;
    /// The source line of the current instruction outside trace events.
    fn current_line(self, py: Python<'_>) -> u32;
    /// The calling frame, skipping frames that have not started yet.
    fn caller(self) -> Option<Self::Caller>;
    /// The operands of the call about to run at `ins` (an
    /// [`crate::codeinfo::Action::Call`] instruction): each version keeps
    /// the callable, `self` and the arguments in its own order.
    fn call_args<'py>(self, py: Python<'py>, ins: &Instr) -> Option<CallArgs<'py>>;
    /// The operands of `f(*args, **kwargs)` about to run (an
    /// [`crate::codeinfo::Action::CallEx`] instruction).
    fn call_ex_args<'py>(self, py: Python<'py>, ins: &Instr) -> Option<CallExArgs<'py>>;
}

/// A call about to run, as the value stack holds it.
pub struct CallArgs<'py> {
    /// What is called. For a method call (`obj.m(x)` loading an unbound
    /// method), the function, with `self` as argument 0.
    pub callable: Bound<'py, PyAny>,
    /// Arguments on the stack, `self` included when passed as the first.
    pub total: usize,
    /// Values above the last argument (3.13 keeps the keyword-name tuple
    /// there).
    pub above: usize,
    /// The names of the last `kwnames.len()` arguments.
    pub kwnames: Option<Bound<'py, PyTuple>>,
    /// Stack depth once the call has replaced its operands by its result.
    pub depth_after: isize,
}

impl CallArgs<'_> {
    /// Stack position (0 = TOS) of argument `k`.
    pub fn depth_of(&self, k: usize) -> Option<usize> {
        (k < self.total).then(|| self.above + self.total - 1 - k)
    }

    /// Stack position of parameter `pos` (counted after a `self` argument
    /// when `rest` is 1) or, when passed by keyword, of `name`.
    pub fn param(&self, rest: usize, pos: usize, name: &str) -> Option<usize> {
        let nkw = self.kwnames.as_ref().map_or(0, |t| t.len());
        let npos = self.total.saturating_sub(nkw);
        let k = rest + pos;
        if k < npos {
            return self.depth_of(k);
        }
        let j = self
            .kwnames
            .as_ref()?
            .iter()
            .position(|n| n.extract::<&str>().is_ok_and(|n| n == name))?;
        self.depth_of(npos + j)
    }
}

/// `f(*args, **kwargs)` about to run.
pub struct CallExArgs<'py> {
    pub callable: Bound<'py, PyAny>,
    /// The positional arguments (a tuple, or what will be made one).
    pub args: Bound<'py, PyAny>,
    /// Stack depth once the call has replaced its operands by its result.
    pub depth_after: isize,
}

/// A frame further down the current thread's stack.
pub trait CallerApi<'f>: Copy + Scope {
    fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny>;
    fn info(self) -> Option<Arc<CodeInfo>>;
    /// Index (in code units) of the instruction it is executing.
    fn instr_index(self) -> usize;
    /// Identity of the frame (as [`FrameApi::addr`] of the same frame).
    fn addr(self) -> usize;
    /// This frame's own caller.
    fn caller(self) -> Option<Self>;
}

/// Read access to a running frame's variables, used to name objects after
/// the variable that holds them.
pub trait Scope {
    fn scope_code<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny>;
    fn scope_len(&self) -> usize;
    fn scope_local<'py>(&self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>>;
    fn scope_globals<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>>;
}

/// What the trace callback does with each event of a thread. A backend
/// owns one `Tracer` per hooked thread (installed with [`install`]) and
/// calls it with the GIL held; it never lets a panic or a Python error of
/// the tracer reach the traced program.
pub trait Tracer: Sized + 'static {
    /// False once the tracer is stale (its recording stopped or another
    /// began): the callback removes itself, freeing the tracer.
    fn is_current(&self) -> bool;
    fn on_call(&self, py: Python<'_>, f: Frame<'_>);
    fn on_return(&self, py: Python<'_>, f: Frame<'_>, retval: Option<&Bound<'_, PyAny>>);
    fn on_opcode(&self, py: Python<'_>, f: Frame<'_>);
    /// A handler panicked (the panic was caught).
    fn on_panic(&self);
    /// Asked after each handled event: `Some(err)` raises `err` in the
    /// traced frame (a stopped controlled run unwinds its actors).
    fn take_abort(&self) -> Option<PyErr>;
}

/// The backend's free functions, with the types the rest of the recorder
/// relies on: a backend that lacks one, or gives it another signature,
/// does not compile.
#[allow(clippy::type_complexity)]
#[allow(dead_code)] // evaluated for its type checks only
pub const CONTRACT: () = {
    let _: fn(Python<'_>) -> PyResult<()> = check_layout;
    let _: fn(&Bound<'_, PyAny>) -> Box<[Instr]> = decode;
    let _: fn(&Bound<'_, PyAny>) -> Box<[Instr]> = decode_intercept;
    let _: fn(&Bound<'_, PyAny>, CodeInfo) -> bool = set_code_info;
    let _: fn(&Bound<'_, PyAny>) -> bool = is_code;
    let _: for<'py> fn(&Bound<'py, PyAny>) -> Option<Bound<'py, PyTuple>> = code_localsplusnames;
    let _: fn(&Bound<'_, PyAny>, usize) -> u32 = code_line;
    let _: for<'py> fn(&Bound<'py, PyAny>) -> Option<(usize, Option<Bound<'py, PyAny>>)> =
        builtin_method;
    let _: fn(usize) -> String = method_def_name;
    let _: fn(&Bound<'_, PyAny>) -> bool = is_slot_wrapper;
    let _: fn(&Bound<'_, PyAny>) -> bool = supports_weakrefs;
    let _: fn(&Bound<'_, PyAny>, &Bound<'_, PyAny>) -> bool = type_is_subtype;
    let _: fn(&Bound<'_, PyAny>) -> bool = is_type;
    let _: fn(&Bound<'_, PyAny>) -> bool = is_heap_type;
    let _: fn(Python<'_>) -> SavedTrace = save_trace;
    let _: fn(Python<'_>, SavedTrace) = restore_trace;
    let _: fn(Python<'_>) -> Option<SavedTrace> = suspend_trace;
    let _: fn(Python<'_>, &SavedTrace) = resume_trace;
    let _: fn(&SavedTrace) = suspend_again;
    let _: fn(Python<'_>) -> PyResult<()> = learn_trampoline;
    let _: fn(Python<'_>, &Bound<'_, PyAny>) -> PyResult<bool> = program_settrace;
    let _: for<'py> fn(Python<'py>) -> Option<Option<Bound<'py, PyAny>>> = program_gettrace;
    let _: fn(Python<'_>, &Bound<'_, PyAny>) -> PyResult<()> = real_settrace;
    let _: for<'py> fn(Python<'py>) -> PyResult<Bound<'py, PyAny>> = real_gettrace;
    let _: fn(Python<'_>, &SavedTrace) -> PyResult<()> = adopt_python_tracer;
    let _: fn(Python<'_>, Option<SavedTrace>) = hand_back;
    let _: fn() = uninstall;
    let _: fn(Python<'_>) = release_hooks;
    let _: fn(Python<'_>) -> PyResult<()> = prepare::<DummyTracer>;
    let _: bool = HOOKS_NEW_THREADS;
    let _: bool = HOOK_IN_TRACE_SLOT;
    let _: fn(NewThreadHandler) = set_new_thread_handler;
    let _: fn(Python<'_>, DeathSink) = start_watching_deaths;
    let _: fn(Python<'_>) = stop_watching_deaths;
    let _: fn(&Bound<'_, PyAny>) -> bool = watch_death;
    let _: fn(&Bound<'_, PyAny>) -> bool = may_be_container;
    let _: for<'py> fn(&Bound<'py, PyAny>) -> Option<(usize, Bound<'py, PyAny>)> = method_wrapper;
    let _: for<'py> fn(&Bound<'py, PyAny>) -> Option<PythonFunction<'py>> = python_function;
    let _: fn(&Bound<'_, PyAny>) -> isize = refcount;
    let _: fn(&Bound<'_, PyAny>) -> Option<Arc<CodeInfo>> = code_info;
    let _: fn(&Bound<'_, PyAny>) -> bool = is_heap_instance;
    let _: for<'py> fn(&Bound<'py, PyAny>) -> IterSources<'py> = iteration_sources;
    let _: fn(Python<'_>) -> PyResult<usize> = forget_thread_locals;
};

/// A callable defined in Python, as `python_function` finds it.
pub struct PythonFunction<'py> {
    /// The function object's address (its identity in the call table).
    pub function: usize,
    pub code: Bound<'py, PyAny>,
    /// The object a method is bound to.
    pub this: Option<Bound<'py, PyAny>>,
}

/// The containers one step of an iterator reads (at most
/// [`IterSources::MAX`]), as found by the backend's `iteration_sources`.
#[derive(Default)]
pub struct IterSources<'py> {
    items: [Option<Bound<'py, PyAny>>; IterSources::MAX],
}

impl<'py> IterSources<'py> {
    pub const MAX: usize = 4;

    pub fn iter(&self) -> impl Iterator<Item = &Bound<'py, PyAny>> {
        self.items.iter().flatten()
    }

    /// Adds `c` unless it is there already or the list is full.
    pub fn push(&mut self, c: Bound<'py, PyAny>) {
        if self.iter().any(|b| b.is(&c)) {
            return;
        }
        if let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) {
            *slot = Some(c);
        }
    }
}

/// Called (on versions whose hook sees every thread, see
/// [`HOOKS_NEW_THREADS`]) for each Python function that starts in a thread
/// the recorder has not hooked: the capture layer decides whether it is a
/// new thread's first call and hooks it with [`install`].
pub type NewThreadHandler = fn(Python<'_>, Frame<'_>);

/// Forgets the `threading.local` data of the current thread as the
/// thread's end would, for interpreters where `_thread._local` keeps each
/// object's data for a thread in the thread state's dict, under
/// `thread.local.<address>` (Modules/_threadmodule.c, up to 3.12). Returns
/// how many objects had some.
#[allow(dead_code)] // 3.13 keeps them elsewhere
fn forget_thread_local_dicts(py: Python<'_>) -> PyResult<usize> {
    // SAFETY: GIL held; the dict is borrowed from the current thread's
    // state, which outlives this call.
    let dict = unsafe {
        let d = pyo3::ffi::PyThreadState_GetDict();
        Bound::from_borrowed_ptr_or_opt(py, d).and_then(|d| d.cast_into::<PyDict>().ok())
    };
    let Some(dict) = dict else {
        return Ok(0);
    };
    let keys: Vec<Bound<'_, PyAny>> = dict
        .keys()
        .iter()
        .filter(|k| {
            k.extract::<String>()
                .is_ok_and(|s| s.starts_with("thread.local."))
        })
        .collect();
    for k in &keys {
        dict.del_item(k)?;
    }
    Ok(keys.len())
}

/// A tracer type for [`CONTRACT`]'s check of the generic functions.
#[allow(dead_code)]
struct DummyTracer;

impl Tracer for DummyTracer {
    fn is_current(&self) -> bool {
        false
    }
    fn on_call(&self, _: Python<'_>, _: Frame<'_>) {}
    fn on_return(&self, _: Python<'_>, _: Frame<'_>, _: Option<&Bound<'_, PyAny>>) {}
    fn on_opcode(&self, _: Python<'_>, _: Frame<'_>) {}
    fn on_panic(&self) {}
    fn take_abort(&self) -> Option<PyErr> {
        None
    }
}

/// The GIL token for code that runs inside a trace callback or a function
/// called from Python, reached through calls that do not carry `py` (the
/// hook's event gate, 50 call sites deep).
///
/// Invariant, upheld by every caller: the calling thread holds the GIL
/// (trace callbacks and `#[pyfunction]`s are only ever called with it).
#[inline]
pub fn gil_held<'py>() -> Python<'py> {
    // SAFETY: see the invariant above.
    unsafe { Python::assume_attached() }
}
