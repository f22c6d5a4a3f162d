//! `certgen serve`, the offline Entra: the process, its token endpoint and refusals, Graph, the
//! proxy, user sign-in, real clients (MSAL, Azure Identity, a browser) and the fuzz targets'
//! regressions.

mod assertion_forms;
mod fuzz_corpus;
mod graph;
mod graph_proof;
mod limits;
mod msal;
mod organisation;
mod process;
mod proxy;
mod refusals;
mod rollkey;
mod signin;
mod signin_browser;
mod signin_limits;
mod tokens;
mod verify_serve;
