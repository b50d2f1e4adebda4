//! AWS adapters for the billing domain: the DynamoDB store behind the domain's ports, one-time
//! process configuration, JSON telemetry, and the shared handling of the table's stream. Functions build these once per cold start.

pub mod config;
pub mod documents;
pub mod dynamo;
pub mod queue;
pub mod stream;
pub mod telemetry;

pub use documents::S3Documents;
pub use dynamo::DynamoStore;
pub use queue::SqsBillJobs;
