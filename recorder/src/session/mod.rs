//! The state of the one recording in progress: the trace writer, the
//! interning tables that give objects, keys, strings and locations their
//! trace ids, and the bookkeeping of synchronization objects.
//!
//! It lives behind a process-wide mutex. Rule: never call Python while
//! holding it (Python code can switch threads, and the next thread would wait
//! for the mutex while holding the GIL). Callers compute names and reprs
//! first, then lock to intern and write.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use racetrace_formats::{
    ActorDesc, ActorId, ActorKind, CodeLoc, Event, EventKind, Header, KeyDesc, KeyId, LocId,
    MemberKind, ObjId, ObjKind, Outcome, StrId, TraceWriter,
};

use crate::cpython;
use crate::fasthash::IntMap;
use crate::filter::Filter;

mod fork;
mod objects;
mod signals;
mod sync_state;
mod tables;

pub use objects::{epoch, object_died};
pub use tables::{config, StaticTables};

/// Generation of the recording in progress; 0 when not recording. Every
/// recording gets a new one, so hooks and tables left over from an earlier
/// recording recognize that they are stale.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

/// How often buffered events are forced to disk, so a killed process loses
/// at most this much of its run.
const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

#[inline]
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

fn lock() -> MutexGuard<'static, Option<Session>> {
    SESSION.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on the current session, if recording. Objects that died since
/// the last call are forgotten first, before their address can be seen again.
pub fn with<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    // Not recording, or in a forked child whose mutex may be held by a
    // thread that did not survive the fork (see `fork`).
    if generation() == 0 {
        return None;
    }
    let mut guard = lock();
    let s = guard.as_mut()?;
    s.forget_the_dead();
    Some(f(s))
}

/// [`with`], only while the session is the one of generation `gen`: an
/// actor's events go to the session (the controlled run) it belongs to,
/// never to a later one that began while it was still inside a callback
/// (its ids would mean nothing there, or something else).
pub fn with_gen<R>(gen: u64, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    with(|s| (s.generation == gen).then(|| f(s))).flatten()
}

pub struct Session {
    pub generation: u64,
    pub path: String,
    /// The trace file, or a sink for a controlled run whose trace nobody
    /// asked for (`path` empty).
    writer: Option<TraceWriter<Box<dyn Write + Send>>>,
    pub filter: Filter,
    /// What the process recognizes (callables, code objects, files).
    pub tables: Arc<StaticTables>,
    strings: IntMap<String, StrId>,
    locs: IntMap<CodeLoc, LocId>,
    /// The same tables by id, to render locations and labels (reports of
    /// controlled runs).
    string_list: Vec<String>,
    loc_list: Vec<CodeLoc>,
    obj_labels: Vec<StrId>,
    /// Object identity → id. A registered object is either kept alive in
    /// `alive` until the recording ends, or watched through a weak reference
    /// (`watched`) and forgotten when it dies; either way an address never
    /// names two objects under one id.
    objects: IntMap<usize, Option<ObjId>>,
    /// Weak reference address → (object address, the weak reference).
    watched: IntMap<usize, (usize, Py<PyAny>)>,
    obj_kinds: Vec<ObjKind>,
    /// The address each object had when registered (by id): DPOR names the
    /// objects a test's actors share from the start by where they are.
    obj_addrs: Vec<usize>,
    alive: Vec<Py<PyAny>>,
    /// An instance's `__dict__` → the instance, so `obj.__dict__['a']`
    /// names the same key as `obj.a`.
    dict_owner: IntMap<usize, ObjId>,
    keys: IntMap<(u32, u8, u32), KeyId>,
    /// The same keys by id (what DPOR needs to tell whole-object keys).
    key_list: Vec<KeyDesc>,
    /// Objects kept alive only so that inline caches may name them.
    kept: IntMap<usize, ()>,
    /// Thread objects → their actor.
    threads: IntMap<usize, ActorId>,
    next_actor: u32,
    failed_actors: HashSet<u32>,
    /// Actors whose `ActorExit` was written.
    exited_actors: HashSet<u32>,
    lock_depth: IntMap<u32, u32>,
    barrier_arrivals: IntMap<u32, u64>,
    queue_tokens: IntMap<(u32, usize), VecDeque<u64>>,
    next_token: u64,
    /// Queues seen, with how many items each held when first seen.
    queue_initial: IntMap<u32, u32>,
    /// The first exception that escaped a worker thread.
    pub worker_failure: Option<Outcome>,
    /// The first error writing the trace (reported when recording stops).
    pub write_error: Option<String>,
    flushed_at: u64,
    /// Where the recording actor started (used for its exit event too).
    pub main_start_loc: LocId,
    /// A controlled run: lock operations are intercepted in all code but
    /// racetrace's own (`own_dir`).
    pub controlled: bool,
    pub own_dir: String,
    /// Files (string ids) whose contents were described in the trace, or
    /// could not be read; `None` when the trace goes nowhere.
    sourced: Option<HashSet<u32>>,
}

