//! The `refold` command line; its commands are still to come.

fn main() {}
