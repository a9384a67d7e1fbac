//! Logical expressions of `.ldb` signatures: `(0&1)|2`, `0>5`, `(0|1|2)>3,2`, `3=0`.
//!
//! A comparison binds to the sub-expression just before it (a number or a parenthesised group); `&` and `|`
//! are evaluated left to right. A sub-expression's value is whether it holds, how many matches its
//! signatures made, and how many distinct signatures matched: `A=X,Y` means exactly X matches from at
//! least Y distinct signatures.

/// A parsed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Sub(u8),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Count {
        inner: Box<Expr>,
        op: Op,
        count: u32,
        distinct: Option<u32>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Op {
    Eq,
    Gt,
    Lt,
}

/// A sub-expression's value.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Value {
    pub(crate) holds: bool,
    pub(crate) matches: u32,
    /// Bit set of the signatures that matched (at most 64 subsignatures).
    pub(crate) distinct: u64,
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    depth: usize,
    /// Terms made so far: subsignatures, operators and counts.
    terms: usize,
}

/// Deepest parenthesis nesting accepted: the parser recurses once per level, so a hostile database must
/// not choose the depth of the stack.
const MAX_DEPTH: usize = 64;

/// Most terms (subsignatures, operators and counts) an expression may have. A chain `0&1&2...` is a tree
/// as deep as it is long, and evaluating it recurses once per level: a hostile database must not choose
/// that depth either. ClamAV's expressions name at most 64 subsignatures (the official database's longest
/// has 63 operators).
const MAX_TERMS: usize = 1024;

impl Parser<'_> {
    /// Counts one more term.
    fn term(&mut self) -> Result<(), String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!("more than {MAX_TERMS} terms"));
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn number(&mut self) -> Result<u32, String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.s[start..self.at])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("expected a number at position {start}"))
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let mut e = match self.peek() {
            Some(b'(') => {
                self.at += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("parentheses nested deeper than {MAX_DEPTH}"));
                }
                let e = self.expr()?;
                self.depth -= 1;
                if self.peek() != Some(b')') {
                    return Err(format!("expected ')' at position {}", self.at));
                }
                self.at += 1;
                e
            }
            Some(c) if c.is_ascii_digit() => {
                let n = self.number()?;
                if n >= 64 {
                    return Err(format!("subsignature {n} is beyond the 64 allowed"));
                }
                self.term()?;
                Expr::Sub(n as u8)
            }
            _ => return Err(format!("unexpected character at position {}", self.at)),
        };
        while let Some(op) = match self.peek() {
            Some(b'=') => Some(Op::Eq),
            Some(b'>') => Some(Op::Gt),
            Some(b'<') => Some(Op::Lt),
            _ => None,
        } {
            self.at += 1;
            let count = self.number()?;
            let distinct = if self.peek() == Some(b',') {
                self.at += 1;
                Some(self.number()?)
            } else {
                None
            };
            self.term()?;
            e = Expr::Count {
                inner: Box::new(e),
                op,
                count,
                distinct,
            };
        }
        Ok(e)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        loop {
            match self.peek() {
                Some(b'&') => {
                    self.at += 1;
                    self.term()?;
                    left = Expr::And(Box::new(left), Box::new(self.primary()?));
                }
                Some(b'|') => {
                    self.at += 1;
                    self.term()?;
                    left = Expr::Or(Box::new(left), Box::new(self.primary()?));
                }
                _ => return Ok(left),
            }
        }
    }
}

/// Parses an expression; the error names the position.
pub(crate) fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        depth: 0,
        terms: 0,
    };
    let e = p.expr()?;
    if p.at != text.len() {
        return Err(format!("unexpected character at position {}", p.at));
    }
    Ok(e)
}

/// One step of an expression in postfix order: how the compiled-database cache stores it, so that reading
/// it back needs no recursion however deep the tree is.
#[derive(serde::Serialize, serde::Deserialize)]
enum Token {
    Sub(u8),
    And,
    Or,
    Count {
        op: Op,
        count: u32,
        distinct: Option<u32>,
    },
}

impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut tokens = Vec::new();
        let mut stack = vec![(self, false)];
        // Iterative post-order walk.
        while let Some((e, expanded)) = stack.pop() {
            match (e, expanded) {
                (Expr::Sub(n), _) => tokens.push(Token::Sub(*n)),
                (Expr::And(a, b) | Expr::Or(a, b), false) => {
                    stack.push((e, true));
                    stack.push((b, false));
                    stack.push((a, false));
                }
                (Expr::And(..), true) => tokens.push(Token::And),
                (Expr::Or(..), true) => tokens.push(Token::Or),
                (Expr::Count { inner, .. }, false) => {
                    stack.push((e, true));
                    stack.push((inner, false));
                }
                (
                    Expr::Count {
                        op,
                        count,
                        distinct,
                        ..
                    },
                    true,
                ) => tokens.push(Token::Count {
                    op: *op,
                    count: *count,
                    distinct: *distinct,
                }),
            }
        }
        serde::Serialize::serialize(&tokens, s)
    }
}

impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Expr, D::Error> {
        let tokens: Vec<Token> = serde::Deserialize::deserialize(d)?;
        if tokens.len() > MAX_TERMS {
            return Err(serde::de::Error::custom("logical expression too long"));
        }
        let mut stack: Vec<Expr> = Vec::new();
        let malformed = || serde::de::Error::custom("malformed logical expression");
        for t in tokens {
            let e = match t {
                Token::Sub(n) => Expr::Sub(n),
                Token::And | Token::Or => {
                    let b = stack.pop().ok_or_else(malformed)?;
                    let a = stack.pop().ok_or_else(malformed)?;
                    match t {
                        Token::And => Expr::And(Box::new(a), Box::new(b)),
                        _ => Expr::Or(Box::new(a), Box::new(b)),
                    }
                }
                Token::Count {
                    op,
                    count,
                    distinct,
                } => Expr::Count {
                    inner: Box::new(stack.pop().ok_or_else(malformed)?),
                    op,
                    count,
                    distinct,
                },
            };
            stack.push(e);
        }
        match (stack.pop(), stack.is_empty()) {
            (Some(e), true) => Ok(e),
            _ => Err(malformed()),
        }
    }
}

impl Expr {
    /// The highest subsignature index used.
    pub(crate) fn max_sub(&self) -> u8 {
        match self {
            Expr::Sub(n) => *n,
            Expr::And(a, b) | Expr::Or(a, b) => a.max_sub().max(b.max_sub()),
            Expr::Count { inner, .. } => inner.max_sub(),
        }
    }

