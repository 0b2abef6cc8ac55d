-- Plot tiles: a multi-resolution summary of each metric history (see server/src/store/tiles.rs).
-- Per run, key, axis (0 step, 1 timestamp) and level k, the tile t covers x in
-- [t * 16^k, (t + 1) * 16^k) and holds the x extent and the min, max, sum and count of the
-- finite values logged there. Written in the same transaction as the points; a plot of a
-- long history reads a few thousand tiles instead of sorting every point.
CREATE TABLE metric_tiles (
    run_id BIGINT           NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key    TEXT             NOT NULL,
    axis   BIGINT           NOT NULL,
    level  BIGINT           NOT NULL,
    tile   BIGINT           NOT NULL,
    x_min  BIGINT           NOT NULL,
    x_max  BIGINT           NOT NULL,
    v_min  DOUBLE PRECISION NOT NULL,
    v_max  DOUBLE PRECISION NOT NULL,
    v_sum  DOUBLE PRECISION NOT NULL,
    n      BIGINT           NOT NULL,
    PRIMARY KEY (run_id, key, axis, level, tile)
);

-- The histories logged before this table existed (those of more than 1,024 points:
-- shorter ones have no tiles, see tiles::MIN_POINTS).
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 0, 2, (CASE WHEN m.step >= 0 THEN m.step / 256 ELSE (m.step + 1) / 256 - 1 END), MIN(m.step), MAX(m.step), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.step >= 0 THEN m.step / 256 ELSE (m.step + 1) / 256 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 0, 3, (CASE WHEN m.step >= 0 THEN m.step / 4096 ELSE (m.step + 1) / 4096 - 1 END), MIN(m.step), MAX(m.step), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.step >= 0 THEN m.step / 4096 ELSE (m.step + 1) / 4096 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 0, 4, (CASE WHEN m.step >= 0 THEN m.step / 65536 ELSE (m.step + 1) / 65536 - 1 END), MIN(m.step), MAX(m.step), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.step >= 0 THEN m.step / 65536 ELSE (m.step + 1) / 65536 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 0, 5, (CASE WHEN m.step >= 0 THEN m.step / 1048576 ELSE (m.step + 1) / 1048576 - 1 END), MIN(m.step), MAX(m.step), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.step >= 0 THEN m.step / 1048576 ELSE (m.step + 1) / 1048576 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 0, 6, (CASE WHEN m.step >= 0 THEN m.step / 16777216 ELSE (m.step + 1) / 16777216 - 1 END), MIN(m.step), MAX(m.step), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.step >= 0 THEN m.step / 16777216 ELSE (m.step + 1) / 16777216 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 0, 7, (CASE WHEN m.step >= 0 THEN m.step / 268435456 ELSE (m.step + 1) / 268435456 - 1 END), MIN(m.step), MAX(m.step), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.step >= 0 THEN m.step / 268435456 ELSE (m.step + 1) / 268435456 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 1, 2, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 256 ELSE (m.timestamp + 1) / 256 - 1 END), MIN(m.timestamp), MAX(m.timestamp), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 256 ELSE (m.timestamp + 1) / 256 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 1, 3, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 4096 ELSE (m.timestamp + 1) / 4096 - 1 END), MIN(m.timestamp), MAX(m.timestamp), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 4096 ELSE (m.timestamp + 1) / 4096 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 1, 4, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 65536 ELSE (m.timestamp + 1) / 65536 - 1 END), MIN(m.timestamp), MAX(m.timestamp), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 65536 ELSE (m.timestamp + 1) / 65536 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 1, 5, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 1048576 ELSE (m.timestamp + 1) / 1048576 - 1 END), MIN(m.timestamp), MAX(m.timestamp), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 1048576 ELSE (m.timestamp + 1) / 1048576 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 1, 6, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 16777216 ELSE (m.timestamp + 1) / 16777216 - 1 END), MIN(m.timestamp), MAX(m.timestamp), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 16777216 ELSE (m.timestamp + 1) / 16777216 - 1 END);
INSERT INTO metric_tiles (run_id, key, axis, level, tile, x_min, x_max, v_min, v_max, v_sum, n)
SELECT m.run_id, m.key, 1, 7, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 268435456 ELSE (m.timestamp + 1) / 268435456 - 1 END), MIN(m.timestamp), MAX(m.timestamp), MIN(m.value), MAX(m.value), SUM(m.value), COUNT(*)
FROM metrics m JOIN latest_metrics l ON l.run_id = m.run_id AND l.key = m.key AND l.count > 1024
WHERE m.is_nan = 0 AND m.value >= -1.7976931348623157e308 AND m.value <= 1.7976931348623157e308
GROUP BY m.run_id, m.key, (CASE WHEN m.timestamp >= 0 THEN m.timestamp / 268435456 ELSE (m.timestamp + 1) / 268435456 - 1 END);
