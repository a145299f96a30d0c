//! Data-race detection, FastTrack style.
//!
//! Per key we keep the last write as an epoch and the reads either as one
//! epoch (when they are totally ordered, the common case) or as one entry per
//! actor ("read-shared"). Each check is then one or a few integer comparisons
//! against the accessing actor's vector clock. Every stored entry is a real
//! access, so every reported pair really is unordered; a key with any race is
//! always reported (its first race is found exactly), though not every racing
//! pair of a key is (an earlier access subsumed by a later one of the same
//! actor is forgotten).
//!
//! `MemberKind::Whole` keys (`len`, `append`, iteration) conflict with every
//! member of their object. Objects that have a whole key get a *summary*: the
//! last member read and write of each actor. A member access is checked
//! against the whole key's state; a whole access is checked against the
//! summary, O(actors), with no scan over members.
//!
//! Memory is per key, per actor and per distinct racing location pair; the hot
//! path allocates nothing.

use racetrace_formats::{ActorId, Event, EventKind, KeyId, LocId, MemberKind, ObjId, Tables};
use serde::Serialize;

use crate::clock::VClock;
use crate::fasthash::IdMap;

const NO_LINK: u32 = u32::MAX;

/// One remembered access. `clock == 0` means "none".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Access {
    index: u64,
    clock: u32,
    actor: u32,
    loc: u32,
    kind: u8,
}

impl Access {
    /// Happens before the owner of `clock` (or is absent).
    #[inline]
    fn hb(&self, clock: &VClock) -> bool {
        self.clock <= clock.get(self.actor)
    }
}

#[derive(Default)]
struct KeyState {
    write: Access,
    /// The last read while reads are totally ordered.
    read: Access,
    /// Last read per actor, valid while `read_shared`. Kept allocated when
    /// leaving shared mode so a key that flips back does not reallocate.
    shared: Vec<Access>,
    read_shared: bool,
    is_whole: bool,
    /// Index into `summaries` when the key's object has a whole key.
    link: u32,
}

/// Member accesses of one object that has a whole key.
struct Summary {
    whole: u32,
    writes: Vec<(Access, u32)>,
    reads: Vec<(Access, u32)>,
}

/// Two racing accesses, as detected (deduplicated by location pair).
#[derive(Clone, Copy)]
struct RawRace {
    group: u32,
    first: (Access, u32),
    second: (Access, u32),
    count: u64,
}

/// Streaming race detector. Feed every access with the accessing actor's
/// current clock (from `HbTracker`), then call `finish`.
pub struct RaceDetector {
    keys: Vec<KeyState>,
    summaries: Vec<Summary>,
    /// (group key, loc a, kind a, loc b, kind b) with a ≤ b → index in `races`.
    seen: IdMap<(u32, u32, u8, u32, u8), u32>,
    races: Vec<RawRace>,
    detections: u64,
}

impl RaceDetector {
    /// Prepares per-key state for the keys in `tables` (more keys may appear
    /// later; they are treated as plain keys).
    pub fn new(tables: &Tables) -> Self {
        let mut keys: Vec<KeyState> = Vec::with_capacity(tables.keys.len());
        keys.resize_with(tables.keys.len(), || KeyState {
            link: NO_LINK,
            ..KeyState::default()
        });
        let mut summaries = Vec::new();
        let mut summary_of_obj: IdMap<u32, u32> = IdMap::default();
        for (k, desc) in tables.keys.iter().enumerate() {
            if desc.member_kind == MemberKind::Whole && !summary_of_obj.contains_key(&desc.obj.0) {
                summary_of_obj.insert(desc.obj.0, summaries.len() as u32);
                summaries.push(Summary {
                    whole: k as u32,
                    writes: Vec::new(),
                    reads: Vec::new(),
                });
            }
        }
        for (k, desc) in tables.keys.iter().enumerate() {
            if let Some(&s) = summary_of_obj.get(&desc.obj.0) {
                keys[k].link = s;
                keys[k].is_whole = summaries[s as usize].whole == k as u32;
            }
        }
        RaceDetector {
            keys,
            summaries,
            seen: IdMap::default(),
            races: Vec::new(),
            detections: 0,
        }
    }

    #[cold]
    fn grow(&mut self, k: usize) {
        self.keys.resize_with(k + 1, || KeyState {
            link: NO_LINK,
            ..KeyState::default()
        });
    }

