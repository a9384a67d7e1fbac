//! HTML: smuggling, forms that post elsewhere, self-redirects, and links that lie about where they go.

use super::{
    HTML_EXTERNAL_FORM, HTML_META_REFRESH, HTML_SMUGGLING, IP_HOST, PUNYCODE_HOST, SPOOFED_DOMAIN,
};

/// Most links judged in one object.
const MAX_LINKS: usize = 2000;

/// Decodes the common character references (`&amp;`, `&#46;`, `&#x2e;`, ...).
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let body = &tail[1..e];
            let c = match body {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    let num = body.strip_prefix('#')?;
                    let v = match num.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(v)
                }
            }?;
            Some((c, e + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &tail[used..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The host of an absolute http(s) URL, lower-cased, without port or credentials.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_string()
    };
    (!host.is_empty()).then_some(host.trim_end_matches('.').to_string())
}

/// A domain written as link text (`www.bank.com`, `https://bank.com/login`), if the text is one.
fn domain_in_text(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_lowercase();
    let t = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
        .unwrap_or(&t);
    let host = t.split(['/', '?', '#', ' ']).next()?;
    let labels: Vec<&str> = host.split('.').collect();
    let ok = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        && t.len() == text.trim().len().min(t.len());
    ok.then(|| host.to_string())
}

/// The registrable part of a host: the last two labels, or three under a two-letter country code with a
/// generic second level (`bank.co.uk`).
fn registrable(host: &str) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    let n = labels.len();
    let take = if n >= 3
        && labels[n - 1].len() == 2
        && matches!(
            labels[n - 2],
            "co" | "com" | "org" | "net" | "gov" | "ac" | "edu" | "ne" | "or"
        ) {
        3
    } else {
        2
    };
    labels[n.saturating_sub(take)..].join(".")
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[')
        || (host.split('.').count() == 4 && host.split('.').all(|p| p.parse::<u8>().is_ok()))
}

/// The attribute's value in a tag's text (`href="..."`), lower-case name match.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[at + name.len()..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let v = tag[value_start..].trim_start();
        let value = match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or(""),
            _ => v.split([' ', '>', '\t', '\n', '\r']).next().unwrap_or(""),
        };
        return Some(decode_entities(value));
    }
    None
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out)
}

fn has(hay: &[u8], needle: &str) -> bool {
    memchr::memmem::find(hay, needle.as_bytes()).is_some()
}

/// Where `needle` next occurs in `hay` from `from` (SIMD search).
fn find_from(hay: &[u8], from: usize, needle: &str) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle.as_bytes()).map(|i| from + i)
}

/// Where the next `>` is from `from`, or the end.
fn tag_end(hay: &[u8], from: usize) -> usize {
    hay.get(from..)
        .and_then(|rest| memchr::memchr(b'>', rest))
        .map_or(hay.len(), |i| from + i)
}

/// A slice of the original bytes as text (only small pieces are ever converted).
fn text_of(data: &[u8], start: usize, end: usize) -> String {
    String::from_utf8_lossy(data.get(start..end.max(start)).unwrap_or(&[])).into_owned()
}

/// Groups of needles whose presence anywhere in a document decides a rule: any `<` at all, a script, data
/// decoded, a file built from it, a password field (indices: the `HAS_*` constants).
const PRESENCE: [&[&str]; 5] = [
    &["<"],
    &["<script"],
    &["atob(", "base64,", "fromcharcode"],
    &["new blob", "createobjecturl", "mssaveoropenblob"],
    &["type=\"password\"", "type='password'", "type=password"],
];
const HAS_TAG: usize = 0;
const HAS_SCRIPT: usize = 1;
const HAS_DECODING: usize = 2;
const HAS_BUILDING: usize = 3;
const HAS_PASSWORD: usize = 4;

/// The longest needle of [`PRESENCE`]: a search that found nothing goes on this many bytes less one back.
const LONGEST_PRESENCE: &str = "mssaveoropenblob";

/// The two ways a meta refresh is found: the first of the first, else the first of the second.
const REFRESH: [&str; 2] = ["http-equiv=\"refresh\"", "http-equiv=refresh"];

