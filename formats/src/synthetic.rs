//! A deterministic synthetic trace with a realistic event mix, for
//! benchmarks (this crate's encoding benchmark, the analyzer's end-to-end
//! benchmark) and size measurements.
//!
//! The model: a few actors each loop over the body of one of a few
//! "functions". A body is a fixed sequence of code locations; each location
//! always touches the same attribute (of the actor's own object, of a
//! shared object, or a module global), as real code does. About a fifth of
//! the bodies are critical sections (lock acquire .. release), and a few
//! locations are other sync operations (queue put/get, event set, notify),
//! which makes a few percent of sync events. The running actor changes
//! every 5–50 events. The trace is consistent: a lock is never acquired
//! while another actor holds it, a queue item is never got before it is
//! put, and every worker is spawned, started, exited and joined.

use std::collections::VecDeque;
use std::io::Write;

use crate::error::FormatError;
use crate::model::*;
use crate::writer::TraceWriter;

/// xorshift64*: tiny, fast and deterministic across platforms.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // A zero state would stay zero forever.
        XorShift(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0); the tiny modulo bias does not matter here.
    pub fn below(&mut self, n: u64) -> u64 {
        (self.next_u64() >> 11) % n
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Which key an access location touches.
#[derive(Clone, Copy, Debug)]
enum KeySel {
    /// Attribute `i` of the running actor's own object.
    OwnAttr(usize),
    /// A fixed key (shared object member or global).
    Fixed(KeyId),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Read(KeySel),
    Write(KeySel),
    Acquire(ObjId),
    Release(ObjId),
    Put(ObjId),
    Get(ObjId),
    EventSet(ObjId),
    Notify(ObjId),
}

#[derive(Clone, Debug)]
struct Func {
    /// (location, operation) in body order.
    body: Vec<(LocId, Op)>,
}

#[derive(Clone, Debug)]
struct ActorState {
    id: ActorId,
    started: bool,
    /// Functions this actor cycles through.
    favorites: [usize; 3],
    func: usize,
    pc: usize,
    /// Keys of its own object's attributes.
    own_keys: Vec<KeyId>,
    holds: Option<ObjId>,
}

/// Generator of the synthetic event stream. `start` defines the tables and
/// writes the opening spawns; `next_event` produces the rest.
#[derive(Clone, Debug)]
pub struct SyntheticMix {
    rng: XorShift,
    funcs: Vec<Func>,
    actors: Vec<ActorState>,
    current: usize,
    burst_left: u32,
    queue_items: VecDeque<u64>,
    next_token: u64,
    emitted: u64,
    n_events: u64,
    /// Pending closing events (releases, exits, joins) once the end is near.
    tail: VecDeque<Event>,
    tail_started: bool,
    main_loc: LocId,
}

/// Attributes of each actor's own object.
const OWN_ATTRS: usize = 6;
const SHARED_OBJECTS: usize = 10;
const SHARED_MEMBERS: usize = 8;
const GLOBALS: usize = 10;
const FUNCS: usize = 24;
const LOCKS: usize = 4;

impl SyntheticMix {
    /// Defines the tables in `writer` and writes the main actor's start and
    /// the spawns of `n_actors - 1` workers. The whole stream will have
    /// `n_events` events (or the minimum needed to spawn, start, exit and
    /// join every worker, if that is more).
    pub fn start<W: Write>(
        writer: &mut TraceWriter<W>,
        n_events: u64,
        n_actors: u32,
        seed: u64,
    ) -> Result<SyntheticMix, FormatError> {
        let n_actors = n_actors.max(1) as usize;
        let mut rng = XorShift::new(seed);
        let s = |w: &mut TraceWriter<W>, text: String| w.add_string(&text);
        s(writer, String::new()); // string 0: the empty string
        let main_name = s(writer, "main".into());
        writer.add_actor(ActorDesc {
            kind: ActorKind::Thread,
            name: main_name,
            parent: None,
            created_by_event: None,
        });

        // Objects and keys: globals, shared objects, locks and sync objects.
        let module_type = s(writer, "module".into());
        let module_label = s(writer, "app".into());
        let module = writer.add_object(ObjectDesc {
            kind: ObjKind::Module,
            type_name: module_type,
            label: module_label,
        });
        let mut shared_keys = Vec::new();
        for g in 0..GLOBALS {
            let name = s(writer, format!("g{g}"));
            shared_keys.push(writer.add_key(KeyDesc {
                obj: module,
                member_kind: MemberKind::Global,
                member: name,
            }));
        }
        for o in 0..SHARED_OBJECTS {
            let (kind, ty, member_kind) = match o % 3 {
                0 => (ObjKind::Instance, "Account", MemberKind::Attr),
                1 => (ObjKind::Dict, "dict", MemberKind::Item),
                _ => (ObjKind::Instance, "Stats", MemberKind::Attr),
            };
            let type_name = s(writer, ty.into());
            let label = s(writer, format!("shared{o}"));
            let obj = writer.add_object(ObjectDesc {
                kind,
                type_name,
                label,
            });
            for m in 0..SHARED_MEMBERS {
                let member = s(writer, format!("m{m}"));
                shared_keys.push(writer.add_key(KeyDesc {
                    obj,
                    member_kind,
                    member,
                }));
            }
        }
        let sync_obj = |w: &mut TraceWriter<W>, kind: ObjKind, ty: &str, label: String| {
            let type_name = w.add_string(ty);
            let label = w.add_string(&label);
            w.add_object(ObjectDesc {
                kind,
                type_name,
                label,
            })
        };
        let locks: Vec<ObjId> = (0..LOCKS)
            .map(|i| sync_obj(writer, ObjKind::Lock, "lock", format!("lock{i}")))
            .collect();
        let queue = sync_obj(writer, ObjKind::Queue, "Queue", "jobs".into());
        let event = sync_obj(writer, ObjKind::Event, "Event", "done".into());
        let cond = sync_obj(writer, ObjKind::Condition, "Condition", "ready".into());

        // Code: FUNCS functions of 6..=14 locations over a few files.
        let files: Vec<StrId> = (0..5)
            .map(|f| writer.add_string(&format!("app/module{f}.py")))
            .collect();
        let mut funcs = Vec::with_capacity(FUNCS);
        for f in 0..FUNCS {
            let file = files[f % files.len()];
            let function = writer.add_string(&format!("work{f}"));
            let first_line = 10 + 40 * (f as u32 / files.len() as u32);
            let locked = rng.percent(20);
            let len = 6 + rng.below(9) as usize;
            let mut ops = Vec::with_capacity(len + 2);
            if locked {
                ops.push(Op::Acquire(locks[rng.below(LOCKS as u64) as usize]));
            }
            while ops.len() < len {
                let sel = if rng.percent(50) {
                    KeySel::OwnAttr(rng.below(OWN_ATTRS as u64) as usize)
                } else {
                    KeySel::Fixed(shared_keys[rng.below(shared_keys.len() as u64) as usize])
                };
                match rng.below(100) {
                    // `x.a += 1`: a read and a write of one key.
                    0..=34 => {
                        ops.push(Op::Read(sel));
                        ops.push(Op::Write(sel));
                    }
                    35..=84 => ops.push(Op::Read(sel)),
                    85..=96 => ops.push(Op::Write(sel)),
                    _ => ops.push(match rng.below(4) {
                        0 => Op::Put(queue),
                        1 => Op::Get(queue),
                        2 => Op::EventSet(event),
                        _ => Op::Notify(cond),
                    }),
                }
            }
            if let Some(Op::Acquire(lock)) = ops.first().copied() {
                ops.push(Op::Release(lock));
            }
            let body = ops
                .into_iter()
                .enumerate()
                .map(|(i, op)| {
                    let loc = writer.add_loc(CodeLoc {
                        file,
                        line: first_line + i as u32,
                        function,
                        offset: 2 * i as u32,
                    });
                    (loc, op)
                })
                .collect();
            funcs.push(Func { body });
        }
        let main_fn = writer.add_string("main");
        let main_loc = writer.add_loc(CodeLoc {
            file: files[0],
            line: 1,
            function: main_fn,
            offset: 0,
        });

        // Actors: each has its own object; main spawns the workers.
        let self_type = writer.add_string("Worker");
        let mut actors = Vec::with_capacity(n_actors);
        let own = |w: &mut TraceWriter<W>, a: usize| {
            let label = w.add_string(&format!("worker{a}"));
            let obj = w.add_object(ObjectDesc {
                kind: ObjKind::Instance,
                type_name: self_type,
                label,
            });
            (0..OWN_ATTRS)
                .map(|i| {
                    let member = w.add_string(&format!("f{i}"));
                    w.add_key(KeyDesc {
                        obj,
                        member_kind: MemberKind::Attr,
                        member,
                    })
                })
                .collect::<Vec<KeyId>>()
        };
        let favorites = |rng: &mut XorShift| {
            [
                rng.below(FUNCS as u64) as usize,
                rng.below(FUNCS as u64) as usize,
                rng.below(FUNCS as u64) as usize,
            ]
        };
        let fav = favorites(&mut rng);
        actors.push(ActorState {
            id: ActorId(0),
            started: true,
            favorites: fav,
            func: fav[0],
            pc: 0,
            own_keys: own(writer, 0),
            holds: None,
        });
        writer.event(&Event {
            actor: ActorId(0),
            kind: EventKind::ActorStart,
            loc: main_loc,
            target: 0,
            aux: 0,
        })?;
        for a in 1..n_actors {
            let id = ActorId(a as u32);
            let created_by = writer.events_written();
            writer.event(&Event {
                actor: ActorId(0),
                kind: EventKind::Spawn,
                loc: main_loc,
                target: id.0,
                aux: 0,
            })?;
            let name = writer.add_string(&format!("worker-{a}"));
            writer.add_actor(ActorDesc {
                kind: ActorKind::Thread,
                name,
                parent: Some(ActorId(0)),
                created_by_event: Some(created_by),
            });
            let fav = favorites(&mut rng);
            actors.push(ActorState {
                id,
                started: false,
                favorites: fav,
                func: fav[0],
                pc: 0,
                own_keys: own(writer, a),
                holds: None,
            });
        }
        let burst = 5 + rng.below(46) as u32;
        Ok(SyntheticMix {
            rng,
            funcs,
            actors,
            current: 0,
            burst_left: burst,
            queue_items: VecDeque::new(),
            next_token: 1,
            emitted: writer.events_written(),
            n_events,
            tail: VecDeque::new(),
            tail_started: false,
            main_loc,
        })
    }

    /// The next event, or `None` once the stream is complete.
    pub fn next_event(&mut self) -> Option<Event> {
        if !self.tail_started {
            let needed = self.closing_events();
            if self.emitted + needed >= self.n_events {
                self.start_tail();
            }
        }
        if self.tail_started {
            let ev = self.tail.pop_front()?;
            self.emitted += 1;
            return Some(ev);
        }
        let ev = self.body_event();
        self.emitted += 1;
        Some(ev)
    }

    /// Events needed to end cleanly from the current state.
    fn closing_events(&self) -> u64 {
        let workers = self.actors.len() as u64 - 1;
        let unstarted = self.actors.iter().filter(|a| !a.started).count() as u64;
        let held = self.actors.iter().filter(|a| a.holds.is_some()).count() as u64;
        held + unstarted + 2 * workers
    }

    fn start_tail(&mut self) {
        self.tail_started = true;
        for a in &self.actors {
            let loc = self.main_loc;
            if let Some(lock) = a.holds {
                self.tail
                    .push_back(ev(a.id, EventKind::LockRelease, loc, lock.0, 1));
            }
        }
        for a in self.actors.iter().skip(1) {
            let loc = self.main_loc;
            if !a.started {
                self.tail
                    .push_back(ev(a.id, EventKind::ActorStart, loc, a.id.0, 0));
            }
            self.tail
                .push_back(ev(a.id, EventKind::ActorExit, loc, a.id.0, 0));
            self.tail
                .push_back(ev(ActorId(0), EventKind::Join, loc, a.id.0, 0));
        }
    }

    /// Chooses a runnable actor other than the current one, if any.
    fn switch_actor(&mut self) {
        self.burst_left = 5 + self.rng.below(46) as u32;
        let n = self.actors.len();
        if n == 1 {
            return;
        }
        let pick = (self.current + 1 + self.rng.below(n as u64 - 1) as usize) % n;
        // Walk from the pick to the first runnable actor (the lock holder
        // is always runnable, so this ends).
        for i in 0..n {
            let a = (pick + i) % n;
            if a != self.current && self.runnable(a) {
                self.current = a;
                return;
            }
        }
    }

    /// An actor is blocked only when its next operation acquires a lock
    /// that another actor holds.
    fn runnable(&self, a: usize) -> bool {
        let st = &self.actors[a];
        if !st.started {
            return true;
        }
        match self.funcs[st.func].body[st.pc].1 {
            Op::Acquire(lock) => !self.actors.iter().any(|o| o.holds == Some(lock)),
            _ => true,
        }
    }

    fn body_event(&mut self) -> Event {
        if self.burst_left == 0 || !self.runnable(self.current) {
            self.switch_actor();
        }
        self.burst_left = self.burst_left.saturating_sub(1);
        let a = self.current;
        let id = self.actors[a].id;
        if !self.actors[a].started {
            self.actors[a].started = true;
            return ev(id, EventKind::ActorStart, self.main_loc, id.0, 0);
        }
        let st = &self.actors[a];
        let (loc, op) = self.funcs[st.func].body[st.pc];
        self.advance(a);
        let key = |sel: KeySel| match sel {
            KeySel::OwnAttr(i) => self.actors[a].own_keys[i].0,
            KeySel::Fixed(k) => k.0,
        };
        match op {
            Op::Read(sel) => ev(id, EventKind::Read, loc, key(sel), 0),
            Op::Write(sel) => ev(id, EventKind::Write, loc, key(sel), 0),
            Op::Acquire(lock) => {
                self.actors[a].holds = Some(lock);
                ev(id, EventKind::LockAcquire, loc, lock.0, 1)
            }
            Op::Release(lock) => {
                self.actors[a].holds = None;
                ev(id, EventKind::LockRelease, loc, lock.0, 1)
            }
            Op::Put(q) => {
                let token = self.next_token;
                self.next_token += 1;
                self.queue_items.push_back(token);
                ev(id, EventKind::QueuePut, loc, q.0, token)
            }
            Op::Get(q) => match self.queue_items.pop_front() {
                Some(token) => ev(id, EventKind::QueueGet, loc, q.0, token),
                // Nothing to get (`get_nowait` raised Empty): only a
                // scheduling point.
                None => ev(id, EventKind::Yield, loc, id.0, 0),
            },
            Op::EventSet(e) => ev(id, EventKind::EventSet, loc, e.0, 0),
            Op::Notify(c) => ev(id, EventKind::CondNotify, loc, c.0, 1),
        }
    }

    /// Moves actor `a` to its next location; at the end of a body it
    /// repeats it or moves to another favorite function.
    fn advance(&mut self, a: usize) {
        let len = self.funcs[self.actors[a].func].body.len();
        let st = &mut self.actors[a];
        st.pc += 1;
        if st.pc == len {
            st.pc = 0;
            if self.rng.percent(30) {
                st.func = st.favorites[self.rng.below(3) as usize];
            }
        }
    }
}

fn ev(actor: ActorId, kind: EventKind, loc: LocId, target: u32, aux: u64) -> Event {
    Event {
        actor,
        kind,
        loc,
        target,
        aux,
    }
}

/// The complete synthetic trace file (see the module docs): `n_events`
/// events by `n_actors` actors, deterministic for a given `seed`.
pub fn synthetic_mix(n_events: u64, n_actors: u32, seed: u64) -> Vec<u8> {
    let header = Header {
        seed,
        ..Header::new(Mode::Synthetic, "synthetic mix")
    };
    let mut writer = TraceWriter::new(Vec::new(), &header).expect("writing to memory cannot fail");
    write_synthetic_mix(&mut writer, n_events, n_actors, seed).expect("the mix is valid");
    writer
        .finish(&Outcome::Ok)
        .expect("writing to memory cannot fail")
}

/// Writes the synthetic event stream into a caller's writer.
pub fn write_synthetic_mix<W: Write>(
    writer: &mut TraceWriter<W>,
    n_events: u64,
    n_actors: u32,
    seed: u64,
) -> Result<(), FormatError> {
    let mut mix = SyntheticMix::start(writer, n_events, n_actors, seed)?;
    while let Some(e) = mix.next_event() {
        writer.event(&e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceFile;
    use std::collections::HashMap;

    #[test]
    fn any_size_gives_a_valid_consistent_trace() {
        for (n, actors) in [(0, 1), (1, 1), (5, 8), (100, 1), (1000, 4), (20_000, 8)] {
            let f = TraceFile::from_bytes(synthetic_mix(n, actors, 9)).unwrap();
            let events: Vec<Event> = f.events().collect::<Result<_, _>>().unwrap();
            // At least what it takes to spawn, start, exit and join workers.
            let minimum = 1 + 4 * (u64::from(actors) - 1);
            assert_eq!(
                events.len() as u64,
                n.max(minimum),
                "{n} events, {actors} actors"
            );
            // No lock is acquired while another actor holds it, and every
            // lock is released by the end.
            let mut holder: HashMap<u32, ActorId> = HashMap::new();
            for e in &events {
                match e.kind {
                    EventKind::LockAcquire => {
                        assert!(holder.insert(e.target, e.actor).is_none(), "{e:?}")
                    }
                    EventKind::LockRelease => {
                        assert_eq!(holder.remove(&e.target), Some(e.actor), "{e:?}")
                    }
                    _ => {}
                }
            }
            assert!(holder.is_empty());
            let exits = events
                .iter()
                .filter(|e| e.kind == EventKind::ActorExit)
                .count();
            assert_eq!(exits as u32, actors - 1);
        }
    }
}
