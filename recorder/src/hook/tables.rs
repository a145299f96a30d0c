//! Code tables and locations: the decoded table of each code object (built
//! on first sight, per recording, from the previous recording's table when
//! the configuration is the same, see `session::config`) and the trace's
//! location ids for instructions, callers and function entries.

use std::sync::atomic::AtomicU32;
use std::sync::Arc;

use std::sync::atomic::Ordering::Relaxed;

use super::*;

/// The table of the frame's code for the current recording, built on first
/// sight.
pub fn ensure_info(py: Python<'_>, f: Frame<'_>) -> Option<Arc<CodeInfo>> {
    let gen = session::generation();
    if let Some(i) = f.info() {
        if i.generation == gen {
            return Some(i);
        }
    }
    build_info(&f.code(py), gen);
    f.info().filter(|i| i.generation == gen)
}

pub(super) fn caller_info(py: Python<'_>, c: Caller<'_>) -> Option<Arc<CodeInfo>> {
    let gen = session::generation();
    if let Some(i) = c.info() {
        if i.generation == gen {
            return Some(i);
        }
    }
    build_info(&c.code(py), gen);
    c.info().filter(|i| i.generation == gen)
}

/// Method names through which untraced code can reach a lock or a C queue
/// (`lock.acquire()`, `cond._release_save()`, `q.put(x)`), besides `with`.
const SYNC_NAMES: &[&str] = &[
    "acquire",
    "release",
    "__enter__",
    "__exit__",
    "_acquire_restore",
    "_release_save",
    "put",
    "get",
    "put_nowait",
    "get_nowait",
];

/// Whether code that is not traced could synchronize: it has a `with`
/// statement or names one of `SYNC_NAMES`. A lock method reached only
/// through an alias (`acq = lock.acquire` made elsewhere) is missed; the
/// price of checking every instruction of every library instead is a
/// recording several times slower (measured on a pytest run).
fn may_synchronize(code: &Bound<'_, PyAny>, instrs: &[Instr]) -> bool {
    if instrs.iter().any(|i| i.action == Action::BeforeWith) {
        return true;
    }
    let names: Vec<String> = code
        .getattr("co_names")
        .and_then(|t| t.extract())
        .unwrap_or_default();
    names.iter().any(|n| SYNC_NAMES.contains(&n.as_str()))
}

pub(super) fn build_info(code: &Bound<'_, PyAny>, gen: u64) {
    if gen == 0 {
        return;
    }
    let config = session::config();
    if let Some(old) = cpython::code_info(code).filter(|i| i.config == config) {
        if renew_info(code, &old, gen) {
            return;
        }
    }
    let text = |name: &str| -> String {
        code.getattr(name)
            .and_then(|v| v.extract::<String>())
            .unwrap_or_default()
    };
    let file = text("co_filename");
    let qualname = text("co_qualname");
    let first_line: u32 = code
        .getattr("co_firstlineno")
        .and_then(|v| v.extract())
        .unwrap_or(0);
    let addr = code.as_ptr() as usize;
    let Some((traced, role, sync_lib, mut intercept, controlled)) = session::with(|s| {
        let traced = s.filter.traces(&file);
        let role = s.tables.code_roles.get(addr, &file, &qualname, first_line);
        (
            traced,
            role,
            s.tables.sync_lib_files.contains(&file),
            !traced && (s.intercepts(&file) || role == Role::QueueUser),
            s.controlled,
        )
    }) else {
        return;
    };
    let (instrs, names): (Box<[Instr]>, Vec<String>) = if intercept {
        let instrs = crate::cpython::decode_intercept(code);
        // A recording only needs the code that can take or drop a lock
        // (a controlled run needs every wait, so it keeps all code).
        if !controlled && !may_synchronize(code, &instrs) {
            intercept = false;
            (Box::new([]) as Box<[Instr]>, Vec::new())
        } else {
            (instrs, Vec::new())
        }
    } else if traced {
        let names: Vec<String> = code
            .getattr("co_names")
            .and_then(|t| t.extract())
            .unwrap_or_default();
        let mut instrs = crate::cpython::decode(code);
        crate::marks::mark(code, &file, gen, &mut instrs);
        (instrs, names)
    } else {
        (Box::new([]), Vec::new())
    };
    // Events of intercepted code (a recording's locks, the C queue
    // operations of either) say where they happened.
    let located = traced || intercept;
    let Some(info) = session::with(|s| {
        let (file_id, func_id) = if located {
            (s.string(&file), s.string(&qualname))
        } else {
            (StrId(0), StrId(0))
        };
        CodeInfo {
            generation: gen,
            config,
            traced,
            intercept,
            role,
            sync_lib,
            file: file_id,
            function: func_id,
            dict_name: names.iter().position(|n| n == "__dict__").map(|i| i as u32),
            file_name: file.into(),
            qualname: qualname.into(),
            instrs,
            names: names.iter().map(|_| AtomicU32::new(0)).collect(),
            name_texts: names.into(),
        }
    }) else {
        return;
    };
    cpython::set_code_info(code, info);
}

