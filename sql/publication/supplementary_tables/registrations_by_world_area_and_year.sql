-- Table 6: registrations by world area of nationality, in the year to the reference quarter's quarter of each year
-- since the first full year of the series: the annual series users quote.
WITH years AS (
    SELECT DISTINCT quarter FROM stat.perturbed_counts
    WHERE quarter <= $reference_quarter AND quarter >= $first_full_year_quarter
      AND right(quarter, 1) = right($reference_quarter, 1)
),
area_columns AS (
    SELECT member_id, CASE level WHEN 'total' THEN 'All nationalities' ELSE label END AS column_label,
           -- all nationalities first, then the world areas, Other / unknown last
           row_number() OVER (ORDER BY depth, label = 'Other / unknown', label) AS column_order
    FROM stat.cube_dimensions
    WHERE dimension = 'nationality' AND level IN ('total', 'world_area')
),
published AS (
    SELECT counts.quarter, counts.nationality_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter IN (SELECT quarter FROM years) AND counts.period_type = 'year_ending'
      AND counts.age_level = 'total' AND counts.sex_level = 'total' AND counts.geography_level = 'total'
      AND counts.nationality_level IN ('total', 'world_area')
)
SELECT
    'Year to the end of ' || years.quarter AS "Period",
    years.quarter AS row_order,
    area_columns.column_order,
    area_columns.column_label,
    coalesce(published.published_value, 0) AS value
FROM years
CROSS JOIN area_columns
LEFT JOIN published
    ON published.quarter = years.quarter AND published.nationality_member = area_columns.member_id
