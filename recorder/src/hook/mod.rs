//! What the trace function does with an event: safe code on top of the
//! `cpython` frame API. Called only for events that matter (calls, returns,
//! and instructions whose table entry is not invisible), always with the GIL.
//!
//! Accesses are written *before* the instruction runs (the callback precedes
//! it), so the trace order is the real order. A lock acquire is written
//! after it succeeded, at the next instruction of the same frame; a release
//! before it happens.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use racetrace_formats::{CodeLoc, EventKind, KeyId, LocId, MemberKind, ObjId, ObjKind, StrId};

use crate::calls::CallRole;
use crate::codeinfo::{Action, Instr, READ_INSTANCES};
use crate::codeinfo::{CodeInfo, Role};
use crate::cpython::{self, Caller, Frame, Scope};
use crate::cpython::{CallerApi as _, FrameApi as _};
use crate::naming::{self, Class};
use crate::session;

mod ctx;
pub use ctx::ThreadCtx;
use ctx::*;

fn emit(ctx: &ThreadCtx, kind: EventKind, loc: LocId, target: u32, aux: u64) {
    if gate(ctx, kind, loc, target, aux) {
        session::with_gen(ctx.generation, |s| {
            s.emit(ctx.actor(), kind, loc, target, aux)
        });
    }
}

/// A primitive's label in backquotes, for reports (`?` when unknown).
pub(super) fn quoted(label: &str) -> String {
    if label.is_empty() {
        "?".into()
    } else {
        format!("`{label}`")
    }
}

fn emit_key(
    ctx: &ThreadCtx,
    kind: EventKind,
    loc: LocId,
    obj: ObjId,
    mk: MemberKind,
    member: StrId,
) {
    let Some(key) = session::with(|s| s.key(obj, mk, member)) else {
        return;
    };
    emit(ctx, kind, loc, key.0, 0);
}

mod access;
mod calls;
mod control;
mod giveup;
mod locks;
mod prims;
mod protocols;
mod queues;
mod sems;
mod stdlib;
mod tables;
pub mod tasks;
mod threads;

use access::*;
use calls::*;
use locks::*;
use protocols::*;
use queues::*;
use stdlib::*;
use tables::*;
pub use tables::{code_entry_loc, ensure_info};
pub use threads::{new_thread_call, start_thread};

pub fn on_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(info_ref) = ensure_info(py, f) else {
        return;
    };
    let info: &CodeInfo = &info_ref;
    let in_control = ctx.in_control();
    f.set_trace_flags(
        false,
        info.traced || (info.intercept && (in_control || !ctx.controlled)),
    );
    if info.role != Role::None {
        f.watch_returns();
        if matches!(
            info.role,
            Role::QueuePut | Role::QueueGet | Role::QueueCheck
        ) {
            queue_first_sight(py, ctx, f);
        }
        if in_control {
            prims::prim_call(py, ctx, f, info.role);
        }
        sync_call(py, ctx, f, info.role);
        if info.role == Role::SemRelease && ctx.in_control() && !aborting() {
            if let Some(this) = f.local(py, 0) {
                sems::release_call(py, f, &this);
            }
        }
        if info.role == Role::ThreadStart && ctx.controlled {
            // The handshake inside `start` runs unmodelled (the child is not
            // an actor until it reaches its first instruction).
            ctx.uncontrolled.set(ctx.uncontrolled.get() + 1);
        }
    }
}

pub fn on_return(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, retval: Option<&Bound<'_, PyAny>>) {
    clear_pending_in(ctx, f);
    let Some(info_ref) = ensure_info(py, f) else {
        return;
    };
    let info: &CodeInfo = &info_ref;
    if info.role != Role::None {
        if info.role == Role::ThreadStart && ctx.controlled {
            ctx.uncontrolled
                .set(ctx.uncontrolled.get().saturating_sub(1));
            if ctx.in_control() {
                control::thread_started_return(py, ctx, f, retval.is_none());
            }
        }
        // The call's events are recorded while its primitive is still on
        // the stack (the gate reads whether it was a timed wait).
        let gave_up = ctx.in_control() && prims::prim_gave_up(ctx, f);
        sync_return(py, ctx, f, info.role, retval);
        giveup::on_return(py, ctx, f, info.role, retval, gave_up);
        if ctx.in_control() {
            prims::prim_return(ctx, f);
        }
    }
}

