-- Views for the questions researchers ask most; they read the tables, so they are always current.

-- Every claim with where it came from: document, outlet (country, owner, state affiliation), theme, and the
-- original it repeats. A claim's day is its document's publication date (else the day it was ingested).
CREATE VIEW claim_provenance AS
SELECT c.claim_id,
       c.text,
       c.quote,
       c.claim_type,
       c.hedged,
       c.actors,
       c.speaker,
       c.start_seconds,
       coalesce(c.same_as, c.claim_id) AS original_claim_id,
       ct.theme_id,
       t.label AS theme_label,
       c.document_id,
       d.title AS document_title,
       d.url AS document_url,
       d.kind AS document_kind,
       coalesce(d.published_at, d.ingested_at) AS published_at,
       CAST(coalesce(d.published_at, d.ingested_at) AS DATE) AS day,
       d.source_id,
       s.name AS source_name,
       s.kind AS source_kind,
       s.country AS source_country,
       s.owner AS source_owner,
       s.state_affiliated AS source_state_affiliated
FROM claims c
JOIN documents d USING (document_id)
LEFT JOIN sources s ON s.source_id = d.source_id
LEFT JOIN claim_themes ct ON ct.claim_id = c.claim_id
LEFT JOIN themes t ON t.theme_id = ct.theme_id;

-- Each theme's claims, documents and sources per publication day, with running totals of its reach.
CREATE VIEW theme_timeline AS
WITH daily AS (
    SELECT theme_id, day,
           count(*) AS claims,
           count(DISTINCT document_id) AS documents,
           count(DISTINCT source_id) AS sources,
           count(*) FILTER (WHERE list_contains(actors, 'CN')) AS cn_claims,
           count(*) FILTER (WHERE list_contains(actors, 'US')) AS us_claims
    FROM claim_provenance
    WHERE theme_id IS NOT NULL
    GROUP BY theme_id, day
)
SELECT d.theme_id,
       t.label,
       d.day,
       d.claims,
       d.documents,
       d.sources,
       d.cn_claims,
       d.us_claims,
       CAST(sum(d.claims) OVER (PARTITION BY d.theme_id ORDER BY d.day) AS BIGINT) AS claims_to_date,
       (SELECT count(DISTINCT p.source_id) FROM claim_provenance p
        WHERE p.theme_id = d.theme_id AND p.day <= d.day) AS sources_to_date
FROM daily d JOIN themes t USING (theme_id);

-- Who the claims of each theme are about (China, the US, both) and where they were published (outlet country,
-- state-affiliated outlets): do Chinese and American outlets frame the same move differently?
CREATE VIEW theme_actors AS
SELECT theme_id,
       any_value(theme_label) AS label,
       count(*) AS claims,
       count(*) FILTER (WHERE list_contains(actors, 'CN')) AS cn_claims,
       count(*) FILTER (WHERE list_contains(actors, 'US')) AS us_claims,
       count(*) FILTER (WHERE list_contains(actors, 'CN') AND list_contains(actors, 'US')) AS both_claims,
       round(count(*) FILTER (WHERE list_contains(actors, 'CN')) / count(*), 3) AS cn_share,
       round(count(*) FILTER (WHERE list_contains(actors, 'US')) / count(*), 3) AS us_share,
       count(*) FILTER (WHERE source_country = 'CN') AS from_cn_outlets,
       count(*) FILTER (WHERE source_country = 'US') AS from_us_outlets,
       count(*) FILTER (WHERE coalesce(source_country, '') NOT IN ('CN', 'US')) AS from_other_outlets,
       count(*) FILTER (WHERE source_state_affiliated) AS from_state_affiliated
FROM claim_provenance
WHERE theme_id IS NOT NULL
GROUP BY theme_id;

-- Lineage: for each theme, every outlet that carried it, in the order they first did. Rank 1 said it first
-- (outlets tied at the same moment share a rank); the others echoed it, days_after_first (calendar days) later.
-- first_claim_id is the outlet's earliest claim on the theme.
CREATE VIEW theme_lineage AS
WITH firsts AS (
    SELECT theme_id, theme_label, source_id, source_name, source_country, source_state_affiliated,
           min(published_at) AS first_said,
           arg_min(claim_id, (published_at, claim_id)) AS first_claim_id,
           arg_min(text, (published_at, claim_id)) AS first_claim_text,
           count(*) AS claims
    FROM claim_provenance
    WHERE theme_id IS NOT NULL
    GROUP BY ALL
)
SELECT theme_id,
       theme_label AS label,
       rank() OVER (PARTITION BY theme_id ORDER BY first_said) AS rank,
       CASE WHEN rank() OVER (PARTITION BY theme_id ORDER BY first_said) = 1 THEN 'first' ELSE 'echo' END AS role,
       source_id,
       source_name,
       source_country,
       source_state_affiliated,
       first_said,
       date_diff('day', min(first_said) OVER (PARTITION BY theme_id), first_said) AS days_after_first,
       first_claim_id,
       first_claim_text,
       claims
FROM firsts;
