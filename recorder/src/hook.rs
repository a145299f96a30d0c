//! What the trace function does with an event: safe code on top of the
//! `cpython` frame API. Called only for events that matter (calls, returns,
//! and instructions whose table entry is not invisible), always with the GIL.
//!
//! Accesses are written *before* the instruction runs (the callback precedes
//! it), so the trace order is the real order. A lock acquire is written
//! after it succeeded, at the next instruction of the same frame; a release
//! before it happens.

use std::cell::{Cell, RefCell};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use racetrace_formats::{
    ActorId, CodeLoc, EventKind, KeyId, LocId, MemberKind, ObjId, ObjKind, StrId,
};

use crate::calls::CallRole;
use crate::codeinfo::{CodeInfo, Role};
use crate::cpython::{self, Caller, Frame};
use crate::decode::{Action, Instr};
use crate::naming::{self, Class};
use crate::session;

/// Per-thread recorder state, owned by the installed trace function.
pub struct ThreadCtx {
    pub actor: ActorId,
    pub generation: u64,
    /// A lock acquire waiting to learn whether it succeeded.
    pending: Cell<Option<Pending>>,
    cond_waits: RefCell<Vec<CondWaitState>>,
    barrier_waits: RefCell<Vec<(usize, ObjId, u64)>>,
    /// Futures whose `result()`/`exception()` call is in progress (by frame).
    future_calls: RefCell<Vec<(usize, ObjId)>>,
    /// Where the actor started (also used for its exit event).
    start_loc: Cell<LocId>,
}

/// A C call whose effect is recorded once it has returned: at the next
/// instruction of the same frame, where its result is on top of the stack.
#[derive(Clone, Copy)]
struct Pending {
    frame: usize,
    /// Stack depth once the call has replaced its operands by its result.
    depth: isize,
    what: PendingOp,
    loc: LocId,
}

#[derive(Clone, Copy)]
enum PendingOp {
    /// Lock acquire: recorded if the result is `True`.
    Acquire { lock: ObjId, reentrant: bool },
    /// `SimpleQueue.get`: the result is the item.
    QueueGet { queue: ObjId },
}

struct CondWaitState {
    frame: usize,
    lock: Option<(ObjId, u32)>,
}

impl ThreadCtx {
    pub fn new(actor: ActorId, generation: u64, start_loc: LocId) -> ThreadCtx {
        ThreadCtx {
            actor,
            generation,
            pending: Cell::new(None),
            cond_waits: RefCell::new(Vec::new()),
            barrier_waits: RefCell::new(Vec::new()),
            future_calls: RefCell::new(Vec::new()),
            start_loc: Cell::new(start_loc),
        }
    }
}

#[inline]
pub fn ctx_is_current(ctx: &ThreadCtx) -> bool {
    ctx.generation == session::generation()
}

pub fn internal_error(what: &str) {
    session::with(|s| {
        s.write_error
            .get_or_insert_with(|| format!("internal recorder error: {what}"));
    });
}

fn emit(ctx: &ThreadCtx, kind: EventKind, loc: LocId, target: u32, aux: u64) {
    session::with(|s| s.emit(ctx.actor, kind, loc, target, aux));
}

fn emit_key(
    ctx: &ThreadCtx,
    kind: EventKind,
    loc: LocId,
    obj: ObjId,
    mk: MemberKind,
    member: StrId,
) {
    session::with(|s| {
        let key = s.key(obj, mk, member);
        s.emit(ctx.actor, kind, loc, key.0, 0);
    });
}

// ---------------------------------------------------------------------------
// Code tables.

/// The table of the frame's code for the current recording, built on first
/// sight.
pub fn ensure_info<'f>(py: Python<'_>, f: Frame<'f>) -> Option<&'f CodeInfo> {
    let gen = session::generation();
    if let Some(i) = f.info() {
        if i.generation == gen {
            return Some(i);
        }
    }
    build_info(&f.code(py), gen);
    f.info().filter(|i| i.generation == gen)
}

fn caller_info<'f>(py: Python<'_>, c: Caller<'f>) -> Option<&'f CodeInfo> {
    let gen = session::generation();
    if let Some(i) = c.info() {
        if i.generation == gen {
            return Some(i);
        }
    }
    build_info(&c.code(py), gen);
    c.info().filter(|i| i.generation == gen)
}

