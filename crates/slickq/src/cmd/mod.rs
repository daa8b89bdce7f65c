//! One module per subcommand: its arguments (a clap `Args` struct and its
//! long help, `ABOUT`) and the `run` function that carries it out.

pub mod bench;
#[cfg(feature = "bridge")]
pub mod bridge;
pub mod consume;
pub mod inspect;
pub mod ls;
pub mod produce;
pub mod rm;
pub mod stat;
pub mod tail;
