-- The query service's finest cells: the released cube's records summed to each (quarter, nationality, age band,
-- sex, local authority) with their count and record-key sum, on the integer codes of the schema's finest members
-- (`cube_codes`, registered by the service). A cell's count and key sum are sums over its records, so any cell of
-- the published dimensions (a group of values, a total) has the count and key sum of its own records summed from
-- these. Quarters not in `cube_codes` (after the release's reference quarter) are not loaded.
WITH codes AS (
    SELECT dimension, code, code_number FROM cube_codes
)
SELECT
    quarter.code_number AS quarter,
    nationality.code_number AS nationality,
    age.code_number AS age,
    sex.code_number AS sex,
    geography.code_number AS geography,
    count(*) AS registrations,
    sum(records.record_key) AS record_key_sum
FROM read_parquet($cube_file) AS records
JOIN codes AS quarter ON quarter.dimension = 'quarter' AND quarter.code = records.quarter
JOIN codes AS nationality ON nationality.dimension = 'nationality' AND nationality.code = records.nationality
JOIN codes AS age ON age.dimension = 'age' AND age.code = records.age_band
JOIN codes AS sex ON sex.dimension = 'sex' AND sex.code = records.sex
JOIN codes AS geography ON geography.dimension = 'geography' AND geography.code = records.local_authority
GROUP BY ALL
