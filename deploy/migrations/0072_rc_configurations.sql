-- Remote-content configurations as IO's resources (issue 27): a body's named
-- configurations, each with a prod environment and an optional test environment
-- serving its test users. A message picks one with
-- `third_party_data.configuration_id`; without one, the service's own
-- `remote_content` columns stay the default.
CREATE TABLE IF NOT EXISTS rc_configurations (
    id                        text PRIMARY KEY,
    -- the body that owns it (IO: the manage key's owner)
    organization_fiscal_code  text NOT NULL,
    name                      text NOT NULL,
    description               text NOT NULL,
    has_precondition          text NOT NULL CHECK (has_precondition IN ('ALWAYS', 'ONCE', 'NEVER')),
    disable_lollipop_for      text[] NOT NULL DEFAULT '{}',
    is_lollipop_enabled       boolean NOT NULL DEFAULT false,
    -- {"base_url", "details_authentication": {"header_key_name", "key", "type"}}
    prod_environment          jsonb,
    -- the same, with "test_users": [fiscal codes]
    test_environment          jsonb,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS rc_configurations_org_idx
    ON rc_configurations (organization_fiscal_code, id);