    /// Checks and records one access. `index` is the event's position in the
    /// trace, `clock` the accessing actor's clock after `HbTracker::on_event`.
    #[inline]
    pub fn on_access(&mut self, index: u64, ev: &Event, clock: &VClock) {
        let k = ev.target as usize;
        if k >= self.keys.len() {
            self.grow(k);
        }
        let t = ev.actor.0;
        let acc = Access {
            index,
            clock: clock.get(t),
            actor: t,
            loc: ev.loc.0,
            kind: ev.kind as u8,
        };
        let is_write = ev.kind.is_write();
        let races = &mut Races {
            seen: &mut self.seen,
            races: &mut self.races,
            detections: &mut self.detections,
        };
        let st = &mut self.keys[k];
        let k = k as u32;
        if is_write {
            if !st.write.hb(clock) {
                races.report(k, (st.write, k), (acc, k));
            }
            if st.read_shared {
                for r in &st.shared {
                    if !r.hb(clock) {
                        races.report(k, (*r, k), (acc, k));
                    }
                }
                st.read_shared = false;
            } else if !st.read.hb(clock) {
                races.report(k, (st.read, k), (acc, k));
            }
            // Every read either happens before this write or was just
            // reported; later accesses only need to be checked against it.
            st.read = Access::default();
            st.write = acc;
        } else {
            if !st.write.hb(clock) {
                races.report(k, (st.write, k), (acc, k));
            }
            if st.read_shared {
                set_entry(&mut st.shared, t, acc);
            } else if st.read.hb(clock) {
                st.read = acc;
            } else {
                // Two unordered reads: remember one per actor from now on.
                let prev = st.read;
                st.shared.clear();
                set_entry(&mut st.shared, prev.actor, prev);
                set_entry(&mut st.shared, t, acc);
                st.read_shared = true;
            }
        }
        if st.link != NO_LINK {
            let link = st.link;
            let is_whole = st.is_whole;
            self.check_whole(link, is_whole, k, acc, is_write, clock);
        }
    }

    /// The container-level part of an access to an object with a whole key.
    fn check_whole(
        &mut self,
        link: u32,
        is_whole: bool,
        k: u32,
        acc: Access,
        is_write: bool,
        clock: &VClock,
    ) {
        let races = &mut Races {
            seen: &mut self.seen,
            races: &mut self.races,
            detections: &mut self.detections,
        };
        let summary = &mut self.summaries[link as usize];
        let whole = summary.whole;
        if is_whole {
            // Whole access vs. every actor's last member access.
            for &(m, mk) in &summary.writes {
                if !m.hb(clock) {
                    races.report(whole, (m, mk), (acc, k));
                }
            }
            if is_write {
                for &(m, mk) in &summary.reads {
                    if !m.hb(clock) {
                        races.report(whole, (m, mk), (acc, k));
                    }
                }
            }
        } else {
            // Member access vs. the whole key's accesses (not updated: the
            // whole key's own state only tracks whole accesses).
            let w = &self.keys[whole as usize];
            if !w.write.hb(clock) {
                races.report(whole, (w.write, whole), (acc, k));
            }
            if is_write {
                if w.read_shared {
                    for r in &w.shared {
                        if !r.hb(clock) {
                            races.report(whole, (*r, whole), (acc, k));
                        }
                    }
                } else if !w.read.hb(clock) {
                    races.report(whole, (w.read, whole), (acc, k));
                }
            }
            let list = if is_write {
                &mut summary.writes
            } else {
                &mut summary.reads
            };
            let t = acc.actor as usize;
            if t >= list.len() {
                list.resize(t + 1, (Access::default(), 0));
            }
            list[t] = (acc, k);
        }
    }

    /// How many racing access pairs were detected (before deduplication).
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// The races found, grouped by key, with names resolved from `tables`.
    /// Groups are in order of their first detected race; pairs likewise.
    pub fn finish(&self, tables: &Tables) -> Vec<RaceGroup> {
        let mut order: Vec<u32> = Vec::new();
        let mut by_group: IdMap<u32, usize> = IdMap::default();
        let mut groups: Vec<RaceGroup> = Vec::new();
        for r in &self.races {
            let gi = *by_group.entry(r.group).or_insert_with(|| {
                order.push(r.group);
                let key = KeyId(r.group);
                let obj = tables.keys.get(key.index()).map(|d| d.obj);
                groups.push(RaceGroup {
                    key,
                    key_name: tables.key_display(key),
                    object: obj,
                    object_name: obj.map(|o| tables.object_display(o)),
                    occurrences: 0,
                    class: RaceClass::OrderOnly,
                    pairs: Vec::new(),
                });
                groups.len() - 1
            });
            let g = &mut groups[gi];
            g.occurrences += r.count;
            let first = AccessInfo::new(tables, r.first.0, r.first.1);
            let second = AccessInfo::new(tables, r.second.0, r.second.1);
            let class = RaceClass::of(&first, &second);
            if class == RaceClass::AtomicityViolation {
                g.class = class;
            }
            g.pairs.push(RacePair {
                first,
                second,
                class,
                occurrences: r.count,
            });
        }
        // What a person can act on first; the order within a class stays.
        groups.sort_by_key(|g| g.class);
        groups
    }
}

