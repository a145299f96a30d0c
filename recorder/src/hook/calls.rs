//! Calls made by traced code: what each callee does to the shared state
//! it receives. A recognized callable (the call table: container methods,
//! builtins, lock and queue methods, a few library functions) has a role;
//! a callee whose code is not traced and that the table does not know is
//! *opaque* and treated conservatively: a write of each tracked object it
//! receives (containers, and for C code instances as well). Traced Python
//! code records its own accesses.

use super::*;

/// A call about to run: the callable, its positional arguments `arg(0)`,
/// `arg(1)`, ... (for an unbound method descriptor, `arg(0)` is self), the
/// stack depth once the result replaced the call's operands, and which
/// recognized calls to act on.
pub(super) struct CallOf<'a, 'py> {
    callable: &'a Bound<'py, PyAny>,
    arg: &'a dyn Fn(usize) -> Option<Bound<'py, PyAny>>,
    depth_after: isize,
    calls: Calls,
    /// The arguments are the interpreter's value stack (PRECALL), where a
    /// value nothing else refers to is a temporary no other thread can see.
    stack_args: bool,
}

/// Which recognized calls to act on: all of them in traced code; only
/// synchronization (locks, C queues, sleep) in code that is not traced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Calls {
    All,
    SyncOnly,
    /// Only C queue puts and gets (library code in a controlled run).
    QueuesOnly,
}

/// A call about to run: its operands as the backend finds them.
pub(super) fn on_precall(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    ins: &Instr,
    calls: Calls,
    loc: impl Fn() -> LocId,
) {
    ctx.pending.set(None);
    let Some(c) = f.call_args(py, ins) else {
        return;
    };
    let arg = |k: usize| -> Option<Bound<'_, PyAny>> { f.peek(py, c.depth_of(k)?) };
    let call = CallOf {
        callable: &c.callable,
        arg: &arg,
        depth_after: c.depth_after,
        calls,
        stack_args: true,
    };
    on_call_of(py, ctx, f, loc, call);
}

/// `f(*args, **kwargs)`: positional arguments are known when `args` is
/// already a tuple.
pub(super) fn on_call_ex(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    ins: &Instr,
    calls: Calls,
    loc: impl Fn() -> LocId,
) {
    ctx.pending.set(None);
    let Some(c) = f.call_ex_args(py, ins) else {
        return;
    };
    if cpython::may_be_container(&c.args) {
        // `f(*items)`: the interpreter makes a tuple of the list first.
        if calls == Calls::All {
            operand_read(py, ctx, f, loc(), &c.args, false);
        }
        return;
    }
    let Ok(args) = c.args.cast_into::<PyTuple>() else {
        return;
    };
    let arg = |k: usize| -> Option<Bound<'_, PyAny>> { args.get_item(k).ok() };
    let call = CallOf {
        callable: &c.callable,
        arg: &arg,
        depth_after: c.depth_after,
        calls,
        stack_args: false,
    };
    on_call_of(py, ctx, f, loc, call);
}

/// Who is called, as far as shared state is concerned.
enum Callee<'py> {
    /// A recognized callable: its role, the object it works on (bound, or
    /// the first argument of an unbound descriptor) and the index of the
    /// first argument after it.
    Known {
        role: CallRole,
        this: Option<Bound<'py, PyAny>>,
        rest: usize,
    },
    /// Code that is neither traced nor recognized. `instances`: C code,
    /// which can reach an instance's attributes without running its
    /// (traced) methods.
    Opaque {
        this: Option<Bound<'py, PyAny>>,
        instances: bool,
    },
    /// Traced Python code, a class or callable object defined in Python, or
    /// a recognized standard-library function: nothing to record here.
    Visible,
}

fn table_method(def: usize) -> Option<CallRole> {
    session::with(|s| s.tables.calls.method(def)).flatten()
}

fn table_identity(addr: usize) -> Option<CallRole> {
    session::with(|s| s.tables.calls.identity(addr)).flatten()
}

/// The table of a code object for the current recording, built on first
/// sight.
fn code_info(py: Python<'_>, code: &Bound<'_, PyAny>) -> Option<std::sync::Arc<CodeInfo>> {
    let gen = session::generation();
    if let Some(i) = cpython::code_info(code).filter(|i| i.generation == gen) {
        return Some(i);
    }
    let _ = py;
    build_info(code, gen);
    cpython::code_info(code).filter(|i| i.generation == gen)
}

