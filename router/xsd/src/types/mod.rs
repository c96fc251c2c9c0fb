//! Simple types: built-ins, values, lexical rules and facets.

pub(crate) mod binary;
pub(crate) mod builtin;
pub(crate) mod datetime;
pub(crate) mod decimal;
pub(crate) mod duration;
pub(crate) mod simple;
pub(crate) mod uri;
pub(crate) mod value;
