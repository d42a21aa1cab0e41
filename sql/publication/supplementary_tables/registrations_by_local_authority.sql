-- Table 4: registrations by local authority of residence (with region and country) and world area of nationality,
-- in the year to the reference quarter.
WITH areas AS (
    SELECT local_authority.member_id, local_authority.code, local_authority.label AS local_authority,
           region.label AS region, country.label AS country, country.code AS country_code
    FROM stat.cube_dimensions AS local_authority
    JOIN stat.cube_dimensions AS region ON region.member_id = local_authority.parent_member_id
    JOIN stat.cube_dimensions AS country ON country.member_id = region.parent_member_id
    WHERE local_authority.dimension = 'geography' AND local_authority.level = 'local_authority'
),
nationality_columns AS (
    SELECT member_id, CASE level WHEN 'total' THEN 'All nationalities' ELSE label END AS column_label,
           row_number() OVER (ORDER BY depth, label = 'Unknown', label) AS column_order
    FROM stat.cube_dimensions
    WHERE dimension = 'nationality' AND level IN ('total', 'world_area')
),
published AS (
    SELECT counts.geography_member, counts.nationality_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter = $reference_quarter AND counts.period_type = 'year_ending'
      AND counts.age_level = 'total' AND counts.sex_level = 'total'
      AND counts.geography_level = 'local_authority' AND counts.nationality_level IN ('total', 'world_area')
)
SELECT
    areas.code AS "Area code",
    areas.local_authority AS "Local authority",
    areas.region AS "Region",
    areas.country AS "Country",
    -- the UK's countries (GSS codes ...92000...) first; overseas and unknown after them
    format('{}|{}|{}|{}', areas.country_code NOT LIKE '_92000%', areas.country, areas.region, areas.code)
        AS row_order,
    nationality_columns.column_order,
    nationality_columns.column_label,
    CASE WHEN $reference_quarter < $first_full_year_quarter THEN '[x]'
         ELSE CAST(coalesce(published.published_value, 0) AS VARCHAR) END AS value
FROM areas
CROSS JOIN nationality_columns
LEFT JOIN published
    ON published.geography_member = areas.member_id AND published.nationality_member = nationality_columns.member_id