fn build_info(code: &Bound<'_, PyAny>, gen: u64) {
    if gen == 0 {
        return;
    }
    let text = |name: &str| -> String {
        code.getattr(name)
            .and_then(|v| v.extract::<String>())
            .unwrap_or_default()
    };
    let file = text("co_filename");
    let qualname = text("co_qualname");
    let addr = code.as_ptr() as usize;
    let Some((traced, role, sync_lib)) = session::with(|s| {
        (
            s.filter.traces(&file),
            s.code_roles.get(&addr).copied().unwrap_or(Role::None),
            s.sync_lib_files.contains(&file),
        )
    }) else {
        return;
    };
    let (instrs, names): (Box<[Instr]>, Vec<String>) = if traced {
        let bytes: Vec<u8> = code
            .getattr("co_code")
            .and_then(|b| b.extract())
            .unwrap_or_default();
        let names: Vec<String> = code
            .getattr("co_names")
            .and_then(|t| t.extract())
            .unwrap_or_default();
        (crate::decode::decode(&bytes), names)
    } else {
        (Box::new([]), Vec::new())
    };
    let Some(info) = session::with(|s| {
        let (file_id, func_id) = if traced {
            (s.string(&file), s.string(&qualname))
        } else {
            (StrId(0), StrId(0))
        };
        CodeInfo {
            generation: gen,
            traced,
            role,
            sync_lib,
            file: file_id,
            function: func_id,
            dict_name: names.iter().position(|n| n == "__dict__").map(|i| i as u32),
            file_name: file,
            qualname,
            instrs,
            names: names.iter().map(|n| s.string(n)).collect(),
        }
    }) else {
        return;
    };
    cpython::set_code_info(code, info);
}

/// Location of a traced instruction, interned on first use.
fn instr_loc(info: &CodeInfo, ins: &Instr, line: impl FnOnce() -> u32, idx: usize) -> LocId {
    let cached = ins.loc.get();
    if cached != 0 {
        return LocId(cached - 1);
    }
    let loc = CodeLoc {
        file: info.file,
        line: line(),
        function: info.function,
        offset: (idx * 2) as u32,
    };
    let id = session::with(|s| s.loc(loc)).unwrap_or_default();
    ins.loc.set(id.0 + 1);
    id
}

/// Location of an instruction in a frame that is not being reported (a
/// caller), traced or not.
fn caller_loc(py: Python<'_>, c: Caller<'_>) -> LocId {
    let Some(info) = caller_info(py, c) else {
        return LocId::default();
    };
    if info.traced {
        if let Some(ins) = info.instrs.get(c.index) {
            return instr_loc(
                info,
                ins,
                || cpython::code_line(&c.code(py), c.index),
                c.index,
            );
        }
    }
    let line = cpython::code_line(&c.code(py), c.index);
    session::with(|s| {
        let loc = CodeLoc {
            file: s.string(&info.file_name),
            line,
            function: s.string(&info.qualname),
            offset: (c.index * 2) as u32,
        };
        s.loc(loc)
    })
    .unwrap_or_default()
}

/// The user's call site of a recognized standard-library function, or
/// `None` when the call comes from inside `threading`/`queue` (an
/// implementation detail of another primitive).
fn user_call_site(py: Python<'_>, f: Frame<'_>) -> Option<LocId> {
    let mut c = f.caller()?;
    loop {
        let info = caller_info(py, c)?;
        if info.role.passes_through() {
            c = c.caller()?;
            continue;
        }
        if info.sync_lib {
            return None;
        }
        return Some(caller_loc(py, c));
    }
}

