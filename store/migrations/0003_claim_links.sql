-- Claims that repeat one another word for word are linked, so an insight copied across documents counts once.
ALTER TABLE claims ADD COLUMN text_key VARCHAR;   -- hash of the claim text, case, spacing and punctuation ignored
ALTER TABLE claims ADD COLUMN same_as VARCHAR;    -- claim_id of the first stored claim with the same text_key
ALTER TABLE claims ADD COLUMN extractor VARCHAR;  -- what decided it: local (the shipped classifier) or llm:MODEL
CREATE INDEX claims_text_key ON claims (text_key);
