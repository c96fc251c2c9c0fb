//! XSD 1.0 regular expressions (Part 2, Appendix F) translated to the `regex` crate's syntax.
//!
//! XSD patterns are implicitly anchored at both ends, have no anchors or lazy quantifiers, treat
//! `^` and `$` as ordinary characters, and add escapes the `regex` crate lacks: `\i`, `\c` (XML
//! name characters), `\p{IsBlock}` (Unicode blocks) and character-class subtraction
//! `[a-z-[aeiou]]`. The translation parses the XSD syntax fully and emits an equivalent
//! expression; anything outside the XSD grammar is an error, never passed through.

use crate::xmlchar;

/// A compiled `pattern` facet value.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles an XSD pattern; the error says what is wrong with it.
    pub(crate) fn new(source: &str) -> Result<Pattern, String> {
        let translated = translate(source)?;
        let regex = regex::RegexBuilder::new(&translated)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .map_err(|e| format!("cannot compile translated expression: {e}"))?;
        Ok(Pattern {
            source: source.to_owned(),
            regex,
        })
    }

    pub(crate) fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// Translates an XSD pattern to an anchored `regex` expression.
pub(crate) fn translate(pattern: &str) -> Result<String, String> {
    let mut p = Parser {
        chars: pattern.chars().collect(),
        pos: 0,
    };
    let body = p.regexp()?;
    if p.pos != p.chars.len() {
        return Err(format!(
            "unexpected {:?} at offset {}",
            p.peek_char(),
            p.pos
        ));
    }
    Ok(format!(r"\A(?:{body})\z"))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn peek_char(&self) -> String {
        self.peek()
            .map(String::from)
            .unwrap_or_else(|| "end".into())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.bump() == Some(c) {
            Ok(())
        } else {
            Err(format!(
                "expected {c:?} at offset {}",
                self.pos.saturating_sub(1)
            ))
        }
    }

    // regExp ::= branch ( '|' branch )*
    fn regexp(&mut self) -> Result<String, String> {
        let mut out = self.branch()?;
        while self.peek() == Some('|') {
            self.pos += 1;
            out.push('|');
            out.push_str(&self.branch()?);
        }
        Ok(out)
    }

    // branch ::= piece*
    fn branch(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            out.push_str(&self.piece()?);
        }
        Ok(out)
    }

    // piece ::= atom quantifier?
    fn piece(&mut self) -> Result<String, String> {
        let atom = self.atom()?;
        let mut out = format!("(?:{atom})");
        match self.peek() {
            Some(q @ ('?' | '*' | '+')) => {
                self.pos += 1;
                out.push(q);
            }
            Some('{') => {
                self.pos += 1;
                let min = self.number()?;
                let max = if self.peek() == Some(',') {
                    self.pos += 1;
                    if self.peek() == Some('}') {
                        None
                    } else {
                        Some(self.number()?)
                    }
                } else {
                    Some(min)
                };
                self.expect('}')?;
                match max {
                    Some(max) if max < min => {
                        return Err(format!("quantifier {{{min},{max}}} has max below min"));
                    }
                    Some(max) if max == min => out.push_str(&format!("{{{min}}}")),
                    Some(max) => out.push_str(&format!("{{{min},{max}}}")),
                    None => out.push_str(&format!("{{{min},}}")),
                }
            }
            _ => {}
        }
        Ok(out)
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.pos;
        while matches!(self.peek(), Some('0'..='9')) {
            self.pos += 1;
        }
        let digits: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or(&[])
            .iter()
            .collect();
        digits
            .parse()
            .map_err(|_| format!("expected a number in a quantifier at offset {start}"))
    }

    // atom ::= Char | charClass | '(' regExp ')'
    fn atom(&mut self) -> Result<String, String> {
        let at = self.pos;
        match self.bump() {
            None => Err("unexpected end of pattern".into()),
            Some('(') => {
                let inner = self.regexp()?;
                self.expect(')')?;
                Ok(inner)
            }
            Some('[') => self.class_expr_body(),
            Some('.') => Ok(r"[^\n\r]".into()),
            Some('\\') => match self.escape()? {
                Escape::Char(c) => Ok(lit(c)),
                Escape::Class(class) => Ok(class),
            },
            Some(c @ ('?' | '*' | '+' | '{' | '}' | ')' | ']')) => {
                Err(format!("unescaped {c:?} at offset {at}"))
            }
            Some(c) => Ok(lit(c)),
        }
    }

    /// After a backslash: a single-character escape or a class escape (already bracketed or a
    /// `\p{..}` item usable both inside and outside classes).
    fn escape(&mut self) -> Result<Escape, String> {
        let at = self.pos;
        let c = self.bump().ok_or("pattern ends with a backslash")?;
        Ok(match c {
            'n' => Escape::Char('\n'),
            'r' => Escape::Char('\r'),
            't' => Escape::Char('\t'),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^' => {
                Escape::Char(c)
            }
            's' => Escape::Class(r"[\x20\t\n\r]".into()),
            'S' => Escape::Class(r"[^\x20\t\n\r]".into()),
            'd' => Escape::Class(r"\p{Nd}".into()),
            'D' => Escape::Class(r"\P{Nd}".into()),
            'w' => Escape::Class(r"[^\p{P}\p{Z}\p{C}]".into()),
            'W' => Escape::Class(r"[\p{P}\p{Z}\p{C}]".into()),
            'i' => Escape::Class(ranges_class(&xmlchar::name_start_ranges(), false)),
            'I' => Escape::Class(ranges_class(&xmlchar::name_start_ranges(), true)),
            'c' => Escape::Class(ranges_class(&xmlchar::name_char_ranges(), false)),
            'C' => Escape::Class(ranges_class(&xmlchar::name_char_ranges(), true)),
            'p' | 'P' => {
                self.expect('{')?;
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '}') {
                    self.pos += 1;
                }
                let name: String = self
                    .chars
                    .get(start..self.pos)
                    .unwrap_or(&[])
                    .iter()
                    .collect();
                self.expect('}')?;
                Escape::Class(property(&name, c == 'P')?)
            }
            other => return Err(format!("unknown escape \\{other} at offset {at}")),
        })
    }

    /// `charClassExpr` after its `[`: returns a bracketed `regex` class.
    fn class_expr_body(&mut self) -> Result<String, String> {
        let negated = if self.peek() == Some('^') {
            self.pos += 1;
            true
        } else {
            false
        };
        let mut items = String::new();
        let mut count = 0usize;
        let mut subtraction = None;
        loop {
            let at = self.pos;
            match self.peek() {
                None => return Err("unterminated character class".into()),
                Some(']') if count > 0 => {
                    self.pos += 1;
                    break;
                }
                Some(']') => return Err(format!("empty character class at offset {at}")),
                Some('-') if self.peek_at(1) == Some('[') && count > 0 => {
                    self.pos += 2;
                    subtraction = Some(self.class_expr_body()?);
                    self.expect(']')?;
                    break;
                }
                Some('-') if count == 0 || self.peek_at(1) == Some(']') => {
                    self.pos += 1;
                    items.push_str(&lit_in_class('-'));
                    count += 1;
                }
                Some('-') => {
                    return Err(format!("misplaced '-' in character class at offset {at}"));
                }
                Some('[') => {
                    return Err(format!("unescaped '[' in character class at offset {at}"));
                }
                Some(_) => {
                    let first = self.class_char()?;
                    match first {
                        Escape::Class(class) => items.push_str(&class),
                        Escape::Char(lo) => {
                            if self.peek() == Some('-')
                                && !matches!(self.peek_at(1), Some(']') | Some('['))
                            {
                                self.pos += 1;
                                let hi = match self.class_char()? {
                                    Escape::Char(hi) => hi,
                                    Escape::Class(_) => {
                                        return Err(format!(
                                            "class escape as range end at offset {}",
                                            self.pos
                                        ));
                                    }
                                };
                                if hi < lo {
                                    return Err(format!(
                                        "range {lo:?}-{hi:?} is reversed at offset {at}"
                                    ));
                                }
                                items.push_str(&lit_in_class(lo));
                                items.push('-');
                                items.push_str(&lit_in_class(hi));
                            } else {
                                items.push_str(&lit_in_class(lo));
                            }
                        }
                    }
                    count += 1;
                }
            }
        }
        let base = format!("[{}{}]", if negated { "^" } else { "" }, items);
        Ok(match subtraction {
            Some(sub) => format!("[{base}--{sub}]"),
            None => base,
        })
    }

    fn class_char(&mut self) -> Result<Escape, String> {
        match self.bump() {
            Some('\\') => self.escape(),
            Some(c) => Ok(Escape::Char(c)),
            None => Err("unterminated character class".into()),
        }
    }
}

