-- The application role; see init-app-role.sh. psql variables: owner (the role
-- that runs migrations and owns every object), db, app_role, app_password.
-- deploy/postgres/app-role.test.ts runs this file against a fresh database.

create role :"app_role" login password :'app_password'
  nosuperuser nocreatedb nocreaterole noinherit;

revoke all on database :"db" from public;
grant connect on database :"db" to :"app_role";
revoke create on schema public from public;
grant usage on schema public to :"app_role";

alter default privileges for role :"owner" in schema public
  grant select, insert, update, delete on tables to :"app_role";
alter default privileges for role :"owner" in schema public
  grant usage, select on sequences to :"app_role";
alter default privileges for role :"owner" in schema public
  grant execute on functions to :"app_role";
-- Functions are executable by PUBLIC unless revoked: only the app role gets them.
alter default privileges for role :"owner" revoke execute on functions from public;

-- Objects that already exist (the file is run by hand on an existing database).
grant select, insert, update, delete on all tables in schema public to :"app_role";
grant usage, select on all sequences in schema public to :"app_role";
grant execute on all functions in schema public to :"app_role";
