//! "Did you mean …?" for unknown keys: the closest known key within a small
//! edit distance.

/// The largest edit distance still offered as a suggestion. Two edits cover a
/// transposition (`max_atempts`, `retyr`) without suggesting unrelated keys.
const MAX_DISTANCE: usize = 2;

/// The known key closest to `unknown`, if one is within [`MAX_DISTANCE`]
/// edits. Ties go to the earlier key in `known`, which is schema order.
pub(crate) fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|&candidate| (levenshtein(unknown, candidate), candidate))
        .filter(|&(distance, _)| distance <= MAX_DISTANCE)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars: the fewest single-character insertions,
/// deletions and substitutions that turn `a` into `b`. Keeps one row of the
/// dynamic-programming table.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        // `diagonal` is the previous row's value at column j (row[j] before
        // it is overwritten).
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("max_atempts", "max_attempts"), 1);
        assert_eq!(levenshtein("retyr", "retry"), 2);
        assert_eq!(levenshtein("µs", "us"), 1);
    }

    #[test]
    fn suggests_only_close_keys() {
        let known = ["max_attempts", "initial_backoff", "max_backoff", "jitter"];
        assert_eq!(closest("max_atempts", &known), Some("max_attempts"));
        assert_eq!(closest("jiter", &known), Some("jitter"));
        assert_eq!(closest("timeout", &known), None);
    }

    proptest! {
        #[test]
        fn symmetric_and_bounded(a in "[a-z_]{0,12}", b in "[a-z_]{0,12}") {
            let d = levenshtein(&a, &b);
            prop_assert_eq!(d, levenshtein(&b, &a));
            prop_assert!(d <= a.len().max(b.len()));
            prop_assert!(d >= a.len().abs_diff(b.len()));
            prop_assert_eq!(d == 0, a == b);
        }
    }
}
