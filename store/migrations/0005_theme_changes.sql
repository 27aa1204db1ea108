-- How themes changed identity: merges (and, later, splits), old id -> new id. Ids are never reused.
CREATE SEQUENCE theme_change_ids START 1;
CREATE TABLE theme_changes (
    change_id     INTEGER PRIMARY KEY DEFAULT nextval('theme_change_ids'),
    changed_on    DATE NOT NULL,
    changed_at    TIMESTAMP NOT NULL,
    kind          VARCHAR NOT NULL,          -- merge | split
    old_theme_id  INTEGER NOT NULL,
    new_theme_id  INTEGER NOT NULL,
    claims        INTEGER NOT NULL,          -- claims that moved from the old theme to the new one
    reason        VARCHAR NOT NULL           -- operator (undercurrent themes merge) | recluster
);
ALTER TABLE themes ADD COLUMN merged_into INTEGER;  -- set when the theme was merged into another: retired
