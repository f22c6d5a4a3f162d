//! The `certgen` binary: argument parsing and printing over the `certgen` library.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