fn resolve<'py>(
    py: Python<'py>,
    callable: &Bound<'py, PyAny>,
    arg: &dyn Fn(usize) -> Option<Bound<'py, PyAny>>,
) -> Callee<'py> {
    if let Some((def, bound)) = cpython::builtin_method(callable) {
        let (this, rest) = match bound {
            // A module-level function (`len`, `heapq.heappush`).
            Some(b) if b.is_instance_of::<pyo3::types::PyModule>() => (None, 0),
            Some(b) => (Some(b), 0),
            // An unbound method descriptor (`list.append`, which is also
            // what `lst.append(x)` calls): self is the first argument.
            None => (arg(0), 1),
        };
        return match table_method(def) {
            Some(role) => Callee::Known { role, this, rest },
            // The arguments (self of a descriptor included) are scanned.
            None => Callee::Opaque {
                this: if rest == 0 { this } else { None },
                instances: true,
            },
        };
    }
    if let Some((descr, this)) = cpython::method_wrapper(callable) {
        // `lst.__len__()`: the slot wrapper `list.__len__` bound to `lst`.
        return match table_identity(descr) {
            Some(role) => Callee::Known {
                role,
                this: Some(this),
                rest: 0,
            },
            None => Callee::Opaque {
                this: Some(this),
                instances: true,
            },
        };
    }
    let addr = callable.as_ptr() as usize;
    if cpython::is_slot_wrapper(callable) {
        // `list.__len__(lst)`, `object.__setattr__(o, name, v)`.
        return match table_identity(addr) {
            Some(role) => Callee::Known {
                role,
                this: arg(0),
                rest: 1,
            },
            None => Callee::Opaque {
                this: None,
                instances: true,
            },
        };
    }
    if cpython::is_type(callable) {
        return match table_identity(addr) {
            Some(role) => Callee::Known {
                role,
                this: None,
                rest: 0,
            },
            // A class defined in Python runs its `__init__` as Python code.
            None if cpython::is_heap_type(callable) => Callee::Visible,
            None => Callee::Opaque {
                this: None,
                instances: true,
            },
        };
    }
    if let Some(pf) = cpython::python_function(callable) {
        // Traced code first: the common call, and never in the table.
        let info = code_info(py, &pf.code);
        if info.as_ref().is_some_and(|i| i.traced) {
            return Callee::Visible;
        }
        if let Some(role) = table_identity(pf.function) {
            return Callee::Known {
                role,
                this: pf.this,
                rest: 0,
            };
        }
        return match info {
            Some(info) if info.role != Role::None => Callee::Visible,
            // Library code reaches instances through their methods and
            // attributes like any other code; only the containers it
            // receives are treated as written (`random.shuffle(items)`).
            _ => Callee::Opaque {
                this: pf.this,
                instances: false,
            },
        };
    }
    if cpython::is_heap_instance(callable) {
        // A callable object defined in Python: its `__call__` is code.
        return Callee::Visible;
    }
    // Any other C callable (`functools.partial`, `operator.itemgetter`...).
    Callee::Opaque {
        this: None,
        instances: true,
    }
}

/// A call about to run from traced code (or, with `Calls::SyncOnly`, from
/// code whose synchronization only is seen): the access or synchronization
/// it is.
fn on_call_of<'py>(
    py: Python<'py>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: impl Fn() -> LocId,
    call: CallOf<'_, 'py>,
) {
    let CallOf {
        callable,
        arg,
        depth_after,
        calls,
        stack_args,
    } = call;
    // Synchronization is only ever a C method (lock, C queue, sleep):
    // untraced code's other calls are not resolved.
    if calls != Calls::All && cpython::builtin_method(callable).is_none() {
        return;
    }
    let (role, self_obj, rest) = match resolve(py, callable, arg) {
        Callee::Known { role, this, rest } => (role, this, rest),
        Callee::Opaque { this, instances } => {
            if calls == Calls::All {
                let opaque = Opaque {
                    this,
                    instances,
                    stack_args,
                };
                opaque_call(py, ctx, f, &loc, opaque, arg);
            }
            return;
        }
        Callee::Visible => return,
    };
    let sync = matches!(
        role,
        CallRole::LockAcquire
            | CallRole::LockRelease
            | CallRole::QueuePut
            | CallRole::QueueGet
            | CallRole::Sleep
    );
    let queue = matches!(role, CallRole::QueuePut | CallRole::QueueGet);
    if (calls == Calls::SyncOnly && !sync) || (calls == Calls::QueuesOnly && !queue) {
        return;
    }
    let loc = loc();
    use EventKind::{Read, Write};
    match role {
        CallRole::Read | CallRole::Write => {
            if let Some(s) = &self_obj {
                let kind = if role == CallRole::Read { Read } else { Write };
                whole_access(py, ctx, f, loc, kind, s);
            }
            // `a.extend(b)`, `d.update(e)`, `s.issubset(t)` read `b`, `e`, `t`.
            read_args(py, ctx, f, loc, arg, rest);
        }
        CallRole::ItemRead | CallRole::ItemWrite => {
            if let (Some(s), Some(k)) = (&self_obj, arg(rest)) {
                let kind = if role == CallRole::ItemRead {
                    Read
                } else {
                    Write
                };
                item_access(py, ctx, f, loc, kind, s, &k);
            }
            read_args(py, ctx, f, loc, arg, rest + 1);
        }
        CallRole::ArgRead => read_args(py, ctx, f, loc, arg, rest),
        CallRole::IterNext => {
            if let Some(it) = arg(rest) {
                iter_step(py, ctx, f, None, loc, &it);
            }
        }
        CallRole::Pure => {}
        CallRole::GetAttr | CallRole::SetAttr | CallRole::DelAttr => {
            // `getattr(o, name)`, `object.__setattr__(o, name, v)` (self
            // is `o`), `o.__getattribute__(name)` (bound to `o`).
            let (o, n) = match &self_obj {
                Some(o) => (Some(o.clone()), arg(rest)),
                None => (arg(rest), arg(rest + 1)),
            };
            if let (Some(o), Some(n)) = (o, n) {
                if let Some(name) = intern_name(&n) {
                    let kind = if role == CallRole::GetAttr {
                        Read
                    } else {
                        Write
                    };
                    attr_access(py, ctx, f, loc, kind, &o, name);
                }
            }
        }
        CallRole::LockAcquire => {
            if let Some((lock, reentrant)) = self_obj.and_then(|s| lock_of(py, Some(&f), &s)) {
                ctx.pending.set(Some(Pending {
                    frame: f.addr(),
                    depth: depth_after,
                    what: PendingOp::Acquire { lock, reentrant },
                    loc,
                }));
            }
        }
        CallRole::QueuePut => {
            let (Some(q), Some(item)) = (self_obj, arg(rest)) else {
                return;
            };
            let Some((queue, _)) = object(py, Some(&f), &q) else {
                return;
            };
            let addr = item.as_ptr() as usize;
            if gate(ctx, EventKind::QueuePut, loc, queue.0, 0) {
                session::with_gen(ctx.generation, |s| {
                    let token = s.queue_put(queue, addr);
                    s.emit(ctx.actor(), EventKind::QueuePut, loc, queue.0, token);
                });
            }
        }
        CallRole::QueueGet => {
            let Some(q) = self_obj else { return };
            let Some((queue, _)) = object(py, Some(&f), &q) else {
                return;
            };
            ctx.pending.set(Some(Pending {
                frame: f.addr(),
                depth: depth_after,
                what: PendingOp::QueueGet { queue },
                loc,
            }));
        }
        CallRole::LockRelease => {
            if let Some((lock, _)) = self_obj.and_then(|s| lock_of(py, Some(&f), &s)) {
                emit_release(ctx, lock, loc);
            }
        }
        CallRole::Sleep => {
            if let Some(secs) = arg(rest) {
                control::sleep(py, ctx, f, loc, &secs);
            }
        }
        CallRole::LockReleaseSave | CallRole::LockAcquireRestore | CallRole::HandleJoin => {}
    }
}

