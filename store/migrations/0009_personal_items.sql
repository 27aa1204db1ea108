-- What each personalised brief featured, so a subscriber with preferences never gets the same insight twice.
CREATE TABLE personal_items (
    digest_date   DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    rank          INTEGER NOT NULL,
    claim_id      VARCHAR NOT NULL,
    theme_id      INTEGER NOT NULL,
    PRIMARY KEY (digest_date, subscriber_id, rank)
);
