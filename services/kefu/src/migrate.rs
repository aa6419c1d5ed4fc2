//! `kefu migrate`.

use anyhow::{Context, bail};
use kefu_kit::{config::KefuConfig, db::DatabaseLocation};

/// Migrates `target` (a service name or `all`) in the configured storage.
pub async fn run(config: &KefuConfig, target: &str) -> anyhow::Result<()> {
    let services: Vec<&str> = if target == "all" {
        kefu_migrations::SERVICES.to_vec()
    } else if kefu_migrations::SERVICES.contains(&target) {
        vec![target]
    } else {
        bail!(
            "unknown migration target {target:?}; expected all or one of {}",
            kefu_migrations::SERVICES.join(", ")
        );
    };
    for service in services {
        let location = location(config, service);
        kefu_kit::db::migrate(&location)
            .await
            .with_context(|| format!("migrating {service}"))?;
        println!("migrated {service}");
    }
    Ok(())
}

/// Where `service` keeps its data under `config`.
pub fn location(config: &KefuConfig, service: &str) -> DatabaseLocation {
    DatabaseLocation::for_service(
        service,
        config.storage.database_url.as_deref(),
        &config.storage.data_dir,
    )
}