/// Files larger than this are not described (a generated module, not
/// something a person reads line by line).
const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// What `start` needs besides the Python-side tables.
pub struct StartOptions {
    pub path: String,
    pub header: Header,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub tables: Arc<StaticTables>,
    pub controlled: bool,
}

/// Opens the trace and makes the session current. Fails (before anything is
/// traced) if recording is already in progress or the file cannot be created.
pub fn start(opts: StartOptions) -> Result<u64, String> {
    let mut guard = lock();
    if let Some(s) = guard.as_ref() {
        return Err(format!(
            "racetrace is already recording (into {}); recordings cannot be nested",
            s.path
        ));
    }
    let in_memory = opts.path.is_empty();
    let out: Box<dyn Write + Send> = if in_memory {
        Box::new(std::io::sink())
    } else {
        let file = File::create(Path::new(&opts.path)).map_err(|source| {
            let e = racetrace_formats::FormatError::Io {
                file: opts.path.clone(),
                action: "cannot create trace file",
                source,
            };
            format!("cannot record into {}: {e}", opts.path)
        })?;
        Box::new(BufWriter::new(file))
    };
    let mut writer = TraceWriter::new(out, &opts.header)
        .map_err(|e| format!("cannot record into {}: {e}", opts.path))?;
    // The header is on disk from the start: a process that dies before the
    // first flush still leaves a trace that says what ran.
    writer
        .flush()
        .map_err(|e| format!("cannot record into {}: {e}", opts.path))?;
    let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
    tables::set_config(tables::config_key(
        &opts.tables,
        &opts.include,
        &opts.exclude,
        opts.controlled,
    ));
    // Deaths reported for an earlier recording's objects do not concern
    // this one (their weak references are gone with it).
    objects::start_watching();
    *guard = Some(Session {
        generation,
        path: opts.path,
        writer: Some(writer),
        filter: Filter {
            include: opts.include,
            exclude: opts.exclude,
            default_excluded_dirs: opts.tables.excluded_dirs.clone(),
        },
        strings: IntMap::default(),
        locs: IntMap::default(),
        string_list: Vec::new(),
        loc_list: Vec::new(),
        obj_labels: Vec::new(),
        objects: IntMap::default(),
        watched: IntMap::default(),
        obj_kinds: Vec::new(),
        obj_addrs: Vec::new(),
        alive: Vec::new(),
        dict_owner: IntMap::default(),
        keys: IntMap::default(),
        key_list: Vec::new(),
        kept: IntMap::default(),
        threads: IntMap::default(),
        next_actor: 0,
        failed_actors: HashSet::new(),
        exited_actors: HashSet::new(),
        lock_depth: IntMap::default(),
        barrier_arrivals: IntMap::default(),
        queue_tokens: IntMap::default(),
        next_token: 1,
        queue_initial: IntMap::default(),
        worker_failure: None,
        write_error: None,
        flushed_at: 0,
        main_start_loc: LocId(0),
        controlled: opts.controlled,
        own_dir: if opts.controlled {
            opts.tables.own_dir.clone()
        } else {
            String::new()
        },
        tables: opts.tables,
        sourced: (!in_memory).then(HashSet::new),
    });
    fork::install();
    GENERATION.store(generation, Ordering::Release);
    drop(guard);
    if !in_memory {
        signals::install();
        spawn_flusher(generation);
    }
    Ok(generation)
}

/// In a child process made by `fork` while recording, from the Python-level
/// after-fork hook (GIL held): recording has already stopped (the native
/// fork handler cleared the generation); this releases the objects of the
/// parent's session and stops watching deaths. The parent's file is never
/// written or flushed here.
pub fn abandon_after_fork(py: Python<'_>) {
    GENERATION.store(0, Ordering::Release);
    cpython::stop_watching_deaths(py);
    cpython::release_hooks(py);
    drop(fork::release_parked());
}