/// The findings of a whole document, from what is present in it ([`PRESENCE`]), the host of its first form
/// whose action names one, and whether its meta refresh names an address; then those of its links.
fn page_findings(
    present: [bool; 5],
    form_host: Option<String>,
    refresh: bool,
    links: Links,
    found: &mut Vec<(&'static str, String)>,
) {
    if !present[HAS_TAG] {
        return;
    }
    if present[HAS_SCRIPT] && present[HAS_DECODING] && present[HAS_BUILDING] {
        found.push((
            HTML_SMUGGLING,
            "script decodes data and builds a file from it in the browser".to_string(),
        ));
    }
    if present[HAS_PASSWORD]
        && let Some(host) = form_host
    {
        found.push((
            HTML_EXTERNAL_FORM,
            format!("a password form posts to {host}"),
        ));
    }
    if refresh {
        found.push((
            HTML_META_REFRESH,
            "meta refresh to another address".to_string(),
        ));
    }
    found.extend(links.found);
}

/// The links of a document judged in order, at most [`MAX_LINKS`]: the first to an address, the first to a
/// punycode host, the first whose text shows another domain.
#[derive(Clone, Debug, Default)]
struct Links {
    counted: usize,
    /// Whether each of the three was found.
    seen: [bool; 3],
    found: Vec<(&'static str, String)>,
}

impl Links {
    /// Counts one more link; false past the links judged.
    fn count(&mut self) -> bool {
        self.counted += 1;
        self.counted <= MAX_LINKS
    }

    /// Judges a link to `host` whose text (tags stripped) `shown` gives, asked only while needed.
    fn judge(&mut self, host: &str, shown: impl FnOnce() -> String) {
        let [ip, puny, spoofed] = &mut self.seen;
        if !*ip && is_ip(host) {
            *ip = true;
            self.found.push((IP_HOST, format!("a link to {host}")));
        }
        if !*puny && host.split('.').any(|l| l.starts_with("xn--")) {
            *puny = true;
            self.found
                .push((PUNYCODE_HOST, format!("a link to {host}")));
        }
        if !*spoofed
            && let Some(shown_domain) = domain_in_text(&shown())
            && registrable(&shown_domain) != registrable(host)
        {
            *spoofed = true;
            self.found.push((
                SPOOFED_DOMAIN,
                format!("link text shows {shown_domain} but goes to {host}"),
            ));
        }
    }
}

pub(crate) fn inspect(data: &[u8], _is_body: bool, found: &mut Vec<(&'static str, String)>) {
    if memchr::memchr(b'<', data).is_none() {
        return;
    }
    // One lower-case copy of the bytes (same offsets as the original); every check below is a SIMD
    // substring search over it, and only the small pieces reported are converted to text.
    let lb = data.to_ascii_lowercase();
    let lb = lb.as_slice();
    let present = PRESENCE.map(|group| group.iter().any(|n| has(lb, n)));
    let mut form_host = None;
    let mut at = 0;
    while let Some(start) = find_from(lb, at, "<form").filter(|_| present[HAS_PASSWORD]) {
        let end = tag_end(lb, start);
        form_host = attribute(&text_of(data, start, end), "action").and_then(|a| host_of(&a));
        if form_host.is_some() {
            break;
        }
        at = end;
    }
    let refresh = find_from(lb, 0, REFRESH[0])
        .or_else(|| find_from(lb, 0, REFRESH[1]))
        .is_some_and(|i| has(&lb[i..tag_end(lb, i)], "url="));
    let mut links = Links::default();
    let mut at = 0;
    while let Some(start) = find_from(lb, at, "<a") {
        at = start + 2;
        if !lb.get(at).is_some_and(|c| c.is_ascii_whitespace()) {
            continue;
        }
        if !links.count() {
            break;
        }
        let open_end = tag_end(lb, start);
        let close = find_from(lb, open_end, "</a").unwrap_or(lb.len());
        let Some(href) = attribute(&text_of(data, start, open_end), "href") else {
            continue;
        };
        let Some(host) = host_of(&href) else { continue };
        links.judge(&host, || {
            strip_tags(&text_of(data, (open_end + 1).min(close), close))
        });
        at = close;
    }
    page_findings(present, form_host, refresh, links, found);
}

/// [`inspect`] over an HTML document that arrives in pieces and is let go of: the same findings as for its
/// first [`crate::heuristics::INSPECT_LIMIT`] bytes whole. It follows `inspect`'s searches with cursors
/// and keeps only what they still read: the last bytes of what arrived (fewer than the longest needle),
/// and, from its start, a tag whose `>` has not arrived or a link whose `</a` has not (an unclosed one is
/// held to the end, within the limit).
#[derive(Clone, Debug, Default)]
pub(crate) struct HtmlScan {
    /// The document from `base` on, as it is and lower-cased.
    raw: Vec<u8>,
    lower: Vec<u8>,
    base: usize,
    /// Bytes fed (at most the limit).
    fed: usize,
    /// Which groups of [`PRESENCE`] occur, and from where they are still searched for.
    present: [bool; 5],
    present_from: usize,
    /// The search for the first `<form` whose action names a host: where it goes on, and what it found.
    form_at: usize,
    form_host: Option<String>,
    /// Per way of [`REFRESH`]: where the search goes on, or the first occurrence and whether its tag says
    /// `url=` (once its `>` is known).
    refresh: [Refresh; 2],
    /// The walk through the links: where it goes on, whether it is over, and what it counted and found.
    link_at: usize,
    links_done: bool,
    links: Links,
    /// For each wait (a form's `>`, each refresh's `>`, a link's `>` and its `</a`): where the search for
    /// it goes on, none being before, so that a long wait reads each byte once.
    seek: [usize; 5],
}

#[derive(Clone, Debug, Default)]
enum Refresh {
    #[default]
    Unseen,
    /// Searched up to here.
    Searched(usize),
    /// First found here; the answer once its tag's end is known.
    Found(usize, Option<bool>),
}

impl HtmlScan {
    /// Reads the next bytes of the document.
    pub(crate) fn feed(&mut self, piece: &[u8], limit: usize) {
        let take = limit.saturating_sub(self.fed).min(piece.len());
        if take == 0 {
            return;
        }
        self.fed += take;
        let piece = &piece[..take];
        self.raw.extend_from_slice(piece);
        self.lower.extend(piece.iter().map(u8::to_ascii_lowercase));
        self.advance(false);
    }

    /// The document has ended (or reached the limit): the findings of [`inspect`].
    pub(crate) fn finish(mut self, found: &mut Vec<(&'static str, String)>) {
        self.advance(true);
        let refresh = match &self.refresh {
            [Refresh::Found(_, url), _] | [_, Refresh::Found(_, url)] => *url == Some(true),
            _ => false,
        };
        page_findings(self.present, self.form_host, refresh, self.links, found);
    }

    /// Position of `needle` in the document from `from` on, among the bytes held.
    fn find(&self, from: usize, needle: &str) -> Option<usize> {
        find_from(&self.lower, from.checked_sub(self.base)?, needle).map(|i| self.base + i)
    }

    /// Where `needle` next occurs from `from` (its end, for `>`; the document's end once it has ended),
    /// for wait `slot` (see `seek`).
    fn wait(&mut self, slot: usize, from: usize, needle: &str, end: bool) -> Option<usize> {
        match self.find(from.max(self.seek[slot]), needle) {
            Some(at) => Some(at),
            None if end => Some(self.fed),
            None => {
                self.seek[slot] = from.max(self.resume(needle));
                None
            }
        }
    }

    /// Where a search for `needle` that found nothing goes on: before the bytes a match could still start in.
    fn resume(&self, needle: &str) -> usize {
        self.fed.saturating_sub(needle.len() - 1)
    }

    /// The heap memory held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.raw.capacity() + self.lower.capacity()
    }

    fn text(&self, start: usize, end: usize) -> String {
        text_of(
            &self.raw,
            start.saturating_sub(self.base),
            end.saturating_sub(self.base),
        )
    }

    /// Takes the searches as far as the bytes held allow (`end`: all of them have arrived), then lets go
    /// of what none of them reads any more.
    fn advance(&mut self, end: bool) {
        for (i, group) in PRESENCE.iter().enumerate() {
            if !self.present[i] {
                self.present[i] = group
                    .iter()
                    .any(|n| self.find(self.present_from, n).is_some());
            }
        }
        self.present_from = self.resume(LONGEST_PRESENCE);
        // Forms, as `inspect` reads them: the first with an action that names a host.
        while self.form_host.is_none() {
            let Some(start) = self.find(self.form_at, "<form") else {
                self.form_at = self.form_at.max(self.resume("<form"));
                break;
            };
            let Some(tag_end) = self.wait(0, start, ">", end) else {
                self.form_at = start;
                break;
            };
            self.form_host =
                attribute(&self.text(start, tag_end), "action").and_then(|a| host_of(&a));
            self.form_at = tag_end;
        }
        for (way, needle) in REFRESH.iter().enumerate() {
            let from = match self.refresh[way] {
                Refresh::Unseen => self.base,
                Refresh::Searched(at) => at,
                Refresh::Found(_, Some(_)) => continue,
                Refresh::Found(at, None) => at,
            };
            let at = match self.refresh[way] {
                Refresh::Found(at, None) => at,
                _ => match self.find(from, needle) {
                    Some(at) => at,
                    None => {
                        self.refresh[way] = Refresh::Searched(from.max(self.resume(needle)));
                        continue;
                    }
                },
            };
            let url = self.wait(1 + way, at, ">", end).map(|e| {
                let tag = self.lower.get(at - self.base..e - self.base).unwrap_or(&[]);
                has(tag, "url=")
            });
            self.refresh[way] = Refresh::Found(at, url);
        }
        self.links(end);
        // What the searches still read.
        let refresh_from = self.refresh.iter().map(|r| match r {
            Refresh::Unseen => self.base,
            Refresh::Searched(at) | Refresh::Found(at, None) => *at,
            Refresh::Found(_, Some(_)) => usize::MAX,
        });
        let keep = refresh_from
            .chain([
                self.present_from,
                if self.form_host.is_none() {
                    self.form_at
                } else {
                    usize::MAX
                },
                if self.links_done {
                    usize::MAX
                } else {
                    self.link_at
                },
            ])
            .min()
            .unwrap_or(usize::MAX)
            .min(self.fed);
        if keep > self.base {
            let n = keep - self.base;
            self.raw.drain(..n);
            self.lower.drain(..n);
            self.base = keep;
        }
    }

    /// The links, as `inspect` walks them, as far as the bytes held allow.
    fn links(&mut self, end: bool) {
        while !self.links_done {
            let Some(start) = self.find(self.link_at, "<a") else {
                self.link_at = self.link_at.max(self.resume("<a"));
                return;
            };
            let after = start + 2;
            let spaced = match self.lower.get(after - self.base) {
                Some(c) => c.is_ascii_whitespace(),
                None if end => false,
                None => {
                    self.link_at = start;
                    return;
                }
            };
            if !spaced {
                self.link_at = after;
                continue;
            }
            let Some(open_end) = self.wait(3, start, ">", end) else {
                self.link_at = start;
                return;
            };
            let host = attribute(&self.text(start, open_end), "href").and_then(|h| host_of(&h));
            // A link that goes nowhere is passed over; one that does is read to its `</a`. Each is counted
            // once, when it is read whole.
            let close = match &host {
                None => None,
                Some(_) => match self.wait(4, open_end, "</a", end) {
                    Some(close) => Some(close),
                    None => {
                        self.link_at = start;
                        return;
                    }
                },
            };
            if !self.links.count() {
                self.links_done = true;
                return;
            }
            let (Some(host), Some(close)) = (host, close) else {
                self.link_at = after;
                continue;
            };
            let mut links = std::mem::take(&mut self.links);
            links.judge(&host, || {
                strip_tags(&self.text((open_end + 1).min(close), close))
            });
            self.links = links;
            self.link_at = close;
        }
    }
}

/// Words that introduce a password, in the languages phishing uses most.
const PASSWORD_WORDS: &[&str] = &[
    "password",
    "passwort",
    "mot de passe",
    "contrase",
    "senha",
    "wachtwoord",
    "parola",
    "pwd:",
    "pass:",
    "пароль",
];

/// How far into a message's text a password mention is looked for.
pub(crate) const PASSWORD_REACH: usize = 1 << 20;

/// The automaton of [`PASSWORD_WORDS`], case-insensitive; `None` only if it could not be built.
fn password_words() -> Option<&'static aho_corasick::AhoCorasick> {
    static WORDS: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::LazyLock::new(|| {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(PASSWORD_WORDS)
                .ok()
        });
    WORDS.as_ref()
}

/// Whether a text reads as giving a password (for an encrypted attachment). One case-insensitive automaton
/// pass over the first MiB, no copy.
pub(crate) fn mentions_password(data: &[u8]) -> bool {
    let head = &data[..data.len().min(PASSWORD_REACH)];
    password_words().is_some_and(|ac| ac.is_match(head))
}

/// [`mentions_password`] over a text that arrives in pieces and is let go of: the same answer as for the
/// text whole, with only the last bytes of each piece kept (fewer than the longest word) to find a word
/// that spans two pieces.
#[derive(Clone, Debug, Default)]
pub(crate) struct PasswordScan {
    /// Bytes of the text looked at (at most [`PASSWORD_REACH`]).
    seen: usize,
    /// The last bytes looked at: a word that starts in them may end in the next piece.
    last: Vec<u8>,
    found: bool,
}

impl PasswordScan {
    /// Looks at the next bytes of the text.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let Some(ac) = password_words() else {
            return;
        };
        if self.found || self.seen >= PASSWORD_REACH {
            return;
        }
        let bytes = &bytes[..bytes.len().min(PASSWORD_REACH - self.seen)];
        self.seen += bytes.len();
        // The longest word, less one: what a word spanning the two pieces has in either.
        let keep = ac.max_pattern_len().saturating_sub(1);
        // A word within the piece, or one across the join (in the kept bytes and the piece's first ones).
        let join_end = bytes.len().min(keep);
        let join_found = {
            let at = self.last.len();
            self.last.extend_from_slice(&bytes[..join_end]);
            let found = ac.is_match(&self.last[..]);
            self.last.truncate(at);
            found
        };
        self.found = join_found || ac.is_match(bytes);
        self.last.extend_from_slice(bytes);
        let extra = self.last.len().saturating_sub(keep);
        self.last.drain(..extra);
    }

    /// Whether the text looked at reads as giving a password.
    pub(crate) fn found(&self) -> bool {
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(html: &str) -> Vec<&'static str> {
        let mut f = Vec::new();
        inspect(html.as_bytes(), true, &mut f);
        f.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn html_table() {
        let table: &[(&str, &[&str])] = &[
            (
                "<a href=\"https://evil.example.net/x\">www.mybank.com</a>",
                &[SPOOFED_DOMAIN],
            ),
            (
                "<a href=\"https://www.mybank.com/login\">https://mybank.com</a>",
                &[],
            ),
            (
                "<a href=\"https://login.mybank.co.uk/\">www.mybank.co.uk</a>",
                &[],
            ),
            ("<a href=\"https://evil.example.net/\">Click here</a>", &[]),
            (
                "<a href=\"https://evil.example.net/\">www&#46;mybank&#46;com</a>",
                &[SPOOFED_DOMAIN],
            ),
            (
                "<a href=\"http://192.168.10.20/login\">login</a>",
                &[IP_HOST],
            ),
            (
                "<a href=\"https://xn--pypal-4ve.com/\">paypal</a>",
                &[PUNYCODE_HOST],
            ),
            (
                "<script>var b=atob(s); var f=new Blob([b]); saveAs(f)</script>",
                &[HTML_SMUGGLING],
            ),
            ("<script>var b=atob(s)</script>", &[]),
            (
                "<form action=\"https://collect.example/p\"><input type=\"password\"></form>",
                &[HTML_EXTERNAL_FORM],
            ),
            (
                "<form action=\"https://collect.example/p\"><input type=\"text\"></form>",
                &[],
            ),
            (
                "<meta http-equiv=\"refresh\" content=\"0; url=https://x.example/\">",
                &[HTML_META_REFRESH],
            ),
            ("<meta http-equiv=\"refresh\" content=\"30\">", &[]),
        ];
        for (html, want) in table {
            assert_eq!(rules(html), *want, "{html}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(
            host_of("https://user@Host.Example:8080/p").as_deref(),
            Some("host.example")
        );
        assert_eq!(host_of("mailto:x@y"), None);
        assert_eq!(decode_entities("a&amp;b&#x41;&#66;&bogus;"), "a&bAB&bogus;");
        assert!(mentions_password(b"The PASSWORD is 1234"));
        assert!(!mentions_password(b"nothing to see"));
    }

    /// The findings of [`HtmlScan`] for `doc` fed in pieces cut at `cuts`, reading at most `limit` bytes.
    fn html_scanned(doc: &[u8], cuts: &[usize], limit: usize) -> Vec<(&'static str, String)> {
        let mut scan = HtmlScan::default();
        let mut from = 0;
        for &cut in cuts.iter().chain([&doc.len()]) {
            let cut = cut.clamp(from, doc.len());
            scan.feed(&doc[from..cut], limit);
            from = cut;
        }
        let mut found = Vec::new();
        scan.finish(&mut found);
        found
    }

    #[test]
    fn an_html_document_in_any_pieces_gives_what_it_gives_whole() {
        // Documents made of the pieces `inspect` looks for (links that go somewhere, nowhere, to an address
        // or a punycode host, with text that shows another domain; forms, password fields, scripts, meta
        // refreshes; unclosed tags and links), in random order, cut at random places and read up to a limit
        // or not: the same findings as `inspect` on what the limit lets it read.
        let tokens: &[&str] = &[
            "<a ",
            "<a",
            "<A\tHREF='https://evil.example.net/x'",
            " href=\"https://evil.example.net/x\"",
            " href=http://192.168.1.1/",
            " href=\"https://xn--pypal-4ve.com/\"",
            " href=\"https://www.mybank.com/\"",
            ">",
            "</a>",
            "</a",
            "www.mybank.com",
            "<b>www.other.org</b>",
            "<form action=\"https://collect.example/p\">",
            "<form>",
            "<input type=\"password\">",
            "type=password",
            "<script>",
            "atob(",
            "new Blob",
            "http-equiv=\"refresh\"",
            "<meta http-equiv=refresh content=\"0;url=x\">",
            "url=",
            " words ",
            "\n",
            "<",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut fired = std::collections::HashMap::new();
        for case in 0..3000 {
            let mut doc = String::new();
            for _ in 0..next(40) {
                doc += tokens[next(tokens.len())];
            }
            let doc = doc.as_bytes();
            let mut cuts: Vec<usize> = (0..next(16)).map(|_| next(doc.len() + 1)).collect();
            cuts.sort_unstable();
            let limit = match next(3) {
                0 => next(doc.len() + 1),
                _ => usize::MAX,
            };
            let mut want = Vec::new();
            inspect(&doc[..doc.len().min(limit)], true, &mut want);
            let got = html_scanned(doc, &cuts, limit);
            assert_eq!(
                got,
                want,
                "case {case}: {:?} cut at {cuts:?}, limit {limit}",
                String::from_utf8_lossy(doc)
            );
            for (rule, _) in want {
                *fired.entry(rule).or_insert(0) += 1;
            }
        }
        // Every rule fired in many of the documents.
        assert_eq!(fired.len(), 6, "{fired:?}");
        assert!(fired.values().all(|&n| n > 50), "{fired:?}");
        // Past the links `inspect` judges: the one after them is not judged, in pieces either.
        let mut doc = "<a href=\"https://www.mybank.com/\">www.mybank.com</a>".repeat(MAX_LINKS);
        doc += "<a href=\"http://10.0.0.1/\">www.mybank.com</a>";
        let mut want = Vec::new();
        inspect(doc.as_bytes(), true, &mut want);
        assert!(want.is_empty(), "{want:?}");
        assert_eq!(
            html_scanned(doc.as_bytes(), &[1000, 50_000], usize::MAX),
            want
        );
    }

    /// The answer of [`PasswordScan`] for `text` fed in pieces cut at `cuts`.
    fn scanned(text: &[u8], cuts: &[usize]) -> bool {
        let mut scan = PasswordScan::default();
        let mut from = 0;
        for &cut in cuts.iter().chain([&text.len()]) {
            scan.feed(&text[from..cut.max(from)]);
            from = cut.max(from);
        }
        scan.found()
    }

    #[test]
    fn a_password_mention_is_found_in_any_pieces_as_in_the_whole() {
        let short: &[&str] = &[
            "nothing to see here, move along",
            "the password is 1234",
            "PaSsWoRd",
            "pass: x",
            "pass x",
            "mot de passe",
            "mot  de passe",
            "пароль: 1",
            "a pwd:",
            "pwd",
        ];
        // Every cut in two and in three pieces, the empty pieces included.
        for text in short {
            let bytes = text.as_bytes();
            let whole = mentions_password(bytes);
            for a in 0..=bytes.len() {
                assert_eq!(scanned(bytes, &[a]), whole, "{text:?} cut at {a}");
                for b in a..=bytes.len() {
                    assert_eq!(scanned(bytes, &[a, b]), whole, "{text:?} cut at {a}, {b}");
                }
            }
        }
        // Around the reach: a word that ends at it is found, one that ends a byte past it is not.
        for end in [PASSWORD_REACH - 1, PASSWORD_REACH, PASSWORD_REACH + 1] {
            let mut text = vec![b'.'; end - "password".len()];
            text.extend_from_slice(b"password and more");
            let whole = mentions_password(&text);
            assert_eq!(whole, end <= PASSWORD_REACH, "ends at {end}");
            for step in [1000, 4096, 8192, PASSWORD_REACH - 3] {
                let cuts: Vec<usize> = (step..text.len()).step_by(step).collect();
                assert_eq!(
                    scanned(&text, &cuts),
                    whole,
                    "ends at {end}, pieces of {step}"
                );
            }
        }
    }
}
