//! Upcasters: a store of version 1 cart events read in version 2 shapes on every read
//! path, `raw` reads showing what is stored, and the upcaster set keyed and swapped.

mod engine;
mod reads;
mod specs;
