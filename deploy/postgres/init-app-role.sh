#!/bin/sh
# Runs once, when the compose `postgres` service initialises an empty data
# directory (/docker-entrypoint-initdb.d). POSTGRES_USER (`chat`) owns the
# database and runs the migrations; this creates the role the API replicas and
# gateways connect as, with only what they need:
#   - CONNECT on the database, USAGE (not CREATE) on schema public;
#   - SELECT, INSERT, UPDATE, DELETE on tables, USAGE and SELECT on sequences
#     and EXECUTE on functions (sequence_messages, store_message) that the owner creates, by
#     default privileges: every later migration's tables are covered without a
#     grant of its own, and no migration needs to know the role.
# No DDL, no TRUNCATE, no REFERENCES or TRIGGER, no other database.
# An existing data directory is not initialised again: run this file once by
# hand against it (see deploy/README.md).
set -eu
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}"

psql -v ON_ERROR_STOP=1 \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" \
  -v app_role="${POSTGRES_APP_USER:-chat_app}" -v app_password="$POSTGRES_APP_PASSWORD" \
  -f /etc/chat/app-role.sql
