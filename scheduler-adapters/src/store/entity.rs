//! The sea-orm entity of the `jobs` table and its conversion to and from the core `Job`.

use sea_orm::entity::prelude::*;

/// One row of `jobs`, as the database stores it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique name.
    #[sea_orm(unique)]
    pub name: String,
    /// Free text.
    pub description: String,
    /// The 5-field expression as written.
    pub cron_expression: String,
    /// IANA zone name.
    pub timezone: String,
    /// No fire before.
    pub start_time: DateTimeUtc,
    /// No fire after.
    pub end_time: Option<DateTimeUtc>,
    /// Last fire.
    pub last_run: Option<DateTimeUtc>,
    /// Next fire; `NULL` when it never fires.
    pub next_run: Option<DateTimeUtc>,
    /// JSON object (jsonb on PostgreSQL, text on SQLite).
    #[sea_orm(column_type = "JsonBinary")]
    pub parameters: Json,
    /// Paused when false.
    pub is_active: bool,
    /// Creation instant.
    pub created_at: DateTimeUtc,
    /// Last change instant.
    pub updated_at: DateTimeUtc,
}

/// `jobs` has no relations yet.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
