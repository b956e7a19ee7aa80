package schemas

import "embed"

// ClickHouse holds the ClickHouse DDL and queries:
//
//   - clickhouse/migrations/NNNN_name.sql: versioned DDL, Go text/template files
//     rendered with the database name (and cluster) by chstore.Migrate; applied in
//     version order, never edited once released (chstore checks a checksum).
//   - clickhouse/queries/name.sql: dashboard queries, one statement each, with
//     {name:Type} parameters that chstore.BindQuery fills in.
//
//go:embed clickhouse/migrations/*.sql clickhouse/queries/*.sql
var ClickHouse embed.FS
