//! AWS adapters for the billing domain: the DynamoDB store behind the domain's ports, one-time
//! process configuration, and JSON telemetry. Functions build these once per cold start.

pub mod config;
pub mod dynamo;
pub mod telemetry;

pub use dynamo::DynamoStore;
