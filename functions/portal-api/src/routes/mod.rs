pub mod accounts;
pub mod audit;
pub mod me;
pub mod members;
pub mod payments;
pub mod seats;
pub mod statements;
pub mod views;
