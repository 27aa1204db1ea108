-- Subscribers' preferences: which actors to focus on, and themes to follow or mute.
ALTER TABLE subscribers ADD COLUMN focus VARCHAR DEFAULT 'both';   -- both | CN | US
CREATE TABLE subscriber_themes (
    subscriber_id VARCHAR NOT NULL,
    theme_id      INTEGER NOT NULL,
    mode          VARCHAR NOT NULL,              -- follow | mute
    PRIMARY KEY (subscriber_id, theme_id)
);
