-- The finest cells: the count and cell key of each (registration quarter, country of nationality, age band, sex,
-- local authority or Overseas or Unknown) that has registrations. A registration counts in its registration
-- quarter, its scan's (late registrations included), by what stat.registrations holds of it and where
-- stat.geocoded_registrations places it (placed_registrations.sql). Every published cell, at any level and for a
-- quarter or the year to one, is derived from these (derived_cells.sql): its count and its record-key sum modulo the
-- key range are sums over its finest cells, so they are exactly its own records'. Members are the integer ids of
-- `stat.cube_dimensions`.
WITH members AS (
    SELECT member_id, dimension, level, code FROM stat.cube_dimensions
),
cells AS (
    SELECT
        registration_quarter AS quarter,
        nationality,
        age_band,
        sex,
        lad_code,
        count(*) AS registrations,
        sum(record_key) AS record_key_sum
    FROM placed_registrations($quarters)
    GROUP BY ALL
)
SELECT
    cells.quarter,
    country.member_id AS nationality_member,
    band.member_id AS age_member,
    sex.member_id AS sex_member,
    local_authority.member_id AS geography_member,
    CAST(cells.registrations AS INTEGER) AS registrations,
    CAST(cells.record_key_sum % $record_key_range AS INTEGER) AS cell_key
FROM cells
JOIN members AS country ON country.dimension = 'nationality' AND country.level = 'country'
    AND country.code = cells.nationality
JOIN members AS band ON band.dimension = 'age' AND band.level = 'band' AND band.code = cells.age_band
JOIN members AS sex ON sex.dimension = 'sex' AND sex.level = 'sex' AND sex.code = cells.sex
JOIN members AS local_authority ON local_authority.dimension = 'geography'
    AND local_authority.level = 'local_authority' AND local_authority.code = cells.lad_code
