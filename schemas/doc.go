// Package schemas embeds reftrail's Avro schemas and ClickHouse DDL and queries,
// so that every service and test reads the same bytes. Each file in this
// directory embeds one subdirectory.
package schemas
