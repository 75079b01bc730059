//! The `image-factory` command line as a library: the clap definition, the commands, the
//! loading of a factory from disk. The binary (`main.rs`) only calls [`cmd::run`]; tools
//! (`xtask`, tests) reuse the clap definition and the loader.

pub mod cli;
pub mod cmd;
pub mod discover;
pub mod exit;
pub mod forge;
pub mod forge_auth;
pub mod git;
pub mod golden;
pub mod load;
pub mod lock;
pub mod outfile;
pub mod output;
pub mod realdir;
pub mod registry;
pub mod safefs;
pub mod scanner;
pub mod settings;
