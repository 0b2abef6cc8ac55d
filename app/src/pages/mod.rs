//! One module per page.

pub mod experiments;
