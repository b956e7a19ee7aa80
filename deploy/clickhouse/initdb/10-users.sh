#!/bin/bash
# reftrail's least-privilege ClickHouse users, created by the clickhouse image
# on its first start: it runs the files of /docker-entrypoint-initdb.d as
# CLICKHOUSE_USER, the administrator, which manages users because
# CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1. Passwords come from the environment
# docker-compose.yml gives the clickhouse service.
#
#   sink        writes: SELECT and INSERT on reftrail's tables, and the DDL of its
#               migrations (CREATE, ALTER), nothing outside database reftrail.
#   dashboards  reads (Grafana): SELECT on reftrail's tables except
#               dead_letters.payload and dead_letters.header_values; the
#               dead_letters_summary view shows dead letters without them.
#   console     reads as dashboards do, and adds links (INSERT on reftrail.links);
#               it settles the funnel's outcomes (INSERT on
#               reftrail.referral_outcomes and referral_outcome_hours, and the
#               ALTER ... DELETE of the versions a settle replaces); it runs the
#               migrations at start too, hence their DDL and INSERT on
#               reftrail.schema_migrations.
#
# ClickHouse 18.16 (CI, make run) has no SQL users: there the connection's user
# is the configuration's, and dead letters are redacted before they are stored.
set -euo pipefail

# quote makes $1 a ClickHouse string literal.
quote() {
	local s=${1//\\/\\\\}
	printf "'%s'" "${s//\'/\\\'}"
}

clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE USER IF NOT EXISTS sink IDENTIFIED WITH sha256_password BY $(quote "$REFTRAIL_SINK_PASSWORD");
GRANT SELECT, INSERT, ALTER, CREATE DATABASE, CREATE TABLE, CREATE VIEW ON reftrail.* TO sink;

CREATE USER IF NOT EXISTS dashboards IDENTIFIED WITH sha256_password BY $(quote "$REFTRAIL_DASHBOARDS_PASSWORD");
GRANT SELECT ON reftrail.* TO dashboards;
REVOKE SELECT(payload, header_values) ON reftrail.dead_letters FROM dashboards;

CREATE USER IF NOT EXISTS console IDENTIFIED WITH sha256_password BY $(quote "$REFTRAIL_CONSOLE_PASSWORD");
GRANT SELECT ON reftrail.* TO console;
REVOKE SELECT(payload, header_values) ON reftrail.dead_letters FROM console;
GRANT INSERT ON reftrail.links TO console;
GRANT INSERT ON reftrail.referral_outcomes TO console;
GRANT INSERT ON reftrail.referral_outcome_hours TO console;
GRANT ALTER, CREATE DATABASE, CREATE TABLE, CREATE VIEW ON reftrail.* TO console;
GRANT INSERT ON reftrail.schema_migrations TO console;
SQL
