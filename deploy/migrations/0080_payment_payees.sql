-- A service collects payments for its own organisation (IO: the sender is the
-- creditor). `payee_fiscal_codes` lists the other bodies it is entitled to collect
-- for: an explicit `payment_data.payee` must be its organisation or one of these.
-- Reviewed content: kept on the published copy too.
ALTER TABLE services
    ADD COLUMN IF NOT EXISTS payee_fiscal_codes text[] NOT NULL DEFAULT '{}';
ALTER TABLE service_publications
    ADD COLUMN IF NOT EXISTS payee_fiscal_codes text[] NOT NULL DEFAULT '{}';
