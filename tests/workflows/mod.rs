//! Workflows: the order flow end to end on both backends, exactly once across crashes
//! of a child server, timers across a restart, hot swaps with instances open, and its
//! spec file.

mod crash;
mod flow;
mod orders;
mod specs;
mod swap;
mod timers;
