//! Token-like pieces of text, for streaming one "token" per chunk and for
//! counting prompt tokens, plus deterministic embeddings.
//!
//! The granularity imitates a BPE tokenizer closely enough for timing and
//! metrics: a word carries its leading space (`" world"`), each punctuation
//! mark is its own piece, each line break is its own piece.

use om_core::rng::{SplitMix64, hash_str};

/// Splits `text` into token-like pieces whose concatenation is exactly `text`.
///
/// ```
/// use om_sim::reply::split_tokens;
///
/// assert_eq!(split_tokens("Hello, world!\n"), ["Hello", ",", " world", "!", "\n"]);
/// ```
pub fn split_tokens(text: &str) -> Vec<&str> {
    Tokens { text, pos: 0 }.collect()
}

/// The number of pieces [`split_tokens`] would return, without allocating.
pub fn count_tokens(text: &str) -> usize {
    Tokens { text, pos: 0 }.count()
}

/// A deterministic, unit-length (L2) embedding of `text` with `dims`
/// dimensions (empty when `dims` is 0).
///
/// Words and word pairs are hashed into the vector (so texts that share words
/// point in similar directions), and a small component seeded by the whole
/// text keeps any two different texts apart.
pub fn embedding(text: &str, dims: usize) -> Vec<f32> {
    if dims == 0 {
        return Vec::new();
    }
    let mut v = vec![0.0_f64; dims];
    let mut add = |feature: &str, weight: f64| {
        let h = hash_str(feature);
        let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
        v[(h % dims as u64) as usize] += sign * weight;
    };
    let words: Vec<String> = Tokens { text, pos: 0 }
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        add(word, 1.0);
        if i > 0 {
            add(&format!("{} {word}", words[i - 1]), 0.5);
        }
    }
    let mut rng = SplitMix64::new(hash_str(text) ^ 0x5eed_e3b3_dd1e_0001);
    for x in &mut v {
        *x += 0.05 * (rng.next_f64() * 2.0 - 1.0);
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        // Only reachable if every noise draw was exactly zero.
        v[0] = 1.0;
        return v.iter().map(|x| *x as f32).collect();
    }
    v.iter().map(|x| (x / norm) as f32).collect()
}

/// The scanner behind [`split_tokens`] and [`count_tokens`].
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_space(c: char) -> bool {
    c.is_whitespace() && c != '\n' && c != '\r'
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = &self.text[self.pos..];
        let mut chars = rest.char_indices();
        let (_, c) = chars.next()?;
        let len = match c {
            '\r' if rest[1..].starts_with('\n') => 2,
            '\n' | '\r' => 1,
            c if is_space(c) => {
                let run = rest.find(|c: char| !is_space(c)).unwrap_or(rest.len());
                match rest[run..].chars().next() {
                    // The last space of the run belongs to the following
                    // word or mark; the spaces before it are a piece of
                    // their own.
                    Some(next) if next != '\n' && next != '\r' => {
                        let last_space =
                            rest[..run].char_indices().next_back().map_or(0, |(i, _)| i);
                        if last_space > 0 {
                            last_space
                        } else {
                            let after = &rest[run..];
                            run + if is_word(next) {
                                after.find(|c: char| !is_word(c)).unwrap_or(after.len())
                            } else {
                                next.len_utf8()
                            }
                        }
                    }
                    _ => run,
                }
            }
            c if is_word(c) => rest.find(|c: char| !is_word(c)).unwrap_or(rest.len()),
            c => c.len_utf8(),
        };
        let piece = &rest[..len];
        self.pos += len;
        Some(piece)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn pieces() {
        assert_eq!(split_tokens(""), Vec::<&str>::new());
        assert_eq!(split_tokens("fn main() {}"), ["fn", " main", "(", ")", " {", "}"]);
        assert_eq!(split_tokens("a  b"), ["a", " ", " b"]);
        assert_eq!(split_tokens("x \r\n\ty"), ["x", " ", "\r\n", "\ty"]);
        assert_eq!(split_tokens("   "), ["   "]);
        assert_eq!(split_tokens("héllo wörld"), ["héllo", " wörld"]);
        assert_eq!(count_tokens("Hello, world!\n"), 5);
    }

    proptest! {
        #[test]
        fn split_concatenates_back(text in any::<String>()) {
            let pieces = split_tokens(&text);
            prop_assert_eq!(pieces.concat(), text.clone());
            prop_assert!(pieces.iter().all(|p| !p.is_empty()));
            prop_assert_eq!(count_tokens(&text), pieces.len());
        }

        #[test]
        fn split_concatenates_back_on_text_like_input(text in "[a-z \n\r\t.,(){}é]{0,64}") {
            prop_assert_eq!(split_tokens(&text).concat(), text);
        }

        #[test]
        fn embeddings_are_unit_length(text in any::<String>(), dims in 1_usize..64) {
            let v = embedding(&text, dims);
            prop_assert_eq!(v.len(), dims);
            let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
            prop_assert!((norm - 1.0).abs() < 1e-6, "norm {}", norm);
        }
    }

    #[test]
    fn embeddings_are_deterministic_and_distinct() {
        assert_eq!(embedding("the sky is blue", 64), embedding("the sky is blue", 64));
        assert_ne!(embedding("the sky is blue", 64), embedding("the sky is red", 64));
        assert_ne!(embedding("Hello", 64), embedding("hello", 64));
        assert_ne!(embedding("", 8), embedding(" ", 8));
        assert!(embedding("x", 0).is_empty());
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let base = embedding("rust async runtime scheduler", 256);
        let near = embedding("rust async runtime", 256);
        let far = embedding("banana bread recipe", 256);
        assert!(dot(&base, &near) > dot(&base, &far));
    }
}
