//! Schedules round-trip through both forms; junk never panics.

use proptest::prelude::*;
use racetrace_formats::{ActorId, Schedule, ScheduleError};

fn schedule() -> impl Strategy<Value = Schedule> {
    // Mostly small actor ids in runs, sometimes huge ids.
    let actor = prop_oneof![4 => 0u32..8, 1 => any::<u32>()];
    proptest::collection::vec((actor, 1usize..20), 0..40).prop_map(|runs| {
        Schedule::new(
            runs.into_iter()
                .flat_map(|(a, n)| std::iter::repeat_n(ActorId(a), n))
                .collect(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn text_round_trip(s in schedule()) {
        let text = s.to_text();
        prop_assert!(text.starts_with("rts1:"));
        prop_assert!(!text.contains(char::is_whitespace));
        prop_assert_eq!(Schedule::parse(&text).unwrap(), s.clone());
        prop_assert_eq!(text.parse::<Schedule>().unwrap(), s);
    }

    #[test]
    fn binary_round_trip(s in schedule()) {
        prop_assert_eq!(Schedule::from_bytes(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn junk_text_gives_clean_errors(t in "(rts1:)?[0-9*, a-z:-]{0,30}") {
        if let Err(e) = Schedule::parse(&t) {
            let msg = e.to_string();
            prop_assert!(!msg.contains('\n'));
            if let ScheduleError::Text { column, .. } = e {
                prop_assert!(column >= 1 && column <= t.chars().count() + 1, "{}", msg);
            }
        }
    }

    #[test]
    fn junk_bytes_give_clean_errors(
        s in schedule(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = s.to_bytes();
        for (at, v) in edits {
            let i = at.index(b.len());
            b[i] = v;
        }
        b.truncate(cut.index(b.len() + 1));
        if let Ok(parsed) = Schedule::from_bytes(&b) {
            prop_assert!(parsed.len() as u64 <= racetrace_formats::schedule::MAX_STEPS);
        }
    }
}
