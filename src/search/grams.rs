//! The analyser of the search index: characters and character pairs, with positions.
//!
//! Product titles are Chinese and English mixed (`Apple iPhone 15 手机壳 透明`), and users
//! type what a title contains, not what a segmenter thinks a word is: a word segmenter cuts
//! `智能手机` as one word and then misses a search for `手机`. So every character is a term
//! (unigram) and every pair of neighbouring characters too (bigram), both at the character's
//! position. A query of one character is a term query on its unigram; a longer one is a phrase
//! of its bigrams at consecutive positions, which matches exactly the texts that contain the
//! query as a substring — the answer `CONTAINS(LCASE(?title), "…")` gives, from an index.
//!
//! tantivy's own `NgramTokenizer` puts every gram at position 0, so phrases over it cannot
//! work; this tokenizer is the small piece it lacks. Text is NFKC-normalised (full-width
//! `ｉＰｈｏｎｅ` reads as `iphone`), lower-cased, and runs of white space become one space,
//! the same on both sides.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use unicode_normalization::UnicodeNormalization;

/// The name the index registers the analyser under.
pub const NAME: &str = "st_grams";

/// Text as the index sees it: NFKC, lower case, white space runs collapsed to one space,
/// trimmed.
pub fn normalise(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    let mut space = true; // drops leading white space
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_whitespace() || c.is_control() {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
    if out.last() == Some(&' ') {
        out.pop();
    }
    out
}

/// The query's grams: one unigram for a single character, else its bigrams in order (a
/// phrase at consecutive positions).
pub fn query_grams(term: &str) -> Vec<String> {
    let chars = normalise(term);
    match chars.len() {
        0 => Vec::new(),
        1 => vec![chars[0].to_string()],
        _ => chars.windows(2).map(|w| w.iter().collect()).collect(),
    }
}

/// Unigrams and bigrams, each at the position of its first character.
#[derive(Clone, Default)]
pub struct GramTokenizer {
    tokens: Vec<Token>,
}

impl Tokenizer for GramTokenizer {
    type TokenStream<'a> = GramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> GramStream<'a> {
        self.tokens.clear();
        let chars = normalise(text);
        for (i, c) in chars.iter().enumerate() {
            if *c != ' ' {
                self.tokens.push(Token {
                    offset_from: i,
                    offset_to: i + 1,
                    position: i,
                    text: c.to_string(),
                    position_length: 1,
                });
            }
            if let Some(next) = chars.get(i + 1) {
                let mut text = String::with_capacity(8);
                text.push(*c);
                text.push(*next);
                self.tokens.push(Token {
                    offset_from: i,
                    offset_to: i + 2,
                    position: i,
                    text,
                    position_length: 1,
                });
            }
        }
        GramStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

/// The grams of one text.
pub struct GramStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl TokenStream for GramStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn grams(text: &str) -> Vec<(String, usize)> {
        let mut t = GramTokenizer::default();
        let mut s = t.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push((s.token().text.clone(), s.token().position));
        }
        out
    }

    #[test]
    fn characters_and_pairs_at_their_positions() {
        assert_eq!(
            grams("手机 X"),
            vec![
                ("手".into(), 0),
                ("手机".into(), 0),
                ("机".into(), 1),
                ("机 ".into(), 1),
                (" x".into(), 2),
                ("x".into(), 3),
            ]
        );
    }

    #[test]
    fn full_width_case_and_space_runs_read_the_same() {
        assert_eq!(normalise("  ＩＰｈｏｎｅ\t\n 15 "), normalise("iphone 15"));
        assert_eq!(query_grams("ＰＨ"), vec!["ph".to_string()]);
        assert_eq!(query_grams("鞋"), vec!["鞋".to_string()]);
        assert!(query_grams("  ").is_empty());
    }

    proptest! {
        /// A text contains a query (after normalising both) exactly when the query's bigrams
        /// occur in the text's grams at consecutive positions — what the phrase query asks.
        #[test]
        fn phrases_of_bigrams_are_substrings(text in "[ab 手机]{0,12}", query in "[ab 手机]{2,4}") {
            let t = normalise(&text);
            let q = normalise(&query);
            prop_assume!(q.len() >= 2);
            let qg: Vec<String> = q.windows(2).map(|w| w.iter().collect()).collect();
            let tg = grams(&text);
            let found = (0..t.len()).any(|start| {
                qg.iter().enumerate().all(|(k, g)| tg.iter().any(|(x, p)| x == g && *p == start + k))
            });
            let contains = t.windows(q.len()).any(|w| w == q.as_slice());
            prop_assert_eq!(found, contains);
        }
    }
}
