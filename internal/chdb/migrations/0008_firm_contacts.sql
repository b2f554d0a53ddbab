-- The registry's optional contact columns (contact_name, contact_email,
-- contact_phone): whom the console shows beside a firm's warning and to
-- whom reporting reminders go. A table of their own rather than columns
-- added to firms: ClickHouse 18.16 has no ALTER … ADD COLUMN IF NOT EXISTS,
-- and every migration statement must be safe to run twice. One row per
-- firm; a re-import replaces it (the latest updated_at wins).
CREATE TABLE IF NOT EXISTS {{.DB}}firm_contacts{{.OnCluster}} (
    firm_id        String,
    contact_name   String,
    contact_email  String,
    contact_phone  String,
    updated_at     DateTime
) ENGINE = {{engine "ReplacingMergeTree(updated_at)" "firm_contacts"}}
ORDER BY firm_id;