/// Writes the outcome and closes the trace. Returns the session's objects
/// (to be released by the caller with the GIL) and any write error.
pub fn finish(outcome: Outcome) -> Result<(Vec<Py<PyAny>>, Option<String>), String> {
    let mut guard = lock();
    let Some(mut s) = guard.take() else {
        return Err("racetrace is not recording".to_string());
    };
    GENERATION.store(0, Ordering::Release);
    drop(guard);
    signals::uninstall();
    // Before the objects below are released: their deaths no longer matter.
    cpython::stop_watching_deaths(cpython::gil_held());
    // The interpreter hook goes (3.12+: the monitoring tool is freed).
    cpython::release_hooks(cpython::gil_held());
    let mut error = s.write_error.take();
    if let Some(w) = s.writer.take() {
        if let Err(e) = w.finish(&outcome) {
            error.get_or_insert_with(|| e.to_string());
        }
    }
    let mut objects = std::mem::take(&mut s.alive);
    objects.extend(s.watched.drain().map(|(_, (_, weakref))| weakref));
    Ok((objects, error))
}

/// Forces buffered events to disk every `FLUSH_INTERVAL` while the
/// recording `generation` is in progress. The recording threads never make a
/// system call per event; this thread bounds what a crash can lose. It also
/// closes the trace when a fatal signal arrives (see `signals`).
fn spawn_flusher(generation: u64) {
    let _ = std::thread::Builder::new()
        .name("racetrace-flush".into())
        .spawn(move || {
            signals::flusher_started();
            loop {
                let signal = match signals::pipes() {
                    Some(p) => signals::wait_for_signal(p, FLUSH_INTERVAL.as_millis() as i32),
                    None => {
                        std::thread::sleep(FLUSH_INTERVAL);
                        None
                    }
                };
                if let Some(sig) = signal {
                    close_on_signal(sig);
                    if let Some(p) = signals::pipes() {
                        signals::acknowledge(p);
                    }
                    return;
                }
                let mut guard = lock();
                match guard.as_mut() {
                    Some(s) if s.generation == generation => s.flush_if_new(),
                    _ => return,
                }
            }
        });
}

/// Writes the last chunk and an outcome naming the signal `sig`, which is
/// about to end the process.
fn close_on_signal(sig: i32) {
    let mut guard = lock();
    let Some(mut s) = guard.take() else {
        return;
    };
    GENERATION.store(0, Ordering::Release);
    drop(guard);
    if let Some(w) = s.writer.take() {
        let _ = w.finish(&Outcome::Aborted {
            reason: signals::describe(sig),
        });
    }
    // The session's Python objects cannot be released without the GIL,
    // and the process ends as soon as the signal goes on.
    std::mem::forget(s);
}

impl Session {
    /// Whether the lock operations of `file` are seen although it is not
    /// traced: in a controlled run everywhere but in racetrace itself (the
    /// run must model every wait), in a recording where
    /// `Filter::watches_sync` says so.
    pub fn intercepts(&self, file: &str) -> bool {
        if self.controlled {
            self.own_dir.is_empty() || !file.starts_with(&self.own_dir)
        } else {
            self.filter.watches_sync(file) && !self.tables.sync_lib_files.contains(file)
        }
    }