enum Escape {
    Char(char),
    Class(String),
}

/// A literal outside a class.
fn lit(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!(r"\x{{{:X}}}", c as u32)
    }
}

/// A literal inside a class.
fn lit_in_class(c: char) -> String {
    lit(c)
}

fn ranges_class(ranges: &[(u32, u32)], negated: bool) -> String {
    let mut out = String::from(if negated { "[^" } else { "[" });
    for &(lo, hi) in ranges {
        if lo == hi {
            out.push_str(&format!(r"\x{{{lo:X}}}"));
        } else {
            out.push_str(&format!(r"\x{{{lo:X}}}-\x{{{hi:X}}}"));
        }
    }
    out.push(']');
    out
}

const CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
    "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Z", "Zs", "Zl", "Zp", "S", "Sm", "Sc", "Sk", "So", "C",
    "Cc", "Cf", "Co", "Cn", "Cs",
];

/// `\p{name}` / `\P{name}`: a general category or an `Is` block.
fn property(name: &str, negated: bool) -> Result<String, String> {
    if CATEGORIES.contains(&name) {
        return Ok(format!(r"\{}{{{name}}}", if negated { 'P' } else { 'p' }));
    }
    if let Some(block) = name.strip_prefix("Is") {
        let ranges: Vec<(u32, u32)> = BLOCKS
            .iter()
            .filter(|(n, _, _)| *n == block)
            .map(|&(_, lo, hi)| (lo, hi))
            .collect();
        if ranges.is_empty() {
            return Err(format!("unknown Unicode block Is{block}"));
        }
        // Surrogate code points are not characters; a block of them matches nothing.
        let ranges: Vec<(u32, u32)> = ranges
            .into_iter()
            .filter(|&(lo, hi)| !(lo >= 0xD800 && hi <= 0xDFFF))
            .collect();
        if ranges.is_empty() {
            return Ok(if negated {
                r"[\x{0}-\x{10FFFF}]".into()
            } else {
                r"[^\x{0}-\x{10FFFF}]".into()
            });
        }
        return Ok(ranges_class(&ranges, negated));
    }
    Err(format!("unknown character property {name}"))
}

