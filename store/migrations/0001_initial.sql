-- Initial schema: the tables of the DuckDB contract. Times are UTC (TIMESTAMP without zone).
CREATE TABLE sources (
    source_id        VARCHAR PRIMARY KEY,
    name             VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,          -- news | podcast | local
    url              VARCHAR,
    country          VARCHAR,
    owner            VARCHAR,
    state_affiliated BOOLEAN,
    added_at         TIMESTAMP NOT NULL
);

CREATE TABLE documents (
    document_id   VARCHAR PRIMARY KEY,
    source_id     VARCHAR,
    kind          VARCHAR NOT NULL,             -- article | transcript
    url           VARCHAR,
    title         VARCHAR,
    published_at  TIMESTAMP,
    language      VARCHAR,
    text          VARCHAR NOT NULL,
    canonical_id  VARCHAR,                      -- kept copy when this one is a near-duplicate
    guid          VARCHAR,
    author        VARCHAR,
    audio_url     VARCHAR,
    extraction    VARCHAR,                      -- page | feed | file | transcript
    content_hash  VARCHAR NOT NULL,
    minhash       UBIGINT[],
    ingested_at   TIMESTAMP NOT NULL,
    processed_for DATE,                         -- run date whose claims stage processed it
    processed_at  TIMESTAMP                     -- when it was processed (what is new since the last brief)
);

CREATE TABLE segments (
    document_id   VARCHAR NOT NULL,
    seq           INTEGER NOT NULL,
    start_seconds DOUBLE,                       -- NULL in untimed transcripts
    end_seconds   DOUBLE,
    speaker       VARCHAR,
    start_char    INTEGER NOT NULL,
    end_char      INTEGER NOT NULL,
    PRIMARY KEY (document_id, seq)
);

CREATE TABLE claims (
    claim_id      VARCHAR PRIMARY KEY,
    document_id   VARCHAR NOT NULL,
    seq           INTEGER NOT NULL,
    text          VARCHAR NOT NULL,
    quote         VARCHAR NOT NULL,
    start_char    INTEGER NOT NULL,
    end_char      INTEGER NOT NULL,
    start_seconds DOUBLE,
    speaker       VARCHAR,
    actors        VARCHAR[] NOT NULL,
    entities      VARCHAR[] NOT NULL,
    claim_type    VARCHAR NOT NULL,
    hedged        BOOLEAN NOT NULL,
    score         DOUBLE NOT NULL,
    themed_on     DATE                          -- run date whose themes stage last considered it
);

CREATE TABLE embeddings (
    model     VARCHAR NOT NULL,
    text_hash VARCHAR NOT NULL,
    vector    FLOAT[] NOT NULL,
    PRIMARY KEY (model, text_hash)
);

CREATE TABLE themes (
    theme_id   INTEGER PRIMARY KEY,
    label      VARCHAR NOT NULL,
    keywords   VARCHAR[] NOT NULL,
    first_seen DATE,
    last_seen  DATE,
    created_on DATE NOT NULL,
    centroid   FLOAT[]
);

CREATE TABLE claim_themes (
    claim_id   VARCHAR PRIMARY KEY,
    theme_id   INTEGER NOT NULL,
    similarity DOUBLE,
    assigned_on DATE NOT NULL
);

CREATE TABLE digests (
    digest_date DATE PRIMARY KEY,
    run_id      VARCHAR,
    title       VARCHAR NOT NULL,
    subject     VARCHAR NOT NULL,
    html        VARCHAR NOT NULL,
    markdown    VARCHAR NOT NULL,
    text        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE digest_items (
    digest_date  DATE NOT NULL,
    rank         INTEGER NOT NULL,
    claim_id     VARCHAR NOT NULL,
    theme_id     INTEGER NOT NULL,
    headline     VARCHAR NOT NULL,
    text         VARCHAR NOT NULL,
    source_count INTEGER NOT NULL,
    day_count    INTEGER NOT NULL,
    why          VARCHAR,
    PRIMARY KEY (digest_date, rank)
);

CREATE TABLE subscribers (
    subscriber_id   VARCHAR PRIMARY KEY,
    email           VARCHAR NOT NULL UNIQUE,
    status          VARCHAR NOT NULL,           -- active | unsubscribed
    created_at      TIMESTAMP NOT NULL,
    unsubscribed_at TIMESTAMP
);

CREATE TABLE deliveries (
    digest_date   DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,             -- pending | sent | written | failed | bounced | unknown
    message_id    VARCHAR NOT NULL,
    channel       VARCHAR,                      -- smtp | outbox
    detail        VARCHAR,                      -- outbox file or error
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (digest_date, subscriber_id)
);

CREATE TABLE runs (
    run_id      VARCHAR PRIMARY KEY,
    run_date    DATE NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      VARCHAR NOT NULL,               -- running | ok | failed
    counts      JSON,
    errors      JSON
);

CREATE TABLE ingest_errors (
    url         VARCHAR NOT NULL,
    source_id   VARCHAR,
    reason      VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
