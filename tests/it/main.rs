//! The integration tests, one binary, by area: the commands as a user runs them ([`cli`]), the
//! library API called directly ([`library`]), the offline Entra emulator ([`serve`]), and the
//! README's walkthroughs ([`docs`]). One binary links the library once instead of once per test
//! file; `cargo test --test it serve::tokens::` runs one file.

mod support;

/// The example API's own source, so the router `verify_api` and `verify_serve` test is the
/// one users copy (its `main` is unused here).
#[allow(dead_code)]
#[path = "../../examples/protected_api.rs"]
mod protected_api;

mod cli;
mod docs;
mod library;
mod serve;