/// Unicode blocks (Blocks.txt of Unicode 4.0, the table libxml2 uses), names without spaces as
/// XSD spells them, plus the XSD 1.0 (Unicode 3.1) aliases `Greek`, `CombiningMarksforSymbols`
/// and `PrivateUse`.
const BLOCKS: &[(&str, u32, u32)] = &[
    ("BasicLatin", 0x0000, 0x007F),
    ("Latin-1Supplement", 0x0080, 0x00FF),
    ("LatinExtended-A", 0x0100, 0x017F),
    ("LatinExtended-B", 0x0180, 0x024F),
    ("IPAExtensions", 0x0250, 0x02AF),
    ("SpacingModifierLetters", 0x02B0, 0x02FF),
    ("CombiningDiacriticalMarks", 0x0300, 0x036F),
    ("GreekandCoptic", 0x0370, 0x03FF),
    ("Greek", 0x0370, 0x03FF),
    ("Cyrillic", 0x0400, 0x04FF),
    ("CyrillicSupplement", 0x0500, 0x052F),
    ("Armenian", 0x0530, 0x058F),
    ("Hebrew", 0x0590, 0x05FF),
    ("Arabic", 0x0600, 0x06FF),
    ("Syriac", 0x0700, 0x074F),
    ("Thaana", 0x0780, 0x07BF),
    ("Devanagari", 0x0900, 0x097F),
    ("Bengali", 0x0980, 0x09FF),
    ("Gurmukhi", 0x0A00, 0x0A7F),
    ("Gujarati", 0x0A80, 0x0AFF),
    ("Oriya", 0x0B00, 0x0B7F),
    ("Tamil", 0x0B80, 0x0BFF),
    ("Telugu", 0x0C00, 0x0C7F),
    ("Kannada", 0x0C80, 0x0CFF),
    ("Malayalam", 0x0D00, 0x0D7F),
    ("Sinhala", 0x0D80, 0x0DFF),
    ("Thai", 0x0E00, 0x0E7F),
    ("Lao", 0x0E80, 0x0EFF),
    ("Tibetan", 0x0F00, 0x0FFF),
    ("Myanmar", 0x1000, 0x109F),
    ("Georgian", 0x10A0, 0x10FF),
    ("HangulJamo", 0x1100, 0x11FF),
    ("Ethiopic", 0x1200, 0x137F),
    ("Cherokee", 0x13A0, 0x13FF),
    ("UnifiedCanadianAboriginalSyllabics", 0x1400, 0x167F),
    ("Ogham", 0x1680, 0x169F),
    ("Runic", 0x16A0, 0x16FF),
    ("Tagalog", 0x1700, 0x171F),
    ("Hanunoo", 0x1720, 0x173F),
    ("Buhid", 0x1740, 0x175F),
    ("Tagbanwa", 0x1760, 0x177F),
    ("Khmer", 0x1780, 0x17FF),
    ("Mongolian", 0x1800, 0x18AF),
    ("Limbu", 0x1900, 0x194F),
    ("TaiLe", 0x1950, 0x197F),
    ("KhmerSymbols", 0x19E0, 0x19FF),
    ("PhoneticExtensions", 0x1D00, 0x1D7F),
    ("LatinExtendedAdditional", 0x1E00, 0x1EFF),
    ("GreekExtended", 0x1F00, 0x1FFF),
    ("GeneralPunctuation", 0x2000, 0x206F),
    ("SuperscriptsandSubscripts", 0x2070, 0x209F),
    ("CurrencySymbols", 0x20A0, 0x20CF),
    ("CombiningDiacriticalMarksforSymbols", 0x20D0, 0x20FF),
    ("CombiningMarksforSymbols", 0x20D0, 0x20FF),
    ("LetterlikeSymbols", 0x2100, 0x214F),
    ("NumberForms", 0x2150, 0x218F),
    ("Arrows", 0x2190, 0x21FF),
    ("MathematicalOperators", 0x2200, 0x22FF),
    ("MiscellaneousTechnical", 0x2300, 0x23FF),
    ("ControlPictures", 0x2400, 0x243F),
    ("OpticalCharacterRecognition", 0x2440, 0x245F),
    ("EnclosedAlphanumerics", 0x2460, 0x24FF),
    ("BoxDrawing", 0x2500, 0x257F),
    ("BlockElements", 0x2580, 0x259F),
    ("GeometricShapes", 0x25A0, 0x25FF),
    ("MiscellaneousSymbols", 0x2600, 0x26FF),
    ("Dingbats", 0x2700, 0x27BF),
    ("MiscellaneousMathematicalSymbols-A", 0x27C0, 0x27EF),
    ("SupplementalArrows-A", 0x27F0, 0x27FF),
    ("BraillePatterns", 0x2800, 0x28FF),
    ("SupplementalArrows-B", 0x2900, 0x297F),
    ("MiscellaneousMathematicalSymbols-B", 0x2980, 0x29FF),
    ("SupplementalMathematicalOperators", 0x2A00, 0x2AFF),
    ("MiscellaneousSymbolsandArrows", 0x2B00, 0x2BFF),
    ("CJKRadicalsSupplement", 0x2E80, 0x2EFF),
    ("KangxiRadicals", 0x2F00, 0x2FDF),
    ("IdeographicDescriptionCharacters", 0x2FF0, 0x2FFF),
    ("CJKSymbolsandPunctuation", 0x3000, 0x303F),
    ("Hiragana", 0x3040, 0x309F),
    ("Katakana", 0x30A0, 0x30FF),
    ("Bopomofo", 0x3100, 0x312F),
    ("HangulCompatibilityJamo", 0x3130, 0x318F),
    ("Kanbun", 0x3190, 0x319F),
    ("BopomofoExtended", 0x31A0, 0x31BF),
    ("KatakanaPhoneticExtensions", 0x31F0, 0x31FF),
    ("EnclosedCJKLettersandMonths", 0x3200, 0x32FF),
    ("CJKCompatibility", 0x3300, 0x33FF),
    ("CJKUnifiedIdeographsExtensionA", 0x3400, 0x4DBF),
    ("YijingHexagramSymbols", 0x4DC0, 0x4DFF),
    ("CJKUnifiedIdeographs", 0x4E00, 0x9FFF),
    ("YiSyllables", 0xA000, 0xA48F),
    ("YiRadicals", 0xA490, 0xA4CF),
    ("HangulSyllables", 0xAC00, 0xD7AF),
    ("HighSurrogates", 0xD800, 0xDB7F),
    ("HighPrivateUseSurrogates", 0xDB80, 0xDBFF),
    ("LowSurrogates", 0xDC00, 0xDFFF),
    ("PrivateUseArea", 0xE000, 0xF8FF),
    ("PrivateUse", 0xE000, 0xF8FF),
    ("PrivateUse", 0xF0000, 0x10FFFF),
    ("CJKCompatibilityIdeographs", 0xF900, 0xFAFF),
    ("AlphabeticPresentationForms", 0xFB00, 0xFB4F),
    ("ArabicPresentationForms-A", 0xFB50, 0xFDFF),
    ("VariationSelectors", 0xFE00, 0xFE0F),
    ("CombiningHalfMarks", 0xFE20, 0xFE2F),
    ("CJKCompatibilityForms", 0xFE30, 0xFE4F),
    ("SmallFormVariants", 0xFE50, 0xFE6F),
    ("ArabicPresentationForms-B", 0xFE70, 0xFEFF),
    ("HalfwidthandFullwidthForms", 0xFF00, 0xFFEF),
    ("Specials", 0xFFF0, 0xFFFF),
    ("LinearBSyllabary", 0x10000, 0x1007F),
    ("LinearBIdeograms", 0x10080, 0x100FF),
    ("AegeanNumbers", 0x10100, 0x1013F),
    ("OldItalic", 0x10300, 0x1032F),
    ("Gothic", 0x10330, 0x1034F),
    ("Ugaritic", 0x10380, 0x1039F),
    ("Deseret", 0x10400, 0x1044F),
    ("Shavian", 0x10450, 0x1047F),
    ("Osmanya", 0x10480, 0x104AF),
    ("CypriotSyllabary", 0x10800, 0x1083F),
    ("ByzantineMusicalSymbols", 0x1D000, 0x1D0FF),
    ("MusicalSymbols", 0x1D100, 0x1D1FF),
    ("TaiXuanJingSymbols", 0x1D300, 0x1D35F),
    ("MathematicalAlphanumericSymbols", 0x1D400, 0x1D7FF),
    ("CJKUnifiedIdeographsExtensionB", 0x20000, 0x2A6DF),
    ("CJKCompatibilityIdeographsSupplement", 0x2F800, 0x2FA1F),
    ("Tags", 0xE0000, 0xE007F),
    ("VariationSelectorsSupplement", 0xE0100, 0xE01EF),
    ("SupplementaryPrivateUseArea-A", 0xF0000, 0xFFFFF),
    ("SupplementaryPrivateUseArea-B", 0x100000, 0x10FFFF),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        Pattern::new(pattern)
            .expect("pattern compiles")
            .is_match(value)
    }

    #[test]
    fn patterns_are_anchored_at_both_ends() {
        assert!(matches("[0-9]{4}", "2025"));
        assert!(!matches("[0-9]{4}", "2025Z"));
        assert!(!matches("[0-9]{4}", "x2025"));
    }

    #[test]
    fn caret_and_dollar_are_ordinary_characters() {
        assert!(matches("a^b$", "a^b$"));
        assert!(!matches("a^b$", "ab"));
    }

    #[test]
    fn dot_excludes_line_breaks_only() {
        assert!(matches(".{1,3}", "ä€x"));
        assert!(!matches(".", "\n"));
        assert!(!matches(".", "\r"));
    }

    #[test]
    fn character_class_subtraction_removes_the_inner_class() {
        assert!(matches("[a-z-[aeiou]]+", "bcd"));
        assert!(!matches("[a-z-[aeiou]]+", "bad"));
        assert!(!matches("[^a-z-[x]]", "x"));
        assert!(matches("[^a-z-[0]]", "A"));
        assert!(!matches("[^a-z-[0]]", "0"));
    }

    #[test]
    fn name_escapes_use_xml_name_characters() {
        assert!(matches(r"\i\c*", "_a.b-c:d"));
        assert!(!matches(r"\i\c*", "1ab"));
        assert!(matches(r"[\i-[:]][\c-[:]]*", "ncname"));
        assert!(!matches(r"[\i-[:]][\c-[:]]*", ":x"));
    }

    #[test]
    fn block_and_category_escapes_are_supported() {
        assert!(matches(r"\p{IsBasicLatin}+", "abc"));
        assert!(!matches(r"\p{IsBasicLatin}+", "äbc"));
        assert!(matches(r"\P{IsBasicLatin}", "ä"));
        assert!(matches(r"\p{Lu}\p{Ll}+", "Müller"));
        assert!(matches(r"\d+", "0123"));
        assert!(matches(r"\w+", "ab1"));
        assert!(!matches(r"\w", "-"));
    }

    #[test]
    fn dash_is_literal_at_class_edges_and_escaped() {
        assert!(matches("[-a]", "-"));
        assert!(matches("[a-]", "-"));
        assert!(matches(r"[,-\.]", "-"));
        assert!(matches(r"[,-\.]", "."));
        assert!(matches(r"\-", "-"));
    }

    #[test]
    fn rejects_syntax_outside_the_xsd_grammar() {
        for bad in [
            "a{2,1}",
            "(a",
            "a)",
            "[a",
            "*a",
            r"\q",
            r"\p{Foo}",
            r"\p{IsNoSuchBlock}",
            "[]",
            "[a-b-c]",
            "[z-a]",
        ] {
            assert!(Pattern::new(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn din_91379_style_alternations_compile_and_match() {
        let p = "([ -~]|[\u{A0}-\u{17E}]|A\u{30B}|C(\u{300}|\u{304}))*";
        assert!(matches(p, "Müller A\u{30B}"));
        assert!(!matches(p, "Müller \u{2013}"));
    }
}
