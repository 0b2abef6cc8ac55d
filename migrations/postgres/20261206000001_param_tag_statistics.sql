-- PostgreSQL estimates `key = $1 AND value = $2` as if key and value were independent.
-- For the benchmark's `params.p0 = 'adam'` over 35,000 runs it expected 393 rows (1,229
-- with fresh statistics) where 11,600 matched, and once planned a search page from those
-- params, sorting 5,811 runs (~100 ms), instead of walking the ordering metric's index and
-- stopping after the page (~10 ms). A multi-column MCV list keeps each pair's frequency
-- (11,019 expected after ANALYZE); the statistics job's ANALYZE fills it.
CREATE STATISTICS IF NOT EXISTS params_key_value_stats (mcv) ON key, value FROM params;
CREATE STATISTICS IF NOT EXISTS tags_key_value_stats (mcv) ON key, value FROM tags;
