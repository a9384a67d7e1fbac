//! The SMTP answer for a verdict, for mail servers and milters that scan during DATA.

use std::fmt;

use crate::verdict::{DetectionKind, Status, Verdict};

/// What to answer when a message could not be scanned within the limits (status `Incomplete`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnIncomplete {
    /// `451 4.7.1`: ask the sender to try again later (the default: nothing unscanned gets in).
    Defer,
    /// `250`: accept it anyway.
    Accept,
}

/// What to answer when the heuristic score made a message suspicious.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnSuspicious {
    /// `250`: accept it (the default; tagging it is the caller's business).
    Accept,
    /// `554 5.7.1`: refuse it like an infected message.
    Reject,
}

/// How verdicts become SMTP replies.
///
/// ```
/// use portcullis::{Engine, SmtpPolicy};
/// let engine = Engine::builder().build()?;
/// let v = engine.scan_bytes(b"Subject: x\r\n\r\nPORTCULLIS-TEST-SIGNATURE-NOT-A-VIRUS\r\n")?;
/// let reply = SmtpPolicy::default().reply(&v);
/// assert_eq!(reply.code(), 554);
/// assert_eq!(reply.to_string(), "554 5.7.1 Message refused: Portcullis.Test.Plain-1 found");
/// # Ok::<(), portcullis::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmtpPolicy {
    on_incomplete: Option<OnIncomplete>,
    on_suspicious: Option<OnSuspicious>,
}

impl SmtpPolicy {
    /// Sets the answer for messages that could not be scanned within the limits.
    pub fn on_incomplete(mut self, action: OnIncomplete) -> SmtpPolicy {
        self.on_incomplete = Some(action);
        self
    }

    /// Sets the answer for suspicious messages.
    pub fn on_suspicious(mut self, action: OnSuspicious) -> SmtpPolicy {
        self.on_suspicious = Some(action);
        self
    }

    /// The reply for a verdict: `250 2.0.0` clean, `554 5.7.1` with the first detection's name when infected,
    /// `451 4.7.1` (or `250`) when incomplete, `250` (or `554`) when suspicious.
    pub fn reply(&self, verdict: &Verdict) -> SmtpReply {
        let accept = || {
            SmtpReply::new(
                250,
                "2.0.0",
                "Message accepted: no threat found".to_string(),
            )
        };
        match verdict.status() {
            Status::Infected => {
                let name = verdict
                    .detections()
                    .iter()
                    .find(|d| d.kind() != DetectionKind::Limit)
                    .map_or("a threat", |d| d.name());
                SmtpReply::new(
                    554,
                    "5.7.1",
                    format!("Message refused: {} found", printable(name)),
                )
            }
            Status::Suspicious => match self.on_suspicious.unwrap_or(OnSuspicious::Accept) {
                OnSuspicious::Reject => SmtpReply::new(
                    554,
                    "5.7.1",
                    format!("Message refused: suspicious (score {})", verdict.score()),
                ),
                _ => accept(),
            },
            Status::Incomplete => match self.on_incomplete.unwrap_or(OnIncomplete::Defer) {
                OnIncomplete::Accept => accept(),
                _ => SmtpReply::new(
                    451,
                    "4.7.1",
                    "Message could not be scanned, try again later".to_string(),
                ),
            },
            _ => accept(),
        }
    }
}

/// Keeps a name safe inside a reply line: printable ASCII only, at most 200 characters.
fn printable(name: &str) -> String {
    name.chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// One SMTP reply line: code, enhanced status code, text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpReply {
    code: u16,
    enhanced: &'static str,
    text: String,
}

impl SmtpReply {
    fn new(code: u16, enhanced: &'static str, text: String) -> SmtpReply {
        SmtpReply {
            code,
            enhanced,
            text,
        }
    }

    /// The three-digit reply code (250, 451 or 554).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code (RFC 3463), for example `5.7.1`.
    pub fn enhanced_code(&self) -> &str {
        self.enhanced
    }

    /// The human text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for SmtpReply {
    /// The reply line without its CRLF: `554 5.7.1 Message refused: NAME found`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Detection, Location, Unscanned, UnscannedReason};

    fn verdict(detections: Vec<Detection>, unscanned: bool, suspicious: bool) -> Verdict {
        Verdict {
            detections,
            unscanned: if unscanned {
                vec![Unscanned::new(Location::root(), UnscannedReason::Encrypted)]
            } else {
                vec![]
            },
            suspicious,
            score: 12,
            ..Verdict::default()
        }
    }

    #[test]
    fn replies_table() {
        let sig = Detection::new("Bad\r\nName", DetectionKind::Signature, Location::root());
        let limit = Detection::new(
            "Heuristics.Limits.Exceeded.MaxFiles",
            DetectionKind::Limit,
            Location::root(),
        );
        let defer = SmtpPolicy::default();
        let lenient = SmtpPolicy::default()
            .on_incomplete(OnIncomplete::Accept)
            .on_suspicious(OnSuspicious::Reject);
        let table = [
            (
                verdict(vec![], false, false),
                defer,
                "250 2.0.0 Message accepted: no threat found",
            ),
            (
                verdict(vec![limit.clone(), sig.clone()], false, false),
                defer,
                "554 5.7.1 Message refused: Bad??Name found",
            ),
            (
                verdict(vec![limit.clone()], false, false),
                defer,
                "451 4.7.1 Message could not be scanned, try again later",
            ),
            (
                verdict(vec![], true, false),
                defer,
                "451 4.7.1 Message could not be scanned, try again later",
            ),
            (
                verdict(vec![limit], false, false),
                lenient,
                "250 2.0.0 Message accepted: no threat found",
            ),
            (
                verdict(vec![], false, true),
                defer,
                "250 2.0.0 Message accepted: no threat found",
            ),
            (
                verdict(vec![], false, true),
                lenient,
                "554 5.7.1 Message refused: suspicious (score 12)",
            ),
        ];
        for (v, policy, want) in table {
            assert_eq!(policy.reply(&v).to_string(), want, "{:?}", v.status());
        }
    }
}
