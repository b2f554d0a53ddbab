-- The console (预警处置): its accounts and its append-only audit trail.

-- Accounts. A change (password, role, disable) inserts the row again with a
-- higher version; the latest wins. session_epoch ends every session of the
-- account issued before it (sign-out, password reset, disable).
CREATE TABLE IF NOT EXISTS {{.DB}}console_users{{.OnCluster}} (
    username       String,
    display_name   String,
    email          String,
    role           String,
    region         String,
    language       String,
    password_hash  String,
    oidc_subject   String,
    disabled       UInt8,
    session_epoch  UInt64,
    created_at     DateTime,
    changed_at     DateTime,
    version        UInt64
) ENGINE = {{engine "ReplacingMergeTree(version)" "console_users"}}
ORDER BY username;

-- Every action, append-only: who (actor, role, address), when, what
-- (action on object_kind/object_id in region), and the state before and
-- after as JSON. Nothing updates or deletes a row. The rows of a warning's
-- case (object_kind 'case', object_id the alert id) are the case itself:
-- seq numbers them from 1 and status is the case's status after the action.
CREATE TABLE IF NOT EXISTS {{.DB}}console_audit{{.OnCluster}} (
    id           String,
    at           DateTime,
    actor        String,
    actor_role   String,
    address      String,
    action       String,
    object_kind  String,
    object_id    String,
    region       String,
    seq          UInt32,
    status       String,
    before       String,
    after        String,
    detail       String
) ENGINE = {{engine "MergeTree()" "console_audit"}}
PARTITION BY toYYYYMM(at)
ORDER BY (object_kind, object_id, at, id);