/// Location of the first line of a code object.
pub fn code_entry_loc(py: Python<'_>, code: &Bound<'_, PyAny>) -> LocId {
    let file: String = code
        .getattr("co_filename")
        .and_then(|v| v.extract())
        .unwrap_or_default();
    let func: String = code
        .getattr("co_qualname")
        .and_then(|v| v.extract())
        .unwrap_or_default();
    let line: u32 = code
        .getattr("co_firstlineno")
        .and_then(|v| v.extract())
        .unwrap_or(0);
    let _ = py;
    session::with(|s| {
        let loc = CodeLoc {
            file: s.string(&file),
            line,
            function: s.string(&func),
            offset: 0,
        };
        s.loc(loc)
    })
    .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Objects.

/// The trace id and kind of `obj`, registering it on first sight; `None`
/// for objects that are never recorded.
fn object(
    py: Python<'_>,
    f: Option<Frame<'_>>,
    obj: &Bound<'_, PyAny>,
) -> Option<(ObjId, ObjKind)> {
    if naming::is_immutable(py, obj) {
        return None;
    }
    let addr = obj.as_ptr() as usize;
    let seen = session::with(|s| s.lookup(addr).map(|o| o.map(|id| (id, s.kind_of(id)))))?;
    if let Some(known) = seen {
        return known;
    }
    let class = naming::classify(py, obj);
    match class {
        Class::Skip => return None,
        Class::Module => {
            let file: Option<String> = obj.getattr("__file__").ok().and_then(|f| f.extract().ok());
            let traced = match file {
                Some(file) => session::with(|s| s.filter.traces(&file)).unwrap_or(false),
                None => false,
            };
            if !traced {
                session::with(|s| s.ignore(obj));
                return None;
            }
        }
        _ => {}
    }
    let label = naming::label(py, f, obj, class);
    let tn = naming::type_name(obj);
    let kind = class.obj_kind();
    session::with(|s| (s.register(obj, kind, &tn, &label), kind))
}

/// The id of a module namespace (a globals dict).
fn globals_object(obj: &Bound<'_, PyAny>) -> Option<ObjId> {
    let addr = obj.as_ptr() as usize;
    if let Some(Some(id)) = session::with(|s| s.lookup(addr))? {
        return Some(id);
    }
    let label = naming::globals_label(obj);
    session::with(|s| s.register(obj, ObjKind::Module, "module", &label))
}

fn intern_name(name: &Bound<'_, PyAny>) -> Option<StrId> {
    let s = name.cast::<PyString>().ok()?.to_str().ok()?.to_owned();
    session::with(|sess| sess.string(&s))
}

/// The key of `obj.<name>`, registering the object on first sight. An
/// attribute of a module is a global of that module.
fn attr_key(py: Python<'_>, f: Frame<'_>, obj: &Bound<'_, PyAny>, name: StrId) -> Option<KeyId> {
    let (id, k) = object(py, Some(f), obj)?;
    if k == ObjKind::Module {
        let d = obj.getattr("__dict__").ok()?;
        let gid = globals_object(&d)?;
        return session::with(|s| s.key(gid, MemberKind::Global, name));
    }
    session::with(|s| s.key(id, MemberKind::Attr, name))
}

fn attr_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    obj: &Bound<'_, PyAny>,
    name: StrId,
) {
    if let Some(key) = attr_key(py, f, obj, name) {
        emit(ctx, kind, loc, key.0, 0);
    }
}

/// An attribute or cell access through the instruction's inline cache.
fn cached_access(
    ctx: &ThreadCtx,
    ins: &Instr,
    loc: LocId,
    kind: EventKind,
    obj: &Bound<'_, PyAny>,
    slow: impl FnOnce() -> Option<KeyId>,
) {
    let addr = obj.as_ptr() as usize;
    let key = if ins.cached_obj.get() == addr {
        KeyId(ins.cached_key.get())
    } else {
        let Some(key) = slow() else { return };
        // Only registered (kept-alive) objects yield a key.
        ins.cached_obj.set(addr);
        ins.cached_key.set(key.0);
        key
    };
    emit(ctx, kind, loc, key.0, 0);
}

fn is_container(k: ObjKind) -> bool {
    matches!(
        k,
        ObjKind::List
            | ObjKind::Dict
            | ObjKind::Set
            | ObjKind::Deque
            | ObjKind::ByteArray
            | ObjKind::Container
    )
}

/// The key of `container[key]`: an item of a dict or sequence, the whole
/// sequence for a slice, an attribute for an instance's `__dict__`, a global
/// for a module namespace.
fn item_key(
    py: Python<'_>,
    f: Frame<'_>,
    container: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
) -> Option<KeyId> {
    if naming::is_immutable(py, container) {
        return None;
    }
    let addr = container.as_ptr() as usize;
    if let Some(Some(owner)) = session::with(|s| s.dict_owner(addr)) {
        // `obj.__dict__['a']` is `obj.a`.
        let name = intern_name(key)?;
        return session::with(|s| s.key(owner, MemberKind::Attr, name));
    }
    let (id, k) = object(py, Some(f), container)?;
    let member = match k {
        ObjKind::Module => {
            let name = intern_name(key)?;
            return session::with(|s| s.key(id, MemberKind::Global, name));
        }
        ObjKind::List | ObjKind::Deque | ObjKind::ByteArray => match key.extract::<i64>() {
            Ok(mut i) => {
                if i < 0 {
                    i += container.len().map(|n| n as i64).unwrap_or(0);
                }
                Some(i.to_string())
            }
            Err(_) => None, // a slice: the whole sequence
        },
        _ => Some(naming::key_text(key)),
    };
    session::with(|s| {
        let (mk, m) = match &member {
            Some(m) => (MemberKind::Item, s.string(m)),
            None => (MemberKind::Whole, s.string("")),
        };
        s.key(id, mk, m)
    })
}

