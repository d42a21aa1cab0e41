-- The query service's cells at every grain: the finest cells summed over each subset of the four fields other than
-- the quarter (all 16, by CUBE), so that a table that does not ask for a field reads cells already summed over it
-- rather than every finest cell. `absent_fields` is GROUPING(nationality, age, sex, geography): bit 8 set when the
-- nationality is summed over, 4 the age, 2 the sex, 1 the geography; a summed-over field's code is 0. Counts and
-- key sums are sums, so each row is still exactly its records'. Ordered by grain and quarter, so that a table's scan
-- skips the row groups of other grains and of quarters it does not ask for.
SELECT
    GROUPING(nationality, age, sex, geography) AS absent_fields,
    quarter,
    coalesce(nationality, 0) AS nationality,
    coalesce(age, 0) AS age,
    coalesce(sex, 0) AS sex,
    coalesce(geography, 0) AS geography,
    sum(registrations) AS registrations,
    sum(record_key_sum) AS record_key_sum
FROM finest_cells
GROUP BY quarter, CUBE (nationality, age, sex, geography)
ORDER BY absent_fields, quarter