/// The table of `code` for the session `gen`, made from `old`, its table
/// of an earlier session with the same configuration: what was decided and
/// decoded stays, ids are interned again, caches start empty and markers
/// are those of this session. False if no session is in progress.
fn renew_info(code: &Bound<'_, PyAny>, old: &CodeInfo, gen: u64) -> bool {
    let mut instrs: Box<[Instr]> = old.instrs.iter().map(Instr::fresh).collect();
    if old.traced {
        crate::marks::mark(code, &old.file_name, gen, &mut instrs);
    }
    let located = old.traced || old.intercept;
    let Some(info) = session::with(|s| {
        let (file, function) = if located {
            (s.string(&old.file_name), s.string(&old.qualname))
        } else {
            (StrId(0), StrId(0))
        };
        CodeInfo {
            generation: gen,
            config: old.config,
            traced: old.traced,
            intercept: old.intercept,
            role: old.role,
            sync_lib: old.sync_lib,
            file,
            function,
            dict_name: old.dict_name,
            file_name: old.file_name.clone(),
            qualname: old.qualname.clone(),
            instrs,
            names: old.name_texts.iter().map(|_| AtomicU32::new(0)).collect(),
            name_texts: old.name_texts.clone(),
        }
    }) else {
        return false;
    };
    cpython::set_code_info(code, info);
    true
}

/// Name `idx` of the code's `co_names`, interned in the table's session
/// on first use (see `CodeInfo::names`).
#[inline]
pub(super) fn name_id(info: &CodeInfo, idx: usize) -> Option<StrId> {
    let cell = info.names.get(idx)?;
    let known = cell.load(Relaxed);
    if known != 0 {
        return Some(StrId(known - 1));
    }
    let text = info.name_texts.get(idx)?;
    let id = session::with_gen(info.generation, |s| s.string(text))?;
    cell.store(id.0 + 1, Relaxed);
    Some(id)
}

/// Where the current thread is, in its innermost traced frame that already
/// has a table (none is built here: this runs where decoding cannot, such
/// as in a tracer being freed).
pub(super) fn innermost_traced_loc() -> Option<LocId> {
    let py = crate::cpython::gil_held();
    let gen = session::generation();
    let mut found = None;
    cpython::for_each_frame(|f| {
        if found.is_some() {
            return;
        }
        let Some(info) = f.info().filter(|i| i.generation == gen && i.traced) else {
            return;
        };
        let loc = CodeLoc {
            file: info.file,
            line: f.current_line(py),
            function: info.function,
            offset: (f.instr_index() * 2) as u32,
        };
        found = session::with(|s| s.loc(loc));
    });
    found
}

/// Location of a traced instruction, interned on first use.
pub(super) fn instr_loc(
    info: &CodeInfo,
    ins: &Instr,
    line: impl FnOnce() -> u32,
    idx: usize,
) -> LocId {
    let cached = ins.loc.load(Relaxed);
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
    ins.loc.store(id.0 + 1, Relaxed);
    id
}

/// Location of an instruction in a frame that is not being reported (a
/// caller), traced or not.
pub(super) fn caller_loc(py: Python<'_>, c: Caller<'_>) -> LocId {
    let Some(info_ref) = caller_info(py, c) else {
        return LocId::default();
    };
    let info: &CodeInfo = &info_ref;
    if info.traced {
        if let Some(ins) = info.instrs.get(c.instr_index()) {
            return instr_loc(
                info,
                ins,
                || cpython::code_line(&c.code(py), c.instr_index()),
                c.instr_index(),
            );
        }
    }
    let line = cpython::code_line(&c.code(py), c.instr_index());
    session::with(|s| {
        let loc = CodeLoc {
            file: s.string(&info.file_name),
            line,
            function: s.string(&info.qualname),
            offset: (c.instr_index() * 2) as u32,
        };
        s.loc(loc)
    })
    .unwrap_or_default()
}

/// The user's call site of a recognized standard-library function, or
/// `None` when the call comes from inside `threading`/`queue` (an
/// implementation detail of another primitive).
pub(super) fn user_call_site(py: Python<'_>, f: Frame<'_>) -> Option<LocId> {
    let mut c = f.caller()?;
    loop {
        let info = caller_info(py, c)?;
        if info.role.passes_through() {
            c = c.caller()?;
            continue;
        }
        if info.role == Role::TimerRun {
            // The timer actor's own code: its waits are its operations.
            return Some(caller_loc(py, c));
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