/// Reads the containers among the arguments from `from` on: a container or
/// dict view as a whole, an iterator by the containers it steps through
/// (`list(enumerate(items))` drains it).
fn read_args<'py>(
    py: Python<'py>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    arg: &dyn Fn(usize) -> Option<Bound<'py, PyAny>>,
    from: usize,
) {
    for k in from..MAX_ARGS {
        let Some(a) = arg(k) else { break };
        if cpython::may_be_container(&a) {
            operand_read(py, ctx, f, loc, &a, false);
        } else {
            iter_step(py, ctx, f, None, loc, &a);
        }
    }
}

/// Arguments looked at per call.
const MAX_ARGS: usize = 32;

/// An opaque callee and what it receives.
struct Opaque<'py> {
    /// The object a C method or Python method is bound to.
    this: Option<Bound<'py, PyAny>>,
    /// Instances count as touched (C code), not only containers.
    instances: bool,
    /// The arguments are on the value stack (see `CallOf::stack_args`).
    stack_args: bool,
}

/// A call into code that is neither traced nor in the call table ("unknown
/// means dependent"): a write of each tracked object it receives, as a
/// whole. A temporary that only the value stack refers to (`f([x, y])`)
/// cannot be shared and is left out.
fn opaque_call<'py>(
    py: Python<'py>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: &dyn Fn() -> LocId,
    callee: Opaque<'py>,
    arg: &dyn Fn(usize) -> Option<Bound<'py, PyAny>>,
) {
    let Opaque {
        this,
        instances,
        stack_args,
    } = callee;
    let touched = |v: &Bound<'py, PyAny>, on_stack: bool| -> Option<ObjId> {
        let candidate = cpython::may_be_container(v) || (instances && !naming::is_immutable(py, v));
        // The stack's reference and ours: nothing else can reach it.
        if !candidate || (on_stack && cpython::refcount(v) <= 2) {
            return None;
        }
        let (id, k) = object(py, Some(&f), v)?;
        (is_container(k) || (instances && k == ObjKind::Instance)).then_some(id)
    };
    let mut written: [Option<ObjId>; 4] = [None; 4];
    let mut write = |id: ObjId| {
        if written.contains(&Some(id)) {
            return;
        }
        if let Some(slot) = written.iter_mut().find(|w| w.is_none()) {
            *slot = Some(id);
        }
        whole_key(ctx, EventKind::Write, loc(), id);
    };
    if let Some(id) = this.as_ref().and_then(|t| touched(t, false)) {
        write(id);
    }
    for k in 0..MAX_ARGS {
        let Some(a) = arg(k) else { break };
        if let Some(id) = touched(&a, stack_args) {
            write(id);
        }
    }
}