pub fn on_opcode(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(info_ref) = ensure_info(py, f) else {
        return;
    };
    let info: &CodeInfo = &info_ref;
    if !info.traced {
        if info.intercept && ctx.in_control() {
            intercept_only(py, ctx, f, info);
        } else if info.intercept && !ctx.controlled {
            sync_only(py, ctx, f, info);
        } else {
            f.set_trace_flags(false, false);
        }
        return;
    }
    let idx = f.instr_index();
    let Some(ins) = info.instrs.get(idx) else {
        return;
    };
    if ins.post_call {
        resolve_pending(py, ctx, f);
    }
    if ins.marker != 0 && ctx.in_control() && !aborting() {
        let loc = instr_loc(info, ins, || f.lineno(), idx);
        control::marker(ctx, loc, ins.marker - 1);
    }
    match ins.action {
        Action::Invisible => return,
        // Most calls are not recorded: their location is interned only
        // once the callable turns out to matter.
        Action::Call => {
            on_precall(py, ctx, f, ins, Calls::All, || {
                instr_loc(info, ins, || f.lineno(), idx)
            });
            if ctx.in_control() && !aborting() {
                control::precall(py, ctx, f, info, ins);
            }
            return;
        }
        Action::CallEx => {
            on_call_ex(py, ctx, f, ins, Calls::All, || {
                instr_loc(info, ins, || f.lineno(), idx)
            });
            if ctx.in_control() && !aborting() {
                control::call_ex(py, ctx, f, info, ins);
            }
            return;
        }
        _ => {}
    }
    let loc = instr_loc(info, ins, || f.lineno(), idx);
    let arg = ins.arg as usize;
    let peek = |n| f.peek(py, n);
    use EventKind::{Read, Write};
    match ins.action {
        Action::Invisible => {}
        Action::LoadAttr | Action::StoreAttr | Action::DeleteAttr => {
            let Some(obj) = peek(0) else { return };
            let Some(name) = tables::name_id(info, arg) else {
                return;
            };
            if ins.action == Action::LoadAttr && info.dict_name == Some(ins.arg) {
                note_dict_owner(py, f, &obj);
                return;
            }
            let kind = if ins.action == Action::LoadAttr {
                Read
            } else {
                Write
            };
            cached_access(ctx, ins, loc, kind, &obj, || attr_key(py, f, &obj, name));
        }
        Action::BinarySubscr | Action::StoreSubscr | Action::DeleteSubscr => {
            let (Some(key), Some(container)) = (peek(0), peek(1)) else {
                return;
            };
            let kind = if ins.action == Action::BinarySubscr {
                Read
            } else {
                Write
            };
            cached_item_access(At { py, ctx, f, loc }, ins, kind, &container, &key);
        }
        Action::Contains => {
            let (Some(container), Some(item)) = (peek(0), peek(1)) else {
                return;
            };
            match object(py, Some(&f), &container) {
                Some((_, ObjKind::Dict | ObjKind::Set)) => {
                    cached_item_access(At { py, ctx, f, loc }, ins, Read, &container, &item)
                }
                Some((id, k)) if is_container(k) => whole_key(ctx, Read, loc, id),
                _ => {}
            }
        }
        Action::LoadGlobal => global_access(py, ctx, f, info, loc, Read, arg),
        Action::StoreGlobal | Action::DeleteGlobal => {
            global_access(py, ctx, f, info, loc, Write, arg)
        }
        Action::LoadName | Action::StoreName | Action::DeleteName => {
            if f.locals_are_globals() {
                let kind = if ins.action == Action::LoadName {
                    Read
                } else {
                    Write
                };
                global_access(py, ctx, f, info, loc, kind, arg);
            }
        }
        Action::LoadDeref => cell_access(py, ctx, f, info, ins, loc, Read),
        Action::StoreDeref => cell_access(py, ctx, f, info, ins, loc, Write),
        Action::GetIter => {
            if let Some(obj) = peek(0) {
                iter_access(py, ctx, f, loc, &obj);
            }
        }
        Action::ReadOperands => {
            let instances = ins.arg & READ_INSTANCES != 0;
            for n in 0..3 {
                if ins.arg & (1 << n) != 0 {
                    if let Some(v) = peek(n) {
                        if cpython::may_be_container(&v) || instances {
                            operand_read(py, ctx, f, loc, &v, instances);
                        }
                    }
                }
            }
        }
        Action::IterStep => {
            if let Some(it) = peek(0) {
                iter_step(py, ctx, f, Some(ins), loc, &it);
            }
        }
        Action::Call | Action::CallEx => {}
        Action::SliceRead | Action::SliceWrite => {
            // Stack: container, start, stop (and the value, below, for a
            // store): a slice reads or writes the whole sequence.
            if let Some(container) = peek(2) {
                let kind = if ins.action == Action::SliceRead {
                    Read
                } else {
                    Write
                };
                whole_access(py, ctx, f, loc, kind, &container);
            }
        }
        Action::InplaceOp => {
            // Stack: left operand, right operand. `items += more` mutates
            // a list in place (the name is rebound to the same object) and
            // reads `more`.
            if let Some(rhs) = peek(0) {
                if cpython::may_be_container(&rhs) {
                    operand_read(py, ctx, f, loc, &rhs, false);
                }
            }
            if let Some(lhs) = peek(1) {
                if let Some((id, k)) = object(py, Some(&f), &lhs) {
                    if is_container(k) {
                        whole_key(ctx, Write, loc, id);
                    }
                }
            }
        }
        Action::BeforeWith => {
            before_with_lock(py, ctx, f, loc);
            if ctx.in_control() {
                control::before_with(py, ctx, f, info);
            }
        }
        Action::WithExceptStart => {
            if ctx.in_control() {
                control::with_except(py, ctx, f);
            }
            with_except_release(py, ctx, f, loc);
        }
    }
}

