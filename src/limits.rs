//! Scan limits: how much work one message may cost.
//!
//! Every limit has a name, a default and a setter. When a scan crosses one, the engine stops the work that
//! would cross it, scans what it already has, and adds a detection of kind
//! [`DetectionKind::Limit`](crate::DetectionKind::Limit) named `Heuristics.Limits.Exceeded.<Name>` to the
//! verdict, so a message is never let through unscanned without saying so.

use std::fmt;

/// The name of one limit, as it appears in a verdict (`Heuristics.Limits.Exceeded.<Name>`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitName {
    /// The raw message is larger than [`Limits::max_message_size`]; only its beginning is scanned.
    MaxMessageSize,
    /// Objects are nested deeper than [`Limits::max_recursion`] (MIME parts, archives, encodings).
    MaxRecursion,
    /// The message holds more objects than [`Limits::max_files`].
    MaxFiles,
    /// More bytes than [`Limits::max_scan_size`] were decoded and unpacked in total.
    MaxScanSize,
    /// One decoded or unpacked object is larger than [`Limits::max_file_size`].
    MaxFileSize,
    /// An archive member expands more than [`Limits::max_compression_ratio`] times its compressed size.
    MaxCompressionRatio,
    /// A multipart entity has more parts than [`Limits::max_parts`]; the rest of it is not split into parts.
    MaxParts,
}

impl LimitName {
    /// Every limit.
    pub const ALL: [LimitName; 7] = [
        LimitName::MaxMessageSize,
        LimitName::MaxRecursion,
        LimitName::MaxFiles,
        LimitName::MaxScanSize,
        LimitName::MaxFileSize,
        LimitName::MaxCompressionRatio,
        LimitName::MaxParts,
    ];

    /// The detection name used in verdicts, for example `Heuristics.Limits.Exceeded.MaxFileSize`.
    pub fn detection_name(self) -> &'static str {
        match self {
            LimitName::MaxMessageSize => "Heuristics.Limits.Exceeded.MaxMessageSize",
            LimitName::MaxRecursion => "Heuristics.Limits.Exceeded.MaxRecursion",
            LimitName::MaxFiles => "Heuristics.Limits.Exceeded.MaxFiles",
            LimitName::MaxScanSize => "Heuristics.Limits.Exceeded.MaxScanSize",
            LimitName::MaxFileSize => "Heuristics.Limits.Exceeded.MaxFileSize",
            LimitName::MaxCompressionRatio => "Heuristics.Limits.Exceeded.MaxCompressionRatio",
            LimitName::MaxParts => "Heuristics.Limits.Exceeded.MaxParts",
        }
    }
}

impl fmt::Display for LimitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detection_name())
    }
}

/// The limits one scan works within.
///
/// | limit | default | what crossing it does |
/// |---|---|---|
/// | `max_message_size` | 100 MiB | only the first bytes of the message are scanned |
/// | `max_recursion` | 17 | objects nested deeper are not opened |
/// | `max_files` | 10,000 | further objects are not scanned |
/// | `max_scan_size` | 400 MiB | no more decoding or unpacking |
/// | `max_file_size` | 100 MiB | an object is cut at this size |
/// | `max_compression_ratio` | 1,000 | a member is cut when it expands more (only past 1 MiB of output) |
/// | `max_parts` | 10,000 | a multipart entity's further parts are not split off (each costs memory) |
///
/// A MIME part and a message forwarded in the message (a `message/rfc822` part) are the mail's own bytes:
/// what they hold is decoded, counted and cut, their own bytes are not (a forwarded message takes one of
/// `max_files`, as the message itself does).
///
/// The defaults follow clamd's (`MaxRecursion 17`, `MaxFiles 10000`, `MaxScanSize 400M`,
/// `MaxFileSize 100M`, `StreamMaxLength 100M`).
///
/// ```
/// use portcullis::Limits;
/// let limits = Limits::default().max_files(100).max_recursion(8);
/// assert_eq!(limits.get_max_files(), 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    max_message_size: u64,
    max_recursion: u32,
    max_files: u64,
    max_scan_size: u64,
    max_file_size: u64,
    max_compression_ratio: u64,
    max_parts: u64,
}

/// Output below this size is never judged by its compression ratio: small files of zeros are ordinary.
pub(crate) const RATIO_FLOOR: u64 = 1 << 20;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_size: 100 << 20,
            max_recursion: 17,
            max_files: 10_000,
            max_scan_size: 400 << 20,
            max_file_size: 100 << 20,
            max_compression_ratio: 1_000,
            max_parts: 10_000,
        }
    }
}

macro_rules! limit_accessors {
    ($($(#[$doc:meta])* $field:ident / $getter:ident : $ty:ty;)*) => {
        impl Limits {
            $(
                $(#[$doc])*
                pub fn $field(mut self, value: $ty) -> Limits {
                    self.$field = value;
                    self
                }

                #[doc = concat!("The current value of `", stringify!($field), "`.")]
                pub fn $getter(&self) -> $ty {
                    self.$field
                }
            )*
        }
    };
}

limit_accessors! {
    /// Sets the largest raw message scanned, in bytes ([`LimitName::MaxMessageSize`]).
    max_message_size / get_max_message_size: u64;
    /// Sets how deep objects may nest ([`LimitName::MaxRecursion`]); the message itself is depth 0.
    max_recursion / get_max_recursion: u32;
    /// Sets how many objects one message may hold, the message included ([`LimitName::MaxFiles`]).
    max_files / get_max_files: u64;
    /// Sets how many bytes may be decoded and unpacked in total ([`LimitName::MaxScanSize`]).
    max_scan_size / get_max_scan_size: u64;
    /// Sets the largest single decoded or unpacked object, in bytes ([`LimitName::MaxFileSize`]).
    max_file_size / get_max_file_size: u64;
    /// Sets the largest expansion ratio of one archive member ([`LimitName::MaxCompressionRatio`]).
    max_compression_ratio / get_max_compression_ratio: u64;
    /// Sets how many parts one multipart entity may be split into, in each of its readings
    /// ([`LimitName::MaxParts`]): every part costs memory however small it is, and a message of a few
    /// bytes a part would otherwise cost far more memory than its size.
    max_parts / get_max_parts: u64;
}