fn item_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
) {
    if let Some(k) = item_key(py, f, container, key) {
        emit(ctx, kind, loc, k.0, 0);
    }
}

/// Where an opcode event happens: the thread, the frame and the location.
#[derive(Clone, Copy)]
struct At<'a, 'f, 'py> {
    py: Python<'py>,
    ctx: &'a ThreadCtx,
    f: Frame<'f>,
    loc: LocId,
}

/// A subscript through the instruction's inline cache: hit when both the
/// container and the key object are the ones seen last time. Only keys that
/// cannot be freed while recording are cached: small non-negative ints
/// (interpreter singletons) and strings, which are then kept alive.
fn cached_item_access(
    at: At<'_, '_, '_>,
    ins: &Instr,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
    key: &Bound<'_, PyAny>,
) {
    let At { py, ctx, f, loc } = at;
    let caddr = container.as_ptr() as usize;
    let kaddr = key.as_ptr() as usize;
    if ins.cached_obj.get() == caddr && ins.cached_item.get() == kaddr {
        emit(ctx, kind, loc, ins.cached_key.get(), 0);
        return;
    }
    let Some(k) = item_key(py, f, container, key) else {
        return;
    };
    emit(ctx, kind, loc, k.0, 0);
    let registered = session::with(|s| {
        matches!(s.lookup(caddr), Some(Some(_))) || s.dict_owner(caddr).is_some()
    })
    .unwrap_or(false);
    if registered && naming::is_stable_key(py, key) {
        session::with(|s| s.keep_alive(key));
        ins.cached_obj.set(caddr);
        ins.cached_item.set(kaddr);
        ins.cached_key.set(k.0);
    }
}

fn whole_key(ctx: &ThreadCtx, kind: EventKind, loc: LocId, id: ObjId) {
    session::with(|s| {
        let empty = s.string("");
        let key = s.key(id, MemberKind::Whole, empty);
        s.emit(ctx.actor, kind, loc, key.0, 0);
    });
}

fn whole_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    kind: EventKind,
    container: &Bound<'_, PyAny>,
) {
    let Some((id, k)) = object(py, Some(f), container) else {
        return;
    };
    if is_container(k) {
        whole_key(ctx, kind, loc, id);
    }
}

/// Iterating reads the whole container; a dict view reads its dict.
fn iter_access(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, loc: LocId, obj: &Bound<'_, PyAny>) {
    if naming::is_immutable(py, obj) {
        return;
    }
    let tn = naming::type_name(obj);
    if matches!(tn.as_str(), "dict_keys" | "dict_values" | "dict_items") {
        if let Ok(m) = obj.getattr("mapping") {
            whole_access(py, ctx, f, loc, EventKind::Read, &m);
        }
        return;
    }
    whole_access(py, ctx, f, loc, EventKind::Read, obj);
}

fn global_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    info: &CodeInfo,
    loc: LocId,
    kind: EventKind,
    idx: usize,
) {
    let Some(g) = f.globals(py) else { return };
    let Some(&name) = info.names.get(idx) else {
        return;
    };
    if kind == EventKind::Read {
        // A builtin (`len`) is not a global; nor are definitions.
        let Some(n) = f.name(py, idx) else { return };
        let Ok(d) = g.cast::<PyDict>() else { return };
        match d.get_item(n) {
            Ok(Some(v)) if !naming::is_definition(py, &v) => {}
            _ => return,
        }
    }
    if let Some(gid) = globals_object(&g) {
        emit_key(ctx, kind, loc, gid, MemberKind::Global, name);
    }
}

/// The key of the closure cell in fast local `idx`, registering the cell
/// (labelled with its variable and owning function) on first sight.
fn cell_key(
    py: Python<'_>,
    f: Frame<'_>,
    info: &CodeInfo,
    idx: usize,
    cell: &Bound<'_, PyAny>,
) -> Option<KeyId> {
    // Named `count in make_counter`: the variable and the function that
    // owns it (for a free variable, the enclosing function:
    // `outer.<locals>.inner` → `outer`), the same from either side.
    let owner = match info.qualname.rsplit_once(".<locals>.") {
        Some((outer, _)) if f.is_free_var(idx) => outer.to_string(),
        _ => info.qualname.clone(),
    };
    let var = cpython::code_localsplusnames(&f.code(py))
        .and_then(|t| t.get_item(idx).ok())
        .map(|n| n.to_string())?;
    let name = format!("{var} in {owner}");
    let addr = cell.as_ptr() as usize;
    let id = match session::with(|s| s.lookup(addr)).flatten() {
        Some(Some(id)) => id,
        Some(None) => return None,
        None => session::with(|s| s.register(cell, ObjKind::Cell, "cell", &name))?,
    };
    session::with(|s| {
        let member = s.string(&name);
        s.key(id, MemberKind::Cell, member)
    })
}

