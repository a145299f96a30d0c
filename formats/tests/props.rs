//! Property tests: exact round trips, truncation at any byte, and damage
//! of any kind never panicking.

mod common;

use common::{build, read_all, recipe, reseal, with_last_events};
use proptest::prelude::*;
use racetrace_formats::*;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any generated trace reads back exactly.
    #[test]
    fn round_trip(r in recipe(400)) {
        let (bytes, expected) = build(&r);
        let (f, events) = read_all(bytes).unwrap();
        prop_assert_eq!(f.header(), &expected.header);
        prop_assert_eq!(f.tables(), &expected.tables);
        prop_assert_eq!(&events, &expected.events);
        prop_assert_eq!(f.outcome(), Some(&expected.outcome));
        prop_assert!(f.truncation().is_none());
        prop_assert_eq!(f.event_count(), expected.events.len() as u64);
        // The internal fast loop (fold) agrees with `next`.
        let mut streamed = Vec::new();
        f.events().try_for_each_event(|e| streamed.push(e)).unwrap();
        prop_assert_eq!(&streamed, &expected.events);
        prop_assert_eq!(f.events().count(), expected.events.len());
        // Chunks decode on their own.
        let mut by_chunk = Vec::new();
        for i in 0..f.chunk_count() {
            for e in f.chunk_events(i..i + 1) {
                by_chunk.push(e.unwrap());
            }
        }
        prop_assert_eq!(&by_chunk, &expected.events);
    }

    /// A file cut anywhere after its header reads as its complete chunks.
    #[test]
    fn truncation_keeps_complete_chunks(r in recipe(300), cut_frac in 0.0f64..=1.0) {
        let (bytes, expected) = build(&r);
        let full = TraceFile::from_bytes(bytes.clone()).unwrap();
        let header_end = full.chunks().first().map_or(bytes.len(), |c| c.offset as usize);
        let cut = header_end + ((bytes.len() - header_end) as f64 * cut_frac) as usize;
        let cut = cut.min(bytes.len());

        let (f, events) = read_all(bytes[..cut].to_vec()).unwrap();
        // Chunks whose last byte is before the cut survive.
        let chunk_ends: Vec<usize> = full
            .chunks()
            .iter()
            .enumerate()
            .map(|(i, _)| {
                full.chunks().get(i + 1).map_or(footer_offset(&bytes), |n| n.offset as usize)
            })
            .collect();
        let complete = chunk_ends.iter().filter(|&&end| end <= cut).count();
        prop_assert_eq!(f.chunk_count(), complete);
        let n: u64 = full.chunks()[..complete].iter().map(|c| u64::from(c.event_count)).sum();
        prop_assert_eq!(&events[..], &expected.events[..n as usize]);
        prop_assert_eq!(f.event_count(), n);
        prop_assert_eq!(f.header(), &expected.header);
        // The tables recovered are a prefix of the full tables.
        let (t, full_t) = (f.tables(), full.tables());
        prop_assert_eq!(&t.strings[..], &full_t.strings[..t.strings.len()]);
        prop_assert_eq!(&t.locs[..], &full_t.locs[..t.locs.len()]);
        prop_assert_eq!(&t.objects[..], &full_t.objects[..t.objects.len()]);
        prop_assert_eq!(&t.keys[..], &full_t.keys[..t.keys.len()]);
        prop_assert_eq!(&t.actors[..], &full_t.actors[..t.actors.len()]);
        if cut == bytes.len() {
            prop_assert!(f.truncation().is_none());
            prop_assert_eq!(f.outcome(), Some(&expected.outcome));
        } else {
            let tr = f.truncation().unwrap();
            prop_assert_eq!(tr.complete_chunks, complete);
            prop_assert!(tr.offset as usize <= cut);
            prop_assert!(f.outcome().is_none());
        }
    }

    /// Flipping or setting bytes anywhere gives Ok or a clean error.
    #[test]
    fn damage_never_panics(
        r in recipe(200),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (mut bytes, _) = build(&r);
        for (at, value, flip) in &edits {
            let i = at.index(bytes.len());
            if *flip { bytes[i] ^= 1 << (value % 8) } else { bytes[i] = *value }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check_clean(bytes);
    }

    /// The same, with checksums recomputed after the damage, so that the
    /// decoders themselves see the garbage.
    #[test]
    fn damage_behind_valid_checksums_never_panics(
        r in recipe(200),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 1..6),
    ) {
        let (mut bytes, _) = build(&r);
        for (at, value, flip) in &edits {
            let i = at.index(bytes.len());
            if *flip { bytes[i] ^= 1 << (value % 8) } else { bytes[i] = *value }
        }
        reseal(&mut bytes);
        check_clean(bytes);
    }

    /// Random event records (behind a valid checksum) in a chunk whose
    /// tables are valid: the event decoder alone against garbage.
    #[test]
    fn garbage_events_never_panic(
        r in recipe(20),
        records in proptest::collection::vec(any::<u8>(), 1..300),
        count in 0u32..300,
    ) {
        let (bytes, _) = build(&r);
        let full = TraceFile::from_bytes(bytes.clone()).unwrap();
        let footer = footer_offset(&bytes);
        let count = count.min(records.len() as u32);
        if full.chunk_count() > 0 {
            check_clean(with_last_events(bytes[..footer].to_vec(), &records, count));
        }
    }

    /// Random bytes after a valid header (and with a resealed header).
    #[test]
    fn garbage_body_never_panics(
        r in recipe(1),
        garbage in proptest::collection::vec(any::<u8>(), 0..400),
        tag in prop_oneof![Just(b'C'), Just(b'F'), any::<u8>()],
    ) {
        let (bytes, _) = build(&r);
        let full = TraceFile::from_bytes(bytes.clone()).unwrap();
        let header_end = full.chunks().first().map_or(footer_offset(&bytes), |c| c.offset as usize);
        let mut b = bytes[..header_end].to_vec();
        b.push(tag);
        b.extend_from_slice(&garbage);
        reseal(&mut b);
        check_clean(b);
    }
}

/// Offset of the footer record of a complete file.
fn footer_offset(bytes: &[u8]) -> usize {
    let at = bytes.len() - codec::TRAILER_LEN;
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

/// Opens and fully iterates `bytes`; any error must be one clean line.
fn check_clean(bytes: Vec<u8>) {
    match TraceFile::from_bytes(bytes) {
        Ok(f) => {
            let mut errors = 0;
            for ev in f.events() {
                if let Err(e) = ev {
                    assert_clean(&e);
                    errors += 1;
                }
            }
            assert!(errors <= 1, "the iterator ends at its first error");
            // The fast loop reports the same outcome.
            let fast = f.events().try_for_each_event(|_| {});
            assert_eq!(fast.is_err(), errors == 1);
        }
        Err(e) => assert_clean(&e),
    }
}

fn assert_clean(e: &FormatError) {
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "multi-line error: {msg}");
    assert!(msg.starts_with("<memory>: "), "{msg}");
    let offset = e.offset().expect("decode errors have an offset");
    assert!(msg.contains(&format!("offset {offset}: ")), "{msg}");
}
