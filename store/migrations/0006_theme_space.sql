-- Theme centroids live in the learned theme space; labels are kept up to date from per-theme term counts, so a
-- day's run touches only the themes its new claims joined; periodic full re-clusterings are recorded.
ALTER TABLE themes ADD COLUMN space VARCHAR;                    -- the theme space the centroid was computed in
ALTER TABLE themes ADD COLUMN representative_claim_id VARCHAR;  -- the claim closest to the centroid
ALTER TABLE themes ADD COLUMN representative_similarity DOUBLE;

CREATE TABLE theme_terms (
    theme_id INTEGER NOT NULL,
    term     VARCHAR NOT NULL,                -- a key-phrase candidate: word, two words, "X of Y"
    n        INTEGER NOT NULL,                -- occurrences in the theme's claims
    PRIMARY KEY (theme_id, term)
);

CREATE TABLE theme_reclusters (
    run_date   DATE NOT NULL,
    ran_at     TIMESTAMP NOT NULL,
    claims     INTEGER NOT NULL,              -- claims clustered afresh
    moved      INTEGER NOT NULL,
    merged     INTEGER NOT NULL,
    created    INTEGER NOT NULL
);
