//! Basic round trips through the builder, the writer and the reader.

use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::synthetic::synthetic_mix;
use racetrace_formats::*;

fn small_trace(chunk_size: usize) -> (TraceBuilder, Vec<Event>) {
    let mut b = TraceBuilder::new("tests/app.py").with_chunk_size(chunk_size);
    let main = ActorId(0);
    let l1 = b.loc("app.py", 10, "main");
    let l2 = b.loc("app.py", 11, "work");
    let counter = b.object(ObjKind::Instance, "Counter", "counter");
    let lock = b.object(ObjKind::Lock, "lock", "lock_a");
    let value = b.key(counter, MemberKind::Attr, "value");
    b.start(main, l1);
    let t1 = b.spawn(main, "worker-1", l1);
    b.start(t1, l2);
    b.acquire(t1, lock, l2);
    b.read(t1, value, l2);
    b.write(t1, value, l2);
    b.release(t1, lock, l2);
    b.read(main, value, l1);
    b.exit(t1, l2);
    b.join(main, t1, l1);
    let ev = |actor: ActorId, kind, loc: LocId, target: u32, aux| Event {
        actor,
        kind,
        loc,
        target,
        aux,
    };
    let expected = vec![
        ev(main, EventKind::ActorStart, l1, 0, 0),
        ev(main, EventKind::Spawn, l1, 1, 0),
        ev(t1, EventKind::ActorStart, l2, 1, 0),
        ev(t1, EventKind::LockAcquire, l2, lock.0, 1),
        ev(t1, EventKind::Read, l2, value.0, 0),
        ev(t1, EventKind::Write, l2, value.0, 0),
        ev(t1, EventKind::LockRelease, l2, lock.0, 1),
        ev(main, EventKind::Read, l1, value.0, 0),
        ev(t1, EventKind::ActorExit, l2, 1, 0),
        ev(main, EventKind::Join, l1, 1, 0),
    ];
    (b, expected)
}

#[test]
fn builder_trace_round_trips() {
    for chunk_size in [1, 7, 64 * 1024] {
        let (b, expected) = small_trace(chunk_size);
        let bytes = b.finish(&Outcome::Ok);
        let f = TraceFile::from_bytes(bytes).unwrap();
        let events: Vec<Event> = f.events().collect::<Result<_, _>>().unwrap();
        assert_eq!(events, expected, "chunk size {chunk_size}");
        assert_eq!(f.outcome(), Some(&Outcome::Ok));
        assert!(f.truncation().is_none());
        assert_eq!(f.event_count(), expected.len() as u64);
        let t = f.tables();
        assert_eq!(t.actors.len(), 2);
        assert_eq!(t.actors[1].created_by_event, Some(1));
        assert_eq!(t.actors[1].parent, Some(ActorId(0)));
        assert_eq!(t.actor_display(ActorId(1)), "T1 (worker-1)");
        assert_eq!(t.key_display(KeyId(0)), "counter.value");
        assert_eq!(f.header().program, "tests/app.py");
        assert_eq!(f.header().mode, Mode::Synthetic);
        assert_eq!(f.header().format_version, FORMAT_VERSION);
    }
}

#[test]
fn truncated_builder_trace_keeps_complete_chunks() {
    let (b, expected) = small_trace(1);
    let bytes = b.finish_truncated();
    let f = TraceFile::from_bytes(bytes).unwrap();
    assert!(f.outcome().is_none());
    let t = f.truncation().unwrap();
    assert!(t.reason.contains("no footer"), "{}", t.reason);
    assert_eq!(t.complete_chunks, f.chunk_count());
    let events: Vec<Event> = f.events().collect::<Result<_, _>>().unwrap();
    assert_eq!(events, expected);
}

#[test]
fn synthetic_mix_is_valid_and_deterministic() {
    let a = synthetic_mix(20_000, 6, 7);
    let b = synthetic_mix(20_000, 6, 7);
    assert_eq!(a, b);
    let f = TraceFile::from_bytes(a).unwrap();
    assert_eq!(f.event_count(), 20_000);
    assert_eq!(f.tables().actors.len(), 6);
    let mut n = 0;
    for e in f.events() {
        e.unwrap();
        n += 1;
    }
    assert_eq!(n, 20_000);
}

#[test]
fn open_and_create_use_real_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.rtrace");
    let (b, expected) = small_trace(16);
    b.write_to(&path, &Outcome::Ok).unwrap();
    let f = TraceFile::open(&path).unwrap();
    assert_eq!(f.path(), path.display().to_string());
    assert_eq!(f.events().count(), expected.len());

    let header = Header::new(Mode::Record, "prog");
    let mut w = TraceWriter::create(&dir.path().join("w.rtrace"), &header).unwrap();
    let name = w.add_string("main");
    w.add_actor(ActorDesc {
        kind: ActorKind::Thread,
        name,
        parent: None,
        created_by_event: None,
    });
    w.finish(&Outcome::Aborted {
        reason: "test".into(),
    })
    .unwrap();
    let f = TraceFile::open(&dir.path().join("w.rtrace")).unwrap();
    assert_eq!(
        f.outcome(),
        Some(&Outcome::Aborted {
            reason: "test".into()
        })
    );

    let missing = dir.path().join("no/such/dir/x.rtrace");
    let err = TraceWriter::create(&missing, &header).err().unwrap();
    assert!(err.to_string().contains("no/such/dir/x.rtrace"), "{err}");
    let err = TraceFile::open(&missing).unwrap_err();
    assert!(err.to_string().contains("no/such/dir/x.rtrace"), "{err}");
}

#[test]
fn actor_defined_before_its_creation_event_stays_with_it() {
    // The recorder's order: define the child (created by the event about to
    // be written), then write the Spawn; with flushes and tiny chunks in
    // between, every truncation must still read.
    let header = Header::new(Mode::Record, "p");
    let mut w = TraceWriter::new(Vec::new(), &header)
        .unwrap()
        .with_chunk_size(1);
    let name = w.add_string("main");
    let file = w.add_string("a.py");
    let loc = w.add_loc(CodeLoc {
        file,
        line: 1,
        function: name,
        offset: 0,
    });
    w.add_actor(ActorDesc {
        kind: ActorKind::Thread,
        name,
        parent: None,
        created_by_event: None,
    });
    for i in 1..20u32 {
        let at = w.events_written();
        let child = w.add_actor(ActorDesc {
            kind: ActorKind::Thread,
            name,
            parent: Some(ActorId(0)),
            created_by_event: Some(at),
        });
        assert_eq!(child, ActorId(i));
        w.flush().unwrap(); // must not separate the definition from its event
        w.event(&Event {
            actor: ActorId(0),
            kind: EventKind::Spawn,
            loc,
            target: child.0,
            aux: 0,
        })
        .unwrap();
        w.event(&Event {
            actor: child,
            kind: EventKind::ActorStart,
            loc,
            target: child.0,
            aux: 0,
        })
        .unwrap();
    }
    let bytes = w.finish(&Outcome::Ok).unwrap();
    let full = TraceFile::from_bytes(bytes.clone()).unwrap();
    assert_eq!(full.tables().actors.len(), 20);
    assert!(full.chunk_count() > 10);
    for cut in full.chunks()[0].offset as usize..=bytes.len() {
        let f = TraceFile::from_bytes(bytes[..cut].to_vec()).unwrap();
        for a in &f.tables().actors {
            if let Some(ev) = a.created_by_event {
                assert!(ev < f.event_count());
            }
        }
        assert!(f.events().all(|e| e.is_ok()));
    }
}
