//! The integration tests, one binary: each module is one area of the contract. One binary links
//! the library once instead of once per test file.

mod support;

/// The example API's own source, so the router `verify_api` and `verify_serve` test is the
/// one users copy (its `main` is unused here).
#[allow(dead_code)]
#[path = "../../examples/protected_api.rs"]
mod protected_api;

mod assertion;
mod call;
mod credential;
mod decode;
mod fuzz_corpus;
mod graph_proof;
mod harden;
mod identity_errors;
mod messages;
mod new;
#[cfg(unix)] // SIGKILL and its exit status
mod rotate;
mod serve_assertion_forms;
mod serve_graph;
mod serve_msal;
mod serve_process;
mod serve_proxy;
mod serve_refusals;
mod serve_rollkey;
mod serve_tokens;
mod signin;
mod signin_browser;
mod thumbprint;
mod token_acquire;
mod token_cli;
mod token_client;
mod token_e2e;
mod verify;
mod verify_api;
mod verify_cli;
mod verify_example;
mod verify_serve;
