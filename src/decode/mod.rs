//! Transfer decoders, as lenient as real mail clients: each takes what it can from damaged input and
//! counts what it had to skip, never fails, and never produces more bytes than its input.

pub(crate) mod base64;
pub(crate) mod qp;
pub(crate) mod uu;
