#!/bin/sh
# Creates the roles Kefu's services log in as, once, when the PostgreSQL data
# directory is first initialised (the official image runs the scripts of
# /docker-entrypoint-initdb.d as POSTGRES_USER). Used by the chart's bundled
# PostgreSQL and by deploy/docker-compose.yaml.
#
#   POSTGRES_USER    owns the database and its schemas: `kefu migrate` runs as it
#   kefu_service     what the services act as (SET ROLE at connect): owns
#                    nothing, NOBYPASSRLS; the migrations grant it row access
#                    (they would create it too, but the login role below must
#                    be made a member now)
#   APP_DB_USER      the services' login role: a member of kefu_service and
#                    nothing else
#
# For an external (managed) PostgreSQL a DBA runs the same statements once;
# see charts/kefu/README.md "External PostgreSQL".
set -eu
: "${APP_DB_USER:?APP_DB_USER must name the services' login role}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD must be set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" <<'SQL'
DO $$ BEGIN
  CREATE ROLE kefu_service NOLOGIN NOSUPERUSER NOBYPASSRLS;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
  PASSWORD :'app_password' IN ROLE kefu_service;
SQL
