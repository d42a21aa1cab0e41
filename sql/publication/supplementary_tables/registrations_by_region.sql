-- Table 3: registrations by region of residence (with country of the UK) in the year to the reference quarter,
-- against the year before. Registrations overseas or with an unknown address are their own rows.
WITH years AS (
    SELECT * FROM (VALUES (1, $year_before_quarter), (2, $reference_quarter)) AS years(column_order, quarter)
),
regions AS (
    SELECT region.member_id, country.label AS country, region.label AS region,
           -- the UK's countries (GSS codes ...92000...) first; overseas and unknown after them
           -- then the GSS standard order: England, Wales, Scotland, Northern Ireland; England's regions by code
           format('{}|{}|{}', country.code NOT LIKE '_92000%', position(left(country.code, 1) IN 'EWSN'),
                  region.code) AS row_order
    FROM stat.cube_dimensions AS region
    JOIN stat.cube_dimensions AS country ON country.member_id = region.parent_member_id
    WHERE region.dimension = 'geography' AND region.level = 'region'
),
published AS (
    SELECT counts.quarter, counts.geography_member, counts.published_value
    FROM stat.perturbed_counts AS counts
    WHERE counts.quarter IN ($year_before_quarter, $reference_quarter) AND counts.period_type = 'year_ending'
      AND counts.age_level = 'total' AND counts.sex_level = 'total' AND counts.nationality_level = 'total'
      AND counts.geography_level = 'region'
)
SELECT
    regions.country AS "Country",
    regions.region AS "Region",
    regions.row_order,
    years.column_order,
    'Year to the end of ' || years.quarter AS column_label,
    CASE WHEN years.quarter < $first_full_year_quarter THEN '[x]'
         ELSE CAST(coalesce(published.published_value, 0) AS VARCHAR) END AS value
FROM regions
CROSS JOIN years
LEFT JOIN published ON published.quarter = years.quarter AND published.geography_member = regions.member_id
