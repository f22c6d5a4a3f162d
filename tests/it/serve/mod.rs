//! `certgen serve`, the offline Entra: the process, its token endpoint and refusals, Graph, the
//! proxy, user sign-in, Microsoft's own resources, real clients (MSAL, Azure Identity, the Azure
//! CLI, a browser) and the fuzz targets' regressions.

mod assertion_forms;
mod azure_cli;
mod azure_cli_directory;
mod federation;
mod fuzz_corpus;
mod graph;
mod graph_groups;
mod graph_proof;
mod graph_users;
mod graph_writes;
mod kept;
mod limits;
pub(crate) mod managed_identity;
mod managed_identity_clients;
mod managed_identity_federated;
mod microsoft_resources;
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
mod workload;
