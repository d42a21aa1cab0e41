-- Registration counts: the count and cell key of every non-empty cell of every cross-classification of nationality
-- (country, subgroup, world area, total) x age (band, total) x sex (each, total) x geography (local authority,
-- region, country, total), for each quarter of the run and for the year to the end of each of those quarters.
-- A registration counts in its registration quarter, its scan's (late registrations included). A cell's count and
-- record-key sum are exact sums over its records, so they are gathered once at the finest cells and summed up to
-- every period and level: each cell's count and key are its own records', never built from perturbed values.
-- Members are the integer ids of `reference.cube_dimensions`, so that the grouping works on small integers.
WITH members AS (
    SELECT * FROM stat.cube_dimensions
),
finest_cells AS (
    SELECT
        4 * CAST(left(registration_quarter, 4) AS INTEGER) + CAST(right(registration_quarter, 1) AS INTEGER) - 1
            AS quarter_number,
        nationality,
        age_band,
        sex,
        lad_code,
        count(*) AS registrations,
        sum(record_key) AS record_key_sum
    FROM stat.geocoded_registrations
    WHERE registration_quarter BETWEEN $first_needed_quarter AND $last_quarter
    GROUP BY ALL
),
finest_members AS (
    SELECT
        cells.quarter_number,
        country.member_id AS country_member,
        country.parent_member_id AS subgroup_member,
        subgroup.parent_member_id AS world_area_member,
        band.member_id AS age_band_member,
        sex.member_id AS sex_member,
        local_authority.member_id AS local_authority_member,
        local_authority.parent_member_id AS region_member,
        region.parent_member_id AS country_of_uk_member,
        cells.registrations,
        cells.record_key_sum
    FROM finest_cells AS cells
    JOIN members AS country ON country.dimension = 'nationality' AND country.level = 'country'
        AND country.code = cells.nationality
    JOIN members AS subgroup ON subgroup.member_id = country.parent_member_id
    JOIN members AS band ON band.dimension = 'age' AND band.level = 'band' AND band.code = cells.age_band
    JOIN members AS sex ON sex.dimension = 'sex' AND sex.level = 'sex' AND sex.code = cells.sex
    JOIN members AS local_authority ON local_authority.dimension = 'geography'
        AND local_authority.level = 'local_authority' AND local_authority.code = cells.lad_code
    JOIN members AS region ON region.member_id = local_authority.parent_member_id
),
run_quarters AS (
    SELECT 4 * CAST(left(label, 4) AS INTEGER) + CAST(right(label, 1) AS INTEGER) - 1 AS period_number
    FROM (SELECT unnest($quarters) AS label)
),
cells_by_period AS (
    -- each finest cell once for its own quarter, and once for each year ending in one of the run's quarters
    SELECT run_quarters.period_number, false AS is_year_ending, cells.*
    FROM finest_members AS cells
    JOIN run_quarters ON run_quarters.period_number = cells.quarter_number
    UNION ALL
    SELECT run_quarters.period_number, true AS is_year_ending, cells.*
    FROM finest_members AS cells
    JOIN run_quarters
        ON cells.quarter_number BETWEEN run_quarters.period_number - 3 AND run_quarters.period_number
),
totals AS (
    SELECT dimension, member_id FROM members WHERE level = 'total'
)
SELECT
    format('{}-Q{}', period_number // 4, period_number % 4 + 1) AS quarter,
    CASE WHEN is_year_ending THEN 'year_ending' ELSE 'quarter' END AS period_type,
    CASE WHEN GROUPING(country_member) = 0 THEN 'country' WHEN GROUPING(subgroup_member) = 0 THEN 'subgroup'
         WHEN GROUPING(world_area_member) = 0 THEN 'world_area' ELSE 'total' END AS nationality_level,
    coalesce(country_member, subgroup_member, world_area_member,
             (SELECT member_id FROM totals WHERE dimension = 'nationality')) AS nationality_member,
    CASE WHEN GROUPING(age_band_member) = 0 THEN 'band' ELSE 'total' END AS age_level,
    coalesce(age_band_member, (SELECT member_id FROM totals WHERE dimension = 'age')) AS age_member,
    CASE WHEN GROUPING(sex_member) = 0 THEN 'sex' ELSE 'total' END AS sex_level,
    coalesce(sex_member, (SELECT member_id FROM totals WHERE dimension = 'sex')) AS sex_member,
    CASE WHEN GROUPING(local_authority_member) = 0 THEN 'local_authority' WHEN GROUPING(region_member) = 0
         THEN 'region' WHEN GROUPING(country_of_uk_member) = 0 THEN 'country' ELSE 'total' END AS geography_level,
    coalesce(local_authority_member, region_member, country_of_uk_member,
             (SELECT member_id FROM totals WHERE dimension = 'geography')) AS geography_member,
    CAST(sum(registrations) AS INTEGER) AS registrations,
    CAST(sum(record_key_sum) % $record_key_range AS INTEGER) AS cell_key
FROM cells_by_period
GROUP BY
    period_number,
    is_year_ending,
    GROUPING SETS (country_member, subgroup_member, world_area_member, ()),
    GROUPING SETS (age_band_member, ()),
    GROUPING SETS (sex_member, ()),
    GROUPING SETS (local_authority_member, region_member, country_of_uk_member, ())