/// BEFORE_WITH on a lock: its acquire is recorded once `__enter__`
/// returned (the instruction after).
fn before_with_lock(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, loc: LocId) {
    ctx.pending.set(None);
    let Some(obj) = f.peek(py, 0) else { return };
    if let Some((lock, reentrant)) = lock_of(py, Some(&f), &obj) {
        // BEFORE_WITH replaces the manager by (exit, result).
        ctx.pending.set(Some(Pending {
            frame: f.addr(),
            depth: f.stack_depth() + 1,
            what: PendingOp::Acquire { lock, reentrant },
            loc,
        }));
    }
}

/// WITH_EXCEPT_START: a `with lock:` block left by an exception releases
/// the lock through `__exit__`.
fn with_except_release(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, loc: LocId) {
    // Stack: exit, lasti, previous exception, exception.
    let Some(exit) = f.peek(py, 3) else { return };
    if let Some((def, Some(owner))) = cpython::builtin_method(&exit) {
        if session::with(|s| s.tables.calls.method(def)).flatten() == Some(CallRole::LockRelease) {
            if let Some((lock, _)) = lock_of(py, Some(&f), &owner) {
                emit_release(ctx, lock, loc);
            }
        }
    }
}

/// `obj.__dict__`: remember which instance the dict belongs to.
fn note_dict_owner(py: Python<'_>, f: Frame<'_>, obj: &Bound<'_, PyAny>) {
    let Some((owner, k)) = object(py, Some(&f), obj) else {
        return;
    };
    if k == ObjKind::Module {
        return;
    }
    if let Ok(d) = obj.getattr("__dict__") {
        session::with(|s| s.set_dict_owner(&d, owner));
    }
}

/// An instruction of untraced code whose synchronization a recording still
/// sees (`Session::intercepts`): lock calls and `with` statements, nothing
/// else.
fn sync_only(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, info: &CodeInfo) {
    let idx = f.instr_index();
    let Some(ins) = info.instrs.get(idx) else {
        return;
    };
    if ins.post_call {
        resolve_pending(py, ctx, f);
    }
    let loc = || instr_loc(info, ins, || f.lineno(), idx);
    if info.role == Role::QueueUser {
        // Only its C queue operations are the program's.
        match ins.action {
            Action::Call => on_precall(py, ctx, f, ins, Calls::QueuesOnly, loc),
            Action::CallEx => on_call_ex(py, ctx, f, ins, Calls::QueuesOnly, loc),
            _ => {}
        }
        return;
    }
    match ins.action {
        Action::Call => on_precall(py, ctx, f, ins, Calls::SyncOnly, loc),
        Action::CallEx => on_call_ex(py, ctx, f, ins, Calls::SyncOnly, loc),
        Action::BeforeWith => before_with_lock(py, ctx, f, loc()),
        Action::WithExceptStart => with_except_release(py, ctx, f, loc()),
        _ => {}
    }
}

/// An instruction of intercepted (untraced) code in a controlled run: lock
/// operations go through the model; puts and gets of C queues are events
/// as well, as in a recording (outside `threading`/`queue`/the futures
/// module, whose recognized `QueueUser` functions only: a thread pool's
/// workers take their work items from one, and which worker gets which
/// item is a choice the exploration makes).
fn intercept_only(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, info: &CodeInfo) {
    let idx = f.instr_index();
    let Some(ins) = info.instrs.get(idx) else {
        return;
    };
    let queues = !info.sync_lib || info.role == Role::QueueUser;
    if queues && ins.post_call {
        resolve_pending(py, ctx, f);
    }
    let loc = || instr_loc(info, ins, || f.lineno(), idx);
    match ins.action {
        Action::Call => {
            if queues {
                on_precall(py, ctx, f, ins, Calls::QueuesOnly, loc);
            }
            if !aborting() {
                control::precall(py, ctx, f, info, ins);
            }
        }
        Action::CallEx => {
            if queues {
                on_call_ex(py, ctx, f, ins, Calls::QueuesOnly, loc);
            }
            if !aborting() {
                control::call_ex(py, ctx, f, info, ins);
            }
        }
        Action::BeforeWith => control::before_with(py, ctx, f, info),
        Action::WithExceptStart => control::with_except(py, ctx, f),
        _ => {}
    }
}
