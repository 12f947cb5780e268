//! The network engine: what each compute of an Azure Machine Learning
//! deployment can reach, decided offline with exact packet sets.
//!
//! Layers, bottom up: [`space`] (exact sets of packets), [`tags`] and
//! [`symbolic`] (service tags from Microsoft's file, or symbolic), [`resolve`]
//! (address items to bounds), [`nsg`], [`route`], [`firewall`] (each
//! component's semantics), [`topology`] (the network read from the model) and
//! [`engine`] (verdicts per compute, dependencies, evidence and checked fixes).

pub mod engine;
pub mod firewall;
pub mod fixes;
pub mod fqdn;
pub mod nsg;
pub mod policy;
pub mod resolve;
pub mod route;
pub mod space;
pub mod symbolic;
pub mod tags;
pub mod topology;
