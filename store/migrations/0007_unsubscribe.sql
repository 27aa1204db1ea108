-- One-click unsubscribe (RFC 8058): a secret token per subscriber, carried in each message's List-Unsubscribe URL.
ALTER TABLE subscribers ADD COLUMN unsubscribe_token VARCHAR;
UPDATE subscribers SET unsubscribe_token = replace(CAST(gen_random_uuid() AS VARCHAR), '-', '')
WHERE unsubscribe_token IS NULL;
