//! MIME: header parsing ([`header`]) and the walker that turns one entity into its children under every
//! plausible reading ([`walker`]).

pub(crate) mod header;
pub(crate) mod walker;
