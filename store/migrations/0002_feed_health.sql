-- Feed health and politeness state, richer document metadata, and an LSH index for near-duplicates.
CREATE TABLE feed_state (
    source_id            VARCHAR PRIMARY KEY,
    etag                 VARCHAR,                  -- validators for conditional GET, saved with the entries
    last_modified        VARCHAR,
    last_attempt_at      TIMESTAMP,
    last_success_at      TIMESTAMP,
    last_error_at        TIMESTAMP,
    last_error           VARCHAR,
    last_status          INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_check_at        TIMESTAMP,                -- NULL: due at the next run
    stopped              BOOLEAN NOT NULL DEFAULT false  -- the feed answered 410 Gone
);

ALTER TABLE runs ADD COLUMN warnings JSON;           -- quiet feeds, feeds backing off or stopped

ALTER TABLE documents ADD COLUMN site_name VARCHAR;
ALTER TABLE documents ADD COLUMN date_source VARCHAR;   -- feed | page: where published_at came from
ALTER TABLE documents ADD COLUMN shingles INTEGER;      -- distinct word 5-grams (sizes the minhash overlap)
ALTER TABLE documents ADD COLUMN duration_seconds DOUBLE; -- podcast episodes: <itunes:duration>
ALTER TABLE documents ADD COLUMN people VARCHAR[];      -- podcast episodes: <podcast:person>, as "role: name"
ALTER TABLE documents ADD COLUMN chapters_url VARCHAR;  -- podcast episodes: <podcast:chapters>
ALTER TABLE documents ADD COLUMN transcript_format VARCHAR; -- vtt | srt | json | html | text

CREATE TABLE minhash_bands (
    band        SMALLINT NOT NULL,
    bucket      UBIGINT NOT NULL,
    document_id VARCHAR NOT NULL
);
CREATE INDEX minhash_bands_lookup ON minhash_bands (band, bucket);

-- Each kept document with every outlet that carried it (itself and its near-duplicate copies).
CREATE VIEW syndication AS
SELECT coalesce(d.canonical_id, d.document_id) AS canonical_id,
       count(*) AS copies,
       list(DISTINCT coalesce(s.name, d.source_id) ORDER BY coalesce(s.name, d.source_id)) AS outlets,
       list(d.document_id ORDER BY d.document_id) AS document_ids
FROM documents d LEFT JOIN sources s USING (source_id)
GROUP BY 1;
