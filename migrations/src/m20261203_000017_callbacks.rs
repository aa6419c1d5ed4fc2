//! The callbacks service: policies, scripts, surveys, callback tasks and
//! their attempts, survey responses, inbound SMS replies and campaigns; its
//! copies of the tenant (`directory_entries`, as the tickets service keeps
//! it) and of the customers' contact facts and segment memberships, fed by
//! events.
//!
//! Resources are kept whole (`resource`, the encoded message) with a
//! `revision` (the etag) beside the columns the lists, queues and scans
//! filter and order on. `callback_tasks` is unique per policy and
//! `trigger_event_id`: however often a trigger event is delivered, and by
//! however many replicas, it makes one task. A task keeps its policy's retry
//! settings as they were when it was scheduled (`retry`, an encoded
//! `CallbackRetryPolicy`; NULL: follow the policy), since a policy's update
//! promises existing tasks keep theirs.

use sea_orm_migration::prelude::*;

use crate::{rls, tables};

/// Creates the tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000017_callbacks"
    }
}

const TABLES: &[(&str, &str)] = &[
    (
        "callback_policies",
        "CREATE TABLE callback_policies (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            trigger_kind INTEGER NOT NULL,
            active BOOLEAN NOT NULL,
            template_key VARCHAR(100) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "callback_scripts",
        "CREATE TABLE callback_scripts (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            template_key VARCHAR(100) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "surveys",
        "CREATE TABLE surveys (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            template_key VARCHAR(100) NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "campaigns",
        "CREATE TABLE campaigns (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            state INTEGER NOT NULL,
            policy_id {uuid} NOT NULL,
            target_segment VARCHAR(100) NOT NULL,
            period_end {time} NOT NULL,
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )",
    ),
    (
        "callback_tasks",
        "CREATE TABLE callback_tasks (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            policy_id {uuid} NOT NULL,
            campaign_id {uuid},
            trigger_kind INTEGER NOT NULL,
            trigger_event_id VARCHAR(200) NOT NULL,
            trigger_time {time} NOT NULL,
            customer VARCHAR(100) NOT NULL,
            customer_is_member BOOLEAN NOT NULL,
            assignee VARCHAR(100),
            team VARCHAR(100),
            state INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            related_ticket VARCHAR(100),
            script_id {uuid},
            survey_id {uuid},
            due_start {time} NOT NULL,
            due_end {time} NOT NULL,
            next_call_time {time},
            appointment_time {time},
            end_time {time},
            render_context {bytes},
            retry {bytes},
            resource {bytes} NOT NULL,
            revision BIGINT NOT NULL,
            create_time {time} NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, policy_id, trigger_event_id)
        )",
    ),
    (
        "callback_attempts",
        "CREATE TABLE callback_attempts (
            tenant_id {uuid} NOT NULL,
            task_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            attempt_number INTEGER NOT NULL,
            agent VARCHAR(100),
            channel INTEGER NOT NULL,
            outcome INTEGER NOT NULL,
            start_time {time} NOT NULL,
            end_time {time},
            sms_to_phone VARCHAR(32),
            sms_provider VARCHAR(50),
            sms_message_id VARCHAR(200),
            sms_state INTEGER,
            sms_send_time {time},
            reply_deadline {time},
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, task_id, id),
            UNIQUE (tenant_id, task_id, attempt_number)
        )",
    ),
    (
        "survey_responses",
        "CREATE TABLE survey_responses (
            tenant_id {uuid} NOT NULL,
            id {uuid} NOT NULL,
            task_id {uuid} NOT NULL,
            survey_id {uuid} NOT NULL,
            policy_id {uuid} NOT NULL,
            campaign_id {uuid},
            customer VARCHAR(100),
            agent VARCHAR(100),
            team VARCHAR(100),
            lowest_level INTEGER NOT NULL,
            follow_up_requested BOOLEAN NOT NULL,
            respond_time {time} NOT NULL,
            resource {bytes} NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, id),
            UNIQUE (tenant_id, task_id)
        )",
    ),
    (
        "sms_replies",
        "CREATE TABLE sms_replies (
            tenant_id {uuid} NOT NULL,
            provider VARCHAR(50) NOT NULL,
            provider_message_id VARCHAR(128) NOT NULL,
            resource {bytes} NOT NULL,
            receive_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, provider, provider_message_id)
        )",
    ),
    (
        "callback_customers",
        "CREATE TABLE callback_customers (
            tenant_id {uuid} NOT NULL,
            name VARCHAR(100) NOT NULL,
            state INTEGER NOT NULL,
            merged_into VARCHAR(100) NOT NULL,
            member BOOLEAN NOT NULL,
            owner VARCHAR(100) NOT NULL,
            mobile VARCHAR(32) NOT NULL,
            resource {bytes} NOT NULL,
            update_time {time},
            contact_time {time},
            member_time {time},
            owner_time {time},
            tier_time {time},
            state_time {time},
            PRIMARY KEY (tenant_id, name)
        )",
    ),
    (
        "callback_segment_members",
        "CREATE TABLE callback_segment_members (
            tenant_id {uuid} NOT NULL,
            segment VARCHAR(100) NOT NULL,
            customer VARCHAR(100) NOT NULL,
            present BOOLEAN NOT NULL,
            change_time {time},
            PRIMARY KEY (tenant_id, segment, customer)
        )",
    ),
    (
        "directory_entries",
        "CREATE TABLE directory_entries (
            tenant_id {uuid} NOT NULL,
            kind VARCHAR(20) NOT NULL,
            name VARCHAR(200) NOT NULL,
            deleted BOOLEAN NOT NULL,
            resource {bytes},
            update_time {time},
            PRIMARY KEY (tenant_id, kind, name)
        )",
    ),
    (
        // What a create's `request_id` made (kit's idempotency helpers,
        // `api::remember_request`): a retried create answers the same
        // resource.
        "idempotency_keys",
        "CREATE TABLE idempotency_keys (
            tenant_id {uuid} NOT NULL,
            request_id VARCHAR(100) NOT NULL,
            method VARCHAR(60) NOT NULL,
            resource_name VARCHAR(200) NOT NULL,
            create_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, request_id)
        )",
    ),
    (
        "callback_assignment_turns",
        "CREATE TABLE callback_assignment_turns (
            tenant_id {uuid} NOT NULL,
            team VARCHAR(100) NOT NULL,
            last_user VARCHAR(100) NOT NULL,
            update_time {time} NOT NULL,
            PRIMARY KEY (tenant_id, team)
        )",
    ),
];

