-- Every acknowledgement made with a link, the API or the CLI, append-only:
-- the first of an alert (outcome 'acknowledged') is also in acks and stands;
-- later ones (outcome 'already_acknowledged') are recorded here only, so a
-- second click can neither move the acknowledgement's time nor replace its
-- comment.
CREATE TABLE IF NOT EXISTS {{.DB}}ack_events{{.OnCluster}} (
    alert_id   String,
    recipient  String,
    at         DateTime,
    comment    String,
    via        String,
    outcome    String
) ENGINE = {{engine "MergeTree()" "ack_events"}}
PARTITION BY toYYYYMM(at)
ORDER BY (alert_id, at, recipient);
