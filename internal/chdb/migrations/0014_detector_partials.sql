-- What detect replicas share when they divide the prefectures
-- (detector/share.go): one row per prefecture (industry '') naming the
-- generation of its partial — a hash of its content — and the window it
-- covers, and one row per prefecture and industry with that generation's
-- data: the firms' monthly changes and the sums a province's metrics are
-- made of. The owner of a prefecture rewrites its rows when its data
-- change; the latest version of a key wins. A reader uses an industry's row
-- only when its generation is the prefecture row's, so a publication is
-- read whole or not at all. as_of (prefecture rows) is the epoch the
-- partial reflects: the reports ingested before it; the owner rewrites the
-- prefecture row alone when only the epoch moves, and replicas evaluate
-- only on partials of one epoch. Replicated on every node of a cluster.
CREATE TABLE IF NOT EXISTS {{.DB}}detector_partials{{.OnCluster}} (
    province      String,
    prefecture    String,
    industry      String,
    window_start  Date,
    months        UInt16,
    generation    UInt64,
    as_of         DateTime,
    data          String,   -- base64 of detector.PartialIndustry.MarshalBinary
    replica       String,
    version       UInt64,
    published_at  DateTime
) ENGINE = {{engine "ReplacingMergeTree(version)" "detector_partials"}}
ORDER BY (province, prefecture, industry);
