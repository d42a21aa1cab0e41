-- Table 2: registrations by nationality in the year to the reference quarter, against the year before.
-- A year that begins before the series (before 2002-Q1) is not available: [x].
WITH years AS (
    SELECT * FROM (VALUES (1, $year_before_quarter), (2, $reference_quarter)) AS years(column_order, quarter)
),
countries AS (
    SELECT country.member_id, world_area.label AS world_area, subgroup.label AS subgroup, country.label AS nationality
    FROM stat.cube_dimensions AS country
    JOIN stat.cube_dimensions AS subgroup ON subgroup.member_id = country.parent_member_id
    JOIN stat.cube_dimensions AS world_area ON world_area.member_id = subgroup.parent_member_id
    WHERE country.dimension = 'nationality' AND country.level = 'country'
),
published AS (
    SELECT counts.quarter, counts.nationality_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter IN ($year_before_quarter, $reference_quarter) AND counts.period_type = 'year_ending'
      AND counts.age_level = 'total' AND counts.sex_level = 'total' AND counts.geography_level = 'total'
      AND counts.nationality_level = 'country'
)
SELECT
    countries.world_area AS "World area",
    countries.subgroup AS "Subgroup",
    countries.nationality AS "Nationality",
    format('{}|{}|{}', countries.world_area, countries.subgroup, countries.nationality) AS row_order,
    years.column_order,
    'Year to the end of ' || years.quarter AS column_label,
    CASE WHEN years.quarter < $first_full_year_quarter THEN '[x]'
         ELSE CAST(coalesce(published.published_value, 0) AS VARCHAR) END AS value
FROM countries
CROSS JOIN years
LEFT JOIN published ON published.quarter = years.quarter AND published.nationality_member = countries.member_id