fn cell_access(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    info: &CodeInfo,
    ins: &Instr,
    loc: LocId,
    kind: EventKind,
) {
    let idx = ins.arg as usize;
    let Some(cell) = f.local(py, idx) else { return };
    if naming::classify(py, &cell) != Class::Cell {
        return;
    }
    cached_access(ctx, ins, loc, kind, &cell, || {
        cell_key(py, f, info, idx, &cell)
    });
}

// ---------------------------------------------------------------------------
// Locks.

fn lock_of(py: Python<'_>, f: Option<Frame<'_>>, obj: &Bound<'_, PyAny>) -> Option<(ObjId, bool)> {
    let (id, k) = object(py, f, obj)?;
    match k {
        ObjKind::Lock => Some((id, false)),
        ObjKind::RLock => Some((id, true)),
        _ => None,
    }
}

fn emit_acquire(ctx: &ThreadCtx, lock: ObjId, reentrant: bool, loc: LocId) {
    session::with(|s| {
        let depth = s.lock_acquired(lock, reentrant);
        s.emit(ctx.actor, EventKind::LockAcquire, loc, lock.0, depth as u64);
    });
}

fn emit_release(ctx: &ThreadCtx, lock: ObjId, loc: LocId) {
    session::with(|s| {
        let depth = s.lock_released(lock);
        s.emit(ctx.actor, EventKind::LockRelease, loc, lock.0, depth as u64);
    });
}

fn resolve_pending(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(p) = ctx.pending.get() else { return };
    if p.frame != f.addr() {
        return;
    }
    ctx.pending.set(None);
    if f.stack_depth() != p.depth {
        return; // the call raised: we are in a handler
    }
    match p.what {
        PendingOp::Acquire { lock, reentrant } => {
            if f.peek_is_true(0) {
                emit_acquire(ctx, lock, reentrant, p.loc);
            }
        }
        PendingOp::QueueGet { queue } => {
            let Some(item) = f.peek(py, 0) else { return };
            let addr = item.as_ptr() as usize;
            session::with(|s| {
                if let Some(token) = s.queue_get(queue, addr) {
                    s.emit(ctx.actor, EventKind::QueueGet, p.loc, queue.0, token);
                }
            });
        }
    }
}

fn clear_pending_in(ctx: &ThreadCtx, f: Frame<'_>) {
    if let Some(p) = ctx.pending.get() {
        if p.frame == f.addr() {
            ctx.pending.set(None);
        }
    }
}

// ---------------------------------------------------------------------------
// Events.

pub fn on_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(info) = ensure_info(py, f) else {
        return;
    };
    f.set_trace_flags(false, info.traced);
    if info.role != Role::None {
        sync_call(py, ctx, f, info.role);
    }
}

pub fn on_return(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, retval: Option<&Bound<'_, PyAny>>) {
    clear_pending_in(ctx, f);
    let Some(info) = ensure_info(py, f) else {
        return;
    };
    if info.role != Role::None {
        sync_return(py, ctx, f, info.role, retval);
    }
}

