-- Theme names an operator can set, and per-theme, per-day metrics.
ALTER TABLE themes ADD COLUMN label_auto VARCHAR;      -- the label computed from the theme's claims
ALTER TABLE themes ADD COLUMN label_override VARCHAR;  -- set with `undercurrent themes rename`; wins over label_auto

CREATE TABLE theme_daily (
    theme_id   INTEGER NOT NULL,
    day        DATE NOT NULL,                 -- the run date whose claims these are
    claims     INTEGER NOT NULL,
    documents  INTEGER NOT NULL,
    sources    INTEGER NOT NULL,
    cn_claims  INTEGER NOT NULL,              -- claims whose actors include CN
    us_claims  INTEGER NOT NULL,
    share      DOUBLE NOT NULL,               -- the theme's share of the day's themed claims
    baseline   DOUBLE,                        -- its share over the 14 days before (NULL: no history)
    momentum   DOUBLE,                        -- (share + 0.01) / (baseline + 0.01); NULL without a baseline
    PRIMARY KEY (theme_id, day)
);
