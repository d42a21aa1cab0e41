-- Registration counts: the count and cell key of every non-empty cell of every cross-classification of nationality
-- (country, subgroup, world area, total) x age (band, total) x sex (each, total) x geography (local authority,
-- region, country, total), for each quarter of the run and each year to the end of those quarters.
-- A registration counts in the quarter of its registration date (late registrations included). The count and the
-- record-key sum of a cell are exact sums over its records, so they are gathered once at the finest cell and summed
-- up to every period and level: each cell's count and key are its own records', never another cell's perturbed value.
WITH finest_cells AS (
    SELECT
        registration_quarter,
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
quarter_index AS (
    -- quarters as consecutive integers, so that "the four quarters to Q" is a range
    SELECT
        registration_quarter,
        4 * CAST(left(registration_quarter, 4) AS INTEGER) + CAST(right(registration_quarter, 1) AS INTEGER) - 1
            AS quarter_number
    FROM (SELECT DISTINCT registration_quarter FROM finest_cells)
),
run_quarters AS (
    SELECT
        label AS period_quarter,
        4 * CAST(left(label, 4) AS INTEGER) + CAST(right(label, 1) AS INTEGER) - 1 AS quarter_number
    FROM (SELECT unnest($quarters) AS label)
),
cells_by_period AS (
    -- each finest cell once for its own quarter, and once for each year ending in one of the run's quarters
    SELECT run_quarters.period_quarter, 'quarter' AS period_type, finest_cells.*
    FROM finest_cells
    JOIN quarter_index USING (registration_quarter)
    JOIN run_quarters USING (quarter_number)
    UNION ALL
    SELECT run_quarters.period_quarter, 'year_ending' AS period_type, finest_cells.*
    FROM finest_cells
    JOIN quarter_index USING (registration_quarter)
    JOIN run_quarters
        ON quarter_index.quarter_number BETWEEN run_quarters.quarter_number - 3 AND run_quarters.quarter_number
),
cells_with_hierarchies AS (
    SELECT
        cells.period_quarter,
        cells.period_type,
        cells.nationality,
        nationality_groups.subgroup,
        nationality_groups.world_area,
        cells.age_band,
        cells.sex,
        cells.lad_code,
        coalesce(local_authorities.region_code, cells.lad_code) AS region_code,
        coalesce(local_authorities.country_code, cells.lad_code) AS country_code,
        cells.registrations,
        cells.record_key_sum
    FROM cells_by_period AS cells
    JOIN (SELECT DISTINCT nationality, subgroup, world_area FROM reference.nationalities) AS nationality_groups
        USING (nationality)
    LEFT JOIN reference.local_authorities USING (lad_code)
),
all_cross_classifications AS (
    SELECT
        period_quarter,
        period_type,
        CASE WHEN GROUPING(nationality) = 0 THEN 'country' WHEN GROUPING(subgroup) = 0 THEN 'subgroup'
             WHEN GROUPING(world_area) = 0 THEN 'world_area' ELSE 'total' END AS nationality_level,
        coalesce(nationality, subgroup, world_area, 'Total') AS nationality_value,
        CASE WHEN GROUPING(age_band) = 0 THEN 'band' ELSE 'total' END AS age_level,
        coalesce(age_band, 'Total') AS age_value,
        CASE WHEN GROUPING(sex) = 0 THEN 'sex' ELSE 'total' END AS sex_level,
        coalesce(sex, 'Total') AS sex_value,
        CASE WHEN GROUPING(lad_code) = 0 THEN 'local_authority' WHEN GROUPING(region_code) = 0 THEN 'region'
             WHEN GROUPING(country_code) = 0 THEN 'country' ELSE 'total' END AS geography_level,
        coalesce(lad_code, region_code, country_code, 'Total') AS geography_value,
        sum(registrations) AS registrations,
        CAST(sum(record_key_sum) % $record_key_range AS INTEGER) AS cell_key
    FROM cells_with_hierarchies
    GROUP BY
        period_quarter,
        period_type,
        GROUPING SETS (nationality, subgroup, world_area, ()),
        GROUPING SETS (age_band, ()),
        GROUPING SETS (sex, ()),
        GROUPING SETS (lad_code, region_code, country_code, ())
)
SELECT * FROM all_cross_classifications