#[inline]
fn set_entry(list: &mut Vec<Access>, actor: u32, acc: Access) {
    let t = actor as usize;
    if t >= list.len() {
        list.resize(t + 1, Access::default());
    }
    list[t] = acc;
}

/// The race sink, borrowed separately from the key states.
struct Races<'a> {
    seen: &'a mut IdMap<(u32, u32, u8, u32, u8), u32>,
    races: &'a mut Vec<RawRace>,
    detections: &'a mut u64,
}

impl Races<'_> {
    #[cold]
    fn report(&mut self, group: u32, first: (Access, u32), second: (Access, u32)) {
        *self.detections += 1;
        let a = (first.0.loc, first.0.kind);
        let b = (second.0.loc, second.0.kind);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let id = (group, lo.0, lo.1, hi.0, hi.1);
        match self.seen.get(&id) {
            Some(&i) => self.races[i as usize].count += 1,
            None => {
                self.seen.insert(id, self.races.len() as u32);
                self.races.push(RawRace {
                    group,
                    first,
                    second,
                    count: 1,
                });
            }
        }
    }
}

/// One side of a race.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessInfo {
    /// Position of the event in the trace (0-based).
    pub event: u64,
    pub actor: ActorId,
    /// `T1 (worker-1)`, see `Tables::actor_display`.
    pub actor_name: String,
    /// `read`, `write`, `io-read` or `io-write`.
    #[serde(serialize_with = "kind_name")]
    pub kind: EventKind,
    /// The key accessed: the group's key, or a member of it when the group is
    /// a container's whole key.
    pub key: KeyId,
    pub key_name: String,
    pub loc: LocId,
    /// `file:line`.
    pub location: String,
    /// The function containing the access.
    pub function: String,
}

fn kind_name<S: serde::Serializer>(k: &EventKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

impl AccessInfo {
    fn new(tables: &Tables, a: Access, key: u32) -> Self {
        let loc = LocId(a.loc);
        let actor = ActorId(a.actor);
        AccessInfo {
            event: a.index,
            actor,
            actor_name: tables.actor_display(actor),
            kind: EventKind::from_u8(a.kind).unwrap_or(EventKind::Read),
            key: KeyId(key),
            key_name: tables.key_display(KeyId(key)),
            loc,
            location: tables.loc_display(loc),
            function: tables
                .locs
                .get(loc.index())
                .map(|l| tables.str(l.function).to_string())
                .unwrap_or_default(),
        }
    }

    pub fn is_write(&self) -> bool {
        self.kind.is_write()
    }
}

/// What an unordered pair of accesses can do to a program.
///
/// Under the GIL each recorded access is one atomic operation: a load or
/// store, or one builtin container operation (`append`, `pop`, `popleft`,
/// `d[k] = v`). Two *writes* racing only make the order of two atomic
/// effects vary (which item is popped first, which store wins): an
/// order-only race, worth knowing but rarely the bug. A race with a *read*
/// on one side is where an actor can act on a value another actor changes
/// before the act: the read half of a split read-modify-write (lost update)
/// or a check whose act comes later (check-then-act). Such a pair makes the
/// whole key an atomicity violation, so a lost update (a read-write and a
/// write-write pair on one key) is never filed as order-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RaceClass {
    AtomicityViolation,
    OrderOnly,
}

impl RaceClass {
    pub fn of(first: &AccessInfo, second: &AccessInfo) -> RaceClass {
        if first.is_write() && second.is_write() {
            RaceClass::OrderOnly
        } else {
            RaceClass::AtomicityViolation
        }
    }

    /// `atomicity violation`, `order-only`.
    pub fn name(self) -> &'static str {
        match self {
            RaceClass::AtomicityViolation => "atomicity violation",
            RaceClass::OrderOnly => "order-only",
        }
    }
}

/// Two conflicting accesses from different actors that no happens-before
/// edge orders. `first` came first in the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RacePair {
    pub first: AccessInfo,
    pub second: AccessInfo,
    pub class: RaceClass,
    /// How many times this location pair was detected racing.
    pub occurrences: u64,
}

/// The races on one key: one entry per distinct pair of code locations.
/// For a container's whole key (`items (whole)`), the pairs also include
/// member accesses (`items[0]`) that conflict with whole-container operations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RaceGroup {
    pub key: KeyId,
    /// `Counter.value`, `cache['k']`, see `Tables::key_display`.
    pub key_name: String,
    pub object: Option<ObjId>,
    pub object_name: Option<String>,
    /// Detections over all pairs.
    pub occurrences: u64,
    /// An atomicity violation if any pair is one, else order-only.
    pub class: RaceClass,
    pub pairs: Vec<RacePair>,
}
