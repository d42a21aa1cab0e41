-- The query service's cells at every grain of the finest levels: the finest cells summed over each subset of the
-- four fields other than the quarter (all 16, by CUBE), so that a table that does not ask for a field reads cells
-- already summed over it rather than every finest cell. `grain` names each field's level, `total` for a field
-- summed over (whose code is then 0): "country.band.sex.local_authority" is the finest. Counts and key sums are
-- sums, so each row is still exactly its records'. Ordered by grain and quarter, so that a table's scan skips the
-- row groups of other grains and of quarters it does not ask for. Coarser levels are added when first asked for
-- (coarser_cells.sql).
SELECT
    concat_ws('.',
              CASE WHEN GROUPING(nationality) = 0 THEN 'country' ELSE 'total' END,
              CASE WHEN GROUPING(age) = 0 THEN 'band' ELSE 'total' END,
              CASE WHEN GROUPING(sex) = 0 THEN 'sex' ELSE 'total' END,
              CASE WHEN GROUPING(geography) = 0 THEN 'local_authority' ELSE 'total' END) AS grain,
    quarter,
    coalesce(nationality, 0) AS nationality,
    coalesce(age, 0) AS age,
    coalesce(sex, 0) AS sex,
    coalesce(geography, 0) AS geography,
    sum(registrations) AS registrations,
    sum(key_sum) AS key_sum
FROM finest_cells
GROUP BY quarter, CUBE (nationality, age, sex, geography)
ORDER BY grain, quarter