pub fn on_opcode(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(info) = ensure_info(py, f) else {
        return;
    };
    if !info.traced {
        f.set_trace_flags(false, false);
        return;
    }
    let idx = f.instr_index();
    let Some(ins) = info.instrs.get(idx) else {
        return;
    };
    if ins.post_call {
        resolve_pending(py, ctx, f);
    }
    if ins.action == Action::Invisible {
        return;
    }
    let loc = instr_loc(info, ins, || f.lineno(), idx);
    let arg = ins.arg as usize;
    let peek = |n| f.peek(py, n);
    use EventKind::{Read, Write};
    match ins.action {
        Action::Invisible => {}
        Action::LoadAttr | Action::StoreAttr | Action::DeleteAttr => {
            let Some(obj) = peek(0) else { return };
            let Some(&name) = info.names.get(arg) else {
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
            match object(py, Some(f), &container) {
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
        Action::Call => on_precall(py, ctx, f, loc, arg),
        Action::BeforeWith => {
            ctx.pending.set(None);
            let Some(obj) = peek(0) else { return };
            if let Some((lock, reentrant)) = lock_of(py, Some(f), &obj) {
                // BEFORE_WITH replaces the manager by (exit, result).
                ctx.pending.set(Some(Pending {
                    frame: f.addr(),
                    depth: f.stack_depth() + 1,
                    what: PendingOp::Acquire { lock, reentrant },
                    loc,
                }));
            }
        }
        Action::WithExceptStart => {
            // Stack: exit, lasti, previous exception, exception.
            let Some(exit) = peek(3) else { return };
            if let Some((def, Some(owner))) = cpython::builtin_method(&exit) {
                if session::with(|s| s.calls.method(def)).flatten() == Some(CallRole::LockRelease) {
                    if let Some((lock, _)) = lock_of(py, Some(f), &owner) {
                        emit_release(ctx, lock, loc);
                    }
                }
            }
        }
    }
}

/// `obj.__dict__`: remember which instance the dict belongs to.
fn note_dict_owner(py: Python<'_>, f: Frame<'_>, obj: &Bound<'_, PyAny>) {
    let Some((owner, k)) = object(py, Some(f), obj) else {
        return;
    };
    if k == ObjKind::Module {
        return;
    }
    if let Ok(d) = obj.getattr("__dict__") {
        session::with(|s| s.set_dict_owner(&d, owner));
    }
}

/// PRECALL: stack is `[NULL | method, callable | self, args...]` (3.11).
fn on_precall(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, loc: LocId, nargs: usize) {
    ctx.pending.set(None);
    let x = f.peek(py, nargs + 1);
    let y = f.peek(py, nargs);
    let (callable, method_form) = match (x, y) {
        (Some(x), _) => (x, true),
        (None, Some(y)) => (y, false),
        (None, None) => return,
    };
    let total = if method_form { nargs + 1 } else { nargs };
    let arg = |k: usize| -> Option<Bound<'_, PyAny>> {
        if k >= total {
            return None;
        }
        f.peek(py, total - 1 - k)
    };
    let (role, self_obj, rest) = match cpython::builtin_method(&callable) {
        Some((def, bound)) => {
            let Some(role) = session::with(|s| s.calls.method(def)).flatten() else {
                return;
            };
            match bound {
                Some(b) if !b.is_instance_of::<pyo3::types::PyModule>() => (role, Some(b), 0),
                Some(_) => (role, None, 0),
                None => (role, arg(0), 1),
            }
        }
        None if cpython::is_slot_wrapper(&callable) => {
            let addr = callable.as_ptr() as usize;
            let Some(role) = session::with(|s| s.calls.identity(addr)).flatten() else {
                return;
            };
            (role, None, 0)
        }
        None => return,
    };
    use EventKind::{Read, Write};
    match role {
        CallRole::Read | CallRole::Write => {
            if let Some(s) = self_obj {
                let kind = if role == CallRole::Read { Read } else { Write };
                whole_access(py, ctx, f, loc, kind, &s);
            }
        }
        CallRole::ItemRead | CallRole::ItemWrite => {
            if let (Some(s), Some(k)) = (self_obj, arg(rest)) {
                let kind = if role == CallRole::ItemRead {
                    Read
                } else {
                    Write
                };
                item_access(py, ctx, f, loc, kind, &s, &k);
            }
        }
        CallRole::ArgRead => {
            if let Some(a) = arg(rest) {
                iter_access(py, ctx, f, loc, &a);
            }
        }
        CallRole::GetAttr | CallRole::SetAttr | CallRole::DelAttr => {
            if let (Some(o), Some(n)) = (arg(rest), arg(rest + 1)) {
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
            if let Some((lock, reentrant)) = self_obj.and_then(|s| lock_of(py, Some(f), &s)) {
                // After CALL the callable, self/NULL and the arguments are
                // replaced by the result.
                ctx.pending.set(Some(Pending {
                    frame: f.addr(),
                    depth: f.stack_depth() - (nargs as isize + 2) + 1,
                    what: PendingOp::Acquire { lock, reentrant },
                    loc,
                }));
            }
        }
        CallRole::QueuePut => {
            let (Some(q), Some(item)) = (self_obj, arg(rest)) else {
                return;
            };
            let Some((queue, _)) = object(py, Some(f), &q) else {
                return;
            };
            let addr = item.as_ptr() as usize;
            session::with(|s| {
                let token = s.queue_put(queue, addr);
                s.emit(ctx.actor, EventKind::QueuePut, loc, queue.0, token);
            });
        }
        CallRole::QueueGet => {
            let Some(q) = self_obj else { return };
            let Some((queue, _)) = object(py, Some(f), &q) else {
                return;
            };
            ctx.pending.set(Some(Pending {
                frame: f.addr(),
                depth: f.stack_depth() - (nargs as isize + 2) + 1,
                what: PendingOp::QueueGet { queue },
                loc,
            }));
        }
        CallRole::LockRelease => {
            if let Some((lock, _)) = self_obj.and_then(|s| lock_of(py, Some(f), &s)) {
                emit_release(ctx, lock, loc);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Recognized standard-library functions.

fn sync_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, role: Role) {
    let Some(this) = f.local(py, 0) else { return };
    match role {
        Role::ThreadStart => thread_start(py, ctx, f, &this),
        Role::EventSet | Role::EventClear => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            let kind = if role == Role::EventSet {
                EventKind::EventSet
            } else {
                EventKind::EventClear
            };
            emit(ctx, kind, loc, id.0, 0);
        }
        Role::CondExit => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            if let Some((lock, _)) = cond_lock(py, &this) {
                emit_release(ctx, lock, loc);
            }
        }
        Role::CondWait => {
            let Some(loc) = user_call_site(py, f) else {
                ctx.cond_waits.borrow_mut().push(CondWaitState {
                    frame: f.addr(),
                    lock: None,
                });
                return;
            };
            let Some((cond, _)) = object(py, None, &this) else {
                return;
            };
            let lock = cond_lock(py, &this);
            emit(ctx, EventKind::CondWait, loc, cond.0, 0);
            let saved = lock.map(|(lock, _)| {
                let depth = session::with(|s| {
                    let d = s.lock_released_fully(lock);
                    s.emit(ctx.actor, EventKind::LockRelease, loc, lock.0, 1);
                    d
                })
                .unwrap_or(1);
                (lock, depth)
            });
            ctx.cond_waits.borrow_mut().push(CondWaitState {
                frame: f.addr(),
                lock: saved,
            });
        }
        Role::CondNotify | Role::CondNotifyAll => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((cond, _)) = object(py, None, &this) else {
                return;
            };
            if role == Role::CondNotify {
                let n: u64 = f.local(py, 1).and_then(|n| n.extract().ok()).unwrap_or(1);
                emit(ctx, EventKind::CondNotify, loc, cond.0, n);
            } else {
                emit(ctx, EventKind::CondNotifyAll, loc, cond.0, 0);
            }
        }
        Role::SemRelease => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            emit(ctx, EventKind::SemRelease, loc, id.0, 0);
        }
        Role::BarrierWait => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            let parties: u64 = this
                .getattr("parties")
                .and_then(|p| p.extract())
                .unwrap_or(1);
            let Some(gen) = session::with(|s| {
                let g = s.barrier_arrive(id, parties);
                s.emit(ctx.actor, EventKind::BarrierArrive, loc, id.0, g);
                g
            }) else {
                return;
            };
            ctx.barrier_waits.borrow_mut().push((f.addr(), id, gen));
        }
        // Futures hand results between the executor's threads and the
        // caller; modelled as an event set by the producer side and waited
        // on by the consumer side. Recorded wherever they are called from
        // (the executor machinery calls them), at the caller's location.
        Role::FutureSubmit | Role::FutureRun | Role::FutureSet => {
            let future = match role {
                Role::FutureSubmit => f.local(py, 1),
                Role::FutureRun => this.getattr("future").ok(),
                _ => Some(this.clone()),
            };
            let Some(future) = future else { return };
            let Some((id, _)) = object(py, None, &future) else {
                return;
            };
            let loc = future_site(py, f);
            let kind = if role == Role::FutureRun {
                EventKind::EventWait
            } else {
                EventKind::EventSet
            };
            emit(ctx, kind, loc, id.0, 0);
        }
        Role::FutureResult => {
            if let Some((id, _)) = object(py, None, &this) {
                ctx.future_calls.borrow_mut().push((f.addr(), id));
            }
        }
        Role::QueuePut => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some(item) = f.local(py, 1) else { return };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            let addr = item.as_ptr() as usize;
            session::with(|s| {
                let token = s.queue_put(id, addr);
                s.emit(ctx.actor, EventKind::QueuePut, loc, id.0, token);
            });
        }
        _ => {}
    }
}

