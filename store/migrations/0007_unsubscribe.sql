-- One-click unsubscribe (RFC 8058): a secret token per subscriber, carried in each message's List-Unsubscribe URL.
-- Tokens are made in Python (secrets.token_urlsafe): existing subscribers get theirs before the next delivery.
ALTER TABLE subscribers ADD COLUMN unsubscribe_token VARCHAR;
