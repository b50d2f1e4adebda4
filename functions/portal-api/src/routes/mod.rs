pub mod accounts;
pub mod audit;
pub mod me;
pub mod members;
pub mod views;