fn sync_return(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    role: Role,
    retval: Option<&Bound<'_, PyAny>>,
) {
    let returned_true = retval
        .map(|r| r.is_truthy().unwrap_or(false))
        .unwrap_or(false);
    match role {
        Role::ThreadBootstrapInner => {
            let failed = session::with(|s| s.has_failed(ctx.actor)).unwrap_or(false);
            emit(
                ctx,
                EventKind::ActorExit,
                ctx.start_loc.get(),
                ctx.actor.0,
                failed as u64,
            );
            return;
        }
        Role::CondWait => {
            let state = {
                let mut waits = ctx.cond_waits.borrow_mut();
                let pos = waits.iter().rposition(|w| w.frame == f.addr());
                pos.map(|p| waits.remove(p))
            };
            let Some(CondWaitState {
                lock: Some((lock, depth)),
                ..
            }) = state
            else {
                return;
            };
            let Some(this) = f.local(py, 0) else { return };
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((cond, _)) = object(py, None, &this) else {
                return;
            };
            session::with(|s| {
                s.emit(
                    ctx.actor,
                    EventKind::CondWake,
                    loc,
                    cond.0,
                    returned_true as u64,
                );
                s.lock_restore(lock, depth);
                s.emit(ctx.actor, EventKind::LockAcquire, loc, lock.0, 1);
            });
            return;
        }
        Role::FutureResult => {
            // `result` sets `self = None` before returning: use the future
            // remembered when the call started.
            let entry = {
                let mut calls = ctx.future_calls.borrow_mut();
                let pos = calls.iter().rposition(|w| w.0 == f.addr());
                pos.map(|p| calls.remove(p))
            };
            let Some((_, id)) = entry else { return };
            if retval.is_none() {
                return;
            }
            let loc = future_site(py, f);
            emit(ctx, EventKind::EventWait, loc, id.0, 0);
            return;
        }
        Role::BarrierWait => {
            let entry = {
                let mut waits = ctx.barrier_waits.borrow_mut();
                let pos = waits.iter().rposition(|w| w.0 == f.addr());
                pos.map(|p| waits.remove(p))
            };
            let Some((_, id, gen)) = entry else { return };
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let kind = if retval.is_some() {
                EventKind::BarrierLeave
            } else {
                EventKind::BarrierAbort
            };
            emit(ctx, kind, loc, id.0, gen);
            return;
        }
        _ => {}
    }
    let Some(retval) = retval else { return };
    let Some(this) = f.local(py, 0) else { return };
    match role {
        Role::ThreadJoin => thread_join(py, ctx, f, &this),
        Role::EventWait => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            let kind = if returned_true {
                EventKind::EventWait
            } else {
                EventKind::EventWaitTimeout
            };
            emit(ctx, kind, loc, id.0, 0);
        }
        Role::CondEnter => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            if let Some((lock, reentrant)) = cond_lock(py, &this) {
                emit_acquire(ctx, lock, reentrant, loc);
            }
        }
        Role::SemAcquire => {
            if !returned_true {
                return;
            }
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            emit(ctx, EventKind::SemAcquire, loc, id.0, 0);
        }
        Role::QueueGet => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, None, &this) else {
                return;
            };
            let addr = retval.as_ptr() as usize;
            session::with(|s| {
                if let Some(token) = s.queue_get(id, addr) {
                    s.emit(ctx.actor, EventKind::QueueGet, loc, id.0, token);
                }
            });
        }
        _ => {}
    }
}