const TENANT_TABLES: &[&str] = &[
    "callback_policies",
    "callback_scripts",
    "surveys",
    "campaigns",
    "callback_tasks",
    "callback_attempts",
    "survey_responses",
    "sms_replies",
    "callback_customers",
    "callback_segment_members",
    "directory_entries",
    "idempotency_keys",
    "callback_assignment_turns",
];

const INDEXES: &[&str] = &[
    // An agent's queue, by due time.
    "CREATE INDEX callback_tasks_by_assignee ON callback_tasks (tenant_id, assignee, due_end)",
    // The overdue scan and the state filters.
    "CREATE INDEX callback_tasks_by_state ON callback_tasks (tenant_id, state, due_end)",
    "CREATE INDEX callback_tasks_by_customer ON callback_tasks (tenant_id, customer)",
    "CREATE INDEX callback_tasks_by_campaign ON callback_tasks (tenant_id, campaign_id)",
    "CREATE INDEX callback_tasks_by_policy ON callback_tasks (tenant_id, policy_id, trigger_time)",
    "CREATE INDEX callback_tasks_by_ticket ON callback_tasks (tenant_id, related_ticket)",
    // Matching an SMS reply to the survey it answers.
    "CREATE INDEX callback_attempts_by_phone ON callback_attempts (tenant_id, sms_to_phone, reply_deadline)",
    "CREATE INDEX callback_attempts_by_message ON callback_attempts (tenant_id, sms_provider, sms_message_id)",
    "CREATE INDEX callback_attempts_by_agent ON callback_attempts (tenant_id, agent, start_time)",
    "CREATE INDEX survey_responses_by_time ON survey_responses (tenant_id, respond_time)",
    "CREATE INDEX callback_customers_by_mobile ON callback_customers (tenant_id, mobile)",
    "CREATE INDEX callback_segment_members_by_customer ON callback_segment_members (tenant_id, customer)",
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::create(manager, TABLES, INDEXES, TENANT_TABLES).await?;
        // The campaign completion scan lists the tenants with an ACTIVE
        // campaign past its period in one platform transaction, then works
        // each tenant in its own. A campaign holds no personal data.
        rls::platform_table(manager, "campaigns", "tenant_id").await?;
        // The overdue scan lists the tenants with an open task past its
        // window in one platform transaction (tenant ids only; nothing of
        // a task is decoded in it), then works each tenant in its own, so
        // a tenant is never missed however long ago its tasks were made.
        rls::platform_table(manager, "callback_tasks", "tenant_id").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        tables::drop(manager, TABLES).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_table_has_a_tenant_and_row_security() {
        super::tables::assert_protected(super::TABLES, super::TENANT_TABLES);
    }
}
