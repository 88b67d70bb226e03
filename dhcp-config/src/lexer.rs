//! Tokenizer for the dhcpd.conf dialect.
//!
//! dhcpd's own lexer decides what a token is from the grammar position (an IP address,
//! a MAC and a name are all "words" to it until the parser asks). We do the same: the
//! lexer only splits the text into words, strings and punctuation, and the parser
//! interprets a word as a number, an address or a name where it expects one. That keeps
//! names like `omapi_key`, `default-lease-time` or `0f:0f:..` in one token each.

use std::sync::Arc;

use crate::error::{ConfigError, ErrorKind, Span};

/// What kind of token this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A run of characters that are neither blanks nor punctuation.
    Word,
    /// A quoted string, escapes decoded (it may hold any byte, e.g. through `\001`).
    Str(Vec<u8>),
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `=`
    Equals,
    /// `(` (dhcpd's lexer cuts words there too: `substring(option x, 0, 9)`)
    LParen,
    /// `)`
    RParen,
    /// `!` (as in `!=`)
    Bang,
}

/// One token with its source text (strings keep their quotes) and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub span: Span,
}

impl Token {
    /// The word's text, if this is a word.
    pub fn word(&self) -> Option<&str> {
        match self.kind {
            TokenKind::Word => Some(&self.text),
            _ => None,
        }
    }

    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        format!("'{}'", self.text)
    }
}

/// Characters that end a word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '{' | '}' | ';' | ',' | '=' | '"' | '#' | '(' | ')' | '!')
}

/// Splits `text` into tokens. Lexical errors (only unterminated strings can occur) are
/// pushed to `errors` and the rest of the file is still tokenized.
pub(crate) fn tokenize(file: &Arc<str>, text: &str, errors: &mut Vec<ConfigError>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    let (mut line, mut column) = (1u32, 1u32);
    // Advances the line/column counters over one character.
    let step = |c: char, line: &mut u32, column: &mut u32| {
        if c == '\n' {
            *line = line.saturating_add(1);
            *column = 1;
        } else {
            *column = column.saturating_add(1);
        }
    };
    while let Some(&(start, c)) = chars.peek() {
        let span = Span { file: Arc::clone(file), line, column };
        if c.is_whitespace() {
            chars.next();
            step(c, &mut line, &mut column);
            continue;
        }
        if c == '#' {
            // Comment to end of line.
            while let Some(&(_, c)) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
                step(c, &mut line, &mut column);
            }
            continue;
        }
        let punct = match c {
            '{' => Some(TokenKind::LBrace),
            '}' => Some(TokenKind::RBrace),
            ';' => Some(TokenKind::Semi),
            ',' => Some(TokenKind::Comma),
            '=' => Some(TokenKind::Equals),
            '(' => Some(TokenKind::LParen),
            ')' => Some(TokenKind::RParen),
            '!' => Some(TokenKind::Bang),
            _ => None,
        };
        if let Some(kind) = punct {
            chars.next();
            step(c, &mut line, &mut column);
            tokens.push(Token { kind, text: c.to_string(), span });
            continue;
        }
        if c == '"' {
            chars.next();
            step(c, &mut line, &mut column);
            let mut value = Vec::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                step(c, &mut line, &mut column);
                match c {
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    '\\' => {
                        let Some((_, e)) = chars.next() else { break };
                        step(e, &mut line, &mut column);
                        match e {
                            'n' => value.push(b'\n'),
                            't' => value.push(b'\t'),
                            'r' => value.push(b'\r'),
                            '0'..='7' => {
                                // Up to three octal digits, as in dhcpd.
                                let mut v = e as u32 - '0' as u32;
                                for _ in 0..2 {
                                    match chars.peek() {
                                        Some(&(_, d @ '0'..='7')) => {
                                            v = v * 8 + (d as u32 - '0' as u32);
                                            chars.next();
                                            step(d, &mut line, &mut column);
                                        }
                                        _ => break,
                                    }
                                }
                                value.push((v & 0xff) as u8);
                            }
                            'x' => {
                                let mut v = 0u32;
                                let mut n = 0;
                                while n < 2 {
                                    match chars.peek() {
                                        Some(&(_, d)) if d.is_ascii_hexdigit() => {
                                            v = v * 16 + d.to_digit(16).unwrap_or(0);
                                            chars.next();
                                            step(d, &mut line, &mut column);
                                            n += 1;
                                        }
                                        _ => break,
                                    }
                                }
                                if n == 0 {
                                    value.push(b'x');
                                } else {
                                    value.push(v as u8);
                                }
                            }
                            other => {
                                let mut buf = [0u8; 4];
                                value.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                            }
                        }
                    }
                    other => {
                        let mut buf = [0u8; 4];
                        value.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            match end {
                Some(end) => tokens.push(Token {
                    kind: TokenKind::Str(value),
                    text: text.get(start..end).unwrap_or_default().to_string(),
                    span,
                }),
                None => errors.push(ConfigError::new(&span, ErrorKind::UnterminatedString)),
            }
            continue;
        }
        // A word: everything up to the next delimiter.
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if is_delimiter(c) {
                break;
            }
            end = i + c.len_utf8();
            chars.next();
            step(c, &mut line, &mut column);
        }
        tokens.push(Token { kind: TokenKind::Word, text: text.get(start..end).unwrap_or_default().to_string(), span });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> (Vec<Token>, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let toks = tokenize(&Arc::from("t.conf"), text, &mut errors);
        (toks, errors)
    }

    #[test]
    fn words_punctuation_and_positions() {
        let (t, e) = lex("subnet 10.0.0.0 netmask 255.0.0.0 {\n  range 10.0.0.1; # c\n}");
        assert!(e.is_empty());
        let texts: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["subnet", "10.0.0.0", "netmask", "255.0.0.0", "{", "range", "10.0.0.1", ";", "}"]);
        assert_eq!((t[5].span.line, t[5].span.column), (2, 3));
        assert_eq!((t[8].span.line, t[8].span.column), (3, 1));
    }

    #[test]
    fn macs_and_hex_stay_one_word() {
        let (t, _) = lex("hardware ethernet 00:11:22:aa:bb:cc;");
        assert_eq!(t[2].text, "00:11:22:aa:bb:cc");
        assert_eq!(t[3].kind, TokenKind::Semi);
    }

    #[test]
    fn string_escapes() {
        let (t, e) = lex(r#""a\"b\001\x41\\""#);
        assert!(e.is_empty());
        assert_eq!(t[0].kind, TokenKind::Str(b"a\"b\x01A\\".to_vec()));
    }

    #[test]
    fn unterminated_string_is_reported() {
        let (t, e) = lex("filename \"abc");
        assert_eq!(t.len(), 1);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, ErrorKind::UnterminatedString);
        assert_eq!(e[0].span.column, 10);
    }

    #[test]
    fn base64_with_equals_splits() {
        let (t, _) = lex("secret Ofake==;");
        let texts: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["secret", "Ofake", "=", "=", ";"]);
    }
}