/// The first caller outside the futures machinery (the user's `submit`
/// or `result` line), else the immediate caller.
fn future_site(py: Python<'_>, f: Frame<'_>) -> LocId {
    let Some(first) = f.caller() else {
        return LocId::default();
    };
    let mut c = first;
    for _ in 0..4 {
        match caller_info(py, c) {
            Some(info) if info.traced => return caller_loc(py, c),
            _ => match c.caller() {
                Some(next) => c = next,
                None => break,
            },
        }
    }
    caller_loc(py, first)
}

/// The lock under a `threading.Condition`.
fn cond_lock(py: Python<'_>, cond: &Bound<'_, PyAny>) -> Option<(ObjId, bool)> {
    let lock = cond.getattr("_lock").ok()?;
    lock_of(py, None, &lock)
}

fn thread_start(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, thread: &Bound<'_, PyAny>) {
    let loc = f.caller().map(|c| caller_loc(py, c)).unwrap_or_default();
    let name: String = thread
        .getattr("name")
        .and_then(|n| n.extract())
        .unwrap_or_default();
    session::with(|s| {
        if s.thread_actor(thread).is_some() {
            return;
        }
        let at = s.events_written();
        let child = s.new_actor(&name, Some(ctx.actor), Some(at));
        s.bind_thread(thread, child);
        s.emit(ctx.actor, EventKind::Spawn, loc, child.0, 0);
    });
}

fn thread_join(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, thread: &Bound<'_, PyAny>) {
    let alive = thread
        .call_method0("is_alive")
        .and_then(|a| a.is_truthy())
        .unwrap_or(true);
    if alive {
        return;
    }
    let Some(child) = session::with(|s| s.thread_actor(thread)).flatten() else {
        return;
    };
    let loc = f.caller().map(|c| caller_loc(py, c)).unwrap_or_default();
    emit(ctx, EventKind::Join, loc, child.0, 0);
}