    /// The subsignatures the expression names, each once, in increasing order.
    pub(crate) fn subs(&self) -> Vec<u8> {
        fn walk(e: &Expr, out: &mut Vec<u8>) {
            match e {
                Expr::Sub(n) => out.push(*n),
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Count { inner, .. } => walk(inner, out),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How many matches of subsignature `sub` decide all the expression can learn of it: past this count,
    /// more matches change nothing (whatever the other subsignatures' counts). One, unless a count
    /// compares a sum that holds `sub`: `(0|1)>5` learns something of `0`'s matches up to six. `None` when
    /// the expression does not name `sub`.
    pub(crate) fn enough(&self, sub: u8) -> Option<u32> {
        match self {
            Expr::Sub(n) => (*n == sub).then_some(1),
            Expr::And(a, b) | Expr::Or(a, b) => match (a.enough(sub), b.enough(sub)) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            },
            // `>c` and `=c` are decided once the sum passes `c`, `<c` once it reaches `c`: `sub`'s own
            // matches past `c + 1` cannot move the sum back.
            Expr::Count { inner, count, .. } => {
                inner.enough(sub).map(|e| e.max(count.saturating_add(1)))
            }
        }
    }

    /// Whether the expression may hold when the subsignatures `zero` says are known to have no match, and
    /// nothing is known of the others. An over-approximation: `false` means it holds for no counts of the
    /// others; `true`, that it may.
    pub(crate) fn can_hold(&self, zero: &dyn Fn(u8) -> bool) -> bool {
        match self {
            Expr::Sub(n) => !zero(*n),
            Expr::And(a, b) => a.can_hold(zero) && b.can_hold(zero),
            Expr::Or(a, b) => a.can_hold(zero) || b.can_hold(zero),
            // A count over subsignatures all known to be zero is known exactly; else it may hold.
            Expr::Count { .. } => {
                let subs = self.subs();
                !subs.iter().all(|&n| zero(n)) || self.eval(&[]).holds
            }
        }
    }

    /// Evaluates with the number of matches of each subsignature.
    pub(crate) fn eval(&self, counts: &[u32]) -> Value {
        match self {
            Expr::Sub(n) => {
                let m = counts.get(*n as usize).copied().unwrap_or(0);
                Value {
                    holds: m > 0,
                    matches: m,
                    distinct: if m > 0 { 1 << n } else { 0 },
                }
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                let (x, y) = (a.eval(counts), b.eval(counts));
                let holds = if matches!(self, Expr::And(..)) {
                    x.holds && y.holds
                } else {
                    x.holds || y.holds
                };
                Value {
                    holds,
                    matches: x.matches.saturating_add(y.matches),
                    distinct: x.distinct | y.distinct,
                }
            }
            Expr::Count {
                inner,
                op,
                count,
                distinct,
            } => {
                let v = inner.eval(counts);
                let by_count = match op {
                    Op::Eq => v.matches == *count,
                    Op::Gt => v.matches > *count,
                    Op::Lt => v.matches < *count,
                };
                let by_distinct = distinct.is_none_or(|d| v.distinct.count_ones() >= d);
                Value {
                    holds: by_count && by_distinct,
                    ..v
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_table() {
        // (expression, matches per subsignature, holds)
        let table: &[(&str, &[u32], bool)] = &[
            ("0", &[1], true),
            ("0", &[0], false),
            ("0&1", &[1, 1], true),
            ("0&1", &[1, 0], false),
            ("0|1", &[0, 2], true),
            ("(0&1)|2", &[0, 0, 1], true),
            ("0>2", &[3], true),
            ("0>2", &[2], false),
            ("0<2", &[1], true),
            ("0=0", &[0], true),
            ("(0&1&2&(3=0))", &[1, 1, 1, 0], true),
            ("(0&1&2&(3=0))", &[1, 1, 1, 1], false),
            ("(0|1|2)>3,2", &[4, 0, 0], false),
            ("(0|1|2)>3,2", &[3, 1, 0], true),
            ("0&1>50", &[1, 51], true),
            ("0&1>50", &[1, 50], false),
            ("(0>20)&1&2", &[21, 1, 1], true),
            ("(0|1)=2,2", &[1, 1], true),
        ];
        for (text, counts, want) in table {
            let e = parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(e.eval(counts).holds, *want, "{text} with {counts:?}");
        }
        for bad in ["", "0&", "(0", "0)", "a", "0>x", "64", "0&&1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!("{}0{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        let ok = format!("{}0{}", "(".repeat(64), ")".repeat(64));
        assert!(parse(&ok).is_ok());
        // A chain is as deep as it is long: bounded too.
        let chain = |n: usize| vec!["0>1"; n].join("&");
        assert!(parse(&chain(300)).is_ok());
        assert!(parse(&chain(600)).unwrap_err().contains("terms"));
        assert!(parse(&vec!["0"; 100_000].join("|")).is_err());
    }

    #[test]
    fn matches_past_enough_change_nothing() {
        // (expression, enough matches of subsignatures 0, 1 and 2)
        let table: &[(&str, [Option<u32>; 3])] = &[
            ("0", [Some(1), None, None]),
            ("0&1|2", [Some(1), Some(1), Some(1)]),
            ("0>2", [Some(3), None, None]),
            ("0<2", [Some(3), None, None]),
            ("0=0", [Some(1), None, None]),
            ("(0|1)>3,2&2", [Some(4), Some(4), Some(1)]),
            ("((0>1)|1)=4", [Some(5), Some(5), None]),
            ("0&(1>50)", [Some(1), Some(51), None]),
            ("(0=2)&(1<1)&(2=0)", [Some(3), Some(2), Some(1)]),
        ];
        for (text, want) in table {
            let e = parse(text).unwrap();
            let enough: Vec<Option<u32>> = (0..3).map(|n| e.enough(n)).collect();
            assert_eq!(enough, want, "{text}");
            // Every count from 0 to 7 of each subsignature evaluates as it does cut at enough.
            for k in 0..512u32 {
                let counts: Vec<u32> = (0..3).map(|n| (k >> (3 * n)) & 7).collect();
                let cut: Vec<u32> = (0..3)
                    .map(|n| counts[n].min(want[n].unwrap_or(u32::MAX)))
                    .collect();
                assert_eq!(
                    e.eval(&counts).holds,
                    e.eval(&cut).holds,
                    "{text} with {counts:?}"
                );
            }
        }
    }

    #[test]
    fn what_may_hold_when_some_subsignatures_have_no_match() {
        // (expression, subsignatures known to have no match, whether it may hold)
        let table: &[(&str, &[u8], bool)] = &[
            ("0", &[0], false),
            ("0", &[1], true),
            ("0|1", &[0], true),
            ("0|1", &[0, 1], false),
            ("0&1", &[1], false),
            ("0&1", &[2], true),
            ("(0|1)&2", &[0, 1], false),
            ("(0|1)&2", &[0], true),
            ("0=0", &[0], true),
            ("0<1", &[0], true),
            ("0>0", &[0], false),
            ("(0|1)>1", &[0], true),
            ("(0|1)>1", &[0, 1], false),
            ("(0|1)=0&2", &[0, 1], true),
            ("(0|1)=0&2", &[0, 1, 2], false),
        ];
        for (text, zero, want) in table {
            let e = parse(text).unwrap();
            assert_eq!(
                e.can_hold(&|n| zero.contains(&n)),
                *want,
                "{text} with {zero:?}"
            );
        }
        // Never "cannot hold" when some counts of the others make it hold: every expression of the table,
        // with every count from 0 to 3 of subsignatures 0 to 2.
        for (text, zero, _) in table {
            let e = parse(text).unwrap();
            if e.can_hold(&|n| zero.contains(&n)) {
                continue;
            }
            for k in 0..64u32 {
                let counts: Vec<u32> = (0..3u8)
                    .map(|n| {
                        if zero.contains(&n) {
                            0
                        } else {
                            (k >> (2 * n)) & 3
                        }
                    })
                    .collect();
                assert!(!e.eval(&counts).holds, "{text} holds with {counts:?}");
            }
        }
        assert_eq!(parse("(2|0)&0>1").unwrap().subs(), vec![0, 2]);
    }
}