    fn flush_if_new(&mut self) {
        if let Some(w) = self.writer.as_mut() {
            let n = w.events_written();
            if n != self.flushed_at {
                self.flushed_at = n;
                if let Err(e) = w.flush() {
                    self.write_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    pub fn emit(&mut self, actor: ActorId, kind: EventKind, loc: LocId, target: u32, aux: u64) {
        if kind == EventKind::ActorExit {
            self.exited_actors.insert(actor.0);
        }
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let ev = Event {
            actor,
            kind,
            loc,
            target,
            aux,
        };
        if let Err(e) = w.event(&ev) {
            self.write_error.get_or_insert_with(|| e.to_string());
            // Stop writing: later events would refer to a broken file.
            self.writer = None;
        }
    }

    pub fn events_written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.events_written())
    }

    pub fn string(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.strings.get(s) {
            return id;
        }
        let id = match self.writer.as_mut() {
            Some(w) => w.add_string(s),
            None => StrId(self.strings.len() as u32),
        };
        self.strings.insert(s.to_owned(), id);
        if id.index() == self.string_list.len() {
            self.string_list.push(s.to_owned());
        }
        id
    }

    /// (file, line, function) of a location of this trace.
    pub fn loc_parts(&self, id: LocId) -> Option<(String, u32, String)> {
        let loc = self.loc_list.get(id.index())?;
        code_loc_parts(&self.string_list, loc)
    }

    /// The address an object had when it was registered.
    pub fn addr_of(&self, id: ObjId) -> Option<usize> {
        self.obj_addrs.get(id.index()).copied()
    }

    /// The label of a registered object ("lock_a"), or its type name.
    pub fn label_of(&self, id: ObjId) -> String {
        self.obj_labels
            .get(id.index())
            .and_then(|s| self.string_list.get(s.index()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn loc(&mut self, loc: CodeLoc) -> LocId {
        if let Some(&id) = self.locs.get(&loc) {
            return id;
        }
        let id = match self.writer.as_mut() {
            Some(w) => w.add_loc(loc),
            None => LocId(self.locs.len() as u32),
        };
        self.locs.insert(loc, id);
        if id.index() == self.loc_list.len() {
            self.loc_list.push(loc);
        }
        if self
            .sourced
            .as_mut()
            .is_some_and(|seen| seen.insert(loc.file.0))
        {
            self.describe_source(loc.file);
        }
        id
    }

    /// Writes what the source file `file` holds now (its digest and each
    /// line's), so that a report made later can tell which lines changed
    /// since this run. Done once per file, when its first code location is
    /// interned (never per event); a file that cannot be read (`<string>`,
    /// a frozen module, a deleted file) is not described.
    fn describe_source(&mut self, file: StrId) {
        let Some(name) = self.string_list.get(file.index()) else {
            return;
        };
        let path = Path::new(name);
        let small =
            std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_SOURCE_BYTES);
        if !small {
            return;
        }
        let Ok(contents) = std::fs::read(path) else {
            return;
        };
        if let Some(w) = self.writer.as_mut() {
            w.add_source(&racetrace_formats::SourceDesc::of_contents(file, &contents));
        }
    }

    /// Marks the point before the next event with `label` (a test's start
    /// in a recorded pytest run).
    pub fn mark(&mut self, label: &str) {
        let label = self.string(label);
        if let Some(w) = self.writer.as_mut() {
            w.add_mark(label);
        }
    }

    pub fn key(&mut self, obj: ObjId, kind: MemberKind, member: StrId) -> KeyId {
        let k = (obj.0, kind as u8, member.0);
        if let Some(&id) = self.keys.get(&k) {
            return id;
        }
        let desc = KeyDesc {
            obj,
            member_kind: kind,
            member,
        };
        let id = match self.writer.as_mut() {
            Some(w) => w.add_key(desc),
            None => KeyId(self.keys.len() as u32),
        };
        self.keys.insert(k, id);
        if id.index() == self.key_list.len() {
            self.key_list.push(desc);
        }
        id
    }

    /// The key with this id and the text of its member (attribute name,
    /// item, variable), by which it is known across runs.
    pub fn key_text(&self, id: KeyId) -> Option<(KeyDesc, String)> {
        let desc = *self.key_list.get(id.index())?;
        let member = self.string_list.get(desc.member.index())?.clone();
        Some((desc, member))
    }

    /// A new actor, with its parent and the index of the parent's `Spawn`
    /// event (which the caller writes right after, at `events_written()`);
    /// both `None` for the recording thread and threads already running.
    pub fn new_actor(
        &mut self,
        name: &str,
        parent: Option<ActorId>,
        created_by_event: Option<u64>,
    ) -> ActorId {
        self.new_actor_of(ActorKind::Thread, name, parent, created_by_event)
    }

    /// A new actor of `kind` (a thread, or an asyncio task).
    pub fn new_actor_of(
        &mut self,
        kind: ActorKind,
        name: &str,
        parent: Option<ActorId>,
        created_by_event: Option<u64>,
    ) -> ActorId {
        let name = self.string(name);
        let desc = ActorDesc {
            kind,
            name,
            parent,
            created_by_event,
        };
        let id = match self.writer.as_mut() {
            Some(w) => w.add_actor(desc),
            None => ActorId(self.next_actor),
        };
        self.next_actor += 1;
        id
    }

    pub fn mark_failed(&mut self, actor: ActorId) {
        self.failed_actors.insert(actor.0);
    }

    pub fn has_exited(&self, actor: ActorId) -> bool {
        self.exited_actors.contains(&actor.0)
    }

    pub fn has_failed(&self, actor: ActorId) -> bool {
        self.failed_actors.contains(&actor.0)
    }
}

/// Renders a `CodeLoc` through a string table.
pub fn code_loc_parts(strings: &[String], loc: &CodeLoc) -> Option<(String, u32, String)> {
    Some((
        strings.get(loc.file.index())?.clone(),
        loc.line,
        strings.get(loc.function.index())?.clone(),
    ))
}
