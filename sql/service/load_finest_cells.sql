-- The query service's finest cells: the released cube's cells (quarter, nationality, age band, sex, local authority)
-- on the integer codes of the schema's finest members (`cube_codes`, registered by the service), with their count
-- and key sum. A cell's count and its key sum modulo the key range are sums over finer cells, so any cell of the
-- published dimensions (a group of values, a total) has the count and key of its own records summed from these.
-- Quarters not in `cube_codes` (after the release's reference quarter) are not loaded.
WITH codes AS (
    SELECT dimension, code, code_number FROM cube_codes
)
SELECT
    quarter.code_number AS quarter,
    nationality.code_number AS nationality,
    age.code_number AS age,
    sex.code_number AS sex,
    geography.code_number AS geography,
    cells.registrations,
    cells.cell_key AS key_sum
FROM read_parquet($cube_file) AS cells
JOIN codes AS quarter ON quarter.dimension = 'quarter' AND quarter.code = cells.quarter
JOIN codes AS nationality ON nationality.dimension = 'nationality' AND nationality.code = cells.nationality
JOIN codes AS age ON age.dimension = 'age' AND age.code = cells.age_band
JOIN codes AS sex ON sex.dimension = 'sex' AND sex.code = cells.sex
JOIN codes AS geography ON geography.dimension = 'geography' AND geography.code = cells.local_authority
