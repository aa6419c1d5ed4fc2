//! Kefu's cross-crate suites, in one test binary.
//!
//! PostgreSQL and Redis variants run when `KEFU_TEST_DATABASE_URL` and
//! `KEFU_TEST_REDIS_URL` are set (`.ci/run` sets them and also
//! `KEFU_TEST_REQUIRE_SERVERS=1`, which turns a missing server into a failure).

mod bad_input;
mod callbacks_campaigns;
mod callbacks_setup;
mod callbacks_support;
mod callbacks_survey;
mod callbacks_tasks;
mod complaints;
mod customers_classify;
mod customers_import_export;
mod customers_merges;
mod customers_ownership;
mod customers_records;
mod dispatch;
mod e2e;
mod eventually;
mod export_download;
mod gateway;
mod identity;
mod isolation;
mod isolation_callbacks;
mod isolation_tickets;
mod outbox;
mod purge;
mod quota;
mod rest;
mod row_security;
mod stack;
mod tenant_settings;
mod tenants;
mod tickets_assignment;
mod tickets_conversation;
mod tickets_lifecycle;
mod tickets_sla;
mod tickets_support;
mod tickets_taxonomy;
